"""The documentation site, generated from the code: ``python -m agents.experiments.docs_site`` (``make docs``,
``brainset docs``) writes the Markdown sources and ``mkdocs.yml`` into ``--out`` (default ``runs/docs``) and
builds the static site into ``<out>/site`` with MkDocs in strict mode (every warning is an error).

The repository's top level holds no docs folder: the hand-written pages (landing page, install, tutorial,
the adding guide) are package data (``agents/experiments/docs_text/``); the task, component and experiment
pages come from ``agents.experiments.docs_pages``; the API reference is mkdocstrings reading the docstrings.
It lives in ``agents.experiments`` because it reads every registry (tasks, rules, objectives, checks).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import yaml

import agents
from agents.experiments import docs_pages

ROOT = Path(agents.__file__).resolve().parents[1]  # holds brainset_envs/ and agents/ (and, in a checkout, assets/)

# (page title, module) of the API reference: one page each, rendered by mkdocstrings from the docstrings.
API: tuple[tuple[str, str], ...] = (
    ("brainset_envs", "brainset_envs"),
    ("brainset_envs.core", "brainset_envs.core"),
    ("brainset_envs.wrappers", "brainset_envs.wrappers"),
    ("brainset_envs.analysis", "brainset_envs.analysis"),
    ("agents", "agents"),
    ("agents.architectures", "agents.architectures"),
    ("agents.rules", "agents.rules"),
    ("agents.objectives", "agents.objectives"),
    ("agents.trainer", "agents.trainer"),
    ("agents.probes", "agents.probes"),
)


# A griffe extension (written next to mkdocs.yml, so the package imports nothing of the docs extra): the
# docstrings' Sphinx roles (:class:`X`, :func:`f`) become code spans in the API reference.
SPHINX_ROLES = '''"""Sphinx roles in docstrings -> Markdown code spans (written by agents.experiments.docs_site)."""
import re

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs):
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\\1`", obj.docstring.value)
'''


def _text(name: str) -> str:
    """A hand-written page or part of one (package data under ``docs_text/``)."""
    return resources.files("agents.experiments").joinpath("docs_text").joinpath(name).read_text()


def _optional(name: str, heading: str) -> str:
    """``docs_text/<name>`` under ``heading``, to add to a generated page ('' when there is none)."""
    node = resources.files("agents.experiments").joinpath("docs_text").joinpath(name)
    return f"\n## {heading}\n\n{node.read_text()}" if node.is_file() else ""


def hand_written() -> list[str]:
    """Every file of ``docs_text/``, relative to it (each must appear on some page; a test checks it)."""
    root = Path(str(resources.files("agents.experiments").joinpath("docs_text")))
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.md"))


def generate(out: str | Path, assets: str | Path | None = None, api: bool = True) -> Path:
    """Write the site's sources under ``out/src`` and ``out/mkdocs.yml`` (replacing earlier ones); return the
    config's path. ``assets``: the folder of figures and audit results (default: the checkout's
    ``assets/``; pages say so when it is missing). ``api=False`` leaves the API reference out (faster)."""
    out = Path(out)
    assets = ROOT / "assets" if assets is None else Path(assets)
    src = out / "src"
    if src.exists():
        shutil.rmtree(src)
    pages: dict[str, str] = {
        "index.md": _text("index.md"), "install.md": _text("install.md"), "tutorial.md": _text("tutorial.md"),
        "guides/adding.md": _text("adding.md"), "guides/training.md": _text("guides/training.md"),
        "guides/development.md": _text("guides/development.md"),
    }
    families = docs_pages.task_families()
    pages["tasks/index.md"] = docs_pages.tasks_index(families)
    gifs = {p.stem: p for p in assets.glob("*.gif")} if assets.is_dir() else {}
    for stem, specs in families.items():
        module = str(specs[0].entry_point).partition(":")[0].rpartition(".")[2]
        gif = gifs.get(module)
        pages[f"tasks/{stem}.md"] = (docs_pages.task_page(stem, specs, f"../assets/{gif.name}" if gif else None)
                                     + _optional(f"tasks/{stem}.md", "In depth"))
    pages["components/architectures.md"] = docs_pages.architectures_page()
    pages["components/objectives.md"] = docs_pages.objectives_page()
    pages["components/rules.md"] = docs_pages.rules_page() + _optional("components/rules.md", "In depth")
    pages["components/probes.md"] = docs_pages.probes_page() + _optional("components/probes.md", "In depth")
    for name, text in docs_pages.experiment_pages(assets):
        prose = _optional(f"experiments/{name}", "The experiment")
        head, sep, tail = text.partition("\n## Audited numbers")
        pages[f"experiments/{name}"] = head + prose + sep + tail
    pages["api/index.md"] = "# API reference\n\nLeft out of this build (`--no-api`).\n"
    if api:
        pages["api/index.md"] = "# API reference\n\nFrom the docstrings, one page per package:\n\n" + "".join(
            f"- [{title}]({module}.md)\n" for title, module in API)
        for title, module in API:
            # the top-level packages list their own names only: their subpackages have pages of their own
            options = "\n    options:\n      show_submodules: false\n" if "." not in module else "\n"
            pages[f"api/{module}.md"] = f"# `{title}`\n\n::: {module}{options}"
    for rel, text in pages.items():
        path = src / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if assets.is_dir():
        (src / "assets").mkdir()
        for f in assets.iterdir():
            if f.suffix in (".png", ".gif"):
                shutil.copy2(f, src / "assets" / f.name)
    config = out / "mkdocs.yml"
    (out / "griffe_sphinx_roles.py").write_text(SPHINX_ROLES)
    config.write_text(yaml.safe_dump(mkdocs_config(families, api, out), sort_keys=False))
    return config


def mkdocs_config(families: dict[str, list], api: bool = True, out: Path = Path(".")) -> dict:
    """The MkDocs configuration: Material theme, search, every page in the nav, strict link validation."""
    nav: list = [
        {"Home": "index.md"}, {"Install": "install.md"}, {"Tutorial": "tutorial.md"},
        {"Tasks": ["tasks/index.md", *({stem: f"tasks/{stem}.md"} for stem in families)]},
        {"Components": [{"Architectures": "components/architectures.md"},
                        {"Objectives": "components/objectives.md"}, {"Learning rules": "components/rules.md"},
                        {"Probes": "components/probes.md"}]},
        {"Experiments": ["experiments/index.md",
                         *({e.title.split(":")[0]: f"experiments/{e.slug}.md"} for e in docs_pages.EXPERIMENTS),
                         {"Robustness audit": "experiments/robustness.md"}]},
        {"Guides": [{"Training agents": "guides/training.md"},
                    {"Adding a task, a rule or an objective": "guides/adding.md"},
                    {"Rendering, benchmarks, tests and layout": "guides/development.md"}]},
    ]
    plugins: list = ["search"]
    nav.append({"API reference": ["api/index.md", *({t: f"api/{m}.md"} for t, m in API if api)]})
    if api:
        plugins.append({"mkdocstrings": {"handlers": {"python": {
            "paths": [str(ROOT)],
            "options": {"extensions": [f"{(out / 'griffe_sphinx_roles.py').resolve()}:SphinxRoles"],
                        "docstring_style": None, "show_submodules": True, "show_source": False,
                        "members_order": "source", "show_root_heading": False, "heading_level": 2},
        }}}})
    return {
        "site_name": "BrainSet",
        "site_description": "Brain Set tasks as Gymnasium environments, and agents built from architectures x "
                            "objectives x learning rules.",
        "docs_dir": "src",
        "use_directory_urls": False,  # the site opens from the file system as well as from a server
        # font: false: the system's fonts, not Google Fonts (the site works offline; no request leaves it)
        "theme": {"name": "material", "font": False,
                  "features": ["navigation.sections", "search.highlight", "content.code.copy"]},
        "markdown_extensions": ["admonition", "tables", {"toc": {"permalink": True}},
                                "pymdownx.highlight", "pymdownx.superfences"],
        "plugins": plugins,
        # every check MkDocs has, at warning level, so that --strict fails on it (not -q: quiet drops warnings
        # before strict mode counts them)
        "validation": {"nav": {"omitted_files": "warn", "not_found": "warn", "absolute_links": "warn"},
                       "links": {"not_found": "warn", "anchors": "warn", "absolute_links": "warn",
                                 "unrecognized_links": "warn"}},
        "nav": nav,
    }


def build(config: str | Path, site: str | Path, strict: bool = True) -> subprocess.CompletedProcess:
    """``mkdocs build`` of ``config`` into ``site`` (strict: any warning fails); raises on failure with
    MkDocs' output."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        raise RuntimeError("building the site needs MkDocs: pip install 'brainset[docs]' (make docs installs it)")
    cmd = [sys.executable, "-m", "mkdocs", "build", "--clean", "-f", str(config), "-d", str(Path(site).resolve())]
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's notice about MkDocs 2, printed on every build
    p = subprocess.run(cmd + (["--strict"] if strict else []), capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"mkdocs build failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """``brainset docs`` / ``python -m agents.experiments.docs_site``."""
    p = argparse.ArgumentParser(prog="brainset docs", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/docs",
                   help="folder for the sources, mkdocs.yml and site/ (default runs/docs)")
    p.add_argument("--assets", default=None, help="figures and audit results (default: the checkout's assets/)")
    p.add_argument("--no-api", action="store_true", help="leave the API reference out (faster)")
    p.add_argument("--no-build", action="store_true", help="write the sources only")
    a = p.parse_args(argv)
    if a.assets is not None and not Path(a.assets).is_dir():
        p.error(f"argument --assets: {a.assets!r} is not a folder")
    t0 = time.perf_counter()
    config = generate(a.out, a.assets, api=not a.no_api)
    print(f"docs: sources in {config.parent / 'src'} ({time.perf_counter() - t0:.1f} s)")
    if not a.no_build:
        t1 = time.perf_counter()
        build(config, Path(a.out) / "site")
        print(f"docs: site in {Path(a.out) / 'site' / 'index.html'} ({time.perf_counter() - t1:.1f} s, strict)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
