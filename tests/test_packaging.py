"""Packaging: ``pip install brainset`` gives the envs only, ``brainset[agents]`` the rest. The envs, every
submodule imported and every registered env stepped, load none of the agents extra's packages; the
dependency lists in pyproject.toml cover what each package imports."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys

from tests import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dev extra installs tomli on 3.10
    import tomli as tomllib

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

BASE = {"gymnasium", "numpy", "scipy", "pygame-ce", "imageio", "imageio-ffmpeg"}
AGENTS = {"torch", "stable-baselines3", "tensorboard", "matplotlib", "tqdm", "pyyaml", "scikit-learn", "cloudpickle"}
DOCS = {"mkdocs", "mkdocs-material", "mkdocstrings"}  # the site: agents.experiments.docs_site runs mkdocs
# distribution -> the top-level module it installs, where the two differ
MODULE_OF = {"pygame-ce": "pygame", "imageio-ffmpeg": "imageio_ffmpeg", "stable-baselines3": "stable_baselines3",
             "pyyaml": "yaml", "scikit-learn": "sklearn"}
# Imported, but only inside a function that says what to install when it is missing, or only by a tool that
# needs it: {package: {module: the extra that provides it, or None for a separate optional install}}.
OPTIONAL = {"brainset_envs": {"matplotlib": "agents", "minigrid": "bench"},
            "agents": {"rsatoolbox": None, "ray": "sweep"}}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower()


def _module(dist: str) -> str:
    return MODULE_OF.get(dist, dist)


def _third_party_imports(package: str) -> set[str]:
    out = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                out |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                out.add(node.module.split(".")[0])
    return out - set(sys.stdlib_module_names) - {"brainset_envs", "agents", "__future__"}


def test_base_dependencies_are_the_envs_only_and_the_extras_add_the_rest():
    project = PYPROJECT["project"]
    assert {_name(r) for r in project["dependencies"]} == BASE
    extras = {k: {_name(r) for r in v} for k, v in project["optional-dependencies"].items()}
    assert extras["agents"] == AGENTS
    assert {"dev", "bench", "sweep"} <= set(extras) and "minigrid" in extras["bench"] and extras["sweep"] == {"ray"}
    assert extras["docs"] == DOCS
    assert project["scripts"] == {"brainset": "brainset_envs.cli:main"}
    # `make` installs everything: the tests build the docs site too
    assert '-e ".[agents,dev,bench,sweep,docs]"' in (ROOT / "Makefile").read_text()
    pinned = {_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    missing = {d for d in BASE | AGENTS | DOCS | {"ray"} if d not in pinned}
    assert not missing, f"pin the tested versions of {missing} in constraints.txt"


def test_the_dependency_lists_cover_every_import():
    base = {_module(d) for d in BASE}
    envs = _third_party_imports("brainset_envs")
    assert envs - base == set(OPTIONAL["brainset_envs"]), "brainset_envs imports a package the base lacks"
    agents = _third_party_imports("agents")
    assert agents - base - {_module(d) for d in AGENTS} == set(OPTIONAL["agents"])
    extras = {k: {_module(_name(r)) for r in v} for k, v in PYPROJECT["project"]["optional-dependencies"].items()}
    for module, extra in {**OPTIONAL["brainset_envs"], **OPTIONAL["agents"]}.items():
        assert extra is None or module in extras[extra], (module, extra)


def test_the_envs_load_none_of_the_agents_extra():
    """In a fresh interpreter: import every brainset_envs module, make and step every registered env."""
    excluded = sorted({_module(d) for d in AGENTS} - {"cloudpickle"} | {"agents"})  # gymnasium needs cloudpickle
    code = f"""
import importlib, json, pkgutil, sys
import gymnasium as gym
import brainset_envs

modules = [m.name for m in pkgutil.walk_packages(brainset_envs.__path__, "brainset_envs.")]
for name in modules:
    importlib.import_module(name)
for env_id in brainset_envs.env_ids():
    env = gym.make(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    env.step(env.action_space.sample())
    env.close()
loaded = sorted(m for m in {excluded!r} if m in sys.modules)
print(json.dumps({{"modules": len(modules), "envs": len(brainset_envs.env_ids()), "loaded": loaded}}))
"""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["loaded"] == [], f"brainset_envs imported {out['loaded']}, which `pip install brainset` lacks"
    assert out["modules"] >= 30 and out["envs"] >= 10, out
