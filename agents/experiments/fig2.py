"""The seed paper's Fig. 2, measured: bias and variance of each learning rule's updates, per layer.

``run_fig2("digits")`` trains one tanh MLP per rule on sklearn's 8x8 digits (no download), from the same
initial weights, and measures each rule's bias and variance (:mod:`agents.probes.gradients`) at the
start and after training; ``plot_fig2`` draws bias against variance; ``save_fig2`` writes the JSON and
the PNG atomically. ``measure_rule`` is one rule's run (any options), which :mod:`agents.experiments.fig2_knobs`
repeats over seeds and knob values for the figure with error bars and knob curves. ``scripts/fig2.py`` is the
command-line front end.
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.probes.gradients import bias_variance
from agents.rules import RULES, get_rule, registered_rules, rule_class
from brainset_envs.core.files import save_result_and_figure


def rule_settings(name: str) -> dict[str, Any]:
    """The registry's Fig. 2 settings of rule ``name``: its options and the SGD learning rate."""
    fig2 = rule_class(name).fig2
    return {"options": dict(fig2.options), "lr": fig2.lr}


def rule_options(name: str, options: dict[str, Any], seed: int) -> dict[str, Any]:
    """``options``, plus ``seed`` for a rule that draws its own random numbers (feedback matrices, noise) unless
    ``options`` sets it: a run at seed ``s`` redraws them too (seed 0 is every rule's default)."""
    if "seed" in inspect.signature(rule_class(name).__init__).parameters and "seed" not in options:
        return {**options, "seed": seed}
    return dict(options)


def stochastic(name: str) -> bool:
    """Whether ``name``'s updates are random draws (measured over repeats), from the registry."""
    return rule_class(name).stochastic
# The rules the seed paper's Fig. 2 placed with a question mark ("the exact bias and variance properties of
# many of the learning rules are unknown"): marked [?] in the legend, now that they are measured.
PAPER_QUESTION_MARKS = frozenset({"contrastive_hebbian", "predictive_coding", "dendritic_error", "rdd", "agrel"})

DEFINITIONS = {
    "bias_deg": "angle (deg) between the rule's expected update and backprop's gradient on the whole "
                "training set; |E u|^2 from a U-statistic over repeats, so the rule's own noise does not inflate it",
    "bias_raw_deg": "angle of the plain mean of the single-batch estimates (inflated by their noise)",
    "variance": "E|u - E u|^2 / |E u|^2 over single-batch estimates u (dimensionless); null when the "
                "estimates cannot resolve E u",
    "bias_se_deg": "jackknife standard error of bias_deg over the repeats (null for one repeat)",
    "mean_single_angle_deg": "mean angle of single-batch estimates to the true gradient",
}


def digits_data(seed: int = 0, n_train: int = 1280) -> tuple[torch.Tensor, ...]:
    """sklearn's 8x8 digits scaled to [0, 1]: (x_train, y_train, x_test, y_test), a seeded split."""
    # deferred: optional heavy dependency, imported only when used
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(seed).permutation(len(x))
    x = torch.tensor(x[idx] / 16.0, dtype=torch.float32)
    y = torch.tensor(y[idx], dtype=torch.long)
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


def make_mlp(sizes: Sequence[int], seed: int = 0, activation: type[nn.Module] = nn.Tanh) -> nn.Sequential:
    """An MLP with named layers hidden1, hidden2, ..., output (``sizes`` from input to output)."""
    torch.manual_seed(seed)
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = i == len(sizes) - 2
        layers["output" if last else f"hidden{i + 1}"] = nn.Linear(a, b)
        if not last:
            layers[f"act{i + 1}"] = activation()
    return nn.Sequential(layers)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float((model(x).argmax(1) == y).float().mean())


def _closures(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int) -> list[Callable]:
    loss = nn.functional.cross_entropy
    return [lambda i=i: loss(model(x[i:i + batch]), y[i:i + batch]) for i in range(0, len(x), batch)]


