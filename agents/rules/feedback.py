"""Feedback alignment, sign symmetry and direct feedback alignment, by layer replacement.

Works on any ``nn.Module`` (yours too): ``model = get_rule("feedback_alignment").prepare(model)`` swaps
each supported layer's class for one whose backward pass uses feedback weights (parameters, state dict
keys and optimizers are unchanged), after which a plain ``loss.backward()`` computes the rule's update.

Supported layers
- feedback_alignment / sign_symmetry: Linear, Conv1d/2d/3d, RNNCell/GRUCell/LSTMCell, and
  unidirectional RNN/GRU/LSTM without projection (run as a Python loop over time; slower than cuDNN).
- direct_feedback_alignment: feed-forward nets of Linear and Conv1d/2d/3d (no recurrent layers).
- all three: normalisation layers, embeddings and vector parameters (biases, log-std) get their exact
  local gradient; any other module owning a trainable matrix fails at start-up, naming it.

How DFA gets the output error, with no hook on the model (so it works whatever method the loss
calls, e.g. the trainer's ``agent.forward_sequence``): in forward, each DFA layer walks its input's
autograd graph back to the nearest DFA layer calls and records itself as their consumer. Layers whose
output no DFA layer consumes are the output layers (policy, value, aux heads); in backward their
gradient ``e_k = dL/d output_k`` is the output error (their own weights get the true gradient). Every
layer then sends ``sum_k e_k B_k`` to its input instead of ``g W``, summed over the output layers
downstream of it, with ``B_k`` a fixed random matrix per (layer, output layer) drawn from the seed when
first needed; the nonlinearity below turns it into that layer's error, as in Nokland (2016).
Requirement: each layer sees the same samples (rows) as the output layers, i.e. a feed-forward net. A
model with ``recurrent = True`` (the agents' Agent with a core) is refused in ``prepare``; any other
recurrent core run step by step fails at its first backward pass, before any weight changes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, TypeVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function

from agents.rules._feedback_layers import FEEDBACK_CLASSES, ConvHost, Replaced, conv_padding
from agents.rules._support import (
    CELLS,
    CONV,
    LINEAR,
    SEQUENCE,
    base_type,
    check_modules,
    check_prepared,
    mark_prepared,
    recurrent_limits,
    rule_seed,
)
from agents.rules.base import LearningRule, LossClosure


@contextlib.contextmanager
def exact_backward(model: nn.Module) -> Iterator[nn.Module]:
    """Inside this block every replaced layer of ``model`` backpropagates exactly (the true gradient,
    for probes that compare a rule with backprop on the same weights)."""
    mods = [m for m in model.modules() if isinstance(m, Replaced)]
    old = [m._rule_exact for m in mods]
    for m in mods:
        m._rule_exact = True
    try:
        yield model
    finally:
        for m, o in zip(mods, old, strict=True):
            m._rule_exact = o


_R = TypeVar("_R", bound=Replaced)


def _replace_class(m: nn.Module, cls: type[_R]) -> _R:
    """Swap ``m``'s class in place for ``cls`` (a subclass of it with the rule's backward pass)."""
    m.__class__ = cls
    assert isinstance(m, cls)
    return m


class _AutogradRule(LearningRule):
    """A rule whose update is ``loss.backward()`` through replaced layers."""

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        loss = closure()
        loss.backward()
        return {"loss": float(loss.detach())}


class FeedbackAlignment(_AutogradRule):
    """Feedback alignment (Lillicrap et al. 2016): errors travel back through fixed random matrices B
    drawn from each layer's default initialisation (times ``scale``) with ``seed``."""

    name = "feedback_alignment"
    label = "feedback alignment"
    summary = "errors go back through fixed random matrices (Lillicrap 2016)"
    supports = "Linear, Conv1d/2d/3d, RNN/GRU/LSTM cells and layers"
    # Through PPO at the env's lr 1e-3, 1 run in 32 (seed 3, AVX2 kernels) reached a return of 1.0 by 16k
    # steps and then collapsed to one constant answer (entropy 0, return 0.5) for good: the random feedback
    # keeps moving the conv layers after the policy has converged. Half the step size keeps it learned.
    trainer_overrides: tuple[str, ...] = ("train.lr=0.0005",)
    _mode = "random"

    def __init__(self, seed: int = 0, scale: float = 1.0):
        self.seed, self.scale = int(seed), float(scale)
        if not self.scale > 0:
            raise ValueError(f"scale={scale!r} must be > 0")

    def check_supported(self, model: nn.Module) -> None:
        check_modules(model, self.name, LINEAR + CONV + CELLS + SEQUENCE, extra=recurrent_limits)

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        gen = torch.Generator().manual_seed(rule_seed(self.seed, self.name))
        for _, m in model.named_modules():
            cls = FEEDBACK_CLASSES.get(base_type(m))
            if cls is not None:
                _replace_class(m, cls).init_feedback(self._mode, gen, self.scale)
        mark_prepared(model, self.name)
        return model


