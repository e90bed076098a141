"""Representational similarity: RDMs, RSA, linear CKA (Kornblith et al. 2019), and synthetic reference
"brain" populations (V1-like narrow and V4-like broad orientation tuning)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from agents.probes.tuning import von_mises_population


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim > 2:
        x = x.reshape(len(x), -1)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"{name} must be (conditions or samples, features), got shape {x.shape}")
    return x


def rdm(patterns: np.ndarray, metric: str = "correlation") -> np.ndarray:
    """Representational dissimilarity matrix (n, n) of ``patterns`` (n conditions, features):
    1 - Pearson correlation ('correlation') or Euclidean distance ('euclidean')."""
    x = _as_2d(patterns, "patterns")
    if metric == "correlation":
        return 1.0 - np.corrcoef(x)
    if metric == "euclidean":
        sq = (x**2).sum(1)
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0.0))
    raise ValueError(f"metric={metric!r} is not known; choose 'correlation' or 'euclidean'")


def rsa(rdm_a: np.ndarray, rdm_b: np.ndarray) -> float:
    """Spearman correlation of the upper triangles of two RDMs."""
    if rdm_a.shape != rdm_b.shape or rdm_a.shape[0] != rdm_a.shape[1]:
        raise ValueError(f"RDMs must be square and of the same shape, got {rdm_a.shape} and {rdm_b.shape}")
    iu = np.triu_indices(len(rdm_a), k=1)
    return float(stats.spearmanr(rdm_a[iu], rdm_b[iu]).statistic)


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear centred kernel alignment between two representations of the same n samples (n, p), (n, q).

    Invariant to orthogonal transforms and isotropic scaling; 1 for identical representations.
    """
    x, y = _as_2d(x, "x"), _as_2d(y, "y")
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same samples, got {len(x)} and {len(y)} rows")
    x = x - x.mean(0)
    y = y - y.mean(0)
    num = np.linalg.norm(y.T @ x) ** 2
    den = np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)
    return float(num / den) if den > 0 else 0.0


def cka_matrix(acts_a: dict[str, np.ndarray], acts_b: dict[str, np.ndarray]) -> tuple[np.ndarray, list, list]:
    """Linear CKA between every stage of ``acts_a`` (rows) and of ``acts_b`` (columns)."""
    ka, kb = list(acts_a), list(acts_b)
    m = np.array([[linear_cka(acts_a[a], acts_b[b]) for b in kb] for a in ka])
    return m, ka, kb


def reference_population(orientations_deg: np.ndarray, kind: str = "V1", n_units: int = 64,
                         seed: int = 0) -> np.ndarray:
    """Synthetic orientation-tuned population responses (conditions, units): 'V1' narrow tuning
    (von Mises kappa 2.5, ~20 deg half-width) or 'V4' broad tuning (kappa 0.6), preferred orientations
    spread uniformly, amplitudes jittered."""
    kappas = {"V1": 2.5, "V4": 0.6}
    if kind not in kappas:
        raise ValueError(f"kind={kind!r} is not known; choose one of {sorted(kappas)}")
    rng = np.random.default_rng(seed)
    pref = np.linspace(0, 180, n_units, endpoint=False)
    amp = rng.uniform(0.5, 1.5, n_units)
    return von_mises_population(orientations_deg, pref, kappas[kind]) * amp


def to_rsatoolbox(patterns: np.ndarray, conditions: np.ndarray | None = None):
    """An ``rsatoolbox.data.Dataset`` of ``patterns`` for its inference tools (bootstrap, crossnobis).
    rsatoolbox is optional: ``pip install rsatoolbox``."""
    try:
        # deferred: optional heavy dependency, imported only when used
        from rsatoolbox.data import Dataset
    except ImportError as e:
        raise ImportError("to_rsatoolbox needs rsatoolbox: pip install rsatoolbox") from e
    x = _as_2d(patterns, "patterns")
    descriptors = {"conds": np.arange(len(x)) if conditions is None else np.asarray(conditions)}
    return Dataset(x, obs_descriptors=descriptors)
