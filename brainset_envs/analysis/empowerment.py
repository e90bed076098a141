"""Exact n-step empowerment of grid worlds, exploration metrics and reference exploration policies.

Empowerment (Klyubin, Polani & Nehaniv 2005) is the channel capacity, in bits, from an n-step action
sequence to the sensor reading n steps later: E_n(s) = max_{p(a^n)} I(A^n; S_{t+n} | s).

- Deterministic dynamics: E_n(s) = log2 of the number of distinct sensor readings reachable in n steps.
  All states at once by propagating reachable-set bitsets through the next-state table (dense for small
  worlds, sparse for box worlds).
- Noisy dynamics (with probability p the intended action is replaced by one of the other four): Blahut-
  Arimoto on the n-step channel. The channel is built by propagating output distributions one step at a
  time and merging identical rows after each step (duplicate inputs do not change the capacity), so the
  5^n x |S| matrix is never formed unless asked for (``dedupe=False``).

The exact computation (cached per layout, n, noise, sensor) is part of the task, in
:mod:`brainset_envs.tasks.empowerment_grid_exact` (the env reports empowerment in ``info``), and is
re-exported here. Exploration metrics (coverage, normalised visitation entropy, time to 90% coverage) and
batched reference policies (random walk, count-based, greedy true empowerment) follow tasks.md section 5.
"""

from __future__ import annotations

import numpy as np

from brainset_envs.core.grid import N_MOVES, Grid, Layout
from brainset_envs.core.params import check_choice, check_int
from brainset_envs.tasks.empowerment_grid_exact import (
    _grid,
    blahut_arimoto,
    channel_capacity,
    channel_matrix,
    empowerment_map,
    empowerment_of_states,
    reachable_counts,
)

__all__ = [
    "blahut_arimoto", "channel_capacity", "channel_matrix", "reachable_counts", "empowerment_of_states",
    "empowerment_map",
    "coverage", "visitation_entropy", "time_to_coverage", "exploration_metrics", "run_reference_policy",
    "REFERENCE_POLICIES",
]

# --- exploration metrics -----------------------------------------------------------------------------


def coverage(trajectory: np.ndarray, n_reachable: int) -> float:
    """Fraction of the ``n_reachable`` states visited by a trajectory of state (cell) indices."""
    return len(np.unique(np.asarray(trajectory))) / float(n_reachable)


def visitation_entropy(trajectory: np.ndarray, n_reachable: int) -> float:
    """Entropy of the visitation distribution divided by log |S| (1 = uniform over all states)."""
    _, counts = np.unique(np.asarray(trajectory), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(n_reachable)) if n_reachable > 1 else 1.0


def time_to_coverage(trajectory: np.ndarray, n_reachable: int, fraction: float = 0.9) -> int | None:
    """Number of steps until ``fraction`` of the reachable states have been visited (the start counts
    as visited at step 0); None if never reached."""
    traj = np.asarray(trajectory)
    first = np.zeros(len(traj), bool)
    _, idx = np.unique(traj, return_index=True)
    first[idx] = True
    seen = np.cumsum(first)
    hit = np.flatnonzero(seen >= np.ceil(fraction * n_reachable))
    return int(hit[0]) if len(hit) else None


def exploration_metrics(trajectory: np.ndarray, layout: str | Layout | Grid) -> dict[str, float | None]:
    """Coverage, normalised visitation entropy and time to 90% coverage of one trajectory of cells,
    relative to the cells reachable from its first cell."""
    grid = _grid(layout)
    traj = np.asarray(trajectory)
    n_reach = int(grid.reachable_from(int(traj[0])).sum())
    return {"coverage": coverage(traj, n_reach), "entropy": visitation_entropy(traj, n_reach),
            "time_to_90": time_to_coverage(traj, n_reach, 0.9)}


# --- reference policies ------------------------------------------------------------------------------

REFERENCE_POLICIES = ("random", "count", "empowerment")


def run_reference_policy(layout: str | Layout | Grid, policy: str, steps: int, start: int | tuple[int, int],
                         n_walkers: int = 1, rng: np.random.Generator | int | None = 0,
                         empowerment_n: int = 3) -> np.ndarray:
    """Trajectories (n_walkers, steps + 1) of cells under a reference policy, all walkers at once.

    - 'random': uniform over the 5 actions.
    - 'count': least-visited neighbour (the N/S/E/W target with the fewest visits so far, ties at
      random).
    - 'empowerment': greedy true empowerment: the action (stay included) whose target cell has the
      highest true ``empowerment_n``-step empowerment, ties at random.
    Deterministic moves, boxes ignored.
    """
    grid = _grid(layout)
    policy = check_choice("policy", policy, REFERENCE_POLICIES)
    steps = check_int("steps", steps, 0)
    n_walkers = check_int("n_walkers", n_walkers, 1)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    cell0 = grid.layout.cell(*start) if isinstance(start, (tuple, list)) else int(start)
    if not (0 <= cell0 < grid.n_cells) or grid.layout.blocked.ravel()[cell0]:
        raise ValueError(f"start={start!r} must be a free cell of the layout")
    traj = np.empty((n_walkers, steps + 1), np.intp)
    cell = np.full(n_walkers, cell0, np.intp)
    traj[:, 0] = cell
    rows = np.arange(n_walkers)
    counts = np.zeros((n_walkers, grid.n_cells))
    counts[rows, cell] = 1
    value = None
    if policy == "empowerment":
        value = np.full(grid.n_cells, -np.inf)
        value[grid.free_cells] = empowerment_of_states(grid.layout.replace(boxes=()), empowerment_n)
    for t in range(1, steps + 1):
        if policy == "random":
            action = rng.integers(0, N_MOVES, n_walkers)
        elif policy == "count":
            targets = grid.next[cell, :4]
            score = counts[rows[:, None], targets] + rng.random((n_walkers, 4)) * 0.5
            action = score.argmin(1)
        else:
            assert value is not None  # policy == "empowerment" set it above
            targets = grid.next[cell]
            score = value[targets]
            best = score == score.max(1, keepdims=True)
            action = (best * rng.random((n_walkers, N_MOVES))).argmax(1)
        cell = grid.next[cell, action]
        counts[rows, cell] += 1
        traj[:, t] = cell
    return traj
