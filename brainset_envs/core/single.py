"""The single environment: a ``gym.Env`` running a :class:`~brainset_envs.core.task_core.TaskCore` with a
batch of one (see :mod:`brainset_envs.core.task_core` for the design; the native vector env over the same
core is :class:`brainset_envs.core.vector.TaskVectorEnv`)."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from brainset_envs.core.canvas import Canvas
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


def _scalar_info(info: dict[str, np.ndarray]) -> dict[str, Any]:
    return {k: v[0].item() for k, v in info.items()}


class TaskEnv(gym.Env):
    """A single environment over a :class:`TaskCore` (batch of one).

    Subclasses set ``core_class`` and pass their constructor arguments to it; see each task's docstring.
    """

    core_class: ClassVar[type[TaskCore]]
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        check_render_mode(render_mode, self.metadata["render_modes"])
        self.core = make_core(self.core_class, kwargs, owner=task_name(type(self), "Env"), extra=("render_mode",))
        self.observation_space = self.core.observation_space
        self.action_space = self.core.action_space
        self.render_mode = render_mode
        self.state: State = self.core.new_state(1)
        self._needs_reset = True
        self._canvas: Canvas | None = None
        self._step_one = self.core.step_one if self.core.has_step_one() else None
        if isinstance(self.action_space, spaces.Discrete):
            self._n_actions = int(self.action_space.n)

    def _rng(self) -> Rng:
        """The env's stream as the core takes it (a batch of one)."""
        return self.np_random if self.core.shared_stream else (self.np_random,)

    # Observation of env 0 of the batch.
    def _obs(self) -> Any:
        obs = self.core.observe(self.state)
        if isinstance(obs, dict):
            return {k: v[0] for k, v in obs.items()}
        return obs[0]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        start_episodes(self.core, self.state, seed, options, self._rng())
        self._needs_reset = False
        if self.render_mode == "human":
            self.render()
        return self._obs(), _scalar_info(self.core.info(self.state))

    def step(self, action: Any):
        if self._needs_reset:
            raise gym.error.ResetNeeded(
                "Cannot call step() before reset(): call env.reset() first (and again after an episode ends)"
            )
        if isinstance(self.action_space, spaces.Discrete):
            # Fast path: one int check instead of array machinery.
            try:
                a = int(action)
                ok = a == action and 0 <= a < self._n_actions
            except (TypeError, ValueError, OverflowError):  # None, strings, NaN, inf
                ok = False
            if not ok:
                raise ValueError(
                    f"action={action!r} is outside the action space {self.action_space}: "
                    f"allowed are the integers 0..{self._n_actions - 1}"
                )
            if self._step_one is not None:
                reward, terminated, truncated = self._step_one(self.state, a, self.np_random)
            else:
                reward, terminated, truncated = self.core.step(self.state, np.array((a,)), self._rng())
        else:
            act = check_action_batch(self.action_space, np.asarray(action)[None], 1, name="action")
            if self._step_one is not None:
                reward, terminated, truncated = self._step_one(self.state, act[0], self.np_random)
            else:
                reward, terminated, truncated = self.core.step(self.state, act, self._rng())
        term, trunc = bool(terminated[0]), bool(truncated[0])
        if term or trunc:
            self._needs_reset = True
        if self.render_mode == "human":
            self.render()
        return self._obs(), float(reward[0]), term, trunc, _scalar_info(self.core.info(self.state))

    def render(self):
        if self.render_mode is None:
            gym.logger.warn(
                "render() called without a render_mode; pass render_mode='rgb_array' or 'human' to gym.make"
            )
            return None
        if self._needs_reset and self._canvas is None and not hasattr(self, "_np_random"):
            raise gym.error.ResetNeeded("Cannot call render() before reset()")
        if self._canvas is None:
            self._canvas = Canvas(self.core.render_size, self.render_mode, self.metadata["render_fps"],
                                  title=type(self).__name__)
        self.core.draw(self._canvas, self.state, 0)
        return self._canvas.present()

    def close(self):
        if self._canvas is not None:
            self._canvas.close()
            self._canvas = None

    def __getstate__(self):
        d = self.__dict__.copy()
        d["_canvas"] = None  # a pygame window cannot be pickled; a copy re-opens its own
        return d
