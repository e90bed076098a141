"""Fig. 2 over seeds, with a curve over each knob that sets a rule's bias (issue 18's measurement).

``run_fig2_study(seeds=..., knobs=...)`` runs :func:`agents.experiments.fig2.run_fig2` once per seed and
summarises every rule's bias, variance and accuracy over the seeds (mean and a 95% confidence interval of
the mean: Student's t on the seeds; the variance on a log scale, so its mean is geometric). For the rules
whose bias depends on a knob it sweeps the knob (:data:`KNOBS`): each knob value is one point, measured on
the same digits MLP and data at every seed, and the points make a curve in the same bias-vs-variance axes.

- Equilibrium propagation (``beta`` one-sided and symmetric, relaxation ``steps``), predictive coding
  (relaxation ``steps``) and dendritic error learning (``self_prediction_steps``, with its interneurons'
  rest prediction error ``apical_mismatch`` at each) are measured at the initial weights (the hollow
  markers' state): the estimator alone, without a training run per knob value.
- RDD's ``window`` and ``samples`` act through the feedback weights it learns, so each value is a
  training run (the rule's Fig. 2 epochs and learning rate), measured after it.

``plot_study`` draws the rules (left) and the curves (right); ``study_markdown`` is what the Fig. 2 page shows
(read from ``assets/fig2.json``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.experiments import fig2
from agents.rules import RULES, get_rule, registered_rules, rule_class
from brainset_envs.core.files import save_result_and_figure, write_json

STATES = ("init", "trained")


def _apical_mismatch(model: nn.Module, x: torch.Tensor) -> dict[str, float]:
    """The dendritic net's rest self-prediction error on the training inputs."""
    return {"apical_mismatch": float(model.apical_mismatch(model.input(x)))}  # type: ignore[operator]


@dataclass(frozen=True)
class Knob:
    """One curve: rule ``rule`` with its Fig. 2 options, ``fixed`` on top, and ``option`` set to each of
    ``values``; measured after training (``trained``) or at the initial weights."""

    rule: str
    option: str
    values: tuple[float, ...]
    label: str
    fixed: dict[str, Any] = field(default_factory=dict)
    trained: bool = False
    extra: Callable[[nn.Module, torch.Tensor], dict[str, float]] | None = None
    panel: int = 0  # which knob panel of the figure draws it (0: relaxation and nudging, 1: the others)


KNOBS: dict[str, Knob] = {
    "ep_beta": Knob("equilibrium_propagation", "beta", (0.4, 0.2, 0.1, 0.05, 0.025),
                    "EP, beta one-sided", {"symmetric": False}),
    "ep_beta_symmetric": Knob("equilibrium_propagation", "beta", (0.4, 0.2, 0.1, 0.05, 0.025),
                              "EP, beta symmetric (+/- beta)", {"symmetric": True}),
    "ep_steps": Knob("equilibrium_propagation", "steps", (10, 20, 50, 100, 200),
                     "EP, relaxation steps (symmetric)", {"symmetric": True}),
    "pc_steps": Knob("predictive_coding", "steps", (1, 2, 5, 10, 20, 50), "PC, relaxation steps"),
    "dendritic_self_prediction": Knob(
        "dendritic_error", "self_prediction_steps", (0, 100, 1000, 3000, 10000),
        "dendritic, self-prediction steps (aligned top-down, interneurons frozen)",
        {"top_down": "aligned", "interneuron_lr": 0.0}, extra=_apical_mismatch, panel=1),
    "rdd_window": Knob("rdd", "window", (0.05, 0.1, 0.2, 0.4, 0.8), "RDD, window (trained)", trained=True,
                       panel=1),
    "rdd_samples": Knob("rdd", "samples", (32, 64, 128, 256, 512), "RDD, samples per estimate (trained)",
                        trained=True, panel=1),
}

STAT_DEFINITIONS = {
    "mean": "mean over the seeds (variance: geometric mean, the mean of log10)",
    "ci95": "95% confidence interval of the mean over the seeds, Student's t with n - 1 degrees of freedom "
            "(variance: on log10, transformed back); null for one seed",
    "sd": "standard deviation over the seeds (ddof 1; variance: of log10); null for one seed",
    "values": "the per-seed values, in the order of 'seeds' (null: not resolved at that seed)",
}


