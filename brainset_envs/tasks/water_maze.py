"""Morris water maze: navigation to a hidden platform (Foster, Morris & Dayan 2000)."""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_choice, check_float, check_float32, check_int
from brainset_envs.core.rand import per_env
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv
from brainset_envs.tasks.water_maze_view import (
    CUE_TEXTURE,
    PlaceCells,
    draw_maze,
    panoramic_view,
)

PROTOCOLS = ("reference", "reversal", "dmp")
OBSERVATIONS = ("place_cells", "position", "view")
#: start positions on the rim, in the order of ``info["start"]``: N, E, S, W (N = +y, E = +x)
STARTS = ("N", "E", "S", "W")
_START_XY = np.array([[0.0, 1.0], [1.0, 0.0], [0.0, -1.0], [-1.0, 0.0]])
QUADRANT_CENTRES = {"NE": (1.0, 1.0), "NW": (-1.0, 1.0), "SW": (-1.0, -1.0), "SE": (1.0, -1.0)}
OPTION_KEYS = ("day", "trial", "probe", "start", "protocol", "reversal_day", "probe_days")
_PATH_CAP = 1024  # most positions kept per env for drawing the swim path (a ring buffer)


def ideal_latency(
    distance: np.ndarray | float, platform_radius: float, speed: float, momentum: float
) -> np.ndarray:
    """Fewest steps to reach the platform edge swimming straight at it from rest: the ground truth.

    ``distance`` is from the start to the platform centre. With momentum ``m`` the speed after ``t`` steps
    from rest is ``speed * (1 - m**t)``, so the distance covered in ``T`` steps is
    ``speed * (T - m * (1 - m**T) / (1 - m))``. Returns int64 steps, shaped like ``distance`` (0 when
    the start is on the platform).
    """
    shape = np.shape(distance)
    d = np.maximum(np.asarray(distance, dtype=np.float64).reshape(-1) - platform_radius, 0.0)
    steps = np.ceil(d / speed - 1e-12).astype(np.int64)  # momentum only slows the rat down: a lower bound
    m = float(momentum)

    def covered(t: np.ndarray) -> np.ndarray:
        return speed * (t - m * (1.0 - m ** t) / (1.0 - m)) if m > 0 else speed * t

    short = covered(steps) < d - 1e-9
    while short.any():
        steps[short] += 1
        short = covered(steps) < d - 1e-9
    return steps.reshape(shape)


def _check_days(name: str, days: Any) -> np.ndarray:
    """A list of day numbers (>= 1) as an int64 array, else a clear error."""
    if not isinstance(days, (list, tuple, np.ndarray)):
        raise TypeError(f"{name}={days!r} must be a list of day numbers (>= 1)")
    return np.array([check_int(name, d, 1, 1_000_000) for d in days], np.int64)


def _norm2(v: np.ndarray) -> np.ndarray:
    """Squared norms of the rows of an (n, 2) array, as x * x + y * y (faster than a reduction)."""
    sq = v * v
    return sq[:, 0] + sq[:, 1]


