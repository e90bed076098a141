"""Learning rules: how an objective's loss becomes parameter updates (the seed paper's second component).

Every rule implements :class:`agents.rules.base.LearningRule`; the trainer only calls that interface:
``model = rule.prepare(model)`` once, then ``rule.compute_grads(model, closure)`` and an optimizer step.
``get_rule(name, **options)`` builds one by name (the ``--rule`` option).

=========================== =====================================================================
name                        architectures
=========================== =====================================================================
backprop                    any
feedback_alignment          Linear, Conv1d/2d/3d, RNN/GRU/LSTM cells, unidirectional RNN/GRU/LSTM
sign_symmetry               same as feedback_alignment
direct_feedback_alignment   feed-forward Linear / Conv1d/2d/3d nets (refuses models with recurrent=True)
node_perturbation           Linear, Conv1d/2d/3d, RNN/GRU/LSTM cells (not nn.RNN/GRU/LSTM)
weight_perturbation         any
predictive_coding           any layer; recurrence as cells or Linear-gated cores (not nn.RNN/GRU/LSTM)
=========================== =====================================================================

Normalisation layers, embeddings and vector parameters are accepted by every rule; any other module
owning a trainable matrix that a rule cannot handle fails in ``prepare`` with a message naming it.
"""

from agents.rules.base import Backprop, LearningRule, available_rules, get_rule, register_rule
from agents.rules.feedback import DirectFeedbackAlignment, FeedbackAlignment, SignSymmetry, exact_backward
from agents.rules.perturbation import NodePerturbation, WeightPerturbation
from agents.rules.predictive_coding import PredictiveCoding

for _cls in (FeedbackAlignment, SignSymmetry, DirectFeedbackAlignment, NodePerturbation, WeightPerturbation,
             PredictiveCoding):
    register_rule(_cls.name, _cls)

RULES: tuple[str, ...] = ("backprop", "feedback_alignment", "direct_feedback_alignment", "sign_symmetry",
                          "node_perturbation", "weight_perturbation", "predictive_coding")

__all__ = [
    "RULES", "Backprop", "DirectFeedbackAlignment", "FeedbackAlignment", "LearningRule", "NodePerturbation",
    "PredictiveCoding", "SignSymmetry", "WeightPerturbation", "available_rules", "exact_backward", "get_rule",
    "register_rule",
]
