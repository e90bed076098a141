"""The component factorial: every task with a learning check x architectures x objectives x rules x seeds, as
ordinary training runs on Ray Tune, ranked against each task's ground truth.

``brainset factorial [--scale small|paper]`` (``scripts/factorial.py``). The grid:

- **tasks**: the learning checks of :mod:`agents.experiments.learning_report` (each an env, a training
  budget and a ground-truth scorer with its target), the budget scaled by the scale's ``budget``;
- **architectures**: the env's default (``auto``) and, where the task is partially observable
  (:data:`RECURRENT`), a recurrent variant;
- **objectives**: ``reward`` and ``reward+0.1*predictive``;
- **rules**: every registered rule that learns tasks through the trainer (``learns_tasks`` and
  ``trains_agents``), with its own options and learning rate from ``trainer_overrides``; a rule that cannot
  train an architecture is not run, and its reason is kept (``skipped`` in ``results.csv``);
- **seeds**: the scale's.

Each (task, architecture, rule) is one :class:`~agents.experiments.sweep.Sweep` (its own folder under
``<out>/sweeps/``, with its ``results.csv`` and report), and every pending trial of every sweep runs in one
Ray Tune run (local by default, ``--address`` for a cluster). Finished trials are read back from their
``trial.json``, so running the same command again resumes. The factorial folder then holds
``results.csv`` (every trial, the skipped ones included), ``factorial.json``, ``report.md`` (per task the
combinations ranked by score with 95% t intervals, per rule the fraction of tasks it learns) and
``factorial.png`` (rules x tasks).

A rule *learns* a task when one of its (architecture, objective) combinations reaches the learning check's
target with its mean score over seeds (for a target relative to the untrained network, the untrained score
of the same architecture and seeds, measured here).
"""

from __future__ import annotations

import argparse
import csv
import io
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from agents.build import build_components
from agents.config import Config, parse_override, resolve_config
from agents.experiments.learning_report import CHECKS, QUIET, LearningCheck
from agents.experiments.sweep import Sweep, _run_on_ray, load_trial, plan, ray_missing, t_interval, write_results
from agents.rules.base import registered_rules, rule_class
from agents.trainer import preflight
from brainset_envs.core.files import atomic_write_bytes, write_json

OBJECTIVES = ("reward", "reward+0.1*predictive")
# Tasks whose observation does not hold the state: the recurrent variant of their architecture. Patch
# foraging: the patch's remaining yield shows only through the last rewards.
RECURRENT = {"patch_foraging": "auto+gru"}


@dataclass(frozen=True)
class Scale:
    """How big a factorial is: seeds per combination and the fraction of each check's training budget."""

    name: str
    seeds: int
    budget: float
    tasks: tuple[str, ...]


SCALES = {
    "small": Scale("small", 2, 0.5, tuple(CHECKS)),  # a laptop: about half an hour on 8 cores
    "paper": Scale("paper", 10, 1.0, tuple(CHECKS)),  # a cluster
}


def factorial_rules() -> list[str]:
    """The registered rules that learn tasks through the trainer (the registry's own flags)."""
    return [r for r in registered_rules() if rule_class(r).learns_tasks and rule_class(r).trains_agents]


def excluded_rules() -> dict[str, str]:
    """Registered rules the factorial leaves out, with the reason."""
    out = {}
    for r in registered_rules():
        cls = rule_class(r)
        if not cls.trains_agents:
            out[r] = "trains MLPs only, not the trainer's agents (trains_agents = False)"
        elif not cls.learns_tasks:
            out[r] = "does not descend the task's objective in every layer (learns_tasks = False)"
    return out


def rule_overrides(rule: str) -> list[str]:
    """The rule's options and learning rate from its ``trainer_overrides`` (its env and architecture
    overrides are tuned to OrientationDiscrimination, so they are not carried to other tasks)."""
    return [o for o in rule_class(rule).trainer_overrides if o.startswith(("rule.", "train.lr="))]


def scaled_budget(check: LearningCheck, budget: float) -> list[str]:
    """The check's budget overrides with ``train.total_steps`` times ``budget`` and no early stop."""
    out = []
    for o in check.budget:
        if o.startswith("train.total_steps="):
            o = f"train.total_steps={max(1, round(int(o.split('=')[1]) * budget))}"
        elif o.startswith("run.target_return="):
            continue  # every trial trains its whole budget, so seeds and rules compare alike
        out.append(o)
    return out


