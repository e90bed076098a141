"""The objective interface the trainer calls (the seed paper's first component), weighted sums of
objectives, and the registry that lets new objectives plug in without touching the trainer.

An objective may:
- ``build(agent)``: add the heads it needs to ``agent.aux`` (before the learning rule prepares the model,
  so every rule and the checkpoint see them);
- ``intrinsic_reward(rollout)``: return a (T, N) reward added to the env's reward before advantages are
  computed (prediction-error curiosity, empowerment, ...);
- ``prepare(rollout, agent)``: add per-transition fields to ``rollout.extras`` once per rollout
  (advantages and returns for the reward objective); minibatches carry them;
- ``loss(batch, outputs)``: return (scalar loss, metrics) for a minibatch and the agent's outputs on it.

Objectives draw no figures: an objective that has a read-out for the run folder (the learned empowerment
map) names a trainer hook in ``trainer_hooks`` (``"package.module:Factory"``), and the trainer attaches
``Factory(objective)`` (:mod:`agents.hooks`).

An objective whose intrinsic reward must be maximised by the policy sets ``needs_policy``; one that
trains the policy on rewards (``reward``) sets ``drives_policy``. When a spec has terms that need a
policy and none that drives one (``"curiosity"``, ``"empowerment"``), :func:`get_objective` adds
``reward`` with ``extrinsic: 0`` (options: the objective's ``policy_defaults``, then ``kwargs['reward']``),
so intrinsic-only agents need no trainer change.

Strings like ``"reward+0.1*predictive"`` build a :class:`WeightedSum`: each term's loss and intrinsic
reward are scaled by its weight.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from agents.architectures import Agent
from agents.registry import OBJECTIVES, parse_spec
from agents.rollout import Batch, Rollout

Metrics = dict[str, Any]


class Objective:
    """Base class. Subclasses set ``name`` and override what they use."""

    name: str = "base"
    drives_policy: bool = False  # it is such a term (trains the policy on extrinsic + intrinsic reward)
    policy_defaults: dict = {}  # options for the policy term added for it (see get_objective)
    trainer_hooks: tuple[str, ...] = ()  # entry points of hooks the trainer attaches (agents.hooks)

    @property
    def needs_policy(self) -> bool:
        """True when its intrinsic reward must be maximised by a policy-gradient term (subclasses
        override it with a class attribute, or a property when it depends on their options)."""
        return False

    def build(self, agent: Agent) -> None:
        """Add heads this objective needs to ``agent.aux`` (called once, before training, on the agent
        the learning rule will then prepare)."""

    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor | None:
        """A (T, N) intrinsic reward for the rollout's transitions, or None."""
        return None

    def prepare(self, rollout: Rollout, agent: nn.Module) -> None:
        """Compute per-transition targets once per rollout (stored in ``rollout.extras``); ``agent`` is
        the model the learning rule trains."""

    def loss(self, batch: Batch, outputs: Any) -> tuple[torch.Tensor, Metrics]:
        """(scalar loss to minimise, metrics) for one minibatch."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """Non-parameter state to checkpoint (running statistics, ...)."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""


class WeightedSum(Objective):
    """sum_k w_k * objective_k: losses and intrinsic rewards are both weighted."""

    def __init__(self, terms: list[tuple[float, Objective]]):
        if not terms:
            raise ValueError("a weighted sum needs at least one objective")
        self.terms = terms
        self.name = "+".join(o.name if w == 1.0 else f"{w:g}*{o.name}" for w, o in terms)

    def build(self, agent: Agent) -> None:
        for _, o in self.terms:
            o.build(agent)

    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor | None:
        total = None
        for w, o in self.terms:
            r = o.intrinsic_reward(rollout)
            if r is not None:
                total = w * r if total is None else total + w * r
        return total

    def prepare(self, rollout: Rollout, agent: nn.Module) -> None:
        for _, o in self.terms:
            o.prepare(rollout, agent)

    def loss(self, batch: Batch, outputs: Any) -> tuple[torch.Tensor, Metrics]:
        total, metrics = None, {}
        for w, o in self.terms:
            loss, m = o.loss(batch, outputs)
            total = w * loss if total is None else total + w * loss
            prefix = "" if len(self.terms) == 1 else f"{o.name}/"
            metrics.update({prefix + k: v for k, v in m.items()})
        assert total is not None, "a composite objective has at least one term"
        return total, metrics

    def state_dict(self) -> dict:
        return {f"{i}:{o.name}": o.state_dict() for i, (_, o) in enumerate(self.terms)}

    def load_state_dict(self, state: dict) -> None:
        for i, (_, o) in enumerate(self.terms):
            o.load_state_dict(state.get(f"{i}:{o.name}", {}))


_OBJECTIVES = OBJECTIVES  # the registry (agents.registry), read by the config layer


def register_objective(name: str, factory: Callable[..., Objective]) -> None:
    """Make ``name`` usable in objective strings (``--objective``)."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_\-]*", name):
        raise ValueError(f"objective name {name!r} must be an identifier (letters, digits, _ and -)")
    _OBJECTIVES[name] = factory


def available_objectives() -> list[str]:
    return sorted(_OBJECTIVES)


def get_objective(spec: str, kwargs: dict[str, dict] | None = None) -> WeightedSum:
    """The objective described by ``spec``; ``kwargs[name]`` are passed to that objective's factory."""
    kwargs = kwargs or {}
    terms = []
    names = [name for _, name in parse_spec(spec)]
    for w, name in parse_spec(spec):
        if name not in _OBJECTIVES:
            raise ValueError(f"objective {name!r} (in {spec!r}) is not known; available: "
                             f"{available_objectives()}")
        terms.append((w, _OBJECTIVES[name](**(kwargs.get(name) or {}))))
    if any(o.needs_policy for _, o in terms) and not any(o.drives_policy for _, o in terms):
        # an intrinsic reward with nothing to maximise it: add the policy gradient on it alone
        opts: dict = {"extrinsic": 0.0}
        for _, o in terms:
            opts.update(o.policy_defaults)
        opts.update(kwargs.get("reward") or {})
        terms.append((1.0, _OBJECTIVES["reward"](**opts)))
        names.append("reward")
    # options of registered objectives that this spec does not use are ignored (per-env defaults set the
    # reward's options, and `--objective predictive` must still run there); unknown names are errors
    unknown = set(kwargs) - set(names) - set(_OBJECTIVES)
    if unknown:
        raise ValueError(f"objective.kwargs names {sorted(unknown)}, which are not registered objectives "
                         f"(objective={spec!r}; available: {available_objectives()})")
    return WeightedSum(terms)
