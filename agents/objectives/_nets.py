"""Building blocks the intrinsic objectives share: encoders of the agent's architecture, a pair encoder
for (s, s'), action features, small MLP heads and running statistics for reward normalisation.

Every network is built from the agent's own :class:`~agents.config.ArchConfig` (conv stages for images,
an MLP for vectors), so the objectives work on any observation the architectures accept, and every
layer is a plain ``nn.Linear`` / ``nn.Conv2d`` that the learning rules know how to train.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents.architectures import MLP, Agent, ConvStages, Encoder, flat_dim, image_layout, preprocess
from agents.config import ArchConfig
from agents.rollout import Obs, Rollout, index_obs


def action_dim(space: spaces.Space) -> int:
    """Width of :func:`action_features` for ``space`` (Discrete: one-hot; 1-D Box: the vector)."""
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.Box) and len(space.shape) == 1:
        return int(space.shape[0])
    raise TypeError(f"action space {space} is not supported; use Discrete or a 1-D Box")


def action_features(actions: torch.Tensor, space: spaces.Space) -> torch.Tensor:
    """Actions (B,) or (B, d) -> float features (B, action_dim)."""
    if isinstance(space, spaces.Discrete):
        return nn.functional.one_hot(actions.long() - int(space.start), int(space.n)).float()
    return actions.float().reshape(actions.shape[0], -1)


def head(in_dim: int, hidden: Sequence[int], out_dim: int, activation: str = "relu",
         out_gain: float = 1.0, out_bias: float = 0.0) -> nn.Sequential:
    """An MLP ``in_dim -> hidden... -> out_dim`` (Linear layers only, last one linear; its weights
    orthogonal times ``out_gain``, its biases ``out_bias``)."""
    body = MLP(in_dim, hidden, activation)
    out = nn.Linear(body.out_dim, out_dim)
    nn.init.orthogonal_(out.weight, out_gain)
    nn.init.constant_(out.bias, out_bias)
    return nn.Sequential(body, out)


def frozen(module: nn.Module) -> nn.Module:
    """``module`` with every parameter fixed (a random target that cannot collapse)."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module


class RandomTarget(nn.Module):
    """A fixed random embedding of observations: a frozen encoder of the agent's architecture followed
    by a fixed Gaussian projection to ``dim`` features (N(0, 1) entries). The projection makes targets
    dense even when the encoder is the identity (``arch.mlp_hidden=[]`` on one-hot observations), so
    every observation gets its own, clearly different target."""

    def __init__(self, space: spaces.Space, cfg: ArchConfig, dim: int = 64):
        super().__init__()
        self.space = space
        self.encoder = Encoder(space, cfg)
        self.proj = nn.Linear(self.encoder.out_dim, dim, bias=False)
        nn.init.normal_(self.proj.weight, 0.0, 1.0)
        self.out_dim = dim
        frozen(self)

    def forward(self, obs: Obs) -> torch.Tensor:
        with torch.no_grad():
            return self.proj(self.encoder(preprocess(obs, self.space)))


def own_encoder(space: spaces.Space, cfg: ArchConfig) -> Encoder:
    """A fresh encoder of the agent's architecture (no recurrent core): raw obs -> features via
    :meth:`encode`."""
    return Encoder(space, cfg)


def encode(encoder: nn.Module, obs: Obs, space: spaces.Space) -> torch.Tensor:
    """Raw observations (batch first) through ``encoder`` (an :class:`Encoder`, e.g. from ``agent.aux``)."""
    return encoder(preprocess(obs, space))


def require_agent(agent: Agent | None, name: str) -> Agent:
    """The agent an objective was built on or attached to (its networks live in ``agent.aux``)."""
    if agent is None:
        raise RuntimeError(f"objective {name!r} has no agent yet: call build(agent) or attach(agent) first")
    return agent


def as_agent(model: nn.Module, name: str) -> Agent:
    """``model`` (what the learning rule trains, passed to ``Objective.prepare``) as the :class:`Agent`
    whose ``aux`` holds the objective's networks."""
    if not isinstance(model, Agent):
        raise TypeError(f"objective {name!r} needs an agents.architectures.Agent, got {type(model).__name__}")
    return model


