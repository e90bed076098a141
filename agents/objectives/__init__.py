"""Objectives: what the network is trained to optimise (the seed paper's first component).

Every objective implements :class:`agents.objectives.base.Objective`; the trainer only calls that
interface. Register new ones with :func:`register_objective`; combine them with strings such as
``"reward+0.1*predictive"``.
"""

from agents.objectives.base import (
    Objective,
    WeightedSum,
    available_objectives,
    get_objective,
    parse_spec,
    register_objective,
)
from agents.objectives.reward import RewardObjective, gae

register_objective("reward", RewardObjective)

__all__ = ["Objective", "RewardObjective", "WeightedSum", "available_objectives", "gae", "get_objective",
           "parse_spec", "register_objective"]
