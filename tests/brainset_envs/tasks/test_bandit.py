"""Bandit-v0 and BanditCorrelated-v0 as envs: arms, outcomes, observations, episode length, seeding."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.bandit import CountTracker
from tests.brainset_envs.task_tables import TaskTables


def test_env_probabilities_outcomes_and_observations():
    env = gym.make("BrainSet/Bandit-v0", arms=3, horizon=4000)
    obs, info = env.reset(seed=5)
    assert obs.shape == (5,) and np.all(obs == 0)
    p = np.array([info["p0"], info["p1"], info["p2"]])
    assert info["best_arm"] == int(p.argmax())
    wins = np.zeros(3)
    tracker = CountTracker(3)
    for t in range(3000):
        a = t % 3
        obs, r, term, trunc, info = env.step(a)
        tracker.update(obs)
        assert obs[a] == 1 and obs[:3].sum() == 1 and obs[3] == r and obs[4] == pytest.approx((t + 1) / 4000)
        wins[a] += r
    assert np.allclose(wins / 1000, p, atol=0.06)
    assert np.array_equal(tracker.counts[:, 0], wins)
    assert info["expected_regret"] == pytest.approx(1000 * (3 * p.max() - p.sum()))


def test_correlated_arms_and_fresh_bandits_each_episode():
    env = gym.make("BrainSet/BanditCorrelated-v0")
    _, info = env.reset(seed=0)
    ps = []
    for _ in range(200):
        assert info["p0"] + info["p1"] == pytest.approx(1.0)
        ps.append(info["p0"])
        _, info = env.reset()
    assert len(set(ps)) == 200 and 0.4 < np.mean(ps) < 0.6  # uniform p, new each episode


def test_episode_length_and_seeding():
    env = gym.make("BrainSet/Bandit-v0", horizon=5)
    for seed in (0, 1):
        env.reset(seed=seed)
        steps = [env.step(0) for _ in range(5)]
        assert [s[2] for s in steps] == [False] * 4 + [True]
    a = gym.make("BrainSet/Bandit-v0")
    b = gym.make("BrainSet/Bandit-v0")
    assert a.reset(seed=9)[1] == b.reset(seed=9)[1]
    assert a.reset(seed=9)[1] != a.reset(seed=10)[1]


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about Bandit.
CONFORMANCE = TaskTables(
    task="Bandit",
    bad_kwargs=[
        ({"arms": 1}, "arms"),
        ({"arms": "two"}, "arms"),
        ({"horizon": 0}, "horizon"),
        ({"correlated": 1}, "correlated"),
        ({"correlated": True, "arms": 3}, "correlated"),
        ({"horizon": 10**6, "arms": 64}, "horizon"),
    ],
    short_episodes={"horizon": 7},
    blind_start=True,
)
