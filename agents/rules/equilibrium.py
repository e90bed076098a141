"""Equilibrium propagation (Scellier & Bengio 2017) and contrastive Hebbian learning, its clamped limit.

The model, an ``nn.Sequential`` of ``Linear`` layers with a smooth bounded nonlinearity ``rho`` after each
hidden one (``Tanh``, ``Sigmoid``, ``Softsign``; an optional leading ``Flatten``; a linear output layer),
becomes a layered continuous Hopfield network with the same weights. Its state is the pre-activation
``u_k`` of every layer ``k = 1..L`` (rates ``r_k = rho(u_k)``, ``r_L = u_L`` for the linear output layer,
``r_0 = x`` the clamped input). The energy of one sample is

    E = sum_k [ G_k(r_k) - r_k . (W_k r_{k-1} + b_k) ],   G_k(r) = integral_0^r rho^{-1},

(the continuous Hopfield energy, Hopfield 1984; ``G_L(r) = r^2 / 2``), and the state follows
``u_k <- u_k + step_size * (-u_k + W_k r_{k-1} + b_k + W_{k+1}^T r_{k+1})``, i.e. ``du/dt = -dE/dr``, which
lowers E. Its fixed point is the feed-forward pass plus top-down feedback through the transposed
weights; relaxation starts from the feed-forward pass (where it would stop if the feedback were zero).
So **the prepared model's forward pass is the free relaxation**: ``model(x)`` returns the output ``u_L``
at the free equilibrium (up to ``steps`` steps, stopping early when no state moves more than ``tol``),
and is differentiable (backprop through the unrolled relaxation is the gradient of the loss at the free
equilibrium once it has converged: the "true gradient" Fig. 2 compares with).

The loss: the closure's scalar loss ``C`` (a mean over the samples, the first axis) of the model's output.
The rule calls the closure with the output replaced by the current output state (a leaf tensor) and
differentiates, so any loss of the output works (cross-entropy, squared error, a policy loss). The
closure must call the prepared model once, on the same input each time.

- ``equilibrium_propagation``: free phase to ``s_0``; nudged phase from ``s_0`` on ``E + beta * C``
  (the output unit of sample i is pushed by ``-beta * n * dC/du_L,i``) to ``s_beta``; the update
  ``(dE/dtheta(s_beta) - dE/dtheta(s_0)) / beta`` (E averaged over samples), which tends to the gradient of
  C at ``s_0`` as beta -> 0 with an O(beta) bias; ``symmetric=True`` (Laborieux et al. 2021) relaxes to
  ``s_beta`` and ``s_-beta`` and divides their difference by ``2 beta``: O(beta^2). For ``W_k`` the update
  is local and Hebbian: ``-(r_k r_{k-1}^T |_beta - r_k r_{k-1}^T |_0) / beta``.
- ``contrastive_hebbian`` (Movellan 1991; the clamped limit): the output is clamped to a target and the
  hidden layers relax; update ``dE/dtheta(clamped) - dE/dtheta(free)``. The target is the free output
  moved one step down the per-sample loss, ``u_L - n dC/du_L`` (for a per-sample squared error
  ``|u - t|^2 / 2`` summed over outputs, exactly ``t``; for cross-entropy ``u + onehot - softmax(u)``).
  Its update is not the gradient of anything measured here: biased at any step.

A nudge of -beta large enough makes an energy unbounded below (squared error with beta <= -1): the
states then blow up, which is detected and raised. Cost per update: up to ``steps`` free steps and
``steps`` nudged steps (twice that symmetric), each nudged step one call of the closure: 30-100x backprop.
Only such MLPs are supported (no conv, no recurrent layers, no branching heads, no normalisation layer
inside the chain, unlike the other rules: an energy network needs one chain of Linear layers and
elementwise nonlinearities): ``prepare`` names the module or model it refuses. The PPO agents of the
trainer are not single chains (a conv or MLP torso and two heads), so ``prepare`` refuses them and the
rules are kept out of the trainer-level and REINFORCE task checks (``learns_tasks = False``).

Measured (tests/agents/rules/test_equilibrium.py; 6-12-3 tanh net, 16 samples, squared error, float64,
true gradient by central finite differences at the re-relaxed free equilibrium): the angle to it falls
like beta one-sided (seed 0: 11.1, 6.0, 3.1, 1.6 deg at beta 0.2, 0.1, 0.05, 0.025) and like beta^2
symmetric (6.7, 1.75, 0.44, 0.11 deg); CHL 31-55 deg over 8 seeds. Finite relaxation adds its own bias:
symmetric, beta 0.01, step_size 0.5, 5/10/20/40/80 steps per phase: 8-11, 2.3-3.7, 0.26-0.59, 0.016-0.026,
0.016-0.022 deg (3 seeds). Digits (64-32-10, 8 epochs, Adam 3e-3, 8 seeds): EP 0.898-0.944, backprop
0.930-0.967. The gap is the energy network's, not EP's: backprop through its unrolled relaxation learns
no faster (64-32-10, 3 epochs: 0.888, 0.886, 0.847 for seeds 0-2; EP 0.870, 0.886, 0.843).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import nn

from agents.rules._support import check_prepared, linear_chain, mark_prepared
from agents.rules.base import LearningRule, LossClosure, Settings

# Smooth, bounded, increasing: the Hopfield energy is bounded below and its stationary points are interior.
BOUNDED: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Sigmoid, nn.Softsign)
_BLOWUP = 1e6
# The registered rules built on this energy network: unlike the others, they refuse a model with norms or
# vector parameters outside one Linear chain (tests/agents/rules/test_feedback.py reads this).
ENERGY_CHAIN_ONLY: tuple[str, ...] = ("equilibrium_propagation", "contrastive_hebbian")


class _Capture:
    """What the prepared model's forward does while the rule runs the closure."""

    def __init__(self, free: Callable[[torch.Tensor], list[torch.Tensor]]):
        self.free = free
        self.x: torch.Tensor | None = None
        self.states: list[torch.Tensor] | None = None
        self.output: torch.Tensor | None = None  # the output state handed to the closure (None: free)
        self.leaf: torch.Tensor | None = None
        self.calls = 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.x is None:
            self.x = x.detach()
            with torch.no_grad():
                self.states = self.free(self.x)
            out = self.states[-1]
        else:
            if x.shape != self.x.shape or not torch.equal(x.detach(), self.x):
                raise RuntimeError("the closure must call the model on the same input each time")
            assert self.states is not None
            out = self.states[-1] if self.output is None else self.output
        self.leaf = out.detach().clone().requires_grad_(True)
        return self.leaf


