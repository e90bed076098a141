"""The grid-world core: layouts (text formats, packaged layouts), moves, thin walls, noise, boxes, views."""

from math import comb

import numpy as np
import pytest

from brainset_envs.core.grid import (
    N_MOVES,
    STAY,
    E,
    Grid,
    N,
    S,
    W,
    compiled,
    noisy_actions,
    open_room,
    parse_layout,
    parse_wall_list,
)
from brainset_envs.core.layouts import LAYOUT_NAMES, get_layout


def test_block_format_marks_and_errors():
    lay = parse_layout("""
        #####
        #S.G#
        #.BF#
        #..T#
        #####""")
    assert (lay.h, lay.w) == (5, 5)
    assert lay.rc(lay.start) == (1, 1) and lay.rc(lay.goal) == (1, 3) and lay.rc(lay.tv) == (3, 3)
    assert [lay.rc(b) for b in lay.boxes] == [(2, 2)] and [lay.rc(f) for f in lay.food] == [(2, 3)]
    assert len(lay.free_cells) == 9 and not lay.has_thin_walls
    with pytest.raises(ValueError, match="row 1 has 2 characters"):
        parse_layout("...\n..")
    with pytest.raises(ValueError, match="'x'"):
        parse_layout("..x")
    with pytest.raises(ValueError, match="2 start cells"):
        parse_layout("S.S")
    with pytest.raises(ValueError, match="empty"):
        parse_layout("   ")


def test_thin_wall_format_blocks_both_directions_and_round_trips():
    lay = parse_layout("""
        +-+-+-+
        |S .|G|
        + +-+ +
        |. . .|
        +-+-+-+""")
    g = Grid(lay)
    c = lay.cell
    assert g.next[c(0, 1), E] == c(0, 1) and g.next[c(0, 2), W] == c(0, 2)  # '|' between (0,1), (0,2)
    assert g.next[c(0, 1), S] == c(0, 1) and g.next[c(1, 1), N] == c(1, 1)  # '-' under (0,1)
    assert g.next[c(0, 0), S] == c(1, 0) and g.next[c(0, 2), S] == c(1, 2)  # open edges
    assert parse_layout(lay.to_text()).key == lay.key
    assert "|" in lay.to_text() and lay.has_thin_walls


def test_next_table_edges_blocked_cells_and_stay():
    g = Grid(parse_layout(".#.\n...\n..."))
    c = g.layout.cell
    assert g.next[c(0, 0), N] == c(0, 0) and g.next[c(0, 0), W] == c(0, 0)  # off the grid
    assert g.next[c(0, 0), E] == c(0, 0)  # into the blocked cell
    assert g.next[c(1, 1), N] == c(1, 1)
    assert g.next[c(1, 1), S] == c(2, 1) and g.next[c(1, 1), E] == c(1, 2) and g.next[c(1, 1), W] == c(1, 0)
    assert np.array_equal(g.next[:, STAY], np.arange(9))
    assert g.next.shape == (9, N_MOVES)


def test_klyubin_maze_is_packaged_and_parsed_with_north_up():
    lay = get_layout("klyubin")
    assert (lay.h, lay.w) == (10, 10) and len(lay.free_cells) == 100
    from importlib import resources

    text = resources.files("brainset_envs").joinpath("layouts", "klyubin_maze.txt").read_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(lines) == 22  # every wall line of the file is one distinct interior wall
    assert lay.walls[..., E].sum() + lay.walls[..., S].sum() == 22
    g = compiled(lay)
    # file "1 0 N": wall between file rows 1 and 2 in column 0 -> internal rows 8 and 7 (row 0 = top)
    assert g.next[lay.cell(8, 0), N] == lay.cell(8, 0)
    assert g.next[lay.cell(7, 0), S] == lay.cell(7, 0)
    assert g.next[lay.cell(9, 0), N] == lay.cell(8, 0)  # file row 0 -> 1 is open


def test_wall_list_errors_name_the_line():
    with pytest.raises(ValueError, match="line 1"):
        parse_wall_list("1 2 Q", 5, 5)
    with pytest.raises(ValueError, match="outside"):
        parse_wall_list("7 2 N", 5, 5)


@pytest.mark.parametrize("name,free", [("four_rooms", 104), ("four_rooms_21", 328), ("klyubin", 100),
                                       ("doorways", 99), ("box_room", 36)])
def test_packaged_layouts(name, free):
    lay = get_layout(name)
    assert len(lay.free_cells) == free
    assert name in LAYOUT_NAMES
    dist = compiled(lay).distances()
    assert (dist[lay.free_cells][:, lay.free_cells] >= 0).all(), "every free cell reachable"


