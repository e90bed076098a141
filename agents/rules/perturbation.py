"""Node and weight perturbation (Werfel, Xie & Seung 2005): zeroth-order gradient estimates.

Both rules only evaluate the loss (``closure()`` under ``torch.no_grad``): once clean, then once per
perturbation (twice with ``antithetic=True``), and estimate the gradient as ``(dL / sigma^2) * xi``
averaged over ``num_perturbations`` draws ``xi ~ N(0, sigma^2)``. The estimate is unbiased to first order;
a single draw has E|cos| to the true gradient of Gamma(D/2) / (sqrt(pi) Gamma((D+1)/2)) ~ sqrt(2/(pi D)).

- node_perturbation: noise on the outputs of every layer ("nodes": D = number of output units), the
  estimated node error times the layer's presynaptic input gives its update (computed as the layer's own
  local vector-Jacobian product: no error travels between layers). Layers: Linear, Conv1d/2d/3d,
  RNNCell/GRUCell/LSTMCell (each call, i.e. each time step, is perturbed on its own), normalisation
  layers and embeddings. Vector parameters of other modules (a log-std) get weight-perturbation
  estimates in the same passes. Full-sequence nn.RNN/GRU/LSTM are refused: use the cells.
- weight_perturbation: noise on every trainable parameter (D = number of weights): any module.

The closure must be deterministic apart from this noise (no dropout, no sampling inside it); batch-norm
running statistics see every perturbed pass.

Budget through the normal trainer (``tests/agents/rules/test_trainer.py``): both rules stay at chance with
the default conv agent on OrientationDiscriminationEasy. They learn with a small agent on fixed-phase
16 px gratings (``env.kwargs={"size": 16, "phase": 0.0}``, ``arch.name=mlp``, ``arch.mlp_hidden=[8]``,
``arch.center_images=true``: on uncentred [0, 1] pixels the node-error estimate times the common mean
image pushes every weight of a unit the same way and saturates it), ``num_perturbations=16, sigma=0.01,
antithetic=True`` and the env's PPO schedule: accuracy 1.000 for 8 seeds x 3 code paths, against
0.367-0.575 untrained (``assets/robustness.md``). In a minibatch every sample's output noise enters the
one scalar loss, so node perturbation's estimate carries the noise of all B x M perturbed units, not M.
"""

from __future__ import annotations

import contextlib
from typing import cast

import torch
from torch import nn

from agents.rules._support import (
    CELLS,
    CONV,
    LINEAR,
    LOCAL,
    accumulate_grad,
    base_type,
    check_modules,
    check_prepared,
    flat_tensors,
    map_tensors,
    mark_prepared,
    rule_seed,
    trainable_direct,
)
from agents.rules.base import LearningRule, LossClosure, Settings

_NODE_UNITS = LINEAR + CONV + CELLS


def _scalar(loss: torch.Tensor, rule: str) -> float:
    if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
        raise ValueError(f"rule={rule!r}: the closure must return a scalar loss tensor, got "
                         f"{type(loss).__name__} {tuple(getattr(loss, 'shape', ()))}")
    return float(loss)


