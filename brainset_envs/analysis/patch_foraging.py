"""Foraging behaviour against the MVT: the oracle forager, its simulation, and statistics of any log.

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
from brainset_envs.tasks.patch_foraging_mvt import ForagingParams, MVTOptimum, mvt_optimum

HARVEST, LEAVE = 0, 1
LOG_KEYS = ("action", "reward", "duration", "expected_reward", "harvests")


class MVTOracle:
    """The optimal forager: harvest again iff the expected next reward ``kappa_bar * s`` (from ``info``)
    is at least T* of the block's condition. Call it with an env's ``info`` (single or vector)."""

    def __init__(self, conditions: ForagingParams | list[ForagingParams], thresholds: Any = None):
        self.conditions = [conditions] if isinstance(conditions, ForagingParams) else list(conditions)
        if thresholds is None:
            thresholds = [mvt_optimum(c).threshold for c in self.conditions]
        self.thresholds = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
        if len(self.thresholds) != len(self.conditions):
            raise ValueError(f"thresholds={thresholds!r}: need one per condition ({len(self.conditions)})")
        self._kbar = np.array([c.kappa_mean for c in self.conditions])
        self._tau = np.array([c.travel_time for c in self.conditions])

    @classmethod
    def from_env(cls, env: Any, thresholds: Any = None) -> MVTOracle:
        """The oracle for a PatchForaging env or vector env (one threshold per condition it draws)."""
        core = getattr(env, "unwrapped", env).core
        return cls(core.conditions, thresholds)

    def threshold(self, info: dict[str, Any]) -> Any:
        """T* of each env's current condition."""
        if len(self.thresholds) == 1:
            return self.thresholds[0] if np.ndim(info["expected_reward"]) == 0 else \
                np.full(np.shape(info["expected_reward"]), self.thresholds[0])
        kbar, tau = np.asarray(info["depletion_mean"]), np.asarray(info["travel_time"])
        dist = np.abs(kbar[..., None] - self._kbar) + np.abs(tau[..., None] - self._tau)
        return self.thresholds[np.argmin(dist, axis=-1)]

    def __call__(self, info: dict[str, Any]) -> Any:
        leave = np.asarray(info["expected_reward"]) < self.threshold(info)
        return int(leave) if leave.ndim == 0 else leave.astype(np.int64)


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
    from brainset_envs.tasks.patch_foraging import PatchForagingVectorEnv

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