class SignSymmetry(FeedbackAlignment):
    """Sign symmetry (Liao, Leibo & Poggio 2016): feedback = sign(W) x mean|W| x ``scale``, recomputed
    from the current weights at every backward pass (no random draws)."""

    name = "sign_symmetry"
    label = "sign symmetry"
    summary = "feedback = sign(W) (Liao, Leibo & Poggio 2016)"
    trainer_overrides = ()  # the env's own lr: 1.000 on 8 seeds x 4 code paths (assets/robustness.md)
    _mode = "sign"


# --- direct feedback alignment ------------------------------------------------------------------------


class _Call:
    """One call of a DFA layer: which DFA layer calls consume its output, and, for an output layer, the
    error that reached its output in backward."""

    __slots__ = ("layer", "consumers", "error", "_outs")

    def __init__(self, layer: _DirectMixin):
        self.layer = layer
        self.consumers: list[_Call] = []
        self.error: torch.Tensor | None = None
        self._outs: list[_Call] | None = None

    def outputs(self) -> list[_Call]:
        """The output-layer calls downstream of this one (itself if it is one)."""
        if self._outs is None:
            if not self.consumers:
                self._outs = [self]
            else:
                seen: dict[int, _Call] = {}
                for c in self.consumers:
                    for o in c.outputs():
                        seen[id(o)] = o
                self._outs = list(seen.values())
        return self._outs