class EnergyMLP(nn.Sequential):
    """The layered Hopfield network of an MLP (module docstring): same modules, same parameter names;
    ``forward`` is the free relaxation from the feed-forward pass."""

    def setup(self, steps: int, tol: float, step_size: float) -> None:
        mods = list(self)
        self._ep_flatten = bool(mods) and isinstance(mods[0], nn.Flatten)
        body = mods[1:] if self._ep_flatten else mods
        self._ep_linears: list[nn.Linear] = [m for m in body if isinstance(m, nn.Linear)]
        self._ep_acts: list[nn.Module] = [m for m in body if not isinstance(m, nn.Linear)]
        self._ep_steps, self._ep_tol, self._ep_step_size = steps, tol, step_size
        self._ep_capture: _Capture | None = None

    def _input(self, x: torch.Tensor) -> torch.Tensor:
        x = self[0](x) if self._ep_flatten else x
        if x.dim() != 2:
            raise ValueError(f"the energy network takes (batch, features) inputs, got shape {tuple(x.shape)}")
        return x

    def rates(self, us: list[torch.Tensor]) -> list[torch.Tensor]:
        return [a(u) for a, u in zip(self._ep_acts, us[:-1], strict=True)] + [us[-1]]

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        us, r = [], x
        for k, lin in enumerate(self._ep_linears):
            us.append(lin(r))
            if k < len(self._ep_acts):
                r = self._ep_acts[k](us[-1])
        return us

    def relax(self, x: torch.Tensor, us: list[torch.Tensor], steps: int, tol: float, step_size: float,
              nudge: Callable[[torch.Tensor], torch.Tensor] | None = None,
              clamp: torch.Tensor | None = None) -> tuple[list[torch.Tensor], int]:
        """Up to ``steps`` steps of ``u <- u + step_size (-u + drive)``; ``nudge(u_L)`` is added to the output
        unit's drive; ``clamp`` fixes the output state. Returns the states and the steps taken."""
        lins = self._ep_linears
        if clamp is not None:
            us = [*us[:-1], clamp]
        for t in range(steps):
            rs = [x, *self.rates(us)]
            new = []
            for k, lin in enumerate(lins):
                if clamp is not None and k == len(lins) - 1:
                    new.append(clamp)
                    continue
                drive = lin(rs[k])
                if k + 1 < len(lins):
                    drive = drive + rs[k + 2] @ lins[k + 1].weight
                elif nudge is not None:
                    drive = drive + nudge(us[k])
                new.append(us[k] + step_size * (drive - us[k]))
            with torch.no_grad():
                move = max(float((a - b).abs().max()) for a, b in zip(new, us, strict=True))
                big = max(float(u.abs().max()) for u in new)
            if not (big < _BLOWUP):  # also NaN
                raise FloatingPointError(
                    f"the energy network's states diverged (|u| = {big:.3g} after {t + 1} steps): the nudged "
                    "energy is unbounded below (a negative beta too large for this loss) or step_size is too large")
            us = new
            if move < tol:
                return us, t + 1
        return us, steps

    def free(self, x: torch.Tensor, steps: int | None = None, tol: float | None = None,
             step_size: float | None = None) -> list[torch.Tensor]:
        x = self._input(x)
        us, _ = self.relax(x, self.feedforward(x), self._ep_steps if steps is None else steps,
                           self._ep_tol if tol is None else tol,
                           self._ep_step_size if step_size is None else step_size)
        return us

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._ep_capture is not None:
            return self._ep_capture(x)
        return self.free(x)[-1]

    def coupling(self, x: torch.Tensor, us: list[torch.Tensor]) -> torch.Tensor:
        """The parameter-dependent part of E at states ``us`` (detached), averaged over samples: its
        gradient is ``dE/dtheta``, -r_k r_{k-1}^T per weight matrix."""
        with torch.no_grad():
            rs = [x.detach(), *self.rates([u.detach() for u in us])]
        with torch.enable_grad():
            e = x.new_zeros(())
            for k, lin in enumerate(self._ep_linears):
                e = e - (rs[k + 1] * lin(rs[k])).sum()
            return e / x.shape[0]


