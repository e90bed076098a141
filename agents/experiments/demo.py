"""The demo: train a small conv agent on OrientationDiscrimination for about two minutes on CPU (less if
it reaches the target accuracy first), then write its learning curve and a video of it."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from agents.config import resolve_config
from agents.trainer import TrainResult, train


def run_demo(out_dir: str | Path = "runs/demo", seconds: float = 120.0, target: float = 0.95,
             env_id: str = "BrainSet/OrientationDiscrimination-v0", seed: int = 0,
             max_steps: int | None = None) -> TrainResult:
    """Train on ``env_id`` for at most ``seconds`` or until the evaluation accuracy reaches ``target``;
    the run folder (config, metrics, checkpoints, learning_curve.png, video.mp4) is a new folder under
    ``out_dir``; ``result.run_dir`` names it. ``max_steps`` also caps the env steps (a load-independent budget)."""
    out = Path(out_dir)
    cfg = resolve_config(env_id, overrides=[{
        "run": {"seed": seed, "device": "cpu", "runs_dir": str(out), "target_return": target,
                "eval_every": 20_000, "eval_episodes": 500},
        "train": {"max_seconds": seconds, **({"total_steps": max_steps} if max_steps else {})},
    }])
    res = train(cfg, command=f"agents.experiments.demo.run_demo({str(out)!r})")
    print(f"demo: {res.global_step} env steps in {res.elapsed:.0f} s ({res.steps_per_second:,.0f} steps/s); "
          f"evaluation accuracy {res.last_eval:.3f} (chance 0.5), stopped by {res.stopped}")
    print(f"demo: run folder {res.run_dir} (learning_curve.png, video.mp4, checkpoints/best.pt)")
    return res


DESCRIPTION = """The main job of `make demo`: train a small agent on OrientationDiscrimination for about two minutes on
CPU, render it, and set its psychometric threshold beside the ideal observer's (all under runs/demo/)."""


def main(argv: list[str] | None = None) -> int:
    """``scripts/demo.py [OUT_DIR]`` and ``brainset demo [OUT_DIR]``. A parser, so that ``--help`` prints this
    instead of training into a folder named ``--help``."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("MPLBACKEND", "Agg")
    p = argparse.ArgumentParser(description=DESCRIPTION)
    p.add_argument("out_dir", nargs="?", default="runs/demo", help="parent of the run folder (default runs/demo)")
    a = p.parse_args(argv)
    run_demo(a.out_dir)
    return 0
