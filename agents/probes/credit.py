"""The credit signal a learning rule delivers to each hidden unit, trial by trial (the seed paper's Fig. 5).

For a layered MLP (``nn.Sequential``: optional Flatten, Linear, elementwise nonlinearity, ..., Linear) and a
per-trial loss ``c_i`` (e.g. a policy-gradient or a selected-output loss), the credit signal of hidden unit
``j`` of layer ``k`` on trial ``i`` is the top-down signal the rule sends to that unit's rate ``h_kj``,
before the unit's own gate ``f'(u_kj)``:

- **backprop** (and every rule whose update is the backward pass of its prepared model: feedback alignment,
  sign symmetry, DFA): ``-dc_i/dh_kj`` through the model's backward, so exact for backprop, ``B^T e`` for
  feedback alignment;
- **AGREL**: ``delta_i * W_L[a_i, :]`` sent down the chain (the feedback of the selected output, the "tag"
  before its gate, times the reward prediction error), which is ``-dc_i/dh`` of the selected output's squared
  RPE ``c_i = (Q_a - r)^2 / 2``: AGREL's credit is backprop's for that loss, by construction;
- **dendritic error** (Sacramento et al. 2018): the apical potential at the nudged fixed point divided by the
  nudging strength beta, ``a_kj / beta`` (the per-trial error it carries, on a gradient's scale).

The weight change the rule makes on trial ``i`` in the layer below unit ``j`` is then (gated credit) x
(presynaptic rate): ``credit * f'(u)`` for the backward-pass rules and AGREL, ``(phi(u) - phi(b)) / beta`` for
the dendritic rule (its somatic prediction error). :func:`gated_credit` returns it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from agents.rules.agrel import AGREL
from agents.rules.base import LearningRule
from agents.rules.dendritic import DendriticError, DendriticMLP
from agents.rules.feedback import exact_backward

TrialLoss = Callable[[torch.Tensor], torch.Tensor]  # model output (n, outputs) -> per-trial loss (n,)


def _hidden_modules(model: nn.Module) -> list[nn.Module]:
    """The nonlinearities after each hidden Linear of a layered MLP (their outputs are the hidden rates)."""
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"model of type {type(model).__name__} must be an nn.Sequential MLP (Linear, "
                         "nonlinearity, ..., Linear) to read credit signals by layer")
    mods = list(model)
    out = [mods[i + 1] for i in range(len(mods) - 1) if isinstance(mods[i], nn.Linear)
           and not isinstance(mods[i + 1], nn.Linear)]
    if not out:
        raise ValueError("model has no hidden layer (a Linear followed by a nonlinearity)")
    return out


def _check_layer(model: nn.Module, layer: int) -> nn.Module:
    mods = _hidden_modules(model)
    if not (isinstance(layer, int) and 0 <= layer < len(mods)):
        raise ValueError(f"layer={layer!r} must be a hidden layer index in [0, {len(mods) - 1}]")
    return mods[layer]


def hidden_rates(model: nn.Module, x: torch.Tensor, layer: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """(pre-activation u, rate h) of hidden layer ``layer`` on inputs ``x``, and nothing else changed."""
    mod = _check_layer(model, layer)
    seen: dict[str, torch.Tensor] = {}

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        seen["u"], seen["h"] = args[0].detach(), out.detach()

    handle = mod.register_forward_hook(hook)
    try:
        with torch.no_grad():
            nn.Sequential.forward(model, x)  # type: ignore[arg-type]  # the plain pass, not a rule's override
    finally:
        handle.remove()
    return seen["u"], seen["h"]


def _backward_credit(model: nn.Module, x: torch.Tensor, loss: TrialLoss, layer: int) -> torch.Tensor:
    mod = _check_layer(model, layer)
    seen: dict[str, torch.Tensor] = {}

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        out.retain_grad()
        seen["h"] = out

    handle = mod.register_forward_hook(hook)
    try:
        with torch.enable_grad():
            per_trial = loss(model(x))
            _check_loss(per_trial, len(x))
            h = seen["h"]
            (g,) = torch.autograd.grad(per_trial.sum(), h, allow_unused=True)
    finally:
        handle.remove()
    return -(torch.zeros_like(h) if g is None else g).detach()


def _check_loss(per_trial: torch.Tensor, n: int) -> None:
    if not isinstance(per_trial, torch.Tensor) or per_trial.shape != (n,):
        shape = tuple(per_trial.shape) if isinstance(per_trial, torch.Tensor) else type(per_trial).__name__
        raise ValueError(f"loss must return one loss per trial, shape ({n},); got {shape}")


def _dendritic(model: DendriticMLP, rule: DendriticError, x: torch.Tensor, loss: TrialLoss,
               layer: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(apical / beta, (phi(u) - phi(b)) / beta) of hidden layer ``layer`` at the nudged fixed point."""
    _check_layer(model, layer)
    xin = model.input(x)
    with torch.no_grad():
        out = nn.Sequential.forward(model, x)
    leaf = out.detach().clone().requires_grad_(True)
    per_trial = loss(leaf)
    _check_loss(per_trial, len(x))
    (g,) = torch.autograd.grad(per_trial.sum(), leaf, allow_unused=True)
    target = leaf.detach() - (torch.zeros_like(leaf) if g is None else g)  # per trial: u - dc_i/du
    model.refresh_top_down()
    with torch.no_grad():
        us, basal, _ = model.relax(xin, target, rule.beta, rule.gain, rule.steps, rule.tol)
        act = model._dend_acts[layer]
        apical = (us[layer] - basal[layer]) / (rule.gain * rule.beta)
        change = (act(us[layer]) - act(basal[layer])) / (rule.gain * rule.beta)
    return apical, change


