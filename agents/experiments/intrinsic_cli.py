"""The README figures of intrinsic motivation, from agents trained with the ordinary trainer.

    python scripts/intrinsic_figures.py                 # both figures into assets/ (~3 min on 2 cores)
    python scripts/intrinsic_figures.py --only coverage --seeds 4

- ``assets/empowerment_learned_vs_exact.png``: the variational empowerment estimate (objective
  'empowerment', n = 3) of an agent trained on a 10 x 10 room, beside the exact map and their difference.
- ``assets/coverage.png``: cells visited in 3000 steps of the 21 x 21 four-room world by the curiosity
  agent, a PPO agent with a count bonus, a random walk and the count-based reference policy (least-visited
  neighbour, which knows the map).

The logic and the configurations live in ``agents/experiments/intrinsic_report.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agents.experiments.intrinsic_report import coverage_figure, empowerment_figure


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["empowerment", "coverage"], help="make one figure only")
    p.add_argument("--out", default="assets", help="folder for the PNGs")
    p.add_argument("--runs-dir", default="runs", help="run folder parent for the empowerment agent")
    p.add_argument("--seed", type=int, default=0, help="seed of the empowerment agent")
    p.add_argument("--seeds", type=int, default=4, help="training seeds per exploring agent (4 walkers each)")
    a = p.parse_args(argv)
    if a.seeds < 1:
        p.error(f"--seeds={a.seeds} must be >= 1")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    if a.only in (None, "empowerment"):
        empowerment_figure(out, a.runs_dir, a.seed)
    if a.only in (None, "coverage"):
        coverage_figure(out, a.seeds)
