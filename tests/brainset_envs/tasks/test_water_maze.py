"""WaterMaze: swimming physics, platform, place cells, view, protocols across days, vector env, options."""

import copy

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.tasks.water_maze import WaterMazeCore, WaterMazeEnv
from brainset_envs.tasks.water_maze_view import place_cell_centres
from tests.brainset_envs.task_tables import TaskTables

E, N, W, S = 0, 2, 4, 6  # headings


def make(**kw):
    return WaterMazeEnv(**kw)


def swim(env, actions):
    out = []
    for a in actions:
        out.append(env.step(a))
        if out[-1][2] or out[-1][3]:
            break
    return out


def test_place_cells_match_the_gaussian_formula_and_lattice():
    core = WaterMazeCore()
    assert core.n_cells == 161 and len(place_cell_centres(60.0, 15)) == 161
    assert core.sigma == pytest.approx(9.6)
    pos = np.random.default_rng(0).uniform(-42, 42, (40, 2))
    rates = core.place_cells(pos)
    d2 = ((pos[:, None, :] - core.centres[None]) ** 2).sum(-1)
    want = np.exp(-d2 / (2 * 9.6 ** 2))
    assert rates.dtype == np.float32 and rates.shape == (40, 161)
    np.testing.assert_allclose(rates, want, rtol=1e-5, atol=1e-6)
    # The batch path and the single-env path give identical numbers.
    one = np.concatenate([core.place_cells(pos[i:i + 1]) for i in range(40)])
    assert np.array_equal(rates, one)
    at_cell = core.place_cells(core.centres[[7]])
    assert at_cell[0, 7] == pytest.approx(1.0) and at_cell.max() <= 1.0


def test_momentum_heading_and_step_length():
    env = make(platform=(30.0, 0.0))
    env.reset(seed=0, options={"start": "S"})
    x0, y0 = env.state["pos"][0]
    _, _, _, _, info = env.step(N)
    assert (info["x"], info["y"] - y0) == pytest.approx((0.0, 0.8 * 5.0))  # (1 - momentum) * speed
    _, _, _, _, info2 = env.step(N)
    assert info2["y"] - info["y"] == pytest.approx(5.0 * (1 - 0.2 ** 2))
    _, _, _, _, info3 = env.step(E)  # a turn: velocity 0.2 * v_north + 0.8 * 5 east
    assert info3["x"] == pytest.approx(4.0) and info3["y"] - info2["y"] == pytest.approx(0.2 * 4.8)


def test_wall_stops_the_rat_and_keeps_tangential_motion():
    env = make()
    env.reset(seed=0, options={"start": "N"})
    for _ in range(5):
        _, _, _, _, info = env.step(N)  # straight into the wall
        assert np.hypot(info["x"], info["y"]) <= 60.0 + 1e-9
    assert np.hypot(*env.state["vel"][0]) == pytest.approx(0.0, abs=1e-12)
    for _ in range(5):
        _, _, _, _, info = env.step(1)  # NE along the wall: slides east on it
    assert info["x"] > 5.0 and np.hypot(info["x"], info["y"]) == pytest.approx(60.0)


def test_straight_swim_reaches_the_platform_in_the_ideal_latency():
    env = make(platform=(30.0, 0.0))
    _, info = env.reset(seed=0, options={"start": "W"})
    assert info["ideal_latency"] == 17  # 80 cm to the edge; 5 cm steps after a momentum ramp from rest
    steps = swim(env, [E] * 200)
    _, r, term, trunc, info = steps[-1]
    assert term and not trunc and r == 1.0
    assert len(steps) == info["escape_latency"] == info["steps"] == 17
    assert all(s[1] == 0.0 for s in steps[:-1])
    assert np.hypot(info["x"] - 30.0, info["y"]) <= 10.0


def test_segment_test_catches_a_rat_that_jumps_over_the_platform():
    env = make(platform=(0.0, 0.0), speed=24.0, momentum=0.0)
    env.reset(seed=0, options={"start": "W"})
    xs = [s[4]["x"] for s in swim(env, [E] * 5)]
    assert xs[:2] == pytest.approx([-36.0, -12.0])
    assert len(xs) == 3 and xs[2] == pytest.approx(0.0)  # stopped on the platform, not at x = 12


def test_timeout_truncates_and_probe_trials_have_no_platform():
    env = make(platform=(30.0, 0.0), max_steps=30, probe_steps=50, probe_days=[2])
    env.reset(seed=0, options={"start": "W"})
    out = swim(env, [N, S] * 100)
    assert len(out) == 30 and out[-1][3] and not out[-1][2] and out[-1][4]["escape_latency"] == -1
    _, info = env.reset(options={"day": 2, "start": "W"})
    assert info["probe"] and info["day"] == 2 and info["trial"] == 1
    out = swim(env, [E] * 100)  # straight over where the platform was
    assert len(out) == 50 and out[-1][3] and not any(s[2] for s in out)
    assert sum(s[1] for s in out) == 0.0
    _, info = env.reset()
    assert not info["probe"] and info["trial"] == 2