def credit_signals(model: nn.Module, rule: LearningRule, x: torch.Tensor, loss: TrialLoss,
                   layer: int = 0) -> torch.Tensor:
    """The credit signal (trials x units) that ``rule`` sends to hidden layer ``layer`` of ``model`` (the
    model ``rule.prepare`` returned) for the per-trial ``loss`` (module docstring). For AGREL give the
    selected output's squared RPE as the loss (see :func:`selected_rpe_loss`)."""
    if isinstance(rule, DendriticError):
        if not isinstance(model, DendriticMLP):
            raise ValueError("rule 'dendritic_error' reads the model rule.prepare returned (a DendriticMLP)")
        return _dendritic(model, rule, x, loss, layer)[0]
    return _backward_credit(model, x, loss, layer)


def gated_credit(model: nn.Module, rule: LearningRule, x: torch.Tensor, loss: TrialLoss,
                 layer: int = 0) -> torch.Tensor:
    """The postsynaptic factor of each trial's weight change into hidden layer ``layer`` (trials x units):
    the trial's update of weight (j, i) is this times presynaptic rate i (up to the learning rate)."""
    if isinstance(rule, DendriticError):
        if not isinstance(model, DendriticMLP):
            raise ValueError("rule 'dendritic_error' reads the model rule.prepare returned (a DendriticMLP)")
        return _dendritic(model, rule, x, loss, layer)[1]
    credit = _backward_credit(model, x, loss, layer)
    u, _ = hidden_rates(model, x, layer)
    mod = _check_layer(model, layer)
    with torch.enable_grad():
        leaf = u.clone().requires_grad_(True)
        (d,) = torch.autograd.grad(mod(leaf).sum(), leaf)
    return credit * d


def selected_rpe_loss(actions: torch.Tensor, rewards: torch.Tensor) -> TrialLoss:
    """AGREL's per-trial loss: the selected output's squared reward prediction error ``(Q_a - r)^2 / 2``."""
    actions, rewards = torch.as_tensor(actions).long(), torch.as_tensor(rewards)

    def loss(q: torch.Tensor) -> torch.Tensor:
        qa = q.gather(1, actions[:, None].to(q.device)).squeeze(1)
        return (qa - rewards.to(q.device, q.dtype)) ** 2 / 2

    return loss


def tags(model: nn.Module, x: torch.Tensor, actions: torch.Tensor, layer: int = 0) -> torch.Tensor:
    """AGREL's tags of hidden layer ``layer`` (trials x units): the selected output's feedback sent down the
    forward weights (whatever rule prepared the model), gated by each unit's ``f'(u)``; a unit is tagged
    where this is nonzero."""
    actions = torch.as_tensor(actions).long()
    with exact_backward(model):
        q = nn.Sequential.forward(model, x).detach()  # type: ignore[arg-type]
        # -dc/dh of c = (Q_a - (Q_a + 1))^2 / 2 is +dQ_a/dh: the selected output's feedback
        target = q.gather(1, actions[:, None]).squeeze(1) + 1.0
        return gated_credit(model, AGREL(), x, selected_rpe_loss(actions, target), layer)
