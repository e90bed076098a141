"""Psychophysics for OrientationDiscrimination: the ideal observer, 2AFC Weibull fits, thresholds.

Usable without the ``agents`` package: an SB3 user scores a policy with :func:`psychometric_table`,
:func:`fit_weibull` and :func:`efficiency`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize

from brainset_envs.core.params import check_float, check_int
from brainset_envs.tasks.orientation import gabor_basis

# --- psychometric functions -----------------------------------------------------------------------


def weibull_2afc(x: np.ndarray | float, alpha: float, beta: float, lapse: float = 0.0) -> np.ndarray:
    """2AFC Weibull: p(x) = 0.5 + (0.5 - lapse) * (1 - exp(-(x / alpha) ** beta))."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 + (0.5 - lapse) * (1.0 - np.exp(-((np.maximum(x, 0.0) / alpha) ** beta)))


def weibull_threshold(alpha: float, beta: float, lapse: float = 0.0, p: float = 0.75) -> float:
    """Stimulus level where :func:`weibull_2afc` reaches ``p`` (0.75 -> alpha * ln(2)^(1/beta) with no lapse)."""
    check_float("p", p, 0.5, 1.0 - lapse, low_open=True, high_open=True)
    q = (p - 0.5) / (0.5 - lapse)
    return float(alpha * (-np.log(1.0 - q)) ** (1.0 / beta))


