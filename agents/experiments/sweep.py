"""Sweeps: a grid of ordinary training runs, executed by Ray Tune, summarised with confidence intervals.

A :class:`Sweep` is a grid over config fields (``env.id``, ``rule.name``, ``objective.spec``, ``arch.name``,
any ``section.key``) times seeds, plus fixed overrides. Each trial resolves its config exactly as
``brainset train`` does (:func:`agents.config.resolve_config`: defaults < the env's file < ``base_config`` <
overrides), runs :func:`agents.trainer.train` into an ordinary run folder
``<sweep>/trials/<NNN>__<env>__<arch>-<objective>-<rule>__<seed>/`` and writes ``trial.json`` there
(atomically) when it ends, with its error when it fails. Ray Tune runs the trials (a grid search over
the pending trials, ``tune.with_resources`` per trial, ``FailureConfig(max_failures)``); which trials are
finished is read from the ``trial.json`` files, so ``--resume`` reruns only what is missing, and a trial
interrupted after a checkpoint continues from it (the trainer's own resume).

``<sweep>/`` holds ``sweep.yaml`` (the spec, for resume), ``trials/``, ``tune/`` (Ray Tune's experiment
state, one folder per attempt), ``results.csv`` (one row per trial), ``report.md`` (per env: mean and 95%
t interval over seeds of every combination) and ``learning_curves.png``. The command line is in
:mod:`agents.experiments.sweep_cli`.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import math
import shlex
import shutil
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.config import Config, parse_override, resolve_config
from agents.experiments.learning_report import CHECKS as LEARNING_CHECKS
from agents.run_folder import run_prefix
from agents.trainer import preflight, train
from brainset_envs.core.files import atomic_path, atomic_write_bytes, write_json

RESULT_COLUMNS = ("status", "steps", "wall_s", "final_eval_return", "best_eval_return", "score", "score_metric",
                  "stopped", "hostname", "run_dir", "error")


def inline_yaml(value: Any) -> str:
    """``value`` as one line of YAML (what ``section.key=value`` reads back)."""
    text = yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()
    return text.removesuffix("...").strip()


def nest(name: str, value: Any) -> dict:
    """``('env.kwargs.noise_std', 0.1)`` -> ``{'env': {'kwargs': {'noise_std': 0.1}}}``."""
    out: Any = value
    for k in reversed(name.split(".")):
        out = {k: out}
    return out


@dataclass
class TrialSpec:
    """One trial: its index, the grid values it takes, its seed and the overrides that make its config."""

    index: int
    values: dict[str, Any]
    seed: int
    env_id: str | None
    overrides: list[dict]
    key: str = ""


@dataclass
class Sweep:
    """A grid (``fields``: dotted field name -> values, in order) x ``seeds``, with fixed ``overrides``
    (``section.key=value`` strings) on top of ``base_config`` (a trainer YAML file) and the env defaults."""

    name: str
    fields: dict[str, list] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=lambda: [0])
    overrides: list[str] = field(default_factory=list)
    base_config: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 1
    score: bool = True

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(yaml.safe_dump(asdict(self), sort_keys=False))

    @classmethod
    def load(cls, path: Path) -> Sweep:
        return cls(**(yaml.safe_load(Path(path).read_text()) or {}))

    def trials(self) -> list[TrialSpec]:
        """Every combination of the grid, seeds innermost; ``key`` names its run folder."""
        out: list[TrialSpec] = []
        combos = itertools.product(*self.fields.values()) if self.fields else [()]
        for combo, seed in itertools.product(list(combos), self.seeds):
            values = dict(zip(self.fields, combo, strict=True))
            env_id = values.get("env.id")
            overrides = [nest(k, v) for k, v in values.items()] + [parse_override(o) for o in self.overrides]
            t = TrialSpec(len(out), values, seed, env_id, overrides + [self.run_overrides(seed)])
            out.append(t)
        return out

    def run_overrides(self, seed: int) -> dict:
        """What the sweep sets on every trial: its seed, torch threads = CPUs per trial, no progress bar, the
        device its resources give it (unless an override names run.device)."""
        run: dict[str, Any] = {"seed": seed, "num_threads": max(1, int(self.cpus_per_trial)), "progress": False}
        if not any(o.startswith("run.device=") for o in self.overrides) and "run.device" not in self.fields:
            run["device"] = "cuda" if self.gpus_per_trial > 0 else "cpu"
        return {"run": run}

    def config(self, trial: TrialSpec, trials_dir: Path | None = None) -> Config:
        """The trial's config, resolved as ``brainset train`` resolves it."""
        extra = [{"run": {"runs_dir": str(trials_dir)}}] if trials_dir is not None else []
        return resolve_config(trial.env_id, self.base_config, [*trial.overrides, *extra])


