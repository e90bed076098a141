"""Grid-world core: layouts from ASCII text, thin walls, moves, action noise, pushable boxes, views.

Everything is batch-first numpy. A :class:`Layout` is the static world (blocked cells, thin walls between
cells, marked cells); :class:`Grid` compiles it into tables so that a batched step is a fancy index:
``next[cell, action] -> cell``. Cells are flat indices ``r * w + c`` with row 0 at the top (north).

Actions: 0 = N (up), 1 = S (down), 2 = E (right), 3 = W (left), 4 = stay. Moving into a blocked cell,
across a thin wall or off the grid leaves the agent where it is. A move into a box pushes it one cell on
if the cell beyond is free (no wall, no box), else nobody moves (Sokoban rules; boxes are identical).

Text formats (see :func:`parse_layout`):

- block format, one character per cell::

      #######
      #S....#        '#' blocked, '.' or ' ' free, 'S' start, 'G' goal,
      #..B..#        'B' box, 'F' food patch, 'T' noisy-TV cell
      #######

- thin-wall format (first line starts with '+'), cells at odd positions, walls between them::

      +-+-+-+
      |S .|G|        '|' wall between horizontal neighbours, '-' between vertical ones;
      + +-+ +        cell characters as in the block format
      |. . .|
      +-+-+-+
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np

N, S, E, W, STAY = 0, 1, 2, 3, 4
ACTION_NAMES = ("N", "S", "E", "W", "stay")
N_MOVES = 5
DR = np.array([-1, 1, 0, 0, 0])
DC = np.array([0, 0, 1, -1, 0])
OPPOSITE = (S, N, W, E)
CELL_CHARS = {".": None, " ": None, "S": "start", "A": "start", "G": "goal", "B": "box", "F": "food",
              "T": "tv"}


@dataclass(frozen=True, eq=False)
class Layout:
    """A static grid world: ``blocked`` (h, w) bool, ``walls`` (h, w, 4) bool (a thin wall on side
    N/S/E/W of a cell, stored on both sides), and marked cells as flat indices."""

    blocked: np.ndarray
    walls: np.ndarray
    start: int | None = None
    goal: int | None = None
    boxes: tuple[int, ...] = ()
    food: tuple[int, ...] = ()
    tv: int | None = None
    name: str = "custom"

    @property
    def h(self) -> int:
        return int(self.blocked.shape[0])

    @property
    def w(self) -> int:
        return int(self.blocked.shape[1])

    @property
    def n_cells(self) -> int:
        return self.h * self.w

    @property
    def free_cells(self) -> np.ndarray:
        """Flat indices of the cells that are not blocked, in reading order."""
        return np.flatnonzero(~self.blocked)

    @property
    def has_thin_walls(self) -> bool:
        return bool(self.walls.any())

    @property
    def key(self) -> str:
        """A content hash (name excluded): equal layouts share cached tables."""
        h = hashlib.sha1(np.asarray(self.blocked.shape, np.int64).tobytes())
        h.update(np.packbits(self.blocked).tobytes())
        h.update(np.packbits(self.walls).tobytes())
        h.update(repr((self.start, self.goal, self.boxes, self.food, self.tv)).encode())
        return h.hexdigest()

    def cell(self, r: int, c: int) -> int:
        """Flat index of (row, col)."""
        return int(r) * self.w + int(c)

    def rc(self, cell: int) -> tuple[int, int]:
        """(row, col) of a flat index."""
        return divmod(int(cell), self.w)

    def replace(self, **changes: Any) -> Layout:
        """A copy with some fields changed (e.g. ``layout.replace(start=None)``)."""
        return dataclasses.replace(self, **changes)

    def to_text(self) -> str:
        """The layout as text: thin-wall format if it has thin walls, else block format."""
        marks = {}
        for ch, cells in (("F", self.food), ("B", self.boxes)):
            for c in cells:
                marks[c] = ch
        for ch, one in (("T", self.tv), ("G", self.goal), ("S", self.start)):
            if one is not None:
                marks[one] = ch

        def char(r: int, c: int) -> str:
            return "#" if self.blocked[r, c] else marks.get(r * self.w + c, ".")

        if not self.has_thin_walls:
            return "\n".join("".join(char(r, c) for c in range(self.w)) for r in range(self.h))
        lines = ["+" + "-+" * self.w]
        for r in range(self.h):
            mid = "|"
            for c in range(self.w):
                mid += char(r, c) + ("|" if self.walls[r, c, E] or c == self.w - 1 else " ")
            low = "+"
            for c in range(self.w):
                low += ("-" if self.walls[r, c, S] or r == self.h - 1 else " ") + "+"
            lines += [mid, low]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Layout({self.name!r}, {self.h}x{self.w}, {len(self.free_cells)} free cells)"


def _blank(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    return np.zeros((h, w), bool), np.zeros((h, w, 4), bool)


def set_wall(walls: np.ndarray, r: int, c: int, direction: int) -> None:
    """Put a thin wall on side ``direction`` of cell (r, c), and on the facing side of its neighbour."""
    h, w = walls.shape[:2]
    walls[r, c, direction] = True
    r2, c2 = r + DR[direction], c + DC[direction]
    if 0 <= r2 < h and 0 <= c2 < w:
        walls[r2, c2, OPPOSITE[direction]] = True


def _lines(text: str) -> list[str]:
    lines = textwrap.dedent(text.strip("\n")).split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return [ln.rstrip("\r") for ln in lines]


def parse_layout(text: str, name: str = "custom") -> Layout:
    """A :class:`Layout` from text in block or thin-wall format (see the module docstring)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"layout text {text!r} is empty: give rows of '#', '.', 'S', 'G', 'B', 'F', 'T'")
    lines = _lines(text)
    if lines[0].lstrip().startswith("+"):
        return _parse_thin(lines, name)
    w = max(len(ln) for ln in lines)
    if any(len(ln) != w for ln in lines):
        bad = next(i for i, ln in enumerate(lines) if len(ln) != w)
        raise ValueError(f"layout row {bad} has {len(lines[bad])} characters, expected {w}: rows must "
                         f"have equal length (use '.' for free cells)")
    blocked, walls = _blank(len(lines), w)
    marks: dict[str, list[int]] = {}
    for r, ln in enumerate(lines):
        for c, ch in enumerate(ln):
            _cell_char(ch, r, c, w, blocked, marks)
    return _finish(blocked, walls, marks, name)


