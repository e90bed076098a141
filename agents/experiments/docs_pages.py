"""The generated pages of the documentation site (``agents.experiments.docs_site`` writes and builds them):
one page per task family from its env class's docstring and gymnasium's registry, one page per component
family from the registries, one page per experiment from the results the audit wrote under ``assets/``.

Every function returns Markdown (or a list of (relative path, Markdown)); nothing here writes files, so a
test can look at a page without building the site.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pkgutil
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import agents.objectives
import agents.probes
import agents.rules
from agents import architectures
from agents.config import ArchConfig
from agents.registry import OBJECTIVES
from agents.rules import registered_rules, rule_class, rules_table
from brainset_envs.benchmark import TARGETS
from brainset_envs.core.ids import env_ids
from brainset_envs.recording import make_policy

_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc):`~?([^`]+)`")


def docstring(obj: Any) -> str:
    """``obj``'s docstring as Markdown: Sphinx roles (``:class:`X```) become code spans."""
    return _ROLE.sub(r"`\1`", inspect.getdoc(obj) or "")


def first_line(obj: Any) -> str:
    """The first paragraph of ``obj``'s docstring on one line, for a table cell ('' when it has none)."""
    return _cell(docstring(obj).strip().split("\n\n")[0].replace("\n", " "))


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|").strip()


# --- tasks --------------------------------------------------------------------------------------------


def task_families() -> dict[str, list[gym.envs.registration.EnvSpec]]:
    """Every registered ``BrainSet/`` id grouped by its env class's stem (``BanditEnv`` -> ``Bandit``), in
    id order: one family, one page."""
    families: dict[str, list] = {}
    for env_id in env_ids():
        spec = gym.spec(env_id)
        stem = str(spec.entry_point).rpartition(":")[2].removesuffix("Env")
        families.setdefault(stem, []).append(spec)
    return families


def env_class(spec: gym.envs.registration.EnvSpec) -> type:
    """The class behind ``spec``'s entry point ``module:Class``."""
    module, _, name = str(spec.entry_point).partition(":")
    return getattr(importlib.import_module(module), name)


def _spaces(spec: gym.envs.registration.EnvSpec) -> tuple[str, str]:
    env = gym.make(spec.id)
    try:
        return str(env.observation_space), str(env.action_space)
    finally:
        env.close()


def policy_return(env_id: str, policy: str, episodes: int = 4, seed: int = 1, max_steps: int = 300) -> float:
    """Mean return of ``policy`` ('oracle' or 'random', as ``brainset render --policy``) over ``episodes``
    seeded episodes of at most ``max_steps`` steps: the task page's reference scores (~4 s for every id)."""
    env = gym.make(env_id)
    act = make_policy(policy, env)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    totals = []
    for _ in range(episodes):
        total = 0.0
        for _ in range(max_steps):
            obs, reward, terminated, truncated, info = env.step(act(obs, info))
            total += float(reward)
            if terminated or truncated:
                break
        totals.append(total)
        obs, info = env.reset()
    env.close()
    return float(np.mean(totals))


def _scores(specs: Sequence[gym.envs.registration.EnvSpec]) -> list[str]:
    out = ["## Oracle and random policy", "",
           "Mean return over 4 episodes (seed 1, at most 300 steps each) of the task's `oracle_action` (it knows "
           "the hidden state: the ceiling) and of uniformly random actions (the floor), measured when this page "
           "was built.", "", "| id | oracle | random |", "|---|---|---|"]
    for spec in specs:
        has_oracle = hasattr(gym.make(spec.id).unwrapped, "oracle_action")
        oracle = f"{policy_return(spec.id, 'oracle'):.4g}" if has_oracle else "no oracle"
        out.append(f"| `{spec.id}` | {oracle} | {policy_return(spec.id, 'random'):.4g} |")
    targets = [(spec.id, metric, low) for spec in specs for metric, low in TARGETS.get(spec.id, [])]
    if targets:
        out += ["", "## Throughput targets", "",
                "Steps per second `brainset bench` checks (`brainset_envs.benchmark.TARGETS`; it writes the "
                "measured rates to `runs/benchmark.json`).", "", "| id | metric | at least |", "|---|---|---|"]
        out += [f"| `{i}` | `{m}` | {low:,.10g} |" for i, m, low in targets]
    return out + [""]