def _link(x: torch.Tensor, call: _Call) -> None:
    """Walk the autograd graph from ``x`` back to the nearest DFA layer calls: ``call`` consumes them."""
    stack, seen = [x.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        producer = getattr(node, "dfa_call", None)
        if producer is not None:
            producer.consumers.append(call)
            continue
        stack.extend(f for f, _ in node.next_functions)


class _DirectLinearFn(Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                call: _Call) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.dfa_call, ctx.has_bias = call, b is not None
        return F.linear(x, w, b)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        (x,) = ctx.saved_tensors
        call = ctx.dfa_call
        if not call.consumers:
            call.error = g
        gx = call.layer.direct_input_grad(call, x) if ctx.needs_input_grad[0] else None
        g2 = g.reshape(-1, g.shape[-1])
        gw = g2.t() @ x.reshape(-1, x.shape[-1]) if ctx.needs_input_grad[1] else None
        gb = g2.sum(0) if ctx.has_bias and ctx.needs_input_grad[2] else None
        return gx, gw, gb, None


class _DirectConvFn(Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, call: _Call,
                padding: list[int]) -> torch.Tensor:
        ctx.save_for_backward(x, w)
        ctx.dfa_call, ctx.has_bias, ctx.padding = call, b is not None, padding
        m = call.layer
        assert isinstance(m, _DirectConvMixin), "only DFA conv layers call this function"
        conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[w.dim() - 2]
        return conv(x, w, b, m.stride, padding, m.dilation, m.groups)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        x, w = ctx.saved_tensors
        call = ctx.dfa_call
        m = call.layer
        if not call.consumers:
            call.error = g
        gx = m.direct_input_grad(call, x) if ctx.needs_input_grad[0] else None
        gw = gb = None
        if ctx.needs_input_grad[1] or (ctx.has_bias and ctx.needs_input_grad[2]):
            xb, g_ = (x.unsqueeze(0), g.unsqueeze(0)) if x.dim() == w.dim() - 1 else (x, g)
            _, gw, gb = torch.ops.aten.convolution_backward(
                g_.contiguous(), xb, w, [w.shape[0]] if ctx.has_bias else None, list(m.stride),
                ctx.padding, list(m.dilation), False, [0] * (w.dim() - 2), m.groups,
                [False, ctx.needs_input_grad[1], ctx.has_bias and ctx.needs_input_grad[2]])
        return gx, gw, gb, None, None


class _DirectMixin(Replaced):
    _dfa_seed: int = 0
    _dfa_scale: float = 1.0

    def init_direct(self, seed: int, scale: float, names: dict[nn.Module, str]) -> None:
        self._dfa_seed, self._dfa_scale = seed, scale
        self._dfa_names = names  # shared by the model's DFA layers: a stable key for each output layer
        self._dfa_cache: dict[tuple, torch.Tensor] = {}

    def _call(self, x: torch.Tensor) -> _Call:
        call = _Call(self)
        if x.grad_fn is not None:
            _link(x, call)
        return call

    def _matrix(self, out_layer: nn.Module, n_out: int, n_in: int, like: torch.Tensor) -> torch.Tensor:
        key = (self._dfa_names.get(self, ""), self._dfa_names.get(out_layer, ""), n_out, n_in, like.device,
               like.dtype)
        b = self._dfa_cache.get(key)
        if b is None:  # one fixed matrix per (layer, output layer), redrawn identically from the seed
            gen = torch.Generator().manual_seed(rule_seed(self._dfa_seed, f"dfa:{key[0]}:{key[1]}"))
            bound = self._dfa_scale / n_out ** 0.5
            b = ((torch.rand(n_out, n_in, generator=gen) * 2.0 - 1.0) * bound).to(like.device, like.dtype)
            self._dfa_cache[key] = b
        return b

    def direct_input_grad(self, call: _Call, x: torch.Tensor) -> torch.Tensor:
        """Sum over the output layers downstream of this call of e_k @ B_k, shaped like the input."""
        n = x.shape[0] if x.dim() > 1 else 1
        n_in = x.numel() // n
        gx = None
        for out in call.outputs():
            if out.error is None:  # that output did not reach the loss
                continue
            e = out.error.reshape(out.error.shape[0] if out.error.dim() > 1 else 1, -1)
            if e.shape[0] != n:
                raise RuntimeError(
                    f"direct_feedback_alignment: a {type(self).__name__} input has {n} rows but the "
                    f"output layer downstream of it has {e.shape[0]}; DFA needs every layer to see the "
                    "same samples as the output layers (a feed-forward net); recurrent cores that run "
                    "step by step are not supported")
            part = e @ self._matrix(out.layer, e.shape[1], n_in, x)
            gx = part if gx is None else gx + part
        return torch.zeros_like(x) if gx is None else gx.reshape(x.shape)


class DirectLinear(_DirectMixin, nn.Linear):
    _rule_base = nn.Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._rule_active():
            return F.linear(x, self.weight, self.bias)
        return _DirectLinearFn.apply(x, self.weight, self.bias, self._call(x))


class _DirectConvMixin(_DirectMixin, ConvHost):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._rule_active():
            return super().forward(x)
        call = self._call(x)
        x, padding = conv_padding(self, x)
        return _DirectConvFn.apply(x, self.weight, self.bias, call, padding)


class DirectConv1d(_DirectConvMixin, nn.Conv1d):
    _rule_base = nn.Conv1d


class DirectConv2d(_DirectConvMixin, nn.Conv2d):
    _rule_base = nn.Conv2d


class DirectConv3d(_DirectConvMixin, nn.Conv3d):
    _rule_base = nn.Conv3d


_DIRECT_CLASSES: dict[type[nn.Module], type[_DirectMixin]] = {
    c._rule_base: c for c in (DirectLinear, DirectConv1d, DirectConv2d, DirectConv3d)}


class DirectFeedbackAlignment(_AutogradRule):
    """Direct feedback alignment (Nokland 2016): every layer receives the output error through its own
    fixed random matrix (see the module docstring for how the error is captured)."""

    name = "direct_feedback_alignment"
    label = "direct FA"
    summary = "output error sent to every layer by its own random matrix (Nokland 2016)"
    supports = "feed-forward nets"

    def __init__(self, seed: int = 0, scale: float = 1.0):
        self.seed, self.scale = int(seed), float(scale)
        if not self.scale > 0:
            raise ValueError(f"scale={scale!r} must be > 0")

    def check_supported(self, model: nn.Module) -> None:
        check_modules(model, self.name, LINEAR + CONV,
                      also=" (feed-forward only: DFA sends the output error straight to each layer, "
                      "which recurrent layers such as RNNCell/GRU/LSTM do not fit)")
        if getattr(model, "recurrent", False) is True:  # e.g. agents.architectures.Agent with a core
            raise ValueError(f"rule={self.name!r} cannot train a recurrent model ({type(model).__name__}."
                             "recurrent is True): DFA is defined for feed-forward nets; use "
                             "feedback_alignment or sign_symmetry for recurrent cores")

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        names: dict[nn.Module, str] = {}
        layers: list[_DirectMixin] = []
        for name, m in model.named_modules():
            cls = _DIRECT_CLASSES.get(base_type(m))
            if cls is not None:
                names[m] = name
                layers.append(_replace_class(m, cls))
        for layer in layers:
            layer.init_direct(self.seed, self.scale, names)
        mark_prepared(model, self.name)
        return model
