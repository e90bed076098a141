"""Fig. 4 of Richards et al. 2019, measured: perceptual learning of orientation in a conv hierarchy.

Every option: ``--help``. The work is in ``agents.experiments.fig4_cli`` (also ``brainset fig4``)."""

import sys

from agents.experiments.fig4_cli import main

if __name__ == "__main__":
    sys.exit(main())
