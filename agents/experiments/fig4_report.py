"""Fig. 4 over seeds: run the protocol of :mod:`agents.experiments.fig4` for several seeds, summarise the per-stage
changes with their spread, draw the figure and write the JSON (atomically).

``scripts/fig4.py`` is the command-line front end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from agents.config import MAX_SEED, device_problem, objective_names, objective_spec_problem, rule_names
from agents.experiments.fig4 import Fig4Protocol, parse_protocol_set, run_seed
from agents.objectives import get_objective
from agents.rules import get_rule
from agents.trainer import resolve_device
from brainset_envs.analysis.psychophysics import weibull_2afc
from brainset_envs.core.files import save_result_and_figure

METRICS = ("slope_ratio", "abs_slope_ratio", "amplitude_ratio", "fisher_ratio")
DEFINITIONS = {
    "threshold": "75%-correct offset (deg) of a 2AFC Weibull (with lapse) fitted to greedy reports at "
                 "threshold_offsets, threshold_trials trials each, stimuli from the env's core; null when "
                 "the fit's 75% point lies beyond the largest offset tested",
    "slope_ratio": "after/before ratio of the median normalised slope |f'(theta0)| / max f at the trained "
                   "orientation, over each stage's responsive centre units (one per channel)",
    "abs_slope_ratio": "after/before ratio of the median |f'(theta0)| (not normalised by the peak: tells a "
                       "steeper curve from a raised baseline)",
    "amplitude_ratio": "after/before ratio of the median tuning amplitude (max f - min f)",
    "fisher_ratio": "after/before ratio of the linear Fisher information f'^T Sigma^-1 f' of the stage's "
                    "responsive centre units at the trained orientation (bias-corrected, ridge 1e-3)",
    "weight_change": "||W - W0|| / ||W0|| of the stage's weights, W0 = the weights before perceptual learning",
    "slope_ratio_by_preference": "slope ratio binned by |preferred orientation before learning - trained "
                                 "orientation| (Schoups et al. 2001)",
}


def run_fig4(p: Fig4Protocol, seeds: Sequence[int], rule: str = "backprop", objective: str = "reward",
             out_dir: str | Path = "runs/fig4", cache_dir: str | Path | None = "runs/fig4_pretrained",
             device: str = "cpu", num_threads: int = 1, rule_kwargs: dict | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every seed through :func:`agents.experiments.fig4.run_seed`, then :func:`summarise`; a JSON-ready dict.
    An unknown rule or objective fails here, before any training."""

    get_objective(objective)
    get_rule(rule, **(rule_kwargs or {}))
    t0 = time.perf_counter()
    per_seed = []
    for seed in seeds:
        per_seed.append(run_seed(p, seed, rule, objective, out_dir, cache_dir, device, num_threads,
                                 rule_kwargs, progress))
    return {"experiment": "Richards et al. 2019 Fig. 4: perceptual learning in a hierarchy",
            "created": time.strftime("%Y-%m-%d %H:%M:%S"), "rule": rule, "objective": objective,
            "rule_kwargs": rule_kwargs or {}, "protocol": p.to_dict(), "definitions": DEFINITIONS,
            "summary": summarise(per_seed, list(p.stages)), "seeds": per_seed,
            "seconds": round(time.perf_counter() - t0, 1)}


def _stats(values: Sequence[float]) -> dict[str, Any]:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], float)
    if not len(v):
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0, "values": list(values)}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "min": float(v.min()), "max": float(v.max()), "n": int(len(v)), "values": list(values)}


