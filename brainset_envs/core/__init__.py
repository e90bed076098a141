"""Shared machinery: the batch-first task core and its two envs, the pygame canvas, argument checks."""

from brainset_envs.core.vector import TaskCore, TaskEnv, TaskVectorEnv

__all__ = ["TaskCore", "TaskEnv", "TaskVectorEnv"]
