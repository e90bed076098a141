"""What the water-maze rat senses (place cells; its egocentric panoramic view of the distal cues on the
room wall) and the drawing of the maze."""

from __future__ import annotations

from typing import Any

import numpy as np


def place_cell_lattice(pool_radius: float, grid: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice lines (grid,) spanning the pool's bounding square, and which of the grid x grid points
    (flattened row by row: y, then x) are place cells: those inside the pool, with a 2% tolerance so the
    lattice points next to the wall count (161 cells for 15 x 15)."""
    lat = np.linspace(-pool_radius, pool_radius, grid)
    yy, xx = np.meshgrid(lat, lat, indexing="ij")
    return lat, (np.hypot(xx, yy) <= pool_radius * 1.02).ravel()


def place_cell_centres(pool_radius: float, grid: int) -> np.ndarray:
    """Centres (N, 2) of the place fields, row by row, so each lattice row is a contiguous block."""
    lat, keep = place_cell_lattice(pool_radius, grid)
    yy, xx = np.meshgrid(lat, lat, indexing="ij")
    return np.stack([xx.ravel()[keep], yy.ravel()[keep]], axis=1)


class PlaceCells:
    """Gaussian place fields of width ``sigma`` centred on :func:`place_cell_centres`.

    Rates are separable: ``exp(-dx^2 k) * exp(-dy^2 k)`` with dx, dy the offsets from the lattice lines,
    so a batch needs one exp per lattice line and one product per cell (float32). Each factor is kept
    above exp(-43) ~ 2e-19, so rates never underflow to (slow) subnormal numbers; rates whose true value
    is below ~1e-37 are off by less than 1e-37.
    """

    def __init__(self, pool_radius: float, grid: int, sigma: float):
        lat, keep = place_cell_lattice(pool_radius, grid)
        self.centres = place_cell_centres(pool_radius, grid)
        self.n = len(self.centres)
        self._lattice = lat.astype(np.float32)[None, None, :]
        self._neg_k = np.float32(-1.0 / (2.0 * sigma * sigma))
        self._flat_idx = np.flatnonzero(keep)
        self._rows = []  # per lattice row: (row j, first column, last column + 1, offset in the output)
        for j, row in enumerate(keep.reshape(grid, grid)):
            cols = np.flatnonzero(row)
            if len(cols):
                self._rows.append((j, int(cols[0]), int(cols[-1]) + 1, int(keep[:j * grid].sum())))

    def rates(self, pos: np.ndarray) -> np.ndarray:
        """Rates (n, N) float32 at positions (n, 2): exp(-|p - c|^2 / (2 sigma^2))."""
        n = len(pos)
        g = self._lattice - pos.astype(np.float32)[:, :, None]  # (n, 2, grid): x and y offsets
        g *= g
        g *= self._neg_k
        np.maximum(g, np.float32(-43.0), out=g)
        np.exp(g, out=g)
        if n == 1:
            return np.multiply.outer(g[0, 1], g[0, 0]).ravel().take(self._flat_idx)[None]
        out = np.empty((n, self.n), np.float32)
        gx, gy = g[:, 0], g[:, 1]
        for j, a, b, o in self._rows:  # lattice row j: its cells are columns a..b-1, contiguous in `out`
            np.einsum("n,nc->nc", gy[:, j], gx[:, a:b], out=out[:, o:o + b - a])  # (faster than multiply)
        return out


TEXTURE_BINS = 720  # half-degree bins of the room wall, by allocentric angle (0 = E, counter-clockwise)
BACKGROUND = 96


def _cue_texture() -> np.ndarray:
    """Grey levels (uint8) of the room wall: four distinct cues on a mid-grey wall."""
    tex = np.full(TEXTURE_BINS, BACKGROUND, np.uint8)
    deg = (np.arange(TEXTURE_BINS) + 0.5) * 360.0 / TEXTURE_BINS

    def arc(centre: float, half: float) -> np.ndarray:
        return np.abs((deg - centre + 180.0) % 360.0 - 180.0) <= half

    tex[arc(60.0, 15.0)] = 255  # a wide white panel
    tex[arc(150.0, 8.0)] = 0  # a narrow black panel
    stripes = arc(235.0, 20.0)
    tex[stripes] = np.where((deg[stripes] // 5.0) % 2 == 0, 250, 15)  # a striped panel
    tex[arc(320.0, 12.0)] = 200  # a light panel with a dark centre line
    tex[arc(320.0, 3.0)] = 30
    return tex


CUE_TEXTURE = _cue_texture()


def panoramic_view(pos: np.ndarray, head: np.ndarray, rot: np.ndarray, wall_radius: float,
                   texture: np.ndarray) -> np.ndarray:
    """What the rat sees of the room wall: (n, W) uint8, one pixel per viewing direction.

    ``pos`` (n, 2) positions and ``head`` (n, 2) unit heading vectors; ``rot`` (2, W) float32 holds the
    cosine and sine of each pixel's angle relative to the heading (pixel W/2 straight ahead, pixel 0
    behind on the left, angles decreasing to the right). Each ray meets the circular wall of
    ``wall_radius`` at one point; its grey level is the wall's texture there (nearer cues subtend larger
    angles: parallax). Computed in float32.
    """
    f32 = np.float32
    hx, hy = head[:, :1].astype(f32), head[:, 1:].astype(f32)
    x, y = pos[:, :1].astype(f32), pos[:, 1:].astype(f32)
    ux = hx * rot[0]
    ux -= hy * rot[1]
    uy = hy * rot[0]
    uy += hx * rot[1]
    b = x * ux
    b += y * uy
    disc = b * b
    disc += f32(wall_radius * wall_radius) - (x * x + y * y)  # > 0: the rat is inside the wall
    t = np.sqrt(np.maximum(disc, f32(0.0), out=disc), out=disc)
    t -= b
    ux *= t
    ux += x
    uy *= t
    uy += y
    phi = np.arctan2(uy, ux)  # angle of the point hit on the wall, in [-pi, pi]
    n_bins = len(texture)
    phi += f32(np.pi)
    phi *= f32(n_bins / (2.0 * np.pi))
    idx = phi.astype(np.int32)
    np.minimum(idx, n_bins - 1, out=idx)
    return np.take(np.roll(texture, n_bins // 2), idx)  # the texture indexed from angle -pi


# --- drawing --------------------------------------------------------------------------------------------

_CX, _CY, _POOL_PX, _RING_IN, _RING_OUT = 160, 160, 128, 138, 154


def _ring_surface(canvas: Any):
    """The room wall with its cues, drawn once per canvas (it never changes)."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    ring = canvas.__dict__.get("_maze_ring")
    if ring is None:
        ring = pygame.Surface((320, 320), pygame.SRCALPHA)
        n = TEXTURE_BINS
        for k in range(n):
            a0, a1 = 2 * np.pi * k / n, 2 * np.pi * (k + 1.2) / n
            g = int(CUE_TEXTURE[k])
            pts = [(_CX + r * np.cos(a), _CY - r * np.sin(a)) for r, a in
                   ((_RING_IN, a0), (_RING_OUT, a0), (_RING_OUT, a1), (_RING_IN, a1))]
            pygame.draw.polygon(ring, (g, g, g), pts)
        canvas.__dict__["_maze_ring"] = ring
    return ring