def ray_missing(prog: str, what: str) -> bool:
    """True (after a one-line error on stderr naming the extra to install) when Ray Tune is not installed."""
    if importlib.util.find_spec("ray") is not None:
        return False
    print(f"{prog}: error: {what} need Ray Tune, from the sweep extra: pip install \"brainset[sweep]\"",
          file=sys.stderr)
    return True


def trial_key(trial: TrialSpec, cfg: Config) -> str:
    return f"{trial.index:03d}__{run_prefix(cfg)}"


def score_check(env_id: str):
    """The learning check of :mod:`agents.experiments.learning_report` that scores ``env_id``, or None."""
    return next((c for c in LEARNING_CHECKS.values() if c.env_id == env_id), None)


# --- one trial (runs in a Ray worker) -------------------------------------------------------------------


def run_trial(job: dict) -> dict[str, Any]:
    """Train one trial into ``job['run_dir']`` and write its ``trial.json``; on an exception the file
    records the error and the exception propagates (Ray Tune retries the trial up to max_failures)."""
    run_dir = Path(job["run_dir"])
    host = socket.gethostname()
    t0 = time.perf_counter()
    try:
        resume = run_dir if (run_dir / "checkpoints" / "last.pt").is_file() else None
        if resume is not None:  # an interrupted trial: continue from its checkpoint, as `train --resume`
            cfg = resolve_config(base=Config.load(run_dir / "config.yaml"))
        else:
            if run_dir.exists():
                shutil.rmtree(run_dir)  # died before its first checkpoint: start clean
            cfg = resolve_config(job["env_id"], job["base_config"], job["overrides"])
        preflight(cfg)
        res = train(cfg, run_dir=run_dir, resume=resume, command=job["command"])
        score, metric = math.nan, ""
        check = score_check(cfg.env.id) if job.get("score", True) else None
        if check is not None:
            res.agent.to("cpu")
            score, metric = float(check.score(res.agent, cfg)["score"]), check.metric
        out = {"status": "ok", "steps": res.global_step, "wall_s": time.perf_counter() - t0,
               "final_eval_return": res.last_eval, "best_eval_return": res.best_eval, "score": score,
               "score_metric": metric, "stopped": res.stopped, "hostname": host, "error": ""}
    except BaseException as e:
        err = {"status": "error", "wall_s": time.perf_counter() - t0, "hostname": host,
               "error": f"{type(e).__name__}: {e}".splitlines()[0][:500], "traceback": traceback.format_exc()}
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json({**job["record"], **err}, run_dir / "trial.json")
        raise
    write_json({**job["record"], **out}, run_dir / "trial.json")
    return out


def _tune_trainable(config: dict, jobs: dict | None = None) -> None:
    """The Ray Tune function trainable: one grid point = one trial key."""
    # deferred: ray is the sweep extra's dependency, imported only when a sweep runs
    from ray import tune

    assert jobs is not None
    out = run_trial(jobs[config["trial"]])
    tune.report({k: v for k, v in out.items() if isinstance(v, (int, float, str))})


# --- the sweep ------------------------------------------------------------------------------------------


def load_trial(run_dir: Path) -> dict | None:
    try:
        return json.loads((run_dir / "trial.json").read_text())
    except (OSError, ValueError):
        return None


def plan(sweep: Sweep, sweep_dir: Path, command_prefix: str = "brainset train") -> list[dict]:
    """One job per trial (resolved configs, run folders, the equivalent ``brainset train`` command)."""
    sweep_dir = sweep_dir.resolve()
    trials_dir = sweep_dir / "trials"
    jobs = []
    for t in sweep.trials():
        cfg = sweep.config(t, trials_dir)
        t.key = trial_key(t, cfg)
        run_dir = trials_dir / t.key
        overrides = [*t.overrides, {"run": {"runs_dir": str(trials_dir)}}]
        args = [*(["--config", sweep.base_config] if sweep.base_config else []),
                *(f"{k}={inline_yaml(v)}" for k, v in t.values.items()), *sweep.overrides,
                *(f"run.{k}={inline_yaml(v)}" for o in overrides[-2:] for k, v in o["run"].items())]
        record = {"trial": t.key, "values": t.values, "seed": t.seed, "env": cfg.env.id,
                  "run_dir": str(run_dir.relative_to(sweep_dir))}
        jobs.append({"key": t.key, "run_dir": str(run_dir), "env_id": t.env_id, "base_config": sweep.base_config,
                     "overrides": overrides, "command": f"{command_prefix} {shlex.join(args)}",
                     "score": sweep.score, "record": record})
    return jobs