class _Perturbation(LearningRule):
    """Shared options and the loop over perturbations."""

    stochastic = True
    # Fig. 2: one noise draw per update (single-sample estimates, as in the figure) and a step small
    # enough not to diverge; they barely learn in a few epochs (NP is ~M, WP ~N x M slower than GD).
    fig2 = Settings({"sigma": 1e-3}, "sgd", 0.001)
    supervised = Settings({"num_perturbations": 16, "sigma": 1e-2, "antithetic": True}, "sgd", 0.3)
    # Through the trainer they stay at chance with the default conv agent; a small agent on centred
    # fixed-phase 16 px gratings learns (module docstring; agents/experiments/checks.py has the audit).
    trainer_steps = 65536
    trainer_overrides = ('env.kwargs={"size": 16, "phase": 0.0}', "arch.name=mlp", "arch.mlp_hidden=[8]",
                         "arch.center_images=true",
                         'rule.kwargs={"num_perturbations": 16, "sigma": 0.01, "antithetic": true}')

    def __init__(self, sigma: float = 1e-3, num_perturbations: int = 1, antithetic: bool = False,
                 seed: int = 0):
        if not (isinstance(sigma, (int, float)) and sigma > 0):
            raise ValueError(f"sigma={sigma!r} must be a number > 0 (the noise standard deviation)")
        if not (isinstance(num_perturbations, int) and num_perturbations >= 1):
            raise ValueError(f"num_perturbations={num_perturbations!r} must be an integer >= 1")
        self.sigma, self.num_perturbations = float(sigma), int(num_perturbations)
        self.antithetic, self.seed = bool(antithetic), int(seed)
        self._gens: dict[torch.device, torch.Generator] = {}

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        mark_prepared(model, self.name)
        return model

    def _noise(self, like: torch.Tensor) -> torch.Tensor:
        gen = self._gens.get(like.device)
        if gen is None:
            gen = torch.Generator(device=like.device).manual_seed(rule_seed(self.seed, self.name))
            self._gens[like.device] = gen
        return torch.randn(like.shape, generator=gen, device=like.device, dtype=like.dtype) * self.sigma

    def _coefficients(self, closure: LossClosure, perturb, base: float | None = None) -> tuple[float, list[float]]:
        """Clean loss and, per draw k, c_k with estimate = sum_k c_k xi_k. ``perturb(k, sign)`` is a
        context manager that applies draw k (drawn on first use) with the given sign."""
        k_all, s2 = self.num_perturbations, self.sigma ** 2
        with torch.no_grad():
            if base is None:
                base = _scalar(closure(), self.name)
            cs = []
            for k in range(k_all):
                with perturb(k, 1.0):
                    lp = _scalar(closure(), self.name)
                if self.antithetic:
                    with perturb(k, -1.0):
                        lm = _scalar(closure(), self.name)
                    cs.append((lp - lm) / (2.0 * s2 * k_all))
                else:
                    cs.append((lp - base) / (s2 * k_all))
        return base, cs


class _ParamNoise:
    """Context manager factory adding draw k of parameter noise (restoring the exact values after)."""

    def __init__(self, rule: _Perturbation, params: list[nn.Parameter]):
        self.rule, self.params = rule, params
        self.draws: list[list[torch.Tensor]] = []

    def __call__(self, k: int, sign: float):
        @contextlib.contextmanager
        def cm():
            if k == len(self.draws):
                self.draws.append([self.rule._noise(p) for p in self.params])
            saved = [p.detach().clone() for p in self.params]
            try:
                with torch.no_grad():
                    for p, xi in zip(self.params, self.draws[k], strict=True):
                        p.add_(xi, alpha=sign)
                yield
            finally:
                with torch.no_grad():
                    for p, s in zip(self.params, saved, strict=True):
                        p.copy_(s)
        return cm()


class WeightPerturbation(_Perturbation):
    """Weight perturbation: noise on every trainable parameter; any architecture."""

    name = "weight_perturbation"
    label = "weight perturbation"
    summary = "loss change under noise on every weight; `sigma`, `num_perturbations`, `antithetic`"
    trains_any_module = True
    # REINFORCE on 16 px gratings, 256-32-2 net, 300 updates: lr 0.3 (node perturbation's) left seeds 3 and 5
    # of 8 answering one side (0.49 / 0.51); 0.6 gives 0.69-0.73 on all 8, 0.1 does not learn in the budget
    supervised = Settings({"num_perturbations": 16, "sigma": 1e-2, "antithetic": True}, "sgd", 0.6)

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        params = [p for p in model.parameters() if p.requires_grad]
        noise = _ParamNoise(self, params)
        base, cs = self._coefficients(closure, noise)
        for i, p in enumerate(params):
            accumulate_grad(p, cast(torch.Tensor, sum(c * d[i] for c, d in zip(cs, noise.draws, strict=True))))
        return {"loss": base}


