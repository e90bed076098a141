"""Exact n-step empowerment of grid worlds: the ground truth of EmpowermentGrid.

Part of the task: the env reports the true empowerment of each state in ``info``, draws its map and exposes
it as ``true_empowerment``. The exploration metrics and reference policies, which re-export all of this,
are in :mod:`brainset_envs.analysis.empowerment`.

Empowerment (Klyubin, Polani & Nehaniv 2005) is the channel capacity, in bits, from an n-step action
sequence to the sensor reading n steps later: E_n(s) = max_{p(a^n)} I(A^n; S_{t+n} | s).

- Deterministic dynamics: E_n(s) = log2 of the number of distinct sensor readings reachable in n steps.
  All states at once by propagating reachable-set bitsets through the next-state table (dense for small
  worlds, sparse for box worlds).
- Noisy dynamics (with probability p the intended action is replaced by one of the other four): Blahut-
  Arimoto on the n-step channel. The channel is built by propagating output distributions one step at a
  time and merging identical rows after each step (duplicate inputs do not change the capacity), so the
  5^n x |S| matrix is never formed unless asked for (``dedupe=False``).

Results are cached per (layout, n, noise, sensor).
"""

from __future__ import annotations

import numpy as np

from brainset_envs.core.grid import Grid, Layout, StateSpace, compiled
from brainset_envs.core.layouts import get_layout
from brainset_envs.core.params import check_choice, check_float, check_int

__all__ = [
    "blahut_arimoto", "channel_capacity", "channel_matrix", "reachable_counts", "empowerment_of_states",
    "empowerment_map",
]

_CACHE: dict[tuple, np.ndarray] = {}


def _grid(layout: str | Layout | Grid) -> Grid:
    if isinstance(layout, Grid):
        return layout
    return compiled(get_layout(layout))


# --- deterministic: reachable-set counts -------------------------------------------------------------


def reachable_counts(next_table: np.ndarray, n: int, sensor: np.ndarray | None = None) -> np.ndarray:
    """Number of distinct sensor readings reachable in exactly ``n`` steps from every state.

    ``next_table`` (S, A) gives the next state of each action; ``sensor`` (S,) maps states to readings
    (identity if None). R_k(s) = union over a of R_{k-1}(next(s, a)), on bitsets of readings.
    """
    n_states = len(next_table)
    sensor = np.arange(n_states) if sensor is None else np.asarray(sensor)
    _, reading = np.unique(sensor, return_inverse=True)
    n_read = int(reading.max()) + 1
    if n_states * n_read <= 50_000_000:
        m = np.zeros((n_states, n_read), bool)
        m[np.arange(n_states), reading] = True
        for _ in range(n):
            new = m[next_table[:, 0]]
            for a in range(1, next_table.shape[1]):
                new |= m[next_table[:, a]]
            m = new
        return m.sum(1)
    from scipy import sparse  # deferred: scipy is slow to import and only worlds too big for dense bitsets need it

    adj = sparse.csr_matrix((np.ones(next_table.size, np.float32),
                             (np.repeat(np.arange(n_states), next_table.shape[1]), next_table.ravel())),
                            shape=(n_states, n_states))
    adj.data[:] = 1.0  # duplicate entries were summed
    m = sparse.csr_matrix((np.ones(n_states, np.float32), (np.arange(n_states), reading)),
                          shape=(n_states, n_read))
    for _ in range(n):
        m = (adj @ m).tocsr()
        m.data[:] = 1.0
    return np.diff(m.indptr)


# --- noisy: the n-step channel and Blahut-Arimoto ----------------------------------------------------


