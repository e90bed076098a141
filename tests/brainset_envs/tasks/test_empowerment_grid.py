"""EmpowermentGrid-v0 as an env: its info, noise, goals, observation modes, boxes, layouts, rendering."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis import empowerment as emp
from brainset_envs.core.grid import STAY, E, N, S, W, open_room
from tests.brainset_envs.task_tables import TaskTables


def test_env_info_reports_true_empowerment_and_position():
    env = gym.make("BrainSet/EmpowermentKlyubinMaze-v0")
    _, info = env.reset(seed=3)
    m = env.unwrapped.true_empowerment()
    assert m.shape == (10, 10)
    for a in [N, E, E, S, W, STAY] * 5:
        _, r, term, trunc, info = env.step(a)
        assert r == 0.0 and not term
        assert info["empowerment"] == pytest.approx(m[info["row"], info["col"]])
    assert env.unwrapped.true_empowerment(2) == pytest.approx(emp.empowerment_map("klyubin", 2), nan_ok=True)


def test_noisy_env_reports_blahut_arimoto_empowerment():
    env = gym.make("BrainSet/EmpowermentGrid-v0", size=5, noise=0.1, empowerment_n=2)
    env.reset(seed=0)
    want = emp.empowerment_map(open_room(5), 2, noise=0.1)
    for a in range(12):
        _, _, _, _, info = env.step(a % 5)
        assert info["empowerment"] == pytest.approx(want[info["row"], info["col"]], abs=1e-6)


def test_noise_moves_the_agent_off_course():
    env = gym.make("BrainSet/EmpowermentGrid-v0", size=9, noise=0.5, start=[4, 4], max_steps=1000,
                   empowerment_n=1)
    env.reset(seed=0)
    off = 0
    for _ in range(400):
        r0 = env.unwrapped.state["cell"][0]
        _, _, _, trunc, info = env.step(STAY)
        off += info["row"] * 9 + info["col"] != r0
        if trunc:
            break
    assert 0.35 < off / 400 < 0.65  # 0.5 replaced, always by a move; none blocked at most cells


def test_goal_gives_reward_and_terminates():
    env = gym.make("BrainSet/EmpowermentGrid-v0", size=4, start=[0, 0], goal=[0, 2])
    env.reset(seed=0)
    _, r, term, _, _ = env.step(E)
    assert r == 0.0 and not term
    _, r, term, _, _ = env.step(E)
    assert r == 1.0 and term


def test_truncation_at_max_steps():
    env = gym.make("BrainSet/EmpowermentGrid-v0", max_steps=7)
    env.reset(seed=0)
    ends = [env.step(STAY)[3] for _ in range(7)]
    assert ends == [False] * 6 + [True]


def test_observation_modes():
    lay = "#####\n#S.B#\n#...#\n#####"
    for obs, shape in (("onehot", (40,)), ("coords", (4,)), ("view", (3, 3, 2)), ("pixels", (32, 40, 3))):
        env = gym.make("BrainSet/EmpowermentGrid-v0", layout=lay, observation=obs, view_size=3,
                       pixels_per_cell=8)
        o, _ = env.reset(seed=0)
        assert o.shape == shape and env.observation_space.contains(o)
        o2 = env.step(E)[0]
        if obs == "onehot":
            assert o[6] == 1.0 and o[20 + 8] == 1.0 and o2[7] == 1.0  # agent (1,2); box (1,3) unmoved
        if obs == "coords":
            assert np.allclose(o2, [1 / 3, 2 / 4, 1 / 3, 3 / 4])
        if obs == "view":
            assert env.unwrapped.core.view_channels == ("blocked", "box")
            assert o2[1, 2, 1] == 1.0 and o2[0, :, 0].all()  # box east of the agent; wall row above
        if obs == "pixels":
            assert tuple(o2[12, 20]) == (220, 45, 45)  # agent in cell (1, 2)


def test_box_push_through_env():
    env = gym.make("BrainSet/EmpowermentGrid-v0", layout="...\n.B.\n...", start=[1, 0])
    env.reset(seed=0)
    _, _, _, _, info = env.step(E)
    assert (info["row"], info["col"]) == (1, 1)
    assert env.unwrapped.state["occ"][0].nonzero()[0].tolist() == [5]
    _, _, _, _, info = env.step(E)  # box against the border: stuck
    assert (info["row"], info["col"]) == (1, 1)
    m = env.unwrapped.true_empowerment()
    assert np.isnan(m[1, 2]) and info["empowerment"] == pytest.approx(m[1, 1])
    assert env.unwrapped.true_empowerment(1)[1, 1] == pytest.approx(2.0)  # E blocked by the stuck box


def test_noisy_tv_action_and_cell():
    env = gym.make("BrainSet/EmpowermentGrid-v0", noisy_tv="action", tv_dim=3, start=[5, 5])
    assert env.action_space.n == 6
    o, _ = env.reset(seed=0)
    assert o.shape == (103,) and not o[100:].any()
    o, _, _, _, info = env.step(5)
    assert o[:100].argmax() == 55 and o[100:].min() > 0 and env.observation_space.contains(o)
    o2, *_ = env.step(5)
    assert not np.array_equal(o[100:], o2[100:])
    o3, *_ = env.step(STAY)
    assert not o3[100:].any()
    env = gym.make("BrainSet/EmpowermentGrid-v0", noisy_tv="cell", tv_cell=[0, 1], start=[0, 0])
    env.reset(seed=0)
    assert env.step(E)[0][100:].min() > 0 and not env.step(W)[0][100:].any()


def test_user_layout_in_a_few_lines():
    env = gym.make("BrainSet/EmpowermentGrid-v0", layout="""
        +-+-+-+
        |S .|.|
        + +-+ +
        |. . .|
        +-+-+-+""")
    _, info = env.reset(seed=0)
    assert (info["row"], info["col"]) == (0, 0)
    assert env.step(E)[4]["col"] == 1 and env.step(E)[4]["col"] == 1  # thin wall


def test_render_heatmaps_and_draw_is_pure():
    frames = {}
    for heat in (None, "empowerment", "visits"):
        env = gym.make("BrainSet/EmpowermentKlyubinMaze-v0", render_mode="rgb_array", render_heatmap=heat)
        env.reset(seed=0)
        for a in (N, N, E):
            env.step(a)
        before = {k: v.copy() for k, v in env.unwrapped.state.items()}
        frames[heat] = env.render()
        after = env.unwrapped.state
        assert all(np.array_equal(before[k], after[k]) for k in before)
        env.close()
    assert frames[None].shape == frames["empowerment"].shape
    assert not np.array_equal(frames[None], frames["empowerment"])
    assert not np.array_equal(frames["empowerment"], frames["visits"])


def test_vector_env_matches_single_env_with_noise_and_boxes():
    kw = {"layout": "box_room", "noise": 0.2, "empowerment_n": 2}
    single = gym.make("BrainSet/EmpowermentGrid-v0", **kw)
    vec = gym.make_vec("BrainSet/EmpowermentGrid-v0", num_envs=1, vectorization_mode="vector_entry_point",
                       **kw)
    o1, _ = single.reset(seed=5)
    o2, _ = vec.reset(seed=5)
    rng = np.random.default_rng(0)
    for _ in range(60):
        a = int(rng.integers(0, 5))
        o1, _, _, _, i1 = single.step(a)
        o2, _, _, _, i2 = vec.step(np.array([a]))
        assert np.array_equal(o1, o2[0]) and i1["empowerment"] == pytest.approx(i2["empowerment"][0])


# What the registry-wide tests (tests/brainset_envs/test_conformance.py) need to know about EmpowermentGrid.
CONFORMANCE = TaskTables(
    task="EmpowermentGrid",
    bad_kwargs=[
        ({"layout": "moon"}, "layout"),
        ({"layout": "#.\n#"}, "layout row"),
        ({"size": [0, 5]}, "size"),
        ({"observation": "smell"}, "observation"),
        ({"noise": 1.5}, "noise"),
        ({"view_size": 4}, "view_size"),
        ({"start": [0, 99]}, "start"),
        ({"goal": "corner"}, "goal"),
        ({"max_steps": 0}, "max_steps"),
        ({"noisy_tv": "radio"}, "noisy_tv"),
        ({"noisy_tv": "cell"}, "tv_cell"),
        ({"render_heatmap": "rainbow"}, "render_heatmap"),
    ],
    short_episodes={"max_steps": 12},
)
