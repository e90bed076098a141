"""Per-field validation of the run config: what each ``section.key`` allows and the error naming it.

Kept apart from :mod:`agents.config` (dataclasses, loading, overrides) so the rules read as one table;
every name here is re-exported there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from agents.registry import OBJECTIVES, RULES, parse_spec
from brainset_envs.core.ids import env_id_problem, env_ids_allowed


class ConfigError(ValueError):
    """A config value outside what its field allows; ``field`` names it (e.g. 'train.lr')."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


ENCODERS = ("auto", "hierarchical", "mlp")
CORES = ("none", "rnn", "rnn_tanh", "rnn_relu", "gru", "lstm")
ACTIVATIONS = ("tanh", "relu")
VALUE_TRUNKS = ("separate", "shared")
VECTORIZATIONS = ("auto", "native", "sync")
OPTIMIZERS = ("adam", "sgd")
DEVICE_KINDS = ("auto", "cpu", "cuda", "mps")
MAX_SEED = 2**63 - 1
MAX_COUNT = 10**15  # step counts and intervals
MAX_WIDTH = 65_536  # envs, channels, units, lengths


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class FieldSpec:
    """What one config field allows.

    ``kind``: int | float | bool | str | list | mapping. Numbers lie in [lo, hi] (``lo_open``: lo itself
    excluded) and are finite; ``choices`` (a callable, read when checked, so the registries stay the one
    source) lists the strings allowed; ``item`` checks each list element; ``check(value)`` is a further
    test returning a problem (str) or None, and ``allowed`` (a str or a callable) then says in words what
    is allowed; ``empty``: '' or [] allowed; ``none``: null allowed.
    """

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    choices: Any = None
    item: FieldSpec | None = None
    check: Any = None
    allowed: Any = ""
    empty: bool = True
    none: bool = False

    def describe(self) -> str:
        """What is allowed, in words."""
        if self.allowed:
            return self.allowed() if callable(self.allowed) else self.allowed
        if self.choices is not None:
            return "one of " + ", ".join(self.choices())
        if self.kind in ("int", "float"):
            what = "an integer" if self.kind == "int" else "a finite number"
            lo = "" if self.lo is None else ("> " if self.lo_open else ">= ") + f"{self.lo:g}"
            hi = "" if self.hi is None else f"<= {self.hi:g}"
            bounds = " and ".join(b for b in (lo, hi) if b)
            return f"{what}{' ' + bounds if bounds else ''}" + (" or null" if self.none else "")
        if self.kind == "bool":
            return "true or false"
        if self.kind == "list":
            inner = f", each {self.item.describe()}" if self.item else ""
            return f"a{' non-empty' if not self.empty else ''} list{inner}"
        if self.kind == "mapping":
            return "a mapping with string keys, e.g. {key: value}"
        return "a non-empty string" if not self.empty else "a string"

    def problem(self, value: Any) -> str | None:
        """None when ``value`` (already of the field's type) is allowed, else why not (a few words)."""
        if value is None:
            return None if self.none else "null"
        if self.kind in ("int", "float"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return "not a number"
            if self.kind == "int" and not isinstance(value, int):
                return "not an integer"
            if isinstance(value, float) and not math.isfinite(value):
                return "not finite"
            if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
                return "too small"
            if self.hi is not None and value > self.hi:
                return "too large"
        elif self.kind == "bool":
            if not isinstance(value, bool):
                return "not true or false"
        elif self.kind == "str":
            if not isinstance(value, str):
                return "not a string"
            if not value:
                return None if self.empty else "empty"
            if self.choices is not None and value not in self.choices():
                return "not known"
        elif self.kind == "list":
            if not isinstance(value, (list, tuple)):
                return "not a list"
            if not value:
                return None if self.empty else "empty"
            if len(value) > MAX_WIDTH:
                return "too long"
            for v in value:
                if self.item is not None and self.item.problem(v) is not None:
                    return f"element {_show(v)}: {self.item.problem(v)}"
        elif self.kind == "mapping":
            if not isinstance(value, dict):
                return "not a mapping"
            bad = [k for k in value if not isinstance(k, str) or not k]
            if bad:
                return f"key {_show(bad[0])} is not a name"
        if self.check is not None:
            return self.check(value)
        return None

    def validate(self, name: str, value: Any) -> None:
        """Raise :class:`ConfigError` naming ``name``, the value and what is allowed."""
        why = self.problem(value)
        if why is not None:
            raise ConfigError(name, f"{name}={_show(value)} is not allowed ({why}); allowed: {self.describe()}")


def rule_names() -> list[str]:
    """The registered learning rules (agents.rules)."""
    return sorted(RULES)


def objective_names() -> list[str]:
    """The registered objectives (agents.objectives)."""
    return sorted(OBJECTIVES)


def objective_spec_problem(spec: str) -> str | None:
    try:
        terms = parse_spec(spec)
    except ValueError:
        return "cannot be read"
    unknown = [n for _, n in terms if n not in objective_names()]
    if unknown:
        return f"{unknown[0]!r} is not a registered objective"
    if any(not math.isfinite(w) for w, _ in terms):
        return "a weight is not finite"
    return None


def arch_name_problem(name: str) -> str | None:
    parts = name.split("+")
    if len(parts) > 2 or parts[0] not in ENCODERS or (len(parts) == 2 and parts[1] not in CORES):
        return "not known"
    return None


def action_layer_problem(name: str) -> str | None:
    """Syntax only ('', 'core' or 'fc<k>'); whether the layer is the trunk's bounded output layer and as wide
    as the action is checked when the agent is built (:class:`agents.architectures.Agent`)."""
    if name in ("", "core") or (name.startswith("fc") and name[2:].isdigit() and int(name[2:]) >= 1):
        return None
    return "not a layer name"


def device_problem(device: str) -> str | None:
    """Syntax only (auto, cpu, cuda, cuda:N, mps); whether the device exists is checked when a run starts
    (:func:`agents.trainer.resolve_device`), so a config saved on a GPU machine still loads elsewhere."""
    kind, colon, index = device.partition(":")
    if kind not in DEVICE_KINDS or (colon and (kind in ("auto", "cpu") or not index.isdigit())):
        return "not a device"
    return None


def _objective_kwargs_problem(kwargs: dict) -> str | None:
    for name, opts in kwargs.items():
        if name not in objective_names():
            return f"{name!r} is not a registered objective"
        if opts is not None and not isinstance(opts, dict):
            return f"the options of {name!r} are not a mapping"
    return None


def _count(lo: int = 1, hi: int = MAX_COUNT) -> FieldSpec:
    return FieldSpec("int", lo, hi)


def _choice(names: tuple[str, ...]) -> FieldSpec:
    return FieldSpec("str", choices=lambda: names, empty=False)


_WIDTH = FieldSpec("int", 1, MAX_WIDTH)
_MAPPING = FieldSpec("mapping")

# Every field of every section and what it allows: apply_dict and validate read it, and
# tests/agents/test_config_bad_input.py checks that it covers the dataclasses and walks it with bad values.
FIELDS: dict[str, FieldSpec] = {
    "env.id": FieldSpec("str", empty=False, check=env_id_problem, allowed=env_ids_allowed),
    "env.kwargs": _MAPPING,
    "env.num_envs": _WIDTH,
    "env.vectorization": _choice(VECTORIZATIONS),
    "env.duration_key": FieldSpec("str"),
    "arch.name": FieldSpec("str", empty=False, check=arch_name_problem,
                           allowed=f"one of {', '.join(ENCODERS)}, optionally +core with core one of "
                                   f"{', '.join(CORES)} (e.g. mlp+gru)"),
    "arch.stages": FieldSpec("list", empty=False, item=FieldSpec("str", empty=False),
                             check=lambda v: "names repeat" if len(set(v)) < len(v) else None,
                             allowed="a non-empty list of distinct non-empty names"),
    "arch.channels": FieldSpec("list", empty=False, item=_WIDTH),
    "arch.kernels": FieldSpec("list", empty=False, item=FieldSpec("int", 1, 1024)),
    "arch.strides": FieldSpec("list", empty=False, item=FieldSpec("int", 1, 1024)),
    "arch.conv_fc": FieldSpec("list", item=_WIDTH),
    "arch.mlp_hidden": FieldSpec("list", item=_WIDTH),
    "arch.activation": _choice(ACTIVATIONS),
    "arch.core": _choice(CORES),
    "arch.core_hidden": _WIDTH,
    "arch.center_images": FieldSpec("bool"),
    "arch.value_trunk": _choice(VALUE_TRUNKS),
    "arch.action_std": FieldSpec("float", 0.0, 100.0, lo_open=True),
    "arch.action_layer": FieldSpec("str", check=action_layer_problem,
                                   allowed="'' (a linear readout), 'core' (the recurrent core's units) or the "
                                           "last MLP layer 'fc<k>' (without a core)"),
    "objective.spec": FieldSpec("str", empty=False, check=objective_spec_problem,
                                allowed=lambda: "a weighted sum of registered objectives such as "
                                                "'reward+0.1*predictive'; objectives: "
                                                + ", ".join(objective_names())),
    "objective.kwargs": FieldSpec("mapping", check=_objective_kwargs_problem,
                                  allowed=lambda: "a mapping from objective names (" + ", ".join(objective_names())
                                                  + ") to their options, e.g. {reward: {ent_coef: 0.0}}"),
    "rule.name": FieldSpec("str", empty=False, choices=lambda: tuple(rule_names())),
    "rule.kwargs": _MAPPING,
    "train.total_steps": _count(),
    "train.num_steps": _WIDTH,
    "train.update_epochs": FieldSpec("int", 1, 10_000),
    "train.num_minibatches": _WIDTH,
    "train.lr": FieldSpec("float", 0.0, 10.0, lo_open=True),
    "train.anneal_lr": FieldSpec("bool"),
    "train.max_grad_norm": FieldSpec("float", 0.0, 1e9),
    "train.optimizer": _choice(OPTIMIZERS),
    "train.adam_eps": FieldSpec("float", 0.0, 1.0, lo_open=True),
    "train.weight_decay": FieldSpec("float", 0.0, 1.0),
    "train.bptt_len": _WIDTH,
    "train.max_seconds": FieldSpec("float", 0.0, 1e9),
    "run.seed": FieldSpec("int", 0, MAX_SEED, allowed="an integer from 0 to 2**63 - 1"),
    "run.device": FieldSpec("str", empty=False, check=device_problem,
                            allowed="auto, cpu, cuda, cuda:N or mps"),
    "run.num_threads": FieldSpec("int", 0, 4096),
    "run.runs_dir": FieldSpec("str"),
    "run.eval_every": _count(0),
    "run.eval_episodes": FieldSpec("int", 1, 10**9),
    "run.eval_envs": _WIDTH,
    "run.eval_deterministic": FieldSpec("bool"),
    "run.target_return": FieldSpec("float", -1e15, 1e15, none=True),
    "run.checkpoint_every": _count(0),
    "run.video": FieldSpec("bool"),
    "run.video_episodes": FieldSpec("int", 1, 10_000),
    "run.video_max_frames": FieldSpec("int", 1, 10**7),
    "run.progress": FieldSpec("bool"),
    "run.tensorboard": FieldSpec("bool"),
}


def check_field(name: str, value: Any) -> None:
    """Raise :class:`ConfigError` when ``value`` is not allowed for the field ``name`` ('section.key')."""
    FIELDS[name].validate(name, value)
