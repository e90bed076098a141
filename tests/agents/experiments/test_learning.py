"""Learning checks: the default trainer settings learn (fixed seeds, CPU, one thread).

Budgets and scorers live in :mod:`agents.experiments.learning_report` (``scripts/benchmark.py --learning`` runs the
same checks and records them); per-env defaults come from agents/configs/<Env>.yaml.
"""

import dataclasses

import pytest

from agents.experiments import learning_report as lr


def _run(name, **kw):
    res = lr.run_check(name, **kw)
    print(f"{name}: {res['metric']} {res['reached']:.3f} (untrained {res['untrained']:.3f}, target "
          f"{res['target_rule']}) after {res['steps']} steps in {res['train_seconds']:.1f} s; {res['details']}")
    return res


def test_orientation_easy_reaches_90_percent_with_default_settings():
    res = _run("orientation_easy")
    assert res["untrained"] < 0.65  # chance is 0.5
    assert res["reached"] >= 0.9 and res["ok"]  # 1000 fresh trials, not the ones that stopped training


def test_patch_foraging_reaches_80_percent_of_the_mvt_rate():
    res = _run("patch_foraging")
    d = res["details"]
    assert res["untrained"] < 0.8  # the untrained network leaves at once (0.73 rho*) or overstays
    assert res["reached"] >= 0.8 and res["ok"]  # reward rate over 128 fresh blocks / rho* of the condition
    assert d["rho_star"] == pytest.approx(2.2735, abs=1e-3)
    # the learned policy leaves where the MVT forager leaves (expected next reward at leaving)
    assert d["leave_threshold"] == pytest.approx(d["optimal_leave_threshold"], abs=1.0)


def test_patch_foraging_with_a_per_step_discount_leaves_too_early():
    """Without env.duration_key a journey (one step, ~10 on arrival) beats a harvest (one step, less):
    the agent learns to leave every tree at once, below 0.8 rho* (tasks.md: discounting matters)."""
    base = lr.CHECKS["patch_foraging"]
    lr.CHECKS["patch_foraging_per_step"] = dataclasses.replace(
        base, name="patch_foraging_per_step", budget=(*base.budget, "env.duration_key=''"))
    try:
        res = _run("patch_foraging_per_step")
    finally:
        del lr.CHECKS["patch_foraging_per_step"]
    assert res["reached"] < 0.8 and not res["ok"]
    assert res["details"]["harvests_per_patch"] < 2.0  # leaves after the arrival harvest


def test_water_maze_escape_latency_falls_by_more_than_half():
    res = _run("water_maze")
    d = res["details"]
    assert res["untrained"] >= 80  # the untrained greedy swimmer mostly times out (120 steps)
    assert res["reached"] <= 0.5 * res["untrained"] and res["ok"]
    assert d["escape_fraction"] == 1.0
    assert res["reached"] <= 1.5 * d["ideal_latency"]  # close to the straight swim (ground truth)


def test_cartpole_vector_observations_learn_with_default_settings():
    res = _run("cartpole")
    assert res["untrained"] < 100
    assert res["reached"] >= 195.0 and res["ok"]  # the classic 'solved' level; a random policy scores ~22


def test_empowerment_grid_with_a_goal_is_reached_in_most_episodes():
    res = _run("empowerment_goal")
    assert res["untrained"] < 0.8
    assert res["reached"] >= 0.8 and res["ok"]  # 100 fresh episodes from random start cells