@dataclass(frozen=True)
class WeibullFit:
    """A fitted 2AFC Weibull and its 75% threshold."""

    alpha: float
    beta: float
    lapse: float
    threshold: float  # 75% correct point
    log_likelihood: float

    def __call__(self, x: np.ndarray | float) -> np.ndarray:
        return weibull_2afc(x, self.alpha, self.beta, self.lapse)

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def fit_weibull(levels: np.ndarray, n_correct: np.ndarray, n_trials: np.ndarray, fit_lapse: bool = False,
                max_lapse: float = 0.06) -> WeibullFit:
    """Maximum-likelihood 2AFC Weibull fit to binomial data (one entry per stimulus level).

    ``fit_lapse`` also fits a lapse rate in [0, ``max_lapse``]; otherwise lapse = 0.
    """
    x = np.asarray(levels, dtype=np.float64)
    k = np.asarray(n_correct, dtype=np.float64)
    n = np.asarray(n_trials, dtype=np.float64)
    if not (x.shape == k.shape == n.shape) or x.ndim != 1 or len(x) < 2:
        raise ValueError("levels, n_correct and n_trials must be 1-D arrays of the same length >= 2, "
                         f"got shapes {x.shape}, {k.shape}, {n.shape}")
    if np.any(x <= 0) or np.any(n <= 0) or np.any(k < 0) or np.any(k > n):
        raise ValueError("levels must be > 0, n_trials > 0 and 0 <= n_correct <= n_trials")

    def nll(params: np.ndarray) -> float:
        la, b = params[0], params[1]
        lapse = params[2] if fit_lapse else 0.0
        p = np.clip(weibull_2afc(x, np.exp(la), np.exp(b), lapse), 1e-9, 1 - 1e-9)
        return -float(np.sum(k * np.log(p) + (n - k) * np.log(1 - p)))

    # Start from the level nearest 75% correct, several slopes; keep the best local optimum.
    frac = k / n
    start_alpha = x[np.argmin(np.abs(frac - 0.8))]
    best = None
    for b0 in (0.5, 1.0, 2.0, 4.0):
        p0 = [np.log(start_alpha), np.log(b0)] + ([0.01] if fit_lapse else [])
        bounds = [(np.log(x.min()) - 5, np.log(x.max()) + 5), (np.log(0.1), np.log(20.0))]
        bounds += [(0.0, max_lapse)] if fit_lapse else []
        res = optimize.minimize(nll, p0, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None  # the loop above ran
    alpha, beta = float(np.exp(best.x[0])), float(np.exp(best.x[1]))
    lapse = float(best.x[2]) if fit_lapse else 0.0
    return WeibullFit(alpha, beta, lapse, weibull_threshold(alpha, beta, lapse), -float(best.fun))


def psychometric_table(levels: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group trial-by-trial data: (unique levels, n correct, n trials). ``correct`` is 0/1 per trial."""
    levels = np.asarray(levels, dtype=np.float64)
    correct = np.asarray(correct)
    if levels.shape != correct.shape:
        raise ValueError(f"levels and correct must have the same shape, got {levels.shape} and {correct.shape}")
    uniq, inv = np.unique(levels, return_inverse=True)
    k = np.bincount(inv, weights=correct.astype(np.float64), minlength=len(uniq))
    n = np.bincount(inv, minlength=len(uniq)).astype(np.float64)
    return uniq, k, n


def efficiency(threshold_ideal: float, threshold_agent: float) -> float:
    """Statistical efficiency of an agent relative to the ideal observer: (T_ideal / T_agent)^2."""
    return float((threshold_ideal / threshold_agent) ** 2)


# --- the ideal observer -------------------------------------------------------------------------------


def ideal_observer_accuracy(offset_deg: float | np.ndarray, ref_deg: float = 0.0, noise_std: float = 0.25,
                            contrast: float = 0.5, sf: float = 0.08, size: int = 64, n_trials: int = 20000,
                            seed: int = 0, n_phase: int = 64) -> np.ndarray:
    """Proportion correct of the Bayesian ideal observer of the OrientationDiscrimination stimulus model.

    The observer knows the two candidate orientations (ref +/- offset), the contrast and the noise, and
    marginalises the unknown uniform phase (trapezoid rule on ``n_phase`` phases, exponentially accurate
    for this periodic integrand). Stimulus model: contrast * Gabor + noise_std * white noise, in contrast
    units, before the env's 8-bit quantisation and clipping (negligible at the defaults).

    Monte Carlo over ``n_trials`` per offset, done exactly in the 4-D space of projections onto the
    two candidates' cosine and sine Gabors (the sufficient statistics), so 10^5 trials take milliseconds.
    """
    offsets = np.atleast_1d(np.asarray(offset_deg, dtype=np.float64))
    check_int("n_trials", n_trials, 10)
    check_float("noise_std", noise_std, 0.0, None, low_open=True)
    check_float("contrast", contrast, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    phis = np.linspace(0.0, 2 * np.pi, n_phase, endpoint=False)
    cos_p, sin_p = np.cos(phis), np.sin(phis)
    acc = np.empty(len(offsets))
    for j, off in enumerate(offsets):
        check_float("offset_deg", float(off), 0.0, 90.0, low_open=True)
        # Basis of both hypotheses: rows C+, S+, C-, S- (flattened); Gram matrix = their inner products.
        basis = np.concatenate([gabor_basis(size, ref_deg + off, sf), gabor_basis(size, ref_deg - off, sf)])
        basis = basis.reshape(4, -1)
        gram = basis @ basis.T
        chol = np.linalg.cholesky(gram + 1e-12 * np.eye(4))
        label = rng.integers(0, 2, n_trials)  # 0: clockwise (ref + off), 1: counter-clockwise
        phase = rng.uniform(0.0, 2 * np.pi, n_trials)
        # Projections of the signal onto the 4 basis vectors: gram[:, true_C] cos - gram[:, true_S] sin.
        tc = 2 * label
        signal = contrast * (gram[:, tc].T * np.cos(phase)[:, None] - gram[:, tc + 1].T * np.sin(phase)[:, None])
        proj = signal + noise_std * rng.standard_normal((n_trials, 4)) @ chol.T
        loglik = []
        for h in (0, 1):
            a, b = proj[:, 2 * h], proj[:, 2 * h + 1]
            cc, ss, cs = gram[2 * h, 2 * h], gram[2 * h + 1, 2 * h + 1], gram[2 * h, 2 * h + 1]
            energy = cos_p**2 * cc + sin_p**2 * ss - 2 * sin_p * cos_p * cs
            z = (contrast / noise_std**2) * (np.outer(a, cos_p) - np.outer(b, sin_p)) \
                - (contrast**2 / (2 * noise_std**2)) * energy
            zmax = z.max(axis=1, keepdims=True)
            loglik.append(zmax[:, 0] + np.log(np.mean(np.exp(z - zmax), axis=1)))
        choice = (loglik[1] > loglik[0]).astype(np.int64)
        acc[j] = np.mean(choice == label)
    return acc


@dataclass(frozen=True)
class IdealThreshold:
    """The ideal observer's psychometric curve and its Weibull fit."""

    offsets: np.ndarray
    accuracy: np.ndarray
    fit: WeibullFit

    @property
    def threshold(self) -> float:
        return self.fit.threshold


def ideal_threshold(ref_deg: float = 0.0, noise_std: float = 0.25, contrast: float = 0.5, sf: float = 0.08,
                    size: int = 64, n_trials: int = 20000, seed: int = 0,
                    offsets: np.ndarray | None = None) -> IdealThreshold:
    """The ideal observer's 75% threshold (deg): accuracy on a log grid of offsets, then a Weibull fit."""
    if offsets is None:
        offsets = np.geomspace(0.02, 20.0, 25)
    acc = ideal_observer_accuracy(offsets, ref_deg, noise_std, contrast, sf, size, n_trials, seed)
    # Fit only the informative range (not at chance, not saturated) plus one point on each side.
    inform = np.flatnonzero((acc > 0.52) & (acc < 0.995))
    lo, hi = (max(inform[0] - 1, 0), min(inform[-1] + 2, len(acc))) if len(inform) else (0, len(acc))
    n = np.full(hi - lo, float(n_trials))
    fit = fit_weibull(offsets[lo:hi], acc[lo:hi] * n, n)
    return IdealThreshold(np.asarray(offsets), acc, fit)
