"""Record a trained agent: ``python scripts/render.py --checkpoint runs/<run folder>`` (see ``--help``)."""

import sys

from agents.cli import render_main

if __name__ == "__main__":
    sys.exit(render_main())