class PairEncoder(nn.Module):
    """(s, s') -> one feature vector, in a single pass: the two preprocessed observations are stacked
    along channels (images) or features (vectors), so each layer sees each sample once (which direct
    feedback alignment needs). Same architecture as the agent's encoder, with doubled input channels."""

    out_dim: int  # width of the features (a Dict's parts are PairEncoders too)

    def __init__(self, space: spaces.Space, cfg: ArchConfig):
        super().__init__()
        self.space = space
        self.keys: list[str] | None
        if isinstance(space, spaces.Dict):
            self.keys = list(space.spaces)
            parts = {k: PairEncoder(s, cfg) for k, s in space.spaces.items()}
            self.parts = nn.ModuleDict(parts)
            self.out_dim = sum(p.out_dim for p in parts.values())
            return
        self.keys = None
        self.conv: ConvStages | None = None
        if isinstance(space, spaces.Box) and len(space.shape) == 3 and cfg.name.split("+")[0] != "mlp":
            s = space.shape
            c, h, w = (s[2], s[0], s[1]) if image_layout(space) == "hwc" else s
            self.conv = ConvStages(2 * c, (h, w), cfg.channels, cfg.kernels, cfg.strides, cfg.stages)
            self.mlp = MLP(self.conv.out_dim, cfg.conv_fc, "relu")
        else:
            self.mlp = MLP(2 * flat_dim(space), cfg.mlp_hidden, cfg.activation)
        self.out_dim = self.mlp.out_dim

    def forward(self, obs: Obs, next_obs: Obs) -> torch.Tensor:
        if self.keys is not None:
            if not isinstance(obs, dict) or not isinstance(next_obs, dict):
                raise TypeError("a pair encoder of a Dict observation space takes dicts of tensors")
            return torch.cat([self.parts[k](obs[k], next_obs[k]) for k in self.keys], dim=-1)
        a, b = preprocess(obs, self.space), preprocess(next_obs, self.space)
        if isinstance(a, dict) or isinstance(b, dict):
            raise TypeError(f"observations of the space {self.space} must be tensors, not dicts")
        if self.conv is not None:
            return self.mlp(self.conv(torch.cat([a, b], dim=1)))
        return self.mlp(torch.cat([a.flatten(1), b.flatten(1)], dim=1))


def flat_obs(obs: Obs) -> Obs:
    """(T, N, ...) -> (T*N, ...) for a tensor or a dict of tensors."""
    if isinstance(obs, dict):
        return {k: v.flatten(0, 1) for k, v in obs.items()}
    return obs.flatten(0, 1)


def obs_rows(obs: Obs, start: int, stop: int) -> Obs:
    """Rows ``start:stop`` of a flat observation batch."""
    return index_obs(obs, slice(start, stop))


def n_rows(obs: Obs) -> int:
    return next(iter(obs.values())).shape[0] if isinstance(obs, dict) else obs.shape[0]


def per_transition(fn: Callable[[Obs, torch.Tensor, Obs], torch.Tensor], rollout: Rollout,
                   chunk: int = 4096) -> torch.Tensor:
    """``fn(obs, actions, next_obs)`` -> (rows,) over every transition of a rollout, in chunks of flat
    rows (bounded memory for image rollouts); returns (T, N)."""
    T, N = rollout.T, rollout.N
    obs = flat_obs(rollout.obs)  # (T+1)*N rows: step t of env i is row t*N + i
    acts = rollout.actions.flatten(0, 1)
    out = [fn(obs_rows(obs, i, min(i + chunk, T * N)), acts[i:i + chunk],
              obs_rows(obs, i + N, min(i + chunk, T * N) + N)) for i in range(0, T * N, chunk)]
    return torch.cat(out, 0).view(T, N)


def cat_obs(a: Obs, b: Obs) -> Obs:
    """Two flat observation batches stacked along the batch axis."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: torch.cat([a[k], b[k]], 0) for k in a}
    if isinstance(a, dict) or isinstance(b, dict):
        raise TypeError("cat_obs: both batches must be dicts of tensors, or both tensors")
    return torch.cat([a, b], 0)


def obs_dim(space: spaces.Space) -> int:
    """Width of a flattened, preprocessed observation (Dict: summed over keys)."""
    if isinstance(space, spaces.Dict):
        return sum(obs_dim(s) for s in space.spaces.values())
    return flat_dim(space)


def flat_features(obs: Obs, space: spaces.Space) -> torch.Tensor:
    """Raw observations -> preprocessed and flattened (B, obs_dim)."""
    x = preprocess(obs, space)
    if isinstance(x, dict):  # in the order of the Dict space's keys (preprocess keeps it)
        return torch.cat([v.flatten(1) for v in x.values()], 1)
    return x.flatten(1)


class RunningStats:
    """Running mean and variance (Chan et al. parallel update), for normalising intrinsic rewards."""

    def __init__(self) -> None:
        self.mean, self.var, self.count = 0.0, 1.0, 1e-4

    def update(self, x: torch.Tensor) -> None:
        x = x.detach().double().flatten()
        if x.numel() == 0:
            return
        m, v, k = float(x.mean()), float(x.var(unbiased=False)), x.numel()
        d = m - self.mean
        tot = self.count + k
        self.mean += d * k / tot
        self.var = (self.var * self.count + v * k + d * d * self.count * k / tot) / tot
        self.count = tot

    @property
    def std(self) -> float:
        return float(np.sqrt(max(self.var, 1e-12)))

    def state_dict(self) -> dict:
        return {"mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, s: dict) -> None:
        if s:
            self.mean, self.var, self.count = s["mean"], s["var"], s["count"]


NORMALIZE = ("none", "std", "center")


def normalise(r: torch.Tensor, valid: torch.Tensor, stats: RunningStats, mode: str) -> torch.Tensor:
    """Intrinsic reward ``r`` (T, N) scaled by the running std of the valid entries ('std'), also
    centred by their running mean ('center': familiar states then score below unseen ones, the optimism
    that tabular curiosity needs), or unchanged ('none'). Statistics are updated first."""
    if mode == "none":
        return r
    stats.update(r[valid > 0])
    if mode == "center":
        return (r - stats.mean) / stats.std
    return r / stats.std
