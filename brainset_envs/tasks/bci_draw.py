"""Drawing of the BCI task (brainset_envs.tasks.bci): the workspace with its 8 targets and the cursor, or the
grating with the target orientation; the block, the trial and the step count as text."""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np

from brainset_envs.core.task_core import State


class BCIView(Protocol):
    """What the drawing reads of a BCI core."""

    mode: str
    calibration: str
    radius: float
    workspace: float
    max_steps: int
    targets: np.ndarray
    block_trials: np.ndarray
    trial_min_steps: int


def draw_bci(core: BCIView, canvas: Any, state: State, i: int, name: str, perturbed_block: bool) -> None:
    """Draw env ``i`` of ``state`` on ``canvas``; ``name`` names its block (orange in a perturbation block)."""
    import pygame  # deferred: pygame (SDL) loads only when rendering

    surf = canvas.surface
    w, _ = surf.get_size()
    surf.fill((24, 26, 32))
    cx, cy, rad = w // 2, 200, 150
    blk, success = int(state["block"][i]), bool(state["success"][i])
    hi = (90, 220, 110) if success else (250, 210, 70)
    if core.mode == "cursor":
        scale = rad / core.workspace

        def px(p: np.ndarray) -> tuple[int, int]:
            return round(cx + float(p[0]) * scale), round(cy - float(p[1]) * scale)

        pygame.draw.circle(surf, (60, 64, 76), (cx, cy), rad, 1)
        r_px = max(3, round(core.radius * scale))
        for k, t in enumerate(core.targets):
            if k == int(state["target"][i]):
                pygame.draw.circle(surf, hi, px(t), r_px)
            else:
                pygame.draw.circle(surf, (90, 94, 110), px(t), r_px, 2)
        pos, vel = state["pos"][i], state["vel"][i]
        pygame.draw.line(surf, (140, 180, 255), px(pos), px(pos + vel * 3.0), 2)
        pygame.draw.circle(surf, (245, 245, 245), px(pos), 7)
    else:
        _draw_grating(pygame, core, surf, state, i, cx, cy, rad, hi)
    colour = (255, 150, 80) if perturbed_block else (230, 230, 230)
    n_blk = int(core.block_trials[max(blk, 0)])
    top = f"day {int(state['day'][i])}   trial {int(state['trial'][i])}/{n_blk}"
    surf.blit(canvas.font(20).render(top, True, (230, 230, 230)), (10, 10))
    surf.blit(canvas.font(20).render(name, True, colour), (10, 32))
    steps = int(state["steps"][i])
    status = "reached" if success else ("timeout" if steps >= core.max_steps else "")
    line = f"step {steps}/{core.max_steps}  (fewest {core.trial_min_steps})  {status}"
    surf.blit(canvas.font(18).render(line, True, (190, 190, 200)), (10, 390))


def _draw_grating(pygame: Any, core: BCIView, surf: Any, state: State, i: int, cx: int, cy: int, rad: int,
                  hi: tuple[int, int, int]) -> None:
    """A circular sinusoidal grating at the current angle (0 = vertical stripes, positive = clockwise),
    the target orientation and its tolerance as ticks on the rim."""
    th = math.radians(float(state["pos"][i, 0]))
    d = np.arange(-rad, rad + 1, dtype=np.float64)
    dx, dy = d[:, None], d[None, :]  # surfarray axes: x, then y (down)
    phase = (dx * math.cos(th) + dy * math.sin(th)) * (2.0 * math.pi / 24.0)
    lum = 125.0 + 100.0 * np.cos(phase)
    inside = dx * dx + dy * dy <= rad * rad
    img = np.where(inside[..., None], lum[..., None] * np.array([1.0, 1.0, 1.04]), np.array([24.0, 26.0, 32.0]))
    patch = pygame.surfarray.make_surface(np.clip(img, 0, 255).astype(np.uint8))
    surf.blit(patch, (cx - rad, cy - rad))
    pygame.draw.circle(surf, (150, 150, 160), (cx, cy), rad, 2)

    def tick(deg: float, colour: tuple[int, int, int], width: int) -> None:
        a = math.radians(deg)
        u = np.array([math.sin(a), -math.cos(a)])
        pygame.draw.line(surf, colour, tuple(np.array([cx, cy]) + (rad + 4) * u),
                         tuple(np.array([cx, cy]) + (rad + 22) * u), width)

    goal = float(state["tpos"][i, 0])
    for sign in (-1.0, 1.0):
        tick(goal + sign * core.radius, (120, 120, 130), 2)
    tick(goal, hi, 5)
    tick(float(state["pos"][i, 0]), (140, 180, 255), 3)
