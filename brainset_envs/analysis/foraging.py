"""Deprecated alias of :mod:`brainset_envs.analysis.patch_foraging`; kept so old import paths work."""

from brainset_envs.analysis.patch_foraging import *  # noqa: F403
from brainset_envs.analysis.patch_foraging import (  # noqa: F401
    HARVEST,
    LEAVE,
    LOG_KEYS,
    MVTOracle,
    foraging_stats,
    record_log,
    simulate_oracle,
)