def check_mlp(model: nn.Module, rule: str) -> None:
    """Raise ValueError naming what ``rule`` cannot turn into a layered energy network."""
    linear_chain(model, rule, BOUNDED, "a smooth bounded nonlinearity", "an energy network", "the energy network",
                 "a linear output unit of the energy network")


def _positive(name: str, v: object) -> float:
    if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
        raise ValueError(f"{name}={v!r} must be a number > 0")
    return float(v)


class _EnergyRule(LearningRule):
    supports = "MLPs: nn.Sequential of Linear + Tanh/Sigmoid/Softsign (optional leading Flatten)"
    learns_tasks = False  # the trainer's agents are no single Linear chain (torso + policy and value heads)

    def __init__(self, steps: int = 50, tol: float = 1e-5, step_size: float = 0.5):
        if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 1):
            raise ValueError(f"steps={steps!r} must be an integer >= 1 (relaxation steps per phase)")
        self.steps, self.tol = steps, _positive("tol", tol)
        self.step_size = _positive("step_size", step_size)
        if self.step_size > 1:
            raise ValueError(f"step_size={step_size!r} must be <= 1 (1: the fixed-point iteration)")

    def check_supported(self, model: nn.Module) -> None:
        check_mlp(model, self.name)

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        net = model if isinstance(model, EnergyMLP) else EnergyMLP(OrderedDict(model.named_children()))
        net.train(model.training)
        assert isinstance(net, EnergyMLP)
        net.setup(self.steps, self.tol, self.step_size)
        mark_prepared(net, self.name)
        return net

    def _phases(self, net: EnergyMLP, x: torch.Tensor, s0: list[torch.Tensor],
                out_grad: Callable[[torch.Tensor], torch.Tensor],
                g0: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], float, dict[str, float]]:
        """(states a, states b, scale, metrics): the update is ``(dE/dtheta(a) - dE/dtheta(b)) * scale``."""
        raise NotImplementedError

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        assert isinstance(model, EnergyMLP)
        net = model
        cap = _Capture(lambda x: net.free(x, self.steps, self.tol, self.step_size))
        net._ep_capture = cap

        def call() -> tuple[torch.Tensor, torch.Tensor]:
            calls = cap.calls
            with torch.enable_grad():
                loss = closure()
                if cap.calls != calls + 1:
                    raise RuntimeError(f"rule={self.name!r}: the closure must call the prepared model exactly "
                                       f"once (it called it {cap.calls - calls} times)")
                if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                    raise ValueError(f"rule={self.name!r}: the closure must return a scalar loss tensor")
                assert cap.leaf is not None
                (g,) = torch.autograd.grad(loss.reshape(()), cap.leaf, allow_unused=True)
            return loss.detach(), torch.zeros_like(cap.leaf) if g is None else g

        try:
            loss0, g0 = call()
            assert cap.x is not None and cap.states is not None
            x, s0 = net._input(cap.x), cap.states

            def out_grad(u: torch.Tensor) -> torch.Tensor:
                cap.output = u
                return call()[1]

            with torch.no_grad():
                s_a, s_b, scale, metrics = self._phases(net, x, s0, out_grad, g0)
        finally:
            net._ep_capture = None
        params = [p for p in net.parameters() if p.requires_grad]
        if params:
            with torch.enable_grad():
                diff = (net.coupling(x, s_a) - net.coupling(x, s_b)) * scale
                torch.autograd.backward(diff, inputs=params)
        return {"loss": float(loss0), **metrics}


