"""BCI ground truth and behaviour: the decoder in effect and the intrinsic manifold, the optimal activity for
each target, the minimum-time path, and how much of the pre-perturbation performance an agent recovers.

The decoder maths (:class:`Decoder`, :func:`optimal_activity`, :func:`min_steps`, :func:`fit_manifold`, ...)
is defined in :mod:`brainset_envs.tasks.bci_decoder` (the env fits and normalises its decoders with it, and
its ``oracle_action`` drives :func:`optimal_activity`) and re-exported here.

Usable without the ``agents`` package: log the infos of ``BrainSet/BCIWithinManifold-v0``, call
:func:`trials_from_infos`, then :func:`fraction_recovered`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from brainset_envs.tasks.bci import BLOCKS, CALIBRATION, INTUITIVE, OUTSIDE, WITHIN, BCICore
from brainset_envs.tasks.bci_decoder import (
    Decoder,
    cap_speed,
    fit_manifold,
    inradius,
    min_steps,
    optimal_activity,
    reachable_speed,
    span_residual,
    straight_path,
)


def _core_state(env: Any) -> tuple[BCICore, dict[str, np.ndarray]]:
    """The core and state of a BCI env or vector env (wrappers included)."""
    inner = getattr(env, "unwrapped", env)
    core = getattr(inner, "core", None)
    if not isinstance(core, BCICore):
        raise TypeError(f"env={env!r} is not a BCI env (BrainSet/BCI*-v0)")
    return core, inner.state


def decoder_in_effect(env: Any, i: int = 0) -> Decoder:
    """The decoder env ``i`` uses now (gain included): velocity = ``M a - b`` capped at ``max_speed``.
    During a calibration block with ``calibration="observe"`` the cursor ignores it."""
    core, state = _core_state(env)
    return core.decoder(state, i)


def manifold(env: Any, i: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The intrinsic manifold of env ``i``: its basis (N, K) and the mean activity (N,) (the default
    manifold until a calibration fit is kept; ``info["fitted"]`` says which)."""
    _, state = _core_state(env)
    return state["L"][i].copy(), state["mu"][i].copy()


def target_positions(env: Any) -> np.ndarray:
    """The targets (n, dim): cursor positions, or grating angles in degrees (the start is 0)."""
    core, _ = _core_state(env)
    return core.targets.copy()


def optimal_activities(decoder: Decoder, targets: np.ndarray, bounded: bool = True) -> np.ndarray:
    """For each target (n, dim), the minimum-norm activity (n, N) that moves from the start (0) toward it at
    ``max_speed`` (the fastest any activity can, the speed cap); ``bounded=False`` for unbounded units
    (the pseudo-inverse)."""
    t = np.asarray(targets, dtype=np.float64).reshape(-1, decoder.dim)
    want = t / np.sqrt((t * t).sum(-1, keepdims=True)) * decoder.max_speed
    return np.array([optimal_activity(decoder, v, bounded=bounded) for v in want])


@dataclass
class BCITrial:
    """One trial rebuilt from its infos."""

    day: int
    block: int  # code: BLOCKS[block] is its name
    trial: int
    target: int
    success: bool
    steps: int  # steps taken (the acquisition time of a success, the time limit of a timeout)
    min_steps: int

    @property
    def block_name(self) -> str:
        return BLOCKS[self.block]


def trials_from_infos(infos: Iterable[Mapping[str, Any]]) -> list[BCITrial]:
    """Split a stream of single-env ``info`` dicts (from ``reset`` and every ``step``) into trials; a trial
    starts at an info whose ``steps`` is 0 (a reset). A trial cut short by a reset keeps its steps so far."""
    trials: list[BCITrial] = []
    cur: dict[str, Any] | None = None

    def close() -> None:
        if cur is not None:
            trials.append(BCITrial(int(cur["day"]), int(cur["block"]), int(cur["trial"]), int(cur["target"]),
                                   bool(cur["success"]), int(cur["steps"]), int(cur["min_steps"])))

    for info in infos:
        missing = {"day", "block", "trial", "target", "steps", "success", "min_steps"} - set(info)
        if missing:
            raise KeyError(f"info lacks {sorted(missing)}: pass the infos of a BCI env")
        if int(info["steps"]) == 0:
            close()
            cur = dict(info)
        elif cur is None:
            raise ValueError("the info stream must begin with a reset (an info with steps == 0)")
        else:
            cur["steps"], cur["success"] = info["steps"], info["success"]
    close()
    return trials


def performance(trials: Sequence[BCITrial]) -> np.ndarray:
    """A point (success rate, speed) of a set of trials, both in [0, 1], higher better: speed = mean fewest
    steps / mean steps taken (timeouts count their full length); Sadtler's two measures, success rate and
    acquisition time, on a common scale."""
    if not trials:
        raise ValueError("performance() needs at least one trial")
    success = np.mean([t.success for t in trials])
    speed = np.mean([t.min_steps for t in trials]) / np.mean([max(t.steps, 1) for t in trials])
    return np.array([success, speed])


def recovered(pre: Any, early: Any, late: Any) -> float:
    """Fraction of the drop from ``pre`` to ``early`` performance that ``late`` recovers: ``(late - early) /
    (pre - early)``; for vectors, the projection of ``late - early`` on ``pre - early`` over its squared
    length (Sadtler's amount of learning). NaN when there was no drop."""
    p, e, l_ = (np.atleast_1d(np.asarray(x, dtype=np.float64)) for x in (pre, early, late))
    drop = p - e
    norm2 = float(drop @ drop)
    return float((l_ - e) @ drop / norm2) if norm2 > 0 else float("nan")


def fraction_recovered(trials: Sequence[BCITrial], window: int = 50) -> dict[str, Any]:
    """How much of the pre-perturbation performance an agent recovers during its first perturbation block.

    ``pre``: the last ``window`` intuitive trials before the first within/outside trial; ``early`` and
    ``late``: the first and last ``window`` trials of that perturbation block (contiguous trials of one
    kind). Returns the fraction recovered on each measure of :func:`performance` (``success``, ``speed``)
    and along the line between the two points (``amount``, Sadtler's amount of learning), with the three
    points and the block's name."""
    if window < 1:
        raise ValueError(f"window={window!r} must be >= 1")
    blocks = [t.block for t in trials]
    first = next((k for k, b in enumerate(blocks) if b in (WITHIN, OUTSIDE)), None)
    if first is None:
        raise ValueError("no within- or outside-manifold trial in the log")
    end = first
    while end < len(trials) and blocks[end] == blocks[first]:
        end += 1
    pre_idx = [k for k in range(first) if blocks[k] == INTUITIVE][-window:]
    if not pre_idx:
        raise ValueError("no intuitive trial before the perturbation: nothing to compare with")
    pert = trials[first:end]
    pre, early, late = (performance(x) for x in ([trials[k] for k in pre_idx], pert[:window], pert[-window:]))
    return {
        "block": BLOCKS[blocks[first]], "success": recovered(pre[0], early[0], late[0]),
        "speed": recovered(pre[1], early[1], late[1]), "amount": recovered(pre, early, late),
        "pre": pre.tolist(), "early": early.tolist(), "late": late.tolist(),
    }


__all__ = [
    "BLOCKS", "BCITrial", "CALIBRATION", "Decoder", "INTUITIVE", "OUTSIDE", "WITHIN", "cap_speed",
    "decoder_in_effect", "fit_manifold", "fraction_recovered", "inradius", "manifold", "min_steps",
    "optimal_activities", "optimal_activity", "performance", "reachable_speed", "recovered", "span_residual",
    "straight_path", "target_positions", "trials_from_infos",
]
