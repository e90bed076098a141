"""PatchForaging semantics: durations, harvest and leave, the floor, conditions, analysis. (The scalar fast
path against the batch path: tests/brainset_envs/test_conformance.py, for every core that has one.)"""

import copy

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.patch_foraging import MVTOracle, foraging_stats, mvt_optimum, record_log
from brainset_envs.tasks.patch_foraging import HARVEST, LEAVE, PatchForagingVectorEnv
from tests.brainset_envs.task_tables import TaskTables

ID = "BrainSet/PatchForaging-v0"


def _block(env, actions, seed=0):
    """Run one block with cycling ``actions``; return the list of (obs, reward, info) and the reset info."""
    obs, info = env.reset(seed=seed)
    out, t = [], 0
    while True:
        obs, r, term, trunc, info = env.step(actions[t % len(actions)])
        out.append((obs, r, info))
        t += 1
        assert not term
        if trunc:
            return out


@pytest.mark.parametrize("kwargs", [{}, {"harvest_time": 3.7, "travel_time": 6.1, "block_time": 100.0}])
def test_durations_sum_to_the_block_time(kwargs):
    env = gym.make(ID, **kwargs)
    rng = np.random.default_rng(0)
    for seed in range(3):
        steps = _block(env, rng.integers(0, 2, 500).tolist(), seed=seed)
        durations = [info["duration"] for _, _, info in steps]
        block = kwargs.get("block_time", 390.0)
        assert sum(durations) == pytest.approx(block, abs=1e-9)
        assert steps[-1][2]["elapsed"] == pytest.approx(block, abs=1e-9)
        assert np.allclose(np.cumsum(durations), [i["elapsed"] for _, _, i in steps])
    if kwargs:  # 100 s cannot be tiled by 3.7 s and 6.1 s steps: the last action is cut and pays nothing
        last_obs, last_r, last_info = steps[-1]
        assert last_info["duration"] < max(3.7, 6.1) and last_r == 0.0


def test_harvest_and_leave_semantics():
    env = gym.make(ID)
    obs, info = env.reset(seed=3)
    assert obs.tolist()[1:4] == [1.0, 0.0, 1.0] and info["duration"] == 0.0 and info["elapsed"] == 0.0
    assert obs[0] == pytest.approx(info["richness"], rel=1e-6)  # the arrival harvest of the first tree
    kbar = info["depletion_mean"]
    assert kbar == pytest.approx(14.909 / (14.909 + 2.033))
    s = info["richness"]
    for n in range(2, 6):
        obs, r, _, _, info = env.step(HARVEST)
        assert 0.0 < info["kappa"] < 1.0 and info["duration"] == 3.0
        assert info["richness"] == pytest.approx(info["kappa"] * s)
        assert r == pytest.approx(max(info["richness"], 0.5), rel=1e-6)
        assert info["expected_reward"] == pytest.approx(kbar * info["richness"])
        assert obs.tolist()[1:4] == [n, 3.0 * (n - 1), 0.0] and info["harvests"] == n
        s = info["richness"]
    obs, r, _, _, info = env.step(LEAVE)
    assert info["duration"] == 6.0 and info["kappa"] == 0.0 and info["patch"] == 1
    assert 0.5 <= info["richness"] <= 15.0 and r == pytest.approx(info["richness"], rel=1e-6)
    assert obs.tolist()[1:4] == [1.0, 0.0, 1.0] and info["elapsed"] == pytest.approx(18.0)


def test_without_arrival_harvest_leaving_pays_nothing():
    env = gym.make(ID, arrival_harvest=False)
    obs, info = env.reset(seed=0)
    assert obs[0] == 0.0 and obs[1] == 0.0
    _, r, _, _, info = env.step(LEAVE)
    assert r == 0.0 and info["harvests"] == 0.0 and info["richness"] > 0.5
    _, r, _, _, info = env.step(HARVEST)
    assert r > 0.0 and info["harvests"] == 1.0


def test_reward_floor_and_never_leaving_stays_in_the_space():
    env = gym.make(ID, reward_floor=2.0)
    steps = _block(env, [HARVEST])
    rewards = np.array([r for _, r, _ in steps])
    assert len(steps) == 130 and rewards.min() == pytest.approx(2.0)  # the tree is long exhausted
    assert steps[-1][2]["richness"] < 0.01 and steps[-1][0][1] == 131.0  # 130 harvests + arrival
    assert all(env.observation_space.contains(o) for o, _, _ in steps)


def test_random_draws_follow_the_model():
    envs = PatchForagingVectorEnv(num_envs=256, depletion="shallow")
    envs.reset(seed=0)
    kappas, richness = [], []
    for t in range(60):
        action = np.full(256, HARVEST if t % 2 else LEAVE)
        _, _, _, _, info = envs.step(action)
        (kappas if t % 2 else richness).append(info["kappa" if t % 2 else "richness"])
    k, s0 = np.concatenate(kappas), np.concatenate(richness)
    assert k.mean() == pytest.approx(31.558 / (31.558 + 1.897), abs=0.002)
    assert k.var() == pytest.approx(31.558 * 1.897 / (33.455**2 * 34.455), rel=0.1)
    assert s0.mean() == pytest.approx(10.0, abs=0.03) and s0.std() == pytest.approx(1.0, abs=0.03)