def draw_maze(core: Any, canvas: Any, state: dict, i: int) -> None:
    """Pool, faint platform, swim path of the current trial, cues, rat, view strip and counters."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    surf = canvas.surface
    surf.fill((28, 30, 38))
    surf.blit(_ring_surface(canvas), (0, 0))
    scale = _POOL_PX / core.pool_radius

    def px(p: np.ndarray) -> tuple[float, float]:
        return _CX + float(p[0]) * scale, _CY - float(p[1]) * scale

    pygame.draw.circle(surf, (38, 88, 140), (_CX, _CY), _POOL_PX)
    for a, b in (((-1, 0), (1, 0)), ((0, -1), (0, 1))):  # quadrant lines
        pygame.draw.line(surf, (52, 102, 154), px(np.array(a) * core.pool_radius), px(np.array(b) * core.pool_radius),
                         1)
    pygame.draw.circle(surf, (200, 200, 210), (_CX, _CY), _POOL_PX, 2)
    plat = state["plat"][i]
    rp = max(2, round(core.platform_radius * scale))
    if state["probe"][i]:  # removed for the probe: only where it was
        pygame.draw.circle(surf, (90, 140, 190), px(plat), rp, 1)
    else:
        pygame.draw.circle(surf, (62, 118, 170), px(plat), rp)
        pygame.draw.circle(surf, (96, 150, 200), px(plat), rp, 1)
    steps = int(state["steps"][i])
    cap = core.path_cap
    first = max(0, steps - cap + 1)
    t0 = int(state["clock"][i]) - steps  # the clock at the start of the trial
    path = state["path"][i, (t0 + np.arange(first, steps + 1)) % cap]
    if len(path) > 1:
        pygame.draw.lines(surf, (250, 210, 70), False, [px(p) for p in path], 2)
    pygame.draw.circle(surf, (120, 230, 120), px(path[0]), 4)  # start
    pos, head = state["pos"][i], state["head"][i]
    pygame.draw.circle(surf, (245, 245, 245), px(pos), 5)
    pygame.draw.line(surf, (245, 245, 245), px(pos), px(pos + head * (9 / scale)), 2)
    # The rat's view (whatever the observation mode), as a strip under the arena.
    strip = panoramic_view(state["pos"][i:i + 1], state["head"][i:i + 1], core._view_rot,
                           core.cue_distance * core.pool_radius, core.texture)[0]
    g = np.repeat(np.repeat(strip[:, None], 12, axis=1)[..., None], 3, axis=2)
    surf.blit(pygame.transform.scale(pygame.surfarray.make_surface(g), (304, 12)), (8, 326))
    pygame.draw.line(surf, (255, 60, 60), (160, 322), (160, 340), 1)  # straight ahead
    day, trial = int(state["day"][i]), int(state["trial"][i])
    esc, limit = int(state["escape"][i]), int(state["limit"][i])
    status = f"escaped in {esc} steps" if esc >= 0 else ("probe trial" if state["probe"][i] else
                                                          ("timeout" if steps >= limit else ""))
    line = f"day {day}  trial {trial}/{core.trials_per_day}  step {steps}/{limit}  {status}"
    surf.blit(canvas.font(18).render(line, True, (230, 230, 230)), (8, 350))
