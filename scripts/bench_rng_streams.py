"""Cost of per-env RNG streams in the native vector env (the measurement behind each core's ``shared_stream``).

Every option: ``--help``. The work is in ``agents.experiments.bench_rng_streams`` (also ``brainset bench-rng``)."""

import sys

from agents.experiments.bench_rng_streams import main

if __name__ == "__main__":
    sys.exit(main())
