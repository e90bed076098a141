"""Intrinsically motivated agents trained with the ordinary trainer while a hook records where they go."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agents.config import Config
from agents.probes.intrinsic import VisitRecorder, cell_decoder
from agents.trainer import TrainResult, train


def train_and_record(cfg: Config, **train_kwargs: Any) -> tuple[TrainResult, VisitRecorder]:
    """Train ``cfg`` (an EmpowermentGrid config with 'onehot' or 'coords' observations) with the ordinary
    trainer and a :class:`VisitRecorder` hook (after any ``hooks`` passed in); returns (TrainResult, the
    recorder: ``.trajectories()`` (num_envs, steps + 1) cells, ``.action_trajectories()`` (num_envs,
    steps) actions)."""
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    recorder = VisitRecorder(cell_decoder(env))
    env.close()
    hooks = [*train_kwargs.pop("hooks", ()), recorder]
    return train(cfg, hooks=hooks, **train_kwargs), recorder
