"""Every registered learning rule trains an agent through the normal trainer (issue 8, check 6).

Same env (OrientationDiscriminationEasy-v0), the env's default config (hierarchical conv + PPO), only
``rule.name`` changes; accuracy on 1000 fresh trials must reach 0.9 (chance 0.5). Each rule's budget and
setup are its registry attributes ``trainer_steps`` / ``trainer_overrides``
(:func:`agents.experiments.checks.rule_budget`), set so that every seed and CPU code path of the
robustness audit learns: direct feedback alignment and sign symmetry need 2x backprop's steps (with
backprop's budget they stayed at chance in 10 and 4 of 32 runs), feedback alignment 2x too, and it still
stays at chance in about 1 run of 32 (seed 0, tested, learns on every audited path); predictive coding
runs 5 relaxation steps per update.

Node and weight perturbation (zeroth-order: the noise of their estimates grows with the number of
perturbed outputs / weights) stay at chance with the conv agent (0.508 after 16k steps). They learn with
a small agent on a simpler version of the same env: 16 px gratings of fixed phase (the two orientations
are then linearly separable), centred images (``arch.center_images=true``), an MLP with one hidden layer
of 8 tanh units, 16 antithetic perturbations of sigma 0.01 per update (33 forward passes), the env's PPO
schedule, 65536 env steps. On uncentred [0, 1] images node perturbation's noisy node errors times the
common mean image drove the hidden units to +-1 in 4 of 8 seeds (accuracy stuck at one answer); centred,
both rules reach 1.0 on every audited seed and code path (assets/robustness.md).

Rules whose ``learns_tasks`` attribute is False are not run here (nor in test_on_a_task.py): the Hebbian
rules (agents/rules/hebbian.py) train only their output layer on the objective, their hidden layers by
local Hebbian updates; they refuse the conv agent, and in the REINFORCE check (256-32-2 tanh net, SGD 0.01)
Hebb with decay stayed at chance (0.489 at seed 0). Their checks are Fig. 3's
(tests/agents/probes/test_update_field.py).
Equilibrium propagation and contrastive Hebbian learning (agents/rules/equilibrium.py) are not run
either: their energy network is one nn.Sequential chain of Linear layers, and ``prepare`` refuses the
agents (the env's default agent: its Conv2d torso, named). Their checks are in
tests/agents/rules/test_equilibrium.py (digits against backprop).
RDD feedback (agents/rules/rdd.py, ``trains_agents = False``) trains MLPs only: it runs in
test_on_a_task.py's REINFORCE check, not here.
"""

import pytest

from agents.experiments.checks import CHECKS, task_rules


@pytest.mark.parametrize("rule", task_rules())
def test_rule_trains_orientation_discrimination_through_the_trainer(rule):
    """Accuracy >= 0.9 on 1000 fresh trials, from an untrained network near chance."""
    check = CHECKS[f"rule_{rule}"]
    figures = check.tested()
    print(f"{rule}: {figures}")
    assert not check.failures(figures), check.failures(figures)