class _NodeHooks:
    """Forward hooks on the layers: record each call's inputs (clean pass) or add node noise."""

    def __init__(self, rule: _Perturbation, units: list[nn.Module]):
        self.rule, self.units = rule, units
        self.mode = "off"
        self.inputs: dict[nn.Module, list[tuple]] = {m: [] for m in units}
        self.draws: list[dict[nn.Module, list[list[torch.Tensor]]]] = []
        self._k, self._sign = 0, 1.0
        self._count: dict[nn.Module, int] = {}

    def hook(self, module: nn.Module, args: tuple, kwargs: dict, output):
        if self.mode == "record":
            detach = lambda t: t.detach()  # noqa: E731
            self.inputs[module].append((map_tensors(args, detach), map_tensors(kwargs, detach)))
            return None
        if self.mode != "perturb":
            return None
        j = self._count.get(module, 0)
        self._count[module] = j + 1
        calls = self.draws[self._k].setdefault(module, [])
        if j == len(calls):
            calls.append([self.rule._noise(t) for t in flat_tensors(output) if t.is_floating_point()])
        it = iter(calls[j])
        return map_tensors(output, lambda t: t + self._sign * next(it))

    def __call__(self, k: int, sign: float):
        @contextlib.contextmanager
        def cm():
            if k == len(self.draws):
                self.draws.append({})
            self.mode, self._k, self._sign, self._count = "perturb", k, sign, {}
            try:
                yield
            finally:
                self.mode = "off"
        return cm()


class NodePerturbation(_Perturbation):
    """Node perturbation: noise on every layer's outputs; updates are local (error x presynaptic)."""

    name = "node_perturbation"
    label = "node perturbation"
    summary = ("loss change under noise on each layer's outputs (Werfel 2005); `sigma`, `num_perturbations`, "
               "`antithetic`")
    supports = "Linear, Conv, RNN cells"

    def check_supported(self, model: nn.Module) -> None:
        check_modules(model, self.name, _NODE_UNITS,
                      also=" (for recurrent layers use RNNCell/GRUCell/LSTMCell step by step: each step's "
                      "output is perturbed)")

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        units, extra = [], []
        for m in model.modules():
            own = trainable_direct(m)
            if own and base_type(m) in _NODE_UNITS + LOCAL:
                units.append(m)
            else:
                extra += [p for _, p in own]
        hooks = _NodeHooks(self, units)
        handles = [m.register_forward_hook(hooks.hook, with_kwargs=True) for m in units]
        pnoise = _ParamNoise(self, extra)

        def perturb(k: int, sign: float):
            @contextlib.contextmanager
            def cm():
                with hooks(k, sign), pnoise(k, sign):
                    yield
            return cm()

        try:
            hooks.mode = "record"
            with torch.no_grad():
                base = _scalar(closure(), self.name)
            hooks.mode = "off"
            _, cs = self._coefficients(closure, perturb, base)
        finally:
            hooks.mode = "off"
            for h in handles:
                h.remove()
        for m in units:  # node error estimate -> this layer's own weight update (local VJP)
            for j, (args, kwargs) in enumerate(hooks.inputs[m]):
                per_draw = [[c * x for x in draw[m][j]] for c, draw in zip(cs, hooks.draws, strict=True)]
                grads = [sum(parts) for parts in zip(*per_draw, strict=True)]
                with torch.enable_grad():
                    out = [t for t in flat_tensors(m(*args, **kwargs)) if t.is_floating_point()]
                pairs = [(o, g) for o, g in zip(out, grads, strict=True) if o.requires_grad]
                if pairs:
                    torch.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        for i, p in enumerate(extra):
            accumulate_grad(p, cast(torch.Tensor, sum(c * d[i] for c, d in zip(cs, pnoise.draws, strict=True))))
        return {"loss": base}

