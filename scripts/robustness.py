"""Audit the learned figures the tests assert over seeds and CPU code paths (see agents/experiments/robustness.py).

    python scripts/robustness.py --seeds 8 --jobs 2                       # everything (hours on 2 cores)
    python scripts/robustness.py --checks ppo_curiosity_coverage --paths auto,compatible
"""

import sys

from agents.experiments.robustness import main

if __name__ == "__main__":
    sys.exit(main())
