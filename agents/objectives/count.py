"""Count-based exploration bonus: reward ``scale / sqrt(N(s'))`` for the number of visits N to the
observation reached (Strehl & Littman 2008; the tabular reference for curiosity).

Observations are counted exactly after rounding (``decimals``); ``dims`` counts only the leading
features (e.g. the agent's cell in ``EmpowermentGrid(noisy_tv=...)``, whose last ``tv_dim`` features
are noise: counting them too would make every TV frame novel). Suited to small, discrete worlds; the
table grows with the number of distinct observations. There is nothing to learn: the loss is zero.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from agents.objectives._nets import NORMALIZE, RunningStats, flat_features, flat_obs, normalise
from agents.objectives.base import Metrics, Objective
from agents.rollout import Batch, Rollout


class CountObjective(Objective):
    """Visit-count bonus. Options: ``scale`` (1.0), ``dims`` (None: all features; k: the first k),
    ``decimals`` (3), ``normalize`` ('none')."""

    name = "count"
    needs_policy = True

    def __init__(self, scale: float = 1.0, dims: int | None = None, decimals: int = 3, normalize: str = "none"):
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale < 0:
            raise ValueError(f"objective.kwargs.count.scale={scale!r} must be a number >= 0")
        if dims is not None and (isinstance(dims, bool) or not isinstance(dims, int) or dims < 1):
            raise ValueError(f"objective.kwargs.count.dims={dims!r} must be None or an integer >= 1")
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 8:
            raise ValueError(f"objective.kwargs.count.decimals={decimals!r} must be an integer in [0, 8]")
        if normalize not in NORMALIZE:
            raise ValueError(f"objective.kwargs.count.normalize={normalize!r}: choose one of {list(NORMALIZE)}")
        self.scale, self.dims, self.decimals, self.normalize = float(scale), dims, decimals, normalize
        self.counts: dict[bytes, int] = {}
        self.stats = RunningStats()
        self._space: spaces.Space | None = None  # set by build()

    def build(self, agent: nn.Module) -> None:
        self._space = cast(spaces.Space, agent.observation_space)

    def keys(self, obs) -> list[bytes]:
        """The table keys of a flat batch of raw observations."""
        assert self._space is not None, "build() sets the observation space"
        x = flat_features(obs, self._space).cpu().numpy()
        if self.dims is not None:
            x = x[:, : self.dims]
        x = np.round(x.astype(np.float64), self.decimals) + 0.0  # + 0.0: -0.0 -> 0.0
        return [row.tobytes() for row in x]

    def visits(self, obs) -> np.ndarray:
        """Current visit counts of a flat batch of raw observations."""
        return np.array([self.counts.get(k, 0) for k in self.keys(obs)])

    @torch.no_grad()
    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor:
        T, N = rollout.T, rollout.N
        nxt = flat_obs(rollout.obs)
        nxt = {k: v[N:] for k, v in nxt.items()} if isinstance(nxt, dict) else nxt[N:]
        keys = self.keys(nxt)
        valid = rollout.valid.flatten().cpu().numpy() > 0
        out = np.zeros(T * N)
        for i, k in enumerate(keys):  # time-major: visits are counted in the order they happened
            if valid[i]:
                c = self.counts.get(k, 0) + 1
                self.counts[k] = c
                out[i] = self.scale / np.sqrt(c)
        r = torch.as_tensor(out, dtype=torch.float32, device=rollout.rewards.device).view(T, N)
        return normalise(r, rollout.valid, self.stats, self.normalize)

    def loss(self, batch: Batch, outputs) -> tuple[torch.Tensor, Metrics]:
        return outputs.value.new_zeros(()), {"distinct_observations": float(len(self.counts))}

    def state_dict(self) -> dict:
        return {"counts": dict(self.counts), "stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.counts = dict(state.get("counts", {}))
        self.stats.load_state_dict(state.get("stats", {}))
