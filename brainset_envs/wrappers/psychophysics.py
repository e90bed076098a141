"""Trial-by-trial control of the stimulus level of OrientationDiscrimination.

Both wrappers choose the offset of the next trial before the env draws it (the env is told through
``OrientationCore.set_offsets``), and record every answered trial in ``history`` for analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.analysis.psychophysics import psychometric_table
from brainset_envs.core.params import check_float, check_floats, check_int


def _orientation_core(env: gym.Env):
    core = getattr(env.unwrapped, "core", None)
    if core is None or not hasattr(core, "set_offsets"):
        raise TypeError(f"env={env!r} has no settable stimulus level; use BrainSet/OrientationDiscrimination*")
    return core


class _TrialControl(gym.Wrapper):
    """Shared part: remember the shown trial, log the answer, set the next level."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self._core = _orientation_core(env)
        self._shown: dict[str, Any] | None = None
        self.history: list[tuple[float, int]] = []  # (offset_deg, correct) per answered trial

    def _next_level(self) -> float:
        raise NotImplementedError

    def _update(self, correct: bool) -> None:
        """Update the procedure after an answered trial."""

    def _seeded(self, seed: int) -> None:
        """A seeded reset: restart any randomness of the procedure from ``seed``."""

    def reset(self, **kwargs: Any):
        if kwargs.get("seed") is not None:
            self._seeded(int(kwargs["seed"]))
        self._core.set_offsets(self._next_level())
        obs, info = self.env.reset(**kwargs)
        self._shown = info
        return obs, info

    def step(self, action: Any):
        if self._shown is None:
            raise gym.error.ResetNeeded("Cannot call step() before reset()")
        correct = int(action) == int(self._shown["label"])
        self.history.append((float(self._shown["offset_deg"]), int(correct)))
        self._update(correct)
        self._core.set_offsets(self._next_level())  # level of the trial the env draws next
        obs, reward, term, trunc, info = self.env.step(action)
        self._shown = info
        return obs, reward, term, trunc, info

    def table(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(levels, n correct, n trials) of the answered trials, for ``fit_weibull``."""
        if not self.history:
            raise ValueError("no answered trials yet")
        lv, c = np.array(self.history).T
        return psychometric_table(lv, c)


class Staircase(_TrialControl):
    """An n-down-1-up adaptive staircase on the offset (Levitt 1971).

    After ``down`` consecutive correct answers the offset is divided by ``factor``; after each error it is
    multiplied by it. 3-down-1-up converges to 79.4% correct, 2-down-1-up to 70.7%. ``threshold()`` is the
    geometric mean of the offsets at the last ``n_reversals`` reversals.
    """

    def __init__(self, env: gym.Env, start_deg: float = 10.0, down: int = 3, factor: float = 1.25,
                 min_deg: float = 0.01, max_deg: float = 45.0):
        super().__init__(env)
        self.down = check_int("down", down, 1, 10)
        self.factor = check_float("factor", factor, 1.0, 10.0, low_open=True)
        self.min_deg = check_float("min_deg", min_deg, 0.0, 90.0, low_open=True)
        self.max_deg = check_float("max_deg", max_deg, self.min_deg, 90.0)
        self.level = check_float("start_deg", start_deg, self.min_deg, self.max_deg)
        self._run = 0
        self._direction = 0  # -1 going down (harder), +1 going up
        self.reversals: list[float] = []

    @property
    def target_accuracy(self) -> float:
        """The accuracy an n-down-1-up staircase converges to: 0.5 ** (1 / down)."""
        return 0.5 ** (1.0 / self.down)

    def _next_level(self) -> float:
        return self.level

    def _update(self, correct: bool) -> None:
        move = 0
        if correct:
            self._run += 1
            if self._run >= self.down:
                self._run, move = 0, -1
        else:
            self._run, move = 0, +1
        if move:
            if self._direction and move != self._direction:
                self.reversals.append(self.level)
            self._direction = move
            new = self.level / self.factor if move < 0 else self.level * self.factor
            self.level = float(min(max(new, self.min_deg), self.max_deg))

    def threshold(self, n_reversals: int = 8) -> float:
        """Geometric mean of the levels at the last ``n_reversals`` reversals."""
        check_int("n_reversals", n_reversals, 1)
        if len(self.reversals) < n_reversals:
            raise ValueError(f"only {len(self.reversals)} reversals so far; need n_reversals={n_reversals}")
        return float(np.exp(np.mean(np.log(self.reversals[-n_reversals:]))))


class ConstantStimuli(_TrialControl):
    """The method of constant stimuli: each offset ``repeats`` times, shuffled, then again.

    The order is drawn from a generator seeded by ``reset(seed=...)``: a seeded session is reproducible.
    """

    def __init__(self, env: gym.Env, offsets_deg: Sequence[float] = (0.5, 1.0, 2.0, 5.0, 10.0), repeats: int = 10):
        super().__init__(env)
        self.offsets = check_floats("offsets_deg", offsets_deg, 0.0, 90.0, low_open=True)
        self.repeats = check_int("repeats", repeats, 1)
        self._queue: list[float] = []
        self._rng = np.random.default_rng()

    def _seeded(self, seed: int) -> None:
        self._rng = np.random.default_rng(seed)
        self._queue = []

    def _next_level(self) -> float:
        if not self._queue:
            self._queue = self._rng.permutation(np.repeat(self.offsets, self.repeats)).tolist()
        return self._queue[-1]

    def _update(self, correct: bool) -> None:
        self._queue.pop()
