"""The main job of `make demo`: train a small agent on OrientationDiscrimination for about two minutes on
CPU, render it, and set its psychometric threshold beside the ideal observer's (all under runs/demo/)."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MPLBACKEND", "Agg")


def main() -> None:
    from agents.experiments.demo import run_demo

    run_demo(sys.argv[1] if len(sys.argv) > 1 else "runs/demo")


if __name__ == "__main__":
    main()
