"""EmpowermentGrid: empowerment-driven exploration, with exact empowerment as ground truth."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core import grid_draw as gd
from brainset_envs.core.grid import N_MOVES, STAY, Layout, compiled, noisy_actions
from brainset_envs.core.layouts import cell_arg, get_layout
from brainset_envs.core.params import check_budget, check_choice, check_float, check_float32, check_int
from brainset_envs.core.rand import per_env, shared
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv
from brainset_envs.tasks.empowerment_grid_exact import (
    channel_capacity,
    channel_matrix,
    empowerment_map,
    empowerment_of_states,
)

OBSERVATIONS = ("onehot", "coords", "view", "pixels")
TV_MODES = (None, "action", "cell")
HEATMAPS = (None, "empowerment", "visits")
WATCH_TV = 5  # the extra action with noisy_tv="action"


class EmpowermentGridCore(TaskCore):
    """Batch-first dynamics of EmpowermentGrid (see :class:`EmpowermentGridEnv`).

    ``shared_stream = True``: one random stream for the whole batch. The default configurations draw
    only the start cell at reset, but their steps are so cheap (about 40 us per step at 1024 envs) that
    one Generator call per resetting env (about 1.5 ms for the 1024 envs whose episodes end together)
    costs 18-25% of the vector throughput at 1024 envs (7% on the box room;
    ``python scripts/bench_rng_streams.py --ab`` with the attribute set to False); with action noise or
    a noisy TV every env draws on every step, which per-env streams would slow several-fold. So env
    ``i`` of a vector env matches a single env in distribution, not draw for draw.
    """

    shared_stream: ClassVar[bool] = True

    info_keys: tuple[str, ...] = ("row", "col", "empowerment")

    def __init__(
        self,
        layout: str | Layout = "open",
        size: int | list[int] | None = None,
        observation: str = "onehot",
        view_size: int = 5,
        noise: float = 0.0,
        start: list[int] | str | None = None,
        goal: list[int] | None = None,
        goal_reward: float = 1.0,
        max_steps: int = 100,
        empowerment_n: int | None = None,
        noisy_tv: str | None = None,
        tv_cell: list[int] | None = None,
        tv_dim: int = 4,
        pixels_per_cell: int = 8,
        render_heatmap: str | None = None,
    ):
        lay = get_layout(layout, size)
        self.grid = compiled(lay)
        self.layout = lay
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.view_size = check_int("view_size", view_size, 1, 63)
        if self.view_size % 2 == 0:
            raise ValueError(f"view_size={view_size!r} must be odd (the agent sits in the centre)")
        self.noise = check_float("noise", noise, 0.0, 1.0)
        self.goal_reward = check_float32("goal_reward", goal_reward)
        self.max_steps = check_int("max_steps", max_steps, 1)
        default_n = 5 if self.noise == 0.0 else 2  # Blahut-Arimoto at n = 5 costs ~0.1-3 s per state
        self.empowerment_n = check_int("empowerment_n", default_n if empowerment_n is None else empowerment_n,
                                       0, 12)
        if self.noise > 0.0 and self.empowerment_n > 6:
            raise ValueError(f"empowerment_n={empowerment_n!r} with noise={noise!r}: Blahut-Arimoto over 5^n action "
                             "sequences per state needs minutes and gigabytes beyond n = 6; allowed at most 6 with "
                             "noise > 0")
        self.noisy_tv = check_choice("noisy_tv", noisy_tv, TV_MODES)
        self.tv_dim = check_int("tv_dim", tv_dim, 1, 1024)
        self.pixels_per_cell = check_int("pixels_per_cell", pixels_per_cell, 2, 64)
        self.render_heatmap = check_choice("render_heatmap", render_heatmap, HEATMAPS)
        grid_size = f"layout/size ({lay.h}x{lay.w} grid)"
        if self.observation == "view":
            check_budget(f"{grid_size}, view_size={self.view_size}",
                         "the view table (cells x view_size^2 x channels)", lay.h * lay.w * self.view_size ** 2 * 7)
        elif self.observation == "pixels":
            check_budget(f"{grid_size}, pixels_per_cell={self.pixels_per_cell}", "a pixel observation",
                         lay.h * lay.w * self.pixels_per_cell ** 2 * 3)
        self.n_boxes = len(lay.boxes)
        self.goal = lay.goal if goal is None else cell_arg("goal", goal, lay)
        self.tv_cell = None
        given_tv = None if tv_cell is None else cell_arg("tv_cell", tv_cell, lay)  # checked in every mode
        if self.noisy_tv == "cell":
            self.tv_cell = lay.tv if given_tv is None else given_tv
            if self.tv_cell is None:
                raise ValueError("noisy_tv='cell' needs tv_cell=[row, col] or a 'T' cell in the layout")
        if self.noisy_tv is not None and self.observation in ("view", "pixels"):
            raise ValueError(f"noisy_tv={noisy_tv!r} works with observation 'onehot' or 'coords', "
                             f"not {observation!r}")
        if self.goal is not None and self.goal in lay.boxes:
            raise ValueError(f"goal={goal!r} is on a box")
        self.start: int | None
        if start is None and lay.start is not None:
            self.start = lay.start
        elif start is None or (isinstance(start, str) and start == "random"):
            self.start = None
        else:
            self.start = cell_arg("start", start, lay)
            if self.start in lay.boxes:
                raise ValueError(f"start={start!r} is on a box")
        candidates = np.setdiff1d(lay.free_cells, list(lay.boxes) + ([self.goal] if self.goal is not None
                                                                        else []))
        if len(candidates) == 0:
            raise ValueError("layout has no free cell to start in (all are boxes or the goal)")
        self.start_cells = candidates
        self._nxt = self.grid.next
        self._row, self._col = self.grid.row, self.grid.col
        self._space = self.grid.state_space()
        self._init_empowerment()
        self._init_observation()
        self.action_space = spaces.Discrete(N_MOVES + (self.noisy_tv == "action"))
        px = gd.cell_px(lay.h, lay.w)
        self._px = px
        self.render_size = (lay.w * px, lay.h * px + 28)

    # -- ground truth ----------------------------------------------------------------------------

    def _init_empowerment(self) -> None:
        self._cell2sid = np.zeros(self.grid.n_cells, np.intp)
        self._cell2sid[self.layout.free_cells] = np.arange(len(self.layout.free_cells))
        if self.noise == 0.0:
            self._emp = np.asarray(empowerment_of_states(self.grid, self.empowerment_n))
            self._emp_lazy = False
        else:  # Blahut-Arimoto per state: filled on first visit
            self._emp = np.full(self._space.n_states, np.nan)
            self._emp_lazy = True
        # per-cell lookup for worlds without boxes (one fancy index per step)
        self._emp_cell = None if self.n_boxes or self._emp_lazy else self._emp[self._cell2sid]

    def _fill_empowerment(self, sid: np.ndarray) -> None:
        for s in np.unique(sid[np.isnan(self._emp[sid])]):
            rows = channel_matrix(self._space.next, self.empowerment_n, self.noise, int(s), self._space.agent)
            self._emp[s] = channel_capacity(rows, tol=1e-7)[0]

    def state_ids(self, state: State) -> np.ndarray:
        """Index of each env's configuration in ``grid.state_space()``."""
        if self.n_boxes == 0:
            return self._cell2sid[state["cell"]]
        boxes = (np.flatnonzero(state["occ"]) % self.grid.n_cells).reshape(-1, self.n_boxes)
        return self._space.index(state["cell"], boxes)

    # -- spaces and observations -----------------------------------------------------------------

    def _init_observation(self) -> None:
        g, lay, hw = self.grid, self.layout, self.grid.n_cells
        tv = self.tv_dim if self.noisy_tv else 0
        if self.observation == "onehot":
            dim = hw * (1 + (self.n_boxes > 0)) + tv
            self.observation_space = spaces.Box(0.0, 1.0, (dim,), np.float32)
            # None: more cells than an identity table is worth; observe() builds the one-hot rows
            self._table: np.ndarray | None = np.eye(hw, dtype=np.float32) if hw <= 2048 else None
        elif self.observation == "coords":
            dim = 2 * (1 + self.n_boxes) + tv
            self.observation_space = spaces.Box(0.0, 1.0, (dim,), np.float32)
            scale = np.array([max(lay.h - 1, 1), max(lay.w - 1, 1)], np.float32)
            self._table = np.stack([g.row, g.col], 1).astype(np.float32) / scale
        elif self.observation == "view":
            k = self.view_size
            static = g.static_view(k)
            names = list(g.static_channels())
            if self.goal is not None:
                gmap = np.zeros(hw + 1, np.float32)
                gmap[self.goal] = 1.0
                static = np.concatenate([static, gmap[g.view_index(k)][..., None]], axis=-1)
                names.append("goal")
            if self.n_boxes:
                names.append("box")
            self.view_channels = tuple(names)
            self._table = static
            self.observation_space = spaces.Box(0.0, 1.0, (k, k, len(names)), np.float32)
        else:
            marks = {} if self.goal is None else {self.goal: gd.GOAL}
            self._table = gd.pixel_base(g, self.pixels_per_cell, marks)
            self.observation_space = spaces.Box(0, 255, self._table.shape, np.uint8)

    def observe(self, state: State) -> np.ndarray:
        cell = state["cell"]
        mode = self.observation
        table = self._table  # None only for a large one-hot grid (see _init_observation)
        if mode == "onehot" or mode == "coords":
            if table is None:
                pos = np.zeros((len(cell), self.grid.n_cells), np.float32)
                pos[np.arange(len(cell)), cell] = 1.0
            else:
                pos = table[cell]
            parts = [pos]
            if self.n_boxes:
                occ = state["occ"]
                if mode == "onehot":
                    parts.append(occ.astype(np.float32))
                elif table is not None:  # "coords": always has its table
                    boxes = (np.flatnonzero(occ) % self.grid.n_cells).reshape(-1, self.n_boxes)
                    parts.append(table[boxes].reshape(len(cell), -1))
            if self.noisy_tv:
                parts.append(state["tv"])
            return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        assert table is not None, "the view and pixel observations always have their table"
        if mode == "view":
            k = self.view_size
            v = table[cell]
            if self.n_boxes:
                occ = np.concatenate([state["occ"], np.zeros((len(cell), 1), bool)], axis=1)
                box = occ[np.arange(len(cell))[:, None], self.grid.view_index(k)[cell]]
                v = np.concatenate([v, box[..., None].astype(np.float32)], axis=-1)
            return v.reshape(len(cell), k, k, -1)
        img = np.repeat(table[None], len(cell), axis=0)
        if self.n_boxes:
            boxes = (np.flatnonzero(state["occ"]) % self.grid.n_cells).reshape(-1, self.n_boxes)
            gd.paint_cells(img, boxes, self.grid.w, self.pixels_per_cell, gd.BOX, max(1, self.pixels_per_cell // 8))
        gd.paint_cells(img, cell, self.grid.w, self.pixels_per_cell, gd.AGENT, max(1, self.pixels_per_cell // 4))
        return img

    # -- dynamics --------------------------------------------------------------------------------

    def new_state(self, n: int) -> State:
        s: State = {"cell": np.zeros(n, np.intp), "t": np.zeros(n, np.int64)}
        if self.n_boxes:
            s["occ"] = np.zeros((n, self.grid.n_cells), bool)
        if self.noisy_tv:
            s["tv"] = np.zeros((n, self.tv_dim), np.float32)
        if self.render_heatmap == "visits":
            s["visits"] = np.zeros((n, self.grid.n_cells), np.int32)
        return s

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        idx: Any = slice(None) if mask is None else mask
        if self.start is None:
            m = len(self.start_cells)
            rows = np.arange(len(state["cell"]))[idx]
            state["cell"][idx] = self.start_cells[per_env(rng, rows, lambda g, j: g.integers(0, m, j),
                                                          lambda g: g.integers(0, m))]
        else:
            state["cell"][idx] = self.start
        state["t"][idx] = 0
        if self.noisy_tv:
            state["tv"][idx] = 0.0
        if self.n_boxes or "visits" in state:
            rows = np.arange(len(state["cell"]))[idx]
            if self.n_boxes:
                state["occ"][rows] = False
                state["occ"][rows[:, None], np.asarray(self.layout.boxes)[None]] = True
            if "visits" in state:
                state["visits"][rows] = 0
                state["visits"][rows, state["cell"][rows]] = 1

    def step(self, state: State, action: np.ndarray, rng: Rng):
        rng = shared(rng)  # shared_stream = True: one Generator for the batch
        if self.noise > 0.0:
            action = noisy_actions(action, self.noise, rng)
        watch = None
        if self.noisy_tv == "action":
            watch = action == WATCH_TV
            action = np.where(watch, STAY, action)
        if self.n_boxes:
            cell = self.grid.push(state["cell"], action, state["occ"])
        else:
            cell = self._nxt[state["cell"], action]
        state["cell"] = cell
        t = state["t"]
        t += 1
        truncated = t >= self.max_steps
        if self.goal is None:
            terminated = np.zeros(len(cell), bool)
            reward = np.zeros(len(cell), np.float32)
        else:
            terminated = cell == self.goal
            reward = terminated * np.float32(self.goal_reward)
        if self.noisy_tv:
            on = watch if watch is not None else cell == self.tv_cell
            noise = rng.random((len(cell), self.tv_dim), dtype=np.float32)
            state["tv"] = np.where(on[:, None], noise, np.float32(0.0))
        if "visits" in state:
            state["visits"][np.arange(len(cell)), cell] += 1
        return reward, terminated, truncated

    def info(self, state: State) -> dict[str, np.ndarray]:
        cell = state["cell"]
        if self._emp_cell is not None:
            emp = self._emp_cell[cell]
        else:
            sid = self.state_ids(state)
            if self._emp_lazy:
                self._fill_empowerment(sid)
            emp = self._emp[sid]
        return {"row": self._row[cell], "col": self._col[cell], "empowerment": emp}

    # -- rendering -------------------------------------------------------------------------------

    def heatmap(self, state: State, i: int) -> np.ndarray | None:
        """The (h, w) values behind the render overlay of env ``i`` (None without an overlay)."""
        if self.render_heatmap == "visits":
            v = state["visits"][i].astype(float)
            v[self.layout.blocked.ravel()] = np.nan
            return v.reshape(self.layout.h, self.layout.w)
        if self.render_heatmap == "empowerment":
            boxes = tuple((np.flatnonzero(state["occ"][i])).tolist()) if self.n_boxes else None
            return empowerment_map(self.grid, self.empowerment_n, 0.0, boxes=boxes)
        return None

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf, px, w = canvas.surface, self._px, self.grid.w
        surf.fill((20, 20, 24))
        gd.draw_grid(surf, self.grid, px, self.heatmap(state, i))
        if self.goal is not None:
            surf.fill(gd.GOAL, gd.cell_rect(self.goal, w, px, max(2, px // 6)))
        if self.tv_cell is not None:
            tv_on = float(state["tv"][i].max()) > 0
            rect = gd.cell_rect(self.tv_cell, w, px, max(2, px // 6))
            pygame.draw.rect(surf, gd.TV, rect, 0 if tv_on else 2)
        if self.n_boxes:
            for b in np.flatnonzero(state["occ"][i]):
                gd.draw_box(surf, int(b), w, px)
        cell = int(state["cell"][i])
        gd.draw_agent(surf, cell, w, px)
        e = float(self._emp[self.state_ids({k: v[i:i + 1] for k, v in state.items()})[0]])
        line = f"t {int(state['t'][i])}/{self.max_steps}   E{self.empowerment_n} = {e:.2f} bits"
        if self.render_heatmap:
            line += f"   map: {self.render_heatmap}"
        surf.blit(canvas.font(18).render(line, True, (230, 230, 230)), (6, self.layout.h * px + 6))


class EmpowermentGridEnv(TaskEnv):
    """
    ## Description
    A grid world for exploration driven by empowerment (Klyubin, Polani & Nehaniv 2005; Salge, Glackin
    & Polani 2014; Mohamed & Rezende 2015). The agent moves N/S/E/W or stays; moving into a blocked
    cell, across a thin wall or off the grid leaves it in place. With `noise` p the intended action is
    replaced, with probability p, by one of the other four uniformly. Boxes (layout `box_room`, or 'B'
    cells in your own layout) are pushed Sokoban-style. There is no reward by default: it is an
    intrinsic-motivation world, and its ground truth is the exact empowerment of every state.

    Layouts: `open` (any `size`), `klyubin` (Klyubin's 10 x 10 maze), `doorways`, `four_rooms` (Sutton,
    104 free cells), `four_rooms_21` (328 free cells), `box_room`, or your own text, e.g.

        gym.make("BrainSet/EmpowermentGrid-v0", layout='''
            #######
            #..#..#
            #.....#
            #..#..#
            #######''')

    ('#' blocked, '.' free, 'S' start, 'G' goal, 'B' box, 'T' TV cell; a thin-wall format with '|' and
    '-' between cells is described in `brainset_envs.core.grid`).

    ## Observation
    Chosen by `observation`:
    - `onehot` (default): `Box(0, 1, (h*w,), float32)`, the agent's cell one-hot (row-major, row 0 at
      the top); with boxes followed by the box occupancy map (h*w).
    - `coords`: `Box(0, 1, (2,), float32)`, (row, col) / (h - 1, w - 1); with boxes followed by each
      box's (row, col), sorted.
    - `view`: `Box(0, 1, (k, k, C), float32)`, egocentric k x k window (`view_size`, north up, agent
      in the centre). Channels (`env.unwrapped.core.view_channels`): blocked or outside the grid, then
      thin walls N/S/E/W of each cell (layouts with thin walls), goal (if any), box (if any).
    - `pixels`: `Box(0, 255, (h*ppc, w*ppc, 3), uint8)`, a top-down image (`pixels_per_cell`).

    With `noisy_tv` the vector observations end with `tv_dim` features that show fresh uniform noise
    when the TV is on (after the extra action 5 for `noisy_tv='action'`, or while the agent stands in
    `tv_cell` for `noisy_tv='cell'`) and zeros otherwise: an unpredictable, uncontrollable source that
    draws prediction-error curiosity ("noisy TV") but carries no empowerment.

    ## Action
    `Discrete(5)`: 0 = N (up), 1 = S (down), 2 = E (right), 3 = W (left), 4 = stay.
    `Discrete(6)` with `noisy_tv='action'`: 5 = watch TV (stay in place, the TV shows noise).

    ## Rewards
    0, except `goal_reward` (1.0) on entering the goal cell (`goal=[row, col]` or a 'G' cell).

    ## Termination
    On reaching the goal (if any). Truncation after `max_steps` (100) steps.

    ## Info
    `row`, `col` of the agent; `empowerment`: the true `empowerment_n`-step empowerment of the
    current state, in bits, under the env's noise (position sensor). Without noise the whole table is
    computed at construction (milliseconds); with noise each state's Blahut-Arimoto value is computed
    on its first visit and cached (milliseconds at n = 2, up to seconds at n = 5).

    ## Arguments
    `layout` ('open'), `size` (10, or [h, w]; for 'open'), `observation` ('onehot'), `view_size` (5),
    `noise` (0.0), `start` (None: the layout's 'S' cell or uniform over free cells; 'random'; or
    [row, col]), `goal` (None or [row, col]), `goal_reward` (1.0), `max_steps` (100), `empowerment_n`
    (None: 5 without noise, 2 with noise), `noisy_tv` (None, 'action', 'cell'), `tv_cell`
    ([row, col]), `tv_dim` (4), `pixels_per_cell` (8), `render_heatmap` (None; 'empowerment': the
    deterministic `empowerment_n`-step map; 'visits': visit counts this episode), `render_mode`.

    ## Ground truth
    `env.unwrapped.true_empowerment(n, noise=p, sensor='position')` gives the (h, w) map of exact
    n-step empowerment: log2 of the number of cells reachable in n steps for deterministic moves,
    Blahut-Arimoto capacity of the n-step action-sequence channel with noise (cached).
    `brainset_envs.analysis.empowerment` has the same for any layout (`empowerment_map`), the
    exploration metrics (coverage, normalised visitation entropy, time to 90% coverage) and reference
    policies (random walk, count-based, greedy true empowerment). Anchors (tasks.md section 5): open
    field log2(2n^2 + 2n + 1); 10 x 10 room at n = 5: corner 4.392, edge middle 5.129 bits; noise 0.1 /
    0.3 at n = 2: 2.497 / 1.216 bits.

    ## Registered configurations
    - `BrainSet/EmpowermentGrid-v0`: open 10 x 10 room.
    - `BrainSet/EmpowermentKlyubinMaze-v0`: Klyubin's maze.
    - `BrainSet/EmpowermentFourRooms-v0`: Sutton's four rooms.
    - `BrainSet/EmpowermentBoxRoom-v0`: 6 x 6 room with two pushable boxes, onehot + box map.
    """

    core_class = EmpowermentGridCore
    core: EmpowermentGridCore
    play_keys: ClassVar[dict[str, int]] = {"up": 0, "down": 1, "right": 2, "left": 3, "space": 4, "t": 5}

    def true_empowerment(self, n: int | None = None, noise: float | None = None, sensor: str = "position",
                         boxes: tuple[int, ...] | None = None) -> np.ndarray:
        """(h, w) map of exact n-step empowerment in bits (NaN on blocked and box cells); defaults: the
        env's `empowerment_n` and `noise`; boxes at their current cells (layouts with boxes)."""
        core = self.core
        if boxes is None and core.n_boxes:
            boxes = tuple(np.flatnonzero(self.state["occ"][0]).tolist()) if not self._needs_reset \
                else core.layout.boxes
        return empowerment_map(core.grid, core.empowerment_n if n is None else n,
                               core.noise if noise is None else noise, sensor, boxes)


class EmpowermentGridVectorEnv(TaskVectorEnv):
    """Native batched EmpowermentGrid: the same core over `num_envs` envs."""

    core_class = EmpowermentGridCore
    core: EmpowermentGridCore
