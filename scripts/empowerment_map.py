"""Save the true n-step empowerment map of a grid layout as a PNG.

Every option: ``--help``. The work is in ``agents.experiments.empowerment_map`` (also ``brainset empowerment-map``)."""

import sys

from agents.experiments.empowerment_map import main

if __name__ == "__main__":
    sys.exit(main())