def test_days_trials_and_starts_follow_the_protocol():
    env = make(trials_per_day=4)
    _, info = env.reset(seed=1)
    seen = [(info["day"], info["trial"], info["start"])]
    for _ in range(11):
        info = env.reset()[1]
        seen.append((info["day"], info["trial"], info["start"]))
    assert [(d, t) for d, t, _ in seen] == [(d, t) for d in (1, 2, 3) for t in (1, 2, 3, 4)]
    for day in (1, 2, 3):  # N, E, S, W once each per day
        assert sorted(s for d, _, s in seen if d == day) == [0, 1, 2, 3]
    assert len({tuple(s for d, _, s in seen if d == day) for day in (1, 2, 3)}) > 1
    # A seeded reset starts a new experiment; the same seed gives the same one.
    again = [env.reset(seed=1)[1]["start"]] + [env.reset()[1]["start"] for _ in range(3)]
    assert again == [s for d, _, s in seen if d == 1]


def test_reversal_moves_the_platform_to_the_opposite_quadrant():
    env = make(protocol="reversal", reversal_day=3, trials_per_day=2)
    _, info = env.reset(seed=0)
    first = (info["platform_x"], info["platform_y"])
    assert first == pytest.approx((60 / 2 / np.sqrt(2),) * 2)  # NE quadrant centre, R/2 from the middle
    plats = [(i["day"], i["platform_x"], i["platform_y"]) for i in
             [env.reset()[1] for _ in range(5)]]
    assert [d for d, _, _ in plats] == [1, 2, 2, 3, 3]
    for d, x, y in plats:
        assert (x, y) == pytest.approx(first if d < 3 else (-first[0], -first[1]))
    _, info = env.reset(options={"day": 1})  # jumping back restores the original platform
    assert (info["platform_x"], info["platform_y"]) == pytest.approx(first)


def test_dmp_draws_a_new_platform_each_day_and_keeps_it_within_the_day():
    env = make(protocol="dmp", trials_per_day=3)
    env.reset(seed=0)
    plats = [env.state["plat"][0].copy()]
    for _ in range(8):
        env.reset()
        plats.append(env.state["plat"][0].copy())
    days = [plats[i:i + 3] for i in (0, 3, 6)]
    for d in days:
        assert np.allclose(d[0], d[1]) and np.allclose(d[0], d[2])
        r = np.hypot(*d[0])
        assert 0.2 * 60 - 1e-9 <= r <= 0.7 * 60 + 1e-9
    assert not np.allclose(days[0][0], days[1][0]) and not np.allclose(days[1][0], days[2][0])


def test_reset_options_jump_and_reject_bad_values():
    env = make(trials_per_day=4)
    env.reset(seed=0)
    _, info = env.reset(options={"day": 9, "trial": 3, "start": "E"})
    assert (info["day"], info["trial"], info["start"], info["x"], info["y"]) == (9, 3, 1, 60.0, 0.0)
    for bad, word in [({"day": 0}, "day"), ({"trial": 2}, "day"), ({"day": 2, "trial": 5}, "trial"),
                      ({"start": "NE"}, "start"), ({"probe": 1}, "probe"), ({"speed": 3}, "unknown")]:
        with pytest.raises((ValueError, TypeError), match=word):
            env.reset(options=bad)


def test_vector_env_keeps_days_and_trials_per_env():
    envs = gym.make_vec("BrainSet/WaterMaze-v0", num_envs=3, vectorization_mode="vector_entry_point",
                        platform=(30.0, 0.0), trials_per_day=2)
    _, info = envs.reset(seed=0, options={"day": [1, 5, 7], "start": ["W", "W", "N"]})
    assert info["day"].tolist() == [1, 5, 7] and info["start"].tolist() == [3, 3, 0]
    for _ in range(17):  # envs 0 and 1 swim straight onto the platform; env 2 does not
        _, r, term, trunc, info = envs.step(np.array([E, E, N]))
    assert term.tolist() == [True, True, False] and r.tolist() == [1.0, 1.0, 0.0]
    _, _, _, _, info = envs.step(np.array([E, E, N]))  # the autoreset step
    assert info["trial"].tolist() == [2, 2, 1] and info["steps"].tolist() == [0, 0, 18]
    _, info = envs.reset(seed=0)
    assert info["day"].tolist() == [1, 1, 1] and info["trial"].tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="day"):
        envs.reset(options={"day": [1, 2]})


