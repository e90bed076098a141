"""Fig. 4 over many seeds and several learning rules on Ray Tune: the distribution of the per-stage changes per
rule, how often the graded order V1 < V2 < V4 < IT appears (with a Wilson 95% interval), and permutation
tests between rules.

``brainset fig4 --rules backprop,feedback_alignment --seeds 20`` (the ``--rules`` form of ``scripts/fig4.py``).
Each (rule, seed) is one Ray Tune trial running :func:`agents.experiments.fig4.run_seed`, the same protocol
as a single-rule run; its result is written atomically to ``<out>/seeds/<rule>__<seed>.json`` when it ends,
so running the same command again runs only the missing pairs. ``--address`` sends the trials to a Ray
cluster (the folder must then be on a shared file system). The pre-trained development weights are cached
per seed and shared by the rules, as in a single run.

The graded order is the paper's: the after/before slope ratio at the trained orientation strictly increasing
up the hierarchy. The permutation tests pool two rules' seeds and reshuffle the rule labels (10,000 draws from
a fixed generator, two-sided, on the difference of means; for the graded order, of the frequencies).
"""

from __future__ import annotations

import io
import itertools
import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from agents.experiments.fig4 import Fig4Protocol, run_seed
from agents.experiments.fig4_report import DEFINITIONS, summarise
from agents.experiments.sweep import t_interval
from brainset_envs.core.files import atomic_write_bytes, write_json

N_PERMUTATIONS = 10_000


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k / n (95% by default); (0, 1) when n = 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def permutation_p(a: Sequence[float], b: Sequence[float], n_perm: int = N_PERMUTATIONS, seed: int = 0) -> float:
    """Two-sided permutation p-value of mean(a) - mean(b) (finite values only), with the +1 correction."""
    x = np.asarray([v for v in a if v is not None and math.isfinite(v)], float)
    y = np.asarray([v for v in b if v is not None and math.isfinite(v)], float)
    if len(x) == 0 or len(y) == 0:
        return math.nan
    pooled, observed = np.concatenate([x, y]), abs(x.mean() - y.mean())
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(n_perm):
        perm = rng.permutation(pooled)
        hits += abs(perm[: len(x)].mean() - perm[len(x):].mean()) >= observed - 1e-12
    return (hits + 1) / (n_perm + 1)


def graded(result: dict[str, Any], hierarchy: Sequence[str], metric: str = "slope_ratio") -> bool:
    """Whether one seed's ``metric`` strictly increases up ``hierarchy`` (V1 < V2 < V4 < IT)."""
    values = [result["tuning_change"][s][metric] for s in hierarchy]
    return all(b > a for a, b in zip(values[:-1], values[1:], strict=True))


def _protocol(d: dict[str, Any]) -> Fig4Protocol:
    return Fig4Protocol(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def seed_path(out: Path, rule: str, seed: int) -> Path:
    return out / "seeds" / f"{rule}__{seed}.json"


def _job(job: dict[str, Any]) -> dict[str, Any]:
    """One (rule, seed): the whole protocol, its result written atomically beside the others."""
    p = _protocol(job["protocol"])
    r = run_seed(p, job["seed"], job["rule"], job["objective"], Path(job["out"]) / job["rule"], job["cache"],
                 num_threads=1)
    write_json(r, seed_path(Path(job["out"]), job["rule"], job["seed"]))
    return r


def _trainable(config: dict, jobs: dict | None = None) -> None:
    from ray import tune  # deferred: ray is the sweep extra's dependency

    assert jobs is not None
    r = _job(jobs[config["key"]])
    tune.report({"env_steps": r["train"]["env_steps"], "seconds": r["train"]["seconds"]})


def run_on_ray(jobs: list[dict[str, Any]], out: Path, address: str | None, cpus_per_trial: float = 1.0) -> None:
    """Every job as a Ray Tune trial (a grid over their keys), local or at ``address``."""
    import ray  # deferred: ray (the sweep extra) loads only when trials run
    from ray import tune  # deferred: with ray above

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, configure_logging=False)
    try:
        trainable = tune.with_resources(tune.with_parameters(_trainable, jobs={j["key"]: j for j in jobs}),
                                        {"cpu": cpus_per_trial})
        attempt = 1 + len(list((out / "tune").glob("attempt-*"))) if (out / "tune").is_dir() else 1
        tune.Tuner(trainable, param_space={"key": tune.grid_search([j["key"] for j in jobs])},
                   tune_config=tune.TuneConfig(reuse_actors=False),
                   run_config=tune.RunConfig(name=f"attempt-{attempt}", storage_path=str(out / "tune"), verbose=0,
                                             failure_config=tune.FailureConfig(max_failures=1))).fit()
    finally:
        if started:
            ray.shutdown()


