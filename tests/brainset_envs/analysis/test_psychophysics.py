"""Psychometric fits, the ideal observer, and the staircase / constant-stimuli wrappers."""

import gymnasium as gym
import numpy as np
import pytest

from brainset_envs.analysis.psychophysics import (
    efficiency,
    fit_weibull,
    ideal_observer_accuracy,
    ideal_threshold,
    psychometric_table,
    weibull_2afc,
    weibull_threshold,
)
from brainset_envs.tasks.orientation import gabor_basis
from brainset_envs.wrappers import ConstantStimuli, Staircase


def test_weibull_analytic_anchors():
    assert weibull_2afc(2.0, alpha=2.0, beta=3.0) == pytest.approx(0.5 + 0.5 * (1 - np.exp(-1)))  # 0.816
    assert weibull_2afc(2.0, 2.0, 3.0) == pytest.approx(0.816, abs=5e-4)
    assert weibull_threshold(2.0, 3.0) == pytest.approx(2.0 * np.log(2) ** (1 / 3))
    assert weibull_2afc(weibull_threshold(1.5, 2.0, 0.02), 1.5, 2.0, 0.02) == pytest.approx(0.75)


@pytest.mark.parametrize("alpha, beta", [(1.0, 2.0), (3.0, 1.2)])
def test_fit_recovers_known_parameters(alpha, beta):
    rng = np.random.default_rng(0)
    levels = alpha * np.geomspace(0.2, 4.0, 9)
    n = np.full(9, 400)
    k = rng.binomial(n, weibull_2afc(levels, alpha, beta))
    fit = fit_weibull(levels, k, n)
    assert fit.alpha == pytest.approx(alpha, rel=0.1)
    assert fit.beta == pytest.approx(beta, rel=0.2)
    assert fit.threshold == pytest.approx(weibull_threshold(alpha, beta), rel=0.1)


def test_fit_with_lapse_and_bad_input():
    rng = np.random.default_rng(1)
    levels = np.geomspace(0.1, 10, 10)
    n = np.full(10, 500)
    k = rng.binomial(n, weibull_2afc(levels, 1.0, 2.0, lapse=0.04))
    assert fit_weibull(levels, k, n, fit_lapse=True).lapse == pytest.approx(0.04, abs=0.02)
    with pytest.raises(ValueError, match="n_correct"):
        fit_weibull(levels, n + 1, n)


def test_psychometric_table_and_efficiency():
    lv, k, n = psychometric_table([1, 2, 1, 2, 2], [1, 0, 0, 1, 1])
    assert lv.tolist() == [1, 2] and k.tolist() == [1, 2] and n.tolist() == [2, 3]
    assert efficiency(0.5, 1.0) == pytest.approx(0.25)


def test_ideal_observer_matches_brute_force_on_full_images():
    """The 4-D sufficient-statistic observer equals a full-image Bayesian observer on the same model."""
    size, sf, c, s, off = 32, 0.1, 0.5, 0.5, 2.0
    fast = ideal_observer_accuracy(off, noise_std=s, contrast=c, sf=sf, size=size, n_trials=40000)[0]
    rng = np.random.default_rng(1)
    bases = {h: gabor_basis(size, h * off, sf).reshape(2, -1) for h in (1, -1)}
    phis = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    templates = {h: c * (np.cos(phis)[:, None] * b[0] - np.sin(phis)[:, None] * b[1]) for h, b in bases.items()}
    n, hits = 1500, 0
    for _ in range(n):
        label = rng.integers(2)
        h = 1 if label == 0 else -1
        ph = rng.uniform(0, 2 * np.pi)
        img = c * (np.cos(ph) * bases[h][0] - np.sin(ph) * bases[h][1]) + s * rng.standard_normal(size * size)
        ll = {}
        for hh, tpl in templates.items():
            z = -((img - tpl) ** 2).sum(1) / (2 * s * s)
            ll[hh] = z.max() + np.log(np.mean(np.exp(z - z.max())))
        hits += (0 if ll[1] > ll[-1] else 1) == label
    se = np.sqrt(fast * (1 - fast) / n)
    assert abs(hits / n - fast) < 4 * se + 0.005


def test_ideal_accuracy_rises_with_offset_and_contrast_and_falls_with_noise():
    acc_off = ideal_observer_accuracy([0.1, 0.3, 1.0], n_trials=20000)
    assert acc_off[0] < acc_off[1] < acc_off[2]
    lo_c, hi_c = (ideal_observer_accuracy(0.2, contrast=c, n_trials=20000)[0] for c in (0.2, 0.6))
    lo_n, hi_n = (ideal_observer_accuracy(0.2, noise_std=s, n_trials=20000)[0] for s in (0.1, 0.5))
    assert hi_c > lo_c + 0.05 and lo_n > hi_n + 0.05


def test_ideal_threshold_is_at_75_percent():
    res = ideal_threshold(n_trials=20000)
    acc = ideal_observer_accuracy(res.threshold, n_trials=100000, seed=5)[0]
    assert acc == pytest.approx(0.75, abs=0.02)


class _Observer:
    """A simulated observer with a known Weibull psychometric function."""

    def __init__(self, alpha, beta, seed):
        self.alpha, self.beta = alpha, beta
        self.rng = np.random.default_rng(seed)

    def act(self, info):
        p = weibull_2afc(info["offset_deg"], self.alpha, self.beta)
        return info["label"] if self.rng.random() < p else 1 - info["label"]


def test_staircase_converges_near_its_target_accuracy():
    env = Staircase(gym.make("BrainSet/OrientationDiscrimination-v0"), start_deg=10.0, down=3, factor=1.15)
    obs_model = _Observer(alpha=2.0, beta=2.5, seed=0)
    _, info = env.reset(seed=0)
    for _ in range(3000):
        _, _, term, trunc, info = env.step(obs_model.act(info))
        if term or trunc:
            _, info = env.reset()
    target_level = 2.0 * (-np.log(1 - (env.target_accuracy - 0.5) / 0.5)) ** (1 / 2.5)
    assert env.target_accuracy == pytest.approx(0.794, abs=1e-3)
    assert env.threshold(n_reversals=30) == pytest.approx(target_level, rel=0.15)
    late = np.array(env.history[1000:])
    assert late[:, 1].mean() == pytest.approx(0.794, abs=0.04)


def test_constant_stimuli_are_balanced_and_reproducible():
    def session(seed):
        env = ConstantStimuli(gym.make("BrainSet/OrientationDiscrimination-v0"), offsets_deg=[1, 2, 4], repeats=5)
        _, info = env.reset(seed=seed)
        for _ in range(15):
            _, _, term, _, info = env.step(0)
            if term:
                _, info = env.reset()
        return env

    env = session(0)
    lv, k, n = env.table()
    assert lv.tolist() == [1, 2, 4] and n.tolist() == [5, 5, 5]
    assert env.history == session(0).history
    assert [h[0] for h in env.history] != [h[0] for h in session(1).history]


def test_wrappers_reject_bad_arguments():
    with pytest.raises(ValueError, match="factor"):
        Staircase(gym.make("BrainSet/OrientationDiscrimination-v0"), factor=0.5)
    with pytest.raises(ValueError, match="offsets_deg"):
        ConstantStimuli(gym.make("BrainSet/OrientationDiscrimination-v0"), offsets_deg=[-1.0])
    with pytest.raises(TypeError, match="stimulus level"):
        Staircase(gym.make("CartPole-v1"))
