"""The seed paper's Fig. 3, drawn and measured: does a learning rule follow a gradient?

Three panels on the two-weight network ``y = w2 w1 x`` (``x = 1``, target ``t = 1``, loss
``L = (y - t)^2 / 2``, i.e. the paper's ``F = -L``) over ``[-2, 2]^2``: the mean-update field of

- **backprop** ``u = -(e w2, e w1)`` with ``e = w1 w2 - 1``: it follows the gradient;
- **drift** ``u = (w1, -w2)``: the paper's orthogonal rule, moving along the level sets of ``w1 w2`` (the
  loss never changes; the brain's version is representational drift). It is orthogonal to ``grad F``,
  yet itself the gradient of ``(w1^2 - w2^2) / 2``: its antisymmetry is 0;
- **feedback alignment** ``u = -(e b, e w1)``: a fixed feedback ``b`` stands in for ``w2`` in ``w1``'s
  update; it follows the gradient partly, and its field is not the gradient of anything (``a > 0``).

Each panel shows the field (quiver) over the loss's contours and one trajectory (Euler steps from the
same start). The numbers (:mod:`agents.probes.update_field`): the energy share of the field orthogonal to
the gradient over the grid, ``sum |u_perp|^2 / sum |u|^2``, and the antisymmetry ``a`` pooled over the
grid, ``sqrt(sum ||J - J^T||^2 / sum ||J + J^T||^2)``, both the exact value (``torch.func.jacrev``) and
the probe-pair estimate with a seed. ``rule_figures`` measures the same two numbers for every
registered rule on a small tanh MLP (also written to the JSON).

    python scripts/fig3.py                        # runs/fig3__<seed>__<time>/fig3.{json,png}
    python scripts/fig3.py --assets assets/fig3.png
"""

from __future__ import annotations

import argparse
import inspect
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from agents.experiments.fig2 import make_mlp
from agents.probes.update_field import antisymmetry, antisymmetry_of, orthogonal_fraction
from agents.rules import get_rule, registered_rules, rule_class
from brainset_envs.core.files import save_result_and_figure, write_json

FB = 0.5  # feedback alignment's fixed feedback weight b (in place of w2)
START = (-0.5, 1.8)  # every panel's trajectory starts here
LIM = 2.0


def loss_2w(w: torch.Tensor) -> torch.Tensor:
    return 0.5 * (w[0] * w[1] - 1.0) ** 2


def backprop_2w(w: torch.Tensor) -> torch.Tensor:
    e = w[0] * w[1] - 1.0
    return -torch.stack([e * w[1], e * w[0]])


def drift_2w(w: torch.Tensor) -> torch.Tensor:
    return torch.stack([w[0], -w[1]])


def feedback_alignment_2w(w: torch.Tensor, b: float = FB) -> torch.Tensor:
    e = w[0] * w[1] - 1.0
    return -torch.stack([e * b, e * w[0]])


PANELS: dict[str, tuple[str, Callable[[torch.Tensor], torch.Tensor]]] = {
    "backprop": ("gradient-following: backprop", backprop_2w),
    "drift": ("orthogonal: drift (w1, -w2)", drift_2w),
    "feedback_alignment": (f"partly following: feedback alignment (b = {FB})", feedback_alignment_2w),
}


def grid(n: int = 15) -> torch.Tensor:
    """``n x n`` points of ``[-LIM, LIM]^2`` (float64), as an (n*n, 2) tensor."""
    a = torch.linspace(-LIM, LIM, n, dtype=torch.float64)
    w1, w2 = torch.meshgrid(a, a, indexing="xy")
    return torch.stack([w1.reshape(-1), w2.reshape(-1)], 1)


