"""Objectives: what the network is trained to optimise (the seed paper's first component).

Every objective implements :class:`agents.objectives.base.Objective`; the trainer only calls that
interface. Register new ones with :func:`register_objective`; combine them with strings such as
``"reward+0.1*predictive"``.

Built in: ``reward`` (PPO / REINFORCE), ``predictive`` (forward-model prediction error: a loss, and
optionally a reward), ``curiosity`` (prediction-error intrinsic reward), ``rnd`` (random network
distillation), ``count`` (visit-count bonus), ``empowerment`` (variational empowerment, Mohamed &
Rezende 2015).
"""

from agents.objectives.base import (
    Objective,
    WeightedSum,
    available_objectives,
    get_objective,
    parse_spec,
    register_objective,
)
from agents.objectives.count import CountObjective
from agents.objectives.empowerment import EmpowermentObjective
from agents.objectives.predictive import CuriosityObjective, PredictiveObjective, RNDObjective
from agents.objectives.reward import RewardObjective, gae

register_objective("reward", RewardObjective)
register_objective("predictive", PredictiveObjective)
register_objective("curiosity", CuriosityObjective)
register_objective("rnd", RNDObjective)
register_objective("count", CountObjective)
register_objective("empowerment", EmpowermentObjective)

__all__ = ["CountObjective", "CuriosityObjective", "EmpowermentObjective", "Objective", "PredictiveObjective",
           "RNDObjective", "RewardObjective", "WeightedSum", "available_objectives", "gae", "get_objective",
           "parse_spec", "register_objective"]
