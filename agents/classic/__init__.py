"""Textbook agents that need no deep learning: baselines the trained networks are compared with."""

from agents.classic.actor_critic import FMDConfig, FMDResult, PlaceCellActorCritic, train
from agents.classic.curiosity import ExploreConfig, ExploreResult, TabularCuriosity, explore, save_exploration

__all__ = ["ExploreConfig", "ExploreResult", "FMDConfig", "FMDResult", "PlaceCellActorCritic", "TabularCuriosity",
           "explore", "save_exploration", "train"]
