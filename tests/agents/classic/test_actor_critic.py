"""The Foster, Morris & Dayan (2000) place-cell actor-critic: TD updates, learning, inflexibility."""

import json
import os

import numpy as np
import pytest

from agents.classic.actor_critic import (
    FMDConfig,
    PlaceCellActorCritic,
    plot_latency,
    probe_occupancy,
    render_trial,
    train,
)


def test_td_update_follows_the_textbook_rule():
    ac = PlaceCellActorCritic(2, 3, 4, gamma=0.9, critic_lr=0.1, actor_lr=0.5, beta=2.0)
    ac.w[:] = [[1.0, 0.0, 0.0], [0.0, 2.0, 0.0]]
    f = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.0]])
    f2 = np.array([[0.0, 0.0, 1.0], [0.0, 0.5, 0.0]])
    delta = ac.update(f, np.array([3, 1]), np.array([0.0, 1.0]), f2, np.array([False, True]),
                      np.array([True, True]))
    # Rat 0: 0 + 0.9 * V(f2) - V(f) = 0.9 * 0 - 1 = -1; rat 1 (terminal): 1 + 0 - 2 = -1.
    assert delta.tolist() == pytest.approx([-1.0, -1.0])
    assert ac.w[0].tolist() == pytest.approx([1.0 - 0.1, -0.05, 0.0])
    assert ac.z[0, 3].tolist() == pytest.approx([-0.5, -0.25, 0.0])
    assert np.count_nonzero(ac.z[0]) == 2 and np.count_nonzero(ac.z[1]) == 1  # only the chosen heading
    before = (ac.w.copy(), ac.z.copy())
    ac.update(f, np.array([0, 0]), np.ones(2), f2, np.zeros(2, bool), np.array([False, False]))
    assert np.array_equal(before[0], ac.w) and np.array_equal(before[1], ac.z)


def test_softmax_policy():
    ac = PlaceCellActorCritic(1, 2, 8, beta=8.0)
    f = np.array([[1.0, 0.0]])
    assert ac.probabilities(f)[0] == pytest.approx(np.full(8, 1 / 8))
    ac.z[0, 5, 0] = 2.0  # beta * 2 = 16 nats above the others
    rng = np.random.default_rng(0)
    acts = [int(ac.act(f, rng)[0]) for _ in range(200)]
    assert acts.count(5) >= 199


def test_learns_the_platform_then_is_inflexible_after_reversal(audit):
    """tasks.md section 4: latency falls to <= 30% of day 1 by day 10 (reference 99 -> 17 steps), and
    after the platform moves to the opposite quadrant the next day is >= 3x the day before (16.5 ->
    113.5)."""
    result = train(FMDConfig(n_rats=40, days=13, reversal_day=13, seed=audit.seed(0)), snapshot_days=(1, 12))
    d = result.per_day
    assert result.latencies.shape == (40, 13, 4)
    per_rat = result.latencies.mean(axis=2)
    # Probe trial (platform removed) from the south: trained rats search the platform's quadrant.
    late = probe_occupancy(result, day=12, start="S", weights_day=12).mean(axis=0)
    early = probe_occupancy(result, day=12, start="S", weights_day=1).mean(axis=0)
    assert late[0] == late.max(), (late, early)
    audit.check("watermaze_actor_critic", {
        "day1_latency": d[0],  # day 1: untrained rats mostly time out (120 steps)
        "day10_over_day1": d[9] / d[0],
        "reversal_over_day_before": d[12] / d[11],
        "fraction_of_rats_improved": float(np.mean(per_rat[:, 9] < per_rat[:, 0])),  # every rat, not the mean
        "probe_quadrant_share": late[0],
        "probe_share_minus_twice_early": late[0] - 2 * early[0],
    })


def test_training_is_reproducible_and_snapshots_weights():
    a = train(FMDConfig(n_rats=3, days=2, reversal_day=None, seed=5), snapshot_days=(1,))
    b = train(FMDConfig(n_rats=3, days=2, reversal_day=None, seed=5))
    assert np.array_equal(a.latencies, b.latencies) and np.array_equal(a.agent.w, b.agent.w)
    w1, z1 = a.snapshots[1]
    assert w1.shape == a.agent.w.shape and np.any(w1 != 0) and not np.array_equal(w1, a.agent.w)
    c = train(FMDConfig(n_rats=3, days=2, reversal_day=None, seed=6))
    assert not np.array_equal(a.latencies, c.latencies)


def test_plot_trial_image_and_script(tmp_path):
    result = train(FMDConfig(n_rats=2, days=3, reversal_day=3, seed=0), snapshot_days=(2,))
    png = tmp_path / "lat.png"
    plot_latency(result, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    frame = render_trial(result, rat=1, day=3, start="N", weights_day=2)
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.std() > 1
    from scripts.watermaze_fmd import main

    run = main(["--rats", "2", "--days", "2", "--reversal-day", "2", "--out", str(tmp_path / "runs")])
    assert sorted(os.listdir(run)) == ["command.txt", "latency.png", "results.json", "trials.png"]
    res = json.loads((tmp_path / "runs" / os.path.basename(run) / "results.json").read_text())
    assert len(res["latency_per_day"]) == 2 and np.array(res["latencies"]).shape == (2, 2, 4)
    assert res["config"]["reversal_day"] == 2
