"""TwoStep-v0 and TwoStepSwitching-v0 as envs: transitions, rewards, observations, episode length, seeding."""

import gymnasium as gym
import numpy as np
import pytest

from tests.brainset_envs.task_tables import TaskTables


@pytest.mark.parametrize("env_id", ["BrainSet/TwoStep-v0", "BrainSet/TwoStepSwitching-v0"])
def test_transitions_rewards_and_observations(env_id):
    env = gym.make(env_id, trials=3000)
    c = env.unwrapped.core.common_prob
    obs, info = env.reset(seed=3)
    assert np.array_equal(obs, [1, 0, 0, 0, 0, 0]) and info["stage"] == 0
    rng = np.random.default_rng(0)
    commons, paid, probs, ps = [], [], [], []
    for t in range(3000):
        a1 = int(rng.integers(2))
        obs, r, term, trunc, info = env.step(a1)
        assert r == 0.0 and info["stage"] == 1 and info["first_action"] == a1
        state = info["state"] - 1
        assert obs[1 + state] == 1 and obs[0] == 0 and obs[3 + a1] == 1
        assert info["common"] == int(state == a1)
        commons.append(info["common"])
        a2 = int(rng.integers(2))
        p = info[f"p{'AB'[state]}{a2}"]
        obs, r, term, trunc, info = env.step(a2)
        assert obs[0] == 1 and obs[3 + a2] == 1 and obs[5] == r
        assert term == (t == 2999)
        paid.append(r)
        probs.append(p)
        ps.append([info["pA0"], info["pA1"], info["pB0"], info["pB1"]])
    assert np.mean(commons) == pytest.approx(c, abs=0.03)
    assert np.mean(paid) == pytest.approx(np.mean(probs), abs=0.03)
    ps = np.array(ps)
    if "Switching" in env_id:
        assert set(np.round(ps.ravel(), 6)) == {0.1, 0.9}
        assert np.all(ps[:, 0] == ps[:, 1]) and np.all(ps[:, 0] + ps[:, 2] == pytest.approx(1.0))
        assert np.mean(np.diff(ps[:, 0]) != 0) == pytest.approx(0.1, abs=0.02)  # switch rate
    else:
        assert ps.min() >= 0.25 and ps.max() <= 0.75
        steps = np.diff(ps, axis=0)
        assert np.std(steps[np.abs(steps) < 0.1]) == pytest.approx(0.025, rel=0.15)  # the random walk's sd


def test_episode_length_seeding_and_oracle():
    env = gym.make("BrainSet/TwoStep-v0", trials=5)
    env.reset(seed=0)
    flags = [env.step(0)[2] for _ in range(10)]
    assert flags == [False] * 9 + [True]
    a, b = gym.make("BrainSet/TwoStep-v0"), gym.make("BrainSet/TwoStep-v0")
    assert a.reset(seed=4)[1] == b.reset(seed=4)[1] != a.reset(seed=5)[1]
    env = gym.make("BrainSet/TwoStepSwitching-v0")
    for policy in ("oracle", "random"):
        env.reset(seed=0)
        env.action_space.seed(0)
        total = 0.0
        for _ in range(20 * 200):
            act = env.unwrapped.oracle_action() if policy == "oracle" else env.action_space.sample()
            _, r, term, _, _ = env.step(act)
            total += r
            if term:
                env.reset()
        if policy == "oracle":
            oracle = total / 20
    assert oracle > 75 and total / 20 < 55  # 0.9 * 0.9 + 0.1 * 0.1 = 0.82 per trial vs 0.5


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about TwoStep.
CONFORMANCE = TaskTables(
    task="TwoStep",
    bad_kwargs=[
        ({"trials": 0}, "trials"),
        ({"common_prob": 0.3}, "common_prob"),
        ({"common_prob": "high"}, "common_prob"),
        ({"rewards": "random"}, "rewards"),
        ({"drift_sd": -0.1}, "drift_sd"),
        ({"reward_min": 0.8, "reward_max": 0.7}, "reward_max"),
        ({"switch_prob": 1.5}, "switch_prob"),
        ({"reward_high": float("nan")}, "reward_high"),
    ],
    short_episodes={"trials": 4},
    blind_start=True,
)