class WaterMazeCore(TaskCore):
    """Batch-first dynamics of the water maze (see :class:`WaterMazeEnv`).

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws (the
    platform of a DMP day, the order of the day's starts, a rim start), each env from its own stream, so
    env ``i`` of a vector env is exactly a single env seeded with ``seed + i``. :meth:`step_one` is the
    single env's scalar fast path.
    """

    info_keys: tuple[str, ...] = (
        "x", "y", "platform_x", "platform_y", "day", "trial", "steps", "escape_latency", "probe",
        "start", "ideal_latency",
    )
    render_size: tuple[int, int] = (320, 376)
    render_fps: ClassVar[int] = 15

    def __init__(
        self,
        pool_radius: float = 60.0,
        platform_radius: float = 10.0,
        speed: float = 5.0,
        momentum: float = 0.2,
        max_steps: int = 120,
        platform: str | tuple[float, float] = "NE",
        start: str = "cardinal",
        protocol: str = "reference",
        trials_per_day: int = 4,
        reversal_day: int = 13,
        probe_days: tuple[int, ...] | list[int] = (),
        probe_steps: int = 60,
        action_type: str = "discrete",
        n_headings: int = 8,
        observation: str = "place_cells",
        place_cell_grid: int = 15,
        place_cell_width: float = 0.16,
        view_width: int = 64,
        view_dtype: str = "uint8",
        cue_distance: float = 2.0,
        reward_platform: float = 1.0,
        step_reward: float = 0.0,
    ):
        self.pool_radius = check_float("pool_radius", pool_radius, 0.01, 1e4)
        self.platform_radius = check_float("platform_radius", platform_radius, 0.0, None, low_open=True)
        if self.platform_radius > self.pool_radius / 2:
            raise ValueError(f"platform_radius={platform_radius!r} and pool_radius={pool_radius!r} do not fit: "
                             f"platform_radius must be <= pool_radius / 2 = {self.pool_radius / 2}")
        self.speed = check_float("speed", speed, 0.0, None, low_open=True)
        if self.speed > self.pool_radius:
            raise ValueError(f"speed={speed!r} and pool_radius={pool_radius!r} do not fit: a step must not cross "
                             f"the pool, speed <= pool_radius = {self.pool_radius}")
        self.momentum = check_float("momentum", momentum, 0.0, 1.0, high_open=True)
        self.max_steps = check_int("max_steps", max_steps, 1, 1_000_000)
        self.protocol = check_choice("protocol", protocol, PROTOCOLS)
        self.start = check_choice("start", start, ("cardinal", "random"))
        self.trials_per_day = check_int("trials_per_day", trials_per_day, 1, 100_000)
        self.reversal_day = check_int("reversal_day", reversal_day, 2, 1_000_000)
        self.probe_days = _check_days("probe_days", probe_days)
        self.probe_steps = check_int("probe_steps", probe_steps, 1, 1_000_000)
        self.action_type = check_choice("action_type", action_type, ("discrete", "continuous"))
        self.n_headings = check_int("n_headings", n_headings, 2, 360)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.place_cell_grid = check_int("place_cell_grid", place_cell_grid, 2, 101)
        # >= 0.001 (a field a thousandth of the pool radius, far below the lattice spacing >= 0.02): narrower
        # fields overflow 1 / (2 sigma^2) in float32 and give NaN rates
        self.place_cell_width = check_float("place_cell_width", place_cell_width, 0.001, 4.0)
        self.view_width = check_int("view_width", view_width, 8, 4096)
        self.view_dtype = check_choice("view_dtype", view_dtype, ("uint8", "float32"))
        self.cue_distance = check_float("cue_distance", cue_distance, 1.0, 100.0)
        self.reward_platform = check_float32("reward_platform", reward_platform)
        self.step_reward = check_float32("step_reward", step_reward)
        self.base_platform = self._platform_xy(platform)

        self.pool_radius_sq = self.pool_radius * self.pool_radius
        self.platform_radius_sq = self.platform_radius * self.platform_radius
        gain = (1.0 - self.momentum) * self.speed  # new velocity = m * v + gain * direction
        ang = 2.0 * np.pi * np.arange(self.n_headings) / self.n_headings
        self.dirs = np.stack([np.cos(ang), np.sin(ang)], axis=1)  # heading k: 0 = E, counter-clockwise
        self._kicks = gain * self.dirs  # the velocity each heading adds
        self._kicks_list = self._kicks.tolist()
        self._gain = gain
        # A step moves at most `speed` (the wall projection only shortens it), so only rats this close to
        # the platform centre can touch it: the exact segment test runs for those alone.
        self._near2 = (self.platform_radius + self.speed) ** 2 * (1.0 + 1e-9) + 1e-12
        self.path_cap = min(max(self.max_steps, self.probe_steps) + 1, _PATH_CAP)

        self.sigma = self.place_cell_width * self.pool_radius
        self.cells = PlaceCells(self.pool_radius, self.place_cell_grid, self.sigma)
        self.centres, self.n_cells = self.cells.centres, self.cells.n

        if self.observation == "place_cells":
            self.observation_space = spaces.Box(0.0, 1.0, (self.n_cells,), dtype=np.float32)
        elif self.observation == "position":
            self.observation_space = spaces.Box(-1.0, 1.0, (4,), dtype=np.float32)
        elif self.view_dtype == "uint8":
            self.observation_space = spaces.Box(0, 255, (self.view_width,), dtype=np.uint8)
        else:
            self.observation_space = spaces.Box(0.0, 1.0, (self.view_width,), dtype=np.float32)
        self.action_space = spaces.Discrete(self.n_headings) if self.action_type == "discrete" else \
            spaces.Box(-1.0, 1.0, (2,), dtype=np.float32)
        off = np.pi - 2.0 * np.pi * (np.arange(self.view_width) + 0.5) / self.view_width
        self._view_rot = np.stack([np.cos(off), np.sin(off)]).astype(np.float32)  # relative to the heading
        self.texture = CUE_TEXTURE

    def _platform_xy(self, platform: Any) -> np.ndarray:
        if isinstance(platform, str):
            check_choice("platform", platform, list(QUADRANT_CENTRES))
            return np.array(QUADRANT_CENTRES[platform]) * (self.pool_radius / 2.0 / np.sqrt(2.0))
        if not isinstance(platform, (list, tuple, np.ndarray)) or len(platform) != 2:
            raise ValueError(
                f"platform={platform!r} must be one of {list(QUADRANT_CENTRES)} or an (x, y) pair")
        xy = np.array([check_float("platform", v) for v in platform])
        if np.hypot(*xy) + self.platform_radius > self.pool_radius:
            raise ValueError(f"platform={platform!r} is not inside the pool: |(x, y)| + platform_radius "
                             f"must be <= pool_radius={self.pool_radius}")
        return xy

    # --- state and protocol ---------------------------------------------------------------------------

    def new_state(self, n: int) -> State:
        z = np.zeros
        return {
            "pos": z((n, 2)), "vel": z((n, 2)), "head": z((n, 2)), "plat": z((n, 2)),
            "plat_day": np.full(n, -1, np.int64), "day": np.ones(n, np.int64), "trial": z(n, np.int64),
            "steps": z(n, np.int64), "limit": np.full(n, self.max_steps, np.int64), "probe": z(n, bool),
            "escape": np.full(n, -1, np.int64), "start": z(n, np.int64), "order": z((n, 4), np.int64),
            "order_day": np.full(n, -1, np.int64), "ideal": z(n, np.int64), "ideal4": z((n, 4), np.int64),
            "force_probe": z(n, bool), "force_start": np.full(n, -1, np.int64),
            # Swim path: a ring buffer indexed by `clock`, the count of steps of the whole batch (equal in
            # every env, as all envs step together); the current trial began at clock - steps.
            "path": z((n, self.path_cap, 2), np.float32), "clock": z(n, np.int64),
        }

    def restart(self, state: State) -> None:
        """A new experiment: the next episode of every env is day 1, trial 1 (``reset`` with a seed)."""
        state["day"][:], state["trial"][:] = 1, 0
        state["plat_day"][:], state["order_day"][:] = -1, -1
        state["force_probe"][:], state["force_start"][:] = False, -1

    def apply_options(self, state: State, options: dict[str, Any]) -> None:
        """Apply ``reset(options=...)``. For the next trial of every env (one value, or one per env):
        ``day`` (jump to a day), ``trial`` (trial within it, default 1), ``probe`` (make it a probe),
        ``start`` (N/E/S/W). From the next trial on, for all envs: ``protocol``, ``reversal_day``,
        ``probe_days`` (as the constructor arguments)."""
        if not isinstance(options, dict):
            raise TypeError(f"options={options!r} must be a dict with keys among {list(OPTION_KEYS)}")
        unknown = sorted(set(options) - set(OPTION_KEYS))
        if unknown:
            raise ValueError(f"options has unknown key(s) {unknown}; allowed: {list(OPTION_KEYS)}")
        n = len(state["day"])

        def per_env(key: str, check) -> np.ndarray:
            v = options[key]
            vals = v if isinstance(v, (list, tuple, np.ndarray)) else [v] * n
            if len(vals) != n:
                raise ValueError(f"options[{key!r}]={v!r}: give one value or {n} (one per env)")
            return np.array([check(x) for x in vals])

        if "trial" in options and "day" not in options:
            raise ValueError("options['trial'] needs options['day'] too (jump to a day and a trial)")
        new: dict[str, np.ndarray] = {}  # every value is checked before any is applied
        if "day" in options:
            new["day"] = per_env("day", lambda d: check_int("options['day']", d, 1, 1_000_000))
            new["trial"] = np.zeros(n, np.int64)  # the trial before the one to run
            if "trial" in options:
                tpd = self.trials_per_day
                new["trial"] = per_env("trial", lambda t: check_int("options['trial']", t, 1, tpd)) - 1
        if "probe" in options:
            def flag(b: Any) -> bool:
                if not isinstance(b, (bool, np.bool_)):
                    raise TypeError(f"options['probe']={b!r} must be True or False")
                return bool(b)
            new["force_probe"] = per_env("probe", flag)
        if "start" in options:
            new["force_start"] = per_env(
                "start", lambda s: STARTS.index(check_choice("options['start']", s, STARTS)))
        protocol = check_choice("options['protocol']", options.get("protocol", self.protocol), PROTOCOLS)
        reversal_day = check_int("options['reversal_day']", options.get("reversal_day", self.reversal_day),
                                 2, 1_000_000)
        probe_days = _check_days("options['probe_days']", options.get("probe_days", self.probe_days))
        for key, v in new.items():
            state[key][:] = v
        if (protocol, reversal_day) != (self.protocol, self.reversal_day):
            self.protocol, self.reversal_day = protocol, reversal_day
            state["plat_day"][:] = -1  # the platform follows the new protocol from the next trial
        self.probe_days = probe_days

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        idx = np.arange(len(state["day"])) if mask is None else np.flatnonzero(mask)
        day, trial = state["day"][idx], state["trial"][idx] + 1
        roll = trial > self.trials_per_day
        day[roll] += 1
        trial[roll] = 1
        state["day"][idx], state["trial"][idx] = day, trial
        # Platform of the day.
        new = idx[state["plat_day"][idx] != day]
        if len(new):
            d = state["day"][new]
            if self.protocol == "dmp":
                u = per_env(rng, new, lambda g, k: g.random((k, 2)))
                big, small = self.pool_radius, self.platform_radius
                r_lo, r_hi = 0.2 * big, min(0.7 * big, big - small)
                r = np.sqrt(r_lo ** 2 + u[:, 0] * (r_hi ** 2 - r_lo ** 2))  # uniform over the annulus
                a = 2.0 * np.pi * u[:, 1]
                state["plat"][new] = np.stack([r * np.cos(a), r * np.sin(a)], axis=1)
            else:
                flip = (d >= self.reversal_day) if self.protocol == "reversal" else np.zeros(len(new), bool)
                state["plat"][new] = np.where(flip[:, None], -self.base_platform, self.base_platform)
            state["plat_day"][new] = d
            if self.start == "cardinal":  # ground truth from each of the four starts, once per platform
                rel = _START_XY[None] * self.pool_radius - state["plat"][new][:, None]  # (new, 4, 2)
                state["ideal4"][new] = ideal_latency(np.hypot(rel[..., 0], rel[..., 1]), self.platform_radius,
                                                     self.speed, self.momentum)
        # Start position: each day visits N, E, S, W in a random order (or a random point on the rim).
        forced = state["force_start"][idx]
        if self.start == "cardinal":
            redraw = idx[state["order_day"][idx] != day]
            if len(redraw):
                state["order"][redraw] = np.argsort(per_env(rng, redraw, lambda g, k: g.random((k, 4))), axis=1)
                state["order_day"][redraw] = state["day"][redraw]
            s = state["order"][idx, (trial - 1) % 4]
            s = np.where(forced >= 0, forced, s)
            xy = _START_XY[s] * self.pool_radius
        else:
            a = 2.0 * np.pi * per_env(rng, idx, lambda g, k: g.random(k), lambda g: g.random())
            xy = np.stack([np.cos(a), np.sin(a)], axis=1) * self.pool_radius
            s = forced.copy()
            xy = np.where((forced >= 0)[:, None], _START_XY[np.maximum(forced, 0)] * self.pool_radius, xy)
        state["start"][idx] = s
        state["pos"][idx] = xy
        state["vel"][idx] = 0.0
        state["head"][idx] = -xy / self.pool_radius  # facing the centre of the pool
        probe = state["force_probe"][idx]
        if len(self.probe_days):
            probe = probe | ((trial == 1) & np.isin(day, self.probe_days))
        state["probe"][idx] = probe
        state["limit"][idx] = np.where(probe, self.probe_steps, self.max_steps)
        state["force_probe"][idx], state["force_start"][idx] = False, -1
        state["steps"][idx], state["escape"][idx] = 0, -1
        if self.start == "cardinal":
            state["ideal"][idx] = state["ideal4"][idx, s]
        else:
            dist = np.hypot(*(xy - state["plat"][idx]).T)
            state["ideal"][idx] = ideal_latency(dist, self.platform_radius, self.speed, self.momentum)
        state["path"][idx, state["clock"][idx] % self.path_cap] = xy

    # --- dynamics -------------------------------------------------------------------------------------

    def step(self, state: State, action: np.ndarray, rng: Rng):
        pos, vel, plat = state["pos"], state["vel"], state["plat"]
        vel *= self.momentum
        if self.action_type == "discrete":
            vel += np.take(self._kicks, action, axis=0)
        else:
            u = action.astype(np.float64)
            u /= np.maximum(np.sqrt(_norm2(u)), 1.0)[:, None]
            vel += self._gain * u
        new = pos + vel
        r2 = _norm2(new)
        out = r2 > self.pool_radius_sq
        if out.any():  # the wall: stop on it and keep only the velocity along it
            r = np.sqrt(r2[out])
            new[out] *= (self.pool_radius / r)[:, None]
            e = new[out] / self.pool_radius
            v = vel[out]
            vr = v[:, 0] * e[:, 0] + v[:, 1] * e[:, 1]
            vel[out] = v - np.maximum(vr, 0.0)[:, None] * e
        # Did the swim segment pos -> new touch the platform? (closest point of the segment to its centre)
        near = np.flatnonzero(_norm2(plat - pos) <= self._near2)
        hit = np.zeros(len(pos), bool)
        if len(near):
            p0, p1, c = pos[near], new[near], plat[near]
            seg, q = p1 - p0, c - p0
            l2 = seg[:, 0] * seg[:, 0] + seg[:, 1] * seg[:, 1]
            dot = q[:, 0] * seg[:, 0] + q[:, 1] * seg[:, 1]
            t = np.zeros_like(l2)
            np.divide(dot, l2, out=t, where=l2 > 0.0)
            np.clip(t, 0.0, 1.0, out=t)
            close = p0 + t[:, None] * seg
            e = close - c
            h = (e[:, 0] * e[:, 0] + e[:, 1] * e[:, 1] <= self.platform_radius_sq) & ~state["probe"][near]
            if h.any():
                new[near[h]] = close[h]
                hit[near[h]] = True
        pos[:] = new
        speed = np.sqrt(_norm2(vel))[:, None]
        moving = speed > 0.0
        if moving.all():  # heading: the last direction of motion
            np.divide(vel, speed, out=state["head"])
        else:
            np.divide(vel, speed, out=state["head"], where=moving)
        steps = state["steps"]
        steps += 1
        clock = state["clock"]
        clock += 1
        state["path"][:, clock[0] % self.path_cap] = new
        reward = np.full(len(steps), np.float32(self.step_reward))
        if len(near) and hit.any():
            state["escape"][hit] = steps[hit]
            reward[hit] = self.reward_platform
        trunc = steps >= state["limit"]
        trunc &= ~hit
        return reward, hit, trunc

    def step_one(self, state: State, action: Any, rng: np.random.Generator):
        """The same arithmetic as :meth:`step`, in Python floats, for a batch of one (the single env's
        fast path; draws nothing)."""
        if self.action_type == "discrete":
            kx, ky = self._kicks_list[int(action)]
        else:
            ux, uy = float(action[0]), float(action[1])
            norm = max(math.sqrt(ux * ux + uy * uy), 1.0)
            kx, ky = self._gain * (ux / norm), self._gain * (uy / norm)
        (x, y), (vx, vy), (px, py) = state["pos"][0].tolist(), state["vel"][0].tolist(), \
            state["plat"][0].tolist()
        m = self.momentum
        vx, vy = vx * m + kx, vy * m + ky
        nx, ny = x + vx, y + vy
        r2 = nx * nx + ny * ny
        if r2 > self.pool_radius_sq:
            f = self.pool_radius / math.sqrt(r2)
            nx, ny = nx * f, ny * f
            ex, ey = nx / self.pool_radius, ny / self.pool_radius
            vr = vx * ex + vy * ey
            vr = vr if vr > 0.0 else 0.0
            vx, vy = vx - vr * ex, vy - vr * ey
        hit = False
        qx, qy = px - x, py - y
        if qx * qx + qy * qy <= self._near2:
            sx, sy = nx - x, ny - y
            l2 = sx * sx + sy * sy
            t = (qx * sx + qy * sy) / l2 if l2 > 0.0 else 0.0
            t = 0.0 if t < 0.0 else (1.0 if t > 1.0 else t)
            cx, cy = x + t * sx, y + t * sy
            ex, ey = cx - px, cy - py
            hit = ex * ex + ey * ey <= self.platform_radius_sq and not state["probe"][0]
            if hit:
                nx, ny = cx, cy
        state["pos"][0] = (nx, ny)
        state["vel"][0] = (vx, vy)
        speed2 = vx * vx + vy * vy
        if speed2 > 0.0:
            sp = math.sqrt(speed2)
            state["head"][0] = (vx / sp, vy / sp)
        steps = int(state["steps"][0]) + 1
        state["steps"][0] = steps
        clock = int(state["clock"][0]) + 1
        state["clock"][0] = clock
        state["path"][0, clock % self.path_cap] = (nx, ny)
        if hit:
            state["escape"][0] = steps
        reward = self.reward_platform if hit else self.step_reward
        trunc = not hit and steps >= state["limit"][0]
        return np.array((reward,), np.float32), np.array((hit,)), np.array((trunc,))

    # --- observations ---------------------------------------------------------------------------------

    def place_cells(self, pos: np.ndarray) -> np.ndarray:
        """Place-cell rates (n, n_cells) float32 at positions (n, 2) (see :class:`PlaceCells`)."""
        return self.cells.rates(pos)

    def view(self, state: State) -> np.ndarray:
        """Egocentric panoramic strip (n, view_width) uint8 of the cues on the room wall."""
        return panoramic_view(state["pos"], state["head"], self._view_rot, self.cue_distance * self.pool_radius,
                              self.texture)

    def observe(self, state: State) -> np.ndarray:
        if self.observation == "place_cells":
            return self.place_cells(state["pos"])
        if self.observation == "position":
            obs = np.concatenate([state["pos"] / self.pool_radius, state["head"]], axis=1).astype(np.float32)
            return np.clip(obs, -1.0, 1.0, out=obs)
        v = self.view(state)
        return v if self.view_dtype == "uint8" else v.astype(np.float32) / np.float32(255.0)

    def info(self, state: State) -> dict[str, np.ndarray]:
        pos, plat = state["pos"], state["plat"]
        return {
            "x": pos[:, 0], "y": pos[:, 1], "platform_x": plat[:, 0], "platform_y": plat[:, 1],
            "day": state["day"], "trial": state["trial"], "steps": state["steps"],
            "escape_latency": state["escape"], "probe": state["probe"], "start": state["start"],
            "ideal_latency": state["ideal"],
        }

    def draw(self, canvas: Any, state: State, i: int) -> None:
        draw_maze(self, canvas, state, i)


