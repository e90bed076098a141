"""Fig. 2 of Richards et al. 2019, measured: bias and variance of each learning rule's updates, per layer.

Every option: ``--help``. The work is in ``agents.experiments.fig2_cli`` (also ``brainset fig2``)."""

import sys

from agents.experiments.fig2_cli import main

if __name__ == "__main__":
    sys.exit(main())