def blahut_arimoto(channel: np.ndarray, tol: float = 1e-7, max_iter: int = 100_000,
                   p0: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Capacity in bits of a channel with rows p(y | x) (each row sums to 1), and the optimal p(x).

    Stops when the upper bound max_x D(p(y|x) || q) and the lower bound log2 sum_x p(x) 2^D_x differ by
    less than ``tol`` bits (or after ``max_iter`` iterations); returns the lower bound and p(x).
    ``p0`` is the starting input distribution (uniform by default).
    """
    P = np.asarray(channel, np.float64)
    P = P[:, P.sum(0) > 0]
    with np.errstate(divide="ignore"):
        logp = np.where(P > 0, np.log2(np.where(P > 0, P, 1.0)), 0.0)
    neg_h = (P * logp).sum(1)
    p = np.full(len(P), 1.0 / len(P)) if p0 is None else np.asarray(p0, np.float64) / np.sum(p0)
    lower = 0.0
    for _ in range(max_iter):
        q = p @ P
        d = neg_h - P @ np.log2(q)
        pd = p * np.exp2(d - d.max())
        z = pd.sum()
        lower = float(np.log2(z) + d.max())
        if d.max() - lower < tol:
            break
        p = pd / z
    return max(lower, 0.0), p


def channel_capacity(channel: np.ndarray, tol: float = 1e-9) -> tuple[float, float, np.ndarray]:
    """Capacity of a channel with rows p(y | x): (lower bound, upper bound, optimal p(x)), in bits.

    Blahut-Arimoto warm start, then the dual min_q max_x D(p(y|x) || q) solved exactly on the active
    rows (SLSQP in log q, where the row constraints are linear), adding violated rows until none is left.
    The upper bound is max_x D at that q; the lower bound is I(p) for p fitted to q on the active rows.
    Plain Blahut-Arimoto needs 10^4-10^5 iterations when the optimal p is sparse (n-step noisy channels);
    this takes a few solver calls. Falls back to Blahut-Arimoto if the solver fails.
    """
    from scipy.optimize import minimize, nnls  # deferred: ~0.3 s to import, needed only with action noise

    P = np.asarray(channel, np.float64)
    P = P[:, P.sum(0) > 0]
    r, m = P.shape
    if r == 1 or m == 1:
        return 0.0, 0.0, np.full(r, 1.0 / r)
    with np.errstate(divide="ignore"):
        neg_h = (P * np.where(P > 0, np.log2(np.where(P > 0, P, 1.0)), 0.0)).sum(1)

    def div(q: np.ndarray) -> np.ndarray:
        return neg_h - P @ np.log2(q)

    p = np.full(r, 1.0 / r)
    for _ in range(30):
        d = div(p @ P)
        p *= np.exp2(d - d.max())
        p /= p.sum()
    q = p @ P
    d = div(q)
    active = np.argsort(-d)[: min(r, 2 * m + 5)]
    ln2 = np.log(2.0)
    for _ in range(50):
        pa, na = P[active], neg_h[active]
        y0 = np.log(q)
        cons = [
            {"type": "ineq", "fun": lambda x, pa=pa, na=na: x[-1] - na + pa @ x[:-1] / ln2,
             "jac": lambda x, pa=pa: np.hstack([pa / ln2, np.ones((len(pa), 1))])},
            {"type": "ineq", "fun": lambda x: 1.0 - np.exp(x[:-1]).sum(),
             "jac": lambda x: np.append(-np.exp(x[:-1]), 0.0)[None]},
        ]
        res = minimize(lambda x: x[-1], np.append(y0, (na - pa @ y0 / ln2).max()),
                       jac=lambda x: np.append(np.zeros(m), 1.0), constraints=cons, method="SLSQP",
                       options={"ftol": 1e-12, "maxiter": 1000})
        if not np.all(np.isfinite(res.x)):  # (a line-search stop near the optimum is still usable)
            break
        q = np.exp(res.x[:-1])
        q /= q.sum()
        d = div(q)
        new = np.setdiff1d(np.flatnonzero(d > res.x[-1] + 1e-11), active)
        if len(new) == 0:
            break
        active = np.union1d(active, new[np.argsort(-d[new])[:m]])
    upper = float(d.max())
    best_lower, best_p = -np.inf, p
    for eps in (1e-11, 1e-9, 1e-7, 1e-5):  # rows on the capacity "plateau" carry the optimal input
        act = np.flatnonzero(d >= upper - eps)
        w, _ = nnls(P[act].T, q)
        if w.sum() > 0:
            p_try = np.zeros(r)
            p_try[act] = w / w.sum()
            lower = float(p_try @ div(p_try @ P))
            if lower > best_lower:
                best_lower, best_p = lower, p_try
    if upper - best_lower <= tol:
        return best_lower, upper, best_p
    lower, p = blahut_arimoto(P, tol=tol, max_iter=20_000, p0=0.5 * best_p + 0.5 / r)
    return max(lower, best_lower), min(upper, float(div(p @ P).max())), p


def _local(next_table: np.ndarray, s: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """States within ``n`` steps of ``s`` (sorted) and the next-state table restricted to them (targets
    outside the set, only possible from the outermost states and never used, map to themselves)."""
    loc = np.array([s])
    for _ in range(n):
        loc = np.union1d(loc, next_table[loc].ravel())
    t = next_table[loc]
    idx = np.searchsorted(loc, t)
    idx_c = np.minimum(idx, len(loc) - 1)
    inside = loc[idx_c] == t
    return loc, np.where(inside, idx_c, np.arange(len(loc))[:, None])


def _unique_rows(m: np.ndarray) -> np.ndarray:
    r = np.round(m, 12) + 0.0  # + 0.0 turns -0.0 into 0.0
    return np.unique(r, axis=0)


def channel_matrix(next_table: np.ndarray, n: int, noise: float, s: int, sensor: np.ndarray | None = None,
                   dedupe: bool = True) -> np.ndarray:
    """Rows p(sensor reading after n steps | action sequence) from state ``s`` for 5 actions where each
    intended action is replaced with probability ``noise`` by one of the other four.

    With ``dedupe`` identical rows are merged after every step (same capacity, far fewer rows); without it
    the full 5^n x readings matrix is returned, rows in lexicographic order of the sequences.
    Columns: the distinct readings of the states within n steps of ``s``.
    """
    loc, lnext = _local(next_table, s, n)
    m_loc = len(loc)
    n_act = lnext.shape[1]
    onehot = np.zeros((n_act, m_loc, m_loc))
    for b in range(n_act):
        onehot[b, np.arange(m_loc), lnext[:, b]] = 1.0
    total = onehot.sum(0)
    other = noise / (n_act - 1)
    trans = (1.0 - noise - other) * onehot + other * total[None]  # (A, m, m)
    rows = np.zeros((1, m_loc))
    rows[0, np.searchsorted(loc, s)] = 1.0
    for _ in range(n):
        rows = np.einsum("rm,amk->ark", rows, trans).reshape(-1, m_loc)
        if dedupe:
            rows = _unique_rows(rows)
    if not dedupe:  # einsum put the action axis first: reorder rows to lexicographic sequence order
        rows = rows.reshape((n_act,) * n + (m_loc,)).transpose(tuple(range(n - 1, -1, -1)) + (n,))
        rows = rows.reshape(-1, m_loc)
    if sensor is not None:
        readings, col = np.unique(np.asarray(sensor)[loc], return_inverse=True)
        agg = np.zeros((m_loc, len(readings)))
        agg[np.arange(m_loc), col] = 1.0
        rows = rows @ agg
        if dedupe:
            rows = _unique_rows(rows)
    return rows


def _noisy_empowerment(next_table: np.ndarray, n: int, noise: float, sensor: np.ndarray | None,
                       states: np.ndarray, tol: float) -> np.ndarray:
    out = np.empty(len(states))
    for i, s in enumerate(states):
        rows = channel_matrix(next_table, n, noise, int(s), sensor)
        out[i] = channel_capacity(rows, tol=tol)[0]
    return out


# --- public ground truth -----------------------------------------------------------------------------


def empowerment_of_states(layout: str | Layout | Grid, n: int, noise: float = 0.0,
                          sensor: str = "position", tol: float = 1e-7) -> np.ndarray:
    """True n-step empowerment (bits) of every state of the layout's :class:`StateSpace` (free cells,
    or every agent x box configuration), cached. Read-only array indexed like ``grid.state_space()``."""
    grid = _grid(layout)
    n = check_int("n", n, 0, 64)
    noise = check_float("noise", noise, 0.0, 1.0)
    sensor = check_choice("sensor", sensor, ("position", "state"))
    space: StateSpace = grid.state_space()
    key = (grid.layout.key, n, noise, sensor, tol)
    if key not in _CACHE:
        reading = space.sensor(sensor)
        if noise == 0.0 or n == 0:
            e = np.log2(reachable_counts(space.next, n, reading))
        else:
            e = _noisy_empowerment(space.next, n, noise, reading, np.arange(space.n_states), tol)
        e = np.asarray(e, np.float64)
        e.setflags(write=False)
        if len(_CACHE) > 256:
            _CACHE.clear()
        _CACHE[key] = e
    return _CACHE[key]


def empowerment_map(layout: str | Layout | Grid, n: int, noise: float = 0.0, sensor: str = "position",
                    boxes: tuple[int, ...] | None = None, tol: float = 1e-7) -> np.ndarray:
    """(h, w) map of true n-step empowerment (bits) of every free cell; NaN on blocked cells (and on
    box cells). With boxes, the agent stands in each cell with the boxes at ``boxes`` (default: the
    layout's initial boxes)."""
    grid = _grid(layout)
    lay = grid.layout
    e = empowerment_of_states(grid, n, noise, sensor, tol)
    space = grid.state_space()
    out = np.full(lay.n_cells, np.nan)
    boxes = tuple(sorted(lay.boxes if boxes is None else boxes))
    if len(boxes) != len(lay.boxes):
        raise ValueError(f"boxes={boxes!r} must list {len(lay.boxes)} cells, like the layout's boxes")
    cells = np.setdiff1d(lay.free_cells, boxes)
    bx = np.tile(np.asarray(boxes, np.intp), (len(cells), 1)).reshape(len(cells), len(boxes))
    out[cells] = e[space.index(cells, bx)]
    return out.reshape(lay.h, lay.w)
