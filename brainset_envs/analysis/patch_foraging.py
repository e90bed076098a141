"""PatchForaging ground truth and behaviour: the MVT optimum, the oracle forager, its simulation, and
statistics of any log.

The exact MVT solution (:func:`mvt_optimum`, :func:`discounted_threshold`, :func:`policy_stats`,
:class:`ForagingParams`, ...) and the oracle forager (:class:`MVTOracle`) are defined in
:mod:`brainset_envs.tasks.patch_foraging_mvt`, because the env itself needs them (it checks ``reward_floor``
against rho*, draws rho* and exposes ``oracle_action``); they are re-exported here, the one place to import
the task's ground truth from.

A *log* is a dict of equally shaped arrays, one entry per step (any shape: (steps,) for one env,
(steps, envs) for a vector env):

- ``action``: the action taken (0 harvest, 1 leave);
- ``reward``: the reward of the step; ``duration``: ``info["duration"]`` after the step;
- ``expected_reward``: ``info["expected_reward"]`` (kappa_bar * s) *before* the step, i.e. in the state
  where the action was chosen; ``harvests``: ``info["harvests"]`` before the step;
- ``valid`` (optional): which entries are real steps (e.g. not a vector env's autoreset step).

:func:`record_log` builds one from a single env and any policy; an SB3 or custom loop can fill the same
keys from its ``info`` dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from brainset_envs.core.params import check_int
from brainset_envs.tasks.patch_foraging import PatchForagingVectorEnv
from brainset_envs.tasks.patch_foraging_mvt import (
    DEPLETION_PRESETS,
    DX,
    SHALLOW,
    STEEP,
    ForagingParams,
    MVTOptimum,
    MVTOracle,
    arrival_reward,
    discounted_threshold,
    expected_harvest,
    make_params,
    mvt_optimum,
    policy_stats,
    rate_lower_bound,
    resolve_depletion,
    richness_for,
)

HARVEST, LEAVE = 0, 1
LOG_KEYS = ("action", "reward", "duration", "expected_reward", "harvests")

__all__ = [
    "DEPLETION_PRESETS", "DX", "HARVEST", "LEAVE", "LOG_KEYS", "SHALLOW", "STEEP", "ForagingParams", "MVTOptimum",
    "MVTOracle", "arrival_reward", "discounted_threshold", "expected_harvest", "foraging_stats", "make_params",
    "mvt_optimum", "policy_stats", "rate_lower_bound", "record_log", "resolve_depletion", "richness_for",
    "simulate_oracle",
]


def foraging_stats(log: dict[str, Any], optimum: MVTOptimum | float | None = None) -> dict[str, float]:
    """Leaving behaviour and reward rate from a log (see the module docstring).

    Returns ``leave_threshold`` (mean expected next reward at the leave decisions: the empirical
    leaving threshold), its ``leave_threshold_sd``, ``n_leaves``, ``harvests_per_patch`` (harvests at
    leaving, the arrival harvest included; patches cut by the block end are not counted),
    ``reward_rate`` (total reward / total task time) and, given ``optimum`` (an :class:`MVTOptimum` or
    rho*), ``rate_ratio`` = reward_rate / rho*; with an MVTOptimum also ``optimal_leave_threshold`` (the
    same statistic for the optimal forager) and ``threshold_gap`` (agent minus optimal: < 0 = overstays).
    """
    missing = [k for k in LOG_KEYS if k not in log]
    if missing:
        raise KeyError(f"log lacks {missing}; a foraging log needs the keys {list(LOG_KEYS)}")
    arr = {k: np.asarray(log[k]) for k in LOG_KEYS}
    shape = arr["action"].shape
    for k, v in arr.items():
        if v.shape != shape:
            raise ValueError(f"log[{k!r}] has shape {v.shape}, expected {shape} like log['action']")
    valid = np.asarray(log.get("valid", np.ones(shape, dtype=bool)), dtype=bool)
    leave = valid & (arr["action"] == LEAVE)
    time = float(arr["duration"][valid].sum())
    out: dict[str, float] = {
        "n_leaves": int(leave.sum()),
        "leave_threshold": float(arr["expected_reward"][leave].mean()) if leave.any() else float("nan"),
        "leave_threshold_sd": float(arr["expected_reward"][leave].std()) if leave.any() else float("nan"),
        "harvests_per_patch": float(arr["harvests"][leave].mean()) if leave.any() else float("nan"),
        "reward_rate": float(arr["reward"][valid].sum()) / time if time > 0 else float("nan"),
    }
    if optimum is not None:
        rho = optimum.rate if isinstance(optimum, MVTOptimum) else float(optimum)
        out["rate_ratio"] = out["reward_rate"] / rho
        if isinstance(optimum, MVTOptimum):
            out["optimal_leave_threshold"] = optimum.leave_reward_mean
            out["threshold_gap"] = out["leave_threshold"] - optimum.leave_reward_mean
    return out


def record_log(env: Any, policy: Callable[[Any, dict[str, Any]], Any], n_episodes: int = 1,
               seed: int | None = None) -> dict[str, np.ndarray]:
    """Run ``policy(obs, info) -> action`` on a single PatchForaging env for ``n_episodes`` blocks and
    return the log (keys of :data:`LOG_KEYS`)."""
    n_episodes = check_int("n_episodes", n_episodes, 1)
    rows: dict[str, list[float]] = {k: [] for k in LOG_KEYS}
    obs, info = env.reset(seed=seed)
    done = 0
    while done < n_episodes:
        action = policy(obs, info)
        rows["expected_reward"].append(info["expected_reward"])
        rows["harvests"].append(info["harvests"])
        obs, reward, terminated, truncated, info = env.step(action)
        rows["action"].append(int(action))
        rows["reward"].append(float(reward))
        rows["duration"].append(info["duration"])
        if terminated or truncated:
            done += 1
            if done < n_episodes:
                obs, info = env.reset()
    return {k: np.asarray(v) for k, v in rows.items()}


def simulate_oracle(n_envs: int = 64, n_blocks: int = 8, seed: int = 0, thresholds: Any = None,
                    **env_kwargs: Any) -> dict[str, float]:
    """Run the MVT oracle on the native vector env (``env_kwargs`` as for PatchForaging) for ``n_blocks``
    blocks per env; return :func:`foraging_stats` of the whole run (with ``rate_ratio`` against rho* of
    the first condition) and ``blocks``. With a single condition the rate approaches rho* up to the
    block's start and end effects (well under 1% for 390 s blocks)."""
    n_envs, n_blocks = check_int("n_envs", n_envs, 1), check_int("n_blocks", n_blocks, 1)
    envs = PatchForagingVectorEnv(num_envs=n_envs, **env_kwargs)
    oracle = MVTOracle.from_env(envs, thresholds)
    obs, info = envs.reset(seed=seed)
    finished = np.zeros(n_envs, dtype=np.int64)
    resetting = np.zeros(n_envs, dtype=bool)  # NEXT_STEP autoreset: this step only resets the env
    cols: dict[str, list[np.ndarray]] = {k: [] for k in (*LOG_KEYS, "valid")}
    while (finished < n_blocks).any():
        action = oracle(info)
        cols["expected_reward"].append(info["expected_reward"])
        cols["harvests"].append(info["harvests"])
        cols["valid"].append(~resetting & (finished < n_blocks))
        obs, reward, terminated, truncated, info = envs.step(action)
        cols["action"].append(action)
        cols["reward"].append(reward)
        cols["duration"].append(info["duration"])
        ended = (terminated | truncated) & ~resetting
        finished += ended
        resetting = ended
    envs.close()
    log = {k: np.stack(v) for k, v in cols.items()}
    optimum = mvt_optimum(envs.core.conditions[0]) if len(envs.core.conditions) == 1 else None
    stats = foraging_stats(log, optimum)
    stats["blocks"] = float(n_envs * n_blocks)
    return stats
