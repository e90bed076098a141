"""Our trainer vs SB3 PPO (defaults, 8 envs) on the same machine, in the same run: throughput (MLP
policy, env steps/s end to end) and wall-clock time to the learning-check targets. Prints JSON;
``--out FILE`` also writes it. ``python scripts/bench_trainer.py [--quick] [--envs ID ...]``.
``python scripts/benchmark.py --trainer`` records the same numbers in the benchmark JSON.

Every option: ``--help``. The work is in ``agents.experiments.bench_trainer_cli`` (also ``brainset bench-trainer``)."""

import sys

from agents.experiments.bench_trainer_cli import main

if __name__ == "__main__":
    sys.exit(main())