def field_figures(field: Callable[[torch.Tensor], torch.Tensor], n: int = 15, probes: int = 8,
                  seed: int = 0) -> dict[str, float]:
    """The orthogonal energy share and the pooled antisymmetry (exact and estimated) of a 2-weight field."""
    pts = grid(n)
    grad = torch.func.vmap(torch.func.grad(loss_2w))(pts)
    u = torch.func.vmap(field)(pts)
    gn = grad / grad.norm(dim=1, keepdim=True).clamp_min(1e-300)
    par = (u * gn).sum(1, keepdim=True) * gn
    ok = grad.norm(dim=1) > 1e-12  # the gradient is zero on the hyperbola w1 w2 = 1 and at the origin
    perp = float(((u - par)[ok] ** 2).sum() / (u[ok] ** 2).sum())
    jac = torch.func.vmap(torch.func.jacrev(field))(pts)
    anti = float((jac - jac.transpose(1, 2)).pow(2).sum())
    sym = float((jac + jac.transpose(1, 2)).pow(2).sum())
    est_a = est_s = 0.0
    for i, p in enumerate(pts):
        r = antisymmetry_of(field, p, probes=probes, eps=1e-5, seed=seed * 100003 + i)
        est_a += r["antisym_norm"] ** 2
        est_s += r["sym_norm"] ** 2
    mean_cos = float(torch.nn.functional.cosine_similarity(u[ok], -grad[ok], dim=1).mean())
    return {"orthogonal_fraction": perp, "mean_cos_to_descent": mean_cos,
            "antisymmetry_exact": math.sqrt(anti / sym), "antisymmetry_estimated": math.sqrt(est_a / est_s)}


def trajectory(field: Callable[[torch.Tensor], torch.Tensor], start: tuple[float, float] = START,
               lr: float = 0.01, steps: int = 2000) -> np.ndarray:
    """Euler steps ``w += lr * u(w)`` from ``start``, stopped at the edge of the box; (k, 2)."""
    w = torch.tensor(start, dtype=torch.float64)
    out = [w.numpy().copy()]
    for _ in range(steps):
        w = w + lr * field(w)
        if float(w.abs().max()) > LIM:
            break
        out.append(w.numpy().copy())
    return np.array(out)


# --- the same numbers for the registered rules, on a small MLP ------------------------------------------

# Stochastic rules are measured through their mean update: many antithetic perturbations per evaluation.
STOCHASTIC_OPTIONS = {"num_perturbations": 1024, "sigma": 1e-4, "antithetic": True}  # for the rules that take them


def mlp_problem(seed: int, sizes: tuple[int, ...] = (4, 5, 3), n: int = 32):
    """A float64 tanh MLP (layers hidden1, output) and a fixed batch with a random teacher's labels."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=gen, dtype=torch.float64)
    y = (x @ torch.randn(sizes[0], sizes[-1], generator=gen, dtype=torch.float64)).argmax(1)
    return make_mlp(list(sizes), seed).double(), x, y


def rule_figures(name: str, seed: int = 0, probes: int = 8, options: dict[str, Any] | None = None) -> dict[str, float]:
    """Orthogonal fraction and antisymmetry of rule ``name``'s mean update on :func:`mlp_problem`, over all
    parameters, and the antisymmetry over the first (hidden) layer's parameters alone."""
    model, x, y = mlp_problem(seed)
    accepted = inspect.signature(rule_class(name).__init__).parameters
    opts = {k: v for k, v in STOCHASTIC_OPTIONS.items() if k in accepted} if rule_class(name).stochastic else {}
    if options:
        opts.update(options)
    rule = get_rule(name, **opts)
    model = rule.prepare(model)
    closure = lambda: nn.functional.cross_entropy(model(x), y)  # noqa: E731
    hidden = list(dict(model.named_modules())["hidden1"].parameters())
    out = orthogonal_fraction(model, rule, closure)
    a_all = antisymmetry(model, rule, closure, probes=probes, seed=seed)
    a_hid = antisymmetry(model, rule, closure, params=hidden, probes=probes, seed=seed)
    return {"orthogonal_fraction": out["orthogonal_fraction"], "cos_to_descent": out["cos_to_descent"],
            "antisymmetry": a_all["antisymmetry"], "antisymmetry_hidden": a_hid["antisymmetry"]}