def compare_rules(per_rule: dict[str, list[dict[str, Any]]], hierarchy: Sequence[str],
                  n_perm: int = N_PERMUTATIONS) -> dict[str, Any]:
    """Per rule: the usual Fig. 4 summary, the graded order's frequency and Wilson interval, and per stage the
    slope ratio's and weight change's mean with a 95% t interval; per pair of rules: permutation p-values."""
    rules: dict[str, Any] = {}
    for rule, runs in per_rule.items():
        k = sum(graded(r, hierarchy) for r in runs)
        lo, hi = wilson(k, len(runs))
        stages = {}
        for s in hierarchy:
            sr = t_interval([r["tuning_change"][s]["slope_ratio"] for r in runs])
            wc = t_interval([r["weight_change"].get(s, math.nan) for r in runs])
            stages[s] = {"slope_ratio": {"mean": sr[0], "ci95": sr[1], "n": sr[2],
                                         "values": [r["tuning_change"][s]["slope_ratio"] for r in runs]},
                         "weight_change": {"mean": wc[0], "ci95": wc[1], "n": wc[2],
                                           "values": [r["weight_change"].get(s) for r in runs]}}
        rules[rule] = {"seeds": [r["seed"] for r in runs], "graded": k, "n": len(runs), "graded_wilson95": [lo, hi],
                       "stages": stages, "summary": summarise(runs, list(hierarchy))}
    pairs = {}
    for a, b in itertools.combinations(per_rule, 2):
        ga = [float(graded(r, hierarchy)) for r in per_rule[a]]
        gb = [float(graded(r, hierarchy)) for r in per_rule[b]]
        pairs[f"{a} vs {b}"] = {
            "graded_order": permutation_p(ga, gb, n_perm),
            **{f"{m} {s}": permutation_p(rules[a]["stages"][s][m]["values"], rules[b]["stages"][s][m]["values"],
                                         n_perm) for m in ("slope_ratio", "weight_change") for s in hierarchy}}
    return {"rules": rules, "permutation_p": pairs}


def run_fig4_sweep(p: Fig4Protocol, rules: Sequence[str], seeds: Sequence[int], objective: str, out: str | Path,
                   cache_dir: str | Path | None, address: str | None = None, cpus_per_trial: float = 1.0,
                   n_perm: int = N_PERMUTATIONS, log: Callable[[str], None] = print,
                   runner: Callable[..., None] = run_on_ray) -> dict[str, Any]:
    """Run the missing (rule, seed) pairs, then compare the rules; a protocol different from the folder's is
    refused. ``runner(jobs, out, address, cpus_per_trial)`` runs the jobs (Ray Tune by default)."""
    out = Path(out).resolve()
    saved = out / "protocol.json"
    spec = {"protocol": p.to_dict(), "objective": objective}
    if saved.exists() and json.loads(saved.read_text()) != spec:
        raise ValueError(f"{out} holds a Fig. 4 sweep of another protocol or objective ({saved}); use another "
                         "--runs-dir or remove it")
    write_json(spec, saved)
    cache = str(Path(cache_dir).resolve()) if cache_dir is not None else None
    jobs = [{"key": f"{rule}__{seed}", "rule": rule, "seed": seed, "objective": objective, "protocol": p.to_dict(),
             "out": str(out), "cache": cache} for seed in seeds for rule in rules]  # seed-major: stop any time
    pending = [j for j in jobs if not seed_path(out, j["rule"], j["seed"]).exists()]
    log(f"Fig. 4 sweep: {len(jobs)} (rule, seed) pairs, {len(jobs) - len(pending)} done before, {len(pending)} to "
        f"run -> {out}")
    t0 = time.perf_counter()
    if pending:
        runner(pending, out, address, cpus_per_trial)
    wall = time.perf_counter() - t0
    missing = [j["key"] for j in jobs if not seed_path(out, j["rule"], j["seed"]).exists()]
    if missing:
        raise RuntimeError(f"{len(missing)} (rule, seed) pairs did not finish: {missing[:5]}; see {out / 'tune'} "
                           "and run the same command again to retry them")
    per_rule = {rule: [json.loads(seed_path(out, rule, s).read_text()) for s in seeds] for rule in rules}
    hierarchy = list(p.stages)
    return {"experiment": "Richards et al. 2019 Fig. 4 over seeds and rules", "objective": objective,
            "protocol": p.to_dict(), "seeds": list(seeds), "hierarchy": hierarchy, "definitions": DEFINITIONS,
            "wall_s": round(wall, 1), "n_permutations": n_perm, **compare_rules(per_rule, hierarchy, n_perm)}


