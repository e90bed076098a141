"""Shared machinery: the batch-first task core and its two envs, the pygame canvas, argument checks."""

from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import TaskCore
from brainset_envs.core.vector import TaskVectorEnv

__all__ = ["TaskCore", "TaskEnv", "TaskVectorEnv"]
