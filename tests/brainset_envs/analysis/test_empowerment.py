"""Exact empowerment (tasks.md section 5 anchors), exploration metrics and reference policies."""

import numpy as np
import pytest

from brainset_envs.analysis import empowerment as emp
from brainset_envs.core.grid import compiled, open_room
from brainset_envs.core.layouts import get_layout

# --- anchors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [1, 2, 5])
def test_open_field_anchor(n):
    m = emp.empowerment_map(open_room(2 * n + 3), n)
    centre = m[n + 1, n + 1]
    assert centre == pytest.approx(np.log2(2 * n * n + 2 * n + 1), abs=1e-12)
    assert np.nanmax(m) == pytest.approx(centre)  # nowhere higher than far from walls


def test_ten_by_ten_room_at_n5():
    m = emp.empowerment_map("open", 5)
    assert m[0, 0] == pytest.approx(np.log2(21), abs=1e-12) and round(m[0, 0], 3) == 4.392
    assert m[0, 4] == pytest.approx(np.log2(35), abs=1e-12) and round(m[0, 4], 3) == 5.129
    corners = m[[0, 0, -1, -1], [0, -1, 0, -1]]
    assert np.all(corners == m.min()) and m[4:6, 4:6].min() == m.max()
    assert m[1:-1, 1:-1].min() > m[[0, -1]].mean()  # lower along walls


@pytest.mark.parametrize("n", [1, 2, 3])
def test_blahut_arimoto_on_full_sequence_channel_equals_count(n):
    g = compiled(get_layout("klyubin"))
    space = g.state_space()
    counts = emp.reachable_counts(space.next, n)
    for s in range(0, space.n_states, 7):
        rows = emp.channel_matrix(space.next, n, 0.0, s, dedupe=False)
        assert rows.shape[0] == 5 ** n
        cap, p = emp.blahut_arimoto(rows, tol=1e-9)
        assert abs(cap - np.log2(counts[s])) < 1e-4
        assert p.shape == (5 ** n,) and p.sum() == pytest.approx(1.0)


def test_blahut_arimoto_full_channel_n5_a_few_cells():
    g = compiled(open_room(10))
    space = g.state_space()
    for cell, want in ((0, 21), (4, 35), (44, int(emp.reachable_counts(space.next, 5)[44]))):
        rows = emp.channel_matrix(space.next, 5, 0.0, cell, dedupe=False)
        assert rows.shape == (3125, want)
        assert abs(emp.blahut_arimoto(rows, tol=1e-9)[0] - np.log2(want)) < 1e-4


def test_full_channel_rows_follow_sequence_order():
    g = compiled(open_room(5))
    space = g.state_space()
    centre = 12
    rows = emp.channel_matrix(space.next, 2, 0.0, centre, dedupe=False)
    loc = np.array(sorted(set(space.next[space.next[centre]].ravel())))
    for a1 in range(5):
        for a2 in range(5):
            end = space.next[space.next[centre, a1], a2]
            assert rows[a1 * 5 + a2, np.searchsorted(loc, end)] == 1.0


@pytest.mark.parametrize("p,want", [(0.1, 2.497), (0.3, 1.216), (0.0, 3.700)])
def test_noise_anchor_open_field_centre_n2(p, want):
    m = emp.empowerment_map(open_room(7), 2, noise=p)
    assert round(m[3, 3], 3) == want
    space = compiled(open_room(7)).state_space()
    rows = emp.channel_matrix(space.next, 2, p, 24)
    ba = emp.blahut_arimoto(rows, tol=1e-10)[0]
    lo, hi, _ = emp.channel_capacity(rows)
    assert lo <= hi + 1e-12 and hi - lo < 1e-9 and abs(lo - ba) < 1e-8


def test_channel_capacity_bounds_on_noisy_maze_channels():
    space = compiled(get_layout("klyubin")).state_space()
    for s in (0, 45, 99):
        rows = emp.channel_matrix(space.next, 3, 0.1, s, space.agent)
        assert len(rows) < 5 ** 3  # merged duplicate rows
        lo, hi, p = emp.channel_capacity(rows, tol=1e-9)
        assert 0 < hi - lo < 1e-8 or hi == pytest.approx(lo, abs=1e-9)
        ba = emp.blahut_arimoto(rows, tol=1e-6)[0]
        assert lo - 1e-9 <= hi and ba <= hi + 1e-9 and lo - ba < 1e-6
        full = emp.channel_matrix(space.next, 3, 0.1, s, space.agent, dedupe=False)
        assert abs(emp.channel_capacity(full)[0] - lo) < 1e-7  # merging rows keeps the capacity


