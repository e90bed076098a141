"""Drawing of PatchForaging: the tree and its fruit, the travel and block bars, the reward-rate trace.

Rendering only: reads the state, never changes it, draws no random numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Fixed fruit positions on a golden-angle spiral inside the canopy (unit disc), 15 apples at most.
_N_FRUIT = 15
_ang = np.arange(_N_FRUIT) * 2.39996323
_rad = 0.82 * np.sqrt((np.arange(_N_FRUIT) + 0.5) / _N_FRUIT)
FRUIT_XY = np.stack([_rad * np.cos(_ang), _rad * np.sin(_ang)], axis=1)

SKY, GRASS, TRUNK, LEAVES = (200, 225, 245), (110, 170, 90), (110, 75, 45), (45, 125, 55)
TEXT, DIM, RED, GOLD = (25, 25, 30), (90, 90, 100), (215, 35, 40), (235, 170, 20)


def draw_patch_foraging(core: Any, canvas: Any, state: dict[str, np.ndarray], i: int) -> None:
    """Draw env ``i`` of ``state`` on ``canvas.surface`` (480 x 320)."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    surf = canvas.surface
    w, h = surf.get_size()
    surf.fill(SKY)
    pygame.draw.rect(surf, GRASS, pygame.Rect(0, 230, w, h - 230))

    s = float(state["s"][i])
    travelled = bool(state["travelled"][i])
    cond = int(state["cond"][i])
    p = core.conditions[cond]

    # The tree: richness shown as the number (and ripeness) of apples.
    cx, cy, r = 120, 120, 86
    pygame.draw.rect(surf, TRUNK, pygame.Rect(cx - 12, cy + 40, 24, 100))
    pygame.draw.circle(surf, LEAVES, (cx, cy), r)
    n_fruit = int(np.clip(np.round(s * _N_FRUIT / max(p.richness_max, 1e-9)), 0, _N_FRUIT))
    ripe = float(np.clip(s / max(p.richness_mean, 1e-9), 0.0, 1.0))
    colour = (int(120 + 100 * ripe), int(150 - 115 * ripe), 40)
    for x, y in FRUIT_XY[:n_fruit]:
        pygame.draw.circle(surf, colour, (int(cx + x * r), int(cy + y * r)), 8)
    if travelled:
        _text(canvas, "new tree!", (cx - 34, 12), 22, RED)

    # Travel bar: the journey just made (tau), and the block clock.
    x0 = 260
    _text(canvas, f"richness {s:5.2f}   expected next {float(state['exp'][i]):5.2f}", (x0 - 10, 12), 18)
    _text(canvas, f"last reward {float(state['last_reward'][i]):5.2f}", (x0 - 10, 32), 24, TEXT)
    _text(canvas, f"harvests {int(state['harvests'][i])}   time in tree {float(state['t_patch'][i]):.0f} s",
          (x0 - 10, 56), 18)
    _bar(surf, (x0 - 10, 78, 200, 12), 1.0 if travelled else 0.0, GOLD)
    _text(canvas, f"travel {p.travel_time:.0f} s" + (" (just travelled)" if travelled else ""),
          (x0 - 10, 92), 16, DIM)
    elapsed, block = float(state["elapsed"][i]), core.block_time
    _bar(surf, (x0 - 10, 110, 200, 12), elapsed / block, (70, 110, 200))
    _text(canvas, f"block {elapsed:.0f} / {block:.0f} s   kappa mean {p.kappa_mean:.3f}", (x0 - 10, 124), 16,
          DIM)

    # Running reward rate against rho* (the MVT optimum).
    rho = core.optimal_rate(cond)
    px, py, pw, ph = 250, 160, 215, 140
    pygame.draw.rect(surf, (245, 245, 240), pygame.Rect(px, py, pw, ph))
    pygame.draw.rect(surf, DIM, pygame.Rect(px, py, pw, ph), 1)
    top = 1.6 * rho
    y_rho = py + ph - int(ph * rho / top)
    for xd in range(px, px + pw, 8):
        pygame.draw.line(surf, RED, (xd, y_rho), (min(xd + 4, px + pw), y_rho), 1)
    bins = len(state["trace"][i])
    now = min(int(elapsed * bins / block), bins - 1)
    cum = np.maximum.accumulate(state["trace"][i, : now + 1].astype(np.float64))
    t = (np.arange(now + 1) + 1.0) * (block / bins)
    rate = np.minimum(cum / t, top)
    pts = [(px + int(pw * tk / block), py + ph - int(ph * rk / top)) for tk, rk in zip(t, rate, strict=True)]
    if len(pts) >= 2 and elapsed > 0:
        pygame.draw.lines(surf, (30, 60, 160), False, pts, 2)
    _text(canvas, f"reward rate vs rho* = {rho:.2f}/s", (px + 4, py + 4), 16, TEXT)
    if elapsed > 0:
        _text(canvas, f"now {float(state['total'][i]) / elapsed:.2f}/s", (px + 4, py + 20), 16, (30, 60, 160))


def _bar(surf: Any, rect: tuple[int, int, int, int], frac: float, colour: tuple[int, int, int]) -> None:
    import pygame  # deferred: pygame (SDL) loads only when rendering

    x, y, w, h = rect
    pygame.draw.rect(surf, (235, 235, 235), pygame.Rect(x, y, w, h))
    pygame.draw.rect(surf, colour, pygame.Rect(x, y, int(w * min(max(frac, 0.0), 1.0)), h))
    pygame.draw.rect(surf, DIM, pygame.Rect(x, y, w, h), 1)


def _text(canvas: Any, s: str, pos: tuple[int, int], px: int, colour: tuple[int, int, int] = TEXT) -> None:
    canvas.surface.blit(canvas.font(px).render(s, True, colour), pos)
