"""Deprecated alias of :mod:`brainset_envs.analysis.water_maze`; kept so old import paths work."""

from brainset_envs.analysis.water_maze import *  # noqa: F403
from brainset_envs.analysis.water_maze import (  # noqa: F401
    QUADRANTS,
    Trial,
    ideal_latency,
    latency_per_day,
    latency_table,
    path_length,
    probe_quadrant_times,
    quadrant_occupancy,
    trials_from_infos,
)
