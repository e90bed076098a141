"""Deprecated alias of :mod:`brainset_envs.analysis.foraging_arena`; kept so old import paths work."""

from brainset_envs.analysis.foraging_arena import *  # noqa: F403
from brainset_envs.analysis.foraging_arena import POLICIES, forager_actions, reference_stats  # noqa: F401