def task_page(stem: str, specs: Sequence[gym.envs.registration.EnvSpec], gif: str | None = None) -> str:
    """The page of one task family: the env class's docstring (its Description ... Registered
    configurations sections), then every registered id with its kwargs and spaces, read from the registry."""
    cls = env_class(specs[0])
    doc = docstring(cls)
    out = [f"# {stem}", "", f"`{cls.__module__}.{cls.__name__}`", ""]
    if gif:
        out += [f"![{stem}, played by its oracle]({gif})", ""]
    out += [doc, "", "## Registered ids", "",
            "Read from gymnasium's registry: `gym.make(id)` builds the env with these keyword arguments.", "",
            "| id | kwargs | observation space | action space |", "|---|---|---|---|"]
    for spec in specs:
        obs, act = _spaces(spec)
        kwargs = ", ".join(f"`{k}={v!r}`" for k, v in spec.kwargs.items()) or "defaults"
        out.append(f"| `{spec.id}` | {_cell(kwargs)} | `{_cell(obs)}` | `{_cell(act)}` |")
    out += ["", "```python", "import gymnasium as gym", "import brainset_envs  # registers the ids", "",
            f'env = gym.make("{specs[0].id}")', 'envs = gym.make_vec("' + specs[0].id + '", num_envs=64)'
            "  # native batched", "```", "", *_scores(specs)]
    return "\n".join(out)


def tasks_index(families: dict[str, list]) -> str:
    """The task table: every family with its ids and its module's one-paragraph summary."""
    out = ["# Tasks", "", "Every `BrainSet/` id registered with gymnasium, one page per task family.", "",
           "| task | ids | what it is |", "|---|---|---|"]
    for stem, specs in families.items():
        cls = env_class(specs[0])
        desc = first_line(importlib.import_module(cls.__module__)).removeprefix(f"{stem}: ")
        ids = ", ".join(f"`{s.id}`" for s in specs)
        out.append(f"| [{stem}]({stem}.md) | {ids} | {desc[:1].upper() + desc[1:]} |")
    return "\n".join(out) + "\n"


# --- components ---------------------------------------------------------------------------------------


def architectures_page() -> str:
    """The architecture options (``ArchConfig``'s fields with their help) and the building blocks."""
    arch = architectures
    out = ["# Architectures", "", first_line(arch), "",
           "## Options", "", "The `arch` section of a run config (`brainset train --help` lists them too).", "",
           "| option | default | what it sets |", "|---|---|---|"]
    for f in dataclasses.fields(ArchConfig):
        default = f.default_factory() if callable(f.default_factory) else f.default
        out.append(f"| `arch.{f.name}` | `{default!r}` | {_cell(f.metadata.get('help', ''))} |")
    out += ["", "## Building blocks", "", "| class | what it is |", "|---|---|"]
    for name, obj in inspect.getmembers(arch, inspect.isclass):
        if obj.__module__ == arch.__name__ and not name.startswith("_"):
            out.append(f"| `agents.architectures.{name}` | {first_line(obj)} |")
    return "\n".join(out) + "\n"


def objectives_page() -> str:
    """Every registered objective (``agents.registry.OBJECTIVES``), with what its class says of itself."""
    out = ["# Objectives", "", first_line(agents.objectives), "",
           "Combine them with strings such as `reward+0.1*predictive` (`--objective`).", "",
           "| objective | class | drives the policy | trainer hooks | what it does |", "|---|---|---|---|---|"]
    for name, factory in OBJECTIVES.items():
        hooks = ", ".join(f"`{h}`" for h in getattr(factory, "trainer_hooks", ())) or "-"
        drives = "yes" if getattr(factory, "drives_policy", False) else "no"
        where = f"`{factory.__module__}.{factory.__qualname__}`"
        out.append(f"| `{name}` | {where} | {drives} | {hooks} | {first_line(factory)} |")
    return "\n".join(out) + "\n"


