"""Predictive coding as a learning rule (Whittington & Bogacz 2017; Millidge et al. 2022).

Every layer that owns parameters gets a value node ``x`` in place of its output; its forward output
becomes a prediction ``mu = f(inputs)`` of that node. The layers whose outputs feed no other layer are
the output layers: their predictions go to the loss, clamping the output (with precision
``output_precision``: small = weak clamping, 1 = equal precisions). The energy, per sample, is

    F = output_precision * loss + sum_hidden 1/2 |x - mu|^2

The hidden nodes relax for ``steps`` steps ``x <- x - rate * dF/dx`` starting from the feed-forward
values; then every weight moves down ``dF/dW`` at the relaxed nodes, which for each layer is the local
error ``x - mu`` times its presynaptic activity (divided by ``output_precision`` so that updates have
the scale of a loss gradient). With ``fixed_prediction=True`` (Millidge, Tschantz & Buckley 2020) the
predictions and their Jacobians stay at their feed-forward values during relaxation, and the update
converges to backprop's gradient.

Conventions: the closure's loss is a mean over samples, the first axis of each layer's output (the
energy's hidden terms are averaged the same way). The closure must be deterministic (no dropout) and
call the layers in the same order each time. Any layer type works, including RNNCell/GRUCell/LSTMCell
(one value node per call, i.e. per time step); full-sequence nn.RNN/GRU/LSTM are refused (use cells).
Cost: about one forward + one backward per relaxation step (``fixed_prediction``: one backward).
"""

from __future__ import annotations

import torch
from torch import nn

from agents.rules._support import (
    SEQUENCE,
    base_type,
    check_prepared,
    flat_tensors,
    map_tensors,
    mark_prepared,
    trainable_direct,
)
from agents.rules.base import LearningRule, LossClosure, Settings

Key = tuple[int, int]  # (layer index, call index)


def _n(t: torch.Tensor) -> int:
    return t.shape[0] if t.dim() > 0 else 1


class _ValueNodes:
    """Forward hooks that put value nodes in place of layer outputs and record the predictions."""

    def __init__(self, units: list[nn.Module]):
        self.index = {m: i for i, m in enumerate(units)}
        self.x: dict[Key, list[torch.Tensor]] = {}
        self.mu: dict[Key, list[torch.Tensor]] = {}
        self.order: list[tuple[Key, tuple]] = []
        self.outputs: frozenset[Key] | None = None  # None: every layer gets a value node (detection)
        self._count: dict[int, int] = {}
        self.active = False

    def start(self, outputs: frozenset[Key] | None) -> None:
        self.outputs, self.active = outputs, True
        self.mu, self.order, self._count = {}, [], {}

    def hook(self, module: nn.Module, args: tuple, output):
        if not self.active:
            return None
        i = self.index[module]
        j = self._count.get(i, 0)
        self._count[i] = j + 1
        key = (i, j)
        mus = [t for t in flat_tensors(output) if t.is_floating_point()]
        self.mu[key] = mus
        self.order.append((key, tuple(tuple(t.shape) for t in mus)))
        if self.outputs is not None and key in self.outputs:
            return None  # an output layer: its prediction goes to the loss
        xs = self.x.get(key)
        if xs is None or [t.shape for t in xs] != [t.shape for t in mus]:
            xs = self.x[key] = [t.detach().clone().requires_grad_(True) for t in mus]
        it = iter(xs)
        return map_tensors(output, lambda t: next(it))

    def hidden(self) -> list[Key]:
        assert self.outputs is not None
        return [k for k, _ in self.order if k not in self.outputs]


