"""Harlow: the env (procedural objects, shuffled sides, one rewarded object) and its ideal learner."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.harlow import IdealLearner, ideal_accuracy, trial_accuracy
from brainset_envs.tasks.harlow import FEATURES, N_SHAPES, SHAPES, shape_mask
from tests.brainset_envs.task_tables import TaskTables


@pytest.mark.parametrize("env_id", ["BrainSet/Harlow-v0", "BrainSet/HarlowPixels-v0"])
def test_ideal_learner_is_at_chance_on_trial_one_and_perfect_after(env_id):
    env = gym.make(env_id)
    acc = trial_accuracy(env, IdealLearner(seed=0).act, episodes=1000, seed=0)
    assert acc[0] == pytest.approx(0.5, abs=0.05)
    assert np.array_equal(acc[1:], np.ones(5))
    assert np.allclose(ideal_accuracy(6), [0.5, 1, 1, 1, 1, 1])


def test_oracle_and_random_reference_points():
    env = gym.make("BrainSet/Harlow-v0")
    oracle = trial_accuracy(env, lambda obs: env.unwrapped.oracle_action(), episodes=200)
    assert np.array_equal(oracle, np.ones(6))
    env.action_space.seed(0)
    rnd = trial_accuracy(env, lambda obs: env.action_space.sample(), episodes=1000)
    assert np.all(np.abs(rnd - 0.5) < 0.06)


def test_objects_sides_and_rewards():
    env = gym.make("BrainSet/Harlow-v0", trials=400)
    obs, info = env.reset(seed=2)
    assert obs.shape == (2 * FEATURES + 3,) and np.all(obs[-3:] == 0)
    objects = {obs[:FEATURES].tobytes(), obs[FEATURES:2 * FEATURES].tobytes()}
    assert len(objects) == 2  # two distinct objects
    lefts, good = [], None
    for _ in range(400):
        left = obs[:FEATURES].tobytes()
        lefts.append(left)
        a = info["rewarded_position"]
        obs, r, term, trunc, info = env.step(a)
        assert r == 1.0 and obs[2 * FEATURES + a] == 1 and obs[-1] == 1
        chosen = left if a == 0 else objects.difference({left}).pop()
        good = good or chosen
        assert chosen == good  # always the same object is rewarded
        if not term:
            assert {obs[:FEATURES].tobytes(), obs[FEATURES:2 * FEATURES].tobytes()} == objects
    assert 0.4 < np.mean([lf == good for lf in lefts]) < 0.6  # its side is shuffled
    _, info = env.reset()
    obs = env.unwrapped.core.observe(env.unwrapped.state)[0]
    assert {obs[:FEATURES].tobytes(), obs[FEATURES:2 * FEATURES].tobytes()} != objects  # novel objects


def test_pixel_observations_show_the_objects():
    env = gym.make("BrainSet/HarlowPixels-v0")
    obs, info = env.reset(seed=0)
    img = obs["image"]
    assert img.shape == (40, 80, 3) and img.dtype == np.uint8 and obs["prev"].shape == (3,)
    core, state = env.unwrapped.core, env.unwrapped.state
    left = info["left_object"]
    lit = (img[:, :40] != 40).any(axis=2)
    assert np.array_equal(lit, shape_mask(int(state["shape"][0, left]), 40))
    assert not np.array_equal(img[:, :40], img[:, 40:])
    assert core.observation == "pixels"


def test_shapes_are_distinct_and_non_empty():
    masks = [shape_mask(s, 40) for s in range(N_SHAPES)]
    assert len(SHAPES) == N_SHAPES
    for i in range(N_SHAPES):
        assert 100 < masks[i].sum() < 1500
        for j in range(i):
            assert (masks[i] != masks[j]).sum() > 40


def test_episode_length_and_seeding():
    env = gym.make("BrainSet/Harlow-v0")
    env.reset(seed=0)
    assert [env.step(0)[2] for _ in range(6)] == [False] * 5 + [True]
    a, b = gym.make("BrainSet/HarlowPixels-v0"), gym.make("BrainSet/HarlowPixels-v0")
    oa, ob = a.reset(seed=1)[0], b.reset(seed=1)[0]
    assert np.array_equal(oa["image"], ob["image"])
    assert not np.array_equal(oa["image"], a.reset(seed=2)[0]["image"])


def test_bad_arguments_of_the_analysis():
    with pytest.raises(ValueError, match="trials"):
        ideal_accuracy(0)
    with pytest.raises(ValueError, match="episodes"):
        trial_accuracy(gym.make("BrainSet/Harlow-v0"), lambda o: 0, episodes=0)


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about Harlow.
CONFORMANCE = TaskTables(
    task="Harlow",
    bad_kwargs=[
        ({"trials": 0}, "trials"),
        ({"trials": 2.5}, "trials"),
        ({"observation": "sound"}, "observation"),
        ({"object_size": 4}, "object_size"),
        ({"observation": "pixels", "object_size": 20}, "object_size"),
    ],
    short_episodes={},
)
