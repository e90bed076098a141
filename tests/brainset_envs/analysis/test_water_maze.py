"""Navigation analysis: ideal latency, path length, quadrant occupancy, trials rebuilt from env infos."""

import numpy as np
import pytest

from brainset_envs.analysis.water_maze import (
    QUADRANTS,
    ideal_latency,
    latency_per_day,
    latency_table,
    path_length,
    probe_quadrant_times,
    quadrant_occupancy,
    trials_from_infos,
)
from brainset_envs.tasks.water_maze import WaterMazeEnv


@pytest.mark.parametrize("momentum", [0.0, 0.2, 0.7])
def test_ideal_latency_matches_a_simulated_straight_swim(momentum):
    for dist in [5.0, 10.0, 10.5, 37.0, 84.3, 110.0]:
        covered, v, steps = 0.0, 0.0, 0
        while covered < dist - 10.0 - 1e-9:
            v = momentum * v + (1 - momentum) * 5.0
            covered += v
            steps += 1
        assert ideal_latency(dist, 10.0, 5.0, momentum) == steps
    assert ideal_latency(np.array([0.0, 30.0]), 10.0, 5.0, 0.0).tolist() == [0, 4]


def test_path_length_and_quadrants():
    assert path_length(np.array([[0, 0], [3, 4], [3, 0]])) == pytest.approx(9.0)
    assert path_length(np.zeros((1, 2))) == 0.0
    with pytest.raises(ValueError, match="shape"):
        path_length(np.zeros(5))
    plat = (20.0, 20.0)  # NE
    pts = np.array([[10, 10], [10, 11], [-10, 10], [-10, -10], [10, -10]], float)
    occ = quadrant_occupancy(pts, plat)
    assert QUADRANTS == ("target", "adjacent_ccw", "opposite", "adjacent_cw")
    assert occ.tolist() == pytest.approx([0.4, 0.2, 0.2, 0.2])
    # Quadrants turn with the platform: with the platform in the west, the west point is the target.
    assert quadrant_occupancy(np.array([[-5.0, 0.0]]), (-30.0, 0.0)).tolist() == [1, 0, 0, 0]


def test_trials_rebuilt_from_env_infos():
    env = WaterMazeEnv(platform=(30.0, 0.0), trials_per_day=2, probe_days=[2], probe_steps=40)
    obs, info = env.reset(seed=0, options={"start": "W"})
    infos = [info]
    plan = [("W", 0), ("N", 6), ("W", 0)]  # trial 1 finds it; trial 2 times out going south; probe
    for k, (_, heading) in enumerate(plan):
        while True:
            obs, r, term, trunc, info = env.step(heading)
            infos.append(info)
            if term or trunc:
                break
        if k + 1 < len(plan):
            infos.append(env.reset(options={"start": plan[k + 1][0]})[1])
    trials = trials_from_infos(infos)
    assert [(t.day, t.trial, t.probe) for t in trials] == [(1, 1, False), (1, 2, False), (2, 1, True)]
    assert trials[0].escape_latency == trials[0].latency == trials[0].steps == 17
    assert trials[0].ideal_latency == 17
    assert trials[1].escape_latency == -1 and trials[1].latency == 120
    assert trials[2].steps == 40 and trials[2].escape_latency == -1
    xs = [i["x"] for i in infos[:18]]
    assert trials[0].path_length == pytest.approx(xs[-1] - xs[0])
    assert latency_per_day(trials) == {1: pytest.approx((17 + 120) / 2)}
    assert latency_per_day(trials, include_probes=True)[2] == 40
    occ = probe_quadrant_times(trials)
    assert occ.shape == (1, 4) and occ.sum() == pytest.approx(1.0)
    # The probe swim goes W -> E along the axis through the platform: opposite first, then target.
    assert occ[0, 2] > 0.3 and occ[0, 0] > 0.2 and occ[0, 1] + occ[0, 3] < 0.1
    with pytest.raises(ValueError, match="reset"):
        trials_from_infos(infos[1:])


def test_latency_table():
    lat = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    assert latency_table(lat).tolist() == pytest.approx([7.5, 11.5, 15.5])  # (1.5 + 13.5) / 2, ...
    with pytest.raises(ValueError, match="rats, days"):
        latency_table(np.zeros((3, 4)))
