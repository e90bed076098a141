"""Drawing for grid worlds: pygame rendering (walls as thin lines, boxes, agent, goal, heat maps) and
numpy pixel observations. Rendering only: nothing here changes a state or draws random numbers."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainset_envs.core.grid import E, Grid, S

FREE = (236, 236, 232)
BLOCKED = (70, 70, 76)
WALL = (25, 25, 30)
GRIDLINE = (205, 205, 200)
GOAL = (60, 180, 75)
BOX = (160, 110, 55)
AGENT = (220, 45, 45)
FOOD = (40, 150, 60)
TV = (125, 70, 170)

# viridis at 0, 0.25, 0.5, 0.75, 1
_PALETTE = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], float)


def cell_px(h: int, w: int, target: int = 480) -> int:
    """Pixels per cell for a render about ``target`` px on its long side (12 to 48 px per cell)."""
    return int(np.clip(target // max(h, w), 12, 48))


def heat_colours(values: np.ndarray) -> np.ndarray:
    """(n, 3) uint8 viridis colours of ``values`` scaled to their finite min..max (NaN -> FREE)."""
    v = np.asarray(values, float)
    out = np.tile(np.array(FREE, np.uint8), (len(v), 1))
    ok = np.isfinite(v)
    if not ok.any():
        return out
    lo, hi = v[ok].min(), v[ok].max()
    x = np.zeros(len(v)) if hi <= lo else (v - lo) / (hi - lo)
    pos = np.clip(x[ok], 0, 1) * (len(_PALETTE) - 1)
    i = np.minimum(pos.astype(int), len(_PALETTE) - 2)
    f = (pos - i)[:, None]
    out[ok] = np.round(_PALETTE[i] * (1 - f) + _PALETTE[i + 1] * f).astype(np.uint8)
    return out


def draw_grid(surf: Any, grid: Grid, px: int, heat: np.ndarray | None = None,
              origin: tuple[int, int] = (0, 0)) -> None:
    """Cells (or a heat map over free cells), blocked cells, grid lines and thin walls."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    lay = grid.layout
    ox, oy = origin
    blocked = lay.blocked.ravel()
    colours = heat_colours(heat.ravel()) if heat is not None else None
    for cell in range(grid.n_cells):
        r, c = divmod(cell, grid.w)
        rect = pygame.Rect(ox + c * px, oy + r * px, px, px)
        col = BLOCKED if blocked[cell] else (tuple(int(x) for x in colours[cell]) if colours is not None
                                            else FREE)
        surf.fill(col, rect)
    for r in range(grid.h + 1):
        pygame.draw.line(surf, GRIDLINE, (ox, oy + r * px), (ox + grid.w * px, oy + r * px), 1)
    for c in range(grid.w + 1):
        pygame.draw.line(surf, GRIDLINE, (ox + c * px, oy), (ox + c * px, oy + grid.h * px), 1)
    thick = max(2, px // 8)
    for r, c in zip(*np.nonzero(lay.walls[..., E]), strict=True):
        x = ox + (c + 1) * px
        pygame.draw.line(surf, WALL, (x, oy + r * px), (x, oy + (r + 1) * px), thick)
    for r, c in zip(*np.nonzero(lay.walls[..., S]), strict=True):
        y = oy + (r + 1) * px
        pygame.draw.line(surf, WALL, (ox + c * px, y), (ox + (c + 1) * px, y), thick)
    pygame.draw.rect(surf, WALL, pygame.Rect(ox, oy, grid.w * px, grid.h * px), thick)


def cell_rect(cell: int, w: int, px: int, inset: int = 0, origin: tuple[int, int] = (0, 0)) -> Any:
    import pygame  # deferred: pygame (SDL) loads only when rendering

    r, c = divmod(int(cell), w)
    return pygame.Rect(origin[0] + c * px + inset, origin[1] + r * px + inset, px - 2 * inset, px - 2 * inset)


def draw_agent(surf: Any, cell: int, w: int, px: int, origin: tuple[int, int] = (0, 0)) -> None:
    import pygame  # deferred: pygame (SDL) loads only when rendering

    rect = cell_rect(cell, w, px, 0, origin)
    pygame.draw.circle(surf, AGENT, rect.center, max(3, int(px * 0.33)))
    pygame.draw.circle(surf, WALL, rect.center, max(3, int(px * 0.33)), 1)


def draw_box(surf: Any, cell: int, w: int, px: int, origin: tuple[int, int] = (0, 0)) -> None:
    import pygame  # deferred: pygame (SDL) loads only when rendering

    rect = cell_rect(cell, w, px, max(2, px // 8), origin)
    surf.fill(BOX, rect)
    pygame.draw.rect(surf, WALL, rect, 1)
    pygame.draw.line(surf, WALL, rect.topleft, rect.bottomright, 1)
    pygame.draw.line(surf, WALL, rect.topright, rect.bottomleft, 1)


# --- numpy pixel observations ---------------------------------------------------------------------


def pixel_base(grid: Grid, ppc: int, marks: dict[int, tuple[int, int, int]] | None = None) -> np.ndarray:
    """(h*ppc, w*ppc, 3) uint8 image of the static world: free/blocked cells, marked cells (e.g. the
    goal) and thin walls as dark lines on cell edges."""
    lay = grid.layout
    img = np.empty((grid.h, ppc, grid.w, ppc, 3), np.uint8)
    img[...] = np.array(FREE, np.uint8)
    img[np.nonzero(lay.blocked)[0], :, np.nonzero(lay.blocked)[1]] = np.array(BLOCKED, np.uint8)
    for cell, colour in (marks or {}).items():
        r, c = divmod(int(cell), grid.w)
        img[r, 1:ppc - 1, c, 1:ppc - 1] = np.array(colour, np.uint8)
    wall = np.array(WALL, np.uint8)
    for r, c in zip(*np.nonzero(lay.walls[..., E]), strict=True):
        img[r, :, c, ppc - 1] = wall
        img[r, :, c + 1, 0] = wall
    for r, c in zip(*np.nonzero(lay.walls[..., S]), strict=True):
        img[r, ppc - 1, c] = wall
        img[r + 1, 0, c] = wall
    return img.reshape(grid.h * ppc, grid.w * ppc, 3)


def paint_cells(img: np.ndarray, cells: np.ndarray, w: int, ppc: int, colour: tuple[int, int, int],
                inset: int) -> None:
    """Fill the inset square of cell ``cells[i]`` (or cells[i, j]) of each image ``img[i]`` in place."""
    n, hp, wp, _ = img.shape
    v = img.reshape(n, hp // ppc, ppc, wp // ppc, ppc, 3)
    cells = np.asarray(cells).reshape(n, -1)
    rows = np.repeat(np.arange(n), cells.shape[1])
    r, c = np.divmod(cells.ravel(), w)
    v[rows, r, inset:ppc - inset, c, inset:ppc - inset] = np.array(colour, np.uint8)
