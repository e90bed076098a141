"""Trainer hooks (SB3-style callbacks): code that watches or stops :func:`agents.trainer.train` from
outside the loop, so probes and figures need no fake objective and no trainer change.

A hook subclasses :class:`TrainerHook` and overrides what it uses (every method is a no-op). The
trainer calls, in this order:

- ``on_train_start(agent, cfg, run_dir)``: once, when the agent, the envs and the run folder exist (on
  resume too), before the first rollout;
- ``on_rollout(rollout)``: after each rollout is collected and the objectives have computed its
  intrinsic rewards and per-rollout targets: the :class:`~agents.rollout.Rollout` buffer with
  ``obs`` (T + 1, N, ...), ``actions``, ``rewards``, ``intrinsic``, ``valid``, ``first``, ``extras``, ...
  The trainer reuses the buffer for the next rollout: copy what you keep, change nothing, and draw no
  random numbers from the global generators (a hook must not change the run);
- ``on_step(info, done)``: after each env step of a rollout, with the vector env's ``info`` dict and
  ``done`` (N,) bool, the envs whose episode ended on this step (terminated or truncated, reset steps
  excluded): per-trial logs (e.g. the BCI blocks of :mod:`agents.experiments.bci`); only hooks that
  override it are called, so it costs nothing otherwise;
- ``on_update(info)``: after each update, with ``info = {"row": the metrics row being logged,
  "agent": agent, "loop": the LoopState}``; returning ``False`` stops training after this update
  (evaluation and checkpoint still run; ``TrainResult.stopped == "callback"``);
- ``on_train_end(agent, cfg, run_dir)``: once, after training ended without an exception, before the
  video is recorded; ``run_dir`` is None when the run writes no folder.

``train(cfg, callback=fn)`` still works: ``fn`` becomes :class:`CallbackHook` (its ``on_update``).

Objectives ask for hooks by entry point, like gymnasium's ``entry_point``: an objective class lists
``trainer_hooks = ("package.module:Factory", ...)`` and the trainer adds ``Factory(objective)`` for
each term of the objective that lists one (:func:`objective_hooks`). So an objective never imports the
code that reads it out (the empowerment map is drawn by
:class:`agents.probes.intrinsic.EmpowermentMapHook`, which sits above the objectives).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from agents.config import Config
from agents.objectives.base import Objective, WeightedSum
from agents.rollout import Rollout


class TrainerHook:
    """Base class of trainer hooks: override the methods you need; the others do nothing."""

    def on_train_start(self, agent: nn.Module, cfg: Config, run_dir: Path | None) -> None:
        """Once, before the first rollout (also when resuming)."""

    def on_rollout(self, rollout: Rollout) -> None:
        """After each rollout and the objectives' intrinsic rewards and targets, before the update."""

    def on_step(self, info: dict[str, Any], done: np.ndarray) -> None:
        """After each env step (``info``: the vector env's; ``done``: envs whose episode ended on it)."""

    def on_update(self, info: dict[str, Any]) -> bool | None:
        """After each update (``info``: ``row``, ``agent``, ``loop``); return False to stop training."""
        return None

    def on_train_end(self, agent: nn.Module, cfg: Config, run_dir: Path | None) -> None:
        """Once, after training ended normally (``run_dir`` None: the run writes no folder)."""


class CallbackHook(TrainerHook):
    """``train(cfg, callback=fn)`` as a hook: ``fn(info)`` after every update; False stops training."""

    def __init__(self, callback: Callable[[dict[str, Any]], Any]):
        self.callback = callback

    def on_update(self, info: dict[str, Any]) -> bool | None:
        return False if self.callback(info) is False else None


def load_entry_point(entry_point: str) -> Callable[..., TrainerHook]:
    """``"package.module:Name"`` -> the object ``Name`` of that module (imported now)."""
    module, sep, attr = entry_point.partition(":")
    if not sep or not module or not attr:
        raise ValueError(f"hook entry point {entry_point!r} must read 'package.module:Name'")
    return getattr(importlib.import_module(module), attr)


def objective_hooks(objective: Objective) -> list[TrainerHook]:
    """The hooks the objective's terms ask for (``trainer_hooks``), each built with its term."""
    terms: Iterable[Objective] = ([o for _, o in objective.terms] if isinstance(objective, WeightedSum)
                                  else [objective])
    return [load_entry_point(ep)(term) for term in terms for ep in term.trainer_hooks]
