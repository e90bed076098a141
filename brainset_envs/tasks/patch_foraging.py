"""Patch foraging with depleting patches: when to leave (Charnov's MVT; Constantino & Daw 2015)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_float, check_floats
from brainset_envs.core.rand import shared
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv
from brainset_envs.tasks.patch_foraging_draw import draw_patch_foraging
from brainset_envs.tasks.patch_foraging_mvt import (
    ForagingParams,
    MVTOracle,
    mvt_optimum,
    rate_lower_bound,
    resolve_depletion,
)

HARVEST, LEAVE = 0, 1
TRACE_BINS = 96  # time bins of the reward-rate trace kept for rendering


def _is_pair(x: Any) -> bool:
    return isinstance(x, (tuple, list, np.ndarray)) and len(x) == 2 and all(
        isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in x)


def _depletions(depletion: Any) -> list[tuple[float, float]]:
    """One depletion ('steep', 'shallow', (a, b)) or a non-empty list of them."""
    if isinstance(depletion, str) or _is_pair(depletion):
        return [resolve_depletion(depletion)]
    if not isinstance(depletion, (list, tuple)) or len(depletion) == 0:
        raise ValueError(f"depletion={depletion!r} must be 'steep', 'shallow', a pair (a, b) of Beta "
                         "parameters, or a non-empty list of these (one drawn per block)")
    return [resolve_depletion(d, name=f"depletion[{i}]") for i, d in enumerate(depletion)]


class PatchForagingCore(TaskCore):
    """Batch-first dynamics of PatchForaging (see :class:`PatchForagingEnv`).

    ``shared_stream = True``: every env draws on every step (a Beta factor or a fresh richness), and one
    batched draw for the whole batch is what keeps the vector env fast: per-env streams would cost one
    Generator call per env and step, about +1.2 ms per step at 1024 envs against a step of about 0.2 ms
    (``python scripts/bench_rng_streams.py --draws``). So env ``i`` of a vector env matches a single env
    in distribution, not draw for draw. :meth:`step_one` is the single env's scalar fast path.
    """

    shared_stream: ClassVar[bool] = True

    info_keys: tuple[str, ...] = (
        "duration", "elapsed", "richness", "kappa", "expected_reward", "harvests", "patch",
        "travel_time", "depletion_mean",
    )
    render_size: tuple[int, int] = (480, 320)
    render_fps: ClassVar[int] = 4

    def __init__(
        self,
        harvest_time: float = 3.0,
        travel_time: float | list[float] = 6.0,
        depletion: Any = "steep",
        richness_mean: float = 10.0,
        richness_sd: float = 1.0,
        richness_min: float = 0.5,
        richness_max: float = 15.0,
        reward_floor: float = 0.5,
        block_time: float = 390.0,
        arrival_harvest: bool = True,
        block_cue: bool = False,
    ):
        self.harvest_time = check_float("harvest_time", harvest_time, 0.0, 1e5, low_open=True)
        self.travel_times = check_floats("travel_time", travel_time, 0.0, 1e5, low_open=True)
        self.depletions = _depletions(depletion)
        for name, flag in (("arrival_harvest", arrival_harvest), ("block_cue", block_cue)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name}={flag!r} must be True or False")
        self.arrival_harvest, self.block_cue = bool(arrival_harvest), bool(block_cue)
        self.block_time = check_float("block_time", block_time, 0.0, 1e7, low_open=True)
        # One condition per (depletion, travel time); ForagingParams checks the richness arguments.
        self.conditions = [
            ForagingParams(depletion=d, travel_time=float(t), harvest_time=self.harvest_time,
                           richness_mean=richness_mean, richness_sd=richness_sd,
                           richness_min=richness_min, richness_max=richness_max,
                           reward_floor=reward_floor, arrival_harvest=self.arrival_harvest)
            for d in self.depletions for t in self.travel_times
        ]
        self._rho_cache: dict[int, float] = {}
        steps = self.block_time / min(self.harvest_time, float(self.travel_times.min()))
        if steps > 1e8:
            raise ValueError(f"block_time={block_time!r}, harvest_time={harvest_time!r}, travel_time={travel_time!r}: "
                             f"a block would take up to {steps:.3g} steps; allowed at most 1e8 (block_time / the "
                             "shorter of harvest_time and travel_time)")
        self._check_floor(reward_floor)
        p = self.conditions[0]
        self.richness_mean, self.richness_sd = p.richness_mean, p.richness_sd
        self.richness_min, self.richness_max = p.richness_min, p.richness_max
        self.reward_floor = p.reward_floor
        self.cond_dep = np.repeat(np.arange(len(self.depletions)), len(self.travel_times))  # depletion index of each
        self.cond_kbar = np.array([c.kappa_mean for c in self.conditions])
        self.cond_tau = np.array([c.travel_time for c in self.conditions])
        self.single = len(self.conditions) == 1
        self.n_arrival = 1.0 if self.arrival_harvest else 0.0
        max_harvests = math.floor(self.block_time / self.harvest_time) + 1.0
        high = [max(self.richness_max, self.reward_floor), max_harvests, self.block_time, 1.0]
        if self.block_cue:
            high += [1.0, float(self.travel_times.max())]
        self.obs_dim = len(high)
        self.observation_space = spaces.Box(np.zeros(self.obs_dim, np.float32), np.array(high, np.float32),
                                            dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.record_trace = False  # the reward-rate trace is kept only for rendering (set by the envs)

    def _check_floor(self, reward_floor: Any) -> None:
        """The reward floor must leave leaving worth it (else no MVT optimum exists and rendering, the oracle
        and the analysis fail): reward_floor < rho* * harvest_time in every condition. A cheap lower bound of
        rho* settles the usual case; otherwise the exact optimum is computed (and kept for rendering)."""
        for i, c in enumerate(self.conditions):
            if c.reward_floor < rate_lower_bound(c) * c.harvest_time:
                continue
            try:
                self.optimal_rate(i)
            except ValueError:
                raise ValueError(
                    f"reward_floor={reward_floor!r} is too high for harvest_time={c.harvest_time} (travel_time="
                    f"{c.travel_time}, depletion={c.depletion}): harvesting on forever pays at least the best "
                    "long-run rate, so never leaving is optimal and the task has no leaving threshold; "
                    "lower reward_floor or raise harvest_time") from None

    # --- state ---------------------------------------------------------------------------------------------

    def new_state(self, n: int) -> State:
        f = np.zeros
        return {
            "s": f(n), "kappa": f(n), "harvests": f(n), "t_patch": f(n), "elapsed": f(n), "last_reward": f(n),
            "travelled": f(n, bool), "duration": f(n), "patch": f(n, np.int64), "total": f(n), "exp": f(n),
            "cond": f(n, np.int64), "dep": f(n, np.int64), "tau": f(n), "kbar": f(n),
            "obs": f((n, self.obs_dim), np.float32), "trace": f((n, TRACE_BINS), np.float32),
        }

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rng = shared(rng)  # shared_stream = True: one Generator for the batch
        idx: Any = slice(None) if mask is None else mask
        k = len(state["s"]) if mask is None else int(mask.sum())
        cond = 0 if self.single else rng.integers(0, len(self.conditions), k)
        s0 = np.clip(self.richness_mean + self.richness_sd * rng.standard_normal(k), self.richness_min,
                     self.richness_max)
        state["cond"][idx] = cond
        for key, table in (("tau", self.cond_tau), ("kbar", self.cond_kbar), ("dep", self.cond_dep)):
            state[key][idx] = table[cond]
        state["s"][idx] = s0
        state["exp"][idx] = state["kbar"][idx] * s0
        state["last_reward"][idx] = np.maximum(s0, self.reward_floor) * self.n_arrival
        state["harvests"][idx] = self.n_arrival
        state["travelled"][idx] = True
        for key in ("kappa", "t_patch", "elapsed", "duration", "total", "patch", "trace"):
            state[key][idx] = 0
        obs = state["obs"]
        obs[idx, 0], obs[idx, 1] = state["last_reward"][idx], self.n_arrival
        obs[idx, 2], obs[idx, 3] = 0.0, 1.0
        if self.block_cue:
            obs[idx, 4], obs[idx, 5] = state["kbar"][idx], state["tau"][idx]

    # --- dynamics ----------------------------------------------------------------------------------------

    # Random stream layout (shared by both paths, so the single env, the vector env and the fast path
    # agree): each step draws one Beta factor per harvesting env (grouped by depletion law, in env order
    # within a group), then one normal per leaving env, in env order.

    def step(self, state: State, action: np.ndarray, rng: Rng):
        """The dynamics over a batch of envs (numpy, no per-env loop)."""
        rng = shared(rng)  # shared_stream = True: one Generator for the batch
        n = len(action)
        harvest = action == HARVEST
        leave = ~harvest
        n_harvest = int(np.count_nonzero(harvest))
        kappa = np.zeros(n)
        if len(self.depletions) == 1:
            kappa[harvest] = rng.beta(self.depletions[0][0], self.depletions[0][1], n_harvest)
        else:  # one draw per depletion law (numpy's beta is 2x slower with per-element parameters)
            for d, (a, b) in enumerate(self.depletions):
                group = harvest & (state["dep"] == d)
                kappa[group] = rng.beta(a, b, int(np.count_nonzero(group)))
        s_old, elapsed = state["s"], state["elapsed"]
        s_new = kappa * s_old
        s0 = np.clip(rng.standard_normal(n - n_harvest) * self.richness_sd + self.richness_mean, self.richness_min,
                     self.richness_max)
        s_new[leave] = s0
        reward = np.maximum(s_new, self.reward_floor)
        if not self.arrival_harvest:
            reward[leave] = 0.0
        harvests = state["harvests"] + 1.0
        harvests[leave] = self.n_arrival
        t_patch = state["t_patch"] + self.harvest_time
        t_patch[leave] = 0.0
        dur = np.where(harvest, self.harvest_time, state["tau"])
        remain = self.block_time - elapsed
        fits = dur <= remain + 1e-9
        if not fits.all():  # the block ends during the action: it is not completed and pays nothing
            dur = np.minimum(dur, remain)
            reward[~fits] = 0.0
            s_new = np.where(fits, s_new, s_old)
            harvests = np.where(fits, harvests, state["harvests"])
            t_patch = np.where(fits, t_patch, state["t_patch"])
            kappa[~fits] = 0.0
            leave &= fits
        state["s"], state["kappa"], state["harvests"], state["t_patch"] = s_new, kappa, harvests, t_patch
        state["travelled"], state["duration"], state["last_reward"] = leave, dur, reward
        state["patch"] += leave
        state["exp"] = state["kbar"] * s_new
        total = state["total"]
        total += reward
        elapsed += dur
        truncated = elapsed >= self.block_time - 1e-9
        if self.record_trace:
            bins = np.minimum((elapsed * (TRACE_BINS / self.block_time)).astype(np.int64), TRACE_BINS - 1)
            state["trace"][np.arange(n), bins] = total
        obs = state["obs"]
        obs[:, 0], obs[:, 1], obs[:, 2], obs[:, 3] = reward, harvests, t_patch, leave
        return reward.astype(np.float32), np.zeros(n, dtype=bool), truncated

    def step_one(self, state: State, a: int, rng: np.random.Generator):
        """The same dynamics for a batch of one, on Python floats (the single env's fast path)."""
        s_old, elapsed = state["s"].item(), state["elapsed"].item()
        if a == HARVEST:
            kappa = rng.beta(*self.depletions[state["dep"].item()])
            dur, s_new = self.harvest_time, kappa * s_old
            reward = s_new if s_new > self.reward_floor else self.reward_floor
            harvests, leave = state["harvests"].item() + 1.0, False
            t_patch = state["t_patch"].item() + self.harvest_time
        else:
            kappa, dur = 0.0, state["tau"].item()
            s_new = min(max(rng.standard_normal() * self.richness_sd + self.richness_mean, self.richness_min),
                        self.richness_max)
            reward = (s_new if s_new > self.reward_floor else self.reward_floor) * self.n_arrival
            harvests, t_patch, leave = self.n_arrival, 0.0, True
        remain = self.block_time - elapsed
        if dur > remain + 1e-9:  # the block ends during the action
            dur, reward, s_new, leave, kappa = remain, 0.0, s_old, False, 0.0
            harvests, t_patch = state["harvests"].item(), state["t_patch"].item()
        elapsed += dur
        total = state["total"].item() + reward
        state["s"][0], state["harvests"][0], state["t_patch"][0] = s_new, harvests, t_patch
        state["kappa"][0] = kappa
        state["travelled"][0], state["duration"][0], state["elapsed"][0] = leave, dur, elapsed
        state["last_reward"][0], state["total"][0] = reward, total
        state["exp"][0] = state["kbar"].item() * s_new
        if leave:
            state["patch"][0] += 1
        if self.record_trace:
            state["trace"][0, min(int(elapsed * (TRACE_BINS / self.block_time)), TRACE_BINS - 1)] = total
        state["obs"][0, :4] = (reward, harvests, t_patch, leave)
        trunc = elapsed >= self.block_time - 1e-9
        return np.array((reward,), np.float32), np.array((False,)), np.array((trunc,))

    def observe(self, state: State) -> np.ndarray:
        return state["obs"].copy()

    def info(self, state: State) -> dict[str, np.ndarray]:
        return {
            "duration": state["duration"], "elapsed": state["elapsed"], "richness": state["s"],
            "kappa": state["kappa"], "expected_reward": state["exp"], "harvests": state["harvests"],
            "patch": state["patch"], "travel_time": state["tau"], "depletion_mean": state["kbar"],
        }

    # --- rendering ---------------------------------------------------------------------------------------

    def optimal_rate(self, cond: int) -> float:
        """rho* of condition ``cond`` (exact MVT solution, computed once)."""
        if cond not in self._rho_cache:
            self._rho_cache[cond] = mvt_optimum(self.conditions[cond]).rate
        return self._rho_cache[cond]

    def draw(self, canvas: Any, state: State, i: int) -> None:
        draw_patch_foraging(self, canvas, state, i)


class PatchForagingEnv(TaskEnv):
    """
    ## Description
    The "apple-tree" patch-foraging task of Constantino & Daw (2015), a semi-Markov test of Charnov's
    (1976) marginal value theorem. The agent stands at a tree (a patch) and chooses to harvest it again or
    to leave for a fresh tree. Each harvest depletes the tree, so the question is when to leave: the MVT
    says, when the expected next reward falls to the best long-run reward rate times the harvest time.
    Every step takes task time (its `duration`, in `info`); an episode is a block of fixed task time.

    ## Observation
    `Box(float32)`, raw units: `[last reward, harvests in this patch, time in this patch (s), travelled]`,
    plus `[depletion mean, travel time]` with `block_cue=True`. `travelled` is 1 right after arriving at a
    fresh tree (and at reset), else 0. With the arrival harvest, `last reward` equals the current richness
    `s` (unless the floor pays), so `kappa_bar * obs[0]` is the expected next reward.

    ## Action
    `Discrete(2)`: 0 = harvest (takes `harvest_time` h), 1 = leave (takes `travel_time` tau).

    ## Rewards
    Harvest: `max(kappa * s, reward_floor)` and the richness becomes `kappa * s`, with
    `kappa ~ Beta(a, b)` drawn per harvest. Leave: a fresh tree with `s ~ N(richness_mean, richness_sd)`
    clipped to `[richness_min, richness_max]`; with `arrival_harvest=True` (default) its first harvest,
    `max(s, reward_floor)`, comes with the arrival (the convention of the tasks.md anchors: a visit of N
    harvests takes tau + (N - 1) h); with `False` leaving pays nothing.

    ## Termination
    Never terminates; truncated when the block's task time `block_time` (390 s) is used up (the foraging
    itself goes on: agents should bootstrap). An action that does not fit in the remaining time is not
    completed, pays nothing and lasts the remaining time, so durations always sum to `block_time`.
    The block starts on arrival at its first tree (shown, not paid: a reset pays no reward).

    ## Info
    `duration` (s, of the last step; 0 at reset), `elapsed` (task time in the block), hidden state
    `richness` (s), `kappa` (factor of the last harvest, 0 if the last step was no harvest),
    `expected_reward` (kappa_bar * s), `harvests`, `patch` (trees left in this block), block condition
    `travel_time`, `depletion_mean`.

    ## Arguments
    `harvest_time` (3 s), `travel_time` (6 s; a list draws one per block), `depletion` ('steep' =
    Beta(14.909, 2.033), 'shallow' = Beta(31.558, 1.897), a pair (a, b), or a list drawn per block),
    `richness_mean` (10), `richness_sd` (1), `richness_min` (0.5), `richness_max` (15), `reward_floor`
    (0.5), `block_time` (390 s), `arrival_harvest` (True), `block_cue` (False), `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.patch_foraging`: `mvt_optimum(depletion=..., travel_time=...)` gives the
    optimal threshold T* (harvest again iff kappa_bar * s >= T*) and rate rho*, computed exactly (no
    simulation; the solver is `brainset_envs.tasks.patch_foraging_mvt`, which the env uses itself);
    `discounted_threshold(gamma, ...)` for an agent discounting by gamma per second; `MVTOracle` (the
    optimal forager, acting on `info`; `oracle_action` uses it), `simulate_oracle`, `record_log` and
    `foraging_stats` (empirical leaving threshold, harvests per
    patch, reward rate and rate / rho* from any episode log). Exact values (tasks.md anchors, from a
    simulated threshold search on a 0.1 grid, in brackets):

    | configuration | depletion mean | travel | T* | rho* (reward/s) | harvests per patch |
    |---|---|---|---|---|---|
    | SteepShort (default) | 0.880 | 6 s | 6.82 (6.9) | 2.2735 (2.274) | 3.64 |
    | SteepLong | 0.880 | 12 s | 5.05 (5.2) | 1.6844 (1.683) | 5.91 |
    | ShallowShort | 0.943 | 6 s | 7.62 (7.6) | 2.5388 (2.539) | 5.29 |
    | ShallowLong | 0.943 | 12 s | 6.11 (6.1) | 2.0352 (2.035) | 9.02 |

    ## Registered configurations
    - `BrainSet/PatchForaging-v0`: steep depletion, 6 s travel.
    - `BrainSet/PatchForagingSteepShort-v0`, `BrainSet/PatchForagingSteepLong-v0`,
      `BrainSet/PatchForagingShallowShort-v0`, `BrainSet/PatchForagingShallowLong-v0`: the four conditions.
    - `BrainSet/PatchForagingMixed-v0`: one of the four conditions per block, with the block cue.
    """

    core_class = PatchForagingCore
    core: PatchForagingCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 4}

    play_keys: ClassVar[dict[str, int]] = {"space": 0, "h": 0, "l": 1, "right": 1}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        super().__init__(render_mode=render_mode, **kwargs)
        self.core.record_trace = render_mode is not None
        self._oracle: MVTOracle | None = None

    def oracle_action(self) -> int:
        """The MVT-optimal action now: leave (1) iff the expected next reward is below T* (ground truth)."""
        if self._oracle is None:
            self._oracle = MVTOracle.from_env(self)
        info = {k: v[0].item() for k, v in self.core.info(self.state).items()}
        return int(self._oracle(info))


class PatchForagingVectorEnv(TaskVectorEnv):
    """Native batched PatchForaging: the same core over `num_envs` envs."""

    core_class = PatchForagingCore
    core: PatchForagingCore

    def __init__(self, num_envs: int = 1, render_mode: str | None = None, **kwargs: Any):
        super().__init__(num_envs=num_envs, render_mode=render_mode, **kwargs)
        self.core.record_trace = render_mode is not None
