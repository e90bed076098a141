"""Figures of true empowerment maps (matplotlib): cells coloured by E_n, thin walls as lines."""

from __future__ import annotations

import os
import tempfile
from typing import Any

import numpy as np

from brainset_envs.analysis.empowerment import _grid, empowerment_map
from brainset_envs.core.grid import E, Grid, Layout, S


def plot_empowerment_map(layout: str | Layout | Grid = "klyubin", n: int = 5, noise: float = 0.0,
                         ax: Any = None, annotate: bool = True, cmap: str = "viridis") -> Any:
    """Draw the n-step empowerment map of a layout on ``ax`` (a new figure if None); returns the axes.

    Blocked cells are grey, thin walls black lines, values written in the cells when ``annotate``.
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is optional and slow to import; only plots need it

    grid = _grid(layout)
    lay = grid.layout
    values = empowerment_map(grid, n, noise)
    if ax is None:
        _, ax = plt.subplots(figsize=(0.55 * lay.w + 1.6, 0.55 * lay.h + 0.6))
    ax.set_facecolor((0.45, 0.45, 0.48))
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, origin="upper",
                   extent=(0, lay.w, lay.h, 0), interpolation="nearest")
    for r, c in zip(*np.nonzero(lay.walls[..., E]), strict=True):
        ax.plot([c + 1, c + 1], [r, r + 1], color="black", lw=3, solid_capstyle="round")
    for r, c in zip(*np.nonzero(lay.walls[..., S]), strict=True):
        ax.plot([c, c + 1], [r + 1, r + 1], color="black", lw=3, solid_capstyle="round")
    ax.plot([0, lay.w, lay.w, 0, 0], [0, 0, lay.h, lay.h, 0], color="black", lw=3)
    if annotate and max(lay.h, lay.w) <= 16:
        lo, hi = np.nanmin(values), np.nanmax(values)
        for (r, c), v in np.ndenumerate(values):
            if np.isfinite(v):
                light = (v - lo) < 0.5 * (hi - lo)
                ax.text(c + 0.5, r + 0.5, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if light else "black")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlim(0, lay.w)
    ax.set_ylim(lay.h, 0)
    ax.set_aspect("equal")
    title = f"{lay.name}: {n}-step empowerment (bits)" + (f", noise {noise:g}" if noise else "")
    ax.set_title(title, fontsize=10)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def save_empowerment_png(path: str, layout: str | Layout | Grid = "klyubin", n: int = 5,
                         noise: float = 0.0, dpi: int = 150) -> str:
    """Save :func:`plot_empowerment_map` as a PNG at ``path`` (written atomically); returns the path."""
    import matplotlib  # deferred: matplotlib is optional and slow to import; only plots need it

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: after choosing the Agg backend above

    ax = plot_empowerment_map(layout, n, noise)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=folder)
    os.close(fd)
    try:
        ax.figure.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    finally:
        plt.close(ax.figure)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
