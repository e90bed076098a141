"""The README figures of intrinsic motivation, from agents trained with the ordinary trainer.

Every option: ``--help``. The work is in ``agents.experiments.intrinsic_cli`` (also ``brainset intrinsic``)."""

import sys

from agents.experiments.intrinsic_cli import main

if __name__ == "__main__":
    sys.exit(main())
