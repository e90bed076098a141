"""Every learning rule trains an agent through the normal trainer (issue 8, check 6).

Gradient-like rules: same env (OrientationDiscriminationEasy-v0), same default config (hierarchical conv
+ PPO), only ``rule.name`` changes; accuracy on 1000 fresh trials must be well above chance (0.5). Budgets
per rule (``agents.experiments.checks.RULE_BUDGETS``) are part of the result, set so that every seed and
CPU code path of the robustness audit learns: direct feedback alignment and sign symmetry need 2x
backprop's steps here (with backprop's budget they stayed at chance in 10 and 4 of 32 runs), feedback
alignment 2x too, and it still stays at chance in about 1 run of 32 (seed 0, tested, learns on every
audited path); predictive coding runs 5 relaxation steps per update.

Node and weight perturbation (zeroth-order: the noise of their estimates grows with the number of
perturbed outputs / weights) stay at chance with that conv agent (0.508 after 16k steps); weight
perturbation with a 256-32-2 MLP on random-phase 16 px gratings reached 0.48-0.53 after 76.8k steps
(Adam lr 1e-3 to 1e-2, one update per rollout). They learn with a small agent on a simpler version of the
same env: 16 px gratings of fixed phase (``env.kwargs={"size": 16, "phase": 0.0}``: the two orientations
are then linearly separable), an MLP with one hidden layer of 8 tanh units (``arch.name=mlp``,
``arch.mlp_hidden=[8]``), 16 antithetic perturbations of sigma 0.01 per update (33 forward passes), the
env's default PPO schedule (Adam, lr 1e-3 annealed), 65536 env steps: ~20-35 s each on one core.
Measured (seeds 0 / 1 / 2): node perturbation 0.803 / 1.0 / 0.947, weight perturbation 1.0 / 1.0 / 1.0;
the untrained network 0.513.
"""

import pytest

from agents.experiments.checks import CHECKS, RULE_BUDGETS


@pytest.mark.parametrize("rule", sorted(RULE_BUDGETS))
def test_rule_trains_orientation_discrimination_through_the_trainer(rule):
    """Accuracy >= 0.9 on 1000 fresh trials (the budget per rule is ``RULE_BUDGETS``)."""
    check = CHECKS[f"rule_{rule}"]
    figures = check.tested()
    print(f"{rule}: {figures}")
    assert not check.failures(figures), check.failures(figures)
    assert figures["untrained"] < 0.65  # chance 0.5


@pytest.mark.parametrize("rule", ["node_perturbation", "weight_perturbation"])
def test_perturbation_rule_trains_a_small_agent_through_the_trainer(rule):
    check = CHECKS[f"rule_{rule}"]
    figures = check.tested()
    print(f"{rule}: {figures}")
    assert abs(figures["untrained"] - 0.5) < 0.05  # chance: 1000 trials
    assert not check.failures(figures), check.failures(figures)

