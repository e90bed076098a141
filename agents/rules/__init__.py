"""Learning rules: how an objective's loss becomes parameter updates (the seed paper's second component).

Every rule implements :class:`agents.rules.base.LearningRule`; the trainer only calls that interface:
``model = rule.prepare(model)`` once, then ``rule.compute_grads(model, closure)`` and an optimizer step.
``get_rule(name, **options)`` builds one by name (the ``--rule`` option).

``python -m agents.rules`` prints the table of registered rules (what each does, which architectures
it trains), read from the rules' class attributes.

Normalisation layers, embeddings and vector parameters are accepted by every rule; any other module
owning a trainable matrix that a rule cannot handle fails in ``prepare`` with a message naming it.
"""

from agents.rules.agrel import AGREL
from agents.rules.base import (
    Backprop,
    LearningRule,
    Settings,
    available_rules,
    frozen_rule_state,
    get_rule,
    register_rule,
    registered_rules,
    rule_class,
    rules_table,
)
from agents.rules.dendritic import DendriticError
from agents.rules.equilibrium import ContrastiveHebbian, EquilibriumPropagation
from agents.rules.feedback import DirectFeedbackAlignment, FeedbackAlignment, SignSymmetry, exact_backward
from agents.rules.hebbian import Hebbian, Oja
from agents.rules.perturbation import NodePerturbation, WeightPerturbation
from agents.rules.predictive_coding import PredictiveCoding
from agents.rules.rdd import RDDFeedback

# Registration order is the order of tables and figures.
for _cls in (FeedbackAlignment, DirectFeedbackAlignment, SignSymmetry, NodePerturbation, WeightPerturbation,
             PredictiveCoding):
    register_rule(_cls)
register_rule(Hebbian)
register_rule(Oja)
register_rule(EquilibriumPropagation)
register_rule(ContrastiveHebbian)
register_rule(AGREL)
register_rule(DendriticError)
register_rule(RDDFeedback)

RULES: tuple[str, ...] = registered_rules()  # the built-in rules; registered_rules() also lists later ones

__all__ = [
    "AGREL", "RULES", "Backprop", "ContrastiveHebbian", "DendriticError", "DirectFeedbackAlignment",
    "EquilibriumPropagation",
    "FeedbackAlignment", "Hebbian", "LearningRule", "NodePerturbation",
    "Oja", "PredictiveCoding", "RDDFeedback", "Settings", "SignSymmetry", "WeightPerturbation", "available_rules",
    "exact_backward", "frozen_rule_state",
    "get_rule", "register_rule", "registered_rules", "rule_class", "rules_table",
]
