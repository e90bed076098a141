"""Tabular curiosity in a grid world: optimistic Q-learning on a prediction-error (or count) bonus.

Every option: ``--help``. The work is in ``agents.experiments.explore`` (also ``brainset explore``)."""

import sys

from agents.experiments.explore import main

if __name__ == "__main__":
    sys.exit(main())
