"""ForagingArena: spatial foraging under a homeostatic drive (seed paper Box 3; Keramati & Gutkin 2014)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core import grid_draw as gd
from brainset_envs.core.grid import N_MOVES, STAY, Layout, compiled
from brainset_envs.core.layouts import cell_arg, get_layout
from brainset_envs.core.params import (
    F32_MAX,
    F32_TINY,
    check_budget,
    check_choice,
    check_float,
    check_int,
    fit_float32,
)
from brainset_envs.core.rand import per_env
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv

REWARDS = ("food", "homeostatic")
OBSERVATIONS = ("flat", "dict", "pixels")


class ForagingArenaCore(TaskCore):
    """Batch-first dynamics of ForagingArena (see :class:`ForagingArenaEnv`).

    State: ``cell`` (n,); ``ext`` (n, h*w + 4) float32 holding the food of every cell as a fraction of
    ``food_max`` (0 off the patches), then 'outside' (0), the energy, and the constants 0 and 1, so that
    the whole observation is one gather ``ext[env, obs_index[cell]]``; ``grow`` (n, h*w + 4) regrowth
    per step on the patch cells; ``patch`` (n, K) patch cells; ``t``; ``eaten``; ``drive``.

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws (start and
    patch cells), each env from its own stream, so env ``i`` of a vector env is exactly a single env
    seeded with ``seed + i``. :meth:`step_one` is the single env's scalar fast path.
    """

    info_keys: tuple[str, ...] = ("energy", "eaten", "row", "col")

    def __init__(
        self,
        layout: str | Layout = "open",
        size: int | list[int] | None = None,
        n_patches: int | None = None,
        food_max: float = 1.0,
        regrow_rate: float = 0.01,
        bite: float = 0.5,
        energy_init: float = 0.5,
        energy_decay: float = 0.01,
        energy_per_food: float = 0.5,
        setpoint: float = 0.8,
        drive_exponent: float = 2.0,
        reward: str = "food",
        observation: str = "flat",
        view_size: int = 5,
        start: list[int] | None = None,
        max_steps: int = 500,
        pixels_per_cell: int = 6,
    ):
        lay = get_layout(layout, 11 if size is None and isinstance(layout, str) and layout == "open" else size)
        self.layout, self.grid = lay, compiled(lay)
        # Food, energy and rewards are float32: food_max and the ratios and products below must fit it.
        self.food_max = check_float("food_max", food_max, F32_TINY, F32_MAX)
        regrow_rate = check_float("regrow_rate", regrow_rate, 0.0)
        if regrow_rate > self.food_max:
            raise ValueError(f"regrow_rate={regrow_rate!r} and food_max={food_max!r} do not fit: regrow_rate "
                             f"must be in [0, food_max] = [0, {self.food_max}]")
        self.regrow = regrow_rate / self.food_max
        fit_float32("regrow_rate / food_max", self.regrow)
        self.bite = check_float("bite", bite, 0.0, None, low_open=True) / self.food_max
        fit_float32("bite / food_max", self.bite)
        self.energy_init = check_float("energy_init", energy_init, 0.0, 1.0, low_open=True)
        self.energy_decay = check_float("energy_decay", energy_decay, 0.0, 1.0)
        self.gain = check_float("energy_per_food", energy_per_food, 0.0) * self.food_max
        fit_float32("energy_per_food * food_max", self.gain)
        self.setpoint = check_float("setpoint", setpoint, 0.0, 1.0)
        self.drive_exponent = check_float("drive_exponent", drive_exponent, 0.0, 16.0, low_open=True)
        self.reward_mode = check_choice("reward", reward, REWARDS)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.view_size = check_int("view_size", view_size, 1, 63)
        if self.view_size % 2 == 0:
            raise ValueError(f"view_size={view_size!r} must be odd (the agent sits in the centre)")
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.pixels_per_cell = check_int("pixels_per_cell", pixels_per_cell, 2, 64)
        free = lay.free_cells
        self.fixed_patches = np.asarray(lay.food, np.intp) if lay.food else None
        max_k = len(free) - 1
        if lay.food:
            k = len(lay.food)
            if n_patches is not None and check_int("n_patches", n_patches, 0) != k:
                raise ValueError(f"n_patches={n_patches!r} conflicts with the layout's {k} 'F' cells")
        else:
            k = check_int("n_patches", 4 if n_patches is None else n_patches, 0)
            if k > max_k:
                raise ValueError(f"n_patches={k!r} does not fit the layout: layout/size give {len(free)} free "
                                 f"cell(s), one for the agent, so n_patches must be in [0, {max_k}]")
        self.n_patches = k
        self.start = None if start is None else cell_arg("start", start, lay)
        self._free = free
        self._nxt = self.grid.next
        self._nxt_rows = self.grid.next.tolist()  # python ints for the batch-of-one path
        hw = self.grid.n_cells
        self.view_channels = tuple(self.grid.static_channels()) + ("food",)
        kk, c = self.view_size ** 2, len(self.view_channels)
        grid_size = f"layout/size ({lay.h}x{lay.w} grid)"
        check_budget(f"{grid_size}, view_size={self.view_size}", "the view table (cells x view_size^2 x channels)",
                     hw * kk * c)
        if self.observation == "pixels":
            check_budget(f"{grid_size}, pixels_per_cell={self.pixels_per_cell}", "a pixel observation",
                         (lay.h + 1) * lay.w * self.pixels_per_cell ** 2 * 3)
        # obs_index[cell]: where each observation entry comes from in ext (see the class docstring)
        self._energy_col, zero, one = hw + 1, hw + 2, hw + 3
        static = self.grid.static_view(self.view_size)  # (hw, kk, c-1) of 0/1
        gather = np.empty((hw, kk, c), np.intp)
        gather[:, :, :-1] = np.where(static > 0.5, one, zero)
        gather[:, :, -1] = self.grid.view_index(self.view_size)  # food, 'outside' -> column hw (0)
        self._obs_index = np.concatenate([gather.reshape(hw, -1), np.full((hw, 1), hw + 1)], axis=1)
        if self.observation == "flat":
            self.observation_space = spaces.Box(0.0, 1.0, (kk * c + 1,), np.float32)
        elif self.observation == "dict":
            self.observation_space = spaces.Dict({
                "view": spaces.Box(0.0, 1.0, (self.view_size, self.view_size, c), np.float32),
                "energy": spaces.Box(0.0, 1.0, (1,), np.float32)})
        else:
            self._base = gd.pixel_base(self.grid, self.pixels_per_cell)
            bar = np.zeros((self.pixels_per_cell, self._base.shape[1], 3), np.uint8)
            self._base = np.concatenate([self._base, bar], axis=0)
            self.observation_space = spaces.Box(0, 255, self._base.shape, np.uint8)
        self.action_space = spaces.Discrete(N_MOVES)
        self._hw = hw
        self._bite32, self._gain32 = np.float32(self.bite), np.float32(self.gain)
        self._decay32, self._food_max32 = np.float32(self.energy_decay), np.float32(self.food_max)
        px = gd.cell_px(lay.h, lay.w)
        self._px = px
        self.render_size = (lay.w * px, lay.h * px + 44)

    def drive(self, energy: np.ndarray) -> np.ndarray:
        """Homeostatic drive D(h) = |h* - h|^p (Keramati & Gutkin 2014), float32."""
        d = np.abs(np.float32(self.setpoint) - np.asarray(energy, np.float32))
        return d * d if self.drive_exponent == 2.0 else d ** np.float32(self.drive_exponent)

    # -- dynamics --------------------------------------------------------------------------------

    def new_state(self, n: int) -> State:
        hw = self._hw
        ext = np.zeros((n, hw + 4), np.float32)
        ext[:, hw + 3] = 1.0
        return {
            "cell": np.zeros(n, np.intp), "t": np.zeros(n, np.int64), "ext": ext,
            "grow": np.zeros((n, hw + 4), np.float32), "patch": np.zeros((n, self.n_patches), np.intp),
            "eaten": np.zeros(n, np.float32), "drive": np.zeros(n, np.float32), "rows": np.arange(n),
            "off": np.arange(n)[:, None] * (hw + 4),
        }

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rows = state["rows"] if mask is None else state["rows"][mask]
        k = len(rows)
        free = self._free
        if self.fixed_patches is not None:
            patch = np.broadcast_to(self.fixed_patches, (k, self.n_patches))
            cand = np.setdiff1d(free, self.fixed_patches)
            cell = cand[per_env(rng, rows, lambda g, m: g.integers(0, len(cand), m),
                                lambda g: g.integers(0, len(cand)))] if self.start is None \
                else np.full(k, self.start)
        else:
            # distinct random cells per env: the start first, then the patches (ranks of random keys)
            w = len(free)
            keys = per_env(rng, rows, lambda g, m: g.random((m, w)), lambda g: g.random(w))
            if self.start is not None:
                keys[:, np.searchsorted(free, self.start)] = -1.0
            order = np.argsort(keys, axis=1)[:, : self.n_patches + 1]
            cell = free[order[:, 0]]
            patch = free[order[:, 1:]]
        hw = self._hw
        state["cell"][rows] = cell
        state["patch"][rows] = patch
        ext, grow = state["ext"], state["grow"]
        ext[rows, :hw] = 0.0
        ext[rows[:, None], patch] = 1.0
        ext[rows, hw + 1] = np.float32(self.energy_init)
        grow[rows] = 0.0
        grow[rows[:, None], patch] = np.float32(self.regrow)
        state["t"][rows] = 0
        state["eaten"][rows] = 0.0
        state["drive"][rows] = self.drive(np.float32(self.energy_init))

    def step(self, state: State, action: np.ndarray, rng: Rng):
        cell = self._nxt[state["cell"], action]
        state["cell"] = cell
        rows, ext, e = state["rows"], state["ext"], self._energy_col
        here = ext[rows, cell]
        eat = np.minimum(here, self._bite32)
        ext[rows, cell] = here - eat
        h = ext[:, e] + (eat * self._gain32 - self._decay32)
        dead = h < 1e-6  # energy reaches zero (float32 rounding of repeated decay steps absorbed)
        ext[:, e] = np.where(dead, np.float32(0.0), h)
        ext += state["grow"]
        np.minimum(ext, np.float32(1.0), out=ext)  # food capacity, and the energy ceiling
        eaten = eat * self._food_max32 if self.food_max != 1.0 else eat
        state["eaten"] = eaten
        if self.reward_mode == "food":
            reward = eaten.copy()
        else:
            d = self.drive(ext[:, e])
            reward = state["drive"] - d
            state["drive"] = d
        t = state["t"]
        t += 1
        return reward, dead, t >= self.max_steps

    def step_one(self, state: State, action: int, rng: np.random.Generator):
        """:meth:`step` for a batch of one (the single env's fast path) with numpy float32 scalars: the
        same float32 operations in the same order, without array overhead; draws nothing."""
        cell = self._nxt_rows[int(state["cell"][0])][action]
        state["cell"][0] = cell
        ext, e = state["ext"], self._energy_col
        row = ext[0]
        here = row[cell]
        eat = min(here, self._bite32)
        row[cell] = here - eat
        h = row[e] + (eat * self._gain32 - self._decay32)
        dead = bool(h < 1e-6)
        row[e] = np.float32(0.0) if dead else h
        ext += state["grow"]
        np.minimum(ext, np.float32(1.0), out=ext)
        eaten = eat * self._food_max32 if self.food_max != 1.0 else eat
        state["eaten"][0] = eaten
        if self.reward_mode == "food":
            reward = eaten
        else:
            d = self.drive(row[e])
            reward = state["drive"][0] - d
            state["drive"][0] = d
        t = state["t"]
        t += 1
        return np.array((reward,), np.float32), np.array((dead,)), np.array((t[0] >= self.max_steps,))

    # -- observations ----------------------------------------------------------------------------

    def observe(self, state: State) -> Any:
        if self.observation == "pixels":
            return self._pixels(state)
        cell = state["cell"]
        if len(cell) == 1:
            flat = state["ext"][:, self._obs_index[cell[0]]]
        else:
            flat = state["ext"].ravel()[self._obs_index[cell] + state["off"]]  # flat gather: 2x faster
        if self.observation == "flat":
            return flat
        k = self.view_size
        return {"view": flat[:, :-1].reshape(len(cell), k, k, -1), "energy": flat[:, -1:]}

    def _pixels(self, state: State) -> np.ndarray:
        n, ppc, w = len(state["cell"]), self.pixels_per_cell, self.grid.w
        img = np.repeat(self._base[None], n, axis=0)
        arena = img[:, : -ppc]
        if self.n_patches:
            amount = self.food(state).ravel()[:, None]
            colour = np.round(np.array(gd.FREE) * (1 - amount) + np.array(gd.FOOD) * amount).astype(np.uint8)
            v = arena.reshape(n, self.grid.h, ppc, w, ppc, 3)
            r, c = np.divmod(state["patch"].ravel(), w)
            v[np.repeat(np.arange(n), self.n_patches), r, 1:ppc - 1, c, 1:ppc - 1] = colour[:, None, None, :]
        gd.paint_cells(arena, state["cell"], w, ppc, gd.AGENT, max(1, ppc // 4))
        width = img.shape[2]
        full = np.arange(width)[None, :] < np.round(self.energy(state) * width)[:, None]
        img[:, -ppc + 1:, :, :] = np.where(full[:, None, :, None], np.uint8(230), np.uint8(60))
        return img

    def energy(self, state: State) -> np.ndarray:
        """(n,) energy of each env (a view)."""
        return state["ext"][:, self._energy_col]

    def food(self, state: State) -> np.ndarray:
        """(n, K) food left on each patch, as a fraction of ``food_max``."""
        return state["ext"][state["rows"][:, None], state["patch"]]

    def info(self, state: State) -> dict[str, np.ndarray]:
        cell = state["cell"]
        return {"energy": state["ext"][:, self._energy_col], "eaten": state["eaten"],
                "row": self.grid.row[cell], "col": self.grid.col[cell]}

    # -- rendering -------------------------------------------------------------------------------

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf, px, w = canvas.surface, self._px, self.grid.w
        surf.fill((20, 20, 24))
        gd.draw_grid(surf, self.grid, px)
        font = canvas.font(max(12, px // 2))
        for p in state["patch"][i]:
            amount = float(state["ext"][i, p])
            full = gd.cell_rect(int(p), w, px, 2)
            pygame.draw.rect(surf, gd.FOOD, full, 1)
            side = int(round((px - 4) * np.sqrt(amount)))
            if side > 0:
                rect = pygame.Rect(0, 0, side, side)
                rect.center = full.center
                surf.fill(gd.FOOD, rect)
            surf.blit(font.render(f"{amount * self.food_max:.1f}", True, gd.WALL), (full.x + 1, full.y + 1))
        gd.draw_agent(surf, int(state["cell"][i]), w, px)
        y = self.layout.h * px + 6
        bar = pygame.Rect(6, y, surf.get_width() - 12, 14)
        energy = float(state["ext"][i, self._energy_col])
        pygame.draw.rect(surf, (60, 60, 66), bar)
        surf.fill((230, 170, 40), pygame.Rect(bar.x, bar.y, int(bar.width * energy), bar.height))
        sx = bar.x + int(bar.width * self.setpoint)
        pygame.draw.line(surf, (240, 240, 240), (sx, bar.y - 2), (sx, bar.bottom + 2), 2)
        ate = float(state["eaten"][i])
        line = f"energy {energy:.2f}  t {int(state['t'][i])}/{self.max_steps}  ate {ate:.2f}"
        surf.blit(canvas.font(16).render(line, True, (230, 230, 230)), (6, y + 20))


# -- the scripted reference forager (ground truth; scored by brainset_envs.analysis.foraging_arena) ---


def forager_actions(core: ForagingArenaCore, state: State, threshold: float | None = None,
                    min_food: float | None = None) -> np.ndarray:
    """Actions of the scripted forager for every env of a batch.

    Below ``threshold`` energy (default: the core's setpoint) walk along a shortest path to the nearest
    patch with at least ``min_food`` (default: one bite) and stay on it to eat; if no patch has that
    much, go to the fullest one and wait there. At or above the threshold rest: stay, or step off a
    patch that still has food (eating is automatic, so resting on food would overeat). Deterministic.
    """
    grid = core.grid
    thr = core.setpoint if threshold is None else threshold
    cell, rows = state["cell"], state["rows"]
    patch = state["patch"]
    action = np.full(len(cell), STAY, np.intp)
    if core.n_patches == 0:
        return action
    food_here = state["ext"][rows, cell] > 0
    dist = grid.distances()[cell[:, None], patch].astype(float)
    dist[dist < 0] = np.inf
    amount = core.food(state)
    need = core.bite if min_food is None else min_food / core.food_max
    full = amount >= need * (1 - 1e-6)
    d_food = np.where(full, dist, np.inf)
    # nearest patch with a full bite; if none, the fullest patch (ties: the nearest)
    fallback = np.where(np.isfinite(dist), -amount + 1e-3 * dist / (1.0 + dist.max()), np.inf)
    has = np.isfinite(d_food).any(1)
    pick = np.where(has, d_food.argmin(1), fallback.argmin(1))
    target = patch[rows, pick]
    go = grid.step_towards(cell, target)
    # resting: off the food, to the first neighbour without food
    nb = grid.next[cell, :4]
    nb_free = (state["ext"][rows[:, None], nb] <= 0) & (nb != cell[:, None])
    leave = np.where(nb_free.any(1), nb_free.argmax(1), STAY)
    hungry = core.energy(state) < thr
    action[hungry] = go[hungry]
    sated_on_food = ~hungry & food_here
    action[sated_on_food] = leave[sated_on_food]
    return action


class ForagingArenaEnv(TaskEnv):
    """
    ## Description
    Spatial foraging under a homeostatic drive (seed paper, Box 3). The agent moves in a grid arena
    (open, or any grid layout) with `n_patches` food patches at random cells. Standing on a patch eats up
    to `bite` food per step; food depletes when eaten and regrows by `regrow_rate` per step up to
    `food_max`. An internal energy level h in [0, 1] decays by `energy_decay` each step and rises by
    `energy_per_food` per unit of food eaten. The episode ends when energy reaches zero.

    ## Observation
    Chosen by `observation`:
    - `flat` (default, for MLP policies): `Box(0, 1, (k*k*C + 1,), float32)`, the egocentric k x k view
      (`view_size`, north up, agent in the centre) flattened channel-last, then the energy. Channels
      (`env.unwrapped.core.view_channels`): blocked or outside the arena, thin walls N/S/E/W (layouts
      with thin walls), food (fraction of `food_max`).
    - `dict` (SB3's MultiInputPolicy): `Dict(view=Box(0, 1, (k, k, C), float32),
      energy=Box(0, 1, (1,), float32))`.
    - `pixels`: `Box(0, 255, (h*ppc + ppc, w*ppc, 3), uint8)`, the arena from above (food shade = amount,
      agent red) over an energy bar.

    ## Action
    `Discrete(5)`: 0 = N (up), 1 = S (down), 2 = E (right), 3 = W (left), 4 = stay (stay to keep eating).

    ## Rewards
    `reward='food'` (default): the amount of food eaten this step. `reward='homeostatic'`: the reduction
    of the drive D(h) = |h* - h|^p between steps, r = D(h_t) - D(h_{t+1}) (Keramati & Gutkin 2014,
    h* = `setpoint`, p = `drive_exponent`). Eating below the setpoint is rewarded, eating above it is
    punished and starving is punished step by step: the two modes differ exactly when the agent is sated,
    so the same task compares "maximise food" with "keep energy near h*".

    ## Termination
    When energy reaches 0. Truncation after `max_steps` (500) steps.

    ## Info
    `energy` (after the step), `eaten` (food this step), `row`, `col`. The drive of an energy level is
    `env.unwrapped.core.drive(energy)`.

    ## Arguments
    `layout` ('open'), `size` (11; for 'open'), `n_patches` (4; a layout's 'F' cells fix the patches),
    `food_max` (1.0), `regrow_rate` (0.01 per step), `bite` (0.5), `energy_init` (0.5), `energy_decay`
    (0.01), `energy_per_food` (0.5), `setpoint` (0.8), `drive_exponent` (2.0), `reward` ('food' or
    'homeostatic'), `observation` ('flat', 'dict' or 'pixels'), `view_size` (5), `start` (None: random;
    or [row, col]), `max_steps` (500), `pixels_per_cell` (6), `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.foraging_arena.reference_stats(**kwargs)`: reward rate, food rate and survival
    time of the scripted forager ("walk along a shortest path to the nearest patch with a full bite of food
    when energy is below the setpoint, otherwise rest off the food") and of a random walk on the same
    configuration, so an agent can be scored as a fraction of the reference. With the defaults the
    forager survives every 500-step episode (food 0.022 per step, mean energy 0.87) while a random walk
    starves after about 100 steps (food 0.011 per step).

    ## Registered configurations
    - `BrainSet/ForagingArena-v0`: defaults above (food reward).
    - `BrainSet/ForagingArenaHomeostatic-v0`: homeostatic reward.
    """

    core_class = ForagingArenaCore
    core: ForagingArenaCore
    play_keys: ClassVar[dict[str, int]] = {"up": 0, "down": 1, "right": 2, "left": 3, "space": 4}

    def oracle_action(self) -> int:
        """The scripted reference forager's action now (ground truth for scoring and recording)."""
        return int(forager_actions(self.core, self.state)[0])


class ForagingArenaVectorEnv(TaskVectorEnv):
    """Native batched ForagingArena: the same core over `num_envs` envs."""

    core_class = ForagingArenaCore
    core: ForagingArenaCore
