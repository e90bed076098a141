"""Attention-gated reinforcement learning: AGREL (Roelfsema & van Ooyen 2005) in its Q-AGREL form
(Pozzi, Bohte & Roelfsema 2020, "BrainProp").

The model is a layered MLP, an ``nn.Sequential`` of ``Linear`` layers with an elementwise nonlinearity after
each hidden one (optional leading ``Flatten``); its linear outputs are action values ``Q``. On every trial
(sample) **one output unit is selected**: the argmax of ``Q`` with probability ``1 - epsilon``, otherwise a
sample from ``softmax(Q)`` (the rule's own ``torch.Generator``, seeded from ``seed``), so the selection
policy is ``pi(a|x) = (1 - epsilon) 1[a = argmax Q] + epsilon softmax(Q)_a``. The environment's answer is a
reward ``r = 1[a = y]`` (the selected unit is the correct class) and the global reward prediction error is
``delta = r - Q_a``. The selected unit then sends feedback down through its own forward weights (transposed,
as in Q-AGREL): the "tag" of hidden layer ``L-1`` is ``t = f'(u_{L-1}) * W_L[a, :]`` and below
``t_{k-1} = f'(u_{k-1}) * (W_k^T t_k)``. Every synapse changes by ``lr * delta * tag(post) * pre``: only the
selected output's row of the output layer, only units tagged by that output, signed by the RPE. The update
is backprop of ``(Q_a - r)^2 / 2`` for the one selected unit, so over the selection its expectation is minus
the gradient of ``sum_a pi(a|x) (Q_a - r_a)^2 / 2`` with ``pi`` held fixed: unbiased for that
policy-weighted objective, biased against the squared error of all outputs (more so after training, when
the error sits on outputs that are almost never selected). Updates are averaged over the samples (the
first axis), like a mean loss.

Where the label comes from (the closure interface): the trainer hands a rule only a closure returning a
loss. The rule runs it once with the output layer's output replaced by a leaf tensor and reads the loss's
gradient ``g = dC/dQ``: the label of each sample is the output unit the loss pushes up most (``argmin g``;
for cross-entropy, which every supervised caller here uses, exactly the target class: ``g = (softmax - onehot)
/ n`` has its one negative entry there). Only that label enters the update (the reward), not the loss's
value or its other gradients; a sample whose gradient is zero gets no update. The closure must call the
prepared model once, deterministically.

RL: AGREL is itself a reinforcement-learning rule when the network acts. In an environment loop, select the
actions with :meth:`AGREL.select` on the network's ``Q``, step the environment, and hand the executed actions
and the rewards to :meth:`AGREL.set_outcome` before ``compute_grads``: that update then uses them (RPE
``r - Q_a``, the executed action's tag) instead of its own selection and the label, and the closure only has
to run the model on the same observations (its loss value is unused). Through the PPO trainer, AGREL's
reading of the policy loss would be: restrict the output error to the taken action's unit and gate the
torso's updates by that unit's feedback. The closure interface cannot say which action was taken: from a
policy-gradient loss's gradient the action is confounded with the advantage's sign (two actions: taking 0
with advantage A gives the same logit gradient as taking 1 with advantage -A pi_1 / pi_0), and the trainer's
agents (a torso with policy and value heads) are no single chain, which ``prepare`` refuses. So the rule is
kept out of the trainer-level and REINFORCE task checks (``learns_tasks = False``); its own RL loop is
tested on OrientationDiscriminationEasy (tests/agents/rules/test_agrel.py).

Measured (tests/agents/rules/test_agrel.py): the expected update, enumerated over the selection policy, equals
minus the gradient of the policy-weighted objective to float64 precision (epsilon 0.02, 0.3, 1); its angle to
minus the gradient of the full-output squared error is 76.9 deg on a 5-7-6-4 tanh net at initialisation.
Digits 64-32-10 tanh, 8 epochs, Adam 3e-3, cross-entropy closures, 8 seeds: AGREL 0.903-0.959, backprop
0.930-0.967 (AGREL - backprop -0.041 to +0.014). In Fig. 2 (64-64-64-10, SGD 0.3, 10 epochs) it reaches
0.876 and its expected update is 71 deg from the cross-entropy gradient at initialisation and 88 deg after
training: it descends another objective (a squared error of the raw outputs, on the selected unit only).
Its own RL loop on OrientationDiscriminationEasy (16 px, 256-32-2, 300 updates of 128 trials, Adam 3e-3,
8 seeds): greedy accuracy 0.668-0.995 from chance.
Cost: one forward pass and one local backward sweep, about backprop's.
"""

from __future__ import annotations

import torch
from torch import nn

