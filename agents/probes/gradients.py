"""Gradient bias and variance of a learning rule, per layer (the seed paper's Fig. 2).

Every learning rule is an estimator of the gradient. For one model state and one data set:

- the true gradient ``g`` is backprop's gradient of the loss on the whole data (replaced layers
  backpropagate exactly inside :func:`agents.rules.exact_backward`);
- the rule's single-batch estimates ``u_i`` are its updates on minibatches (and, for stochastic rules,
  on fresh noise draws): ``repeats`` passes over a partition of the data;
- each of the ``repeats`` passes is a fold with mean ``m_r``; ``p = mean u . g / |g|`` is the expected
  update along the gradient (accurate even for noisy rules); ``|E u|^2`` is the U-statistic over folds,
  ``sum_{r != s} m_r . m_s / (R (R - 1))``, free of the rules' own noise (exactly ``|m|^2`` for
  deterministic rules), but at least ``p^2``;
- bias = ``acos(p / |E u|)`` in degrees (0 = unbiased), with a jackknife standard error over folds
  (``bias_se_deg``; None with one repeat, i.e. deterministic rules over a fixed partition). Near 0 the
  angle is sensitive: node and weight perturbation, whose single estimates are ~10^4 times noisier
  than their mean, read 0-30 deg +/- tens of degrees at a few thousand estimates. ``bias_raw_deg`` is
  the plain angle of the mean, which that noise inflates;
- variance = ``E|u - E u|^2 / |E u|^2``: the spread of single estimates relative to the size of their
  expectation (dimensionless, so rules with differently scaled updates compare);

Backprop's minibatch gradients average exactly to the full gradient over a partition, so its bias is 0
and its variance is the minibatch noise; feedback alignment is biased with low variance; node and
weight perturbation are unbiased with high variance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import nn

from agents.rules import exact_backward, frozen_rule_state
from agents.rules.base import LearningRule

Closure = Callable[[], torch.Tensor]


def layer_params(model: nn.Module) -> dict[str, list[nn.Parameter]]:
    """Trainable parameters grouped by the module that owns them (the "layers"), in model order."""
    out: dict[str, list[nn.Parameter]] = {}
    for name, m in model.named_modules():
        own = [p for p in m.parameters(recurse=False) if p.requires_grad]
        if own:
            out[name or "<root>"] = own
    return out


def _collect(layers: dict[str, list[nn.Parameter]]) -> dict[str, torch.Tensor]:
    return {k: torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).detach().flatten()
                          for p in ps]).double() for k, ps in layers.items()}


def _zero(model: nn.Module) -> None:
    for p in model.parameters():
        p.grad = None


def true_gradient(model: nn.Module, closure: Closure) -> dict[str, torch.Tensor]:
    """Backprop's gradient per layer (exact even for a model a rule has prepared)."""
    layers = layer_params(model)
    _zero(model)
    with exact_backward(model), torch.enable_grad():
        closure().backward()
    g = _collect(layers)
    _zero(model)
    return g


def rule_update(model: nn.Module, rule: LearningRule, closure: Closure) -> dict[str, torch.Tensor]:
    """The gradient estimate ``rule`` fills in for one closure, per layer (the update is minus this)."""
    layers = layer_params(model)
    _zero(model)
    with frozen_rule_state(model):  # a rule that learns its own state (RDD feedback) keeps it while measured
        rule.compute_grads(model, closure)
    u = _collect(layers)
    _zero(model)
    return u


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle between two vectors in degrees (90 if either is zero)."""
    na, nb = float(a.norm()), float(b.norm())
    if na == 0.0 or nb == 0.0:
        return 90.0
    c = float(a @ b) / (na * nb)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _bias(total: torch.Tensor, folds: torch.Tensor, fold_sq: torch.Tensor, g: torch.Tensor,
          r: int) -> tuple[float | None, float]:
    """(bias in degrees or None, |E u|^2) from the fold sums (see the module docstring)."""
    gn = float(g.norm())
    mean = total / r
    proj = float(mean @ g) / gn if gn > 0 else 0.0
    if r > 1:
        expected_sq = (float(total @ total) - float(fold_sq)) / (r * (r - 1))
    else:
        expected_sq = float(mean @ mean)
    expected_sq = max(expected_sq, proj * abs(proj))
    if expected_sq <= 0.0 or gn == 0.0:
        return None, expected_sq
    return math.degrees(math.acos(max(-1.0, min(1.0, proj / math.sqrt(expected_sq))))), expected_sq


def bias_variance(
    model: nn.Module,
    rule: LearningRule,
    batch_closures: Sequence[Closure],
    full_closure: Closure,
    repeats: int = 1,
) -> dict[str, dict[str, float | None]]:
    """Bias, variance and related numbers of ``rule`` per layer, plus ``"all"`` (every layer together).

    ``model`` must already be prepared for ``rule``; ``batch_closures`` should partition the data that
    ``full_closure`` covers, with equal batch sizes, so that the expected update over a random batch is
    the mean over the batches (backprop's is then exactly ``g``). Use ``repeats`` > 1 for rules with
    their own noise (node and weight perturbation).
    """
    nb = len(batch_closures)
    if repeats < 1 or nb * repeats < 2:
        raise ValueError(f"repeats={repeats!r} x {nb} batches must give >= 2 estimates")
    g = true_gradient(model, full_closure)
    names = list(g)
    g["all"] = torch.cat([g[k] for k in names])
    names.append("all")
    folds = {k: torch.zeros(repeats, v.numel(), dtype=v.dtype) for k, v in g.items()}
    sq = dict.fromkeys(names, 0.0)
    single = dict.fromkeys(names, 0.0)
    for r in range(repeats):
        for c in batch_closures:
            u = rule_update(model, rule, c)
            u["all"] = torch.cat([u[k] for k in names[:-1]])
            for k in names:
                folds[k][r] += u[k]
                sq[k] += float(u[k] @ u[k])
                single[k] += angle_deg(u[k], g[k])
    n = nb * repeats
    out: dict[str, dict[str, float | None]] = {}
    for k in names:
        f = folds[k] / nb  # each fold's mean estimate
        total = f.sum(0)
        fold_sq = (f * f).sum()
        bias, expected_sq = _bias(total, f, fold_sq, g[k], repeats)
        se = None
        if repeats > 2 and bias is not None:  # jackknife over folds
            jack = [_bias(total - f[i], f, fold_sq - f[i] @ f[i], g[k], repeats - 1)[0] for i in range(repeats)]
            if all(j is not None for j in jack):
                jm = sum(jack) / repeats
                se = math.sqrt((repeats - 1) / repeats * sum((j - jm) ** 2 for j in jack))
        mean = total / repeats
        spread = (sq[k] - n * float(mean @ mean)) / (n - 1)  # E|u - E u|^2 over single estimates
        gn = float(g[k].norm())
        out[k] = {
            "bias_deg": bias,
            "bias_se_deg": se,
            "bias_raw_deg": angle_deg(mean, g[k]),
            "variance": max(spread, 0.0) / expected_sq if expected_sq > 0 else None,
            "mean_single_angle_deg": single[k] / n,
            "norm_ratio": math.sqrt(expected_sq) / gn if expected_sq > 0 and gn > 0 else None,
            "n_estimates": n,
        }
    return out
