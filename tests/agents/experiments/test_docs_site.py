"""The documentation site (agents.experiments.docs_site): pages come from the registries, so a new task or
rule gets its page by itself; the site builds with MkDocs in strict mode, and strict mode does fail on a
broken link; every hand-written page is on the site, and every example in them runs."""

from __future__ import annotations

import fnmatch
import json
import time
from importlib import resources
from pathlib import Path

import gymnasium as gym
import pytest

from agents.experiments import docs_pages, docs_site
from agents.objectives import available_objectives
from agents.registry import RULES
from agents.rules import LearningRule, register_rule, registered_rules
from brainset_envs.core.ids import env_ids
from tests.test_packaging import PYPROJECT
from tests.test_readme import python_blocks, run_block


class _DocsDummyRule(LearningRule):
    """A rule registered only by this test: the rules page must list it without an edit."""

    name = label = "docs_dummy_rule"
    summary = "a dummy rule of the docs test"
    supports = "nothing at all"


def test_every_task_id_and_every_rule_gets_its_page(tmp_path: Path):
    register_rule(_DocsDummyRule)
    try:
        docs_site.generate(tmp_path, api=False)
    finally:
        del RULES["docs_dummy_rule"]
    assert "docs_dummy_rule" not in registered_rules()
    src = tmp_path / "src"
    families = docs_pages.task_families()
    assert sum(len(s) for s in families.values()) == len(env_ids()) >= 29
    for stem, specs in families.items():
        page = (src / "tasks" / f"{stem}.md").read_text()
        for section in ("## Description", "## Observation", "## Action", "## Registered ids"):
            assert section in page, (stem, section)
        for spec in specs:
            assert f"`{spec.id}`" in page, (stem, spec.id)
            obs = str(gym.make(spec.id).observation_space)
            assert obs in page, (spec.id, obs)
    page = (src / "tasks" / "WaterMaze.md").read_text()
    oracle, random = (docs_pages.policy_return("BrainSet/WaterMaze-v0", p) for p in ("oracle", "random"))
    assert oracle > random and f"| `BrainSet/WaterMaze-v0` | {oracle:.4g} | {random:.4g} |" in page
    assert "| `BrainSet/WaterMaze-v0` | `single` | 30,000 |" in page  # its throughput target
    rules = (src / "components" / "rules.md").read_text()
    for name in (*registered_rules(), "docs_dummy_rule"):
        assert f"## `{name}`" in rules, name
    assert "| `docs_dummy_rule` | a dummy rule of the docs test | nothing at all |" in rules
    objectives = (src / "components" / "objectives.md").read_text()
    assert all(f"| `{o}` |" in objectives for o in available_objectives())
    assert "| `arch.core` |" in (src / "components" / "architectures.md").read_text()
    assert "## `agents.probes.tuning`" in (src / "components" / "probes.md").read_text()


def test_experiment_pages_show_the_audited_numbers(tmp_path: Path):
    pages = dict(docs_pages.experiment_pages(docs_site.ROOT / "assets"))
    assert {f"{e.slug}.md" for e in docs_pages.EXPERIMENTS} <= set(pages)
    fig2 = pages["fig2.md"]
    assert "![" in fig2 and "../assets/fig2.png" in fig2 and "python scripts/fig2.py" in fig2
    rows = docs_pages.audit_rows(docs_site.ROOT / "assets" / "robustness_results.jsonl")
    fa = next(r for r in rows if r["check"] == "fig2_run" and r["figure"] == "fa_accuracy_gain")
    assert f"| fig2_run | fa_accuracy_gain | {fa['seeds']} x {len(fa['paths'])} | {fa['min']:.3f} |" in fig2
    metarl = pages["metarl.md"]  # numbers read from the JSON that scripts/metarl.py --assets wrote
    bandit = json.loads((docs_site.ROOT / "assets" / "metarl_bandit.json").read_text())
    assert f"regret {bandit['final']['regret']:.2f}" in metarl and "## The runs behind the figures" in metarl
    for exp in docs_pages.EXPERIMENTS:  # each page shows at least one audited figure of its own
        assert "## Audited numbers" in pages[f"{exp.slug}.md"], exp.slug


def test_the_site_builds_strictly_and_strict_mode_catches_a_broken_link(tmp_path: Path):
    t0 = time.perf_counter()
    config = docs_site.generate(tmp_path / "docs")
    docs_site.build(config, tmp_path / "site")
    seconds = time.perf_counter() - t0
    site = tmp_path / "site"
    for page in ("index.html", "tutorial.html", "tasks/Bandit.html", "components/rules.html",
                 "experiments/fig2.html", "api/agents.rules.html", "search/search_index.json"):
        assert (site / page).exists(), page
    assert (site / "assets" / "fig2.png").exists()
    api = (site / "api" / "agents.rules.html").read_text()
    assert "register_rule" in api  # mkdocstrings rendered it
    assert "LearningRule" in api and ":class:" not in api  # the docstrings' Sphinx roles became code
    assert seconds < 60, f"the site took {seconds:.0f} s"
    with (tmp_path / "docs" / "src" / "install.md").open("a") as f:
        f.write("\n[a page that does not exist](nowhere.md)\n")
    with pytest.raises(RuntimeError, match="nowhere.md"):
        docs_site.build(config, tmp_path / "site2")


def test_every_hand_written_page_is_on_the_site(tmp_path: Path):
    docs_site.generate(tmp_path, api=False)
    pages = "\n".join(p.read_text() for p in (tmp_path / "src").rglob("*.md"))
    names = docs_site.hand_written()
    assert {"index.md", "tutorial.md", "tasks/PatchForaging.md", "guides/training.md"} <= set(names)
    for name in names:
        text = resources.files("agents.experiments").joinpath("docs_text").joinpath(name).read_text()
        longest = max(text.splitlines(), key=len)
        assert longest in pages, name


def test_the_hand_written_pages_ship_as_package_data():
    globs = PYPROJECT["tool"]["setuptools"]["package-data"]["agents"]
    for name in docs_site.hand_written():
        assert any(fnmatch.fnmatch(f"experiments/docs_text/{name}", g) and g.count("/") == name.count("/") + 2
                   for g in globs), f"pyproject.toml's package-data misses docs_text/{name}"


EXAMPLES = [n for n in docs_site.hand_written() if n != "tutorial.md" and "```python" in
            resources.files("agents.experiments").joinpath("docs_text").joinpath(n).read_text()]


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_examples_of_a_page_run(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = resources.files("agents.experiments").joinpath("docs_text").joinpath(name).read_text()
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__docs__"}
    blocks = python_blocks(text)
    assert blocks
    for i, block in enumerate(blocks):  # in order, in one namespace per page; quoted outputs checked
        run_block(block, namespace, f"docs_text/{name} block {i}")


def test_the_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    text = resources.files("agents.experiments").joinpath("docs_text").joinpath("tutorial.md").read_text()
    blocks = python_blocks(text)
    assert len(blocks) == 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__tutorial__"}
    out = "\n".join(line for i, block in enumerate(blocks)  # in order, in one namespace, as a reader runs them
                     for line in run_block(block, namespace, f"tutorial.md block {i}"))
    assert "oracle reward rate 1.0" in out
    assert "2048 env steps" in out
    assert "V1 units" in out and "IT units" in out
