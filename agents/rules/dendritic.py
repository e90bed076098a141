"""Dendritic error learning (Sacramento, Costa, Bengio & Senn 2018, NeurIPS: "Dendritic cortical microcircuits
approximate the backpropagation algorithm"), as a steady-state rate model.

The model, an ``nn.Sequential`` MLP (Linear, elementwise nonlinearity, ..., Linear; optional leading Flatten),
keeps its layers and its forward pass. Its layers ``k = 1..L`` become pyramidal populations with three
compartments: the **basal** potential ``b_k = W_k r_{k-1} + c_k`` (the model's own Linear), the **apical**
potential ``a_k = B_k r_{k+1} + P_k i_k`` (hidden layers only) and the **soma** ``u_k = b_k + gain * a_k``
(rates ``r_k = phi_k(u_k)``, ``r_0 = x``; the output layer is linear, ``r_L = u_L``). Each hidden layer has
lateral **interneurons** ``i_k = phi_{k+1}(Q_k r_k + q_k)``, one per unit of the layer above, driven by the
layer's own pyramids: ``B_k`` (top-down, from the layer above), ``Q_k, q_k`` (pyramid -> interneuron) and
``P_k`` (interneuron -> apical) are buffers of the prepared model, not parameters.

- **Self-prediction** (the paper's first phase, and its plasticity during the task): the interneurons learn
  to predict the layer above, ``Q_k <- Q_k + eta (r_{k+1} - i_k) r_k^T`` (its basal input, so ``Q_k -> W_{k+1}``),
  and the interneuron -> apical weights learn to silence the apical compartment at rest,
  ``P_k <- P_k - eta a_k i_k^T`` (so ``P_k -> -B_k``). Then the apical mismatch ``a_k = B_k (r_{k+1} - i_k)``
  (top-down minus the interneurons' prediction of it) is zero at rest. ``prepare`` runs
  ``self_prediction_steps`` such steps on random N(0, 1) inputs (batches of 64); ``compute_grads`` goes on
  with ``interneuron_lr`` on each batch's rest state (after computing the update), so the interneurons
  track the forward weights as they learn (0: frozen).
- **Task**: the output soma is nudged toward the loss's one-step target ``t = u_L - n dC/du_L`` (exactly
  the target for a per-sample squared error; for cross-entropy ``u + onehot - softmax``): ``u_L = b_L + beta
  (t - b_L)``. The network relaxes to its fixed point (Jacobi iteration from the feed-forward pass, up to
  ``steps`` steps, until no soma moves more than ``tol``). At the fixed point, with perfect self-prediction,
  ``a_k = B_k (r_{k+1} - phi_{k+1}(b_{k+1}))``: the upper layer's error, sent back through ``B_k``. Every
  layer's basal weights follow the dendritic prediction error (Urbanczik & Senn 2014):
  ``dW_k ~ (phi_k(u_k) - phi_k(b_k)) r_{k-1}^T`` (``u_L - b_L`` at the output), scaled by
  ``1 / (n beta gain^(L-k))`` so that the update has the scale of a loss gradient. With ``B_k = W_{k+1}^T``,
  perfect self-prediction and ``beta -> 0`` this is backprop's gradient; imperfect self-prediction adds the
  rest-state apical mismatch ``gain * a_k`` (not scaled by beta) to every hidden error: a bias that grows as
  beta shrinks.
- ``top_down``: ``'random'`` (fixed random B_k drawn like ``W_{k+1}^T``'s initialisation: feedback-alignment-
  like, as Guerguiev, Lillicrap & Richards 2017) or ``'aligned'`` (``B_k = W_{k+1}^T`` at every update: the
  idealised case of top-down weights learned to match the forward ones).

Simplifications (against the paper's spiking/continuous-time model): rates and steady states only (no
dynamics, no noise, no low-pass filtering); conductances absorbed into the weights (the basal prediction
is ``b_k`` itself, apical coupling ``gain``); interneurons are not nudged by the layer above during the task
(their somatic teaching input is used only as the target of their plasticity, the upper layer's rest rate);
self-prediction learns at the feed-forward rest state with a normalised (NLMS) learning rate
``eta / mean |presynaptic rate|^2`` (stable for eta < 2); the weight update is computed at the fixed point
in one shot instead of continuously; top-down weights are fixed or aligned, not learned with the paper's
reconstruction rule.

Cost per update: one closure call (the loss's output gradient), one feed-forward pass and up to ``steps``
relaxation steps, each about two feed-forward passes (basal, interneuron and top-down matrices); the
default ``tol`` stops after 6 steps on the digits net. Measured (one core, ``agents.experiments.bench_rules``):
12x backprop's update on 64-128-128-10 (0.60 ms per relaxation step), 13.5x on 784-512-512-10 batch 256.
Each update reports ``apical_mismatch`` (the rest-state self-prediction error, before the interneurons
learn from the batch). The interneurons also learn while a probe (Fig. 2) calls ``compute_grads``: pass
``interneuron_lr=0`` to hold the self-prediction quality fixed.

Measured (tests/agents/rules/test_dendritic.py, 8 seeds x 4 CPU code paths): 1000
self-prediction steps bring the rest apical mismatch on digits from 2.2-8.9 to <= 2.4e-5; with aligned
top-down weights, beta 0.1 and frozen interneurons every step of better self-prediction (100 / 300 / 1000 /
3000 steps) lowers the angle to backprop (23-63 deg at 100 steps); aligned + perfect self-prediction: the
angle falls like beta, 0.06-0.15 deg at beta 0.001; digits 64-32-10, 8 epochs, Adam 3e-3, defaults (random
top-down, beta 0.5): 0.923-0.938, backprop 0.930-0.967.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
from torch import nn

from agents.rules._support import check_prepared, linear_chain, mark_prepared, rule_seed
from agents.rules.base import LearningRule, LossClosure, Settings

# Elementwise nonlinearities a pyramidal layer may use (its rate function).
ELEMENTWISE: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Sigmoid, nn.Softsign, nn.ReLU, nn.LeakyReLU, nn.ELU,
                                           nn.GELU, nn.SiLU, nn.Softplus, nn.Identity)
TOP_DOWN = ("random", "aligned")
# Rules that, like the energy networks, refuse a model outside one Linear chain (tests/agents/rules/test_feedback.py).
CHAIN_ONLY: tuple[str, ...] = ("dendritic_error",)
_BLOWUP = 1e6
_SP_BATCH = 64


class _Capture:
    """The prepared model's forward while the rule calls the closure: the feed-forward output as a leaf."""

    def __init__(self) -> None:
        self.x: torch.Tensor | None = None
        self.leaf: torch.Tensor | None = None
        self.calls = 0


