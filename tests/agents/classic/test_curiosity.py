"""Tabular curiosity (agents.classic.curiosity): the textbook rules, the coverage check of the intrinsic
motivation issue (21 x 21 four rooms, 3000 steps, >= 1.3x the cells of a random walk) and the failure
of zero-initialised values."""

import json

import numpy as np
import pytest

from agents.classic.curiosity import ExploreConfig, TabularCuriosity, explore, save_exploration
from agents.experiments.checks import CHECKS, random_walk_coverage
from tests import ROOT


def test_q_learning_and_the_bonuses_follow_the_textbook_rules():
    rng = np.random.default_rng(0)
    ag = TabularCuriosity(1, 4, 2, obs_dim=4, gamma=0.5, alpha=0.5, q_init=1.0, model_lr=0.5, rng=rng)
    s, a, s2, yes = np.array([0]), np.array([1]), np.array([2]), np.array([True])
    ag.q[0, 2] = [3.0, 5.0]
    delta = ag.update(s, a, np.array([2.0]), s2, np.array([False]), yes)
    assert delta[0] == pytest.approx(2.0 + 0.5 * 5.0 - 1.0)
    assert ag.q[0, 0, 1] == pytest.approx(1.0 + 0.5 * delta[0])
    assert ag.update(s, a, np.array([2.0]), s2, np.array([True]), np.array([False]))[0] == 0.0  # not learning
    before = ag.q[0, 0, 1]
    assert ag.update(s, a, np.array([0.0]), s2, np.array([True]), yes)[0] == pytest.approx(-before)  # no bootstrap
    # prediction error of a repeated transition: the error shrinks by (1 - model_lr) per visit
    obs = np.eye(4)[[2]]
    first = ag.bonus(s, a, obs, yes)[0]
    assert first == pytest.approx(float(((obs @ ag.projection) ** 2).sum()))
    assert ag.bonus(s, a, obs, yes)[0] == pytest.approx(first * 0.25)
    # the count bonus is 1 / sqrt(visits)
    cnt = TabularCuriosity(1, 4, 2, obs_dim=4, bonus="count", rng=0)
    assert [cnt.bonus(s, a, obs, yes)[0] for _ in range(4)] == pytest.approx([1, 2 ** -0.5, 3 ** -0.5, 0.5])
    assert cnt.bonus(s, a, obs, np.array([False]))[0] == 0.0 and cnt.counts[0, 0, 1] == 4


def test_default_optimism_and_random_tie_breaking():
    ag = TabularCuriosity(3, 5, 4, obs_dim=5, gamma=0.9, rng=0)
    assert np.all(ag.q == pytest.approx(20.0))  # 2 / (1 - gamma)
    rng = np.random.default_rng(1)
    picks = np.concatenate([ag.act(np.zeros(3, np.intp), rng) for _ in range(200)])
    assert set(picks.tolist()) == {0, 1, 2, 3}  # equal values: any of them
    ag.q[:, 0, 2] += 1.0
    assert np.all(ag.act(np.zeros(3, np.intp), rng) == 2)  # greedy


def test_optimistic_curiosity_visits_1_3x_the_cells_of_a_random_walk():
    """The issue's check: 21 x 21 four rooms (328 cells), no extrinsic reward, 3000 steps from a corner.
    Measured (16 walkers, seed 0): prediction-error curiosity 0.956, count bonus 0.962, random walk 0.669
    (1.43x; the references: 90%, 97% and 62%)."""
    random_walk = random_walk_coverage()
    curious = explore(ExploreConfig(seed=0))
    count = explore(ExploreConfig(seed=0, bonus="count"))
    print(f"coverage: curiosity {curious.coverage().mean():.3f}, count {count.coverage().mean():.3f}, "
          f"random walk {random_walk:.3f}")
    assert 0.6 < random_walk < 0.72
    assert curious.n_reachable == 328 and curious.cells.shape == (16, 3001)
    check = CHECKS["tabular_curiosity_coverage"]  # the audited figures and limits (assets/robustness.md)
    figures = {"prediction_ratio_to_random_walk": curious.coverage().mean() / random_walk,
               "count_ratio_to_random_walk": count.coverage().mean() / random_walk}
    assert not check.failures(figures), check.failures(figures)
    # the bonus of a state visited 10+ times is below half that of a novel state (few cells get 50 visits in
    # one 3000-step lifetime here; the 50-visit check of the deep agents is in
    # tests/agents/objectives/test_predictive.py)
    novel, familiar = [], []
    for cells, bonus in zip(curious.cells, curious.bonuses, strict=True):
        visits = np.zeros(curious.agent.n_states, int)
        for s, r in zip(cells[:-1], bonus, strict=True):
            (novel if visits[s] == 0 else familiar if visits[s] >= 10 else []).append(r)
            visits[s] += 1
    print(f"bonus: novel states {np.mean(novel):.3f}, states visited 10+ times {np.mean(familiar):.4f}")
    assert len(familiar) > 100 and np.mean(familiar) < 0.5 * np.mean(novel)


def test_zero_initialised_values_under_explore(audit):
    """agents.md: tabular curiosity with non-negative bonuses and zero-initialised values under-explores.
    Measured: 0.045 of the cells (it keeps repeating the first rewarded actions) vs 0.956 with optimism."""
    greedy = explore(ExploreConfig(seed=audit.seed(0), q_init=0.0))
    ratio = greedy.coverage().mean() / random_walk_coverage()
    audit.check("tabular_zero_init_coverage", {"ratio_to_random_walk": ratio})


def test_exploration_is_reproducible_and_checks_its_arguments(tmp_path):
    cfg = dict(n_agents=3, steps=200, env_kwargs={"layout": "open", "size": 6, "start": [0, 0]})
    a, b = explore(ExploreConfig(seed=4, **cfg)), explore(ExploreConfig(seed=4, **cfg))
    assert np.array_equal(a.cells, b.cells) and np.array_equal(a.actions, b.actions)
    assert not np.array_equal(a.cells, explore(ExploreConfig(seed=5, **cfg)).cells)
    assert a.n_reachable == 36 and a.coverage().max() <= 1.0
    for bad, word in (({"bonus": "surprise"}, "bonus"), ({"gamma": 1.0}, "gamma"), ({"alpha": 0.0}, "alpha"),
                      ({"n_agents": 0}, "n_agents"), ({"steps": -1}, "steps")):
        with pytest.raises(ValueError, match=word):
            explore(ExploreConfig(**{**cfg, **bad}))
    with pytest.raises(ValueError, match="observation"):
        explore(ExploreConfig(n_agents=1, steps=5, env_kwargs={"observation": "pixels"}))
    paths = save_exploration(a, tmp_path, reference_walkers=5)
    data = json.loads(paths[0].read_text())
    assert data["coverage"] == a.coverage().round(4).tolist()
    assert data["ratio_to_random_walk"] == pytest.approx(data["coverage_mean"] / data["random_walk_coverage_mean"],
                                                         abs=2e-3)
    assert paths[1].stat().st_size > 10_000


def test_explore_script(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("explore_script", ROOT / "scripts/explore.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--walkers", "2", "--steps", "100", "--layout", "open", "--size", "5", "--start", "0", "0",
              "--bonus", "count", "--out", str(tmp_path)])
    data = json.loads((tmp_path / "explore.json").read_text())
    assert data["config"]["bonus"] == "count" and len(data["coverage"]) == 2
    with pytest.raises(SystemExit):
        mod.main(["--walkers", "0", "--out", str(tmp_path)])
