"""The learning-rule interface the trainer calls, and the default rule (backprop).

A rule may (1) rewrite the model once before training (``prepare``: e.g. swap layers for ones whose
backward pass uses fixed random feedback), and (2) turn a loss into ``.grad`` on every trainable
parameter (``compute_grads``). The optimizer step stays in the trainer, so any torch optimizer works
with any rule.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

LossClosure = Callable[[], torch.Tensor]


class LearningRule:
    """Base class. Subclasses set ``name`` and override what they change."""

    name: str = "base"

    def check_supported(self, model: nn.Module) -> None:
        """Raise ValueError naming the unsupported module type if this rule cannot train ``model``.
        Called at start-up, so a bad combination fails before any training step."""

    def prepare(self, model: nn.Module) -> nn.Module:
        """Return the model this rule trains (the same object or one with layers replaced)."""
        self.check_supported(model)
        return model

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        """Fill ``p.grad`` of every trainable parameter of ``model`` from the loss that ``closure``
        computes (it may be called several times, e.g. by perturbation rules). Returns metrics."""
        raise NotImplementedError


class Backprop(LearningRule):
    """Exact gradient by backpropagation (the default)."""

    name = "backprop"

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        loss = closure()
        loss.backward()
        return {"loss": float(loss.detach())}


_RULES: dict[str, Callable[..., LearningRule]] = {"backprop": Backprop}


def register_rule(name: str, factory: Callable[..., LearningRule]) -> None:
    """Make ``name`` available to ``get_rule`` and the ``--rule`` option."""
    _RULES[name] = factory


def available_rules() -> list[str]:
    """The names ``get_rule`` accepts (the ``--rule`` option), sorted."""
    return sorted(_RULES)


def get_rule(name: str, **options) -> LearningRule:
    """The rule called ``name`` (e.g. 'backprop', 'feedback_alignment'), built with ``options``."""
    if name not in _RULES:
        raise ValueError(f"rule={name!r} is not known; available: {available_rules()}")
    return _RULES[name](**options)
