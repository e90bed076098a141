"""Grid score of spatial rate maps (Sargolini et al. 2006; Langston et al. 2010) with a shuffle null
(Barry & Burgess 2017: threshold claims need one)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def autocorrelogram(rate_map: np.ndarray) -> np.ndarray:
    """Spatial autocorrelation (Pearson, over the overlap at each shift) of a 2-D map; NaNs are unvisited.
    Output shape (2H - 1, 2W - 1), centre = zero shift."""
    m = np.asarray(rate_map, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"rate_map must be 2-D, got shape {m.shape}")
    valid = np.isfinite(m).astype(np.float64)
    x = np.where(valid > 0, m, 0.0)
    h, w = m.shape
    shape = (2 * h - 1, 2 * w - 1)

    def xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fa, fb = np.fft.rfft2(a, shape), np.fft.rfft2(b[::-1, ::-1], shape)
        return np.fft.irfft2(fa * fb, shape)

    n = np.round(xcorr(valid, valid))
    sx, sy = xcorr(x, valid), xcorr(valid, x)
    sxx, syy = xcorr(x * x, valid), xcorr(valid, x * x)
    sxy = xcorr(x, x)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = n * sxy - sx * sy
        den = np.sqrt(np.maximum(n * sxx - sx**2, 0)) * np.sqrt(np.maximum(n * syy - sy**2, 0))
        ac = num / den
    ac[(n < 20) | ~np.isfinite(ac)] = np.nan
    return ac


def grid_score(rate_map: np.ndarray, inner: float | None = None, outer: float | None = None) -> float:
    """Gridness = mean(r60, r120) - mean(r30, r90, r150), correlations of the autocorrelogram with its
    rotations inside an annulus. ``inner`` (default: radius of the central peak) excludes the centre;
    ``outer`` defaults to half the map's smaller side."""
    ac = autocorrelogram(rate_map)
    cy, cx = (np.array(ac.shape) - 1) / 2
    yy, xx = np.indices(ac.shape)
    r = np.hypot(yy - cy, xx - cx)
    if inner is None:  # the central peak, at most a quarter of the map (smooth random maps have wide ones)
        inner = min(_central_peak_radius(ac, r), min(rate_map.shape) / 4.0)
    if outer is None:
        outer = _six_peak_radius(ac, r, inner, default=min(rate_map.shape) / 2.0)
    ring = (r >= inner) & (r <= outer)
    if ring.sum() < 20:
        raise ValueError(f"annulus inner={inner:.1f}, outer={outer:.1f} holds too few bins; pass inner/outer")
    base = np.nan_to_num(ac)
    corr = {}
    for angle in (30, 60, 90, 120, 150):
        rot = ndimage.rotate(base, angle, reshape=False, order=1)
        sel = ring & np.isfinite(ac)
        corr[angle] = np.corrcoef(base[sel], rot[sel])[0, 1]
    return float(np.mean([corr[60], corr[120]]) - np.mean([corr[30], corr[90], corr[150]]))


def _central_peak_radius(ac: np.ndarray, r: np.ndarray) -> float:
    """Radius where the radial mean of the autocorrelogram first drops below zero (at least 2 bins)."""
    rb = np.round(r).astype(int)
    vals = np.nan_to_num(ac)
    prof = np.bincount(rb.ravel(), vals.ravel()) / np.maximum(np.bincount(rb.ravel()), 1)
    below = np.flatnonzero(prof < 0.0)
    return float(max(below[0] if len(below) else 2, 2))


def _six_peak_radius(ac: np.ndarray, r: np.ndarray, inner: float, default: float) -> float:
    """1.25 x the distance of the farthest of the six peaks nearest the centre (outside ``inner``)."""
    vals = np.nan_to_num(ac, nan=-np.inf)
    peaks = (vals == ndimage.maximum_filter(vals, size=3)) & (r > inner) & (vals > 0)
    dist = np.sort(r[peaks])
    if len(dist) < 6:
        return default
    return float(min(1.25 * dist[5], r.max()))


def shuffle_null(shape: tuple[int, int] = (20, 20), smooth_sigma: float = 1.5, n: int = 200,
                 seed: int = 0) -> np.ndarray:
    """Grid scores of ``n`` smoothed random maps (Barry & Burgess 2017's null); compare a cell's score
    with e.g. ``np.percentile(null, 95)``."""
    rng = np.random.default_rng(seed)
    return np.array([grid_score(ndimage.gaussian_filter(rng.random(shape), smooth_sigma)) for _ in range(n)])


def hexagonal_map(shape: tuple[int, int] = (40, 40), spacing: float = 10.0, orientation_deg: float = 0.0,
                  phase: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """An ideal grid-cell rate map: the sum of three plane waves 60 deg apart, rectified."""
    yy, xx = np.indices(shape, dtype=np.float64)
    k = 4 * np.pi / (np.sqrt(3) * spacing)
    total = np.zeros(shape)
    for j in range(3):
        a = np.deg2rad(orientation_deg + 60 * j)
        total += np.cos(k * ((xx - phase[0]) * np.cos(a) + (yy - phase[1]) * np.sin(a)))
    return np.maximum(total, 0.0)