class WaterMazeEnv(TaskEnv):
    """
    ## Description
    The Morris water maze (Morris 1984; Foster, Morris & Dayan 2000). A rat swims in a circular pool of
    radius `pool_radius` (cm) to find a hidden circular platform of radius `platform_radius`. Each step it
    chooses a heading; its velocity is `momentum * v + (1 - momentum) * speed * heading`, so it cannot turn
    on the spot. It stops at the wall and keeps only the velocity along it. Trials start on the rim at N,
    E, S or W (each once per day, in a random order; or a random rim point with `start="random"`).
    Episodes are trials; trials are grouped into days, and the platform follows a protocol across them:
    - `reference`: reference memory, the platform never moves.
    - `reversal`: the platform moves to the opposite quadrant from day `reversal_day` on.
    - `dmp`: delayed matching to place, a new random platform every day (uniform over the annulus
      0.2 R..0.7 R).
    - probe trials (any protocol): the first trial of each day in `probe_days` (or a trial asked for with
      `reset(options={"probe": True})`) has no platform and lasts `probe_steps` steps.

    `reset(seed=...)` starts a new experiment (day 1, trial 1); `reset()` runs the next trial.
    `reset(options=...)` sets the next trial: `{"day": d}` jumps to day `d` (trial 1, or `"trial": t`),
    `{"probe": True}` makes it a probe, `{"start": "S"}` picks the start; `protocol`, `reversal_day` and
    `probe_days` change the protocol from the next trial on. In the native vector env every env keeps
    its own day and trial; a trial option may be one value or one per env.

    ## Observation
    - `place_cells` (default): `Box(0, 1, (N,), float32)`, rates `exp(-|p - c|^2 / (2 sigma^2))` of N
      Gaussian place fields centred on a `place_cell_grid` x `place_cell_grid` lattice spanning the pool,
      kept inside it (161 cells for 15 x 15), `sigma = place_cell_width * pool_radius`.
    - `position`: `Box(-1, 1, (4,), float32)`: x / R, y / R, heading (cos, sin).
    - `view`: `Box(0, 255, (view_width,), uint8)` (or float32 in [0, 1] with `view_dtype="float32"`):
      an egocentric 360-degree strip of the room wall, a circle of radius `cue_distance * pool_radius`
      carrying four distinct cues; the middle pixel looks straight ahead, pixel 0 behind on the left.

    ## Action
    `Discrete(n_headings)` (8): heading `2 pi k / n_headings`, 0 = E, counter-clockwise (2 = N, 4 = W,
    6 = S). With `action_type="continuous"`: `Box(-1, 1, (2,), float32)`, a velocity as a fraction of
    `speed` (norms above 1 are scaled to 1).

    ## Rewards
    `reward_platform` (1) on reaching the platform, `step_reward` (0) on every other step.

    ## Termination
    Terminated when the swim segment of a step touches the platform (the rat stops on it). Truncated
    after `max_steps` (120) steps without finding it (a timeout), or after `probe_steps` in a probe.

    ## Info
    `x`, `y` (cm from the pool centre), `platform_x`, `platform_y` (also during a probe: where it was),
    `day`, `trial` (both from 1), `steps` (in this trial), `escape_latency` (steps to the platform, -1 until
    found), `probe`, `start` (0..3 = N, E, S, W; -1 for a random rim start), `ideal_latency`.

    ## Arguments
    `pool_radius` (60; 0.01..1e4), `platform_radius` (10; at most pool_radius / 2), `speed` (5 per step;
    at most pool_radius), `momentum` (0.2), `max_steps`
    (120), `platform` ('NE', 'NW', 'SW', 'SE' = the quadrant's centre at pool_radius / 2, or an (x, y) pair),
    `start` ('cardinal' or 'random'), `protocol` ('reference', 'reversal', 'dmp'), `trials_per_day` (4),
    `reversal_day` (13), `probe_days` (()), `probe_steps` (60), `action_type` ('discrete' or
    'continuous'), `n_headings` (8), `observation` ('place_cells', 'position', 'view'),
    `place_cell_grid` (15), `place_cell_width` (0.16; 0.001..4), `view_width` (64), `view_dtype` ('uint8' or
    'float32'), `cue_distance` (2.0), `reward_platform` (1), `step_reward` (0), `render_mode`.

    ## Ground truth
    `info["ideal_latency"]`: the fewest steps from the start to the platform edge swimming straight at it
    from rest (momentum's ramp-up included; `ideal_latency` in this module). Behaviour
    (escape latency per trial and day, path length, time per quadrant in probes) is computed from logged
    infos by `brainset_envs.analysis.water_maze`.

    ## Registered configurations
    - `BrainSet/WaterMaze-v0`: reference memory with the measured-reference parameters (R 60 cm,
      platform 10 cm, 5 cm steps, momentum 0.2, timeout 120, 161 place cells, sigma 9.6 cm, 4 trials/day).
    - `BrainSet/WaterMazeReversal-v0`: the platform moves to the opposite quadrant on day 13.
    - `BrainSet/WaterMazeDMP-v0`: delayed matching to place, a new platform every day.
    - `BrainSet/WaterMazeView-v0`: the egocentric view of the distal cues as observation.
    """

    core_class = WaterMazeCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 15}
    core: WaterMazeCore

    def oracle_action(self) -> Any:
        """Swim straight at the platform (ground truth; ignores momentum): the heading closest to the
        platform's direction, or that unit velocity with ``action_type='continuous'``."""
        to_plat = self.state["plat"][0] - self.state["pos"][0]
        norm = float(np.hypot(*to_plat))
        if self.core.action_type == "discrete":
            return int(np.argmax(self.core.dirs @ to_plat))
        return (to_plat / max(norm, 1e-9)).astype(np.float32)


class WaterMazeVectorEnv(TaskVectorEnv):
    """Native batched WaterMaze: the same core over `num_envs` rats, each with its own day and trial."""

    core_class = WaterMazeCore
    metadata: dict[str, Any] = {**TaskVectorEnv.metadata, "render_fps": 15}
    core: WaterMazeCore

