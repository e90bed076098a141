"""Fig. 3 of Richards et al. 2019, drawn and measured: which learning rules follow a gradient.

Every option: ``--help``. The work is in ``agents.experiments.fig3`` (also ``brainset fig3``)."""

import sys

from agents.experiments.fig3 import main

if __name__ == "__main__":
    sys.exit(main())