def test_maze_empowerment_anti_correlates_with_mean_distance():
    g = compiled(get_layout("klyubin"))
    e = emp.empowerment_map(g, 5).ravel()
    mean_dist = g.distances().mean(1)
    r = np.corrcoef(e, mean_dist)[0, 1]
    assert r < -0.85


def test_cached_and_read_only():
    a = emp.empowerment_of_states("klyubin", 4)
    assert a is emp.empowerment_of_states(get_layout("klyubin"), 4)
    with pytest.raises(ValueError):
        a[0] = 1.0
    with pytest.raises(ValueError, match="sensor"):
        emp.empowerment_of_states("klyubin", 2, sensor="smell")


def test_box_room_empowerment_depends_on_boxes():
    g = compiled(get_layout("box_room"))
    lay = g.layout
    pos = emp.empowerment_map(g, 3)
    full = emp.empowerment_map(g, 3, sensor="state")
    free = np.isfinite(pos)
    assert np.isnan(pos.ravel()[list(lay.boxes)]).all()
    assert (full[free] >= pos[free]).all() and (full[free] > pos[free]).any()  # pushing changes the world
    plain = emp.empowerment_map(open_room(6), 3)
    cornered = emp.empowerment_map(g, 3, boxes=(0, 1))  # two boxes stuck in the top-left corner
    assert cornered[1, 0] == pytest.approx(np.log2(2 ** plain[1, 0] - 2))  # both box cells unreachable
    assert pos[5, 5] == pytest.approx(plain[5, 5])  # far from the boxes nothing changes


# --- exploration metrics and reference policies --------------------------------------------------------


def test_metrics_on_hand_made_trajectories():
    traj = np.array([0, 1, 1, 2, 3, 3, 3])
    assert emp.coverage(traj, 8) == 0.5
    assert emp.time_to_coverage(traj, 4, 0.9) == 4 and emp.time_to_coverage(traj, 8, 0.9) is None
    assert emp.visitation_entropy(np.arange(10), 10) == pytest.approx(1.0)
    assert emp.visitation_entropy(np.zeros(10, int), 10) == pytest.approx(0.0)


def test_count_based_covers_four_rooms_far_better_than_random():
    g = compiled(get_layout("four_rooms"))
    start = g.layout.cell(1, 1)
    res = {}
    for pol in ("random", "count"):
        traj = emp.run_reference_policy(g, pol, 1000, start, n_walkers=16, rng=0)
        m = [emp.exploration_metrics(t, g) for t in traj]
        res[pol] = (np.mean([x["coverage"] for x in m]), np.mean([x["entropy"] for x in m]))
    assert res["count"][0] > 0.98 and res["count"][1] > 0.97
    assert 0.55 < res["random"][0] < 0.85  # reference 0.71
    assert res["count"][0] - res["random"][0] > 0.15


def test_greedy_empowerment_settles_in_high_empowerment_cells():
    g = compiled(get_layout("four_rooms"))
    e3 = emp.empowerment_map(g, 3).ravel()
    top = e3 >= np.percentile(e3[g.free_cells], 90)
    traj = emp.run_reference_policy(g, "empowerment", 1000, (1, 1), n_walkers=16, rng=1, empowerment_n=3)
    assert top[traj[:, 500:]].mean() > 0.8
    assert np.mean([emp.coverage(t, 104) for t in traj]) < 0.3  # keeps its options open, does not cover


def test_reference_policy_arguments():
    with pytest.raises(ValueError, match="policy"):
        emp.run_reference_policy("open", "curious", 10, 0)
    with pytest.raises(ValueError, match="start"):
        emp.run_reference_policy("four_rooms", "random", 10, (0, 0))


# --- the environment -----------------------------------------------------------------------------------
























def test_save_empowerment_png(tmp_path):
    import matplotlib.image as mpimg

    from brainset_envs.analysis.empowerment_plot import save_empowerment_png

    path = save_empowerment_png(str(tmp_path / "maze.png"), "klyubin", 5, dpi=60)
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.std() > 0.05
    assert not list(tmp_path.glob("*.tmp*")) and len(list(tmp_path.iterdir())) == 1
