"""The main job of `make demo`: train a small agent on OrientationDiscrimination for about two minutes on
CPU, render it, and set its psychometric threshold beside the ideal observer's (all under runs/demo/).
The work is in agents.experiments.demo (also ``brainset demo``)."""

import sys

from agents.experiments.demo import main

if __name__ == "__main__":
    sys.exit(main())