@dataclass
class Cell:
    """One (task, architecture, rule) of the factorial: its sweep over objectives x seeds, or why not."""

    task: str
    arch: str
    rule: str
    sweep: Sweep | None
    reason: str = ""


def design(tasks: Sequence[str], seeds: Sequence[int], budget: float, rules: Sequence[str] | None = None,
           objectives: Sequence[str] = OBJECTIVES, cpus_per_trial: float = 1.0, check: bool = True) -> list[Cell]:
    """Every (task, architecture, rule); with ``check``, each is preflighted (env made, objective and rule
    built on the agent) and an incompatible one carries the reason instead of a sweep."""
    unknown = [t for t in tasks if t not in CHECKS]
    if unknown or not tasks:
        raise ValueError(f"tasks={list(tasks)!r}: {'unknown ' + str(unknown) if unknown else 'empty'}; "
                         f"allowed: {list(CHECKS)}")
    allowed = factorial_rules()
    rules = list(rules) if rules is not None else allowed
    bad = [r for r in rules if r not in allowed]
    if bad or not rules:
        raise ValueError(f"rules={list(rules)!r}: {'not allowed ' + str(bad) if bad else 'empty'}; allowed: {allowed}"
                         + (f" (left out: {', '.join(f'{k}: {v}' for k, v in excluded_rules().items())})"
                            if bad else ""))
    if not objectives:
        raise ValueError("objectives is empty; give at least one, e.g. reward")
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds={list(seeds)!r} must be a non-empty list of integers >= 0")
    if not (isinstance(budget, (int, float)) and 0 < budget <= 100):
        raise ValueError(f"budget={budget!r} must be a number in (0, 100]: the fraction of each check's steps")
    cells = []
    for task in tasks:
        lc = CHECKS[task]
        for arch in ("auto", *([RECURRENT[task]] if task in RECURRENT else [])):
            for rule in rules:
                fields = {"env.id": [lc.env_id], "arch.name": [arch], "rule.name": [rule],
                          "objective.spec": list(objectives)}
                sweep = Sweep(name=f"{task}__{arch}__{rule}", fields=fields, seeds=list(seeds),
                              overrides=[*QUIET, *scaled_budget(lc, budget), *rule_overrides(rule)],
                              cpus_per_trial=cpus_per_trial)
                try:
                    for t in sweep.trials()[:: len(seeds)] if check else []:  # one per objective
                        _check_trainable(sweep.config(t))
                except (KeyError, TypeError, ValueError) as e:
                    cells.append(Cell(task, arch, rule, None, str(e.args[0] if isinstance(e, KeyError) else e)))
                    continue
                cells.append(Cell(task, arch, rule, sweep))
    return cells


def _check_trainable(cfg: Config) -> None:
    """Preflight, then build the agent and let the rule prepare it: raises ValueError/TypeError with the
    reason when the rule cannot train this architecture."""
    preflight(cfg)
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    try:
        build_components(cfg, env.observation_space, env.action_space)
    finally:
        env.close()


def untrained_scores(task: str, arch: str, seeds: Sequence[int], objective: str = "reward") -> list[float]:
    """The learning check's score of the untrained network (the seed's initial weights) per seed."""
    from agents.trainer import make_vec_env, seed_everything  # deferred: only relative targets need it

    check = CHECKS[task]
    out = []
    for seed in seeds:
        cfg = resolve_config(check.env_id, overrides=[parse_override(o) for o in (
            *QUIET, *check.budget, f"arch.name={arch}", f"objective.spec={objective}", f"run.seed={seed}")])
        seed_everything(seed)
        envs = make_vec_env(cfg.env.id, 1, cfg.env.kwargs)
        agent, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
        envs.close()
        out.append(float(check.score(agent, cfg)["score"]))
    return out


