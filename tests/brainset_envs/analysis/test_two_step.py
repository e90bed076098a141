"""TwoStep ground truth: model-based vs model-free behavioural signatures and their regressions."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.two_step import (
    ModelBasedAgent,
    ModelFreeAgent,
    TrialLog,
    lagged_regression,
    model_based_index,
    record_trials,
    stay_probabilities,
    stay_regression,
)


def _log(env_id, agent, episodes=30, seed=0):
    return record_trials(gym.make(env_id), agent.act, episodes=episodes, seed=seed, on_reset=agent.reset)


def test_model_based_agent_shows_the_interaction_signature():
    """Daw et al. 2011 task (common 0.7, drifting rewards): stays after rewarded-common and
    unrewarded-uncommon trials exceed the other two; the reward x transition interaction carries it and
    the reward main effect is absent."""
    log = _log("BrainSet/TwoStep-v0", ModelBasedAgent(common_prob=0.7, seed=0))
    assert len(log) == 3000
    p = stay_probabilities(log)  # rows rewarded / unrewarded, columns common / uncommon
    assert p[0, 0] > p[0, 1] + 0.1 and p[1, 1] > p[1, 0] + 0.1
    reg = stay_regression(log)
    assert reg["interaction"] > 0.25 and reg["interaction"] > 5 * reg["interaction_se"]
    assert abs(reg["reward"]) < 0.15 and abs(reg["reward"]) < abs(reg["interaction"]) / 2
    assert model_based_index(log) == reg["interaction"]
    lag = lagged_regression(log, lags=3)
    assert lag["interaction"][0] > 0.25 and np.all(np.abs(lag["reward"]) < 0.2)


def test_model_free_agent_shows_the_reward_main_effect_only():
    log = _log("BrainSet/TwoStep-v0", ModelFreeAgent(seed=0))
    p = stay_probabilities(log)
    assert abs(p[0, 0] - p[0, 1]) < 0.1 and abs(p[1, 0] - p[1, 1]) < 0.1  # transition does not matter
    assert p[0].min() > p[1].max() + 0.2  # reward does
    reg = stay_regression(log)
    assert reg["reward"] > 0.7 and reg["reward"] > 5 * reg["reward_se"]
    assert abs(reg["interaction"]) < 0.15 and abs(reg["interaction"]) < 3 * reg["interaction_se"]
    assert lagged_regression(log, lags=2)["reward"][0] > 0.7


def test_model_based_signature_on_the_switching_version():
    log = _log("BrainSet/TwoStepSwitching-v0", ModelBasedAgent(common_prob=0.9, seed=1))
    p = stay_probabilities(log)
    assert p[0, 0] > p[0, 1] + 0.2 and p[1, 1] > p[1, 0] + 0.2
    assert stay_regression(log)["interaction"] > 0.6


def test_random_policy_stays_at_chance():
    env = gym.make("BrainSet/TwoStep-v0")
    env.action_space.seed(0)
    log = record_trials(env, lambda obs: env.action_space.sample(), episodes=20)
    assert np.all(np.abs(stay_probabilities(log) - 0.5) < 0.08)
    reg = stay_regression(log)
    assert abs(reg["reward"]) < 0.2 and abs(reg["interaction"]) < 0.2


def _synthetic_log(n, stay_diagonal, seed=0, episodes=1):
    """A log whose agent stays with probability ``stay_diagonal`` after rewarded-common and
    unrewarded-uncommon trials, and ``1 - stay_diagonal`` after the other two."""
    rng = np.random.default_rng(seed)
    common = rng.random(n) < 0.7
    reward = (rng.random(n) < 0.5).astype(float)
    a = np.zeros(n, np.int64)
    for t in range(1, n):
        p = stay_diagonal if (reward[t - 1] > 0) == common[t - 1] else 1 - stay_diagonal
        a[t] = a[t - 1] if rng.random() < p else 1 - a[t - 1]
    return TrialLog(a, a.copy(), common, np.zeros(n, np.int64), reward, np.repeat(np.arange(episodes), n // episodes))


def test_stay_probabilities_and_regression_on_known_logs():
    """Deterministic model-based staying gives the table [[1, 0], [0, 1]]; staying with probability 0.8 on
    the diagonal gives, with +-1 coding, interaction = logit(0.8) = ln 4 and no other effect."""
    assert np.array_equal(stay_probabilities(_synthetic_log(400, 1.0)), [[1.0, 0.0], [0.0, 1.0]])
    log = _synthetic_log(20000, 0.8, seed=1)
    assert np.allclose(stay_probabilities(log), [[0.8, 0.2], [0.2, 0.8]], atol=0.03)
    reg = stay_regression(log)
    assert abs(reg["interaction"] - np.log(4.0)) < 3 * reg["interaction_se"]
    for k in ("intercept", "reward", "transition"):
        assert abs(reg[k]) < 3 * reg[f"{k}_se"], k
    # pairs across an episode boundary are not counted: 2 episodes of 200 trials give 398 pairs
    from brainset_envs.analysis.two_step import _pairs

    two = _synthetic_log(400, 1.0, episodes=2)
    assert len(_pairs(two)[0]) == 398 and len(_pairs(_synthetic_log(400, 1.0))[0]) == 399
    a = two.first_action
    with pytest.raises(ValueError, match="at least"):
        stay_regression(TrialLog(a[:3], a[:3], two.common[:3], a[:3], two.reward[:3], np.zeros(3, np.int64)))






def test_bad_arguments_of_the_analysis():
    with pytest.raises(ValueError, match="alpha"):
        ModelFreeAgent(alpha=2.0)
    with pytest.raises(TypeError, match="beta"):
        ModelBasedAgent(beta="high")
    with pytest.raises(ValueError, match="episodes"):
        record_trials(gym.make("BrainSet/TwoStep-v0"), lambda o: 0, episodes=0)
    log = _log("BrainSet/TwoStep-v0", ModelFreeAgent(seed=0), episodes=1)
    with pytest.raises(ValueError, match="lags"):
        lagged_regression(log, lags=0)