def measure_rule(name: str, options: dict[str, Any], lr: float, data: Sequence[torch.Tensor], sizes: Sequence[int],
                 epochs: int, batch: int = 32, seed: int = 0, repeats: int = 32,
                 extra: Callable[[nn.Module, torch.Tensor], dict[str, float]] | None = None) -> dict[str, Any]:
    """Rule ``name`` with ``options`` on a fresh MLP of ``sizes`` (weights from ``seed``): bias/variance per layer
    at init and after ``epochs`` of SGD at ``lr`` (``epochs=0``: at init only, under "init"), test accuracy.

    ``extra(model, x_train)``: more figures of the prepared model, read at init (e.g. the self-prediction
    error of dendritic error learning), stored under "extra"."""
    t0 = time.perf_counter()
    xtr, ytr, xte, yte = data
    rule = get_rule(name, **rule_options(name, options, seed))
    model = rule.prepare(make_mlp(sizes, seed))
    reps = repeats if stochastic(name) else 1  # deterministic rules: one pass is exact
    full = lambda: nn.functional.cross_entropy(model(xtr), ytr)  # noqa: E731
    batches = _closures(model, xtr, ytr, batch)
    more = extra(model, xtr) if extra is not None else None
    before = bias_variance(model, rule, batches, full, reps)
    acc0 = accuracy(model, xte, yte)
    rec: dict[str, Any] = {"options": dict(options), "lr": lr}
    if epochs == 0:
        rec.update(test_accuracy={"init": acc0}, layers={k: {"init": before[k]} for k in before})
    else:
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            perm = torch.randperm(len(xtr), generator=gen)
            for i in range(0, len(xtr), batch):
                b = perm[i:i + batch]
                opt.zero_grad(set_to_none=True)
                rule.compute_grads(model, lambda b=b: nn.functional.cross_entropy(model(xtr[b]), ytr[b]))
                opt.step()
        after = bias_variance(model, rule, batches, full, reps)
        rec.update(test_accuracy={"init": acc0, "trained": accuracy(model, xte, yte)},
                   layers={k: {"init": before[k], "trained": after[k]} for k in before})
    if more is not None:
        rec["extra"] = more
    rec["seconds"] = round(time.perf_counter() - t0, 2)
    return rec


