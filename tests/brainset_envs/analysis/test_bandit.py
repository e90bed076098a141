"""Bandit ground truth: exact Bayes-optimal values, brute force, Thompson/UCB references."""

from fractions import Fraction

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.bandit import (
    bayes_optimal,
    brute_force_value,
    enumerate_policies_value,
    expected_max_p,
    run_policy,
    simulate_regret,
    thompson_regret,
    ucb_regret,
)

# Worked by hand (see the derivation in the test below): Bayes-optimal expected total reward for 2 arms.
HAND_VALUES = {
    (False, 1): Fraction(1, 2), (False, 2): Fraction(13, 12), (False, 3): Fraction(5, 3),
    (True, 1): Fraction(1, 2), (True, 2): Fraction(7, 6), (True, 3): Fraction(11, 6),
}
HAND_REGRETS = {
    (False, 1): Fraction(1, 6), (False, 2): Fraction(1, 4), (False, 3): Fraction(1, 3),
    (True, 1): Fraction(1, 4), (True, 2): Fraction(1, 3), (True, 3): Fraction(5, 12),
}


@pytest.mark.parametrize(("correlated", "horizon"), sorted(HAND_VALUES))
def test_bayes_optimal_values_by_hand(correlated, horizon):
    """Independent arms, H = 2: pull an arm (1/2); after a success stay (2/3), after a failure switch (1/2):
    1/2 + 7/12 = 13/12; E[max p] = 2/3, regret 4/3 - 13/12 = 1/4. H = 3: after a success staying gives
    2/3 + (2/3 * 3/4 + 1/3 * 1/2) = 4/3, after a failure switching gives 1/2 + 1/2 = 1: 1/2 + 2/3 + 1/2 = 5/3.
    Correlated (E[max(p, 1 - p)] = 3/4): every outcome leaves a Beta(2, 1) posterior on the better side:
    H = 2: 1/2 + 2/3; H = 3: 1/2 + 2/3 + (2/3 * 3/4 + 1/3 * 1/2) = 11/6."""
    b = bayes_optimal(2, horizon, correlated)
    assert b.value == pytest.approx(float(HAND_VALUES[correlated, horizon]), abs=1e-12)
    assert b.regret == pytest.approx(float(HAND_REGRETS[correlated, horizon]), abs=1e-12)
    assert b.regret == pytest.approx(horizon * expected_max_p(2, correlated) - b.value)


@pytest.mark.parametrize(("arms", "horizon", "correlated"),
                         [(2, h, c) for h in range(1, 7) for c in (False, True)] + [(3, 1, False), (3, 2, False),
                                                                                    (3, 3, False), (3, 4, False)])
def test_dynamic_programme_equals_brute_force(arms, horizon, correlated):
    """The DP over posterior counts equals the best of all policies with the histories' probabilities
    integrated exactly against the prior (no posterior means involved)."""
    assert bayes_optimal(arms, horizon, correlated).value == pytest.approx(
        brute_force_value(arms, horizon, correlated), abs=1e-12)


@pytest.mark.parametrize(("arms", "horizon", "correlated"),
                         [(2, 1, False), (2, 2, False), (2, 1, True), (2, 2, True), (3, 2, False)])
def test_dynamic_programme_equals_explicit_policy_enumeration(arms, horizon, correlated):
    assert bayes_optimal(arms, horizon, correlated).value == pytest.approx(
        enumerate_policies_value(arms, horizon, correlated), abs=1e-12)


def test_vectorised_two_arm_programme_equals_memoised_recursion():
    from brainset_envs.analysis.bandit import _memo_q

    for horizon in (7, 12):
        q, _ = _memo_q(2, horizon, False)
        b = bayes_optimal(2, horizon)
        assert b.value == pytest.approx(max(q(((0, 0), (0, 0)))), abs=1e-12)
        for counts in ([[0, 0], [0, 0]], [[2, 1], [0, 3]], [[1, 1], [1, 0]]):
            assert np.allclose(b.q_values(counts), q(tuple(map(tuple, counts))), atol=1e-12)


def test_regret_ordering_and_growth():
    """Bayes-optimal < Thompson < UCB1 < random, on the same prior (Monte Carlo with a seed)."""
    bo = bayes_optimal(2, 100)
    ts, ucb = thompson_regret(horizon=100, episodes=3000, seed=1), ucb_regret(horizon=100, episodes=3000, seed=1)
    rnd = simulate_regret("random", horizon=100, episodes=3000, seed=1)
    assert 1.5 < bo.regret < 2.0  # 1.748
    assert bo.regret < ts["regret"] - 4 * ts["se"]
    assert ts["regret"] < ucb["regret"] - 4 * (ts["se"] + ucb["se"])
    assert ucb["regret"] < rnd["regret"]
    assert rnd["regret"] == pytest.approx(100 * (2 / 3 - 1 / 2), rel=0.05)  # 16.7
    assert bayes_optimal(2, 20).regret < bayes_optimal(2, 40).regret < bo.regret
    assert thompson_regret(horizon=50, seed=3) == thompson_regret(horizon=50, seed=3)  # reproducible


def test_correlated_optimum_is_greedy():
    """Both arms are equally informative about p: the Bayes-optimal policy is greedy, and Monte Carlo
    greedy regret matches the exact value."""
    b = bayes_optimal(2, 100, correlated=True)
    greedy = simulate_regret("greedy", horizon=100, correlated=True, episodes=4000, seed=0)
    assert abs(greedy["regret"] - b.regret) < 4 * greedy["se"]
    for counts in ([[3, 1], [0, 0]], [[0, 2], [1, 0]], [[1, 4], [2, 2]]):
        c = np.array(counts)
        post = (1 + c[0, 0] + c[1, 1]) / (2 + c.sum())
        assert b.action(c) == (0 if post >= 0.5 else 1)


@pytest.mark.parametrize("correlated", [False, True])
def test_bayes_optimal_policy_in_the_env_earns_its_value(correlated):
    """The DP policy, reading only the env's observations, earns the DP value in the env."""
    horizon = 10
    b = bayes_optimal(2, horizon, correlated)
    env = gym.make("BrainSet/Bandit-v0", horizon=horizon, correlated=correlated)
    res = run_policy(env, b.action, episodes=1500, seed=0)
    assert res["regret"] == pytest.approx(b.regret, abs=4 * res["regret_se"])








def test_bad_arguments_of_the_analysis():
    with pytest.raises(ValueError, match="arms"):
        bayes_optimal(3, 2, correlated=True)
    with pytest.raises(ValueError, match="horizon"):
        bayes_optimal(2, 0)
    with pytest.raises(ValueError, match="horizon"):
        bayes_optimal(2, 500)
    with pytest.raises(TypeError, match="arms"):
        bayes_optimal("2", 3)
    with pytest.raises(ValueError, match="policy"):
        simulate_regret("softmax")
    with pytest.raises(ValueError, match="horizon"):
        brute_force_value(2, 20)
    with pytest.raises(ValueError, match="horizon"):
        bayes_optimal(2, 3).action([[2, 1], [0, 0]])
