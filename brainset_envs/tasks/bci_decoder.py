"""Decoder maths of the BCI task: the intrinsic manifold (PCA), the decoder's gain, the optimal activity and
the fewest steps to a target.

Part of the task (the env fits its manifold and normalises its decoders with these functions, and its
``oracle_action`` drives :func:`optimal_activity`); :mod:`brainset_envs.analysis.bci` re-exports them with
the rest of the task's ground truth. numpy only.

A decoder maps a vector ``a`` of ``N`` unit activities, each in ``[-1, 1]``, to a velocity: the raw
velocity ``M a - b`` (``M`` of shape ``(dim, N)``, ``b`` of shape ``(dim,)``; ``dim`` = 2 for the cursor, 1
for the grating), scaled down to norm ``max_speed`` where it is longer. Its **velocity set** over the box
of activities is a zonotope; its **inradius** (the largest speed reachable in every direction) sets the
gain (:func:`normalise`).

Batched functions take a leading axis ``m`` (decoders) and compute each row as a batch of one would: every
reduction runs over the last, contiguous axis, so the native vector env equals single envs exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

#: unit activities are bounded to [LOW, HIGH] (the action space)
LOW, HIGH = -1.0, 1.0
#: a decoder's gain is set so that every direction reaches HEADROOM x max_speed before the speed cap
HEADROOM = 2.0
#: a decoder whose inradius is below this fraction of sum_j |m_j| (nearly one-dimensional, or an offset on
#: the edge of the box) is degenerate: the env falls back (see BCIEnv's docstring)
DEGENERATE = 1e-3


@dataclass(frozen=True)
class Decoder:
    """A linear decoder with a speed cap: velocity = ``M a - b`` scaled to norm at most ``max_speed``."""

    matrix: np.ndarray  # (dim, N)
    offset: np.ndarray  # (dim,)
    max_speed: float

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[0])

    @property
    def n_units(self) -> int:
        return int(self.matrix.shape[1])

    def raw_velocity(self, activity: np.ndarray) -> np.ndarray:
        """``M a - b`` for activities ``a`` (..., N), before the speed cap."""
        a = np.asarray(activity, dtype=np.float64)
        return (self.matrix * a[..., None, :]).sum(-1) - self.offset

    def velocity(self, activity: np.ndarray) -> np.ndarray:
        """The decoded velocity (..., dim): the raw velocity scaled down to norm ``max_speed``."""
        return cap_speed(self.raw_velocity(activity), self.max_speed)

    def inradius(self) -> float:
        """The largest raw speed reachable in every direction with activities in the box."""
        return float(inradius(self.matrix[None], self.offset[None])[0])


def cap_speed(v: np.ndarray, max_speed: float) -> np.ndarray:
    """``v`` (..., dim) scaled down to norm ``max_speed`` where it is longer."""
    v = np.asarray(v, dtype=np.float64)
    norm = np.sqrt((v * v).sum(-1))
    scale = np.minimum(1.0, max_speed / np.maximum(norm, 1e-300))
    return v * scale[..., None]


# --- the velocity set: facets, inradius, gain ---------------------------------------------------------


def facet_normals(matrix: np.ndarray) -> np.ndarray:
    """Unit normals of the facets of the zonotopes ``{M a : a in box}``, (m, dim, N) -> (m, F, dim).

    In 2-D a zonotope's edges are parallel to its generators (the columns ``m_j``), so its facet normals
    are the ``m_j`` turned by 90 degrees, both signs (a zero column gives the harmless (1, 0)). In 1-D they
    are +1 and -1.
    """
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape[1] == 1:
        return np.broadcast_to(np.array([[1.0], [-1.0]]), (m.shape[0], 2, 1)).copy()
    perp = np.stack([-m[:, 1, :], m[:, 0, :]], axis=-1)  # (m, N, 2)
    norm = np.sqrt(perp[..., 0] * perp[..., 0] + perp[..., 1] * perp[..., 1])
    zero = norm <= 0.0
    perp[zero] = (1.0, 0.0)
    norm[zero] = 1.0
    perp /= norm[..., None]
    return np.concatenate([perp, -perp], axis=1)


def support(matrix: np.ndarray, offset: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Support function ``h(n) = max over the box of n . (M a - b)`` = ``sum_j |n . m_j| - n . b``, for the
    normals (m, F, dim) of each decoder (m, dim, N) with offsets (m, dim): (m, F)."""
    m, b, n = (np.asarray(x, dtype=np.float64) for x in (matrix, offset, normals))
    proj = n[:, :, 0, None] * m[:, None, 0, :]
    shift = n[:, :, 0] * b[:, None, 0]
    for d in range(1, m.shape[1]):  # dim <= 2: explicit sums, identical for any batch size
        proj = proj + n[:, :, d, None] * m[:, None, d, :]
        shift = shift + n[:, :, d] * b[:, None, d]
    return np.abs(proj).sum(-1) - shift


