"""``make demo``: train a small agent on OrientationDiscrimination for about two minutes on CPU and render
it (see ``agents.demo.run_demo``)."""

import sys

from agents.demo import run_demo

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "runs/demo"
    run_demo(out)