def rules_page() -> str:
    """Every registered learning rule (``registered_rules()``): the README's table, then one section each."""
    out = ["# Learning rules", "", first_line(agents.rules), "",
           "Pick one with `--rule NAME` (`brainset train`, Fig. 2, Fig. 4, sweeps).", "", rules_table(), ""]
    for name in registered_rules():
        cls = rule_class(name)
        doc = docstring(cls).strip()
        out += [f"## `{name}`", "", f"`{cls.__module__}.{cls.__qualname__}`: label `{cls.label}`, "
                f"stochastic {cls.stochastic}, learns tasks {cls.learns_tasks}, trains any module "
                f"{cls.trains_any_module}.", "", doc, ""]
    return "\n".join(out)


def probes_page() -> str:
    """Every module of ``agents.probes`` and its public functions and classes."""
    out = ["# Probes", "", first_line(agents.probes), ""]
    for info in pkgutil.iter_modules(agents.probes.__path__):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"agents.probes.{info.name}")
        out += [f"## `agents.probes.{info.name}`", "", first_line(mod), "", "| name | what it does |", "|---|---|"]
        for name, obj in inspect.getmembers(mod, lambda o: inspect.isfunction(o) or inspect.isclass(o)):
            if obj.__module__ == mod.__name__ and not name.startswith("_"):
                out.append(f"| `{name}` | {first_line(obj)} |")
        out.append("")
    return "\n".join(out)


# --- experiments --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Experiment:
    """One experiment page: its figures under ``assets/``, the command that redraws them, and the audited
    checks (by name) whose numbers it shows."""

    slug: str
    title: str
    what: str
    command: str
    images: tuple[str, ...]
    checks: Callable[[str], bool]
    results: Callable[[Path], list[str]] | None = None  # Markdown lines read from the JSON it wrote to assets/


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment("fig2", "Fig. 2: how far is each rule from the gradient?",
               "Bias against variance of each learning rule's updates on the digits MLP, over seeds, with curves "
               "over the knobs that set a rule's bias.",
               "python scripts/fig2.py --task digits --seeds 5 --assets assets/fig2.png", ("fig2.png",),
               lambda c: c.startswith("fig2_"), lambda assets: _fig2_results(assets)),
    Experiment("fig3", "Fig. 3: does a rule follow a gradient at all?",
               "Mean update fields of the rules on y = w2 w1 x, and whether each is a gradient field.",
               "python scripts/fig3.py --assets assets/fig3.png", ("fig3.png",), lambda c: c.startswith("fig3_"),
               lambda assets: _fig3_results(assets)),
    Experiment("fig4", "Fig. 4: where in the hierarchy does perceptual learning change the tuning?",
               "Orientation discrimination learned by a conv hierarchy: thresholds, per-stage tuning changes, "
               "weight change.",
               "python scripts/fig4.py --seeds 5 --rule backprop --objective reward --assets assets/fig4.png",
               ("fig4.png", "fig4_feedback_alignment.png"), lambda c: c.startswith("fig4_")),
    Experiment("intrinsic", "Intrinsic motivation: curiosity, empowerment and counts",
               "Learned against exact empowerment, and the coverage of curious explorers against a random walk.",
               "python scripts/intrinsic_figures.py", ("empowerment_learned_vs_exact.png", "coverage.png",
                                                       "klyubin_empowerment.png"),
               lambda c: any(k in c for k in ("curiosity", "empowerment", "noisy_tv", "familiar", "predictive_err",
                                              "zero_init"))),
    Experiment("watermaze", "Water maze: the place-cell actor-critic and its inflexibility",
               "Foster, Morris & Dayan (2000): latency per day, and a reversal of the platform on day 13.",
               "python scripts/watermaze_fmd.py --rats 20 --days 16 --reversal-day 13",
               ("watermaze_latency.png", "watermaze_trial.png"), lambda c: "water" in c),
    Experiment("learning", "Learning checks: every task and rule through the trainer",
               "Agents trained by the trainer on the tasks, and every learning rule on OrientationDiscrimination.",
               "python scripts/benchmark.py --learning", (),
               lambda c: c.startswith(("rule_", "reinforce_", "orientation", "patch_foraging", "cartpole", "demo"))),
    Experiment("bci", "BCI learning: within- and outside-manifold perturbations",
               "Sadtler et al. (2014)'s protocol on an agent whose own 16 recurrent units drive the cursor: "
               "the intuitive decoder, then a within- and an outside-manifold perturbation from the same weights, "
               "per learning rule.",
               "python scripts/bci.py --rules backprop,feedback_alignment,sign_symmetry --seeds 0-4 --assets assets",
               ("bci.png",), lambda c: c.startswith("bci_"), lambda assets: _bci_results(assets)),
    Experiment("metarl", "Learning to learn: a frozen LSTM on Bandit, TwoStep and Harlow",
               "Wang et al. (2018)'s meta-RL agent: trained by PPO across many tasks, then measured with frozen "
               "weights against each task's ground truth.",
               "python scripts/metarl.py --task all --assets assets",
               ("metarl_bandit.png", "metarl_two_step.png", "metarl_harlow.png"), lambda c: c.startswith("metarl_"),
               lambda assets: _metarl_results(assets)),
    Experiment("fig5", "Fig. 5: tags and apical signals by tuning group",
               "Each learning rule's credit signal in units tuned to the reinforced (S+) and the unreinforced (S-) "
               "stimulus, over Go/NoGo learning; AGREL's tagged plasticity.",
               "python scripts/fig5.py --seeds 16 --assets assets\n"
               "python scripts/fig5.py --seeds 16 --false-alarm-reward -0.5 --assets assets",
               ("fig5.png", "fig5_fa-0.5.png"), lambda c: c.startswith("fig5_"),
               lambda assets: _fig5_results(assets)),
)


