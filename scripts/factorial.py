"""The component factorial: every task with a learning check x architectures x objectives x learning rules x
seeds, as ordinary training runs on Ray Tune, ranked against each task's ground truth.

Every option: ``--help``. The work is in ``agents.experiments.factorial`` (also ``brainset factorial``)."""

import sys

from agents.experiments.factorial import main

if __name__ == "__main__":
    sys.exit(main())