def run_factorial(cells: Sequence[Cell], out: Path, address: str | None = None, cpus_per_trial: float = 1.0,
                  log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """Run every pending trial of every cell in one Ray Tune run; returns all rows (skipped cells included)."""
    out = Path(out).resolve()
    jobs_by_cell: list[tuple[Cell, Path, list[dict]]] = []
    pending: list[dict] = []
    for cell in cells:
        if cell.sweep is None:
            continue
        sweep_dir = out / "sweeps" / cell.sweep.name
        (sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
        cell.sweep.save(sweep_dir / "sweep.yaml")
        jobs = plan(cell.sweep, sweep_dir)
        jobs_by_cell.append((cell, sweep_dir, jobs))
        pending += [j for j in jobs if (load_trial(Path(j["run_dir"])) or {}).get("status") != "ok"]
    total = sum(len(j) for _, _, j in jobs_by_cell)
    log(f"factorial: {total} trials in {len(jobs_by_cell)} cells ({sum(c.sweep is None for c in cells)} "
        f"skipped), {total - len(pending)} finished before, {len(pending)} to run -> {out}")
    t0 = time.perf_counter()
    if pending:
        runner = Sweep(name="factorial", cpus_per_trial=cpus_per_trial, max_failures=1)
        _run_on_ray(runner, out, pending, address, log)
    log(f"{len(pending)} trials run in {time.perf_counter() - t0:.1f} s")
    rows: list[dict[str, Any]] = []
    for cell, sweep_dir, jobs in jobs_by_cell:
        assert cell.sweep is not None
        for r in write_results(sweep_dir, cell.sweep, jobs):
            rest = {k: v for k, v in r.items() if k not in ("objective.spec", "arch.name", "rule.name")}
            rows.append({"task": cell.task, "arch": cell.arch, "rule": cell.rule, "objective": r["objective.spec"],
                         **rest, "run_dir": str(Path("sweeps") / cell.sweep.name / r["run_dir"])})
    for cell in cells:
        if cell.sweep is None:
            rows.append({"task": cell.task, "arch": cell.arch, "rule": cell.rule, "objective": "", "status": "skipped",
                         "error": cell.reason})
    return rows


def summarise(rows: list[dict[str, Any]], untrained: dict[tuple[str, str], list[float]]) -> dict[str, Any]:
    """Per task the combinations ranked by mean score (95% t interval, learned or not); per rule the tasks it
    learns."""
    tasks: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        check = CHECKS[task]
        combos: dict[tuple[str, str, str], list[float]] = {}
        for r in rows:
            if r["task"] == task and r["status"] == "ok":
                combos.setdefault((r["arch"], r["objective"], r["rule"]), []).append(float(r["score"]))
        ranked: list[dict[str, Any]] = []
        for (arch, obj, rule), scores in combos.items():
            m, h, n = t_interval(scores)
            base = untrained.get((task, arch))
            target = check.target * float(np.mean(base)) if check.relative_to_untrained and base else check.target
            reached = math.isfinite(m) and (m >= target if check.higher_is_better else m <= target)
            ranked.append({"arch": arch, "objective": obj, "rule": rule, "mean": m, "ci95": h, "n": n,
                           "target": target, "learned": bool(reached)})
        ranked.sort(key=lambda c: (-c["mean"] if check.higher_is_better else c["mean"]) if math.isfinite(c["mean"])
                    else math.inf)
        skipped = [{"arch": r["arch"], "rule": r["rule"], "reason": r["error"]} for r in rows
                   if r["task"] == task and r["status"] == "skipped"]
        failed = sum(r["task"] == task and r["status"] == "error" for r in rows)
        tasks[task] = {"env": check.env_id, "metric": check.metric, "higher_is_better": check.higher_is_better,
                       "ranked": ranked, "skipped": skipped, "failed_trials": failed}
    rules: dict[str, Any] = {}
    for rule in dict.fromkeys(r["rule"] for r in rows):
        learned = [t for t, s in tasks.items() if any(c["learned"] for c in s["ranked"] if c["rule"] == rule)]
        tried = [t for t, s in tasks.items() if any(c["rule"] == rule for c in s["ranked"])]
        rules[rule] = {"learned": learned, "tried": tried,
                       "fraction": len(learned) / len(tried) if tried else None}
    return {"tasks": tasks, "rules": rules}


def _cell(s: dict[str, Any]) -> str:
    if not math.isfinite(s["mean"]):
        return "-"
    ci = f" +- {s['ci95']:.3g}" if math.isfinite(s["ci95"]) else ""
    return f"{s['mean']:.3g}{ci}{' (learned)' if s['learned'] else ''}"


def headline_table(summary: dict[str, Any]) -> str:
    """Rules x tasks: the best combination's mean score (learned marked), and the fraction of tasks learned."""
    tasks = list(summary["tasks"])
    lines = ["| rule | " + " | ".join(f"{t} ({summary['tasks'][t]['metric']})" for t in tasks) + " | tasks learned |",
             "|---|" + "---|" * (len(tasks) + 1)]
    for rule, r in summary["rules"].items():
        cells = []
        for t in tasks:
            mine = [c for c in summary["tasks"][t]["ranked"] if c["rule"] == rule]
            cells.append(_cell(mine[0]) if mine else "skipped")
        frac = f"{len(r['learned'])}/{len(r['tried'])}" if r["tried"] else "-"
        lines.append(f"| `{rule}` | " + " | ".join(cells) + f" | {frac} |")
    return "\n".join(lines)


def report_markdown(result: dict[str, Any]) -> str:
    s = result["summary"]
    out = [f"# Component factorial ({result['scale']})", "",
           f"{result['counts']['ok']} trials ok, {result['counts']['error']} failed, {result['counts']['skipped']} "
           f"cells skipped; seeds {result['seeds']}, budget x{result['budget']:g} of each learning check's steps; "
           f"the trials took {result['trial_seconds']:.0f} s of compute in all, this command "
           f"{result['wall_s']:.0f} s of wall time (a resumed run counts only what it ran). Cells: mean score "
           "over seeds +- 95% t interval; learned = the mean reaches the check's target.", "", "## Headline", "",
           headline_table(s), ""]
    for task, t in s["tasks"].items():
        out += [f"## {task} ({t['env']}, {t['metric']}, {'higher' if t['higher_is_better'] else 'lower'} is better)",
                "", "| rank | architecture | objective | rule | score | n | target |", "|---|---|---|---|---|---|---|"]
        out += [f"| {i + 1} | {c['arch']} | {c['objective']} | {c['rule']} | {_cell(c)} | {c['n']} | "
                f"{c['target']:.3g} |" for i, c in enumerate(t["ranked"])]
        if t["skipped"]:
            out += ["", "Not run: " + "; ".join(f"{k['rule']} on {k['arch']} ({k['reason']})" for k in t["skipped"])]
        out.append("")
    if result["excluded_rules"]:
        out += ["Registered rules left out: " + "; ".join(f"`{k}`: {v}" for k, v in result["excluded_rules"].items()),
                ""]
    out += ["![rules x tasks](factorial.png)", ""]
    return "\n".join(out)


def figure_png(summary: dict[str, Any]) -> bytes:
    """Rules x tasks heatmap of the best combination's score, relative to the check's target."""
    # deferred: matplotlib is slow to import; only the report draws
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after the backend

    tasks, rules = list(summary["tasks"]), list(summary["rules"])
    grid = np.full((len(rules), len(tasks)), np.nan)
    for j, t in enumerate(tasks):
        st = summary["tasks"][t]
        for i, r in enumerate(rules):
            mine = [c for c in st["ranked"] if c["rule"] == r and math.isfinite(c["mean"])]
            if mine:
                ratio = mine[0]["mean"] / mine[0]["target"] if mine[0]["target"] else np.nan
                grid[i, j] = ratio if st["higher_is_better"] else 1.0 / ratio
    fig, ax = plt.subplots(figsize=(1.6 * len(tasks) + 3, 0.45 * len(rules) + 1.8))
    im = ax.imshow(np.clip(grid, 0, 1.5), cmap="viridis", vmin=0, vmax=1.5, aspect="auto")
    for i in range(len(rules)):
        for j in range(len(tasks)):
            if np.isfinite(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="k" if grid[i, j] > 0.9 else "w")
    ax.set_xticks(range(len(tasks)), tasks, rotation=20, fontsize=8)
    ax.set_yticks(range(len(rules)), rules, fontsize=8)
    fig.colorbar(im, ax=ax, label="best score / target (>= 1: learned)")
    ax.set_title("component factorial: each rule's best architecture x objective", fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def write_report(out: Path, result: dict[str, Any], rows: list[dict[str, Any]]) -> list[Path]:
    """``results.csv``, ``factorial.json``, ``report.md`` and ``factorial.png`` (atomically)."""
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_bytes(out / "results.csv", buf.getvalue().encode())
    write_json(result, out / "factorial.json")
    atomic_write_bytes(out / "report.md", report_markdown(result).encode())
    atomic_write_bytes(out / "factorial.png", figure_png(result["summary"]))
    return [out / n for n in ("results.csv", "factorial.json", "report.md", "factorial.png")]


def factorial(scale: Scale, out: Path, rules: Sequence[str] | None = None, objectives: Sequence[str] = OBJECTIVES,
              address: str | None = None, cpus_per_trial: float = 1.0, log: Callable[[str], None] = print
              ) -> dict[str, Any]:
    """Design, run (resuming what is finished) and report one factorial."""
    seeds = list(range(scale.seeds))
    cells = design(scale.tasks, seeds, scale.budget, rules, objectives, cpus_per_trial)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    rows = run_factorial(cells, out, address, cpus_per_trial, log)
    wall = time.perf_counter() - t0
    relative = {(c.task, c.arch) for c in cells if CHECKS[c.task].relative_to_untrained and c.sweep is not None}
    untrained = {k: untrained_scores(k[0], k[1], seeds) for k in sorted(relative)}
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "error", "not run", "skipped")}
    trial_s = sum(float(r["wall_s"]) for r in rows if r["status"] == "ok" and r.get("wall_s") not in (None, ""))
    result = {"scale": scale.name, "tasks": list(scale.tasks), "seeds": seeds, "budget": scale.budget,
              "objectives": list(objectives), "rules": sorted({c.rule for c in cells}), "counts": counts,
              "wall_s": wall, "trial_seconds": trial_s,
              "excluded_rules": excluded_rules(), "untrained": {f"{t}/{a}": v for (t, a), v in untrained.items()},
              "summary": summarise(rows, untrained), "scale_spec": asdict(scale)}
    for path in write_report(out, result, rows):
        log(f"wrote {path}")
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", default="small", choices=list(SCALES), help="small (a laptop) or paper (a cluster)")
    ap.add_argument("--tasks", help=f"comma-separated subset of the learning checks: {', '.join(CHECKS)}")
    ap.add_argument("--rules", help="comma-separated subset of the rules (default: every rule that learns tasks)")
    ap.add_argument("--objectives", default=",".join(OBJECTIVES), help="semicolon- or comma-separated objectives")
    ap.add_argument("--seeds", type=int, help="seeds per combination (default: the scale's)")
    ap.add_argument("--budget", type=float, help="fraction of each check's training steps (default: the scale's)")
    ap.add_argument("--out", default=None, help="the factorial's folder (default runs/factorial/<scale>); "
                    "running the same command again resumes it")
    ap.add_argument("--address", default=None, help="a running Ray cluster (ray://host:10001); default: local")
    ap.add_argument("--cpus-per-trial", type=float, default=1.0, help="CPUs Ray reserves per trial (default 1)")
    ap.add_argument("--assets", default=None, help="also copy factorial.json, report.md (as factorial.md) and "
                    "factorial.png into this folder")
    a = ap.parse_args(argv)
    base = SCALES[a.scale]
    try:
        if a.seeds is not None and a.seeds < 1:
            raise ValueError(f"argument --seeds: {a.seeds} must be >= 1")
        if not (a.cpus_per_trial > 0):
            raise ValueError(f"argument --cpus-per-trial: {a.cpus_per_trial:g} must be > 0")
        scale = Scale(base.name, a.seeds or base.seeds, base.budget if a.budget is None else a.budget,
                      tuple(t.strip() for t in a.tasks.split(",") if t.strip()) if a.tasks else base.tasks)
        rules = [r.strip() for r in a.rules.split(",") if r.strip()] if a.rules else None
        objectives = [o.strip() for o in a.objectives.replace(";", ",").split(",") if o.strip()]
        design(scale.tasks, list(range(scale.seeds)), scale.budget, rules, objectives, a.cpus_per_trial,
               check=False)
    except ValueError as e:
        ap.error(str(e))
    if ray_missing(ap.prog, "factorials"):
        return 2
    out = Path(a.out) if a.out else Path("runs") / "factorial" / scale.name
    result = factorial(scale, out, rules, objectives, a.address, a.cpus_per_trial)
    print(headline_table(result["summary"]))
    if a.assets:
        assets = Path(a.assets)
        write_json(result, assets / "factorial.json")
        atomic_write_bytes(assets / "factorial.md", report_markdown(result).encode())
        atomic_write_bytes(assets / "factorial.png", (out / "factorial.png").read_bytes())
        print(f"wrote {assets / 'factorial.json'}, {assets / 'factorial.md'}, {assets / 'factorial.png'}")
    return 0 if result["counts"]["error"] == 0 and result["counts"]["not run"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