class EquilibriumPropagation(_EnergyRule):
    """Free and nudged phases of a layered Hopfield network (module docstring)."""

    name = "equilibrium_propagation"
    label = "equilibrium propagation"
    summary = ("free relaxation of a layered Hopfield network, nudged phase of strength beta, update from the "
               "difference / beta (Scellier & Bengio 2017); `beta`, `symmetric` (Laborieux et al. 2021), "
               "`steps`, `tol`, `step_size`")
    fig2 = Settings({"beta": 0.1, "symmetric": True, "steps": 50}, "sgd", 0.1)
    supervised = Settings({"beta": 0.1, "symmetric": True, "steps": 30})

    def __init__(self, beta: float = 0.1, symmetric: bool = False, steps: int = 50, tol: float = 1e-5,
                 step_size: float = 0.5):
        super().__init__(steps, tol, step_size)
        if not (isinstance(beta, (int, float)) and not isinstance(beta, bool) and beta != 0):
            raise ValueError(f"beta={beta!r} must be a nonzero number (the nudging strength)")
        if not isinstance(symmetric, bool):
            raise ValueError(f"symmetric={symmetric!r} must be True or False")
        self.beta, self.symmetric = float(beta), symmetric

    def _phases(self, net, x, s0, out_grad, g0):
        n = g0.shape[0]

        def nudged(beta: float) -> tuple[list[torch.Tensor], int]:
            return net.relax(x, s0, self.steps, self.tol, self.step_size,
                             nudge=lambda u: -beta * n * out_grad(u))

        plus, t_plus = nudged(self.beta)
        if self.symmetric:
            minus, t_minus = nudged(-self.beta)
            return plus, minus, 1 / (2 * self.beta), {"ep_nudged_steps": float(t_plus + t_minus)}
        return plus, s0, 1 / self.beta, {"ep_nudged_steps": float(t_plus)}


class ContrastiveHebbian(_EnergyRule):
    """Free phase, then the output clamped to the loss's one-step target (module docstring)."""

    name = "contrastive_hebbian"
    label = "contrastive Hebbian"
    summary = ("equilibrium propagation's clamped limit: output clamped to a target, update = clamped - free "
               "Hebbian terms (Movellan 1991); `steps`, `tol`, `step_size`")
    fig2 = Settings({"steps": 50}, "sgd", 0.1)
    supervised = Settings({"steps": 30})

    def _phases(self, net, x, s0, out_grad, g0):
        target = s0[-1] - g0.shape[0] * g0
        clamped, t = net.relax(x, s0, self.steps, self.tol, self.step_size, clamp=target)
        return clamped, s0, 1.0, {"chl_clamped_steps": float(t)}
