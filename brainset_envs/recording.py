"""Record episodes of any BrainSet env to MP4 or GIF (imageio; MP4 through imageio-ffmpeg's bundled ffmpeg).

A policy is a callable ``policy(obs, info) -> action``; :func:`make_policy` builds the built-in ones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.core.files import atomic_path

Policy = Callable[[Any, dict], Any]
POLICIES = ("random", "oracle")


def make_policy(name: str, env: gym.Env) -> Policy:
    """'random' (uniform actions) or 'oracle' (the task's ground-truth action, where it has one)."""
    if name == "random":
        return lambda obs, info: env.action_space.sample()
    if name == "oracle":
        oracle = getattr(env.unwrapped, "oracle_action", None)
        if oracle is None:
            raise ValueError(f"policy='oracle': {env.spec.id if env.spec else env} has no oracle_action; "
                             f"choose one of {POLICIES} the task supports")
        return lambda obs, info: oracle()
    raise ValueError(f"policy={name!r} is not known; choose one of {POLICIES}")


def record_episodes(env: gym.Env, path: str | os.PathLike, n_episodes: int = 3, policy: Policy | str = "random",
                    seed: int = 0, fps: int | None = None, max_steps_per_episode: int = 1000,
                    hold_frames: int = 1, max_frames: int | None = None) -> dict[str, Any]:
    """Run ``n_episodes`` with ``policy`` on ``env`` (render_mode 'rgb_array') and write them to ``path``.

    The format follows the suffix (.mp4 or .gif). Written atomically. ``hold_frames`` repeats each frame
    (useful for one-step trial tasks, so a viewer sees each trial); ``max_frames`` caps the video. A policy
    with a ``reset()`` method (e.g. a recurrent agent) is reset at the start of every episode. Returns a
    summary (episodes, returns, frames, path).
    """
    import imageio.v2 as imageio

    path = Path(path)
    if path.suffix not in (".mp4", ".gif"):
        raise ValueError(f"path={str(path)!r} must end in .mp4 or .gif")
    if env.render_mode != "rgb_array":
        raise ValueError(f"env.render_mode={env.render_mode!r}; make the env with render_mode='rgb_array'")
    pol = make_policy(policy, env) if isinstance(policy, str) else policy
    env.action_space.seed(seed)
    fps = fps or env.metadata.get("render_fps", 10)
    frames, returns = [], []
    obs, info = env.reset(seed=seed)
    cap = max_frames or float("inf")
    for ep in range(n_episodes):
        if len(frames) >= cap:
            break
        if ep:
            obs, info = env.reset()
        if hasattr(pol, "reset"):
            pol.reset()
        frames += [env.render()] * hold_frames
        total = 0.0
        for _ in range(max_steps_per_episode):
            obs, r, term, trunc, info = env.step(pol(obs, info))
            total += float(r)
            frames += [env.render()] * hold_frames
            if term or trunc or len(frames) >= cap:
                break
        returns.append(total)
    with atomic_path(path) as tmp:
        if path.suffix == ".gif":
            imageio.mimsave(tmp, frames, duration=1000.0 / fps, loop=0)
        else:
            imageio.mimsave(tmp, [_even(f) for f in frames], fps=fps, macro_block_size=1)
    return {"path": str(path), "episodes": len(returns), "returns": returns, "frames": len(frames)}


def _even(frame: np.ndarray) -> np.ndarray:
    """Crop to even height and width (H.264 needs them)."""
    h, w = frame.shape[:2]
    return frame[: h - h % 2, : w - w % 2]
