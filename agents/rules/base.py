"""The learning-rule interface the trainer calls, and the default rule (backprop).

A rule may (1) rewrite the model once before training (``prepare``: e.g. swap layers for ones whose
backward pass uses fixed random feedback), and (2) turn a loss into ``.grad`` on every trainable
parameter (``compute_grads``). The optimizer step stays in the trainer, so any torch optimizer works
with any rule.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from agents.registry import RULES

LossClosure = Callable[[], torch.Tensor]


@dataclass(frozen=True)
class Settings:
    """Settings a rule is known to work with in one use: its options, the optimizer and the step size."""

    options: Mapping[str, Any] = field(default_factory=dict)
    optimizer: str = "adam"  # adam | sgd
    lr: float = 3e-3


class LearningRule:
    """Base class. Subclasses set ``name`` and the descriptive class attributes below, and override what
    they change. The registry, Fig. 2, the docs tables and the registry-wide tests read those attributes,
    so a new rule is its file, one :func:`register_rule` line and its test."""

    name: str = "base"
    label: str = "base"  # short name for figure legends
    summary: str = ""  # what it does, with its reference (docs tables)
    supports: str = "any"  # the architectures it trains
    trains_any_module: bool = False  # True: no module is refused at prepare (else unknown ones are)
    stochastic: bool = False  # its updates are random draws (Fig. 2 averages over repeats)
    # False: the rule does not descend the task's objective in every layer (e.g. Hebbian hidden layers),
    # so the task-learning checks (trainer-level and REINFORCE, agents/experiments/checks.py) skip it.
    learns_tasks: bool = True
    # False: the rule trains MLPs only, not the trainer's agents (conv or MLP torso, policy and value heads),
    # so the trainer-level check skips it; the REINFORCE check on a small MLP still runs it (learns_tasks).
    trains_agents: bool = True
    fig2: Settings = Settings(optimizer="sgd", lr=0.1)  # Fig. 2: plain SGD on the digits MLP
    supervised: Settings = Settings()  # a small supervised net (tests/agents/rules/test_on_a_task.py)
    # Through the trainer: PPO env steps on OrientationDiscriminationEasy (and extra config overrides)
    # after which the greedy policy's accuracy is audited (agents/experiments/checks.py).
    trainer_steps: int = 32768
    trainer_overrides: tuple[str, ...] = ()

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


@contextlib.contextmanager
def frozen_rule_state(model: nn.Module) -> Iterator[nn.Module]:
    """Inside this block a rule that learns state of its own while computing updates (RDD's feedback
    weights) computes them without changing that state, so probes (Fig. 2) measure one rule state."""
    old = getattr(model, "_rule_frozen", False)
    setattr(model, "_rule_frozen", True)  # noqa: B010  (a plain flag on the module)
    try:
        yield model
    finally:
        setattr(model, "_rule_frozen", old)  # noqa: B010


def rule_state_frozen(model: nn.Module) -> bool:
    """Whether ``model`` is inside :func:`frozen_rule_state`."""
    return bool(getattr(model, "_rule_frozen", False))


class Backprop(LearningRule):
    """Exact gradient by backpropagation (the default)."""

    name = label = "backprop"
    summary = "exact gradient"
    trains_any_module = True
    trainer_steps = 16384

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        loss = closure()
        loss.backward()
        return {"loss": float(loss.detach())}


_RULES = RULES  # the registry (agents.registry), read by the config layer
_RULES["backprop"] = Backprop


def register_rule(rule: str | type[LearningRule], factory: Callable[..., LearningRule] | None = None) -> None:
    """Make a rule available to ``get_rule`` and the ``--rule`` option: ``register_rule(MyRule)`` (a
    :class:`LearningRule` subclass, registered under its ``name``) or ``register_rule(name, factory)``."""
    if isinstance(rule, str):
        if factory is None:
            raise TypeError(f"register_rule({rule!r}): give the factory too, or register the class itself")
        _RULES[rule] = factory
    elif isinstance(rule, type) and issubclass(rule, LearningRule) and factory is None:
        if rule.name in ("", "base"):
            raise ValueError(f"register_rule({rule.__name__}): set the class attribute 'name'")
        _RULES[rule.name] = rule
    else:
        raise TypeError(f"register_rule({rule!r}): expected a LearningRule subclass or (name, factory)")


def available_rules() -> list[str]:
    """The names ``get_rule`` accepts (the ``--rule`` option), sorted."""
    return sorted(_RULES)


def registered_rules() -> tuple[str, ...]:
    """The registered rule names in registration order (the order of tables and figures)."""
    return tuple(_RULES)


def rule_class(name: str) -> type[LearningRule]:
    """The class registered as ``name`` (its descriptive attributes); the base class for a plain factory."""
    if name not in _RULES:
        raise ValueError(f"rule={name!r} is not known; available: {available_rules()}")
    factory = _RULES[name]
    return factory if isinstance(factory, type) and issubclass(factory, LearningRule) else LearningRule


def rules_table(names: Sequence[str] | None = None) -> str:
    """The Markdown table of the rules ``names`` (default: all registered; ``python -m agents.rules``
    prints the built-ins' table, the README's copy)."""
    rows = ["| rule | what it does | architectures |", "|---|---|---|"]
    rows += [f"| `{n}` | {rule_class(n).summary} | {rule_class(n).supports} |"
             for n in (registered_rules() if names is None else names)]
    return "\n".join(rows)


def get_rule(name: str, **options) -> LearningRule:
    """The rule called ``name`` (e.g. 'backprop', 'feedback_alignment'), built with ``options``."""
    if name not in _RULES:
        raise ValueError(f"rule={name!r} is not known; available: {available_rules()}")
    return _RULES[name](**options)
