"""Named grid layouts shipped with the package (``brainset_envs/layouts/*.txt``) and a resolver.

``get_layout`` accepts a name, layout text (block or thin-wall format, see :mod:`brainset_envs.core.grid`)
or a :class:`Layout`. Nothing here reads outside the package.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from brainset_envs.core.grid import Layout, open_room, parse_layout, parse_wall_list

#: name -> what it is (the names ``get_layout`` accepts)
LAYOUT_NAMES = {
    "open": "open room of `size` (default 10 x 10), no inner walls",
    "klyubin": "Klyubin, Polani & Nehaniv (2005) 10 x 10 maze with thin walls",
    "four_rooms": "Sutton, Precup & Singh (1999) four rooms, 13 x 13 with border, 104 free cells",
    "four_rooms_21": "21 x 21 four rooms with border, 328 free cells",
    "doorways": "two 7 x 7 rooms joined by a one-cell doorway",
    "box_room": "6 x 6 room with two pushable boxes (Salge, Glackin & Polani 2014)",
}


def _read(filename: str) -> str:
    return resources.files("brainset_envs").joinpath("layouts").joinpath(filename).read_text()


@cache
def klyubin_maze() -> Layout:
    """Klyubin's 10 x 10 maze world (thin walls, 5 actions), from the packaged wall list."""
    return parse_wall_list(_read("klyubin_maze.txt"), 10, 10, name="klyubin")


@cache
def four_rooms() -> Layout:
    """Sutton's four rooms: 13 x 13 including the border, 104 free cells."""
    return parse_layout(_read("four_rooms.txt"), name="four_rooms")


@cache
def four_rooms_21() -> Layout:
    """A 21 x 21 four-room grid (border and a cross of walls with four doorways): 328 free cells."""
    return parse_layout(_read("four_rooms_21.txt"), name="four_rooms_21")


@cache
def doorways() -> Layout:
    """Two 7 x 7 rooms joined by a one-cell doorway (7 x 15 grid)."""
    return parse_layout(_read("doorways.txt"), name="doorways")


@cache
def box_room() -> Layout:
    """A 6 x 6 open room with two pushable boxes."""
    return parse_layout(_read("box_room.txt"), name="box_room")


def _size(size: int | tuple[int, int] | list[int] | None) -> tuple[int, int]:
    if size is None:
        return 10, 10
    if isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(s, int) for s in size):
        h, w = int(size[0]), int(size[1])
    elif isinstance(size, int) and not isinstance(size, bool):
        h = w = int(size)
    else:
        raise ValueError(f"size={size!r} must be an integer or a pair (height, width)")
    if not (1 <= h <= 256 and 1 <= w <= 256):
        raise ValueError(f"size={size!r} is out of range: height and width in [1, 256]")
    return h, w


def get_layout(layout: str | Layout, size: int | tuple[int, int] | list[int] | None = None) -> Layout:
    """Resolve a layout name (see :data:`LAYOUT_NAMES`), layout text (rows separated by newlines) or a
    :class:`Layout`. ``size`` is used by 'open' only."""
    if size is not None:
        _size(size)
        if not (isinstance(layout, str) and layout == "open"):
            raise ValueError(f"size={size!r} applies to layout='open' only, not to layout={layout!r}")
    if isinstance(layout, Layout):
        return layout
    if not isinstance(layout, str):
        raise TypeError(f"layout={layout!r} must be a name {sorted(LAYOUT_NAMES)}, layout text or a Layout")
    if "\n" in layout or (layout not in LAYOUT_NAMES and set(layout) <= set("#. SAGBFT+-|")):
        return parse_layout(layout)  # layout text (one row needs no newline)
    if layout == "open":
        return open_room(*_size(size))
    makers = {"klyubin": klyubin_maze, "four_rooms": four_rooms, "four_rooms_21": four_rooms_21,
              "doorways": doorways, "box_room": box_room}
    if layout not in makers:
        raise ValueError(f"layout={layout!r} is not allowed; choose one of {sorted(LAYOUT_NAMES)} "
                         f"or pass layout text (rows separated by newlines)")
    return makers[layout]()


def cell_arg(name: str, value: Any, layout: Layout) -> int:
    """A [row, col] argument as a free cell of the layout."""
    ok = isinstance(value, (list, tuple, np.ndarray)) and np.ndim(value) == 1 and len(value) == 2 and all(
        isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)
    if not ok or not (0 <= value[0] < layout.h and 0 <= value[1] < layout.w):
        raise ValueError(f"{name}={value!r} must be [row, col] inside the {layout.h}x{layout.w} grid")
    cell = layout.cell(*value)
    if layout.blocked.ravel()[cell]:
        raise ValueError(f"{name}={value!r} is a blocked cell; choose a free cell")
    return cell
