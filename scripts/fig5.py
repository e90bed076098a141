"""Fig. 5 of the seed paper: each learning rule's credit signal in S+- and S--tuned units, before, during and
after Go/NoGo learning, with the tagged fraction and the sign agreement with RPE x tag.

Every option: ``--help``. The work is in ``agents.experiments.fig5`` (also ``brainset fig5``)."""

import sys

from agents.experiments.fig5 import main

if __name__ == "__main__":
    sys.exit(main())
