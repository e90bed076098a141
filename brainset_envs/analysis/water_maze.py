"""WaterMaze ground truth and behaviour: ideal latency, escape latency per trial and per day, path length,
and time per quadrant in probe trials, computed from episode logs (``info`` dicts).

:func:`ideal_latency` is defined in :mod:`brainset_envs.tasks.water_maze` (the env reports it in ``info``)
and re-exported here with the rest of the task's ground truth.

Usable without the ``agents`` package: an SB3 user logs the infos of ``BrainSet/WaterMaze-v0`` and calls
:func:`trials_from_infos`, then :func:`latency_per_day` or :func:`probe_quadrant_times`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brainset_envs.tasks.water_maze import ideal_latency

#: quadrant names in the order returned by :func:`quadrant_occupancy`
QUADRANTS = ("target", "adjacent_ccw", "opposite", "adjacent_cw")


def path_length(positions: np.ndarray) -> float:
    """Total distance swum along a (T, 2) sequence of positions."""
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2:
        raise ValueError(f"positions has shape {p.shape}; expected (T, 2)")
    return float(np.hypot(*np.diff(p, axis=0).T).sum()) if len(p) > 1 else 0.0


def quadrant_occupancy(positions: np.ndarray, platform: Sequence[float]) -> np.ndarray:
    """Fraction of time in each quadrant of the pool, quadrants centred on the platform's direction.

    Order (:data:`QUADRANTS`): target (the platform's quadrant), adjacent counter-clockwise, opposite,
    adjacent clockwise. Positions are relative to the pool centre; the first position (the start, before
    any swimming) is included, as every sample is one step of time.
    """
    p = np.asarray(positions, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 2 or len(p) == 0:
        raise ValueError(f"positions has shape {p.shape}; expected (T, 2) with T >= 1")
    ref = np.arctan2(platform[1], platform[0])
    rel = np.mod(np.arctan2(p[:, 1], p[:, 0]) - ref + np.pi / 4, 2 * np.pi)
    q = np.minimum((rel // (np.pi / 2)).astype(np.int64), 3)
    return np.bincount(q, minlength=4) / len(p)


@dataclass
class Trial:
    """One water-maze trial rebuilt from its infos."""

    day: int
    trial: int
    probe: bool
    start: int
    platform: tuple[float, float]
    positions: np.ndarray  # (steps + 1, 2), the start included
    escape_latency: int  # steps to the platform, -1 when not found
    ideal_latency: int

    @property
    def steps(self) -> int:
        """Steps swum in the trial."""
        return len(self.positions) - 1

    @property
    def latency(self) -> int:
        """Escape latency, or the trial's length when the platform was not found (a timeout)."""
        return self.escape_latency if self.escape_latency >= 0 else self.steps

    @property
    def path_length(self) -> float:
        return path_length(self.positions)


def trials_from_infos(infos: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """Split a stream of single-env ``info`` dicts (from ``reset`` and every ``step``) into trials.

    A trial starts at an info whose ``steps`` is 0 (the reset); incomplete trials are kept as they are.
    """
    trials: list[Trial] = []
    cur: dict[str, Any] | None = None
    pos: list[tuple[float, float]] = []

    def close() -> None:
        if cur is not None:
            trials.append(Trial(
                day=int(cur["day"]), trial=int(cur["trial"]), probe=bool(cur["probe"]),
                start=int(cur["start"]), platform=(float(cur["platform_x"]), float(cur["platform_y"])),
                positions=np.asarray(pos, dtype=np.float64), escape_latency=int(cur["escape"]),
                ideal_latency=int(cur["ideal_latency"])))

    for info in infos:
        missing = {"x", "y", "steps", "day", "trial"} - set(info)
        if missing:
            raise KeyError(f"info lacks {sorted(missing)}: pass the infos of a WaterMaze env")
        if int(info["steps"]) == 0:
            close()
            cur = dict(info)
            cur["escape"] = -1
            pos = []
        elif cur is None:
            raise ValueError("the info stream must begin with a reset (an info with steps == 0)")
        pos.append((float(info["x"]), float(info["y"])))
        if int(info.get("escape_latency", -1)) >= 0:
            cur["escape"] = int(info["escape_latency"])
    close()
    return trials


def latency_per_day(trials: Sequence[Trial], include_probes: bool = False) -> dict[int, float]:
    """Mean escape latency (timeouts count as the trial length) of each day, probe trials excluded."""
    by_day: dict[int, list[int]] = {}
    for t in trials:
        if include_probes or not t.probe:
            by_day.setdefault(t.day, []).append(t.latency)
    return {d: float(np.mean(v)) for d, v in sorted(by_day.items())}


def latency_table(latencies: np.ndarray) -> np.ndarray:
    """Mean latency per day from an array (rats, days, trials per day): mean over rats and trials."""
    lat = np.asarray(latencies, dtype=np.float64)
    if lat.ndim != 3:
        raise ValueError(f"latencies has shape {lat.shape}; expected (rats, days, trials_per_day)")
    return lat.mean(axis=(0, 2))


def probe_quadrant_times(trials: Sequence[Trial]) -> np.ndarray:
    """Quadrant occupancy (rows: probe trials; columns: :data:`QUADRANTS`) of every probe trial."""
    rows = [quadrant_occupancy(t.positions, t.platform) for t in trials if t.probe]
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


__all__ = [
    "QUADRANTS", "Trial", "ideal_latency", "latency_per_day", "latency_table", "path_length",
    "probe_quadrant_times", "quadrant_occupancy", "trials_from_infos",
]