def test_mixed_conditions_and_block_cue():
    envs = gym.make_vec("BrainSet/PatchForagingMixed-v0", num_envs=64,
                        vectorization_mode="vector_entry_point")
    obs, info = envs.reset(seed=0)
    assert obs.shape == (64, 6)
    assert np.allclose(obs[:, 4], info["depletion_mean"]) and np.allclose(obs[:, 5], info["travel_time"])
    pairs = {(round(k, 3), t) for k, t in zip(info["depletion_mean"], info["travel_time"], strict=True)}
    assert pairs == {(0.88, 6.0), (0.88, 12.0), (0.943, 6.0), (0.943, 12.0)}
    _, _, _, _, info = envs.step(np.ones(64, dtype=np.int64))
    assert np.array_equal(info["duration"], info["travel_time"])


def test_render_reads_but_never_changes_the_state():
    env = gym.make(ID, render_mode="rgb_array")
    env.reset(seed=0)
    oracle = MVTOracle.from_env(env)
    info = {"expected_reward": 9.0}
    frames = []
    for _ in range(30):
        _, _, _, _, info = env.step(oracle(info))
    before = copy.deepcopy(env.unwrapped.state)
    frames.append(env.render())
    frames.append(env.render())
    after = env.unwrapped.state
    assert all(np.array_equal(before[k], after[k]) for k in before)
    assert np.array_equal(frames[0], frames[1]) and frames[0].shape == (320, 480, 3)
    assert after["trace"][0].max() > 0  # the reward-rate trace is recorded when rendering
    env.step(LEAVE)
    assert not np.array_equal(env.render(), frames[0])
    plain = gym.make(ID)
    plain.reset(seed=0)
    plain.step(HARVEST)
    assert plain.unwrapped.state["trace"].max() == 0  # ... and not otherwise (speed)


def test_foraging_stats_on_a_synthetic_log():
    # Two patches: leave at expected reward 6 after 3 harvests, leave at 4 after 5; one autoreset step.
    log = {
        "action": np.array([0, 0, 1, 0, 0, 0, 0, 1, 0]),
        "reward": np.array([9.0, 8.0, 10.0, 9.0, 8.0, 7.0, 6.0, 10.0, 0.0]),
        "duration": np.array([3.0, 3.0, 6.0, 3.0, 3.0, 3.0, 3.0, 6.0, 0.0]),
        "expected_reward": np.array([8.0, 7.0, 6.0, 8.5, 7.5, 6.5, 5.5, 4.0, 9.0]),
        "harvests": np.array([1, 2, 3, 1, 2, 3, 4, 5, 1]),
        "valid": np.array([1, 1, 1, 1, 1, 1, 1, 1, 0], dtype=bool),
    }
    opt = mvt_optimum()
    stats = foraging_stats(log, opt)
    assert stats["n_leaves"] == 2 and stats["leave_threshold"] == pytest.approx(5.0)
    assert stats["leave_threshold_sd"] == pytest.approx(1.0) and stats["harvests_per_patch"] == 4.0
    assert stats["reward_rate"] == pytest.approx(67.0 / 30.0)
    assert stats["rate_ratio"] == pytest.approx(67.0 / 30.0 / opt.rate)
    assert stats["threshold_gap"] == pytest.approx(5.0 - opt.leave_reward_mean)
    assert foraging_stats({k: v.reshape(3, 3) for k, v in log.items()}, 2.0)["rate_ratio"] == \
        pytest.approx(67.0 / 60.0)
    with pytest.raises(KeyError, match="expected_reward"):
        foraging_stats({k: v for k, v in log.items() if k != "expected_reward"})
    with pytest.raises(ValueError, match="reward"):
        foraging_stats({**log, "reward": log["reward"][:3]})


def test_record_log_of_an_overstaying_policy():
    env = gym.make("BrainSet/PatchForagingSteepLong-v0")
    log = record_log(env, lambda obs, info: int(info["expected_reward"] < 3.0), n_episodes=3, seed=0)
    opt = mvt_optimum(depletion="steep", travel_time=12.0)
    stats = foraging_stats(log, opt)
    assert log["duration"].sum() == pytest.approx(3 * 390.0)
    assert stats["threshold_gap"] < -1.0 and stats["rate_ratio"] < 1.0
    assert stats["harvests_per_patch"] > opt.harvests_per_patch


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about PatchForaging.
CONFORMANCE = TaskTables(
    task="PatchForaging",
    bad_kwargs=[
        ({"harvest_time": 0.0}, "harvest_time"),
        ({"travel_time": -1.0}, "travel_time"),
        ({"travel_time": 0.0}, "travel_time"),
        ({"travel_time": []}, "travel_time"),
        ({"depletion": "flat"}, "depletion"),
        ({"depletion": (14.9, -2.0)}, "depletion"),
        ({"depletion": []}, "depletion"),
        ({"richness_sd": -1.0}, "richness_sd"),
        ({"richness_min": 5.0, "richness_max": 4.0}, "richness_max"),
        ({"richness_mean": 20.0}, "richness_mean"),
        ({"reward_floor": "high"}, "reward_floor"),
        ({"block_time": 0.0}, "block_time"),
        ({"arrival_harvest": "yes"}, "arrival_harvest"),
        ({"block_cue": 1}, "block_cue"),
    ],
    short_episodes={"block_time": 40.0},
    fast_path_variants=[
        {"harvest_time": 2.9, "travel_time": 7.3, "block_time": 50.0, "arrival_harvest": False},
        {"reward_floor": 6.0, "richness_sd": 4.0, "richness_min": 3.0},  # the floor and the clipping act
    ],
)