def _cell_char(ch: str, r: int, c: int, w: int, blocked: np.ndarray, marks: dict[str, list[int]]) -> None:
    if ch == "#":
        blocked[r, c] = True
    elif ch in CELL_CHARS:
        kind = CELL_CHARS[ch]
        if kind is not None:
            marks.setdefault(kind, []).append(r * w + c)
    else:
        raise ValueError(f"layout character {ch!r} at row {r}, column {c} is not allowed; use one of "
                         f"'#' (blocked), '.' or ' ' (free), 'S', 'G', 'B', 'F', 'T'")


def _parse_thin(lines: list[str], name: str) -> Layout:
    width = max(len(ln) for ln in lines)
    lines = [ln.ljust(width) for ln in lines]
    if len(lines) % 2 == 0 or width % 2 == 0:
        raise ValueError(f"thin-wall layout must have an odd number of lines and columns (2h+1 by 2w+1), "
                         f"got {len(lines)} lines of {width} characters")
    h, w = (len(lines) - 1) // 2, (width - 1) // 2
    blocked, walls = _blank(h, w)
    marks: dict[str, list[int]] = {}
    for r in range(h):
        for c in range(w):
            _cell_char(lines[2 * r + 1][2 * c + 1], r, c, w, blocked, marks)
            if c + 1 < w and lines[2 * r + 1][2 * c + 2] in "|#":
                set_wall(walls, r, c, E)
            if r + 1 < h and lines[2 * r + 2][2 * c + 1] in "-#":
                set_wall(walls, r, c, S)
    return _finish(blocked, walls, marks, name)


