"""Deprecated alias of the MVT part of :mod:`brainset_envs.analysis.patch_foraging` (defined in
:mod:`brainset_envs.tasks.patch_foraging_mvt`); kept so old import paths work."""

from brainset_envs.analysis.patch_foraging import *  # noqa: F403
from brainset_envs.analysis.patch_foraging import (  # noqa: F401
    DEPLETION_PRESETS,
    DX,
    SHALLOW,
    STEEP,
    ForagingParams,
    MVTOptimum,
    arrival_reward,
    discounted_threshold,
    expected_harvest,
    make_params,
    mvt_optimum,
    policy_stats,
    rate_lower_bound,
    resolve_depletion,
    richness_for,
)
from brainset_envs.tasks.patch_foraging_mvt import (  # noqa: F401  (private helpers of the old module)
    _expect_s0,
    _grid,
    _kernel,
    _operator,
    _segment,
    _stats,
)