from agents.rules._support import (
    accumulate_grad,
    check_prepared,
    linear_chain,
    mark_prepared,
    rule_seed,
)
from agents.rules.base import LearningRule, LossClosure, Settings

# Elementwise nonlinearities: their derivative is one number per unit (the tag's gate f'(u)).
ELEMENTWISE: tuple[type[nn.Module], ...] = (
    nn.Tanh, nn.Sigmoid, nn.Softsign, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Softplus,
    nn.Hardtanh, nn.Identity,
)


def check_chain(model: nn.Module, rule: str) -> None:
    """Raise ValueError naming what makes ``model`` no layered MLP (Linear, elementwise nonlinearity, ...,
    Linear; an optional leading Flatten)."""
    linear_chain(model, rule, ELEMENTWISE, "an elementwise nonlinearity", "AGREL's feedback chain", "AGREL",
                 "its outputs are the action values Q")


class _Record:
    """Forward hooks on the Linear layers: their inputs and outputs; the output layer's output is swapped
    for a leaf so that the loss's gradient with respect to Q can be read."""

    def __init__(self, linears: list[nn.Linear]):
        self.index: dict[nn.Module, int] = {m: i for i, m in enumerate(linears)}
        self.last = len(linears) - 1
        self.pre: list[torch.Tensor | None] = [None] * len(linears)
        self.out: list[torch.Tensor | None] = [None] * len(linears)
        self.calls = 0

    def hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor | None:
        i = self.index[module]
        self.pre[i], self.out[i] = args[0].detach(), output.detach()
        if i == self.last:
            self.calls += 1
            leaf = output.detach().clone().requires_grad_(True)
            self.out[i] = leaf
            return leaf
        return None


