"""Layers whose backward pass sends errors through a feedback matrix instead of the forward weights.

Each class subclasses the torch layer it replaces (same parameters, same forward result, same state
dict keys); the rule swaps a layer's class in place, so parameter objects, optimizers and hooks built
before stay valid. In the backward pass the error reaching the layer's input is ``g @ B`` instead of
``g @ W``: ``B`` a fixed random matrix (feedback alignment, Lillicrap et al. 2016) or ``sign(W)`` times
the mean ``|W|`` (sign symmetry). Weight gradients stay ``g^T x`` (local: error x presynaptic activity).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function
from torch.nn.utils.rnn import PackedSequence

from agents.rules._feedback_recurrence import recurrence

if TYPE_CHECKING:
    # The mixins below are only ever combined with these torch classes (the Feedback*/Direct* layers
    # subclass both), so the type checker sees them as subclasses of the layer they extend; at run time
    # they are plain mixins and the torch layer comes second in each class's bases, as before.
    from torch.nn.modules.conv import _ConvNd

    ModuleHost = nn.Module
    ConvHost = _ConvNd
    CellHost = nn.RNNCellBase
    SequenceHost = nn.RNNBase
else:
    ModuleHost = ConvHost = CellHost = SequenceHost = object

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def sign_feedback(w: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """Sign-symmetric feedback: sign(W) times W's mean magnitude times ``scale`` (the angle ignores the
    scale; it keeps SGD step sizes like backprop's)."""
    return torch.sign(w).mul_(torch.linalg.vector_norm(w, 1) * (scale / w.numel()))


class _FeedbackLinearFn(Function):
    """y = x W^T + b; backward: dx = g B (B = feedback, or sign feedback of W when None), dW = g^T x."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None,
                fb: torch.Tensor | None, fb_scale: float) -> torch.Tensor:
        ctx.save_for_backward(x, w, fb)
        ctx.has_bias, ctx.fb_scale = b is not None, fb_scale
        return F.linear(x, w, b)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        x, w, fb = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = gw = gb = None
        if need[0]:
            gx = g.matmul(fb if fb is not None else sign_feedback(w, ctx.fb_scale))
        if g.dim() != 2:
            g, x = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
        if need[1]:
            gw = g.t().mm(x)
        if ctx.has_bias and need[2]:
            gb = g.sum(0)
        return gx, gw, gb, None, None


class _FeedbackConvFn(Function):
    """N-d convolution whose input gradient is the transposed convolution with the feedback kernel."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, fb: torch.Tensor | None,
                fb_scale: float, stride: list[int], padding: list[int], dilation: list[int],
                groups: int) -> torch.Tensor:
        ctx.save_for_backward(x, w, fb)
        ctx.conf = (b is not None, fb_scale, stride, padding, dilation, groups)
        return _CONV[w.dim() - 2](x, w, b, stride, padding, dilation, groups)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor):
        x, w, fb = ctx.saved_tensors
        has_bias, fb_scale, stride, padding, dilation, groups = ctx.conf
        back = fb if fb is not None else sign_feedback(w, fb_scale)
        unbatched = x.dim() == w.dim() - 1
        if unbatched:
            x, g = x.unsqueeze(0), g.unsqueeze(0)
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[1], has_bias and ctx.needs_input_grad[2]]
        # aten's convolution_backward: the input gradient uses the kernel passed (the feedback), the
        # weight gradient uses only the input and the output gradient.
        gx, gw, gb = torch.ops.aten.convolution_backward(
            g.contiguous(), x, back, [w.shape[0]] if has_bias else None, stride, padding, dilation,
            False, [0] * (w.dim() - 2), groups, mask)
        if unbatched and gx is not None:
            gx = gx.squeeze(0)
        return gx, gw, gb, None, None, None, None, None, None


def feedback_linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, fb: torch.Tensor | None,
                    fb_scale: float = 1.0) -> torch.Tensor:
    """Linear map with a feedback backward pass (``fb=None``: sign symmetry)."""
    return _FeedbackLinearFn.apply(x, w, b, fb, fb_scale)


class Replaced(ModuleHost):
    """Mixin of every replaced layer: ``_rule_exact = True`` restores the true backward pass (probes)."""

    _rule_base: ClassVar[type[nn.Module]]
    _rule_exact: bool = False

    def _rule_active(self) -> bool:
        return not self._rule_exact and torch.is_grad_enabled()


