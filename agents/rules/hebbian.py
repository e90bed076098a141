"""Local Hebbian rules: plain Hebb with weight decay, and Oja's rule (the seed paper's Fig. 3).

Neither rule reads the loss in its hidden layers: a hidden unit changes its weights from its own
presynaptic input ``x`` and postsynaptic activity ``y`` only,

- ``hebbian``: ``dW = eta * <y x^T> - decay * W`` (Hebb 1949; the decay keeps the weights bounded),
- ``oja``:     ``dW = eta * (<y x^T> - diag(<y^2>) W)``, i.e. ``dw_i = eta <y_i x - y_i^2 w_i>`` per unit
  (Oja 1982: a unit's weight vector converges to the unit-norm principal direction of its input),

with ``<.>`` the mean over the samples of the minibatch (and over the layer's calls, if it is called
more than once). A bias is the weight from a constant input 1 (``db = eta <y> - decay b`` and
``db = eta <y - y^2 b>``). The update enters the optimizer as a "gradient": ``p.grad = -dW``, so that
plain SGD with learning rate ``lr`` applies ``W += lr * dW``.

Which layers are hidden: the rule runs the closure once with the input of every ``nn.Linear``
detached, and backpropagates the loss. A Linear whose own output reaches the loss without crossing
another Linear is an **output layer** (a policy or value head, a classifier's last layer): it gets that
gradient, which is exactly its true loss gradient, the local delta rule ``delta x^T`` (Widrow & Hoff
1960). Every other Linear is **hidden** and gets the Hebbian update. So the task is learnt by the
output layer alone, on features that the Hebbian layers shape without the objective (an unsupervised
front end); vector parameters outside a Linear (a log-std) get their loss gradient along paths that
cross no Linear, zero otherwise (a LayerNorm between hidden layers stays as it is).

Postsynaptic activity ``y``: the Linear's output after the elementwise nonlinearity module applied to
it directly (``nn.Tanh``, ``nn.ReLU``, ... as in ``nn.Sequential`` stacks and the agents' MLP), else
the Linear's output itself (a linear unit, the setting of Oja's rule).

Architectures: layered MLPs, i.e. ``nn.Linear`` stacks with their nonlinearities (plus normalisation
layers and vector parameters); a module owning any other trainable matrix (conv, recurrent, attention)
fails in ``prepare``, naming it. Is the mean update a gradient of anything? For one layer with fixed
inputs, Hebb with decay is (the gradient of ``eta <F(w.x)> - decay |w|^2 / 2``, ``F' = f``) and Oja's
rule is not (its Jacobian ``C - 2 w (Cw)^T - (w^T C w) I`` is not symmetric); across layers neither is,
since a layer's update depends on the weights below it and not on those above
(:mod:`agents.probes.update_field` measures it). The rules do not descend the task's objective below
the output layer, so they are kept out of the trainer-level learning checks (``learns_tasks = False``).

Known limit: there is no competition between the units of a layer (no Sanger ordering, no lateral
inhibition), so every hidden unit converges to the same direction: the mean input on uncentred data, the
first principal component on centred data, and once tanh units saturate (``y^2 ~ 1``) Oja's rule is Hebb
with decay 1. On sklearn digits (``python scripts/fig2.py --rules backprop,hebbian,oja --hidden 64
--epochs 10``: 64-64-10 tanh, SGD 0.1) both reached test accuracy 0.104, backprop 0.954 (the output layer
is left with one feature), their hidden-layer update 94.0 deg from the gradient after training.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.rules._support import (
    LINEAR,
    accumulate_grad,
    check_modules,
    check_prepared,
    mark_prepared,
)
from agents.rules.base import LearningRule, LossClosure, Settings

# Elementwise nonlinearities whose output is taken as the postsynaptic activity of the Linear they follow.
NONLINEARITIES: tuple[type[nn.Module], ...] = (
    nn.Tanh, nn.ReLU, nn.Sigmoid, nn.ELU, nn.GELU, nn.LeakyReLU, nn.SiLU, nn.Softplus, nn.Hardtanh,
    nn.ReLU6, nn.SELU, nn.CELU, nn.Mish, nn.Softsign, nn.Tanhshrink, nn.Hardsigmoid, nn.Hardswish,
    nn.LogSigmoid,
)


class _Recorder:
    """Forward hooks: detach every Linear's input (recording it), record its output and the output of a
    nonlinearity module applied to it."""

    def __init__(self, linears: list[nn.Linear]):
        self.linears = linears
        self.x: dict[nn.Linear, list[torch.Tensor]] = {m: [] for m in linears}
        self.y: dict[nn.Linear, list[torch.Tensor]] = {m: [] for m in linears}
        self._out: dict[int, tuple[torch.Tensor, nn.Module, int]] = {}  # id(output) -> (output, layer, call)

    def pre(self, module: nn.Module, args: tuple):
        x = args[0]
        self.x[module].append(x.detach())  # type: ignore[index]
        return (x.detach(), *args[1:])

    def post(self, module: nn.Module, args: tuple, out: torch.Tensor):
        calls = self.y[module]  # type: ignore[index]
        self._out[id(out)] = (out, module, len(calls))  # the tensor is kept: its id stays unique
        calls.append(out.detach())

    def act(self, module: nn.Module, args: tuple, out: torch.Tensor):
        hit = self._out.get(id(args[0])) if args else None
        if hit is not None and hit[0] is args[0]:
            self.y[hit[1]][hit[2]] = out.detach()  # type: ignore[index]


class _Hebbian(LearningRule):
    """Shared machinery: output layers by the local delta rule, hidden Linears by ``_update``."""

    supports = "layered MLPs: Linear + elementwise nonlinearity (+ norms)"
    learns_tasks = False
    # Not tuned: the rules do not learn tasks (module docstring). Fig. 2: the default plain SGD at 0.1.
    supervised = Settings(optimizer="sgd", lr=0.01)

    def __init__(self, eta: float = 1.0):
        if not (isinstance(eta, (int, float)) and not isinstance(eta, bool) and eta > 0):
            raise ValueError(f"eta={eta!r} must be a number > 0 (the Hebbian rate relative to the delta rule)")
        self.eta = float(eta)

    def check_supported(self, model: nn.Module) -> None:
        check_modules(model, self.name, LINEAR,
                      also=" (a local Hebbian rule needs layered MLPs: each hidden unit's input x and "
                           "activity y)")

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        mark_prepared(model, self.name)
        return model

    def _update(self, w: torch.Tensor, b: torch.Tensor | None, x: torch.Tensor,
                y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        linears = [m for m in model.modules() if isinstance(m, nn.Linear) and m.weight.requires_grad]
        rec = _Recorder(linears)
        acts = [m for m in model.modules() if isinstance(m, NONLINEARITIES)]
        handles = [m.register_forward_pre_hook(rec.pre) for m in linears]
        handles += [m.register_forward_hook(rec.post) for m in linears]
        handles += [m.register_forward_hook(rec.act) for m in acts]
        try:
            loss = closure()
        finally:
            for h in handles:
                h.remove()
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(f"rule={self.name!r}: the closure must return a scalar loss tensor")
        params = [p for p in model.parameters() if p.requires_grad]
        grads = torch.autograd.grad(loss.reshape(()), params, allow_unused=True)
        for p, g in zip(params, grads, strict=True):
            if g is not None:
                accumulate_grad(p, g)
        hidden = 0
        direct = {id(p) for p, g in zip(params, grads, strict=True) if g is not None}
        for m in linears:
            if id(m.weight) in direct or not rec.x[m]:
                continue  # an output layer (delta rule above), or not called by this closure
            hidden += 1
            x = torch.cat([t.reshape(-1, t.shape[-1]) for t in rec.x[m]])
            y = torch.cat([t.reshape(-1, t.shape[-1]) for t in rec.y[m]])
            b = m.bias if m.bias is not None and m.bias.requires_grad else None
            with torch.no_grad():
                dw, db = self._update(m.weight.detach(), None if b is None else b.detach(), x.to(m.weight),
                                      y.to(m.weight))
                accumulate_grad(m.weight, -dw)
                if b is not None and db is not None:
                    accumulate_grad(b, -db)
        for p in params:  # parameters the rule leaves as they are (a norm between hidden layers)
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        return {"loss": float(loss.detach()), "hebbian_layers": float(hidden)}


class Hebbian(_Hebbian):
    """Plain Hebb with weight decay in the hidden layers (module docstring)."""

    name = "hebbian"
    label = "Hebb + decay"
    summary = ("hidden Linears: dW = eta y x^T - decay W (Hebb with weight decay); output layers: their "
               "loss gradient (delta rule); `eta`, `decay`")

    def __init__(self, eta: float = 1.0, decay: float = 1.0):
        super().__init__(eta)
        if not (isinstance(decay, (int, float)) and not isinstance(decay, bool) and decay >= 0):
            raise ValueError(f"decay={decay!r} must be a number >= 0 (the weight decay of the Hebbian update)")
        self.decay = float(decay)

    def _update(self, w, b, x, y):
        n = x.shape[0]
        dw = self.eta * (y.T @ x) / n - self.decay * w
        db = None if b is None else self.eta * y.mean(0) - self.decay * b
        return dw, db


class Oja(_Hebbian):
    """Oja's rule in the hidden layers (module docstring)."""

    name = "oja"
    label = "Oja"
    summary = ("hidden Linears: dw_i = eta (y_i x - y_i^2 w_i) per unit (Oja 1982); output layers: their "
               "loss gradient (delta rule); `eta`")

    def _update(self, w, b, x, y):
        n = x.shape[0]
        y2 = (y * y).mean(0)
        dw = self.eta * ((y.T @ x) / n - y2[:, None] * w)
        db = None if b is None else self.eta * (y.mean(0) - y2 * b)
        return dw, db