class PredictiveCoding(LearningRule):
    """Inference relaxation of hidden value nodes, then local weight updates (module docstring)."""

    name = "predictive_coding"
    label = "predictive coding"
    summary = ("hidden value nodes relax, then local updates (Whittington & Bogacz 2017); `steps`, `rate`, "
               "`output_precision`, `fixed_prediction`")
    supports = "any layer; recurrence as cells"
    trains_any_module = True
    fig2 = Settings({"steps": 20, "rate": 0.1}, "sgd", 0.1)
    supervised = Settings({"steps": 10})
    trainer_steps = 8192
    trainer_overrides = ('rule.kwargs={"steps": 5}',)

    def __init__(self, steps: int = 20, rate: float = 0.1, output_precision: float = 1.0,
                 fixed_prediction: bool = False):
        if not (isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0):
            raise ValueError(f"steps={steps!r} must be an integer >= 0 (relaxation steps)")
        for nm, v in (("rate", rate), ("output_precision", output_precision)):
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0):
                raise ValueError(f"{nm}={v!r} must be a number > 0")
        if not isinstance(fixed_prediction, bool):
            raise ValueError(f"fixed_prediction={fixed_prediction!r} must be True or False")
        self.steps, self.rate = steps, float(rate)
        self.output_precision, self.fixed_prediction = float(output_precision), fixed_prediction
        self._cache: tuple[tuple, frozenset[Key]] | None = None

    def check_supported(self, model: nn.Module) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model={type(model).__name__} must be a torch.nn.Module")
        for name, m in model.named_modules():
            if trainable_direct(m) and base_type(m) in SEQUENCE:
                raise ValueError(
                    f"rule={self.name!r} cannot train module {name!r} (type {base_type(m).__name__}): a "
                    "full-sequence recurrent layer would hide its time steps from the value nodes; use "
                    "RNNCell/GRUCell/LSTMCell step by step (one value node per step)")

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        mark_prepared(model, self.name)
        return model

    # -- the passes ------------------------------------------------------------------------------------

    def _pass(self, nodes: _ValueNodes, closure: LossClosure, outputs: frozenset[Key] | None) -> torch.Tensor:
        nodes.start(outputs)
        try:
            loss = closure()
        finally:
            nodes.active = False
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(f"rule={self.name!r}: the closure must return a scalar loss tensor")
        return loss.reshape(())

    def _detect_outputs(self, nodes: _ValueNodes) -> frozenset[Key]:
        """Layers whose value nodes no other layer's prediction depends on."""
        keys = [k for k, _ in nodes.order]
        leaves = [x for k in keys for x in nodes.x[k]]
        mus = [t.sum() for k in keys for t in nodes.mu[k] if t.requires_grad]
        if not mus:
            return frozenset(keys)
        grads = torch.autograd.grad(torch.stack(mus).sum(), leaves, allow_unused=True)
        out, pos = set(), 0
        for k in keys:
            n = len(nodes.x[k])
            if all(g is None for g in grads[pos:pos + n]):
                out.add(k)
            pos += n
        return frozenset(out)

    def _first_pass(self, nodes: _ValueNodes, closure: LossClosure) -> torch.Tensor:
        """A pass with hidden nodes at their feed-forward values; finds the output layers if needed."""
        if self._cache is not None:
            loss = self._pass(nodes, closure, self._cache[1])
            if tuple(nodes.order) == self._cache[0]:
                return loss
            nodes.x.clear()
        self._pass(nodes, closure, None)
        outputs = self._detect_outputs(nodes)
        for k in outputs:
            nodes.x.pop(k, None)
        loss = self._pass(nodes, closure, outputs)
        self._cache = (tuple(nodes.order), outputs)
        return loss

    def _energy(self, nodes: _ValueNodes, loss: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(F, summed squared hidden error per sample)."""
        err = loss.new_zeros(())
        for k in nodes.hidden():
            for x, mu in zip(nodes.x[k], nodes.mu[k], strict=True):
                err = err + 0.5 * ((x - mu) ** 2).sum() / _n(x)
        return self.output_precision * loss + err, err

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        units = [m for m in model.modules() if trainable_direct(m)]
        nodes = _ValueNodes(units)
        handles = [m.register_forward_hook(nodes.hook) for m in units]
        params = [p for p in model.parameters() if p.requires_grad]
        try:
            with torch.enable_grad():
                loss0 = self._first_pass(nodes, closure)
                if self.fixed_prediction:
                    err = self._relax_fixed(nodes, loss0, params)
                else:
                    err = self._relax(nodes, closure, loss0, params)
        finally:
            for h in handles:
                h.remove()
        return {"loss": float(loss0.detach()), "pc_hidden_error": err}

    def _relax(self, nodes: _ValueNodes, closure: LossClosure, loss: torch.Tensor,
               params: list[nn.Parameter]) -> float:
        for _ in range(self.steps):
            f, _ = self._energy(nodes, loss)
            hidden = nodes.hidden()
            xs = [x for k in hidden for x in nodes.x[k]]
            if xs:
                grads = torch.autograd.grad(f, xs, allow_unused=True)
                with torch.no_grad():
                    for x, g in zip(xs, grads, strict=True):
                        if g is not None:
                            x.sub_(g, alpha=self.rate * _n(x))
            loss = self._pass(nodes, closure, nodes.outputs)
        for k in nodes.hidden():
            for x in nodes.x[k]:
                x.requires_grad_(False)
        f, err = self._energy(nodes, loss)
        if params:
            torch.autograd.backward(f / self.output_precision, inputs=params)
        return float(err.detach())

    def _relax_fixed(self, nodes: _ValueNodes, loss: torch.Tensor, params: list[nn.Parameter]) -> float:
        """Fixed predictions: errors relax on the feed-forward graph (one VJP per step)."""
        hidden = nodes.hidden()
        leaves = [x for k in hidden for x in nodes.x[k]]
        mus = [m for k in hidden for m in nodes.mu[k]]
        values = [x.detach().clone() for x in leaves]  # the relaxing nodes (the graph keeps ff values)
        prec = self.output_precision
        for _ in range(self.steps):
            eps = [v - m.detach() for v, m in zip(values, mus, strict=True)]
            outs = [loss] + [m for m in mus if m.requires_grad]
            cot = [loss.new_tensor(prec)]
            cot += [-e / _n(e) for e, m in zip(eps, mus, strict=True) if m.requires_grad]
            grads = torch.autograd.grad(outs, leaves, cot, retain_graph=True, allow_unused=True)
            for v, e, g in zip(values, eps, grads, strict=True):
                step = e / _n(e) if g is None else g + e / _n(e)
                v.sub_(step, alpha=self.rate * _n(v))
        eps = [v - m.detach() for v, m in zip(values, mus, strict=True)]
        pairs = [(m, -e / (_n(e) * prec)) for e, m in zip(eps, mus, strict=True) if m.requires_grad]
        if params:
            torch.autograd.backward([loss] + [m for m, _ in pairs],
                                    [torch.ones_like(loss)] + [c for _, c in pairs], inputs=params)
        return float(sum(0.5 * (e ** 2).sum() / _n(e) for e in eps)) if eps else 0.0
