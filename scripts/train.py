"""Train an agent: ``python scripts/train.py --env BrainSet/OrientationDiscrimination-v0 --arch hierarchical
--objective reward --seed 0``. Every option is listed by ``--help``; the work is in ``agents.trainer``."""

import sys

from agents.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
