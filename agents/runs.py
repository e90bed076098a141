"""Kept so old import paths work: ``agents.runs`` re-exports what it held before it was split by job.

New code imports from the modules that do the job:

- :mod:`agents.run_folder`: run folder names and checkpoints (``run_prefix``, ``new_run_dir``,
  ``latest_run_dir``, ``save_checkpoint``, ``load_checkpoint``, ``checkpoint_path``);
- :mod:`agents.build`: ``build_components`` and ``load_agent``;
- :mod:`agents.run_log`: ``RunLogger`` and ``plot_learning_curve``;
- :mod:`agents.policy`: ``AgentPolicy`` and ``record_video``.
"""

from __future__ import annotations

from agents.build import build_components, load_agent
from agents.policy import AgentPolicy, record_video
from agents.run_folder import (
    _slug,
    checkpoint_path,
    latest_run_dir,
    load_checkpoint,
    new_run_dir,
    run_prefix,
    save_checkpoint,
)
from agents.run_log import RunLogger, plot_learning_curve

__all__ = ["AgentPolicy", "RunLogger", "_slug", "build_components", "checkpoint_path", "latest_run_dir",
           "load_agent", "load_checkpoint", "new_run_dir", "plot_learning_curve", "record_video", "run_prefix",
           "save_checkpoint"]