def knob_options(key: str, value: float) -> dict[str, Any]:
    """The rule options of curve ``key`` at knob ``value``."""
    k = KNOBS[key]
    return {**fig2.rule_settings(k.rule)["options"], **k.fixed, k.option: value}


def parse_knobs(spec: str) -> dict[str, tuple[float, ...]]:
    """``'all'``, ``'none'`` or comma-separated curve names, each optionally with its own values
    (``ep_beta=0.2:0.1:0.05``); every value is checked by building the rule with it. ValueError names what
    is wrong."""
    spec = spec.strip()
    if spec == "all":
        return {k: v.values for k, v in KNOBS.items()}
    if spec in ("none", ""):
        return {}
    out: dict[str, tuple[float, ...]] = {}
    for part in (p.strip() for p in spec.split(",")):
        key, _, vals = part.partition("=")
        key = key.strip()
        if key not in KNOBS:
            raise ValueError(f"knobs: {key!r} is not a knob curve; allowed: 'all', 'none' or a comma-separated list of "
                             f"{', '.join(KNOBS)} (each optionally =v1:v2:..., e.g. ep_beta=0.2:0.1)")
        kind = type(KNOBS[key].values[0])
        if not vals:
            values = KNOBS[key].values
        else:
            try:
                values = tuple(kind(v) for v in vals.split(":"))
            except ValueError:
                raise ValueError(f"knobs: {part!r}: the values of {key} must be {kind.__name__}s separated by ':', "
                                 f"e.g. {key}={':'.join(map(str, KNOBS[key].values[:2]))}") from None
        if len(values) < 2 or len(set(values)) != len(values):
            raise ValueError(f"knobs: {part!r}: a curve needs at least 2 distinct values of {KNOBS[key].option}")
        for v in values:
            try:
                get_rule(KNOBS[key].rule, **knob_options(key, v))
            except ValueError as e:
                raise ValueError(f"knobs: {key} value {v!r} is not allowed: {e}") from None
        out[key] = values
    return out


def parse_seeds(spec: str | int, first: int = 0) -> list[int]:
    """``N`` (an integer >= 1: seeds first..first+N-1) or a comma-separated list of distinct seeds >= 0."""
    text = str(spec).strip()
    try:
        seeds = [int(s) for s in text.split(",")] if "," in text else list(range(first, first + int(text)))
    except ValueError:
        seeds = []
    if not seeds or min(seeds) < 0 or len(set(seeds)) != len(seeds) or ("," not in text and int(text) < 1):
        raise ValueError(f"seeds={spec!r} is not allowed; give a count >= 1 (e.g. 5) or a comma-separated list of "
                         "distinct seeds >= 0 (e.g. 0,3,7)")
    return seeds


def stat(values: Sequence[float | None], log: bool = False) -> dict[str, Any]:
    """Mean, 95% CI of the mean (t) and SD over seeds of ``values`` (None: skipped); ``log``: on log10."""
    # deferred: optional heavy dependency, imported only when used
    from scipy.stats import t as student_t

    vals = [float(v) for v in values if v is not None and (not log or v > 0)]
    out: dict[str, Any] = {"mean": None, "ci95": None, "sd": None, "n": len(vals), "values": list(values)}
    if not vals:
        return out
    arr = np.log10(vals) if log else np.asarray(vals)
    m = float(arr.mean())
    back = (lambda v: float(10 ** v)) if log else float  # noqa: E731
    out["mean"] = back(m)
    if len(vals) > 1:
        sd = float(arr.std(ddof=1))
        half = float(student_t.ppf(0.975, len(vals) - 1)) * sd / math.sqrt(len(vals))
        out.update(sd=sd, ci95=[back(m - half), back(m + half)])
    return out


def _summary(recs: Sequence[dict[str, Any]], states: Sequence[str]) -> dict[str, Any]:
    """Per layer and state: bias and variance over the seeds' records ``recs``; test accuracy too."""
    layers = recs[0]["layers"]
    return {
        "test_accuracy": {s: stat([r["test_accuracy"].get(s) for r in recs]) for s in states},
        "layers": {layer: {s: {"bias_deg": stat([r["layers"][layer][s]["bias_deg"] for r in recs]),
                               "variance": stat([r["layers"][layer][s]["variance"] for r in recs], log=True)}
                           for s in states} for layer in layers},
    }


