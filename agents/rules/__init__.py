"""Learning rules: how an objective's loss becomes parameter updates (the seed paper's second component).

Every rule implements :class:`agents.rules.base.LearningRule`; the trainer only calls that interface.
"""

from agents.rules.base import Backprop, LearningRule, get_rule, register_rule

__all__ = ["Backprop", "LearningRule", "get_rule", "register_rule"]
