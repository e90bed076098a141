"""ForagingArena-v0: food dynamics, energy, the two reward modes, observations, the scripted forager."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.foraging_arena import forager_actions, reference_stats
from brainset_envs.core.grid import STAY, E, W
from brainset_envs.tasks.foraging_arena import ForagingArenaCore
from tests.brainset_envs.task_tables import TaskTables

ID = "BrainSet/ForagingArena-v0"


def _arena(**kw):
    """A 1 x 5 corridor with one food patch at column 2, agent starting at column 0."""
    kw = {"layout": "..F..", "start": [0, 0], **kw}
    env = gym.make(ID, **kw)
    env.reset(seed=0)
    return env


def test_energy_decays_and_episode_terminates_at_zero():
    env = gym.make(ID, n_patches=0, energy_init=0.1, energy_decay=0.01, max_steps=1000)
    env.reset(seed=0)
    energies, term = [], False
    while not term:
        _, r, term, trunc, info = env.step(STAY)
        energies.append(info["energy"])
        assert r == 0.0 and not trunc
    assert len(energies) == 10 and energies[-1] == 0.0  # exactly 0.1 / 0.01 steps, float32 absorbed
    assert np.allclose(np.diff(energies), -0.01, atol=1e-6)


def test_eating_depletes_regrows_and_restores_energy():
    env = _arena(bite=0.3, regrow_rate=0.05, energy_per_food=0.5, energy_decay=0.01, energy_init=0.2)
    core = env.unwrapped.core
    env.step(E)
    _, r, _, _, info = env.step(E)  # onto the patch: eat 0.3 of 1.0
    assert r == pytest.approx(0.3) and info["eaten"] == pytest.approx(0.3)
    assert info["energy"] == pytest.approx(0.2 - 0.02 + 0.15, abs=1e-6)
    assert core.food(env.unwrapped.state)[0, 0] == pytest.approx(0.7 + 0.05, abs=1e-6)
    for _ in range(2):
        _, r, *_ = env.step(STAY)  # keep eating: 0.3 per step while it lasts
        assert r == pytest.approx(0.3)
    _, r, *_ = env.step(STAY)
    assert r == pytest.approx(0.25)  # the last crumbs: 0.75 - 0.6 + 2 x 0.05 regrown
    env.step(W)
    for _ in range(5):
        env.step(STAY)
    assert core.food(env.unwrapped.state)[0, 0] == pytest.approx(7 * 0.05, abs=1e-5)  # regrowth
    for _ in range(20):
        env.step(STAY)
    assert core.food(env.unwrapped.state)[0, 0] == pytest.approx(1.0)  # capped at food_max


def test_homeostatic_reward_is_drive_reduction():
    env = _arena(reward="homeostatic", setpoint=0.6, drive_exponent=3.0, energy_init=0.3, bite=0.4,
                 energy_per_food=1.0)
    core = env.unwrapped.core

    def drive(h):
        return abs(0.6 - h) ** 3.0

    h_prev = 0.3
    signs = []
    for a in [E, E, STAY, STAY, W, STAY]:
        _, r, _, _, info = env.step(a)
        assert r == pytest.approx(drive(h_prev) - drive(info["energy"]), abs=1e-6)
        assert core.drive(np.float32(info["energy"])) == pytest.approx(drive(info["energy"]), abs=1e-6)
        signs.append(np.sign(r))
        h_prev = info["energy"]
    assert signs[0] < 0  # starving moves away from the setpoint
    assert signs[1] > 0  # eating below the setpoint (0.29 -> 0.68) is rewarded
    assert signs[2] < 0  # eating above it (0.68 -> 1.0) is punished
    food = _arena(energy_init=0.3, bite=0.4, energy_per_food=1.0)
    rewards = [food.step(a)[1] for a in [E, E, STAY]]
    assert rewards[2] == pytest.approx(0.4)  # ... while the food reward keeps paying


def test_observation_view_and_energy():
    env = gym.make(ID, layout="open", size=7, n_patches=3, view_size=3, start=[0, 0])
    obs, _ = env.reset(seed=1)
    core, state = env.unwrapped.core, env.unwrapped.state
    assert core.view_channels == ("blocked", "food") and obs.shape == (3 * 3 * 2 + 1,)
    view = obs[:-1].reshape(3, 3, 2)
    assert view[0, :, 0].all() and view[:, 0, 0].all() and not view[1:, 1:, 0].any()  # corner: outside
    assert obs[-1] == pytest.approx(0.5)
    food = np.zeros(49 + 1)
    food[state["patch"][0]] = 1.0
    idx = core.grid.view_index(3)[0]
    assert np.array_equal(view[..., 1].ravel(), food[idx])
    d = gym.make(ID, observation="dict", view_size=3, layout="open", size=7, n_patches=3, start=[0, 0])
    o, _ = d.reset(seed=1)
    assert np.array_equal(o["view"], view) and o["energy"][0] == pytest.approx(0.5)
    assert d.observation_space.contains(o)


def test_pixel_observation_shows_agent_food_and_energy_bar():
    env = gym.make(ID, observation="pixels", layout="open", size=6, pixels_per_cell=6, start=[0, 0])
    img, _ = env.reset(seed=0)
    assert img.shape == (42, 36, 3) and img.dtype == np.uint8 and env.observation_space.contains(img)
    assert tuple(img[3, 3]) == (220, 45, 45)  # agent in cell (0, 0)
    for p in env.unwrapped.state["patch"][0]:
        r, c = divmod(int(p), 6)
        assert tuple(img[r * 6 + 3, c * 6 + 3]) == (40, 150, 60)  # full patches
    bar = img[-2, :, 0]
    assert (bar == 230).sum() == 18 and (bar == 60).sum() == 18  # energy 0.5


def test_scripted_forager_beats_random_and_survives():
    forager = reference_stats("forager", episodes=32, seed=0)
    rand = reference_stats("random", episodes=32, seed=0)
    assert forager["starved"] == 0.0 and forager["survival_time"] == 500.0
    assert rand["starved"] > 0.9 and rand["survival_time"] < 200
    assert forager["reward_rate"] > 1.5 * rand["reward_rate"]
    # homeostatic: the forager holds energy near the setpoint
    h = reference_stats("forager", episodes=32, seed=0, reward="homeostatic")
    assert abs(h["mean_energy"] - 0.8) < 0.15 and h["reward_rate"] > reference_stats(
        "random", episodes=32, seed=0, reward="homeostatic")["reward_rate"]


def test_forager_walks_to_food_when_hungry_and_leaves_when_sated():
    core = ForagingArenaCore(layout="..F..", start=[0, 0], energy_init=0.5)
    state = core.new_state(1)
    core.reset(state, None, np.random.default_rng(0))
    assert forager_actions(core, state)[0] == E
    state["cell"][0] = 2  # on the patch
    assert forager_actions(core, state)[0] == STAY
    state["ext"][0, core._energy_col] = 0.9  # sated on food: step off
    assert forager_actions(core, state)[0] in (E, W)


def test_layout_food_cells_fix_the_patches():
    env = gym.make(ID, layout="#####\n#F.F#\n#...#\n#####")
    env.reset(seed=0)
    assert sorted(env.unwrapped.state["patch"][0].tolist()) == [6, 8]
    with pytest.raises(ValueError, match="n_patches"):
        gym.make(ID, layout="#####\n#F.F#\n#...#\n#####", n_patches=3)


def test_sb3_multi_input_and_mlp_policies_accept_the_observations():
    from stable_baselines3 import PPO

    for obs, policy in (("flat", "MlpPolicy"), ("dict", "MultiInputPolicy")):
        env = gym.make(ID, observation=obs)
        model = PPO(policy, env, n_steps=32, batch_size=32, n_epochs=1, device="cpu", seed=0)
        model.learn(32)
        o, _ = env.reset(seed=0)
        a, _ = model.predict(o, deterministic=True)
        assert env.action_space.contains(int(a))


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about ForagingArena.
CONFORMANCE = TaskTables(
    task="ForagingArena",
    bad_kwargs=[
        ({"n_patches": -1}, "n_patches"),
        ({"n_patches": 1000}, "n_patches"),
        ({"reward": "money"}, "reward"),
        ({"observation": "smell"}, "observation"),
        ({"energy_init": 0.0}, "energy_init"),
        ({"energy_decay": -0.1}, "energy_decay"),
        ({"bite": 0}, "bite"),
        ({"regrow_rate": "fast"}, "regrow_rate"),
        ({"setpoint": 1.5}, "setpoint"),
        ({"view_size": 6}, "view_size"),
        ({"layout": "klyubin", "size": 7}, "size"),
        ({"start": [-1, 0]}, "start"),
    ],
    short_episodes={"max_steps": 20},
    fast_path_variants=[{"layout": "four_rooms", "n_patches": 6}],
)
