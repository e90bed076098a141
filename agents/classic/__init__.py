"""Textbook agents that need no deep learning: baselines the trained networks are compared with."""

from agents.classic.actor_critic import FMDConfig, FMDResult, PlaceCellActorCritic, train

__all__ = ["FMDConfig", "FMDResult", "PlaceCellActorCritic", "train"]
