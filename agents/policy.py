"""A trained agent as a policy for one env (``policy(obs, info)``), and videos of it."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from agents.rollout import obs_to_tensor
from brainset_envs.recording import record_episodes


class AgentPolicy:
    """A trained agent as a ``policy(obs, info)`` for :func:`brainset_envs.recording.record_episodes`
    (keeps the recurrent state; reset at every episode start)."""

    def __init__(self, agent, deterministic: bool = True):
        self.agent, self.deterministic = agent, deterministic
        self.device = next(agent.parameters()).device
        self.reset()

    def reset(self) -> None:
        self.state = self.agent.initial_state(1, self.device)
        self.first = torch.ones(1, dtype=torch.bool, device=self.device)

    def __call__(self, obs, info=None):
        batch = {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]
        a, _, _, self.state = self.agent.act(obs_to_tensor(batch, self.device), self.state, self.first,
                                             deterministic=self.deterministic)
        self.first = torch.zeros_like(self.first)
        a = a[0].cpu().numpy()
        return a.item() if a.ndim == 0 else a


def record_video(agent, env_id: str, env_kwargs: dict, path: str | Path, episodes: int = 8, seed: int = 0,
                 max_frames: int = 400, deterministic: bool = True) -> Path:
    """Record ``agent`` for ``episodes`` episodes (at most ``max_frames`` frames) as MP4 or GIF (by the
    suffix of ``path``). Returns the written path."""
    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    res = record_episodes(env, path, episodes, AgentPolicy(agent, deterministic), seed=seed, max_frames=max_frames)
    env.close()
    return Path(res["path"])
