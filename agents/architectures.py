"""Architectures (the seed paper's third component), built from an env's spaces.

- :class:`ConvStages`: a hierarchical conv net with named stages (default ``V1, V2, V4, IT``).
- :class:`MLP`: fully connected layers with names (``fc1, fc2, ...``).
- :class:`RecurrentCore`: vanilla RNN (tanh or ReLU), GRU or LSTM, written with ``nn.Linear`` layers so
  that learning rules which swap layers (feedback alignment, ...) reach the recurrent weights too.
- :class:`Agent`: one encoder per observation (images -> conv stages, vectors -> MLP, Dict -> one per key),
  an optional core, policy and value heads, and ``aux`` heads that objectives add.

Every forward can fill a dict with the activation of every named stage (``return_activations=True``),
so probes can measure the network like a physiologist. ``agents.load_agent(path)`` rebuilds a trained
agent from a checkpoint in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import torch
from gymnasium import spaces
from torch import nn
from torch.distributions import Categorical, Distribution, Normal

from agents.config import ACTIVATIONS, CORES, ENCODERS, VALUE_TRUNKS, ArchConfig, ConfigError, action_layers
from agents.rollout import Obs

Acts = dict[str, torch.Tensor] | None
_Layer = TypeVar("_Layer", nn.Linear, nn.Conv2d)


def _init(layer: _Layer, gain: float = np.sqrt(2), bias: float = 0.0) -> _Layer:
    nn.init.orthogonal_(layer.weight, gain)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, bias)
    return layer


def _act(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation={name!r} is not supported; choose one of {list(ACTIVATIONS)}")
    return nn.Tanh() if name == "tanh" else nn.ReLU()


def image_layout(space: spaces.Space) -> str | None:
    """'hwc' or 'chw' for a 3-D Box (channels are the smaller end), None for anything else."""
    if not isinstance(space, spaces.Box) or len(space.shape) != 3:
        return None
    h, _, c = space.shape
    return "hwc" if c <= h else "chw"


class ConvStages(nn.Module):
    """Hierarchical conv net: stage ``k`` is conv(kernel k_k, stride s_k, 'same'-style padding) + ReLU.

    Input: float (B, C, H, W). Output: the last stage flattened. ``acts[name]`` gets each stage's
    (B, C_k, H_k, W_k) activation when a dict is passed.
    """

    def __init__(self, in_channels: int, input_hw: tuple[int, int], channels: Sequence[int],
                 kernels: Sequence[int], strides: Sequence[int], names: Sequence[str], prefix: str = ""):
        super().__init__()
        self.names = [prefix + n for n in names]
        self.stages = nn.ModuleDict()
        c = in_channels
        for name, co, k, s in zip(names, channels, kernels, strides, strict=True):
            self.stages[name] = nn.Sequential(_init(nn.Conv2d(c, int(co), int(k), int(s), int(k) // 2)),
                                              nn.ReLU())
            c = int(co)
        with torch.no_grad():
            self.out_dim = int(self.forward(torch.zeros(1, in_channels, *input_hw)).shape[1])

    def forward(self, x: torch.Tensor, acts: Acts = None) -> torch.Tensor:
        for full, stage in zip(self.names, self.stages.values(), strict=True):
            x = stage(x)
            if acts is not None:
                acts[full] = x
        return x.flatten(1)


class MLP(nn.Module):
    """Fully connected layers named ``fc1, fc2, ...`` (optionally prefixed), each Linear + nonlinearity."""

    def __init__(self, in_dim: int, sizes: Sequence[int], activation: str = "tanh", prefix: str = "",
                 first_index: int = 1):
        super().__init__()
        self.layers = nn.ModuleDict()
        self.names: list[str] = []
        self.act = _act(activation)
        d = in_dim
        for i, h in enumerate(sizes):
            name = f"fc{first_index + i}"
            self.layers[name] = _init(nn.Linear(d, int(h)))
            self.names.append(prefix + name)
            d = int(h)
        self.out_dim = d

    def forward(self, x: torch.Tensor, acts: Acts = None) -> torch.Tensor:
        for full, layer in zip(self.names, self.layers.values(), strict=True):
            x = self.act(layer(x))
            if acts is not None:
                acts[full] = x
        return x


class InputEncoder(nn.Module):
    """One observation (not a Dict) -> features. Takes *preprocessed* float input: images (B, C, H, W)
    scaled to about [0, 1], vectors (B, D), Discrete as one-hot."""

    def __init__(self, space: spaces.Space, cfg: ArchConfig, prefix: str = ""):
        super().__init__()
        encoder = cfg.name.split("+")[0]
        if encoder not in ENCODERS:
            raise ValueError(f"arch.name={cfg.name!r}: the encoder must be auto, hierarchical or mlp "
                             "(optionally with +rnn/+gru/+lstm)")
        self.conv: ConvStages | None = None
        # Images scaled to [0, 1] have a large common mean; centring them keeps it out of the updates.
        self.center = bool(cfg.center_images) and isinstance(space, spaces.Box) and space.dtype == np.uint8
        if isinstance(space, spaces.Box) and len(space.shape) == 3 and encoder != "mlp":
            s = space.shape  # HWC from envs, CHW from SB3 (it transposes images): see image_layout
            c, h, w = (s[2], s[0], s[1]) if image_layout(space) == "hwc" else s
            self.conv = ConvStages(c, (h, w), cfg.channels, cfg.kernels, cfg.strides, cfg.stages, prefix)
            self.mlp = MLP(self.conv.out_dim, cfg.conv_fc, "relu", prefix)
        else:
            self.mlp = MLP(flat_dim(space), cfg.mlp_hidden, cfg.activation, prefix)
        self.out_dim = self.mlp.out_dim

    def forward(self, x: torch.Tensor, acts: Acts = None) -> torch.Tensor:
        if self.center:
            x = x - 0.5
        x = self.conv(x, acts) if self.conv is not None else x.flatten(1)
        return self.mlp(x, acts)


def flat_dim(space: spaces.Space) -> int:
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.MultiBinary):
        return int(np.prod(space.shape))
    raise TypeError(f"observation space {space} is not supported; use Box, Discrete, MultiBinary or Dict")


class Encoder(nn.Module):
    """Any supported observation space -> one feature vector (Dict: one encoder per key, concatenated;
    stage names get the key as prefix, e.g. ``image.V1``)."""

    def __init__(self, space: spaces.Space, cfg: ArchConfig):
        super().__init__()
        self.keys: list[str] | None
        if isinstance(space, spaces.Dict):
            self.keys = list(space.spaces)
            parts = {k: InputEncoder(s, cfg, f"{k}.") for k, s in space.spaces.items()}
            self.parts = nn.ModuleDict(parts)
            self.out_dim = sum(p.out_dim for p in parts.values())
        else:
            self.keys = None
            self.part = InputEncoder(space, cfg, "")
            self.out_dim = self.part.out_dim

    def forward(self, x: Obs, acts: Acts = None) -> torch.Tensor:
        if self.keys is None:
            return self.part(x, acts)
        if not isinstance(x, dict):
            raise TypeError("an encoder of a Dict observation space takes a dict of tensors")
        return torch.cat([self.parts[k](x[k], acts) for k in self.keys], dim=-1)


def preprocess(obs: Obs, space: spaces.Space) -> Obs:
    """Raw observation tensors (as the env gives them, batch first) -> the encoder's float input:
    HWC images -> CHW, uint8 -> /255, Discrete -> one-hot, other Boxes -> float."""
    if isinstance(space, spaces.Dict):
        if not isinstance(obs, dict):
            raise TypeError(f"observations of the Dict space {space} must be a dict of tensors")
        return {k: _preprocess_array(obs[k], s) for k, s in space.spaces.items()}
    if isinstance(obs, dict):
        raise TypeError(f"observations of the space {space} must be a tensor, not a dict")
    return _preprocess_array(obs, space)


def _preprocess_array(obs: torch.Tensor, space: spaces.Space) -> torch.Tensor:
    """:func:`preprocess` of one observation tensor (not a Dict)."""
    if isinstance(space, spaces.Discrete):
        return nn.functional.one_hot((obs.long() - int(space.start)), int(space.n)).float()
    x = obs.float()
    if isinstance(space, spaces.Box) and space.dtype == np.uint8:
        x.mul_(1.0 / 255.0)  # obs.float() made a copy: scale it in place
    if image_layout(space) == "hwc":
        x = x.permute(0, 3, 1, 2)
    return x


class RecurrentCore(nn.Module):
    """Elman RNN (tanh or ReLU), GRU or LSTM, one step at a time with episode resets.

    The state is one tensor (B, state_size): h, or [h, c] for an LSTM. ``first`` (B,) marks envs whose
    observation starts an episode: their state is zeroed before the step.
    """

    def __init__(self, kind: str, in_dim: int, hidden: int):
        super().__init__()
        kind = "rnn_tanh" if kind == "rnn" else kind
        if kind not in CORES[2:]:
            raise ValueError(f"arch.core={kind!r} is not supported; choose one of {list(CORES)}")
        self.kind, self.hidden = kind, int(hidden)
        gates = {"rnn_tanh": 1, "rnn_relu": 1, "gru": 3, "lstm": 4}[kind]
        self.ih = _init(nn.Linear(in_dim, gates * hidden), 1.0)
        self.hh = _init(nn.Linear(hidden, gates * hidden), 1.0)
        self.state_size = 2 * hidden if kind == "lstm" else hidden
        self.out_dim = hidden

    def step(self, x: torch.Tensor, state: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        state = state * (1.0 - first.float()).unsqueeze(-1)
        H = self.hidden
        if self.kind == "lstm":
            h, c = state[:, :H], state[:, H:]
            i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            return torch.cat([h, c], -1)
        if self.kind == "gru":
            xr, xz, xn = self.ih(x).chunk(3, -1)
            hr, hz, hn = self.hh(state).chunk(3, -1)
            r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
            n = torch.tanh(xn + r * hn)
            return (1 - z) * n + z * state
        pre = self.ih(x) + self.hh(state)
        return torch.tanh(pre) if self.kind == "rnn_tanh" else torch.relu(pre)

    def output(self, state: torch.Tensor) -> torch.Tensor:
        return state[:, : self.hidden]


@dataclass
class AgentOutput:
    """What a forward pass gives: policy parameters, value, recurrent state and activations by name.

    For sequences (training), every field is flattened to (L*B, ...) in time-major order."""

    logits: torch.Tensor  # Discrete: logits; Box: mean
    value: torch.Tensor
    state: torch.Tensor
    features: torch.Tensor
    activations: dict[str, torch.Tensor] = field(default_factory=dict)
    log_std: torch.Tensor | None = None

    def dist(self) -> Distribution:
        if self.log_std is None:
            return Categorical(logits=self.logits, validate_args=False)
        return Normal(self.logits, self.log_std.exp().expand_as(self.logits), validate_args=False)


class Trunk(nn.Module):
    """Encoder -> optional recurrent core: the body of the policy (and of the value when separate)."""

    def __init__(self, observation_space: spaces.Space, cfg: ArchConfig, core: str):
        super().__init__()
        self.encoder = Encoder(observation_space, cfg)
        self.core = (None if core in ("none", "")
                     else RecurrentCore(core, self.encoder.out_dim, cfg.core_hidden))
        self.out_dim = self.core.out_dim if self.core is not None else self.encoder.out_dim
        self.state_size = self.core.state_size if self.core is not None else 0

    def step(self, x: Obs, state: torch.Tensor, first: torch.Tensor | None,
             acts: Acts = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Preprocessed batch (B, ...) -> (output h, new state, encoder features)."""
        feats = self.encoder(x, acts)
        if self.core is None:
            return feats, state, feats
        if first is None:
            first = torch.zeros(feats.shape[0], dtype=torch.bool, device=feats.device)
        state = self.core.step(feats, state, first)
        h = self.core.output(state)
        if acts is not None:
            acts["core"] = h
        return h, state, feats

    def sequence(self, x: Obs, state0: torch.Tensor, first: torch.Tensor,
                 acts: Acts = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Preprocessed flat (L*B, ...) time-major batch -> (h (L*B, H), last state, features)."""
        feats = self.encoder(x, acts)
        if self.core is None:
            return feats, state0, feats
        L, B = first.shape
        seq = feats.view(L, B, -1)
        state, outs = state0, []
        for t in range(L):
            state = self.core.step(seq[t], state, first[t])
            outs.append(self.core.output(state))
        h = torch.cat(outs, 0)
        if acts is not None:
            acts["core"] = h
        return h, state, feats


class Agent(nn.Module):
    """Encoder -> optional recurrent core -> policy and value heads (plus ``aux`` heads of objectives).

    ``arch.value_trunk='separate'`` gives the value its own encoder (and core) of the same shape, as SB3
    and CleanRL do for MLPs; 'shared' puts both heads on one trunk (one network, cheaper for conv nets).
    The policy trunk is ``agent.encoder`` / ``agent.core``; its stages are what ``return_activations``
    reports.
    """

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, cfg: ArchConfig):
        super().__init__()
        self.observation_space, self.action_space, self.cfg = observation_space, action_space, cfg
        parts = cfg.name.split("+")
        core = parts[1] if len(parts) > 1 else cfg.core
        if cfg.value_trunk not in VALUE_TRUNKS:
            raise ValueError(f"arch.value_trunk={cfg.value_trunk!r}: choose 'shared' or 'separate'")
        self.trunk = Trunk(observation_space, cfg, core)
        self.value_trunk = Trunk(observation_space, cfg, core) if cfg.value_trunk == "separate" else None
        self._split = self.trunk.state_size
        self.state_size = self.trunk.state_size * (2 if self.value_trunk is not None else 1)
        feat = self.trunk.out_dim
        self.policy: nn.Module  # a Linear readout, or the identity of arch.action_layer
        if isinstance(action_space, spaces.Discrete):
            self.policy = _init(nn.Linear(feat, int(action_space.n)), 0.01)
            self.log_std = None
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            self.policy = (_action_layer(cfg, core, feat, action_space) if cfg.action_layer
                           else _init(nn.Linear(feat, action_space.shape[0]), 0.01))
            self.log_std = nn.Parameter(torch.full((action_space.shape[0],), float(np.log(cfg.action_std))))
        else:
            raise TypeError(f"action space {action_space} is not supported; use Discrete or a 1-D Box")
        if cfg.action_layer and not isinstance(action_space, spaces.Box):
            raise ConfigError("arch.action_layer", f"arch.action_layer={cfg.action_layer!r} needs a 1-D Box "
                              f"action (the units' activities), not {action_space}; allowed here: ''")
        self.value = _init(nn.Linear(feat, 1), 1.0)
        self.aux = nn.ModuleDict()  # heads added by objectives (predictor, decoder, source policy, ...)

    @property
    def encoder(self) -> Encoder:
        return self.trunk.encoder

    @property
    def core(self) -> RecurrentCore | None:
        return self.trunk.core

    @property
    def recurrent(self) -> bool:
        return self.trunk.core is not None

    def initial_state(self, n: int, device: torch.device | str = "cpu") -> torch.Tensor:
        return torch.zeros(n, self.state_size, device=device)

    def encode(self, obs: Obs, acts: Acts = None) -> torch.Tensor:
        """Raw observations (batch first) -> the policy trunk's encoder features."""
        return self.trunk.encoder(preprocess(obs, self.observation_space), acts)

    def _out(self, h: torch.Tensor, hv: torch.Tensor, state: torch.Tensor, acts: Acts,
             feats: torch.Tensor) -> AgentOutput:
        logits = self.policy(h)
        if acts is not None:
            acts["policy"] = logits
        return AgentOutput(logits, self.value(hv).squeeze(-1), state, feats, acts or {}, self.log_std)

    def forward(self, obs: Obs, state: torch.Tensor | None = None, first: torch.Tensor | None = None,
                return_activations: bool = False) -> AgentOutput:
        """One step for a batch: ``obs`` raw (B, ...), ``state`` (B, state_size), ``first`` (B,) bool."""
        acts: Acts = {} if return_activations else None
        x = preprocess(obs, self.observation_space)
        if state is None:
            state = self.initial_state(_batch_size(x), self.value.weight.device)
        if self.state_size == 0:  # no recurrent core: the (B, 0) state passes through unchanged
            h, _, feats = self.trunk.step(x, state, first, acts)
            hv = h if self.value_trunk is None else self.value_trunk.step(x, state, first)[0]
            return self._out(h, hv, state, acts, feats)
        h, sp, feats = self.trunk.step(x, state[:, : self._split], first, acts)
        if self.value_trunk is None:
            return self._out(h, h, sp, acts, feats)
        hv, sv, _ = self.value_trunk.step(x, state[:, self._split:], first)
        return self._out(h, hv, torch.cat([sp, sv], -1), acts, feats)

    def forward_sequence(self, obs: Obs, state0: torch.Tensor, first: torch.Tensor,
                         return_activations: bool = False) -> AgentOutput:
        """A time-major sequence: ``obs`` (L, B, ...), ``state0`` (B, S), ``first`` (L, B); outputs are
        flattened to (L*B, ...). Gradients flow through the whole sequence (truncated BPTT)."""
        flat = {k: v.flatten(0, 1) for k, v in obs.items()} if isinstance(obs, dict) else obs.flatten(0, 1)
        x = preprocess(flat, self.observation_space)
        acts: Acts = {} if return_activations else None
        h, sp, feats = self.trunk.sequence(x, state0[:, : self._split], first, acts)
        if self.value_trunk is None:
            return self._out(h, h, sp, acts, feats)
        hv, sv, _ = self.value_trunk.sequence(x, state0[:, self._split:], first)
        return self._out(h, hv, torch.cat([sp, sv], -1), acts, feats)

    @torch.no_grad()
    def act(self, obs: Obs, state: torch.Tensor | None = None, first: torch.Tensor | None = None,
            deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(action, log-probability, value, new state) for a batch of raw observations."""
        out = self.forward(obs, state, first)
        if out.log_std is None:  # Discrete: plain tensor ops (cheaper than building a Categorical)
            logp_all = torch.log_softmax(out.logits, -1)
            if deterministic:
                a = logp_all.argmax(-1)
            else:
                a = torch.multinomial(logp_all.exp(), 1).squeeze(-1)
            return a, logp_all.gather(-1, a[:, None]).squeeze(-1), out.value, out.state
        d = out.dist()
        if deterministic:
            a = out.logits.argmax(-1) if out.log_std is None else out.logits
        else:
            a = d.sample()
        logp = d.log_prob(a)
        if out.log_std is not None:
            logp = logp.sum(-1)
        return a, logp, out.value, out.state


def _action_layer(cfg: ArchConfig, core: str, width: int, action_space: spaces.Box) -> nn.Module:
    """The policy head of ``arch.action_layer``: the identity, so the action's mean is the named layer's
    activity itself (the trunk's bounded output layer, checked by the config) and its units are the
    actions (Gaussian noise of std ``exp(log_std)`` around them)."""
    allowed = action_layers(cfg, "none" if core in ("", "none") else core)
    if cfg.action_layer not in allowed:
        raise ConfigError("arch.action_layer", f"arch.action_layer={cfg.action_layer!r} is not the policy trunk's "
                          f"bounded output layer; allowed: '' or one of {allowed}")
    n = int(action_space.shape[0])
    if width != n:
        fix = f"arch.core_hidden={n}" if cfg.action_layer == "core" else f"the last of arch.mlp_hidden to {n}"
        raise ConfigError("arch.action_layer", f"arch.action_layer={cfg.action_layer!r} has {width} units but the "
                          f"action space {action_space} needs {n} (one action per unit); set {fix}")
    return nn.Identity()


def _batch_size(x: Obs) -> int:
    return next(iter(x.values())).shape[0] if isinstance(x, dict) else x.shape[0]


def log_prob_entropy(out: AgentOutput, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Log-probability of ``actions`` and the entropy, summed over action dims for Box actions."""
    if out.log_std is None:
        logp_all = torch.log_softmax(out.logits, -1)
        entropy = -(logp_all.exp() * logp_all).sum(-1)
        return logp_all.gather(-1, actions.long()[:, None]).squeeze(-1), entropy
    d = out.dist()
    return d.log_prob(actions).sum(-1), d.entropy().sum(-1)


def build_agent(observation_space: spaces.Space, action_space: spaces.Space,
                cfg: ArchConfig | None = None) -> Agent:
    """The agent for these spaces (see :class:`ArchConfig` for the options)."""
    return Agent(observation_space, action_space, cfg or ArchConfig())


def stage_names(agent: Agent) -> list[str]:
    """Names of every recordable activation, in order from input to output."""
    with torch.no_grad():
        obs = agent.observation_space.sample()
        x: Obs
        if isinstance(obs, dict):
            x = {k: torch.as_tensor(np.asarray(v))[None] for k, v in obs.items()}
        else:
            x = torch.as_tensor(np.asarray(obs))[None]
        p = next(agent.parameters())
        x = {k: v.to(p.device) for k, v in x.items()} if isinstance(x, dict) else x.to(p.device)
        return list(agent(x, return_activations=True).activations)
