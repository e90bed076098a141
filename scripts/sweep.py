"""A grid of training runs on Ray Tune: ``python scripts/sweep.py --rule backprop,feedback_alignment --seeds 3
--set train.lr=1e-3,5e-4``. Every option: ``--help``. The work is in ``agents.experiments.sweep`` (also
``brainset sweep``)."""

import sys

from agents.experiments.sweep_cli import main

if __name__ == "__main__":
    sys.exit(main())