class AGREL(LearningRule):
    """One selected output, a global reward prediction error, feedback tags (module docstring)."""

    name = "agrel"
    label = "AGREL"
    summary = ("one output selected per trial (argmax, else with probability `epsilon` a softmax sample), reward "
               "1[selected = label], RPE r - Q_a gates updates of the units tagged by the selected output's "
               "feedback (Roelfsema & van Ooyen 2005; Q-AGREL, Pozzi et al. 2020); `epsilon`, `seed`")
    supports = "MLPs: nn.Sequential of Linear + elementwise nonlinearities (optional leading Flatten)"
    stochastic = True
    learns_tasks = False  # needs the action and reward of an RL loop, which the closure does not carry
    fig2 = Settings({"epsilon": 0.02}, "sgd", 0.3)  # 10 epochs, seed 0: 0.77 at 0.1, 0.84 at 0.3, NaN at 1
    supervised = Settings({"epsilon": 0.02})

    def __init__(self, epsilon: float = 0.02, seed: int = 0):
        if not (isinstance(epsilon, (int, float)) and not isinstance(epsilon, bool) and 0 <= epsilon <= 1):
            raise ValueError(f"epsilon={epsilon!r} must be a number in [0, 1] (the probability of a softmax "
                             "sample instead of the argmax)")
        if not (isinstance(seed, int) and not isinstance(seed, bool)):
            raise ValueError(f"seed={seed!r} must be an integer (seeds the rule's action selection)")
        self.epsilon, self.seed = float(epsilon), seed
        self.generator = torch.Generator().manual_seed(rule_seed(seed, self.name))
        self._outcome: tuple[torch.Tensor, torch.Tensor] | None = None

    def check_supported(self, model: nn.Module) -> None:
        check_chain(model, self.name)

    def prepare(self, model: nn.Module) -> nn.Module:
        self.check_supported(model)
        mark_prepared(model, self.name)
        return model

    # -- selection ---------------------------------------------------------------------------------------

    def policy(self, q: torch.Tensor) -> torch.Tensor:
        """The selection probabilities pi(a|x) for action values ``q`` (samples x actions)."""
        greedy = nn.functional.one_hot(q.argmax(1), q.shape[1]).to(q.dtype)
        return (1 - self.epsilon) * greedy + self.epsilon * torch.softmax(q, 1)

    def select(self, q: torch.Tensor) -> torch.Tensor:
        """One action per sample: the argmax, or with probability ``epsilon`` a softmax sample."""
        qc = q.detach().double().cpu()
        explore = torch.rand(len(qc), generator=self.generator, dtype=torch.float64) < self.epsilon
        sampled = torch.multinomial(torch.softmax(qc, 1), 1, generator=self.generator).squeeze(1)
        return torch.where(explore, sampled, qc.argmax(1)).to(q.device)

    def set_outcome(self, actions: torch.Tensor, rewards: torch.Tensor) -> None:
        """RL use: the actions an environment executed (one per sample, e.g. from :meth:`select`) and the
        rewards it returned; the next ``compute_grads`` (only that one) learns from them."""
        actions, rewards = torch.as_tensor(actions), torch.as_tensor(rewards)
        if actions.dim() != 1 or actions.dtype.is_floating_point or actions.dtype == torch.bool:
            raise ValueError(f"actions (dtype {actions.dtype}, shape {tuple(actions.shape)}) must be a 1-d integer "
                             "tensor, one action per sample")
        if rewards.shape != actions.shape:
            raise ValueError(f"rewards of shape {tuple(rewards.shape)} must match actions of shape "
                             f"{tuple(actions.shape)} (one reward per sample)")
        self._outcome = (actions.long(), rewards)

    # -- the update ----------------------------------------------------------------------------------------

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        assert isinstance(model, nn.Sequential)
        linears = [m for m in model if isinstance(m, nn.Linear)]
        acts = [m for m in model if isinstance(m, ELEMENTWISE)]
        rec = _Record(linears)
        handles = [m.register_forward_hook(rec.hook) for m in linears]
        try:
            with torch.enable_grad():
                loss = closure()
        finally:
            for h in handles:
                h.remove()
        if rec.calls != 1:
            raise RuntimeError(f"rule={self.name!r}: the closure must call the prepared model exactly once "
                               f"(it called it {rec.calls} times)")
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise ValueError(f"rule={self.name!r}: the closure must return a scalar loss tensor")
        q = rec.out[-1]
        assert q is not None
        if q.dim() != 2:
            raise ValueError(f"rule={self.name!r}: the output layer must give (batch, actions), got {tuple(q.shape)}")
        (g,) = torch.autograd.grad(loss.reshape(()), q, allow_unused=True)
        g = torch.zeros_like(q) if g is None else g.detach()
        q = q.detach()
        if not bool(torch.isfinite(q).all()):
            raise FloatingPointError(f"rule={self.name!r}: non-finite action values Q (the weights diverged): "
                                     "lower the learning rate")
        outcome, self._outcome = self._outcome, None
        with torch.no_grad():
            if outcome is None:
                label = g.argmin(1)  # the unit the loss pushes up most: the target class for cross-entropy
                valid = (g != 0).any(1).to(q.dtype)
                action = self.select(q)
                reward = (action == label).to(q.dtype)
            else:
                action, reward = outcome[0].to(q.device), outcome[1].to(q.device, q.dtype)
                if len(action) != len(q) or not bool(((action >= 0) & (action < q.shape[1])).all()):
                    raise ValueError(f"rule={self.name!r}: set_outcome gave actions {action.tolist()[:8]} "
                                     f"(length {len(action)}); the model gave {len(q)} samples of {q.shape[1]} "
                                     f"actions: one action in [0, {q.shape[1] - 1}] per sample")
                valid = torch.ones_like(reward)
            rpe = (reward - q.gather(1, action[:, None]).squeeze(1)) * valid
            grads = self.grads_for(linears, acts, rec, action, rpe)
        for lin, (gw, gb) in zip(linears, grads, strict=True):
            if lin.weight.requires_grad:
                accumulate_grad(lin.weight, gw)
            if lin.bias is not None and lin.bias.requires_grad:
                accumulate_grad(lin.bias, gb)
        n = max(float(valid.sum()), 1.0)
        return {"loss": float(loss.detach()), "agrel_reward": float((reward * valid).sum()) / n,
                "agrel_abs_rpe": float(rpe.abs().sum()) / n}

    @staticmethod
    def grads_for(linears: list[nn.Linear], acts: list[nn.Module], rec: _Record, action: torch.Tensor,
                  rpe: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(weight, bias) gradients, output layer last: minus the AGREL update ``delta * tag(post) * pre``,
        averaged over samples. The tag of the output layer is 1 on the selected unit and 0 elsewhere."""
        q = rec.out[-1]
        assert q is not None
        n = q.shape[0]
        tag = nn.functional.one_hot(action, q.shape[1]).to(q.dtype)  # the selected output
        out: list[tuple[torch.Tensor, torch.Tensor]] = []
        for k in range(len(linears) - 1, -1, -1):
            pre = rec.pre[k]
            assert pre is not None
            err = -(rpe[:, None] * tag) / n  # minus the update's postsynaptic factor: a gradient
            out.append((err.T @ pre.reshape(n, -1), err.sum(0)))
            if k > 0:
                u = rec.out[k - 1]
                assert u is not None
                tag = _derivative(acts[k - 1], u) * (tag @ linears[k].weight.detach())
        return out[::-1]


def _derivative(act: nn.Module, u: torch.Tensor) -> torch.Tensor:
    """f'(u) of an elementwise nonlinearity, unit by unit."""
    with torch.enable_grad():
        leaf = u.detach().requires_grad_(True)
        (d,) = torch.autograd.grad(act(leaf).sum(), leaf)
    return d