def summarise(per_seed: list[dict[str, Any]], hierarchy: list[str]) -> dict[str, Any]:
    """Per-stage mean/std/min/max over seeds of every metric, the threshold change, and the ordering
    tests along ``hierarchy`` (the conv stages, bottom to top)."""
    stages = list(per_seed[0]["tuning_change"])
    out: dict[str, Any] = {"n_seeds": len(per_seed), "hierarchy": hierarchy, "stages": {}}
    for s in stages:
        d = {m: _stats([r["tuning_change"][s].get(m, float("nan")) for r in per_seed]) for m in METRICS}
        d["weight_change"] = _stats([r["weight_change"].get(s, float("nan")) for r in per_seed])
        bins = per_seed[0]["tuning_change"][s]["slope_ratio_by_preference"]["bins_deg"]
        binned = np.array([r["tuning_change"][s]["slope_ratio_by_preference"]["ratio"] for r in per_seed], float)
        with np.errstate(all="ignore"):
            d["slope_ratio_by_preference"] = {
                "bins_deg": bins,
                "mean": [None if not np.isfinite(x) else float(x) for x in _nanmean(binned)]}
        out["stages"][s] = d
    before = [r["before"]["threshold"] for r in per_seed]
    after = [r["after"]["threshold"] for r in per_seed]
    out["threshold_before"], out["threshold_after"] = _stats(before), _stats(after)
    out["threshold_drop"] = _stats([1 - a / b if a is not None and b is not None else None
                                    for a, b in zip(after, before, strict=True)])
    out["threshold_not_reached"] = {"before": sum(b is None for b in before),
                                    "after": sum(a is None for a in after)}

    def order(r: dict, metric: str) -> list[float]:
        src = r["weight_change"] if metric == "weight_change" else {k: v[metric] for k, v in r["tuning_change"].items()}
        return [src[s] for s in hierarchy]

    slopes = [order(r, "slope_ratio") for r in per_seed]
    weights = [order(r, "weight_change") for r in per_seed]
    out["ordering"] = {
        "slope_ratio_increasing": sum(all(b > a for a, b in zip(v[:-1], v[1:], strict=True)) for v in slopes),
        "slope_ratio_top_gt_bottom": sum(v[-1] > v[0] for v in slopes),
        "slope_ratio_argmax": [_argmax(hierarchy, v) for v in slopes],
        "weight_change_argmax": [_argmax(hierarchy, v) for v in weights],
        "weight_change_increasing": sum(all(b > a for a, b in zip(v[:-1], v[1:], strict=True)) for v in weights),
        "n_seeds": len(per_seed),
    }
    return out


def _argmax(names: list[str], values: list[float]) -> str:
    v = np.asarray(values, float)
    return names[int(np.nanargmax(v))] if np.isfinite(v).any() else "n/a"


def _nanmean(a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a)
    n = ok.sum(0)
    return np.where(n > 0, np.where(ok, a, 0).sum(0) / np.maximum(n, 1), np.nan)


def _fmt(st: dict[str, Any], spec: str = ".2f") -> str:
    """mean +/- sd [min, max], with (n=k) when only k of the seeds have a value."""
    if st["mean"] is None:
        return "n/a"
    n = "" if st["n"] == len(st["values"]) else f" (n={st['n']})"
    if st["n"] == 1:
        return format(st["mean"], spec) + n
    return f"{st['mean']:{spec}} +/- {st['std']:{spec}} [{st['min']:{spec}}, {st['max']:{spec}}]{n}"


def summary_table(result: dict[str, Any]) -> str:
    """Plain-text table: per stage, mean +/- sd [min, max] over seeds of every metric."""
    s = result["summary"]
    lines = [f"Fig. 4 ({result['rule']}, objective {result['objective']}, {s['n_seeds']} seed(s)): "
             f"threshold {_fmt(s['threshold_before'], '.3f')} -> {_fmt(s['threshold_after'], '.3f')} deg, "
             f"drop {_fmt(s['threshold_drop'], '.1%')}"
             + ("" if not any(s["threshold_not_reached"].values()) else
                f"; 75% not reached within the offsets tested: {s['threshold_not_reached']['before']} seed(s) "
                f"before, {s['threshold_not_reached']['after']} after"),
             "after/before ratios per stage, mean +/- sd [min, max] over seeds",
             f"{'stage':6s} " + " ".join(f"{h:>30s}" for h in ("normalised slope", "slope (not normalised)",
                                                              "amplitude", "Fisher information",
                                                              "rel. weight change"))]
    for stage, d in s["stages"].items():
        lines.append(f"{stage:6s} " + " ".join(f"{_fmt(d[m]):>30s}" for m in (*METRICS, "weight_change")))
    o = s["ordering"]
    h = " < ".join(s["hierarchy"])
    lines.append(f"slope ratio {h} in {o['slope_ratio_increasing']}/{o['n_seeds']} seeds; top > bottom in "
                 f"{o['slope_ratio_top_gt_bottom']}/{o['n_seeds']}; largest slope ratio in "
                 f"{', '.join(o['slope_ratio_argmax'])}; largest weight change in "
                 f"{', '.join(o['weight_change_argmax'])}")
    return "\n".join(lines)