def test_get_layout_arguments():
    assert get_layout("open", 7).n_cells == 49 and get_layout("open", [3, 5]).w == 5
    assert get_layout("open").n_cells == 100
    assert get_layout("#.\n..").blocked[0, 0]
    with pytest.raises(ValueError, match="layout='moon'"):
        get_layout("moon")
    with pytest.raises(ValueError, match="size"):
        get_layout("klyubin", 5)
    with pytest.raises(ValueError, match="size"):
        get_layout("open", 0)
    with pytest.raises(TypeError, match="layout"):
        get_layout(3)


def test_noisy_actions_replace_with_the_other_four_uniformly():
    rng = np.random.default_rng(0)
    a = np.full(200_000, 2)
    assert np.array_equal(noisy_actions(a, 0.0, rng), a)
    out = noisy_actions(a, 1.0, rng)
    counts = np.bincount(out, minlength=5)
    assert counts[2] == 0
    assert np.allclose(counts[[0, 1, 3, 4]] / len(a), 0.25, atol=0.005)
    out = noisy_actions(a, 0.3, rng)
    assert abs((out != 2).mean() - 0.3) < 0.005
    tv = np.full(1000, 5)  # actions beyond the five moves are never replaced
    assert np.array_equal(noisy_actions(tv, 1.0, rng), tv)


def test_boxes_are_pushed_unless_blocked():
    lay = parse_layout("....\n.B..\n....\n.BB.")
    g = Grid(lay)
    c = lay.cell
    occ = np.zeros((3, lay.n_cells), bool)
    occ[:, list(lay.boxes)] = True
    cell = np.array([c(1, 0), c(0, 1), c(3, 0)])
    act = np.array([E, S, E])  # push (1,1) east; push (1,1) south onto... (2,1) free; push a row of 2
    new = g.push(cell, act, occ)
    assert new[0] == c(1, 1) and occ[0, c(1, 2)] and not occ[0, c(1, 1)]
    assert new[1] == c(1, 1) and occ[1, c(2, 1)]
    assert new[2] == c(3, 0) and occ[2, c(3, 1)] and occ[2, c(3, 2)]  # two boxes: nobody moves
    edge = np.zeros((1, lay.n_cells), bool)
    edge[0, c(0, 3)] = True
    assert g.push(np.array([c(0, 2)]), np.array([E]), edge)[0] == c(0, 2)  # box against the border


def test_box_state_space_enumerates_every_configuration():
    g = compiled(get_layout("box_room"))
    space = g.state_space()
    assert space.n_states == comb(36, 2) * 34
    # the table agrees with the batched push for a sample of states
    rng = np.random.default_rng(0)
    ids = rng.integers(0, space.n_states, 300)
    for a in range(N_MOVES):
        occ = np.zeros((len(ids), g.n_cells), bool)
        np.put_along_axis(occ, space.boxes[ids], True, axis=1)
        cell = g.push(space.agent[ids].copy(), np.full(len(ids), a), occ)
        boxes = (np.flatnonzero(occ) % g.n_cells).reshape(len(ids), 2)
        assert np.array_equal(space.index(cell, boxes), space.next[ids, a])


def test_views_show_outside_and_walls():
    g = compiled(get_layout("klyubin"))
    k = 3
    view = g.static_view(k).reshape(g.n_cells, k, k, -1)
    assert g.static_channels() == ("blocked", "wall_N", "wall_S", "wall_E", "wall_W")
    corner = view[0]  # top-left cell: the row above and the column left are outside
    assert corner[0, :, 0].all() and corner[:, 0, 0].all() and corner[1, 1, 0] == 0
    lay = g.layout
    c = lay.cell(8, 0)  # wall on its north side
    assert view[c, 1, 1, 1] == 1.0 and view[lay.cell(7, 0), 1, 1, 2] == 1.0
    idx = g.view_index(5)
    assert idx.shape == (100, 25) and idx[lay.cell(5, 5), 12] == lay.cell(5, 5)


def test_shortest_paths_and_first_steps():
    g = compiled(get_layout("four_rooms"))
    lay = g.layout
    dist = g.distances()
    a, b = lay.cell(1, 1), lay.cell(11, 11)
    assert dist[a, b] == 20  # corner to opposite corner through two doorways
    cell, n = a, 0
    while cell != b:
        cell = g.next[cell, g.step_towards(np.array([cell]), np.array([b]))[0]]
        n += 1
        assert n <= 20
    assert n == dist[a, b]
    assert g.step_towards(np.array([a]), np.array([a]))[0] == STAY
    assert g.reachable_from(a).sum() == 104 and not g.reachable_from(a)[0]


def test_open_room_and_compiled_cache():
    lay = open_room(4, 6)
    assert (lay.h, lay.w) == (4, 6) and compiled(lay) is compiled(open_room(4, 6))
    with pytest.raises(ValueError, match="positive"):
        open_room(0)