def run_sweep(sweep: Sweep, sweep_dir: Path, address: str | None = None,
              log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run the trials of ``sweep`` that have no finished ``trial.json`` under ``sweep_dir`` on Ray Tune
    (a local Ray started here, or the cluster at ``address`` / ``RAY_ADDRESS``), then write the results.
    Returns the summary (counts, wall time, paths)."""
    sweep_dir = Path(sweep_dir).resolve()
    (sweep_dir / "trials").mkdir(parents=True, exist_ok=True)
    sweep.save(sweep_dir / "sweep.yaml")
    jobs = plan(sweep, sweep_dir)
    done = {j["key"] for j in jobs if (load_trial(Path(j["run_dir"])) or {}).get("status") == "ok"}
    pending = [j for j in jobs if j["key"] not in done]
    log(f"sweep {sweep.name}: {len(jobs)} trials, {len(done)} finished before, {len(pending)} to run "
        f"-> {sweep_dir}")
    t0 = time.perf_counter()
    if pending:
        _run_on_ray(sweep, sweep_dir, pending, address, log)
    wall = time.perf_counter() - t0
    rows = write_results(sweep_dir, sweep, jobs)
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "error", "not run")}
    log(f"{len(pending)} trials run in {wall:.1f} s: {counts['ok']} ok, {counts['error']} failed, "
        f"{counts['not run']} not run; results: {sweep_dir / 'results.csv'}, {sweep_dir / 'report.md'}")
    return {"ran": len(pending), "skipped": len(done), "wall_s": wall, **counts, "rows": rows}


def _run_on_ray(sweep: Sweep, sweep_dir: Path, pending: list[dict], address: str | None,
                log: Callable[[str], None]) -> None:
    # deferred: ray (the sweep extra) loads only when a sweep runs, so `import agents` stays light
    import ray
    from ray import tune  # deferred: with ray above

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    try:
        resources = {"cpu": sweep.cpus_per_trial, "gpu": sweep.gpus_per_trial}
        trainable = tune.with_resources(tune.with_parameters(_tune_trainable, jobs={j["key"]: j for j in pending}),
                                        resources)
        attempt = 1 + sum(1 for _ in (sweep_dir / "tune").glob("attempt-*")) if (sweep_dir / "tune").is_dir() else 1
        tuner = tune.Tuner(
            trainable, param_space={"trial": tune.grid_search([j["key"] for j in pending])},
            tune_config=tune.TuneConfig(reuse_actors=False),
            run_config=tune.RunConfig(name=f"attempt-{attempt}", storage_path=str(sweep_dir / "tune"), verbose=0,
                                      failure_config=tune.FailureConfig(max_failures=sweep.max_failures)))
        grid = tuner.fit()
        for i in range(len(grid)):  # a trial that died without writing trial.json (e.g. its worker was killed)
            result = grid[i]
            key = (result.config or {}).get("trial")
            job = next((j for j in pending if j["key"] == key), None)
            if job is None or result.error is None or load_trial(Path(job["run_dir"])) is not None:
                continue
            cause = getattr(result.error, "cause", None) or result.error
            Path(job["run_dir"]).mkdir(parents=True, exist_ok=True)
            write_json({**job["record"], "status": "error", "hostname": "",
                        "error": f"{type(cause).__name__}: {cause}".splitlines()[0][:500]},
                       Path(job["run_dir"]) / "trial.json")
    finally:
        if started:
            ray.shutdown()


# --- results --------------------------------------------------------------------------------------------


def write_results(sweep_dir: Path, sweep: Sweep, jobs: list[dict]) -> list[dict]:
    """``results.csv`` (one row per trial, atomically), ``report.md`` and ``learning_curves.png``."""
    rows = []
    for j in jobs:
        rec = load_trial(Path(j["run_dir"])) or {**j["record"], "status": "not run"}
        row: dict[str, Any] = {"trial": j["key"]}
        row.update({f: rec["values"].get(f) for f in sweep.fields})
        row.setdefault("env.id", rec.get("env"))
        row["seed"] = rec["seed"]
        row.update({c: rec.get(c, "") for c in RESULT_COLUMNS})
        row["run_dir"] = j["record"]["run_dir"]
        rows.append(row)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (inline_yaml(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()})
    atomic_write_bytes(sweep_dir / "results.csv", buf.getvalue().encode())
    curves = {r["trial"]: _eval_curve(sweep_dir / r["run_dir"]) for r in rows if r["status"] == "ok"}
    varied = [f for f in sweep.fields if f != "env.id"]
    atomic_write_bytes(sweep_dir / "report.md", report_markdown(sweep, rows, varied).encode())
    atomic_write_bytes(sweep_dir / "learning_curves.png", curves_png(rows, varied, curves))
    return rows


def _eval_curve(run_dir: Path) -> list[tuple[int, float]]:
    out = []
    try:
        for line in (run_dir / "metrics.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r.get("eval/return") is not None and math.isfinite(r["eval/return"]):
                out.append((int(r["step"]), float(r["eval/return"])))
    except (OSError, ValueError):
        pass
    return out


def t_interval(values: list[float]) -> tuple[float, float, int]:
    """(mean, half width of the 95% t interval, n) of the finite ``values``; half width NaN when n < 2."""
    x = np.asarray([v for v in values if isinstance(v, (int, float)) and math.isfinite(v)], dtype=float)
    if len(x) == 0:
        return math.nan, math.nan, 0
    if len(x) < 2:
        return float(x.mean()), math.nan, 1
    # deferred: scipy.stats takes ~0.7 s to import, for the report only
    from scipy.stats import t as student_t

    return float(x.mean()), float(student_t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))), len(x)


def _fmt(m: float, h: float) -> str:
    if not math.isfinite(m):
        return "-"
    return f"{m:.4g}" if not math.isfinite(h) else f"{m:.4g} [{m - h:.4g}, {m + h:.4g}]"


def _groups(rows: list[dict], varied: list[str]) -> dict[str, dict[tuple, list[dict]]]:
    out: dict[str, dict[tuple, list[dict]]] = {}
    for r in rows:
        combo = tuple(inline_yaml(r[f]) for f in varied)
        out.setdefault(str(r["env.id"]), {}).setdefault(combo, []).append(r)
    return out


def report_markdown(sweep: Sweep, rows: list[dict], varied: list[str]) -> str:
    n_ok = sum(r["status"] == "ok" for r in rows)
    lines = [f"# Sweep {sweep.name}", "",
             f"{len(rows)} trials ({n_ok} ok, {sum(r['status'] == 'error' for r in rows)} failed, "
             f"{sum(r['status'] == 'not run' for r in rows)} not run); seeds {sweep.seeds}; fixed overrides: "
             f"{' '.join(sweep.overrides) or 'none'}. Cells: mean over seeds [95% t interval]; final and best "
             f"evaluation return; score = the env's learning-check scorer on fresh episodes (ground truth), where "
             f"one exists.", ""]
    for env, combos in _groups(rows, varied).items():
        metric = next((r["score_metric"] for c in combos.values() for r in c if r.get("score_metric")), "")
        lines += [f"## {env}", "",
                  "| " + " | ".join([*varied, "seeds ok", "final eval return", "best eval return",
                                     f"score ({metric or 'none'})"]) + " |",
                  "|" + "---|" * (len(varied) + 4)]
        for combo, rs in combos.items():
            ok = [r for r in rs if r["status"] == "ok"]
            cells = [_fmt(*t_interval([r[k] for r in ok])[:2]) for k in ("final_eval_return", "best_eval_return",
                                                                          "score")]
            lines.append("| " + " | ".join([*combo, f"{len(ok)}/{len(rs)}", *cells]) + " |")
        lines.append("")
    failed = [r for r in rows if r["status"] != "ok"]
    if failed:
        lines += ["## Trials that did not finish", ""]
        lines += [f"- `{r['trial']}`: {r['status']}{': ' + str(r['error']) if r.get('error') else ''}" for r in failed]
        lines.append("")
    lines += ["![learning curves](learning_curves.png)", ""]
    return "\n".join(lines)


def curves_png(rows: list[dict], varied: list[str], curves: dict[str, list[tuple[int, float]]]) -> bytes:
    """One panel per env: each combination's mean evaluation return over seeds, with its 95% t band."""
    # deferred: matplotlib is slow to import; only the report draws
    import matplotlib

    matplotlib.use("Agg")
    # deferred: after choosing the Agg backend
    import matplotlib.pyplot as plt

    groups = _groups(rows, varied)
    fig, axes = plt.subplots(1, max(1, len(groups)), figsize=(5.5 * max(1, len(groups)), 4), squeeze=False)
    for ax, (env, combos) in zip(axes[0], groups.items(), strict=False):
        for combo, rs in combos.items():
            per_seed = [dict(curves[r["trial"]]) for r in rs if curves.get(r["trial"])]
            if not per_seed:
                continue
            steps = sorted(set.intersection(*(set(c) for c in per_seed)))
            stats = [t_interval([c[s] for c in per_seed]) for s in steps]
            m = np.array([s[0] for s in stats])
            h = np.nan_to_num(np.array([s[1] for s in stats]))
            label = ", ".join(combo) or "all"
            ax.plot(steps, m, marker="o", ms=3, label=f"{label} (n={len(per_seed)})")
            ax.fill_between(steps, m - h, m + h, alpha=0.2)
        ax.set_title(env.split("/")[-1], fontsize=10)
        ax.set_xlabel("env steps")
        ax.set_ylabel("evaluation return")
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()
