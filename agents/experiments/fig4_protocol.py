"""The Fig. 4 experiment's protocol: every number of it (:class:`Fig4Protocol`) and what each field allows.

Kept apart from :mod:`agents.experiments.fig4` (the experiment itself) so the validation table reads on its own;
:mod:`agents.experiments.fig4` re-exports these names.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import yaml

from agents.config import ArchConfig, FieldSpec, rule_names


def _n(lo: float = 1, hi: float = 10**9, kind: str = "int", lo_open: bool = False, none: bool = False) -> FieldSpec:
    return FieldSpec(kind, lo, hi, lo_open=lo_open, none=none)


_SIZES = FieldSpec("list", empty=False, item=_n(1, 4096))
_NAMES = FieldSpec("list", empty=False, item=FieldSpec("str", empty=False))

# What each protocol field allows (checked on construction, so `--set KEY=VALUE` fails before a run).
PROTOCOL_FIELDS: dict[str, FieldSpec] = {
    "size": _n(8, 1024), "sf": _n(0.0, 0.5, "float", lo_open=True), "contrast": _n(0.0, 1.0, "float", lo_open=True),
    "noise_std": _n(0.0, 10.0, "float"), "ref_deg": _n(-360.0, 360.0, "float"),
    "offset_deg": _n(0.0, 90.0, "float", lo_open=True),
    "stages": _NAMES, "channels": _SIZES, "kernels": _SIZES, "strides": _SIZES,
    "conv_fc": FieldSpec("list", item=_n(1, 65_536)),
    "pretrain_steps": _n(1), "pretrain_batch": _n(1, 65_536), "pretrain_lr": _n(0.0, 10.0, "float", lo_open=True),
    "pretrain_noise": FieldSpec("list", item=_n(0.0, 10.0, "float"),
                                check=lambda v: None if len(v) == 2 else "not two numbers",
                                allowed="two noise levels [low, high], each a number in [0, 10]"),
    "pretrain_classes": _n(2, 360),
    "pretrain_rule": FieldSpec("str", choices=lambda: ("same", *rule_names()), empty=False),
    "readout_trials": _n(2), "readout_l2": _n(0.0, 1e6, "float"),
    "train_steps": _n(1, 10**15), "num_envs": _n(1, 65_536), "num_steps": _n(1, 65_536),
    "update_epochs": _n(1, 10_000), "num_minibatches": _n(1, 65_536), "lr": _n(0.0, 10.0, "float", lo_open=True),
    "algo": FieldSpec("str", choices=lambda: ("ppo", "reinforce"), empty=False),
    "ent_coef": _n(0.0, 100.0, "float"),
    "threshold_offsets": FieldSpec("list", empty=False, item=_n(0.0, 90.0, "float", lo_open=True)),
    "threshold_trials": _n(1), "tuning_step_deg": _n(0.0, 90.0, "float", lo_open=True), "tuning_phases": _n(1),
    "tuning_repeats": _n(1), "tuning_harmonics": _n(1, 1000), "tuning_noise": _n(0.0, 10.0, "float", none=True),
    "units_window_px": _n(1, 1024), "fisher_delta_deg": _n(0.0, 90.0, "float", lo_open=True), "fisher_repeats": _n(1),
    "weight_stages": _NAMES,
}


def parse_protocol_set(item: str) -> tuple[str, Any]:
    """``'lr=1e-3'`` (a ``--set`` value) -> ``('lr', 0.001)``, typed as the field's default; ValueError
    naming the field, the value and what is allowed. The range is checked when the protocol is made."""

    if "=" not in item:
        raise ValueError(f"{item!r}: write KEY=VALUE, e.g. --set lr=1e-3")
    key, raw = item.split("=", 1)
    key = key.strip()
    fields = {f.name: f for f in dataclasses.fields(Fig4Protocol)}
    if key not in fields:
        raise ValueError(f"{key!r} is not a protocol field; allowed: {', '.join(fields)}")
    spec = PROTOCOL_FIELDS[key]
    bad = ValueError(f"{key}={raw} is not allowed; allowed: {spec.describe()}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        raise bad from None
    default = fields[key].default
    if value is None:
        if not spec.none:
            raise bad
        return key, None
    if isinstance(default, tuple):
        value = tuple(value) if isinstance(value, list) else (value,)
        coerce = float if spec.item is not None and spec.item.kind == "float" else None
        try:
            value = tuple(coerce(v) if coerce and not isinstance(v, bool) else v for v in value)
        except (TypeError, ValueError):
            raise bad from None
        return key, value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise bad
        return key, value
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise bad
    try:
        number = float(value)
    except (ValueError, OverflowError):
        raise bad from None
    if spec.kind == "int":
        if not number.is_integer():
            raise bad
        return key, int(value) if isinstance(value, int) else int(number)
    return key, number


@dataclass
class Fig4Protocol:
    """Every number of the experiment (the JSON stores it). ``quick()`` gives the CI-sized variant."""

    # stimulus (the env's arguments) and the trained orientation
    size: int = 32
    sf: float = 0.08
    contrast: float = 0.5
    noise_std: float = 0.25
    ref_deg: float = 0.0
    offset_deg: float = 2.0
    # architecture: conv stages V1..IT and one fully connected layer
    stages: tuple = ("V1", "V2", "V4", "IT")
    channels: tuple = (16, 32, 32, 32)
    kernels: tuple = (5, 3, 3, 3)
    strides: tuple = (2, 2, 2, 1)
    conv_fc: tuple = (64,)
    # 1. development: supervised coarse orientation classification at all orientations
    pretrain_steps: int = 1000
    pretrain_batch: int = 128
    pretrain_lr: float = 2e-3
    pretrain_noise: tuple = (0.0, 0.15)
    pretrain_classes: int = 8
    pretrain_rule: str = "same"  # 'same': develop with the perceptual-learning rule; or a rule name
    # 2. readout at the trained orientation (logistic regression, body frozen)
    readout_trials: int = 8192
    readout_l2: float = 1e-3
    # 3. perceptual learning through the trainer (algo: ppo | reinforce; use update_epochs=1 with reinforce)
    train_steps: int = 80_000
    num_envs: int = 64
    num_steps: int = 8
    update_epochs: int = 4
    num_minibatches: int = 4
    lr: float = 5e-4
    algo: str = "ppo"
    ent_coef: float = 0.0
    # 4. measurement
    threshold_offsets: tuple = (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
    threshold_trials: int = 2000
    tuning_step_deg: float = 3.0
    tuning_phases: int = 16
    tuning_repeats: int = 256
    tuning_harmonics: int = 6
    tuning_noise: float | None = None  # None: the task's noise
    units_window_px: int = 12
    fisher_delta_deg: float = 3.0
    fisher_repeats: int = 1024
    weight_stages: tuple = field(default=("V1", "V2", "V4", "IT", "fc1"))

    def __post_init__(self) -> None:
        for name, spec in PROTOCOL_FIELDS.items():
            spec.validate(name, getattr(self, name))
        if not len(self.stages) == len(self.channels) == len(self.kernels) == len(self.strides):
            raise ValueError(f"stages/channels/kernels/strides must have equal lengths, got {self.stages}, "
                             f"{self.channels}, {self.kernels}, {self.strides}")
        if self.pretrain_noise[0] > self.pretrain_noise[1]:
            raise ValueError(f"pretrain_noise={self.pretrain_noise!r}: the low end must not exceed the high end")

    @classmethod
    def quick(cls, **changes) -> Fig4Protocol:
        """CI-sized: shorter development, fewer measurement trials (the same perceptual learning)."""
        base = cls(pretrain_steps=600, threshold_trials=1000, tuning_repeats=128, fisher_repeats=512,
                   readout_trials=4096)
        return replace(base, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    def arch(self) -> ArchConfig:
        return ArchConfig(name="hierarchical", stages=list(self.stages), channels=list(self.channels),
                          kernels=list(self.kernels), strides=list(self.strides), conv_fc=list(self.conv_fc),
                          value_trunk="shared")

    def env_kwargs(self, offset: float | None = None) -> dict[str, Any]:
        return {"size": self.size, "sf": self.sf, "contrast": self.contrast, "noise_std": self.noise_std,
                "ref_deg": self.ref_deg, "offset_deg": self.offset_deg if offset is None else offset}

    def pretrain_key(self, rule: str = "backprop", rule_kwargs: dict | None = None) -> str:
        """Hash of everything the pre-trained weights depend on (cache file name)."""
        keys = ("size", "sf", "contrast", "stages", "channels", "kernels", "strides", "conv_fc",
                "pretrain_steps", "pretrain_batch", "pretrain_lr", "pretrain_noise", "pretrain_classes")
        d = self.to_dict()
        d = {k: d[k] for k in keys} | {"rule": rule, "rule_kwargs": rule_kwargs or {}}
        return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:10]
