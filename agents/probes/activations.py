"""Record a network's stage activations along env rollouts, saved with stage names for one's own analyses."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np

from agents.probes.tuning import ActivationFn
from brainset_envs.core.files import atomic_path


def record_activations(env: gym.Env, activation_fn: ActivationFn, n_steps: int,
                       policy: Callable[[Any], Any] | None = None, seed: int = 0,
                       path: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """Step ``env`` for ``n_steps`` (``policy(obs)`` or random actions), calling ``activation_fn`` on each
    observation (batch of one). Returns {"obs", "action", "reward", "done", "stage/<name>"} arrays and
    writes them to ``path`` (.npz, atomically) when given."""
    if n_steps < 1:
        raise ValueError(f"n_steps={n_steps} must be >= 1")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rec: dict[str, list] = {"obs": [], "action": [], "reward": [], "done": []}
    for _ in range(n_steps):
        for stage, act in activation_fn(np.asarray(obs)[None]).items():
            rec.setdefault(f"stage/{stage}", []).append(np.asarray(act)[0])
        action = policy(obs) if policy else env.action_space.sample()
        rec["obs"].append(obs)
        rec["action"].append(action)
        obs, r, term, trunc, _ = env.step(action)
        rec["reward"].append(r)
        rec["done"].append(term or trunc)
        if term or trunc:
            obs, _ = env.reset()
    out = {k: np.asarray(v) for k, v in rec.items()}
    if path is not None:
        with atomic_path(path) as tmp:
            np.savez_compressed(tmp, **out)
    return out