def _finish(blocked: np.ndarray, walls: np.ndarray, marks: dict[str, list[int]], name: str) -> Layout:
    single = {}
    for kind in ("start", "goal", "tv"):
        cells = marks.get(kind, [])
        if len(cells) > 1:
            raise ValueError(f"layout marks {len(cells)} {kind} cells; at most one is allowed")
        single[kind] = cells[0] if cells else None
    if (~blocked).sum() == 0:
        raise ValueError("layout has no free cell")
    return Layout(blocked, walls, start=single["start"], goal=single["goal"], tv=single["tv"],
                  boxes=tuple(marks.get("box", [])), food=tuple(marks.get("food", [])), name=name)


def parse_wall_list(text: str, h: int, w: int, name: str = "custom") -> Layout:
    """An open h x w room with thin walls from lines ``row col dir`` (the Klyubin maze file format).

    In that format row 0 is the SOUTHERN row and N means row + 1; lines starting with '#' are comments.
    Internally row 0 is the top, so file row ``row`` becomes ``h - 1 - row`` and N still points up.
    """
    blocked, walls = _blank(h, w)
    for k, raw in enumerate(text.splitlines()):
        ln = raw.split("#", 1)[0].strip()
        if not ln:
            continue
        parts = ln.split()
        if len(parts) != 3 or parts[2] not in "NSEW" or not (parts[0].isdigit() and parts[1].isdigit()):
            raise ValueError(f"wall line {k + 1} {raw!r}: expected 'row col dir' with dir one of N S E W")
        row, col, d = int(parts[0]), int(parts[1]), "NSEW".index(parts[2])
        if not (0 <= row < h and 0 <= col < w):
            raise ValueError(f"wall line {k + 1} {raw!r}: cell ({row}, {col}) is outside the {h}x{w} grid")
        set_wall(walls, h - 1 - row, col, d)
    return Layout(blocked, walls, name=name)


def open_room(h: int, w: int | None = None) -> Layout:
    """An open h x w room (w = h if omitted) with no walls inside."""
    w = h if w is None else w
    if h < 1 or w < 1:
        raise ValueError(f"open_room size ({h}, {w}) must be positive")
    blocked, walls = _blank(h, w)
    return Layout(blocked, walls, name=f"open{h}x{w}")


# --- compiled tables --------------------------------------------------------------------------------


def next_table(layout: Layout) -> np.ndarray:
    """(h*w, 5) table of the cell reached by each action from each cell (blocked cells map to
    themselves); boxes are not in it (they move)."""
    h, w = layout.h, layout.w
    r, c = np.divmod(np.arange(h * w), w)
    out = np.empty((h * w, N_MOVES), np.intp)
    for a in range(N_MOVES):
        r2, c2 = r + DR[a], c + DC[a]
        ok = (r2 >= 0) & (r2 < h) & (c2 >= 0) & (c2 < w)
        r2, c2 = np.where(ok, r2, r), np.where(ok, c2, c)
        if a < 4:
            ok &= ~layout.walls[r, c, a]
        ok &= ~layout.blocked[r2, c2] & ~layout.blocked[r, c]
        out[:, a] = np.where(ok, r2 * w + c2, r * w + c)
    return out


def noisy_actions(action: np.ndarray, p: float, rng: np.random.Generator) -> np.ndarray:
    """With probability ``p`` replace each move action (0..4) by one of the other four, uniformly.
    Always draws two arrays of ``len(action)`` numbers, so the stream does not depend on the actions."""
    n = len(action)
    u = rng.random(n)
    k = rng.integers(1, N_MOVES, n)
    swap = (u < p) & (action < N_MOVES)
    return np.where(swap, (action + k) % N_MOVES, action)


