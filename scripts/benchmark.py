"""Benchmarks, written to one JSON file with the targets checked; print a summary.

Every option: ``--help``. The work is in ``agents.experiments.bench_cli`` (also ``brainset bench``)."""

import sys

from agents.experiments.bench_cli import main

if __name__ == "__main__":
    sys.exit(main())
