"""Wrappers psychophysicists expect: adaptive staircases and the method of constant stimuli."""

from brainset_envs.wrappers.psychophysics import ConstantStimuli, Staircase

__all__ = ["ConstantStimuli", "Staircase"]