class Grid:
    """A compiled layout: next-cell table, coordinates, views, distances, box dynamics."""

    def __init__(self, layout: Layout):
        self.layout = layout
        self.h, self.w = layout.h, layout.w
        self.n_cells = layout.n_cells
        self.next = next_table(layout)
        self.row, self.col = np.divmod(np.arange(self.n_cells), self.w)
        self.free_cells = layout.free_cells
        self._cache: dict[Any, Any] = {}

    # -- dynamics --------------------------------------------------------------------------------

    def push(self, cell: np.ndarray, action: np.ndarray, occ: np.ndarray) -> np.ndarray:
        """Move agents at ``cell`` with box occupancy ``occ`` (n, h*w) bool, updated in place.
        Returns the new cells."""
        target = self.next[cell, action]
        rows = np.arange(len(cell))
        hit = occ[rows, target] & (target != cell)
        if hit.any():
            i = np.flatnonzero(hit)
            t = target[i]
            beyond = self.next[t, action[i]]
            ok = (beyond != t) & ~occ[i, beyond]
            occ[i[ok], t[ok]] = False
            occ[i[ok], beyond[ok]] = True
            target[i[~ok]] = cell[i[~ok]]
        return target

    # -- observations ----------------------------------------------------------------------------

    def view_index(self, k: int) -> np.ndarray:
        """(h*w, k*k) indices of the k x k window centred on each cell (row-major, north up) into a
        flat array of length h*w + 1 whose last entry stands for 'outside the grid'."""
        key = ("view_index", k)
        if key not in self._cache:
            off = np.arange(k) - k // 2
            r = self.row[:, None, None] + off[None, :, None]
            c = self.col[:, None, None] + off[None, None, :]
            inside = (r >= 0) & (r < self.h) & (c >= 0) & (c < self.w)
            idx = np.where(inside, r * self.w + c, self.n_cells)
            self._cache[key] = idx.reshape(self.n_cells, k * k)
        return self._cache[key]

    def static_channels(self) -> tuple[str, ...]:
        """Names of the static view channels: 'blocked' (blocked cell or outside the grid), then
        'wall_N', 'wall_S', 'wall_E', 'wall_W' when the layout has thin walls."""
        return ("blocked",) + (("wall_N", "wall_S", "wall_E", "wall_W") if self.layout.has_thin_walls else ())

    def static_view(self, k: int) -> np.ndarray:
        """(h*w, k*k, C) float32 static view channels around each cell (see :meth:`static_channels`)."""
        key = ("static_view", k)
        if key not in self._cache:
            idx = self.view_index(k)
            maps = [np.append(self.layout.blocked.ravel(), True)]
            if self.layout.has_thin_walls:
                maps += [np.append(self.layout.walls[..., d].ravel(), False) for d in range(4)]
            self._cache[key] = np.stack([m[idx] for m in maps], axis=-1).astype(np.float32)
        return self._cache[key]

    def reachable_from(self, cell: int) -> np.ndarray:
        """(h*w,) bool: the cells reachable from ``cell`` (boxes ignored)."""
        seen = np.zeros(self.n_cells, bool)
        seen[cell] = True
        frontier = np.array([cell])
        while len(frontier):
            nb = np.unique(self.next[frontier, :4])
            frontier = nb[~seen[nb]]
            seen[frontier] = True
        return seen

    def distances(self) -> np.ndarray:
        """(h*w, h*w) int32 shortest-path lengths in moves (boxes ignored); -1 where unreachable.
        Dense: for grids up to 10,000 cells."""
        if "dist" not in self._cache:
            n = self.n_cells
            if n > 10_000:
                raise ValueError(f"distances() is dense (cells^2); {n} cells is too many (at most 10,000)")
            reach = np.eye(n, dtype=bool)
            dist = np.where(reach, 0, -1).astype(np.int32)
            for d in range(1, n):
                # reachable from i within d moves = i, or reachable from a neighbour within d - 1
                new = reach.copy()
                for a in range(4):
                    new |= reach[self.next[:, a]]
                grown = new & ~reach
                if not grown.any():
                    break
                dist[grown] = d
                reach = new
            self._cache["dist"] = dist
        return self._cache["dist"]

    def step_towards(self, cell: np.ndarray, target: np.ndarray) -> np.ndarray:
        """An action starting a shortest path from each ``cell`` to its ``target`` (STAY when there or
        unreachable); ties go to the lowest action index. Vectorised over a batch."""
        dist = self.distances()
        d_now = dist[cell, target]
        d_nb = dist[self.next[cell, :4], np.asarray(target)[:, None]]
        good = (d_nb == (d_now - 1)[:, None]) & (d_now > 0)[:, None]
        return np.where(good.any(1), good.argmax(1), STAY)

    def state_space(self, max_states: int = 2_000_000) -> StateSpace:
        """The world's states and their transition table (cached): free cells, or with boxes every
        (agent cell, box set) configuration."""
        if "states" not in self._cache:
            self._cache["states"] = StateSpace.build(self, max_states)
        return self._cache["states"]


