"""Train the place-cell actor-critic (Foster, Morris & Dayan 2000) on the water maze with a reversal.

Every option: ``--help``. The work is in ``agents.experiments.watermaze_fmd`` (also ``brainset watermaze``)."""

from agents.experiments.watermaze_fmd import main

if __name__ == "__main__":
    main()  # returns the run folder (for tests), not an exit status