# --- the figure --------------------------------------------------------------------------------------


def plot_fig4(result: dict[str, Any]):
    """Six panels: psychometric curves before/after; per-stage slope, amplitude and Fisher ratios and
    relative weight change (mean +/- sd, one dot per seed); Schoups-style slope ratio by preference."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg")
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    seeds, summ = result["seeds"], result["summary"]
    stages = list(summ["stages"])
    fig, axes = plt.subplots(2, 3, figsize=(13, 7.2), dpi=100)
    ax = axes[0, 0]
    for key, colour in (("before", "tab:grey"), ("after", "tab:red")):
        offs = np.asarray(seeds[0][key]["offsets"])
        xs = np.geomspace(offs.min(), offs.max(), 200)
        for r in seeds:
            ax.plot(offs, r[key]["accuracy"], "o", color=colour, ms=3, alpha=0.5)
            f = r[key]["fit"]
            ax.plot(xs, weibull_2afc(xs, f["alpha"], f["beta"], f["lapse"]), color=colour, alpha=0.6, lw=1)
        st, missing = summ[f"threshold_{key}"], summ["threshold_not_reached"][key]
        note = f" ({missing} not reached)" if missing else ""
        if st["mean"] is not None:
            ax.axvline(st["mean"], color=colour, ls="--", lw=1, label=f"{key}: {st['mean']:.2f}"
                       + (f" +/- {st['std']:.2f}" if st["n"] > 1 else "") + " deg" + note)
        else:
            ax.plot([], [], color=colour, label=f"{key}: not reached")
    ax.axhline(0.75, color="k", lw=0.5)
    ax.set_xscale("log")
    ticks = [t for t in (0.25, 0.5, 1, 2, 4, 8, 16) if offs.min() <= t <= offs.max()]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("offset from the trained orientation (deg)")
    ax.set_ylabel("proportion correct")
    ax.set_title("behaviour: 75% threshold", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    panels = (("slope_ratio", "normalised slope at trained ori.", True),
              ("amplitude_ratio", "tuning amplitude", True),
              ("fisher_ratio", "linear Fisher information at trained ori.", True),
              ("weight_change", "relative weight change ||W-W0||/||W0||", False))
    for axi, (metric, title, ratio) in zip([axes[0, 1], axes[0, 2], axes[1, 0], axes[1, 1]], panels, strict=True):
        x = np.arange(len(stages))
        for j, s in enumerate(stages):
            st = summ["stages"][s][metric]
            vals = [v for v in st["values"] if v is not None and math.isfinite(v)]
            axi.plot(np.full(len(vals), j) + np.linspace(-0.12, 0.12, len(vals)), vals, "o", color="tab:blue",
                     ms=3.5, alpha=0.6)
            if st["mean"] is not None:
                axi.errorbar([j], [st["mean"]], yerr=[st["std"]], fmt="s", color="k", ms=6, capsize=4)
        axi.set_xticks(x, stages)
        if ratio:
            axi.axhline(1.0, color="k", lw=0.6, ls=":")
            axi.set_ylabel("after / before")
        axi.set_title(title, fontsize=10)
    ax = axes[1, 2]
    cmap = plt.get_cmap("viridis")
    for j, s in enumerate(stages):
        b = summ["stages"][s]["slope_ratio_by_preference"]
        edges = np.asarray(b["bins_deg"], float)
        mids = (edges[:-1] + edges[1:]) / 2
        y = np.array([np.nan if v is None else v for v in b["mean"]], float)
        ax.plot(mids, y, "o-", color=cmap(j / max(len(stages) - 1, 1)), label=s, ms=4)
    ax.axhline(1.0, color="k", lw=0.6, ls=":")
    ax.set_xlabel("|preferred - trained orientation| before learning (deg)")
    ax.set_ylabel("slope ratio after / before")
    ax.set_title("Schoups plot (mean over seeds)", fontsize=10)
    ax.legend(fontsize=8)
    n = summ["n_seeds"]
    fig.suptitle(f"Perceptual learning in a conv hierarchy: rule {result['rule']}, objective "
                 f"{result['objective']}, {n} seed{'s' if n > 1 else ''} (dots: seeds; squares: mean +/- sd)",
                 fontsize=11)
    fig.tight_layout()
    return fig


def save_fig4(result: dict[str, Any], out_dir: str | Path, assets_png: str | Path | None = None) -> list[Path]:
    """Write ``fig4.json`` and ``fig4.png`` into ``out_dir`` (and the PNG to ``assets_png``), atomically."""
    return save_result_and_figure(result, plot_fig4(result), out_dir, "fig4", assets_png)


def run_dir_name(rule: str, objective: str, quick: bool) -> str:
    """``fig4__<rule>__<objective>[__quick]__<time>`` (file-system safe)."""
    obj = objective.replace("*", "x").replace("+", "_plus_")
    return f"fig4__{rule}__{obj}{'__quick' if quick else ''}__{time.strftime('%Y%m%d-%H%M%S')}"


def check_fig4_args(a) -> tuple[Fig4Protocol, list[int], dict]:
    """(protocol, seeds, rule options) for ``scripts/fig4.py``'s parsed arguments; a ValueError naming the
    option, the value and what is allowed for anything that would fail later (nothing is written here)."""

    if a.rule not in rule_names():
        raise ValueError(f"argument --rule: {a.rule!r} is not a registered rule; allowed: {', '.join(rule_names())}")
    if (why := objective_spec_problem(a.objective)) is not None:
        raise ValueError(f"argument --objective: {a.objective!r} is not allowed ({why}); allowed: a weighted sum "
                         f"of registered objectives such as 'reward+0.1*predictive'; objectives: "
                         f"{', '.join(objective_names())}")
    try:
        rule_kwargs = yaml.safe_load(a.rule_kwargs)
    except yaml.YAMLError:
        rule_kwargs = a.rule_kwargs
    rule_kwargs = {} if rule_kwargs is None else rule_kwargs
    if not isinstance(rule_kwargs, dict):
        raise ValueError(f"argument --rule-kwargs: {a.rule_kwargs!r} is not a YAML mapping; give e.g. '{{seed: 1}}'")
    try:
        get_rule(a.rule, **rule_kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(f"argument --rule-kwargs: {a.rule} rejects {a.rule_kwargs}: {e}") from None
    n_seeds = a.seeds if a.seeds is not None else (1 if a.quick else 3)
    if n_seeds < 1:
        raise ValueError(f"argument --seeds: {n_seeds} is not allowed; give an integer >= 1")
    if not 0 <= a.first_seed <= MAX_SEED - n_seeds:
        raise ValueError(f"argument --first-seed: {a.first_seed} is not allowed; give an integer >= 0")
    if a.num_threads < 1:
        raise ValueError(f"argument --num-threads: {a.num_threads} is not allowed; give an integer >= 1")
    if a.train_steps is not None and a.train_steps < 1:
        raise ValueError(f"argument --train-steps: {a.train_steps} is not allowed; give an integer >= 1")
    if device_problem(a.device):
        raise ValueError(f"argument --device: {a.device!r} is not a device; allowed: auto, cpu, cuda, cuda:N, mps")
    try:
        resolve_device(a.device)
    except ValueError as e:
        raise ValueError(f"argument --device: {e}") from None
    if a.assets is not None and Path(a.assets).suffix != ".png":
        raise ValueError(f"argument --assets: {a.assets!r} must end in .png")
    changes: dict = {}
    for item in a.set:
        try:
            key, value = parse_protocol_set(item)
        except ValueError as e:
            raise ValueError(f"argument --set: {e}") from None
        changes[key] = value
    if a.train_steps is not None:
        changes["train_steps"] = a.train_steps
    try:
        proto = Fig4Protocol.quick(**changes) if a.quick else Fig4Protocol(**changes)
    except ValueError as e:
        raise ValueError(f"argument --set: {e}") from None
    return proto, list(range(a.first_seed, a.first_seed + n_seeds)), rule_kwargs