@dataclass
class StateSpace:
    """States of a grid world for exact analysis: ``next`` (S, 5) state table, ``agent`` (S,) agent cell
    of each state, ``boxes`` (S, K) box cells (sorted), ``keys`` (S,) sorted configuration keys."""

    next: np.ndarray
    agent: np.ndarray
    boxes: np.ndarray
    keys: np.ndarray
    n_cells: int

    @property
    def n_states(self) -> int:
        return len(self.agent)

    def sensor(self, name: str) -> np.ndarray:
        """(S,) sensor reading of each state: 'position' (the agent's cell) or 'state' (the state id:
        agent and boxes)."""
        if name == "position":
            return self.agent
        if name == "state":
            return np.arange(self.n_states)
        raise ValueError(f"sensor={name!r} is not allowed; choose one of ['position', 'state']")

    def encode(self, agent: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """Configuration keys of agents (n,) with sorted box cells (n, K)."""
        key = np.zeros(len(agent), np.int64)
        for j in range(boxes.shape[1] - 1, -1, -1):
            key = key * self.n_cells + boxes[:, j]
        return key * self.n_cells + agent

    def index(self, agent: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """State ids of configurations (vectorised lookup)."""
        if boxes.shape[1] == 0:
            return np.searchsorted(self.keys, agent)
        return np.searchsorted(self.keys, self.encode(agent, boxes))

    @classmethod
    def build(cls, grid: Grid, max_states: int) -> StateSpace:
        lay, n = grid.layout, grid.n_cells
        free = grid.free_cells
        k = len(lay.boxes)
        if k == 0:
            pos = np.full(n, -1)
            pos[free] = np.arange(len(free))
            return cls(pos[grid.next[free]], free.copy(), np.zeros((len(free), 0), np.intp),
                       free.astype(np.int64), n)
        if (k + 1) * np.log2(n) >= 62:
            raise ValueError(f"{k} boxes on {n} cells: too many configurations to enumerate exactly")
        combos = np.array(list(itertools.combinations(free.tolist(), k)), dtype=np.intp)
        n_cfg = len(combos) * (len(free) - k)
        if n_cfg > max_states:
            raise ValueError(f"{n_cfg} configurations (agent x {k} boxes) exceed max_states={max_states}")
        occ = np.zeros((len(combos), n), bool)
        np.put_along_axis(occ, combos, True, axis=1)
        ci, agent = np.nonzero(occ[:, free] == 0)
        agent = free[agent]
        boxes = combos[ci]
        tmp = cls(np.zeros((0, N_MOVES), np.intp), agent, boxes, np.zeros(0, np.int64), n)
        keys = tmp.encode(agent, boxes)
        order = np.argsort(keys)
        agent, boxes, keys = agent[order], boxes[order], keys[order]
        nxt = np.empty((len(agent), N_MOVES), np.intp)
        for a in range(N_MOVES):
            o = occ[ci[order]].copy()
            cell = grid.push(agent.copy(), np.full(len(agent), a), o)
            b2 = (np.flatnonzero(o) % n).reshape(len(agent), k)
            nxt[:, a] = np.searchsorted(keys, tmp.encode(cell, b2))
        return cls(nxt, agent, boxes, keys, n)


_COMPILED: dict[str, Grid] = {}


def compiled(layout: Layout) -> Grid:
    """The :class:`Grid` of a layout, shared by every env and analysis with the same layout content."""
    g = _COMPILED.get(layout.key)
    if g is None:
        if len(_COMPILED) > 64:
            _COMPILED.clear()
        g = _COMPILED[layout.key] = Grid(layout)
    return g