def _fig3_results(assets: Path) -> list[str]:
    """The panels' and the rules' numbers from ``assets/fig3.json`` (what ``scripts/fig3.py --assets`` wrote)."""
    path = assets / "fig3.json"
    if not path.exists():
        return []
    fig3 = importlib.import_module("agents.experiments.fig3")
    return ["## The run behind the figure", "", "Read from `assets/fig3.json`:", "",
            *fig3.results_markdown(json.loads(path.read_text())), ""]


def _fig5_results(assets: Path) -> list[str]:
    """The verdict and figures per rule from ``assets/fig5*.json`` (what ``scripts/fig5.py --assets`` wrote)."""
    fig5 = importlib.import_module("agents.experiments.fig5")
    lines = []
    for stem, what in (("fig5", "S- unreinforced (a false alarm pays 0, as in the paper's Fig. 5)"),
                       ("fig5_fa-0.5", "a false alarm costs 0.5 (a timeout)")):
        path = assets / f"{stem}.json"
        if path.exists():
            result = json.loads(path.read_text())
            lines += [f"**{what}**, {len(result['seeds'])} seeds, from `assets/{stem}.json` (mean +- 95% CI over "
                      "seeds; the changes are from before to during learning):", ""]
            lines += [f"- {line}" for line in fig5.summary_lines(result)] + [""]
    return ["## The runs behind the figures", "", *lines] if lines else []


def _fig2_results(assets: Path) -> list[str]:
    """The tables of ``assets/fig2.json`` (what ``scripts/fig2.py --assets assets/fig2.png`` wrote)."""
    path = assets / "fig2.json"
    if not path.exists():
        return []
    return list(importlib.import_module("agents.experiments.fig2_knobs").study_markdown(json.loads(path.read_text())))