# --- the figure ------------------------------------------------------------------------------------------


def run_fig3(seed: int = 0, n: int = 15, probes: int = 8, rules: tuple[str, ...] | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every panel's field figures and trajectory, and every rule's :func:`rule_figures`; JSON-ready."""
    out: dict[str, Any] = {
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "network": "y = w2 * w1 * x, x = 1, target 1, loss (y - 1)^2 / 2, over [-2, 2]^2",
        "config": {"seed": seed, "grid": n, "probes": probes, "feedback_b": FB, "start": list(START)},
        "definitions": {
            "orthogonal_fraction": "sum |u_perp|^2 / sum |u|^2 over the grid (u_perp: u minus its part along the "
                                   "loss gradient); for rules, 1 - cos^2(u, gradient) at the MLP's weights",
            "antisymmetry": "||J - J^T||_F / ||J + J^T||_F of the field's Jacobian (pooled over the grid); "
                            "estimated: from random probe pairs v^T J w - w^T J v",
        },
        "panels": {}, "rules": {},
    }
    for key, (title, field) in PANELS.items():
        figs = field_figures(field, n, probes, seed)
        traj = trajectory(field)
        out["panels"][key] = {"title": title, **figs, "trajectory": traj.round(5).tolist(),
                              "loss_start": float(loss_2w(torch.tensor(traj[0]))),
                              "loss_end": float(loss_2w(torch.tensor(traj[-1])))}
        if progress:
            progress(f"{key:20s} orthogonal {figs['orthogonal_fraction']:.3f}  antisymmetry "
                     f"{figs['antisymmetry_exact']:.3f} (estimated {figs['antisymmetry_estimated']:.3f})")
    for name in (registered_rules() if rules is None else rules):
        t0 = time.perf_counter()
        r = rule_figures(name, seed, probes)
        out["rules"][name] = {**r, "seconds": round(time.perf_counter() - t0, 2)}
        if progress:
            progress(f"{name:26s} orthogonal {r['orthogonal_fraction']:.3f}  antisymmetry {r['antisymmetry']:.3g}"
                     f"  (hidden layer {r['antisymmetry_hidden']:.3g})")
    if out["rules"]:
        out["rules_setup"] = {"model": "4-5-3 tanh MLP, float64, 32 fixed samples, cross-entropy",
                              "stochastic_rule_options": STOCHASTIC_OPTIONS}
    return out


def plot_fig3(result: dict[str, Any]):
    import matplotlib  # deferred: optional heavy dependency

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: optional heavy dependency

    n = result["config"]["grid"]
    a = np.linspace(-LIM, LIM, 201)
    w1, w2 = np.meshgrid(a, a)
    loss = 0.5 * (w1 * w2 - 1.0) ** 2
    pts = grid(n)
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.7), dpi=110)
    for ax, (key, (_, field)) in zip(axes, PANELS.items(), strict=True):
        rec = result["panels"][key]
        ax.contourf(w1, w2, np.log1p(loss), levels=20, cmap="Blues_r", alpha=0.85)
        ax.contour(w1, w2, w1 * w2, levels=[1.0], colors="white", linewidths=1.2, linestyles="--")
        u = torch.func.vmap(field)(pts).numpy()
        norm = np.linalg.norm(u, axis=1, keepdims=True)
        un = u / np.maximum(norm, 1e-12)
        ax.quiver(pts[:, 0].numpy(), pts[:, 1].numpy(), un[:, 0], un[:, 1], color="0.15", scale=28, width=0.004)
        tr = np.array(rec["trajectory"])
        ax.plot(tr[:, 0], tr[:, 1], color="tab:orange", lw=2.2)
        ax.plot(*tr[0], "o", color="tab:orange")
        ax.plot(*tr[-1], "*", color="tab:red", ms=12)
        ax.set_xlim(-LIM, LIM)
        ax.set_ylim(-LIM, LIM)
        ax.set_aspect("equal")
        ax.set_xlabel("w1")
        ax.set_ylabel("w2")
        ax.set_title(f"{rec['title']}\northogonal {rec['orthogonal_fraction']:.2f}, antisymmetry "
                     f"{rec['antisymmetry_exact']:.2f}; loss {rec['loss_start']:.2f} -> {rec['loss_end']:.2f}",
                     fontsize=9)
    fig.suptitle("Fig. 3: mean update fields on y = w2 w1 x (contours: log(1 + loss); dashed: w1 w2 = 1; "
                 "arrows: direction of the update; orange: a trajectory)", fontsize=10)
    fig.tight_layout()
    return fig


def save_fig3(result: dict[str, Any], run_dir: str | Path, assets_png: str | Path | None = None) -> list[Path]:
    """Write ``fig3.json`` and ``fig3.png`` into ``run_dir`` (and the PNG to ``assets_png``), atomically."""
    return save_result_and_figure(result, plot_fig3(result), run_dir, "fig3", assets_png)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=0, help="seed of the probe pairs and the rules' MLP")
    p.add_argument("--grid", type=int, default=15, help="grid points per axis for the fields")
    p.add_argument("--probes", type=int, default=8, help="probe pairs per antisymmetry estimate")
    p.add_argument("--rules", default=",".join(registered_rules()),
                   help="comma-separated rules measured on the small MLP ('' for none)")
    p.add_argument("--runs-dir", default="runs", help="where the run folder goes")
    p.add_argument("--assets", default=None, help="also write the PNG here (e.g. assets/fig3.png, the README's) "
                   "and the JSON beside it (assets/fig3.json: the docs page's numbers)")
    a = p.parse_args(argv)
    rules = tuple(r.strip() for r in a.rules.split(",") if r.strip())
    unknown = [r for r in rules if r not in registered_rules()]
    if unknown:
        p.error(f"argument --rules: {unknown[0]!r} is not registered; choose from {', '.join(registered_rules())}")
    if a.grid < 2 or a.probes < 1:
        p.error("argument --grid must be >= 2 and --probes >= 1")
    if a.assets is not None and Path(a.assets).suffix != ".png":
        p.error(f"argument --assets: {a.assets!r} must end in .png")
    torch.set_num_threads(1)
    result = run_fig3(a.seed, a.grid, a.probes, rules, progress=print)
    run_dir = Path(a.runs_dir) / f"fig3__{a.seed}__{time.strftime('%Y%m%d-%H%M%S')}"
    for path in save_fig3(result, run_dir, a.assets):
        print(f"wrote {path}")
    if a.assets is not None:
        write_json(result, Path(a.assets).with_suffix(".json"))
        print(f"wrote {Path(a.assets).with_suffix('.json')}")
    return 0


def results_markdown(result: dict[str, Any]) -> list[str]:
    """The docs page's tables from a run's result: the three panels, then every rule on the small MLP."""
    out = ["| panel | orthogonal fraction | antisymmetry (exact) | antisymmetry (estimated) | loss start -> end |",
           "|---|---|---|---|---|"]
    out += [f"| {p['title']} | {p['orthogonal_fraction']:.3f} | {p['antisymmetry_exact']:.3f} | "
            f"{p['antisymmetry_estimated']:.3f} | {p['loss_start']:.3f} -> {p['loss_end']:.3f} |"
            for p in result["panels"].values()]
    if result["rules"]:
        out += ["", f"Every rule on the {result['rules_setup']['model']} (seed {result['config']['seed']}; "
                "antisymmetry over all parameters and over the hidden layer alone):", "",
                "| rule | orthogonal fraction | cos to descent | antisymmetry | antisymmetry (hidden layer) |",
                "|---|---|---|---|---|"]
        out += [f"| `{name}` | {r['orthogonal_fraction']:.3g} | {r['cos_to_descent']:.3g} | {r['antisymmetry']:.3g} | "
                f"{r['antisymmetry_hidden']:.3g} |" for name, r in result["rules"].items()]
    return out