def run_fig2_study(task: str = "digits", rules: Sequence[str] = RULES, hidden: Sequence[int] = (64, 64),
                   epochs: int = 10, batch: int = 32, seeds: Sequence[int] = (0,), repeats: int = 32,
                   knobs: dict[str, tuple[float, ...]] | None = None,
                   progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Fig. 2 at every seed in ``seeds``, summarised over them, with the ``knobs`` curves; JSON-ready."""
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"seeds={list(seeds)!r} must be a non-empty list of distinct integers >= 0")
    knobs = {} if knobs is None else knobs
    for key in knobs:
        if key not in KNOBS:
            raise ValueError(f"knobs: {key!r} is not a knob curve; allowed: {', '.join(KNOBS)}")
    t0 = time.perf_counter()
    say = progress or (lambda s: None)
    per_seed: dict[str, Any] = {}
    first: dict[str, Any] = {}
    for seed in seeds:
        say(f"-- seed {seed}: rules")
        res = fig2.run_fig2(task, rules, hidden, epochs, batch, seed, repeats, progress=progress)
        first = first or res
        curves: dict[str, list[dict[str, Any]]] = {}
        data = fig2.digits_data(seed)
        sizes = [data[0].shape[1], *hidden, 10]
        for key, values in knobs.items():
            k = KNOBS[key]
            lr = fig2.rule_settings(k.rule)["lr"]
            curves[key] = []
            for v in values:
                rec = fig2.measure_rule(k.rule, knob_options(key, v), lr, data, sizes, epochs if k.trained else 0,
                                        batch, seed, repeats, k.extra)
                curves[key].append(rec)
                a = rec["layers"]["all"]["trained" if k.trained else "init"]
                more = "".join(f"  {n} {x:.3g}" for n, x in rec.get("extra", {}).items())
                say(f"{key:26s} {k.option} {v:<8g} bias {fig2._fmt(a['bias_deg'], '5.1f')} deg  variance "
                    f"{fig2._fmt(a['variance'], '.3g')}{more}  ({rec['seconds']:.1f} s)")
        per_seed[str(seed)] = {"rules": res["rules"], "curves": curves}
    out: dict[str, Any] = {
        "task": task, "created": time.strftime("%Y-%m-%d %H:%M:%S"), "model": first["model"],
        "config": {**first["config"], "seed": None, "seeds": list(seeds),
                   "knobs": {k: list(v) for k, v in knobs.items()}},
        "definitions": {**fig2.DEFINITIONS, **STAT_DEFINITIONS}, "seeds": list(seeds), "rules": {}, "curves": {},
    }
    for name in rules:
        recs = [per_seed[str(s)]["rules"][name] for s in seeds]
        out["rules"][name] = {"options": recs[0]["options"], "lr": recs[0]["lr"], **_summary(recs, STATES),
                              "seconds": round(sum(r["seconds"] for r in recs), 2)}
    for key, values in knobs.items():
        k = KNOBS[key]
        state = "trained" if k.trained else "init"
        points = []
        for i, v in enumerate(values):
            recs = [per_seed[str(s)]["curves"][key][i] for s in seeds]
            pt = {"value": v, **_summary(recs, (state,))}
            if k.extra is not None:
                pt["extra"] = {n: stat([r["extra"][n] for r in recs], log=True) for n in recs[0]["extra"]}
            points.append(pt)
        out["curves"][key] = {"rule": k.rule, "option": k.option, "label": k.label, "state": state, "panel": k.panel,
                              "options": {n: x for n, x in knob_options(key, values[0]).items() if n != k.option},
                              "lr": fig2.rule_settings(k.rule)["lr"], "values": list(values), "points": points}
    out["per_seed"] = per_seed
    out["seconds"] = round(time.perf_counter() - t0, 1)
    return out


def _colour(i: int) -> Any:
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    return plt.get_cmap("tab10")(i) if i < 10 else plt.get_cmap("Dark2")((i - 10) % 8)


def _errs(d: dict[str, Any]) -> tuple[float, list[list[float]]] | None:
    """(mean, [[below], [above]]) for matplotlib's error bars, or None when unresolved."""
    if d["mean"] is None:
        return None
    lo, hi = d["ci95"] if d["ci95"] is not None else (d["mean"], d["mean"])
    return d["mean"], [[max(d["mean"] - lo, 0.0)], [max(hi - d["mean"], 0.0)]]


def _point(ax: Any, pt: dict[str, Any], colour: Any, **kw: Any) -> tuple[float, float] | None:
    """Draw one summarised point (the whole update, "all") with 95% CI bars on both axes."""
    x, y = _errs(pt["variance"]), _errs(pt["bias_deg"])
    if x is None or y is None:
        return None
    ax.errorbar([x[0]], [y[0]], xerr=x[1], yerr=y[1], color=colour, elinewidth=0.9, capsize=2, **kw)
    return x[0], y[0]


def plot_study(result: dict[str, Any]):
    """Left: each rule's whole update (mean over seeds, 95% CI bars), hollow at init -> filled trained, as the
    seed paper's Fig. 2. Right: the knob curves, each marker labelled with its knob value."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg")
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    curves = result.get("curves", {})
    panels = sorted({c.get("panel", 0) for c in curves.values()})
    ncol = 1 + len(panels)
    fig, axes = plt.subplots(1, ncol, figsize=(7.0 * ncol, 6.4), dpi=100, squeeze=False)
    ax = axes[0][0]
    names = list(result["rules"])
    top = 100.0
    for i, name in enumerate(names):
        rec, c = result["rules"][name], _colour(i)
        label = rule_class(name).label if name in registered_rules() else name
        label += " [?]" if name in fig2.PAPER_QUESTION_MARKS else ""
        acc = rec["test_accuracy"]["trained"]["mean"]
        label += f" (acc {acc:.2f})" if acc is not None else ""
        a = _point(ax, rec["layers"]["all"]["init"], c, fmt="o", mfc="none", alpha=0.6)
        b = _point(ax, rec["layers"]["all"]["trained"], c, fmt="o", ms=6, label=label)
        if a is not None and b is not None:
            ax.annotate("", b, a, arrowprops={"arrowstyle": "->", "color": c, "alpha": 0.35, "lw": 0.8})
        top = max([top] + [p[1] + 5 for p in (a, b) if p is not None])
    n = len(result["seeds"])
    ax.set_title(f"Rules at their Fig. 2 settings, whole update ({n} seed{'s' if n > 1 else ''}; bars: 95% CI)\n"
                 f"{result['task']}, {result['model']}", fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(plt.Line2D([], [], ls="", marker="o", markerfacecolor="none", color="black"))
    labels.append("hollow: at init, filled: trained")
    handles.append(plt.Line2D([], [], ls=""))
    labels.append("[?]: a question mark in the\nseed paper's Fig. 2")
    ax.legend(handles, labels, fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2, frameon=False)
    for j, cur in enumerate(curves.values()):
        cx = axes[0][1 + panels.index(cur.get("panel", 0))]
        c = plt.get_cmap("tab10")(j % 10)  # one colour per curve: several curves share a rule
        style = ["-", "--", ":", "-.", (0, (5, 1)), (0, (1, 1)), (0, (3, 1, 1, 1))][j % 7]
        xs, ys = [], []
        for pt in cur["points"]:
            p = _point(cx, pt["layers"]["all"][cur["state"]], c, fmt="s" if cur["state"] == "init" else "D",
                       ms=4, alpha=0.7)
            if p is None:
                continue
            xs.append(p[0])
            ys.append(p[1])
            cx.annotate(f"{pt['value']:g}", p, textcoords="offset points", xytext=(4, 3), fontsize=7, color=c)
            top = max(top, p[1] + 8)
        cx.plot(xs, ys, color=c, ls=style, lw=1.6, label=f"{cur['label']}: {cur['option']} "
                f"({'after training' if cur['state'] == 'trained' else 'at init'})")
    for cx in axes[0][1:]:
        cx.set_title("Knob curves: each marker is one value of the knob (labelled);\nsquares at init, diamonds "
                     "after training; bars: 95% CI", fontsize=9)
        cx.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=1, frameon=False)
    for a in axes[0]:
        a.set_xscale("log")
        a.set_ylim(-3, top)
        a.set_xlabel("variance of single-batch updates  E|u - E u|^2 / |E u|^2")
        a.set_ylabel("bias: angle of the expected update to the gradient (deg)")
        a.grid(alpha=0.25)
    fig.tight_layout()
    return fig


def save_study(result: dict[str, Any], run_dir: str | Path, assets_png: str | Path | None = None) -> list[Path]:
    """``fig2.json`` and ``fig2.png`` into ``run_dir``; with ``assets_png`` the PNG there and the JSON beside it,
    less the per-seed records (two thirds of the file; each summarised figure keeps its per-seed ``values``)."""
    paths = save_result_and_figure(result, plot_study(result), run_dir, "fig2", assets_png)
    if assets_png is not None:
        js = Path(assets_png).with_suffix(".json")
        write_json(asset_copy(result), js)
        paths.append(js)
    return paths


def asset_copy(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` without ``per_seed`` (the run folder's fig2.json keeps it)."""
    return {**{k: v for k, v in result.items() if k != "per_seed"},
            "per_seed": "left out here: in the run folder's fig2.json"}


def _pm(d: dict[str, Any], spec: str = ".1f") -> str:
    if d["mean"] is None:
        return "n/a"
    ci = f" [{d['ci95'][0]:{spec}}, {d['ci95'][1]:{spec}}]" if d["ci95"] is not None else ""
    return f"{d['mean']:{spec}}{ci}"


def study_lines(result: dict[str, Any]) -> list[str]:
    """The printout: per rule (whole update) and per curve point, mean [95% CI] over the seeds."""
    lines = [f"seeds {result['seeds']}: mean [95% CI]"]
    for name, rec in result["rules"].items():
        a = rec["layers"]["all"]
        lines.append(f"{name:26s} bias {_pm(a['init']['bias_deg'])} -> {_pm(a['trained']['bias_deg'])} deg  variance "
                     f"{_pm(a['trained']['variance'], '.3g')}  acc {_pm(rec['test_accuracy']['trained'], '.3f')}")
    for key, cur in result.get("curves", {}).items():
        for pt in cur["points"]:
            a = pt["layers"]["all"][cur["state"]]
            more = "".join(f"  {n} {_pm(v, '.2g')}" for n, v in pt.get("extra", {}).items())
            lines.append(f"{key:26s} {cur['option']} {pt['value']:<7g} bias {_pm(a['bias_deg'])} deg  variance "
                         f"{_pm(a['variance'], '.3g')}{more}")
    return lines


def study_markdown(result: dict[str, Any]) -> list[str]:
    """Markdown tables of ``result`` (the Fig. 2 page shows them from ``assets/fig2.json``)."""
    n = len(result["seeds"])
    out = ["## The run behind the figure", "",
           f"Read from `assets/fig2.json` ({result['model']}, {result['config']['epochs']} epochs, seeds "
           f"{', '.join(map(str, result['seeds']))}): mean over the {n} seed{'s' if n > 1 else ''} and, in brackets, "
           "the 95% confidence interval of the mean (Student's t; variance: geometric mean, interval on log10). "
           "Bias and variance of the whole update (every layer together).", "",
           "| rule | bias at init (deg) | bias trained (deg) | variance trained | test accuracy |",
           "|---|---|---|---|---|"]
    for name, rec in result["rules"].items():
        a = rec["layers"]["all"]
        mark = " [?]" if name in fig2.PAPER_QUESTION_MARKS else ""
        out.append(f"| {name}{mark} | {_pm(a['init']['bias_deg'])} | {_pm(a['trained']['bias_deg'])} | "
                   f"{_pm(a['trained']['variance'], '.3g')} | {_pm(rec['test_accuracy']['trained'], '.3f')} |")
    for key, cur in result.get("curves", {}).items():
        opts = ", ".join(f"{k}={v!r}" for k, v in cur["options"].items())
        when = "after training" if cur["state"] == "trained" else "at the initial weights"
        extra = list(cur["points"][0].get("extra", {}))
        out += ["", f"**{cur['label']}** (`{key}`; {cur['rule']} with {opts}; measured {when}):", "",
                f"| {cur['option']} | bias (deg) | variance |" + "".join(f" {e} |" for e in extra),
                "|---|---|---|" + "---|" * len(extra)]
        for pt in cur["points"]:
            a = pt["layers"]["all"][cur["state"]]
            out.append(f"| {pt['value']:g} | {_pm(a['bias_deg'])} | {_pm(a['variance'], '.3g')} |"
                       + "".join(f" {_pm(pt['extra'][e], '.2g')} |" for e in extra))
    return [*out, ""]