def report_markdown(result: dict[str, Any]) -> str:
    """Per rule the graded order's frequency and the per-stage means; then the permutation p-values."""
    h = result["hierarchy"]
    out = [f"Fig. 4 over {len(result['seeds'])} seeds per rule ({result['objective']}); graded order = slope ratio "
           f"{' < '.join(h)} in a seed; mean +- 95% t interval over seeds.", "",
           "| rule | graded order (Wilson 95%) | " + " | ".join(f"slope ratio {s}" for s in h) + " | "
           + " | ".join(f"weight change {s}" for s in h) + " |",
           "|---|---|" + "---|" * (2 * len(h))]
    for rule, r in result["rules"].items():
        lo, hi = r["graded_wilson95"]

        def cell(st: dict[str, Any]) -> str:
            return "-" if not math.isfinite(st["mean"]) else (
                f"{st['mean']:.3g}" + (f" +- {st['ci95']:.2g}" if math.isfinite(st["ci95"]) else ""))

        out.append(f"| `{rule}` | {r['graded']}/{r['n']} [{lo:.2f}, {hi:.2f}] | "
                   + " | ".join(cell(r["stages"][s]["slope_ratio"]) for s in h) + " | "
                   + " | ".join(cell(r["stages"][s]["weight_change"]) for s in h) + " |")
    if result["permutation_p"]:
        out += ["", f"Permutation tests between rules ({result['n_permutations']} label shuffles, two-sided):", ""]
        for pair, ps in result["permutation_p"].items():
            out.append(f"- {pair}: " + ", ".join(f"{k} p = {v:.3g}" for k, v in ps.items()))
    return "\n".join(out) + "\n"


def plot_sweep(result: dict[str, Any]):
    """Per rule: each seed's slope ratio per stage (dots, mean and CI), and the graded order's frequency."""
    # deferred: matplotlib is slow to import; only the figure needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after choosing the Agg backend

    h, rules = result["hierarchy"], list(result["rules"])
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [3, 1]})
    width = 0.8 / max(1, len(rules))
    for i, rule in enumerate(rules):
        r = result["rules"][rule]
        for j, s in enumerate(h):
            st = r["stages"][s]["slope_ratio"]
            x = j + (i - (len(rules) - 1) / 2) * width
            vals = [v for v in st["values"] if v is not None and math.isfinite(v)]
            ax.scatter(np.full(len(vals), x), vals, s=8, alpha=0.5, color=f"C{i}")
            ax.errorbar(x, st["mean"], yerr=st["ci95"] if math.isfinite(st["ci95"]) else None, fmt="o", color=f"C{i}",
                        capsize=3, label=rule if j == 0 else None)
        lo, hi = r["graded_wilson95"]
        frac = r["graded"] / r["n"]
        ax2.bar(i, frac, color=f"C{i}", yerr=[[frac - lo], [hi - frac]], capsize=4)
    ax.axhline(1.0, color="k", lw=0.6)
    ax.set_xticks(range(len(h)), h)
    ax.set_ylabel("slope ratio after / before at the trained orientation")
    ax.legend(fontsize=8)
    ax2.set_xticks(range(len(rules)), rules, rotation=20, fontsize=8)
    ax2.set_ylim(0, 1)
    ax2.set_ylabel(f"fraction of seeds with {' < '.join(h)}")
    fig.suptitle(f"Fig. 4 over {len(result['seeds'])} seeds per rule", fontsize=10)
    fig.tight_layout()
    return fig


def save_sweep(result: dict[str, Any], out: Path, assets_png: str | Path | None = None) -> list[Path]:
    """``fig4_sweep.json``, ``fig4_sweep.png`` and ``report.md`` in ``out`` (the PNG also to ``assets_png``, with
    the JSON beside it)."""
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only the figure needs it

    fig = plot_sweep(result)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    write_json(result, out / "fig4_sweep.json")
    atomic_write_bytes(out / "fig4_sweep.png", buf.getvalue())
    atomic_write_bytes(out / "report.md", report_markdown(result).encode())
    paths = [out / "fig4_sweep.json", out / "fig4_sweep.png", out / "report.md"]
    if assets_png is not None:
        atomic_write_bytes(Path(assets_png), buf.getvalue())
        write_json(result, Path(assets_png).with_suffix(".json"))
        paths += [Path(assets_png), Path(assets_png).with_suffix(".json")]
    return paths
