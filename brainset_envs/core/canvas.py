"""Off-screen pygame-ce drawing surface shared by every task: ``rgb_array`` frames and a ``human`` window.

Tasks draw on :attr:`Canvas.surface`; :meth:`Canvas.present` returns an HxWx3 uint8 frame
(``rgb_array``) or shows the surface in a window (``human``). pygame is imported only when rendering.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pygame  # deferred: pygame (SDL) loads only when rendering

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")


class Canvas:
    """A pygame surface of ``size`` (width, height) and, in ``human`` mode, a window showing it."""

    def __init__(self, size: tuple[int, int], render_mode: str, fps: int = 10, title: str = "BrainSet"):
        import pygame  # deferred: pygame (SDL) loads only when rendering

        self._pg = pygame
        self.size = (int(size[0]), int(size[1]))
        self.render_mode = render_mode
        self.fps = fps
        self.title = title
        if not pygame.font.get_init():
            pygame.font.init()
        self.surface = pygame.Surface(self.size)
        self._window: pygame.Surface | None = None
        self._clock: pygame.time.Clock | None = None

    def font(self, px: int = 14):
        """A default font of ``px`` pixels (cached)."""
        cache = self.__dict__.setdefault("_fonts", {})
        if px not in cache:
            cache[px] = self._pg.font.Font(None, px)
        return cache[px]

    def present(self) -> np.ndarray | None:
        """Return the frame (``rgb_array``) or show it in the window at ``fps`` (``human``)."""
        pg = self._pg
        if self.render_mode == "rgb_array":
            return np.ascontiguousarray(np.transpose(pg.surfarray.pixels3d(self.surface), (1, 0, 2)))
        if self._window is None:
            pg.display.init()
            pg.display.set_caption(self.title)
            self._window = pg.display.set_mode(self.size)
            self._clock = pg.time.Clock()
        pg.event.pump()
        self._window.blit(self.surface, (0, 0))
        pg.display.flip()
        if self._clock is not None:  # always set together with the window
            self._clock.tick(self.fps)
        return None

    def close(self) -> None:
        """Close the window if one is open; safe to call twice."""
        if self._window is not None:
            self._pg.display.quit()
            self._window = None


def text(surface, canvas_font, s: str, pos: tuple[int, int], color=(230, 230, 230)) -> None:
    """Draw ``s`` at ``pos`` (top-left) with a font from :meth:`Canvas.font`."""
    surface.blit(canvas_font.render(s, True, color), pos)
