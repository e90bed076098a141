"""The native vector environment: a gymnasium ``VectorEnv`` running a
:class:`~brainset_envs.core.task_core.TaskCore` over ``num_envs`` envs at once (see
:mod:`brainset_envs.core.task_core` for the design and the random streams).

Also re-exports what this module held before the single env and the core's contract moved out
(:mod:`brainset_envs.core.single`, :mod:`brainset_envs.core.task_core`), so old import paths work.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from brainset_envs.core.canvas import Canvas
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import (
    Rng,
    State,
    TaskCore,
    check_action_batch,
    check_render_mode,
    make_core,
    start_episodes,
    task_name,
)

# The old private names of two helpers (now public in task_core), kept for old imports.
_start_episodes = start_episodes
_owner = task_name

__all__ = [
    "Rng", "State", "TaskCore", "TaskEnv", "TaskVectorEnv", "check_action_batch", "check_render_mode", "make_core",
]


class TaskVectorEnv(VectorEnv):
    """The native batched environment over a :class:`TaskCore` (``gym.make_vec(..., "vector_entry_point")``).

    Autoreset follows gymnasium's default NEXT_STEP mode: the step after an episode ends resets that env
    and returns its first observation with reward 0 and terminated = truncated = False. Info values are
    arrays over envs (with gymnasium's ``_key`` masks).

    Seeding: ``reset(seed=s)`` seeds env ``i`` with ``s + i`` (as ``SyncVectorEnv`` does); with per-env
    streams (the core's ``shared_stream`` false, the default) env ``i`` then is exactly a single env
    reset with ``seed=s + i`` and given the same actions, through episode ends and autoresets.
    ``reset()`` without a seed continues every stream.
    """

    core_class: ClassVar[type[TaskCore]]
    metadata: dict[str, Any] = {
        "render_modes": ["rgb_array"],
        "render_fps": 10,
        "autoreset_mode": AutoresetMode.NEXT_STEP,
    }

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        if not isinstance(num_envs, (int, np.integer)) or isinstance(num_envs, bool) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.core = make_core(self.core_class, kwargs, owner=task_name(type(self), "VectorEnv"),
                              extra=("num_envs", "render_mode"))
        self.num_envs = int(num_envs)
        self.single_observation_space = self.core.observation_space
        self.single_action_space = self.core.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = render_mode
        self.state: State = self.core.new_state(self.num_envs)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._needs_reset = True
        self._canvas: Canvas | None = None
        self._ones = np.ones(self.num_envs, dtype=bool)
        self._streams: list[np.random.Generator] | None = None  # per-env streams (set on reset)
        # Draws of the step an autoreset discards go here, not to the resetting env's stream.
        self._scratch = np.random.Generator(np.random.PCG64(0))

    def _rng(self) -> Rng:
        return self.np_random if self.core.shared_stream else self._per_env_streams()

    def _per_env_streams(self) -> list[np.random.Generator]:
        assert self._streams is not None, "per-env streams are set by reset(), which step() requires first"
        return self._streams

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for k, v in self.core.info(self.state).items():
            info[k] = v.copy()
            info["_" + k] = self._ones
        return info

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if not self.core.shared_stream and (seed is not None or self._streams is None):
            self._streams = [seeding.np_random(None if seed is None else seed + i)[0]
                             for i in range(self.num_envs)]
        start_episodes(self.core, self.state, seed, options, self._rng())
        self._autoreset[:] = False
        self._needs_reset = False
        return self.core.observe(self.state), self._info()

    def step(self, actions: Any):
        if self._needs_reset:
            raise gym.error.ResetNeeded("Cannot call step() before reset(): call envs.reset() first")
        act = check_action_batch(self.single_action_space, actions, self.num_envs)
        done_before = self._autoreset
        any_done = done_before.any()
        rng = self._rng()
        if any_done and not self.core.shared_stream:  # the discarded step draws from the scratch stream
            step_rng: Rng = _SkipDone(self._per_env_streams(), done_before, self._scratch)
        else:
            step_rng = rng
        reward, terminated, truncated = self.core.step(self.state, act, step_rng)
        if any_done:
            self.core.reset(self.state, None if done_before.all() else done_before, rng)
            reward[done_before] = 0.0
            terminated[done_before] = False
            truncated[done_before] = False
        self._autoreset = terminated | truncated
        return self.core.observe(self.state), reward, terminated, truncated, self._info()

    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode='rgb_array'")
            return None
        if self._canvas is None:
            self._canvas = Canvas(self.core.render_size, "rgb_array", self.metadata["render_fps"])
        frames = []
        for i in range(self.num_envs):
            self.core.draw(self._canvas, self.state, i)
            frames.append(self._canvas.present())
        return tuple(frames)

    def close_extras(self, **kwargs: Any) -> None:
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None


class _SkipDone(Sequence):
    """Per-env streams for a step in which the envs in ``done`` only autoreset: their draws (discarded
    with the step) come from ``scratch``, so their own streams stay where a single env's would be. Built
    in O(1); the per-env lookup happens only where a core draws."""

    __slots__ = ("_streams", "_done", "_scratch")

    def __init__(self, streams: Sequence[np.random.Generator], done: np.ndarray, scratch: np.random.Generator):
        self._streams, self._done, self._scratch = streams, done, scratch

    def __len__(self) -> int:
        return len(self._streams)

    def __getitem__(self, i):
        return self._scratch if self._done[i] else self._streams[i]