class _FeedbackMixin(Replaced):
    """Holds the feedback matrices: non-persistent buffers ``<weight>_feedback`` (state dicts keep the
    torch layer's keys; the matrices are redrawn from the rule's seed when a run is resumed)."""

    _fb_mode: str = "random"
    _fb_scale: float = 1.0
    _fb_weights: ClassVar[tuple[str, ...]] = ("weight",)

    def init_feedback(self, mode: str, gen: torch.Generator | None, scale: float) -> None:
        self._fb_mode, self._fb_scale = mode, float(scale)
        for name in self._fb_weight_names():
            w = getattr(self, name)
            if mode == "random":
                bound = scale * self._fb_bound(w)
                fb = (torch.rand(w.shape, generator=gen, dtype=torch.float32) * 2.0 - 1.0) * bound
                self.register_buffer(name + "_feedback", fb.to(device=w.device, dtype=w.dtype),
                                     persistent=False)
            elif name + "_feedback" in self._buffers:
                del self._buffers[name + "_feedback"]

    def _fb_weight_names(self) -> list[str]:
        return list(self._fb_weights)

    def _fb_bound(self, w: torch.Tensor) -> float:
        return 1.0 / max(1, w[0].numel()) ** 0.5  # the layer's default init: U(-1/sqrt(fan_in), ..)

    def _fb_buffer(self, name: str) -> torch.Tensor:
        """The random feedback matrix of weight ``name`` (``random`` mode)."""
        return getattr(self, name + "_feedback")

    def _fb(self, name: str) -> torch.Tensor | None:
        return self._fb_buffer(name) if self._fb_mode == "random" else None

    def _lin(self, x: torch.Tensor, wname: str, b: torch.Tensor | None,
             fbs: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        fb = fbs[wname] if fbs is not None else self._fb(wname)
        return feedback_linear(x, getattr(self, wname), b, fb, self._fb_scale)

    def _feedbacks(self) -> dict[str, torch.Tensor]:
        """Every feedback matrix, sign feedback computed now: once per forward of a recurrent layer
        rather than once per time step's backward."""
        return {n: (self._fb_buffer(n) if self._fb_mode == "random"
                    else sign_feedback(getattr(self, n).detach(), self._fb_scale))
                for n in self._fb_weight_names()}


class FeedbackLinear(_FeedbackMixin, nn.Linear):
    _rule_base = nn.Linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self._rule_exact or not torch.is_grad_enabled():
            return F.linear(x, self.weight, self.bias)
        fb = self.weight_feedback if self._fb_mode == "random" else None
        return _FeedbackLinearFn.apply(x, self.weight, self.bias, fb, self._fb_scale)


def conv_padding(m: _ConvNd, x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
    """Input padded the way the conv layer pads it, and the integer padding left for the conv call."""
    nd = m.weight.dim() - 2
    if m.padding_mode != "zeros" or isinstance(m.padding, str):
        mode = "constant" if m.padding_mode == "zeros" else m.padding_mode
        return F.pad(x, m._reversed_padding_repeated_twice, mode=mode), [0] * nd
    return x, list(m.padding)


class _FeedbackConvMixin(_FeedbackMixin, ConvHost):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self._rule_active():
            return super().forward(x)
        x, padding = conv_padding(self, x)
        return _FeedbackConvFn.apply(x, self.weight, self.bias, self._fb("weight"), self._fb_scale,
                                     list(self.stride), padding, list(self.dilation), self.groups)


class FeedbackConv1d(_FeedbackConvMixin, nn.Conv1d):
    _rule_base = nn.Conv1d


class FeedbackConv2d(_FeedbackConvMixin, nn.Conv2d):
    _rule_base = nn.Conv2d


class FeedbackConv3d(_FeedbackConvMixin, nn.Conv3d):
    _rule_base = nn.Conv3d


# --- recurrent layers: the cell equations written out, every matrix product through the feedback map --


def cell_step(mode: str, lin: Any, x: torch.Tensor, h: torch.Tensor,
              c: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One step of torch's RNN / GRU / LSTM equations. ``lin(x, which)`` is the input ('ih') or hidden
    ('hh') affine map."""
    gi = lin(x, "ih")
    gh = lin(h, "hh")
    if mode == "GRU":
        ir, iz, i_n = gi.chunk(3, -1)
        hr, hz, h_n = gh.chunk(3, -1)
        r, z = torch.sigmoid(ir + hr), torch.sigmoid(iz + hz)
        n = torch.tanh(i_n + r * h_n)
        return (1.0 - z) * n + z * h, None
    if mode == "LSTM":
        assert c is not None, "an LSTM step needs the cell state"
        i, f, g, o = (gi + gh).chunk(4, -1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
    a = gi + gh
    return (torch.tanh(a) if mode == "RNN_TANH" else torch.relu(a)), None


class _FeedbackCellMixin(_FeedbackMixin, CellHost):
    _fb_weights = ("weight_ih", "weight_hh")

    def _fb_bound(self, w: torch.Tensor) -> float:
        return 1.0 / self.hidden_size ** 0.5  # torch's recurrent init: U(-1/sqrt(hidden), ..)

    def _mode(self) -> str:
        if isinstance(self, nn.GRUCell):
            return "GRU"
        if isinstance(self, nn.LSTMCell):
            return "LSTM"
        if isinstance(self, nn.RNNCell):
            return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"
        raise TypeError(f"{type(self).__name__} is not an RNN, GRU or LSTM cell")

    def forward(self, x: torch.Tensor, hx: Any = None) -> Any:
        if not self._rule_active():
            return super().forward(x, hx)
        mode, batched = self._mode(), x.dim() == 2
        if not batched:
            x = x.unsqueeze(0)
        if hx is None:
            z = x.new_zeros(x.shape[0], self.hidden_size)
            hx = (z, z) if mode == "LSTM" else z
        elif not batched:
            hx = tuple(t.unsqueeze(0) for t in hx) if mode == "LSTM" else hx.unsqueeze(0)
        h, c = (hx[0], hx[1]) if mode == "LSTM" else (hx, None)
        fbs = self._feedbacks()

        def lin(v: torch.Tensor, which: str) -> torch.Tensor:
            return self._lin(v, "weight_" + which, getattr(self, "bias_" + which), fbs)

        h, c = cell_step(mode, lin, x, h, c)
        if not batched:
            h, c = h.squeeze(0), (c.squeeze(0) if c is not None else None)
        return (h, c) if mode == "LSTM" else h


class FeedbackRNNCell(_FeedbackCellMixin, nn.RNNCell):
    _rule_base = nn.RNNCell


class FeedbackGRUCell(_FeedbackCellMixin, nn.GRUCell):
    _rule_base = nn.GRUCell


class FeedbackLSTMCell(_FeedbackCellMixin, nn.LSTMCell):
    _rule_base = nn.LSTMCell


class _FeedbackSequenceMixin(_FeedbackMixin, SequenceHost):
    """nn.RNN / GRU / LSTM (unidirectional, no projection): per layer, the input part of every time step
    in one feedback-linear product, then the recurrence as one node with its own backward through time
    (:mod:`agents.rules._feedback_recurrence`)."""

    def _fb_weight_names(self) -> list[str]:
        return [f"weight_{k}_l{i}" for i in range(self.num_layers) for k in ("ih", "hh")]

    def _fb_bound(self, w: torch.Tensor) -> float:
        return 1.0 / self.hidden_size ** 0.5

    def forward(self, x: Any, hx: Any = None) -> Any:
        if not self._rule_active():
            return super().forward(x, hx)
        if isinstance(x, PackedSequence):
            raise TypeError("feedback-alignment recurrent layers take padded tensors, not PackedSequence")
        lstm, batched = self.mode == "LSTM", x.dim() == 3
        if not batched:
            x = x.unsqueeze(1)
            if hx is not None:
                hx = tuple(t.unsqueeze(1) for t in hx) if lstm else hx.unsqueeze(1)
        elif self.batch_first:
            x = x.transpose(0, 1)
        n_layers, n = self.num_layers, x.shape[1]
        if hx is None:
            z = x.new_zeros(n_layers, n, self.hidden_size)
            hx = (z, z) if lstm else z
        h0, c0 = (hx[0], hx[1]) if lstm else (hx, None)
        out, hs, cs = x, [], []  # cs: the last cell state of each layer (LSTM)
        fbs = self._feedbacks()
        for layer in range(n_layers):
            def lin(v: torch.Tensor, which: str, layer: int = layer) -> torch.Tensor:
                b = getattr(self, f"bias_{which}_l{layer}") if self.bias else None
                return self._lin(v, f"weight_{which}_l{layer}", b, fbs)

            gi_all = lin(out, "ih")  # input part for every time step in one product
            b_hh = getattr(self, f"bias_hh_l{layer}") if self.bias else None
            out, h, c = recurrence(gi_all, h0[layer], c0[layer] if c0 is not None else None,
                                   getattr(self, f"weight_hh_l{layer}"), b_hh, fbs[f"weight_hh_l{layer}"],
                                   self.mode)
            if self.dropout and self.training and layer < n_layers - 1:
                out = F.dropout(out, self.dropout, True)
            hs.append(h)
            if c is not None:
                cs.append(c)
        h_n = torch.stack(hs)
        c_n = torch.stack(cs) if lstm else None
        if not batched:
            out, h_n = out.squeeze(1), h_n.squeeze(1)
            c_n = c_n.squeeze(1) if c_n is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return (out, (h_n, c_n)) if lstm else (out, h_n)


class FeedbackRNN(_FeedbackSequenceMixin, nn.RNN):
    _rule_base = nn.RNN


class FeedbackGRU(_FeedbackSequenceMixin, nn.GRU):
    _rule_base = nn.GRU


class FeedbackLSTM(_FeedbackSequenceMixin, nn.LSTM):
    _rule_base = nn.LSTM


FEEDBACK_CLASSES: dict[type[nn.Module], type[_FeedbackMixin]] = {
    c._rule_base: c for c in (
        FeedbackLinear, FeedbackConv1d, FeedbackConv2d, FeedbackConv3d, FeedbackRNNCell, FeedbackGRUCell,
        FeedbackLSTMCell, FeedbackRNN, FeedbackGRU, FeedbackLSTM)
}
