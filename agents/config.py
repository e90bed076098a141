"""Typed run configuration: dataclasses, YAML save/load, dotted command-line overrides, per-env defaults.

Resolution order (later wins): dataclass defaults < the env's shipped defaults (``agents/configs/
<Name>.yaml``, looked up by the id's name, e.g. ``OrientationDiscriminationEasy``, after its task stem,
e.g. ``OrientationDiscrimination``) < a ``--config`` YAML file < command-line flags and ``key=value``
overrides such as ``train.lr=1e-3`` or ``env.kwargs.noise_std=0.2``.

A new env needs only a ``agents/configs/<Name>.yaml`` file to get its own defaults; nothing else changes.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

import brainset_envs  # noqa: F401  (registers the BrainSet ids)
from agents.config_fields import (  # noqa: F401  (re-exported: the per-field validation table)
    ACTIVATIONS,
    CORES,
    DEVICE_KINDS,
    ENCODERS,
    FIELDS,
    MAX_COUNT,
    MAX_SEED,
    MAX_WIDTH,
    OPTIMIZERS,
    VALUE_TRUNKS,
    VECTORIZATIONS,
    ConfigError,
    FieldSpec,
    arch_name_problem,
    check_field,
    device_problem,
    env_id_problem,
    env_ids_allowed,
    objective_names,
    objective_spec_problem,
    rule_names,
)

STAGES = ["V1", "V2", "V4", "IT"]


def _f(default: Any, help: str) -> Any:
    """A dataclass field with a help string (shown by ``scripts/train.py --help``)."""
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(type(default), default), metadata={"help": help})
    return field(default=default, metadata={"help": help})


@dataclass
class EnvConfig:
    """Which env to train on and how it is batched."""

    id: str = _f("BrainSet/OrientationDiscrimination-v0", "gymnasium id (any registered env)")
    kwargs: dict = _f({}, "keyword arguments for gym.make / make_vec")
    num_envs: int = _f(64, "envs stepped in one batch")
    vectorization: str = _f("auto", "auto (native vector env when registered, else sync) | native | sync")
    duration_key: str = _f("", "info key holding each step's duration (e.g. 'duration' for semi-Markov "
                           "tasks such as PatchForaging): discounts become gamma ** duration, i.e. gamma "
                           "per unit of that time; '' = one unit per step")


@dataclass
class ArchConfig:
    """The network: an encoder per observation (conv stages for images, MLP for vectors), an optional
    recurrent core, and policy/value heads."""

    name: str = _f("auto", "auto | hierarchical | mlp, optionally '+core' (e.g. mlp+gru): images go "
                   "through conv stages unless 'mlp' (which flattens everything)")
    stages: list = _f(list(STAGES), "names of the conv stages, one per conv block")
    channels: list = _f([16, 32, 32, 32], "output channels of each conv stage")
    kernels: list = _f([5, 3, 3, 3], "kernel size of each conv stage")
    strides: list = _f([2, 2, 2, 2], "stride of each conv stage")
    conv_fc: list = _f([128], "fully connected layers after the last conv stage (named fc1, fc2, ...)")
    mlp_hidden: list = _f([64, 64], "hidden layers of the MLP for vector observations (fc1, fc2, ...)")
    activation: str = _f("tanh", "MLP nonlinearity: tanh | relu (conv stages use relu)")
    core: str = _f("none", "recurrent core: none | rnn (= rnn_tanh) | rnn_tanh | rnn_relu | gru | lstm")
    core_hidden: int = _f(64, "units of the recurrent core")
    center_images: bool = _f(False, "subtract 0.5 from images after scaling them to [0, 1], so the inputs "
                             "are centred (LeCun et al. 1998); node perturbation needs it (see "
                             "agents/rules/perturbation.py)")
    value_trunk: str = _f("separate", "separate (the value has its own encoder/core, as in SB3 and CleanRL "
                          "MLPs) | shared (one network, both heads; cheaper for conv nets)")
    action_std: float = _f(1.0, "initial standard deviation of a Box action's Gaussian noise (log_std, a "
                           "learned parameter, starts at its log)")
    action_layer: str = _f("", "'' = a Box action's mean is a linear readout of the trunk; a layer name ('core', "
                           "or the last MLP layer, e.g. 'fc2', when there is no core) = the mean IS that "
                           "layer's activity (tanh-bounded units, as wide as the action), with Gaussian noise "
                           "of std exp(log_std) around it: the BCI tasks' recorded neurons")


@dataclass
class ObjectiveConfig:
    """What is optimised: a weighted sum of registered objectives."""

    spec: str = _f("reward", "weighted sum such as 'reward' or 'reward+0.1*predictive'")
    kwargs: dict = _f({}, "options per objective name, e.g. {reward: {ent_coef: 0.0}}")


@dataclass
class RuleConfig:
    """How the loss becomes parameter updates."""

    name: str = _f("backprop", "learning rule registered in agents.rules (backprop, ...)")
    kwargs: dict = _f({}, "options of the rule")


@dataclass
class TrainConfig:
    """The optimisation loop (CleanRL-style batched PPO schedule)."""

    total_steps: int = _f(1_000_000, "env steps in total (all envs, reset steps included)")
    num_steps: int = _f(32, "steps per env in one rollout")
    update_epochs: int = _f(4, "passes over each rollout")
    num_minibatches: int = _f(4, "minibatches per pass")
    lr: float = _f(5e-4, "learning rate")
    anneal_lr: bool = _f(True, "decay the learning rate linearly to 0")
    max_grad_norm: float = _f(0.5, "clip the gradient norm (0 = no clipping)")
    optimizer: str = _f("adam", "adam | sgd")
    adam_eps: float = _f(1e-5, "Adam epsilon")
    weight_decay: float = _f(0.0, "weight decay")
    bptt_len: int = _f(16, "truncated BPTT length for recurrent cores (divides num_steps)")
    max_seconds: float = _f(0.0, "stop after this many seconds (0 = no limit; breaks exact reproducibility)")


@dataclass
class RunConfig:
    """Seeding, device, evaluation, checkpoints and outputs."""

    seed: int = _f(0, "seeds python, numpy, torch and the envs")
    device: str = _f("auto", "auto (CUDA when available) | cpu | cuda | cuda:N")
    num_threads: int = _f(0, "torch CPU threads (0 = 1 thread, fastest for small nets on CPU)")
    runs_dir: str = _f("runs", "parent folder of run folders")
    eval_every: int = _f(100_000, "env steps between evaluations (0 = only at the end)")
    eval_episodes: int = _f(100, "episodes per evaluation")
    eval_envs: int = _f(32, "envs used by the evaluation")
    eval_deterministic: bool = _f(True, "greedy actions in evaluation")
    target_return: float | None = _f(None, "stop when the evaluation return reaches this")
    checkpoint_every: int = _f(100_000, "env steps between checkpoints (last.pt)")
    video: bool = _f(True, "record a video of the trained agent at the end")
    video_episodes: int = _f(8, "episodes in the video")
    video_max_frames: int = _f(400, "frame cap of the video")
    progress: bool = _f(True, "show a progress bar")
    tensorboard: bool = _f(True, "write TensorBoard events")


@dataclass
class Config:
    """Everything a run needs; saved as the run folder's config.yaml."""

    env: EnvConfig = field(default_factory=EnvConfig)
    arch: ArchConfig = field(default_factory=ArchConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    rule: RuleConfig = field(default_factory=RuleConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunConfig = field(default_factory=RunConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def save(self, path: str | Path) -> None:
        """Write as YAML (atomically)."""

        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(self.to_dict(), sort_keys=False))
        os.replace(tmp, path)

    @classmethod
    def from_dict(cls, d: dict) -> Config:
        cfg = cls()
        apply_dict(cfg, d)
        return cfg

    @classmethod
    def load(cls, path: str | Path) -> Config:
        return cls.from_dict(yaml.safe_load(Path(path).read_text()) or {})


SECTIONS: dict[str, type] = typing.get_type_hints(Config)


# --- typed assignment --------------------------------------------------------------------------------


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to the annotated type ``hint`` or a TypeError naming ``where``."""
    if isinstance(hint, str):
        hint = eval(hint, {"dict": dict, "list": list, "float": float, "int": int, "str": str,
                           "bool": bool, "None": None})
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)][0]
        return _coerce(value, inner, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise TypeError(f"{where}={value!r} must be true or false")
    if hint is int:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise TypeError(f"{where}={value!r} must be an integer") from None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{where}={value!r} must be an integer")
        return value
    if hint is float:
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise TypeError(f"{where}={value!r} must be a number")
        try:
            return float(value)
        except ValueError:
            raise TypeError(f"{where}={value!r} must be a number") from None
        except OverflowError:  # an integer beyond the float range
            return math.inf if int(value) > 0 else -math.inf
    if hint is str:
        if not isinstance(value, str):
            raise TypeError(f"{where}={value!r} must be a string")
        return value
    if hint is list or origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise TypeError(f"{where}={value!r} must be a list, e.g. [16, 32]")
        return value
    if hint is dict or origin is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where}={value!r} must be a mapping, e.g. {{key: value}}")
        return value
    return value


def _hints(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def apply_dict(cfg: Config, d: dict, where: str = "") -> None:
    """Assign the (partial, nested) mapping ``d`` onto ``cfg``; unknown keys raise KeyError naming the
    key and the allowed ones. ``kwargs`` mappings merge key by key."""
    if not isinstance(d, dict):
        raise TypeError(f"config{(' ' + where) if where else ''} must be a mapping, got {d!r}")
    for sec, sub in d.items():
        if sec not in SECTIONS:
            raise KeyError(f"unknown config section {sec!r}; allowed: {sorted(SECTIONS)}")
        if sub is None:
            continue
        target = getattr(cfg, sec)
        hints = _hints(target)
        if not isinstance(sub, dict):
            raise TypeError(f"config section {sec!r} must be a mapping, got {sub!r}")
        for key, value in sub.items():
            if key not in hints:
                raise KeyError(f"unknown option {sec}.{key}; allowed: {sorted(hints)}")
            name = f"{sec}.{key}"
            try:
                value = _coerce(value, hints[key], name)
            except TypeError as e:
                raise TypeError(f"{e}; allowed: {FIELDS[name].describe()}") from None
            check_field(name, value)
            if isinstance(value, dict) and isinstance(getattr(target, key), dict):
                setattr(target, key, _merge(getattr(target, key), value))
            else:
                setattr(target, key, value)


def _merge(a: dict, b: dict) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def parse_override(text: str) -> dict:
    """``'train.lr=1e-3'`` -> ``{'train': {'lr': 0.001}}``; the value is read as YAML."""
    if "=" not in text:
        raise ValueError(f"override {text!r} must look like section.key=value, e.g. train.lr=1e-3")
    path, raw = text.split("=", 1)
    keys = path.strip().split(".")
    if len(keys) < 2:
        raise ValueError(f"override {text!r} must name a section and a key, e.g. train.lr=1e-3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as e:
        raise ValueError(f"override {text!r}: the value is not valid YAML ({str(e).splitlines()[0]}); quote "
                         f"it for the shell, e.g. 'objective.kwargs={{reward: {{ent_coef: 0.0}}}}'") from None
    out: Any = value
    for k in reversed(keys):
        out = {k: out}
    return out


# --- per-env defaults ---------------------------------------------------------------------------------


def env_names(env_id: str) -> list[str]:
    """Names whose default files apply to ``env_id``, most general first: the task stem (entry point
    class without 'Env'), then the id's own name (namespace and version removed)."""
    name = env_id.split(":")[-1].split("/")[-1]
    name = name.rsplit("-v", 1)[0]
    names = [name]
    try:
        ep = gym.spec(env_id).entry_point
        if isinstance(ep, str) and ":" in ep:
            stem = ep.split(":")[1].removesuffix("Env")
            if stem != name:
                names.insert(0, stem)
    except Exception:  # unknown id: only its own name
        pass
    return names


def env_defaults(env_id: str) -> list[tuple[str, dict]]:
    """The shipped default files that apply to ``env_id``: (file name, partial config)."""
    root = resources.files("agents") / "configs"
    out = []
    for name in env_names(env_id):
        f = root / f"{name}.yaml"
        if f.is_file():
            out.append((f.name, yaml.safe_load(f.read_text()) or {}))
    return out


def resolve_config(env_id: str | None = None, config_file: str | Path | None = None,
                   overrides: list[dict] | None = None, base: Config | None = None) -> Config:
    """Build the run's config: defaults < per-env file(s) < ``config_file`` < ``overrides``.

    With ``base`` (a resumed run's saved config) only ``overrides`` are applied on top of it.
    """
    overrides = list(overrides or [])
    if base is not None:
        cfg = base
    else:
        file_d = yaml.safe_load(Path(config_file).read_text()) or {} if config_file else {}
        if env_id is None:
            env_id = (file_d.get("env") or {}).get("id", EnvConfig().id)
        for o in overrides:  # an override of env.id decides which defaults apply
            env_id = (o.get("env") or {}).get("id", env_id)
        cfg = Config()
        for _, d in env_defaults(env_id):
            apply_dict(cfg, d)
        apply_dict(cfg, file_d)
        cfg.env.id = env_id
    for o in overrides:
        apply_dict(cfg, o)
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Every field against :data:`FIELDS`, then the cross-field checks; messages name the options."""
    for sec in SECTIONS:
        for f in dataclasses.fields(getattr(cfg, sec)):
            check_field(f"{sec}.{f.name}", getattr(getattr(cfg, sec), f.name))
    t, e, a = cfg.train, cfg.env, cfg.arch
    if not (len(a.stages) == len(a.channels) == len(a.kernels) == len(a.strides)):
        raise ConfigError("arch.stages", f"arch.stages/channels/kernels/strides must have equal lengths, got "
                          f"{a.stages}, {a.channels}, {a.kernels}, {a.strides}")
    parts = a.name.split("+")
    core = parts[1] if len(parts) > 1 else a.core
    _check_action_layer(a, core)
    if core != "none":  # truncated BPTT over num_steps // bptt_len segments per env
        if t.num_steps % t.bptt_len:
            raise ConfigError("train.bptt_len", f"train.bptt_len={t.bptt_len} must divide "
                              f"train.num_steps={t.num_steps} (recurrent core {core!r})")
        n_seq = t.num_steps // t.bptt_len * e.num_envs
        if t.num_minibatches > n_seq:
            raise ConfigError("train.num_minibatches", f"train.num_minibatches={t.num_minibatches} exceeds "
                              f"the {n_seq} sequences of a rollout (num_steps / bptt_len x num_envs)")


BOUNDED_CORES = ("rnn", "rnn_tanh", "gru", "lstm")  # cores whose units lie in [-1, 1]


def action_layers(a: ArchConfig, core: str) -> list[str]:
    """The layers that ``arch.action_layer`` may name for this architecture: the policy trunk's output
    layer when its units are tanh-bounded (a bounded core, else the last layer of a tanh MLP)."""
    if core != "none":
        return ["core"] if core in BOUNDED_CORES else []
    if a.mlp_hidden and a.activation == "tanh":
        return [f"fc{len(a.mlp_hidden)}"]
    return []


def _check_action_layer(a: ArchConfig, core: str) -> None:
    """``arch.action_layer`` names the trunk's bounded output layer (its width is checked with the action
    space when the agent is built)."""
    if not a.action_layer:
        return
    allowed = action_layers(a, core)
    if a.action_layer not in allowed:
        what = (f"one of {allowed}" if allowed else "none here: it needs a tanh-bounded output layer (arch.core "
                f"one of {', '.join(BOUNDED_CORES)}, or no core and a tanh MLP with arch.mlp_hidden non-empty)")
        raise ConfigError("arch.action_layer", f"arch.action_layer={a.action_layer!r} is not the policy trunk's "
                          f"bounded output layer (arch.name={a.name!r}, arch.core={a.core!r}, "
                          f"arch.mlp_hidden={a.mlp_hidden}, arch.activation={a.activation!r}); allowed: '' "
                          f"(a linear readout) or {what}")


def arch_label(cfg: Config) -> str:
    """Short name of the architecture for run folders, e.g. 'hierarchical' or 'mlp+gru'."""
    name = cfg.arch.name
    if "+" not in name and cfg.arch.core not in ("none", ""):
        name = f"{name}+{cfg.arch.core}"
    return name


def help_table() -> str:
    """Every option as 'section.key (default): help' lines, for ``--help``."""
    lines = []
    for sec, typ in SECTIONS.items():
        for f in dataclasses.fields(typ):
            d = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
            lines.append(f"  {sec}.{f.name} = {d!r}\n      {f.metadata.get('help', '')}")
    return "\n".join(lines)
