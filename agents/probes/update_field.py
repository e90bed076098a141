"""Is a learning rule's update a gradient? The seed paper's Fig. 3 as two numbers.

A rule's mean update ``u(theta)`` (minus what it writes into ``p.grad``, averaged over its own noise) is
a vector field over the parameters. Two measurements:

- **orthogonal fraction**, relative to a declared objective ``F`` (the loss the closure computes):
  ``1 - cos^2(u, grad F) = |u_perp|^2 / |u|^2``, the share of the update's energy that is orthogonal to
  the gradient (0: along the gradient, up or down; 1: along the level sets of ``F``).
- **antisymmetry**, objective-free: a field is a (Euclidean) gradient of *some* function iff its
  Jacobian ``J = du/dtheta`` is symmetric. ``a = ||J - J^T||_F / ||J + J^T||_F`` (0: a gradient field
  locally; 1: as much rotation as gradient; inf: a pure rotation). Estimated without forming ``J``:
  for independent standard normal probes ``v, w``, ``E (v^T J w - w^T J v)^2 = ||J - J^T||_F^2`` and
  ``E (v^T J w + w^T J v)^2 = ||J + J^T||_F^2``; each probe pair takes two Jacobian-vector products,
  each from a central finite difference of the field (4 rule evaluations; :func:`antisymmetry_of`).

Caveats. ``a > 0`` rules out a Euclidean gradient flow only: a gradient under another metric can have
``a != 0`` (Surace et al. 2020). Stochastic rules are measured with common random numbers (every
evaluation replays the same noise draws, by rewinding the torch generators the rule holds), so the
finite differences see the change of the update, not fresh noise; their mean update (node / weight
perturbation: the gradient) is symmetric in expectation, and the estimate shrinks with
``num_perturbations`` and ``repeats``. The closure must be deterministic (a fixed batch: the field is
the mean update on that data). Use a float64 model for small fields: the finite-difference error of a
float32 one is ~1e-7 / ``eps`` relative.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from agents.rules import exact_backward
from agents.rules.base import LearningRule

Closure = Callable[[], torch.Tensor]
Field = Callable[[torch.Tensor], torch.Tensor]  # flat parameters -> flat update


def _params(model: nn.Module, params: Sequence[nn.Parameter] | None) -> list[nn.Parameter]:
    ps = [p for p in model.parameters() if p.requires_grad] if params is None else list(params)
    if not ps:
        raise ValueError("no trainable parameters to measure")
    return ps


def _flat(ps: Sequence[torch.Tensor | None], like: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.cat([(torch.zeros_like(q) if p is None else p).detach().reshape(-1)
                      for p, q in zip(ps, like, strict=True)])


@contextmanager
def _at(ps: Sequence[nn.Parameter], theta: torch.Tensor) -> Iterator[None]:
    """Parameters set to the flat vector ``theta`` inside the block, restored exactly after."""
    saved = [p.detach().clone() for p in ps]
    try:
        with torch.no_grad():
            i = 0
            for p in ps:
                p.copy_(theta[i:i + p.numel()].view_as(p))
                i += p.numel()
        yield
    finally:
        with torch.no_grad():
            for p, s in zip(ps, saved, strict=True):
                p.copy_(s)


def _generators(obj: Any) -> list[torch.Generator]:
    """The torch generators a rule holds (directly, or in a dict / list attribute)."""
    out: list[torch.Generator] = []
    for v in vars(obj).values():
        items = v.values() if isinstance(v, dict) else v if isinstance(v, (list, tuple)) else [v]
        out += [g for g in items if isinstance(g, torch.Generator)]
    return out


def true_gradient(model: nn.Module, closure: Closure, params: Sequence[nn.Parameter] | None = None) -> torch.Tensor:
    """The exact loss gradient over ``params`` (flat; exact also for a model a rule has prepared)."""
    ps = _params(model, params)
    with exact_backward(model), torch.enable_grad():
        grads = torch.autograd.grad(closure(), ps, allow_unused=True)
    return _flat(grads, ps)


def rule_field(model: nn.Module, rule: LearningRule, closure: Closure,
               params: Sequence[nn.Parameter] | None = None, repeats: int = 1) -> Field:
    """The field ``theta -> u(theta)``: the update ``rule`` makes (minus its ``p.grad``) over ``params``
    with the parameters at ``theta``, averaged over ``repeats`` calls. ``model`` must be prepared for
    ``rule``. Every evaluation starts the rule's generators from the same state (common random numbers)."""
    ps = _params(model, params)
    everything = [p for p in model.parameters() if p.requires_grad]
    start: list[torch.Tensor] = []

    def field(theta: torch.Tensor) -> torch.Tensor:
        if not start:  # first call: create the rule's generators, then remember their state
            _ = _evaluate(theta)
            start.extend(g.get_state() for g in _generators(rule))
        for g, s in zip(_generators(rule), start, strict=False):
            g.set_state(s)
        return _evaluate(theta)

    def _evaluate(theta: torch.Tensor) -> torch.Tensor:
        total = torch.zeros_like(theta)
        with _at(ps, theta):
            for _ in range(repeats):
                for p in everything:
                    p.grad = None
                rule.compute_grads(model, closure)
                total -= _flat([p.grad for p in ps], ps)
        for p in everything:
            p.grad = None
        return total / repeats

    return field


