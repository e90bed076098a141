"""The recurrent part of a replaced nn.RNN / GRU / LSTM layer as one autograd node.

The input part ``x W_ih^T + b_ih`` of every time step is one feedback-linear product before the loop;
this node carries the recurrence ``h W_hh^T + b_hh`` and the gate math over time. Its backward is
back-propagation through time written out: exact through the gates (elementwise), the error reaching
``h_{t-1}`` through the feedback matrix instead of ``W_hh``, and the weight gradient of ``W_hh`` as one
product over all steps, ``sum_t g_t^T h_{t-1}``. One node instead of a dozen per step keeps the cost near
backprop's fused kernel.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.autograd import Function


class _RecurrenceFn(Function):
    """(gi (T, N, G), h0, c0, w_hh, b_hh, fb_hh, mode) -> (out (T, N, H), h_T, c_T)."""

    @staticmethod
    def forward(ctx: Any, gi: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None, w_hh: torch.Tensor,
                b_hh: torch.Tensor | None, fb_hh: torch.Tensor, mode: str):
        steps, n, hid = gi.shape[0], gi.shape[1], h0.shape[-1]
        out = gi.new_empty(steps, n, hid)
        gh = gi.new_empty(steps, n, w_hh.shape[0])  # h_{t-1} W_hh^T + b_hh of every step
        wt = w_hh.t()
        h, c = h0, c0
        if mode == "GRU":
            acts = gi.new_empty(steps, n, 3 * hid)  # r, z, candidate
            for t in range(steps):
                g, a = gh[t], acts[t]
                torch.addmm(b_hh, h, wt, out=g) if b_hh is not None else torch.mm(h, wt, out=g)
                rz = torch.add(gi[t, :, :2 * hid], g[:, :2 * hid], out=a[:, :2 * hid]).sigmoid_()
                cand = torch.addcmul(gi[t, :, 2 * hid:], rz[:, :hid], g[:, 2 * hid:], out=a[:, 2 * hid:]).tanh_()
                h = torch.addcmul(cand, rz[:, hid:], h - cand, out=out[t])
            ctx.save_for_backward(h0, w_hh, fb_hh, out, acts, gh)
        elif mode == "LSTM":
            assert c is not None, "an LSTM recurrence needs c0"
            acts = gh  # pre-activations, then sigmoid(i), sigmoid(f), tanh(g), sigmoid(o) in place
            cs = gi.new_empty(steps, n, hid)
            for t in range(steps):
                a = acts[t]
                torch.addmm(b_hh, h, wt, out=a) if b_hh is not None else torch.mm(h, wt, out=a)
                a.add_(gi[t])
                a[:, 2 * hid:3 * hid].tanh_()
                a[:, :2 * hid].sigmoid_()
                a[:, 3 * hid:].sigmoid_()
                c = torch.addcmul(a[:, hid:2 * hid] * c, a[:, :hid], a[:, 2 * hid:3 * hid], out=cs[t])
                h = torch.mul(a[:, 3 * hid:], torch.tanh(c), out=out[t])
            ctx.save_for_backward(h0, c0, w_hh, fb_hh, out, acts, cs)
        else:  # RNN_TANH / RNN_RELU
            for t in range(steps):
                a = gh[t]
                torch.addmm(b_hh, h, wt, out=a) if b_hh is not None else torch.mm(h, wt, out=a)
                a.add_(gi[t])
                h = torch.tanh(a, out=out[t]) if mode == "RNN_TANH" else torch.clamp(a, min=0.0, out=out[t])
            ctx.save_for_backward(h0, w_hh, fb_hh, out)
        ctx.mode, ctx.has_bias = mode, b_hh is not None
        return out, h.clone(), (c.clone() if c is not None else None)

    @staticmethod
    def backward(ctx: Any, d_out: torch.Tensor, d_h: torch.Tensor, d_c: torch.Tensor | None):
        # Every factor that does not depend on the incoming error is computed for all steps at once
        # before the loop; the loop carries only the error through time (a few ops per step).
        mode = ctx.mode
        if mode == "GRU":
            h0, w_hh, fb, out, acts, gh = ctx.saved_tensors
        elif mode == "LSTM":
            h0, c0, w_hh, fb, out, acts, cs = ctx.saved_tensors
        else:
            h0, w_hh, fb, out = ctx.saved_tensors
        steps, n, hid = out.shape
        h_prev = torch.cat([h0.unsqueeze(0), out[:-1]])
        d_gh = out.new_empty(steps, n, w_hh.shape[0])
        dh = d_h
        if mode == "GRU":
            r, z, cand = acts[..., :hid], acts[..., hid:2 * hid], acts[..., 2 * hid:]
            a_n = (1.0 - z) * (1.0 - cand * cand)  # d candidate pre-activation / d h_t
            fac = torch.cat([a_n * gh[..., 2 * hid:] * r * (1.0 - r), (h_prev - cand) * z * (1.0 - z),
                             a_n * r], -1).view(steps, n, 3, hid)
            dh_all = out.new_empty(steps, n, hid)
            for t in range(steps - 1, -1, -1):
                dh_t = torch.add(dh, d_out[t], out=dh_all[t])
                g = torch.mul(dh_t.unsqueeze(1), fac[t], out=d_gh[t].view(n, 3, hid)).view(n, 3 * hid)
                dh = torch.addmm(dh_t * z[t], g, fb)
            d_gi = d_gh.clone()
            torch.mul(dh_all, a_n, out=d_gi[..., 2 * hid:])
            dc = None
        elif mode == "LSTM":
            i, f, g_, o = (acts[..., k * hid:(k + 1) * hid] for k in range(4))
            tc = torch.tanh(cs)
            c_prev = torch.cat([c0.unsqueeze(0), cs[:-1]])
            o_fac = o * (1.0 - tc * tc)  # d c_t / d h_t (through h_t = o tanh c_t)
            c_fac = torch.cat([g_ * i * (1.0 - i), c_prev * f * (1.0 - f), i * (1.0 - g_ * g_)],
                              -1).view(steps, n, 3, hid)
            h_fac = tc * o * (1.0 - o)
            dc = d_c if d_c is not None else torch.zeros_like(c0)
            for t in range(steps - 1, -1, -1):
                dh_t = dh + d_out[t]
                dc_t = torch.addcmul(dc, dh_t, o_fac[t])
                ga = d_gh[t]
                torch.mul(dc_t.unsqueeze(1), c_fac[t], out=ga[:, :3 * hid].view(n, 3, hid))
                torch.mul(dh_t, h_fac[t], out=ga[:, 3 * hid:])
                dc = dc_t * f[t]
                dh = ga.mm(fb)
            d_gi = d_gh
        else:
            deriv = 1.0 - out * out if mode == "RNN_TANH" else (out > 0).to(out.dtype)
            for t in range(steps - 1, -1, -1):
                g = torch.mul(dh + d_out[t], deriv[t], out=d_gh[t])
                dh = g.mm(fb)
            d_gi, dc = d_gh, None
        need = ctx.needs_input_grad
        flat_g = d_gh.view(-1, d_gh.shape[-1])
        d_w = flat_g.t().mm(h_prev.view(-1, hid)) if need[3] else None
        d_b = flat_g.sum(0) if ctx.has_bias and need[4] else None
        return (d_gi if need[0] else None, dh if need[1] else None, dc if need[2] else None, d_w, d_b,
                None, None)


def recurrence(gi: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None, w_hh: torch.Tensor,
               b_hh: torch.Tensor | None, fb_hh: torch.Tensor, mode: str
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Run one recurrent layer over time from its precomputed input part ``gi`` (T, N, G): the outputs
    (T, N, H), the last hidden state and (LSTM) the last cell state. The backward pass sends the error
    to ``h_{t-1}`` through ``fb_hh`` (same shape as ``w_hh``); everything else is exact."""
    if mode not in ("GRU", "LSTM", "RNN_TANH", "RNN_RELU"):
        raise ValueError(f"mode={mode!r} must be one of GRU, LSTM, RNN_TANH, RNN_RELU")
    return _RecurrenceFn.apply(gi, h0, c0, w_hh, b_hh, fb_hh, mode)
