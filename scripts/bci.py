"""BCI learning (Sadtler et al. 2014): within- vs outside-manifold perturbations of the agent's own units, per rule.

Every option: ``--help``. The work is in ``agents.experiments.bci`` (also ``brainset bci``)."""

import sys

from agents.experiments.bci import main

if __name__ == "__main__":
    sys.exit(main())
