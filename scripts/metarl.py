"""Learning to learn (Wang et al. 2018): a meta-RL LSTM on Bandit, TwoStep and Harlow, frozen, against ground truth.

Every option: ``--help``. The work is in ``agents.experiments.metarl`` (also ``brainset metarl``)."""

import sys

from agents.experiments.metarl import main

if __name__ == "__main__":
    sys.exit(main())
