"""Ground truth for Harlow's learning-set task (``BrainSet/Harlow-v0``; Harlow 1949, Wang et al. 2018).

The ideal learner knows the structure of the task (one of the two objects is always rewarded, the sides are
shuffled) but nothing about the episode's objects: on trial 1 it can only guess (accuracy 1/2); the
outcome of trial 1 tells it which object is rewarded, so it is right on every later trial. Its expected
accuracy per trial is ``[0.5, 1, 1, ...]`` and its expected episode return ``trials - 0.5``. Harlow's
monkeys, and Wang et al.'s meta-RL agent, reached about 97% on trial 2 after a few hundred problems.
"""

from __future__ import annotations

import numpy as np

from brainset_envs.core.params import check_int
from brainset_envs.tasks.harlow import FEATURES


def ideal_accuracy(trials: int = 6) -> np.ndarray:
    """The ideal learner's expected accuracy on each trial of an episode: 1/2, then 1."""
    check_int("trials", trials, 1, 10_000)
    acc = np.ones(trials)
    acc[0] = 0.5
    return acc


class IdealLearner:
    """The ideal learner, acting on the env's observations only (``features`` or ``pixels``).

    It tells the objects apart by their appearance (the left and right halves of the observation),
    remembers the one it chose and whether it was paid (the previous reward in the observation), and
    from then on picks the rewarded object, or the other one if the chosen one was not rewarded. A new
    episode shows as a zero previous action. Guesses come from its own seeded generator.
    """

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.good: bytes | None = None
        self.bad: bytes | None = None
        self.chosen: bytes | None = None

    @staticmethod
    def _split(obs) -> tuple[bytes, bytes, np.ndarray]:
        if isinstance(obs, dict):
            img = np.asarray(obs["image"])
            s = img.shape[1] // 2
            return img[:, :s].tobytes(), img[:, s:].tobytes(), np.asarray(obs["prev"])
        o = np.asarray(obs)
        return o[:FEATURES].tobytes(), o[FEATURES: 2 * FEATURES].tobytes(), o[2 * FEATURES:]

    def act(self, obs) -> int:
        left, right, prev = self._split(obs)
        if prev[:2].max() == 0:  # a new episode: new objects
            self.good = self.bad = None
        elif self.chosen is not None and self.good is None and self.bad is None:
            if prev[2] > 0.5:
                self.good = self.chosen
            else:
                self.bad = self.chosen
        if self.good is not None:
            a = 0 if left == self.good else 1
        elif self.bad is not None:
            a = 1 if left == self.bad else 0
        else:
            a = int(self.rng.integers(2))
        self.chosen = left if a == 0 else right
        return a


def trial_accuracy(env, policy, episodes: int = 100, seed: int = 0) -> np.ndarray:
    """Accuracy of ``policy(obs) -> action`` on each trial position of a Harlow env, over ``episodes``."""
    check_int("episodes", episodes, 1, 10_000_000)
    trials = env.unwrapped.core.trials
    hits = np.zeros(trials)
    obs, info = env.reset(seed=seed)
    for _ in range(episodes):
        for t in range(trials):
            obs, r, term, trunc, info = env.step(policy(obs))
            hits[t] += r
            if term or trunc:
                break
        obs, info = env.reset()
    return hits / episodes