class DendriticMLP(nn.Sequential):
    """An MLP whose layers are pyramidal populations with interneurons (module docstring): same modules and
    parameter names, ``forward`` the plain feed-forward pass; the microcircuit's weights are buffers."""

    def setup(self, gen: torch.Generator, top_down: str) -> None:
        mods = list(self)
        self._dend_flatten = bool(mods) and isinstance(mods[0], nn.Flatten)
        body = mods[1:] if self._dend_flatten else mods
        self._dend_linears: list[nn.Linear] = [m for m in body if isinstance(m, nn.Linear)]
        self._dend_acts: list[nn.Module] = [m for m in body if not isinstance(m, nn.Linear)] + [nn.Identity()]
        self._dend_top_down = top_down
        self._dend_capture: _Capture | None = None
        lins = self._dend_linears
        w = lins[0].weight
        for k in range(len(lins) - 1):
            n_k, n_up = lins[k].out_features, lins[k + 1].out_features
            bound = 1 / math.sqrt(n_k)

            def draw(*shape: int, bound: float = bound) -> torch.Tensor:
                return ((torch.rand(*shape, generator=gen, dtype=torch.float64) * 2 - 1) * bound).to(w)

            self.register_buffer(f"dend_top_down{k + 1}", draw(n_k, n_up))
            self.register_buffer(f"dend_interneuron{k + 1}", draw(n_up, n_k))
            self.register_buffer(f"dend_interneuron_bias{k + 1}", draw(n_up))
            self.register_buffer(f"dend_inter_apical{k + 1}", draw(n_k, n_up, bound=1 / math.sqrt(n_up)))
        self.refresh_top_down()

    # --- the microcircuit's weights ------------------------------------------------------------------------
    def _buf(self, name: str, k: int) -> torch.Tensor:
        b = getattr(self, f"dend_{name}{k + 1}")
        assert isinstance(b, torch.Tensor)
        return b

    def hidden_layers(self) -> int:
        return len(self._dend_linears) - 1

    def refresh_top_down(self) -> None:
        """``aligned``: copy the forward weights' transposes into the top-down weights."""
        if self._dend_top_down == "aligned":
            with torch.no_grad():
                for k in range(self.hidden_layers()):
                    self._buf("top_down", k).copy_(self._dend_linears[k + 1].weight.detach().T)

    def perfect_self_prediction(self) -> None:
        """Set the interneurons to the exact self-predicting state (Q_k = W_{k+1}, P_k = -B_k)."""
        self.refresh_top_down()
        with torch.no_grad():
            for k in range(self.hidden_layers()):
                up = self._dend_linears[k + 1]
                self._buf("interneuron", k).copy_(up.weight)
                if up.bias is None:
                    self._buf("interneuron_bias", k).zero_()
                else:
                    self._buf("interneuron_bias", k).copy_(up.bias)
                self._buf("inter_apical", k).copy_(-self._buf("top_down", k))

    # --- states --------------------------------------------------------------------------------------------
    def input(self, x: torch.Tensor) -> torch.Tensor:
        x = self[0](x) if self._dend_flatten else x
        if x.dim() != 2:
            raise ValueError(f"the dendritic network takes (batch, features) inputs, got shape {tuple(x.shape)}")
        return x

    def feedforward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Basal potentials of every layer at rest (perfect self-prediction: the somata too)."""
        us, r = [], x
        for lin, act in zip(self._dend_linears, self._dend_acts, strict=True):
            us.append(lin(r))
            r = act(us[-1])
        return us

    def rates(self, x: torch.Tensor, us: list[torch.Tensor]) -> list[torch.Tensor]:
        return [x, *(act(u) for act, u in zip(self._dend_acts, us, strict=True))]

    def interneurons(self, rs: list[torch.Tensor]) -> list[torch.Tensor]:
        """``i_k = phi_{k+1}(Q_k r_k + q_k)`` for each hidden layer (``rs`` from :meth:`rates`)."""
        return [self._dend_acts[k + 1](rs[k + 1] @ self._buf("interneuron", k).T + self._buf("interneuron_bias", k))
                for k in range(self.hidden_layers())]

    def apical(self, rs: list[torch.Tensor], inter: list[torch.Tensor]) -> list[torch.Tensor]:
        """``a_k = B_k r_{k+1} + P_k i_k`` for each hidden layer."""
        return [rs[k + 2] @ self._buf("top_down", k).T + inter[k] @ self._buf("inter_apical", k).T
                for k in range(self.hidden_layers())]

    def apical_mismatch(self, x: torch.Tensor) -> float:
        """Self-prediction error at rest: sum_k |a_k|^2 / sum_k |B_k r_{k+1}|^2 over the feed-forward states of
        ``x`` (0: the interneurons cancel the top-down input; about 1 or more: they do not)."""
        with torch.no_grad():
            rs = self.rates(x, self.feedforward(x))
            a = self.apical(rs, self.interneurons(rs))
            top = [rs[k + 2] @ self._buf("top_down", k).T for k in range(self.hidden_layers())]
            num = sum(float((v ** 2).sum()) for v in a)
            den = sum(float((v ** 2).sum()) for v in top)
        return num / den if den > 0 else 0.0

    def learn_self_prediction(self, x: torch.Tensor, lr: float) -> None:
        """One NLMS step of the interneuron (Q, q) and interneuron -> apical (P) plasticity at rest."""
        with torch.no_grad():
            rs = self.rates(x, self.feedforward(x))
            inter = self.interneurons(rs)
            apical = self.apical(rs, inter)
            n = x.shape[0]
            for k in range(self.hidden_layers()):
                pre = rs[k + 1]
                scale = lr / (n * (float((pre ** 2).sum(1).mean()) + 1.0))  # +1: the bias's constant input
                err = rs[k + 2] - inter[k]
                self._buf("interneuron", k).add_(scale * err.T @ pre)
                self._buf("interneuron_bias", k).add_(scale * err.sum(0))
                scale_i = lr / (n * max(float((inter[k] ** 2).sum(1).mean()), 1e-12))
                self._buf("inter_apical", k).sub_(scale_i * apical[k].T @ inter[k])

    def relax(self, x: torch.Tensor, target: torch.Tensor, beta: float, gain: float, steps: int,
              tol: float) -> tuple[list[torch.Tensor], list[torch.Tensor], int]:
        """The nudged fixed point: (somata, basal potentials, steps taken). The iterated state is the apical
        potentials (from 0: the feed-forward pass): a bottom-up pass of somata ``u_k = b_k + gain a_k`` with
        the current apicals, then new apicals from that pass's rates. So the interneurons and the layer above
        see the same rates of layer k and, with perfect self-prediction, cancel its change exactly."""
        lins = self._dend_linears
        apical = [x.new_zeros(x.shape[0], lin.out_features) for lin in lins[:-1]]
        taken = steps
        for t in range(steps + 1):
            us, basal, r = [], [], x
            for k, lin in enumerate(lins):
                basal.append(lin(r))
                us.append(basal[k] + gain * apical[k] if k < len(apical) else basal[k] + beta * (target - basal[k]))
                r = self._dend_acts[k](us[k])
            if t == steps:
                break
            rs = self.rates(x, us)
            new = self.apical(rs, self.interneurons(rs))
            move = max(float((a - b).abs().max()) for a, b in zip(new, apical, strict=True))
            big = max(float(a.abs().max()) for a in new)
            if not (big < _BLOWUP):  # also NaN
                raise FloatingPointError(f"the dendritic network's apical potentials diverged (|a| = {big:.3g} "
                                         f"after {t + 1} steps): lower the apical gain or the nudging strength beta")
            apical = new
            if move < tol:
                taken = t + 1
                steps = t + 1  # one more bottom-up pass with the converged apicals, then stop
        return us, basal, taken

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cap = self._dend_capture
        if cap is None:
            return super().forward(x)
        cap.calls += 1
        if cap.x is None:
            cap.x = x.detach()
        elif x.shape != cap.x.shape or not torch.equal(x.detach(), cap.x):
            raise RuntimeError("the closure must call the model on the same input each time")
        with torch.no_grad():
            out = super().forward(cap.x)
        cap.leaf = out.detach().clone().requires_grad_(True)
        return cap.leaf


def check_chain(model: nn.Module, rule: str) -> None:
    """Raise ValueError naming what ``rule`` cannot turn into a layered pyramidal network."""
    items = linear_chain(model, rule, ELEMENTWISE, "an elementwise nonlinearity", "a pyramidal microcircuit",
                         "the pyramidal network", "the nudged output pyramids")
    if sum(isinstance(m, nn.Linear) for _, m in items) < 2:
        raise ValueError(f"rule={rule!r}: the model needs at least one hidden layer (two nn.Linear layers): "
                         "dendritic errors reach hidden layers only")


def _number(name: str, v: object, low: float, strict: bool = True, high: float | None = None) -> float:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
    ok = ok and (v > low if strict else v >= low) and (high is None or v <= high)  # type: ignore[operator]
    if not ok:
        rng = f"{'>' if strict else '>='} {low:g}" + (f" and <= {high:g}" if high is not None else "")
        raise ValueError(f"{name}={v!r} must be a finite number {rng}")
    return float(v)  # type: ignore[arg-type]


class DendriticError(LearningRule):
    """Pyramidal neurons with basal, apical and somatic compartments and self-predicting interneurons; the
    apical mismatch is the error (module docstring)."""

    name = "dendritic_error"
    label = "dendritic error"
    summary = ("apical mismatch (top-down minus lateral interneurons' prediction) as the error of pyramidal "
               "basal plasticity, after a self-prediction phase; output nudged toward the target (Sacramento "
               "et al. 2018); `beta` (nudging), `self_prediction_steps`, `interneuron_lr`, `top_down` "
               "(random or aligned), `gain`, `steps`, `tol`, `seed`")
    supports = ("MLPs: nn.Sequential of Linear + elementwise nonlinearities, >= 1 hidden layer (optional leading "
                "Flatten)")
    learns_tasks = False  # the trainer's agents are no single Linear chain (torso + policy and value heads)
    fig2 = Settings({"beta": 0.5, "top_down": "random"}, "sgd", 0.1)
    supervised = Settings({"beta": 0.5, "top_down": "random"})

    def __init__(self, beta: float = 0.5, top_down: str = "random", self_prediction_steps: int = 1000,
                 self_prediction_lr: float = 1.0, interneuron_lr: float = 1.5, gain: float = 1.0,
                 steps: int = 20, tol: float = 1e-6, seed: int = 0):
        self.beta = _number("beta", beta, 0.0, high=1.0)
        if top_down not in TOP_DOWN:
            raise ValueError(f"top_down={top_down!r} must be one of {TOP_DOWN} (fixed random or aligned with the "
                             "forward weights)")
        self.top_down = top_down
        for n, v in (("self_prediction_steps", self_prediction_steps), ("steps", steps)):
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= (0 if n != "steps" else 1)):
                raise ValueError(f"{n}={v!r} must be an integer >= {0 if n != 'steps' else 1}")
        self.self_prediction_steps, self.steps = self_prediction_steps, steps
        self.self_prediction_lr = _number("self_prediction_lr", self_prediction_lr, 0.0, high=1.9)
        self.interneuron_lr = _number("interneuron_lr", interneuron_lr, 0.0, strict=False, high=1.9)
        self.gain = _number("gain", gain, 0.0)
        self.tol = _number("tol", tol, 0.0)
        if not (isinstance(seed, int) and not isinstance(seed, bool)):
            raise ValueError(f"seed={seed!r} must be an integer")
        self.seed = seed

    def check_supported(self, model: nn.Module) -> None:
        check_chain(model, self.name)

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        net = model if isinstance(model, DendriticMLP) else DendriticMLP(OrderedDict(model.named_children()))
        net.train(model.training)
        assert isinstance(net, DendriticMLP)
        gen = torch.Generator().manual_seed(rule_seed(self.seed, self.name))
        net.setup(gen, self.top_down)
        w = net._dend_linears[0].weight
        for _ in range(self.self_prediction_steps):
            x = torch.randn(_SP_BATCH, net._dend_linears[0].in_features, generator=gen, dtype=torch.float64)
            net.learn_self_prediction(x.to(w), self.self_prediction_lr)
        mark_prepared(net, self.name)
        return net

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        assert isinstance(model, DendriticMLP)
        net = model
        cap = _Capture()
        net._dend_capture = cap
        try:
            with torch.enable_grad():
                loss = closure()
            if cap.calls != 1:
                raise RuntimeError(f"rule={self.name!r}: the closure must call the prepared model exactly once "
                                   f"(it called it {cap.calls} times)")
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise ValueError(f"rule={self.name!r}: the closure must return a scalar loss tensor")
            assert cap.leaf is not None and cap.x is not None
            (g,) = torch.autograd.grad(loss.reshape(()), cap.leaf, allow_unused=True)
        finally:
            net._dend_capture = None
        x = net.input(cap.x)
        n = x.shape[0]
        net.refresh_top_down()
        with torch.no_grad():
            g = torch.zeros_like(cap.leaf) if g is None else g
            target = cap.leaf.detach() - n * g
            mismatch = net.apical_mismatch(x)
            us, basal, taken = net.relax(x, target, self.beta, self.gain, self.steps, self.tol)
            rs = net.rates(x, us)
            lins, acts = net._dend_linears, net._dend_acts
            for k, lin in enumerate(lins):
                err = acts[k](us[k]) - acts[k](basal[k])
                scale = -1.0 / (n * self.beta * self.gain ** (len(lins) - 1 - k))
                _add_grad(lin.weight, scale * err.T @ rs[k])
                if lin.bias is not None:
                    _add_grad(lin.bias, scale * err.sum(0))
            if self.interneuron_lr > 0:
                net.learn_self_prediction(x, self.interneuron_lr)
        return {"loss": float(loss.detach()), "apical_mismatch": mismatch, "dendritic_steps": float(taken)}


def _add_grad(p: torch.Tensor, g: torch.Tensor) -> None:
    if not p.requires_grad:
        return
    p.grad = g.clone() if p.grad is None else p.grad + g