def _metarl_results(assets: Path) -> list[str]:
    """One line per task from ``assets/metarl_<task>.json`` (what ``scripts/metarl.py --assets`` wrote)."""
    metarl = importlib.import_module("agents.experiments.metarl")
    lines = []
    for task in metarl.TASKS:
        path = assets / f"metarl_{task}.json"
        if path.exists():
            lines.append(f"- {metarl.summary(json.loads(path.read_text()))}")
    if not lines:
        return []
    return ["## The runs behind the figures", "", "Read from `assets/metarl_<task>.json`:", "", *lines, ""]


def _bci_results(assets: Path) -> list[str]:
    """One line per rule from ``assets/bci.json`` (what ``scripts/bci.py --assets`` wrote)."""
    path = assets / "bci.json"
    if not path.exists():
        return []
    bci = importlib.import_module("agents.experiments.bci")
    lines = bci.summary(json.loads(path.read_text())).splitlines()
    return ["## The runs behind the figure", "", "Read from `assets/bci.json` (mean +- 95% CI over seeds):", "",
            *(f"- {line}" for line in lines), ""]


def _robustness() -> Any:
    """``agents.experiments.robustness``, imported by name: a plain import makes mypy (``make lint``, which
    checks this file) follow it into the experiment modules it does not check (fig4, classic agents)."""
    return importlib.import_module("agents.experiments.robustness")


def audit_rows(results_jsonl: Path) -> list[dict[str, Any]]:
    """The audit's summary rows (``agents.experiments.robustness.summarize``) of the results it wrote."""
    robustness = _robustness()
    results = [json.loads(line) for line in results_jsonl.read_text().splitlines() if line.strip()]
    return list(robustness.summarize(results))


def experiment_page(exp: Experiment, rows: Sequence[dict[str, Any]], images: Sequence[str],
                    assets: Path | None = None) -> str:
    """One experiment: its figures (those of ``images`` that exist), the command, and its audited numbers."""
    mine = [r for r in rows if exp.checks(r["check"])]
    out = [f"# {exp.title}", "", exp.what, "", "Reproduce the figure:", "", "```bash", exp.command, "```", ""]
    out += [f"![{exp.title}](../assets/{img})\n" for img in images]
    if exp.results is not None and assets is not None:
        out += exp.results(assets)
    if mine:
        names = sorted({r["check"] for r in mine})
        out += ["## Audited numbers", "",
                "Measured by `agents.experiments.robustness` over seeds and CPU code paths and read here from "
                "`assets/robustness_results.jsonl` (the [audit](robustness.md) lists every check); the test "
                "asserts the threshold on the tested value. Reproduce them:", "", "```bash",
                f"python scripts/robustness.py --checks {','.join(names)} --seeds 8", "```", "",
                _robustness().table_markdown(mine)]
    return "\n".join(out)


def experiment_pages(assets: Path) -> list[tuple[str, str]]:
    """(path under experiments/, Markdown) for the index, each experiment and the whole audit."""
    jsonl = assets / "robustness_results.jsonl"
    rows = audit_rows(jsonl) if jsonl.exists() else []
    pages, index = [], ["# Experiments", "", "Each page shows the figure the experiment drew, the command that "
                        "draws it again, and the numbers the audit measured.", ""]
    for exp in EXPERIMENTS:
        images = [img for img in exp.images if (assets / img).exists()]
        pages.append((f"{exp.slug}.md", experiment_page(exp, rows, images, assets)))
        index.append(f"- [{exp.title}]({exp.slug}.md)")
    index.append("- [The robustness audit: every learned figure](robustness.md)")
    audit = ["# Robustness audit", "", "Every learned figure the test suite asserts "
             "(`agents/experiments/checks.py`), summarised from `assets/robustness_results.jsonl`.", "",
             "```bash", "make robustness      # hours on 2 cores", "```", "",
             _robustness().table_markdown(rows) if rows else "No audit results found."]
    return [("index.md", "\n".join(index) + "\n"), *pages, ("robustness.md", "\n".join(audit) + "\n")]