def test_position_observation_and_continuous_action():
    env = make(observation="position", action_type="continuous")
    assert env.action_space.shape == (2,) and env.observation_space.shape == (4,)
    obs, _ = env.reset(seed=0, options={"start": "S"})
    assert obs.tolist() == pytest.approx([0.0, -1.0, 0.0, 1.0])  # facing the centre
    obs, _, _, _, info = env.step(np.array([0.0, 3.0], np.float32))  # norm > 1: scaled to 1
    assert info["y"] == pytest.approx(-60.0 + 4.0) and obs[1] == pytest.approx((-60.0 + 4.0) / 60.0)
    obs, _, _, _, _ = env.step(np.array([0.5, 0.0], np.float32))
    assert obs.dtype == np.float32 and env.observation_space.contains(obs)
    assert np.hypot(obs[2], obs[3]) == pytest.approx(1.0) and obs[2] > 0


def test_view_rotates_with_heading_and_shows_parallax():
    core = WaterMazeCore(observation="view", view_width=64)
    s = core.new_state(2)
    s["pos"][:] = 0.0
    ang = np.deg2rad(10.0)
    s["head"][0] = (np.cos(ang), np.sin(ang))
    ang2 = ang - 2 * np.pi / 64  # one pixel to the right
    s["head"][1] = (np.cos(ang2), np.sin(ang2))
    v = core.observe(s)
    assert v.dtype == np.uint8 and v.shape == (2, 64) and len(np.unique(v[0])) >= 4
    assert np.mean(v[1][:-1] == v[0][1:]) > 0.9  # the strip shifts by one pixel
    # Near the white cue (60 deg) it covers more of the view than from the centre.
    s["pos"][1] = 0.9 * 60.0 * np.array([np.cos(np.deg2rad(60)), np.sin(np.deg2rad(60))])
    s["head"][1] = s["head"][0]
    v = core.observe(s)
    assert (v[1] == 255).sum() > (v[0] == 255).sum() > 0
    f = WaterMazeCore(observation="view", view_dtype="float32").observe(s)
    assert f.dtype == np.float32 and np.allclose(f, v / 255.0)


def test_render_draws_path_and_changes_nothing():
    env = make(render_mode="rgb_array")
    env.reset(seed=0)
    for a in [N] * 10:
        env.step(a)
    before = copy.deepcopy(env.state)
    rng_before = env.np_random.bit_generator.state
    frame = env.render()
    assert frame.shape == (376, 320, 3) and frame.dtype == np.uint8
    assert all(np.array_equal(before[k], env.state[k]) for k in before)
    assert env.np_random.bit_generator.state == rng_before
    # The swim path is drawn in yellow.
    yellow = (frame[..., 0] > 200) & (frame[..., 1] > 170) & (frame[..., 2] < 120)
    assert yellow.sum() > 20
    env.close()


def test_protocol_can_be_changed_through_reset_options():
    env = make(trials_per_day=1)
    _, info = env.reset(seed=0)
    home = (info["platform_x"], info["platform_y"])
    _, info = env.reset(options={"protocol": "reversal", "reversal_day": 3})
    assert info["day"] == 2 and (info["platform_x"], info["platform_y"]) == pytest.approx(home)
    _, info = env.reset()
    assert info["day"] == 3
    assert (info["platform_x"], info["platform_y"]) == pytest.approx((-home[0], -home[1]))
    _, info = env.reset(options={"protocol": "dmp", "probe_days": [5]})
    dmp = (info["platform_x"], info["platform_y"])
    assert dmp != pytest.approx(home) and dmp != pytest.approx((-home[0], -home[1]))
    _, info = env.reset()
    assert info["day"] == 5 and info["probe"]
    for bad, word in [({"protocol": "maze"}, "protocol"), ({"reversal_day": 1}, "reversal_day"),
                      ({"probe_days": 4}, "probe_days")]:
        with pytest.raises((ValueError, TypeError), match=word):
            env.reset(options=bad)
    assert env.unwrapped.core.protocol == "dmp"  # a rejected option changes nothing


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about WaterMaze.
CONFORMANCE = TaskTables(
    task="WaterMaze",
    bad_kwargs=[
        ({"pool_radius": -1.0}, "pool_radius"),
        ({"platform_radius": 40.0}, "platform_radius"),
        ({"speed": "fast"}, "speed"),
        ({"momentum": 1.0}, "momentum"),
        ({"max_steps": 0}, "max_steps"),
        ({"protocol": "random"}, "protocol"),
        ({"platform": "north"}, "platform"),
        ({"platform": (55.0, 0.0)}, "platform"),
        ({"observation": "pixels"}, "observation"),
        ({"action_type": "torque"}, "action_type"),
        ({"place_cell_width": 0.0}, "place_cell_width"),
        ({"probe_days": 3}, "probe_days"),
        ({"trials_per_day": 0}, "trials_per_day"),
    ],
    short_episodes={"max_steps": 15, "trials_per_day": 2},
    fast_path_variants=[{"action_type": "continuous", "platform": (20.0, -10.0)}, {"platform": (5.0, 5.0)}],
)