def parameters_vector(model: nn.Module, params: Sequence[nn.Parameter] | None = None) -> torch.Tensor:
    return _flat(_params(model, params), _params(model, params))


def orthogonal_fraction_of(u: torch.Tensor, g: torch.Tensor) -> dict[str, float]:
    """``1 - cos^2`` of the angle between update ``u`` and gradient ``g``, the cosine of ``u`` with the
    descent direction ``-g``, and the angle in degrees (nan where either is zero)."""
    nu, ng = float(u.norm()), float(g.norm())
    if nu == 0.0 or ng == 0.0:
        return {"orthogonal_fraction": math.nan, "cos_to_descent": math.nan, "angle_deg": math.nan}
    c = max(-1.0, min(1.0, float(u @ -g) / (nu * ng)))
    return {"orthogonal_fraction": 1.0 - c * c, "cos_to_descent": c, "angle_deg": math.degrees(math.acos(c))}


def orthogonal_fraction(model: nn.Module, rule: LearningRule, closure: Closure,
                        params: Sequence[nn.Parameter] | None = None, repeats: int = 1) -> dict[str, float]:
    """:func:`orthogonal_fraction_of` the rule's mean update and the loss gradient, at the current weights."""
    theta = parameters_vector(model, params)
    u = rule_field(model, rule, closure, params, repeats)(theta)
    return orthogonal_fraction_of(u, true_gradient(model, closure, params))


def antisymmetry_of(field: Field, theta: torch.Tensor, probes: int = 16, eps: float = 1e-4,
                    seed: int = 0) -> dict[str, float]:
    """``a = ||J - J^T||_F / ||J + J^T||_F`` of ``field`` at ``theta`` from ``probes`` random probe pairs
    (module docstring); central differences of step ``eps`` (relative to |theta|, at least ``eps``).
    Also returns the two Frobenius norms' estimates."""
    if probes < 1:
        raise ValueError(f"probes={probes!r} must be >= 1")
    gen = torch.Generator().manual_seed(int(seed))
    h = eps * max(1.0, float(theta.norm()) / math.sqrt(theta.numel()))

    def jvp(v: torch.Tensor) -> torch.Tensor:
        return (field(theta + h * v) - field(theta - h * v)) / (2.0 * h)

    anti = sym = 0.0
    for _ in range(probes):
        v = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
        w = torch.randn(theta.shape, generator=gen, dtype=theta.dtype)
        vjw, wjv = float(v @ jvp(w)), float(w @ jvp(v))
        anti += (vjw - wjv) ** 2
        sym += (vjw + wjv) ** 2
    anti, sym = math.sqrt(anti / probes), math.sqrt(sym / probes)
    return {"antisymmetry": anti / sym if sym > 0 else math.inf, "antisym_norm": anti, "sym_norm": sym}


def antisymmetry(model: nn.Module, rule: LearningRule, closure: Closure,
                 params: Sequence[nn.Parameter] | None = None, probes: int = 16, eps: float = 1e-4,
                 seed: int = 0, repeats: int = 1) -> dict[str, float]:
    """:func:`antisymmetry_of` the rule's mean-update field over ``params`` at the current weights."""
    return antisymmetry_of(rule_field(model, rule, closure, params, repeats), parameters_vector(model, params),
                           probes, eps, seed)


def along_training(model: nn.Module, rule: LearningRule, closure: Closure, steps: int, lr: float,
                   every: int = 10, params: Sequence[nn.Parameter] | None = None, probes: int = 8,
                   eps: float = 1e-4, seed: int = 0, repeats: int = 1) -> list[dict[str, float]]:
    """Train ``model`` (prepared for ``rule``) with plain SGD on ``closure`` for ``steps`` steps, and
    record the loss, the orthogonal fraction and the antisymmetry every ``every`` steps (and at the end)."""
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr)
    out: list[dict[str, float]] = []
    for step in range(steps + 1):
        if step % every == 0 or step == steps:
            with torch.no_grad():
                loss = float(closure())
            out.append({"step": float(step), "loss": loss,
                        **orthogonal_fraction(model, rule, closure, params, repeats),
                        **antisymmetry(model, rule, closure, params, probes, eps, seed + step, repeats)})
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        rule.compute_grads(model, closure)
        opt.step()
    return out