def inradius(matrix: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Largest raw speed reachable in every direction, per decoder: (m, dim, N), (m, dim) -> (m,).

    The radius of the largest ball around 0 inside the velocity set, the minimum of the support function
    over the unit circle; that minimum is reached at a facet normal (between two, ``h`` is ``c . u`` for a
    fixed ``c``, whose minimum on an arc lies at an end since ``h >= 0``). Negative when 0 is outside the
    set (an offset outside the box's image)."""
    return support(matrix, offset, facet_normals(matrix)).min(-1)


def normalise(matrix: np.ndarray, offset: np.ndarray, max_speed: float, headroom: float = HEADROOM
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale each decoder so that every direction reaches ``headroom * max_speed`` (its inradius).

    Returns the scaled matrices and offsets and whether each decoder is usable (not degenerate: inradius
    at least ``DEGENERATE * sum_j |m_j|``); one whose inradius is not positive is returned unscaled."""
    m, b = np.asarray(matrix, dtype=np.float64), np.asarray(offset, dtype=np.float64)
    r0 = inradius(m, b)
    size = np.sqrt((m * m).sum(1)).sum(-1)  # sum_j |m_j|
    ok = np.isfinite(r0) & (r0 > DEGENERATE * size) & (size > 0.0)
    usable = np.isfinite(r0) & (r0 > 0.0)
    gain = np.where(usable, headroom * max_speed / np.where(usable, r0, 1.0), 1.0)
    return m * gain[:, None, None], b * gain[:, None], ok


def reachable_speed(decoder: Decoder, direction: np.ndarray) -> float:
    """Largest raw speed reachable along ``direction`` with activities in the box (before the cap):
    the radial function of the velocity set, ``min over facets n with n . u > 0 of h(n) / (n . u)``."""
    u = np.asarray(direction, dtype=np.float64).reshape(decoder.dim)
    u = u / np.sqrt((u * u).sum())
    normals = facet_normals(decoder.matrix[None])
    h = support(decoder.matrix[None], decoder.offset[None], normals)[0]
    cos = normals[0] @ u
    front = cos > 1e-12
    return float(np.min(h[front] / cos[front]))


# --- the intrinsic manifold -------------------------------------------------------------------------------


def _fix_signs(basis: np.ndarray) -> np.ndarray:
    """Each column (m, N, K) with its largest-magnitude entry positive: one basis for one subspace."""
    rows = np.abs(basis).argmax(axis=1)  # (m, K)
    pick = np.take_along_axis(basis, rows[:, None, :], axis=1)[:, 0, :]
    return basis * np.where(pick < 0.0, -1.0, 1.0)[:, None, :]


def random_basis(normals: np.ndarray) -> np.ndarray:
    """Orthonormal bases (m, N, K) from Gaussian draws (m, N, K) (QR, uniform over subspaces)."""
    q, _ = np.linalg.qr(np.asarray(normals, dtype=np.float64))
    return _fix_signs(q)


def manifold_from_stats(count: np.ndarray, sum_a: np.ndarray, sum_aa: np.ndarray, latent_dim: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA from running sums of activities: ``count`` (m,), ``sum_a`` (m, N), ``sum_aa`` (m, N, N).

    Returns the basis (m, N, K) of the ``K = latent_dim`` leading principal components (each column's
    largest entry positive), the mean activity (m, N) and the variance along each component (m, K),
    largest first."""
    n = np.maximum(np.asarray(count, dtype=np.float64), 1.0)
    mean = sum_a / n[:, None]
    cov = sum_aa / n[:, None, None] - mean[:, :, None] * mean[:, None, :]
    cov = 0.5 * (cov + np.swapaxes(cov, 1, 2))
    var, vec = np.linalg.eigh(cov)  # ascending
    k = latent_dim
    basis = np.ascontiguousarray(vec[:, :, ::-1][:, :, :k])
    return _fix_signs(basis), mean, np.maximum(var[:, ::-1][:, :k], 0.0)


def fit_manifold(activity: np.ndarray, latent_dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PCA of recorded activities (T, N), as the env fits it at the end of a calibration block: the basis
    (N, K), the mean (N,) and the variances (K,)."""
    a = np.asarray(activity, dtype=np.float64)
    if a.ndim != 2 or len(a) < 2:
        raise ValueError(f"activity has shape {a.shape}; expected (T, N) with T >= 2")
    if not 1 <= latent_dim <= a.shape[1]:
        raise ValueError(f"latent_dim={latent_dim!r} must be in [1, N={a.shape[1]}]")
    basis, mean, var = manifold_from_stats(np.array([len(a)]), a.sum(0)[None],
                                           (a[:, :, None] * a[:, None, :]).sum(0)[None], latent_dim)
    return basis[0], mean[0], var[0]


def latents_to_units(latent_map: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``W L^T``: a map from latent factors (m, dim, K) through the bases (m, N, K) to units, (m, dim, N)."""
    w, b = np.asarray(latent_map, dtype=np.float64), np.asarray(basis, dtype=np.float64)
    return (w[:, :, None, :] * b[:, None, :, :]).sum(-1)


def units_to_latents(matrix: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """``D L``: the part of decoders (m, dim, N) that reads the latent factors of the bases (m, N, K)."""
    d, b = np.asarray(matrix, dtype=np.float64), np.asarray(basis, dtype=np.float64)
    return (d[:, :, None, :] * np.swapaxes(b, 1, 2)[:, None, :, :]).sum(-1)


def span_residual(matrix: np.ndarray, basis: np.ndarray) -> float:
    """Fraction of a decoder's squared norm (dim, N) outside the span of ``basis`` (N, K): 0 for a decoder
    inside the intrinsic manifold (Sadtler's within-manifold perturbations), large outside it."""
    d = np.asarray(matrix, dtype=np.float64)
    q, _ = np.linalg.qr(np.asarray(basis, dtype=np.float64))
    rest = d - (d @ q) @ q.T
    total = float((d * d).sum())
    return float((rest * rest).sum()) / total if total > 0 else 0.0


# --- ground truth: the optimal activity and the fewest steps -------------------------------------------


def _dual_value(lam: np.ndarray, m: np.ndarray, c: np.ndarray, low: float, high: float) -> float:
    """The concave dual of min |a|^2 / 2 s.t. M a = c, low <= a <= high."""
    t = lam @ m
    psi = np.where(t > high, t * high - 0.5 * high * high, np.where(t < low, t * low - 0.5 * low * low, 0.5 * t * t))
    return float(lam @ c - psi.sum())


def optimal_activity(decoder: Decoder, velocity: np.ndarray, bounded: bool = True,
                     low: float = LOW, high: float = HIGH) -> np.ndarray:
    """The minimum-norm activity whose raw velocity ``M a - b`` is exactly ``velocity`` (N,).

    ``bounded`` (default): activities in ``[low, high]``, solved exactly by Newton's method on the
    two-dimensional dual (the solution is ``a = clip(M^T lambda, low, high)``), then polished on its active
    set. ``bounded=False``: the pseudo-inverse solution ``pinv(M) (velocity + b)``. Raises ValueError
    when the velocity is out of reach of the box. The velocity toward a target at the capped speed
    ``max_speed * u`` is always reachable for the env's decoders (their gain gives every direction
    ``HEADROOM x max_speed``)."""
    m = np.asarray(decoder.matrix, dtype=np.float64)
    c = np.asarray(velocity, dtype=np.float64).reshape(decoder.dim) + decoder.offset
    if not bounded:
        return np.linalg.pinv(m) @ c
    scale = 1.0 + float(np.abs(m).sum(1).max()) + float(np.abs(c).max())
    ridge = 1e-12 * scale * scale
    lam = np.zeros(decoder.dim)
    best, best_err = np.clip(lam @ m, low, high), math.inf
    for _ in range(200):
        t = lam @ m
        a = np.clip(t, low, high)
        g = c - m @ a
        err = float(np.abs(g).max())
        if err < best_err:
            best, best_err = a, err
        if err <= 1e-13 * scale:
            break
        free = (t > low) & (t < high)
        h = m[:, free] @ m[:, free].T + ridge * np.eye(decoder.dim)
        step = np.linalg.solve(h, g)
        q0, slope, s = _dual_value(lam, m, c, low, high), float(g @ step), 1.0
        while s > 1e-12 and _dual_value(lam + s * step, m, c, low, high) < q0 + 1e-4 * s * slope:
            s *= 0.5
        lam = lam + s * step
        # Polish: on this active set the solution solves a linear system exactly.
        t = lam @ m
        sat = (t <= low) | (t >= high)
        rhs = c - m[:, sat] @ np.clip(t[sat], low, high)
        mf = m[:, ~sat]
        if mf.shape[1]:
            lam_f = np.linalg.lstsq(mf @ mf.T, rhs, rcond=None)[0]
            a_f = np.clip(lam_f @ m, low, high)
            err_f = float(np.abs(c - m @ a_f).max())
            if err_f < best_err:
                best, best_err = a_f, err_f
                if err_f <= 1e-13 * scale:
                    break
    if best_err > 1e-9 * scale:
        raise ValueError(f"velocity={np.asarray(velocity).tolist()} is out of reach of activities in "
                         f"[{low}, {high}] (residual {best_err:.3g})")
    return best


def min_steps(distance: np.ndarray | float, radius: float, max_speed: float, hold_steps: int = 1) -> np.ndarray:
    """Fewest steps to a target at ``distance`` from the start: ``ceil((distance - radius) / max_speed)``
    moves at the capped speed along the straight line (the minimum-time path: with no momentum the velocity
    set is a disk of radius ``max_speed`` every step), at least one step, plus ``hold_steps - 1`` steps of
    holding inside the target. int64, shaped like ``distance``."""
    d = np.asarray(distance, dtype=np.float64)
    moves = np.ceil((d - radius) / max_speed - 1e-9)
    return (np.maximum(moves, 1.0) + (hold_steps - 1)).astype(np.int64)


def straight_path(start: np.ndarray, target: np.ndarray, max_speed: float, radius: float) -> np.ndarray:
    """The minimum-time path (T + 1, dim) from ``start`` until within ``radius`` of ``target``: steps of
    ``max_speed`` straight at the target (the last one shorter if it would pass the centre)."""
    p = np.asarray(start, dtype=np.float64).copy()
    goal = np.asarray(target, dtype=np.float64)
    path = [p.copy()]
    while float(np.sqrt(((goal - p) ** 2).sum())) > radius and len(path) < 1_000_000:
        p = p + cap_speed(goal - p, max_speed)
        path.append(p.copy())
    return np.array(path)