def run_fig2(
    task: str = "digits",
    rules: Sequence[str] = RULES,
    hidden: Sequence[int] = (64, 64),
    epochs: int = 10,
    batch: int = 32,
    seed: int = 0,
    repeats: int = 32,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Train one model per rule and measure bias/variance per layer before and after; a JSON-ready dict.

    ``repeats``: passes over the training batches when measuring the stochastic rules (node and weight
    perturbation); the deterministic rules need one.
    """
    if task != "digits":
        raise ValueError(f"task={task!r} is not available; choose 'digits'")
    for r in rules:
        if r not in registered_rules():
            raise ValueError(f"rule {r!r} is not registered; choose from {list(registered_rules())}")
    xtr, ytr, xte, yte = digits_data(seed)
    sizes = [xtr.shape[1], *hidden, 10]
    out: dict[str, Any] = {
        "task": task, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "model": "-".join(map(str, sizes)) + " tanh MLP, cross-entropy",
        "config": {"hidden": list(hidden), "epochs": epochs, "batch": batch, "seed": seed,
                   "repeats_stochastic": repeats, "n_train": len(xtr), "n_test": len(xte),
                   "optimizer": "SGD"},
        "definitions": DEFINITIONS, "rules": {},
    }
    data = (xtr, ytr, xte, yte)
    for name in rules:
        settings = rule_settings(name)
        rec = measure_rule(name, settings["options"], settings["lr"], data, sizes, epochs, batch, seed, repeats)
        out["rules"][name] = rec
        if progress is not None:
            a = rec["layers"]["all"]["trained"]
            progress(f"{name:26s} acc {rec['test_accuracy']['trained']:.3f}  bias {_fmt(a['bias_deg'], '5.1f')}"
                     f" deg  variance {_fmt(a['variance'], '.3g')}  ({rec['seconds']:.1f} s)")
    return out


def plot_fig2(result: dict[str, Any]):
    """Bias (deg) against variance (log axis) per rule and layer; hollow = at init, filled = trained."""
    # deferred: optional heavy dependency, imported only when used
    import matplotlib

    matplotlib.use("Agg")
    # deferred: optional heavy dependency, imported only when used
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.2, 5.6), dpi=110)
    tab10, dark2 = plt.get_cmap("tab10"), plt.get_cmap("Dark2")  # past 10 rules tab10 would repeat its last colour
    markers = ["o", "s", "D", "v", "P", "X"]
    layer_names: list[str] = []
    two_states = False
    for i, (name, rec) in enumerate(result["rules"].items()):
        c = tab10(i) if i < 10 else dark2((i - 10) % 8)
        layers = [k for k in rec.get("layers", {}) if k != "all"]  # none: the rule refused the model
        acc = rec.get("test_accuracy", {}).get("trained")
        label = rule_class(name).label if name in registered_rules() else name
        label += " [?]" if name in PAPER_QUESTION_MARKS else ""
        label += f" (acc {acc:.2f})" if acc is not None else ""
        labelled = False
        for layer in layers:
            if layer not in layer_names:
                layer_names.append(layer)
            m = markers[layer_names.index(layer) % len(markers)]
            a, b = rec["layers"][layer].get("init"), rec["layers"][layer]["trained"]
            if b["variance"] is None or b["bias_deg"] is None:
                continue  # not resolved from the sampling noise: in the JSON only
            xb = max(b["variance"], 1e-4)
            if a is not None and a["variance"] is not None and a["bias_deg"] is not None:
                two_states = True
                xa = max(a["variance"], 1e-4)
                ax.annotate("", (xb, b["bias_deg"]), (xa, a["bias_deg"]),
                            arrowprops={"arrowstyle": "->", "color": c, "alpha": 0.35, "lw": 0.8})
                ax.scatter([xa], [a["bias_deg"]], marker=m, facecolors="none", edgecolors=c, s=36, lw=1.0)
            if name in registered_rules() and stochastic(name) and b["bias_raw_deg"] > b["bias_deg"] + 1:
                ax.plot([xb, xb], [b["bias_deg"], b["bias_raw_deg"]], color=c, alpha=0.3, lw=2.5,
                        solid_capstyle="round")
            ax.scatter([xb], [b["bias_deg"]], marker=m, color=c, s=44, label=None if labelled else label)
            labelled = True
    ax.set_xscale("log")
    ax.set_ylim(-3, 100)
    ax.set_xlabel("variance of single-batch updates  E|u - E u|^2 / |E u|^2")
    ax.set_ylabel("bias: angle of the expected update to the gradient (deg)")
    ax.set_title(f"Learning rules as gradient estimators ({result['task']}, {result['model']})", fontsize=10)
    handles, labels = ax.get_legend_handles_labels()
    for k, layer in enumerate(layer_names):
        handles.append(plt.Line2D([], [], ls="", marker=markers[k % len(markers)], color="black"))
        labels.append(f"layer: {layer}")
    if two_states:
        handles.append(plt.Line2D([], [], ls="", marker="o", markerfacecolor="none", color="black"))
        labels.append("hollow: at init, filled: trained")
    handles.append(plt.Line2D([], [], color="black", alpha=0.3, lw=2.5))
    labels.append("noisy rules: up to the raw angle\nof the mean (noise-inflated)")
    if any(n in PAPER_QUESTION_MARKS for n in result["rules"]):
        handles.append(plt.Line2D([], [], ls=""))
        labels.append("[?]: a question mark in the\nseed paper's Fig. 2")
    ax.legend(handles, labels, fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(alpha=0.25)
    fig.tight_layout()
    return fig


def save_fig2(result: dict[str, Any], run_dir: str | Path, assets_png: str | Path | None = None) -> list[Path]:
    """Write ``fig2.json`` and ``fig2.png`` into ``run_dir`` (and the PNG to ``assets_png``), atomically."""
    return save_result_and_figure(result, plot_fig2(result), run_dir, "fig2", assets_png)


def run_dir_name(task: str, seed: int) -> str:
    """``<task>__fig2__<seed>__<time>`` like the training runs' folders."""
    return f"{task}__fig2__{seed}__{time.strftime('%Y%m%d-%H%M%S')}"


def summary_lines(result: dict[str, Any]) -> list[str]:
    """One line per rule and layer: bias and variance after training."""
    lines = []
    for name, rec in result["rules"].items():
        if "unsupported" in rec:
            lines.append(f"{name:26s} not measured: {rec['unsupported']}")
        for layer, d in rec.get("layers", {}).items():
            t, i = d["trained"], d.get("init")
            init = f"(init {_fmt(i['bias_deg'], '5.1f')})  " if i is not None else ""
            lines.append(f"{name:26s} {layer:8s} bias {_fmt(t['bias_deg'], '6.1f')} deg "
                         f"{init}variance {_fmt(t['variance'], '9.3g')}"
                         f"  raw bias {t['bias_raw_deg']:5.1f} deg  n {t['n_estimates']}")
    return lines


def _fmt(v: float | None, spec: str) -> str:
    return "n/a".rjust(int(spec.split(".")[0])) if v is None else format(v, spec)
