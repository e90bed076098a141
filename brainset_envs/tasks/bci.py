"""Brain-computer interface: the agent's units drive a cursor (or a grating) through a linear decoder, with
within- and outside-manifold perturbations (Sadtler et al. 2014; Francioni et al. 2026)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_choice, check_float, check_float32, check_int
from brainset_envs.core.rand import per_env
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv
from brainset_envs.tasks.bci_decoder import (
    HIGH,
    LOW,
    Decoder,
    cap_speed,
    latents_to_units,
    manifold_from_stats,
    min_steps,
    normalise,
    optimal_activity,
    random_basis,
    units_to_latents,
)
from brainset_envs.tasks.bci_draw import draw_bci

MODES = ("cursor", "grating")
PERTURBATIONS = ("none", "within", "outside")
CALIBRATIONS = ("closed_loop", "observe")
#: block codes of ``info["block"]``: BLOCKS[code] is its name (also the value of ``reset(options={"block": ...})``)
BLOCKS = ("calibration", "intuitive", "within", "outside")
CALIBRATION, INTUITIVE, WITHIN, OUTSIDE = range(4)
OPTION_KEYS = ("block", "target")
MAX_UNITS = 256  # the calibration sums hold N x N numbers per env
GRATING_RANGE = 90.0  # the grating's angle stays in [-90, 90] degrees
WORKSPACE = 1.25  # the cursor stays within WORKSPACE x target_distance of the centre


def _check_units(value: Any, n_units: int) -> np.ndarray:
    """``grating_units``: None (the first 2 k units, k = min(4, n_units // 2)) or an even-length list of
    distinct unit indices; the first half turns the grating one way, the second half the other."""
    if value is None:
        k = min(4, n_units // 2)
        return np.arange(2 * k)
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) < 2 or len(value) % 2:
        raise ValueError(f"grating_units={value!r} must be None or a list of an even number (>= 2) of unit "
                         f"indices in [0, {n_units - 1}]")
    units = np.array([check_int("grating_units", u, 0, n_units - 1) for u in value], np.int64)
    if len(set(units.tolist())) != len(units):
        raise ValueError(f"grating_units={value!r} names a unit twice; the two populations must be distinct units")
    return units


class BCICore(TaskCore):
    """Batch-first dynamics of the BCI task (see :class:`BCIEnv`).

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws (the default
    manifold at the start of an experiment, the day's two permutations, the order of each round of
    targets), each env from its own stream, so env ``i`` of a vector env is exactly a single env seeded
    with ``seed + i``. Steps draw nothing. Every per-env reduction runs over a last, contiguous axis (see
    :mod:`brainset_envs.tasks.bci_decoder`), so a batch computes each env as a batch of one does.
    """

    render_size: tuple[int, int] = (360, 420)
    render_fps: ClassVar[int] = 15

    def __init__(
        self,
        mode: str = "cursor",
        n_units: int = 16,
        latent_dim: int = 10,
        perturbation: str = "none",
        calibration: str = "closed_loop",
        calibration_trials: int = 40,
        intuitive_trials: int = 400,
        perturbation_trials: int = 800,
        n_targets: int = 8,
        target_distance: float = 1.0,
        target_radius: float = 0.15,
        max_speed: float = 0.1,
        grating_units: Any = None,
        grating_target_deg: float = 45.0,
        grating_tolerance_deg: float = 5.0,
        grating_max_turn_deg: float = 6.0,
        max_steps: int = 50,
        hold_steps: int = 1,
        reward: float = 1.0,
        step_reward: float = 0.0,
    ):
        self.mode = check_choice("mode", mode, MODES)
        self.n_units = check_int("n_units", n_units, 2, MAX_UNITS)
        self.latent_dim = check_int("latent_dim", latent_dim, 2, None)
        if self.latent_dim > self.n_units:
            raise ValueError(f"latent_dim={latent_dim!r} must be <= n_units={n_units!r} (the manifold lies in the "
                             "space of the units)")
        self.perturbation = check_choice("perturbation", perturbation, PERTURBATIONS)
        self.calibration = check_choice("calibration", calibration, CALIBRATIONS)
        self.block_trials = np.array([
            check_int("calibration_trials", calibration_trials, 1, 10**9),
            check_int("intuitive_trials", intuitive_trials, 1, 10**9),
            check_int("perturbation_trials", perturbation_trials, 1, 10**9),
            check_int("perturbation_trials", perturbation_trials, 1, 10**9),
        ], np.int64)
        self.max_steps = check_int("max_steps", max_steps, 1, 1_000_000)
        self.hold_steps = check_int("hold_steps", hold_steps, 1, 1_000_000)
        self.reward = check_float32("reward", reward)
        self.step_reward = check_float32("step_reward", step_reward)
        self.n_targets = check_int("n_targets", n_targets, 2, 360)
        # Lengths relative to the target distance, bounded so that gains and observations stay well scaled.
        self.target_distance = check_float("target_distance", target_distance, 1e-3, 1e6)
        self.target_radius = check_float("target_radius", target_radius, 1e-6 * self.target_distance, None)
        self.max_speed_cursor = check_float("max_speed", max_speed, 1e-6 * self.target_distance,
                                            self.target_distance)
        self.grating_target_deg = check_float("grating_target_deg", grating_target_deg, 0.0, GRATING_RANGE,
                                              low_open=True, high_open=True)
        self.grating_tolerance_deg = check_float("grating_tolerance_deg", grating_tolerance_deg, 1e-6, None)
        self.grating_max_turn_deg = check_float("grating_max_turn_deg", grating_max_turn_deg, 1e-6, 180.0)
        self.grating_units = _check_units(grating_units, self.n_units)

        # Both modes' geometry is checked whichever mode is used.
        if self.target_radius >= self.target_distance:
            raise ValueError(f"target_radius={target_radius!r} must be < target_distance={target_distance!r} "
                             "(the cursor must start outside the targets)")
        if self.grating_tolerance_deg >= self.grating_target_deg:
            raise ValueError(f"grating_tolerance_deg={grating_tolerance_deg!r} must be < grating_target_deg="
                             f"{grating_target_deg!r} (the grating must start outside the targets)")
        if self.mode == "cursor":
            self.dim, self.vmax, self.radius = 2, self.max_speed_cursor, self.target_radius
            self.workspace = WORKSPACE * self.target_distance
            ang = 2.0 * np.pi * np.arange(self.n_targets) / self.n_targets  # 0 = right, counter-clockwise
            self.targets = self.target_distance * np.stack([np.cos(ang), np.sin(ang)], axis=1)
            self.info_keys = ("day", "block", "trial", "target", "steps", "success", "min_steps", "fitted",
                              "perturbed", "x", "y", "target_x", "target_y")
            obs_dim, min_name = 6, "max_steps (with target_distance, target_radius, max_speed, hold_steps)"
        else:
            self.dim, self.vmax, self.radius = 1, self.grating_max_turn_deg, self.grating_tolerance_deg
            self.workspace = GRATING_RANGE
            self.targets = np.array([[self.grating_target_deg], [-self.grating_target_deg]])
            self.info_keys = ("day", "block", "trial", "target", "steps", "success", "min_steps", "fitted",
                              "perturbed", "angle", "target_angle")
            obs_dim = 3
            min_name = "max_steps (with grating_target_deg, grating_tolerance_deg, grating_max_turn_deg, hold_steps)"
        self.distance = float(np.sqrt((self.targets[0] ** 2).sum()))
        self.trial_min_steps = int(min_steps(self.distance, self.radius, self.vmax, self.hold_steps))
        if self.trial_min_steps > self.max_steps:
            raise ValueError(f"max_steps={max_steps!r} is shorter than the fewest steps a trial needs "
                             f"({self.trial_min_steps}): raise {min_name}")
        k = len(self.grating_units) // 2
        self.population = np.zeros(self.n_units)  # the grating's named decoder: (A - B) / k
        self.population[self.grating_units[:k]] = 1.0 / k
        self.population[self.grating_units[k:]] = -1.0 / k
        self.n_trial_targets = len(self.targets)
        self.observation_space = spaces.Box(-1.0, 1.0, (obs_dim,), dtype=np.float32)
        self.action_space = spaces.Box(LOW, HIGH, (self.n_units,), dtype=np.float32)

    # --- state and protocol ---------------------------------------------------------------------------

    def new_state(self, n: int) -> State:
        z, N, K, d = np.zeros, self.n_units, self.latent_dim, self.dim
        return {
            "pos": z((n, d)), "vel": z((n, d)), "tpos": z((n, d)), "target": z(n, np.int64),
            "steps": z(n, np.int64), "hold": z(n, np.int64), "success": z(n, bool),
            "min_steps": np.full(n, self.trial_min_steps, np.int64),
            "day": z(n, np.int64), "block": np.full(n, -1, np.int64), "trial": z(n, np.int64),
            "order": z((n, self.n_trial_targets), np.int64), "order_pos": z(n, np.int64),
            "setup": z(n, bool), "fitted": z(n, bool), "perturbed": z(n, bool),
            # the base (intuitive) decoder: velocity direction = D (a - mu); L spans the intrinsic manifold
            "L": z((n, N, K)), "mu": z((n, N)), "D": z((n, d, N)),
            "perm_z": np.tile(np.arange(K), (n, 1)), "perm_u": np.tile(np.arange(N), (n, 1)),
            # the decoder in effect, gain included: raw velocity = M a - b
            "M": z((n, d, N)), "b": z((n, d)),
            # calibration sums: count, sum a, sum a a^T, sum a u^T, sum u (u: the intended direction)
            "cnt": z(n), "sa": z((n, N)), "saa": z((n, N, N)), "sau": z((n, N, d)), "su": z((n, d)),
            "force_block": np.full(n, -1, np.int64), "force_target": np.full(n, -1, np.int64),
        }

    def restart(self, state: State) -> None:
        """A new experiment (``reset`` with a seed): a new default manifold, day 1, calibration first."""
        state["setup"][:], state["fitted"][:] = False, False
        state["day"][:], state["block"][:], state["trial"][:], state["order_pos"][:] = 0, -1, 0, 0
        state["force_block"][:], state["force_target"][:] = -1, -1

    def apply_options(self, state: State, options: dict[str, Any]) -> None:
        """``reset(options=...)`` sets the next trial (one value, or one per env): ``block`` (a name of
        :data:`BLOCKS`: that block starts, at its trial 1) and ``target`` (its index)."""
        unknown = sorted(map(str, set(options) - set(OPTION_KEYS)))
        if unknown:
            raise ValueError(f"options has unknown key(s) {unknown}; allowed: {list(OPTION_KEYS)}")
        n = len(state["day"])

        def values(key: str, check) -> np.ndarray:
            v = options[key]
            many = isinstance(v, (list, tuple)) or (isinstance(v, np.ndarray) and v.ndim > 0)
            vals = list(v) if many else [v] * n
            if len(vals) != n:
                raise ValueError(f"options[{key!r}]={v!r}: give one value or {n} (one per env)")
            return np.array([check(x) for x in vals], np.int64)

        new = {}  # every value is checked before any is applied
        if "block" in options:
            new["force_block"] = values("block", lambda b: BLOCKS.index(check_choice("options['block']", b, BLOCKS)))
        if "target" in options:
            nt = self.n_trial_targets
            new["force_target"] = values("target", lambda t: check_int("options['target']", t, 0, nt - 1))
        for key, v in new.items():
            state[key][:] = v

    def _setup(self, state: State, rows: np.ndarray, rng: Rng) -> None:
        """The default manifold of a new experiment: a random orthonormal basis, zero mean; the cursor's
        default decoder reads it through a random Gaussian map, the grating's is its two populations."""
        N, K, d = self.n_units, self.latent_dim, self.dim
        g = per_env(rng, rows, lambda gen, k: gen.standard_normal((k, N * K + d * K)))
        basis = random_basis(g[:, :N * K].reshape(-1, N, K))
        state["L"][rows], state["mu"][rows] = basis, 0.0
        if self.mode == "cursor":
            state["D"][rows] = latents_to_units(g[:, N * K:].reshape(-1, d, K), basis)
        else:
            state["D"][rows] = self.population
        state["setup"][rows], state["fitted"][rows] = True, False

    def _new_day(self, state: State, rows: np.ndarray, rng: Rng) -> None:
        """The day's within-manifold (latent) and outside-manifold (unit) permutations, never the identity."""
        N, K = self.n_units, self.latent_dim
        u = per_env(rng, rows, lambda gen, k: gen.random((k, K + N)))
        for key, part, size in (("perm_z", u[:, :K], K), ("perm_u", u[:, K:], N)):
            perm = np.argsort(part, axis=1)
            ident = (perm == np.arange(size)).all(axis=1)
            perm[ident] = np.roll(np.arange(size), 1)
            state[key][rows] = perm

    def _fit(self, state: State, rows: np.ndarray) -> None:
        """End of a calibration block: PCA of the recorded activities (the intrinsic manifold) and, for the
        cursor, the intuitive decoder by ridge least squares from the latent factors to the intended
        direction. Kept only where the data allow it (see the docstring of :class:`BCIEnv`)."""
        cnt = state["cnt"][rows]
        basis, mean, var = manifold_from_stats(cnt, state["sa"][rows], state["saa"][rows], self.latent_dim)
        diag = np.diagonal(state["saa"][rows], axis1=1, axis2=2) / np.maximum(cnt, 1.0)[:, None]
        total = (diag - mean * mean).sum(-1)
        good = (cnt >= 2) & (total > 1e-12)
        if self.mode == "cursor":
            cross = state["sau"][rows] - mean[:, :, None] * state["su"][rows][:, None, :]  # sum (a - mean) u^T
            s_zu = units_to_latents(np.swapaxes(cross, 1, 2), basis)  # (m, dim, K): sum u z^T
            ridge = 1e-6 * cnt * var.mean(-1) + 1e-12 * np.maximum(cnt, 1.0)  # activities are O(1)
            latent_map = s_zu / (cnt[:, None] * var + ridge[:, None])[:, None, :]
            new_d = latents_to_units(latent_map, basis)
        else:
            new_d = state["D"][rows]
        _, _, ok = normalise(new_d, (new_d * mean[:, None, :]).sum(-1), self.vmax)
        keep = rows[good & ok]
        sel = good & ok
        state["L"][keep], state["mu"][keep], state["D"][keep] = basis[sel], mean[sel], new_d[sel]
        state["fitted"][keep] = True

    def _decoders(self, state: State, rows: np.ndarray) -> None:
        """The decoder in effect for each env's block: the base decoder (calibration and intuitive blocks),
        its latent factors permuted (within) or its units permuted (outside); a degenerate perturbed
        decoder falls back to the base one. Each normalised by its gain."""
        base, mu, blk = state["D"][rows], state["mu"][rows], state["block"][rows]
        raw = base.copy()
        offset = (base * mu[:, None, :]).sum(-1)
        w = np.flatnonzero(blk == WITHIN)
        if len(w):
            basis = state["L"][rows[w]]
            latent = units_to_latents(base[w], basis)
            permuted = np.take_along_axis(latent, state["perm_z"][rows[w]][:, None, :], axis=2)
            raw[w] = latents_to_units(permuted, basis)
            offset[w] = (raw[w] * mu[w][:, None, :]).sum(-1)
        o = np.flatnonzero(blk == OUTSIDE)
        if len(o):  # unit k's activity is read where unit perm[k]'s was: a[perm] replaces a
            inverse = np.argsort(state["perm_u"][rows[o]], axis=1)
            raw[o] = np.take_along_axis(base[o], inverse[:, None, :], axis=2)
        m0, b0, _ = normalise(base, (base * mu[:, None, :]).sum(-1), self.vmax)
        m1, b1, ok = normalise(raw, offset, self.vmax)
        use = ok & (blk >= WITHIN)
        state["M"][rows] = np.where(use[:, None, None], m1, m0)
        state["b"][rows] = np.where(use[:, None], b1, b0)
        state["perturbed"][rows] = use

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        idx = np.arange(len(state["day"])) if mask is None else np.flatnonzero(mask)
        fresh = idx[~state["setup"][idx]]
        if len(fresh):
            self._setup(state, fresh, rng)
        blk, day, trial = state["block"][idx], state["day"][idx], state["trial"][idx] + 1
        forced = state["force_block"][idx]
        start = blk < 0
        ended = ~start & (forced < 0) & (trial > self.block_trials[np.maximum(blk, 0)])
        fit = idx[ended & (blk == CALIBRATION)]
        if len(fit):
            self._fit(state, fit)
        nxt = np.where(blk == CALIBRATION, INTUITIVE, CALIBRATION)
        if self.perturbation != "none":
            nxt = np.where(blk == INTUITIVE, PERTURBATIONS.index(self.perturbation) + 1, nxt)
        blk = np.where(ended, nxt, blk)
        new_day = start | (ended & (blk == CALIBRATION))
        blk = np.where(start, CALIBRATION, blk)
        blk = np.where(forced >= 0, forced, blk)
        trial[ended | start | (forced >= 0)] = 1
        day[new_day] += 1
        state["block"][idx], state["day"][idx], state["trial"][idx] = blk, day, trial
        if new_day.any():
            self._new_day(state, idx[new_day], rng)
        recal = idx[(new_day | (forced >= 0)) & (blk == CALIBRATION)]  # a calibration block starts afresh
        for key in ("cnt", "sa", "saa", "sau", "su"):
            state[key][recal] = 0.0
        self._decoders(state, idx)
        # Targets: every round of n_targets trials visits each target once, in a random order.
        pos = state["order_pos"][idx] % self.n_trial_targets
        redraw = idx[pos == 0]
        if len(redraw):
            u = per_env(rng, redraw, lambda gen, k: gen.random((k, self.n_trial_targets)))
            state["order"][redraw] = np.argsort(u, axis=1)
        target = state["order"][idx, pos]
        ft = state["force_target"][idx]
        target = np.where(ft >= 0, ft, target)
        state["order_pos"][idx] += 1
        state["target"][idx] = target
        state["tpos"][idx] = self.targets[target]
        state["pos"][idx], state["vel"][idx] = 0.0, 0.0
        state["steps"][idx], state["hold"][idx], state["success"][idx] = 0, 0, False
        state["force_block"][idx], state["force_target"][idx] = -1, -1

    # --- dynamics -------------------------------------------------------------------------------------

    def step(self, state: State, action: np.ndarray, rng: Rng):
        a = action.astype(np.float64)
        pos, tpos = state["pos"], state["tpos"]
        raw = (state["M"] * a[:, None, :]).sum(-1) - state["b"]
        # An env whose trial has ended is only stepped by the vector env's autoreset (the step is discarded):
        # it records nothing, so the calibration sums match a single env's.
        cal = (state["block"] == CALIBRATION) & ~state["success"] & (state["steps"] < self.max_steps)
        to_target = tpos - pos
        if self.calibration == "observe" and cal.any():  # the cursor moves by itself, straight to the target
            raw[cal] = to_target[cal]
        vel = cap_speed(raw, self.vmax)
        if cal.any():  # record the activity with the intended direction (toward the target, 0 inside it)
            r = np.flatnonzero(cal)
            dist = np.sqrt((to_target[r] * to_target[r]).sum(-1))
            u = np.where((dist > self.radius)[:, None], to_target[r] / np.maximum(dist, 1e-300)[:, None], 0.0)
            ar = a[r]
            state["cnt"][r] += 1.0
            state["sa"][r] += ar
            state["saa"][r] += ar[:, :, None] * ar[:, None, :]
            state["sau"][r] += ar[:, :, None] * u[:, None, :]
            state["su"][r] += u
        new = cap_speed(pos + vel, self.workspace)
        state["vel"][:] = new - pos
        pos[:] = new
        off = new - tpos
        inside = np.sqrt((off * off).sum(-1)) <= self.radius
        hold = state["hold"]
        hold[:] = np.where(inside, hold + 1, 0)
        success = hold >= self.hold_steps
        state["success"][:] = success
        steps = state["steps"]
        steps += 1
        reward = np.where(success, self.reward, self.step_reward).astype(np.float32)
        truncated = (steps >= self.max_steps) & ~success
        return reward, success.copy(), truncated

    # --- observations ---------------------------------------------------------------------------------

    def observe(self, state: State) -> np.ndarray:
        obs = np.concatenate([state["pos"] / self.workspace, state["vel"] / self.vmax,
                              state["tpos"] / self.workspace], axis=1).astype(np.float32)
        return np.clip(obs, -1.0, 1.0, out=obs)

    def info(self, state: State) -> dict[str, np.ndarray]:
        out = {k: state[k] for k in ("day", "block", "trial", "target", "steps", "success", "min_steps",
                                     "fitted", "perturbed")}
        pos, tpos = state["pos"], state["tpos"]
        if self.mode == "cursor":
            out.update(x=pos[:, 0], y=pos[:, 1], target_x=tpos[:, 0], target_y=tpos[:, 1])
        else:
            out.update(angle=pos[:, 0], target_angle=tpos[:, 0])
        return out

    def decoder(self, state: State, i: int = 0) -> Decoder:
        """The decoder in effect for env ``i`` (copies)."""
        return Decoder(state["M"][i].copy(), state["b"][i].copy(), self.vmax)

    # --- rendering ------------------------------------------------------------------------------------

    def draw(self, canvas: Any, state: State, i: int) -> None:
        blk = int(state["block"][i])
        names = {CALIBRATION: f"calibration ({self.calibration.replace('_', ' ')})", INTUITIVE: "intuitive decoder",
                 WITHIN: "within-manifold perturbation", OUTSIDE: "outside-manifold perturbation"}
        name = names.get(blk, "")
        if blk >= WITHIN and not state["perturbed"][i]:
            name += " (degenerate: intuitive)"
        draw_bci(self, canvas, state, i, name, perturbed_block=blk >= WITHIN)


class BCIEnv(TaskEnv):
    """
    ## Description
    A brain-computer interface in which the agent's units are the recorded neurons (Sadtler et al. 2014,
    Nature 512:423; Golub et al. 2018). Each step the action, the activities `a` of `n_units` units, is
    decoded linearly into a velocity: the raw velocity `M a - b`, scaled down to norm `max_speed` where it
    is longer. Trials are episodes.
    - `mode="cursor"` (default): center-out reaching. The cursor starts at the centre at rest each trial;
      one of `n_targets` targets on a circle of radius `target_distance` is shown (each target once per
      round of `n_targets` trials, in a random order); the trial succeeds when the cursor has been within
      `target_radius` of it for `hold_steps` consecutive steps. The cursor stays within 1.25 x
      `target_distance` of the centre.
    - `mode="grating"` (Francioni et al., Nature 2026): two opposing populations of units, the first and
      second halves of `grating_units` (default: units 0-3 and 4-7), turn a grating (its angle in degrees,
      within [-90, 90], from 0 at each trial's start) toward a target angle, `+grating_target_deg` or
      `-grating_target_deg`; within `grating_tolerance_deg` for `hold_steps` steps succeeds; at most
      `grating_max_turn_deg` per step.

    **Decoders** (Sadtler's protocol). The intrinsic manifold is a `latent_dim`-dimensional subspace of
    the units' activity space with basis `L` (N x K, orthonormal) and mean `mu`; latent factors are
    `z = L^T (a - mu)`. The base (intuitive) decoder's direction is `D (a - mu)`: for the cursor
    `D = W L^T` (a map `W` from the factors), for the grating the named populations,
    `D = (1_A - 1_B) / k` (it reads units, not factors). Perturbations of the base decoder:
    - within-manifold: the latent factors are permuted, `D' = (D L) P L^T` (the decoder still reads only
      the manifold: its rows stay in the span of `L`);
    - outside-manifold: the units are permuted, `D' a = D a[perm]` (its rows leave the manifold).
    Neither permutation is the identity; both are drawn anew each day. Every decoder in effect gets its
    own gain: `M = g D'`, `b = g D' mu` (outside: `g D mu`), with `g` such that every direction
    reaches twice `max_speed` with activities in the box (the inradius of the velocity set, computed
    exactly), so the capped velocity can point anywhere at full speed and the fewest steps to a target do
    not depend on the decoder. A perturbed decoder that is degenerate (velocity set nearly flat, e.g. a
    grating population with no variance in the manifold) falls back to the base decoder
    (`info["perturbed"]` False).

    **Blocks.** A day is a calibration block (`calibration_trials`), an intuitive block
    (`intuitive_trials`) and, unless `perturbation="none"`, a perturbation block (`perturbation_trials`,
    of the kind named by `perturbation`); then the next day starts with a new calibration. During
    calibration the env records every action together with the intended direction (the unit vector from
    the cursor to the target, 0 inside it); with `calibration="closed_loop"` (default) the agent drives
    the cursor through the base decoder meanwhile, with `"observe"` the cursor moves by itself straight to
    the target at `max_speed` (the actions only get recorded). At the end of the block the env fits the
    manifold by PCA (`L`: the `latent_dim` leading principal components, `mu`: the mean activity) and,
    for the cursor, `W` by ridge least squares from the factors to the intended direction (Sadtler fit
    factor analysis and a Kalman filter to intended velocities; PCA and least squares keep it numpy
    only). A fit that the data cannot support (fewer than 2 samples, no variance, or a degenerate decoder)
    is discarded and the base decoder stays as it was.

    **Default manifold.** Before any calibration has finished (the first calibration block of an
    experiment, or after `reset(options={"block": "within"})` straight away) the base decoder is a
    default one drawn from the env's random stream at the start of the experiment: `L` a random
    orthonormal basis (QR of a Gaussian matrix), `mu = 0`, and for the cursor a Gaussian `W`
    (`info["fitted"]` False until a calibration fit is kept).

    `reset(seed=...)` starts a new experiment (new default manifold, day 1, calibration); `reset()` runs
    the next trial. `reset(options={"block": name})` starts block `name` (one of "calibration",
    "intuitive", "within", "outside") at its trial 1 on the same day, whatever `perturbation` says
    (jumping out of a calibration block discards its data; the schedule continues from the block jumped
    to); `{"target": k}` picks the next target. In the native vector env each env keeps its own
    experiment; an option may be one value or one per env.

    ## Observation
    `Box(-1, 1, float32)`: cursor `(6,)`: cursor position / (1.25 `target_distance`), cursor velocity
    / `max_speed` (the last step's displacement), target position / (1.25 `target_distance`);
    grating `(3,)`: angle / 90, angular velocity / `grating_max_turn_deg`, target angle / 90. The
    observation names neither the block nor the decoder.

    ## Action
    `Box(-1, 1, (n_units,), float32)`: the units' activities (tanh-like units); out-of-range values are
    clipped to the box.

    ## Rewards
    `reward` (1) on the step that completes a trial, `step_reward` (0) on every other step (calibration
    trials too).

    ## Termination
    Terminated when the trial succeeds; truncated after `max_steps` (50) steps without success.

    ## Info
    `day` (from 1), `block` (0..3: calibration, intuitive, within, outside; `BLOCKS` in this module),
    `trial` (within the block, from 1), `target` (index), `steps` (in this trial), `success`,
    `min_steps` (ground truth: the fewest steps this trial needs), `fitted` (the base decoder comes from a
    calibration fit, not the default manifold), `perturbed` (a perturbed decoder is in effect); cursor:
    `x`, `y`, `target_x`, `target_y`; grating: `angle`, `target_angle` (degrees).

    ## Arguments
    `mode` ('cursor' or 'grating'), `n_units` (16; 2..256), `latent_dim` (10; 2..n_units), `perturbation`
    ('none', 'within', 'outside'), `calibration` ('closed_loop' or 'observe'), `calibration_trials` (40),
    `intuitive_trials` (400), `perturbation_trials` (800), `n_targets` (8), `target_distance` (1.0;
    0.001..1e6), `target_radius` (0.15; from 1e-6 target_distance, below target_distance), `max_speed`
    (0.1 per step; 1e-6..1 x target_distance), `grating_units` (None = units 0..7, or an even-length list
    of distinct units), `grating_target_deg` (45; below 90), `grating_tolerance_deg` (5; from 1e-6, below
    grating_target_deg), `grating_max_turn_deg` (6; 1e-6..180), `max_steps` (50; at least the fewest steps
    a trial needs), `hold_steps` (1), `reward` (1), `step_reward` (0), `render_mode`. The cursor's geometry
    arguments do nothing in grating mode and the grating's nothing in cursor mode (both are checked).

    ## Ground truth
    `info["min_steps"]`: `hold_steps - 1 + ceil((distance - radius) / max_speed)` (9 for the cursor's
    defaults, 7 for the grating's): with no momentum and the capped velocity able to point anywhere at
    full speed, the straight line at `max_speed` is the minimum-time path. `oracle_action` drives the
    minimum-norm activity in the box whose decoded velocity is `max_speed` toward the target (the last
    step only as far as its centre) and reaches every target in exactly `min_steps`.
    `brainset_envs.analysis.bci`: the decoder in effect, the manifold, the optimal activity for each
    target (bounded, or the pseudo-inverse for unbounded units), the minimum-time path, and the fraction
    of pre-perturbation performance recovered from per-trial logs.

    ## Registered configurations
    - `BrainSet/BCI-v0`: center-out cursor, 16 units, 10-dimensional manifold; calibration then intuitive
      control each day, no perturbation.
    - `BrainSet/BCIWithinManifold-v0`, `BrainSet/BCIOutsideManifold-v0`: the same, each day ending with
      800 trials under a within- or outside-manifold perturbation.
    - `BrainSet/BCIGrating-v0`: the grating, driven by units 0-3 against units 4-7.
    """

    core_class = BCICore
    core: BCICore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 15}

    @property
    def play_keys(self) -> dict[str, np.ndarray]:
        """Keyboard play: a human as the BCI user, one key per unit ("1".."9", "0": units 0..9 at +1, the
        rest 0), or for the grating "left"/"right" (population A / B at +1); space = all units at 0."""
        n = self.core.n_units
        keys: dict[str, np.ndarray] = {"space": np.zeros(n, np.float32)}
        if self.core.mode == "grating":
            k = len(self.core.grating_units) // 2
            for key, units in (("left", self.core.grating_units[:k]), ("right", self.core.grating_units[k:])):
                keys[key] = np.zeros(n, np.float32)
                keys[key][units] = 1.0
            return keys
        for j in range(min(n, 10)):
            keys[str((j + 1) % 10)] = np.eye(n, dtype=np.float32)[j]
        return keys

    def oracle_action(self) -> np.ndarray:
        """The optimal activity now (ground truth): the minimum-norm activity in the box that moves at
        `max_speed` straight at the target (only as far as its centre), for the decoder in effect."""
        core, st = self.core, self.state
        want = cap_speed(st["tpos"][0] - st["pos"][0], core.vmax)
        return optimal_activity(core.decoder(st), want).astype(np.float32)


class BCIVectorEnv(TaskVectorEnv):
    """Native batched BCI: the same core over `num_envs` envs, each with its own experiment."""

    core_class = BCICore
    core: BCICore
    metadata: dict[str, Any] = {**TaskVectorEnv.metadata, "render_fps": 15}
