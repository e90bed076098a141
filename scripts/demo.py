"""The main job of `make demo`: render OrientationDiscrimination episodes to a video and measure the ideal
observer's psychometric curve into a plot, under runs/demo/ (later: train a small agent, then render it)."""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")


def main() -> None:
    from brainset_envs.demo import run_demo

    run_demo("runs/demo")


if __name__ == "__main__":
    main()
