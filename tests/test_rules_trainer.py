"""Every learning rule trains an agent through the normal trainer (issue 8, check 6).

Gradient-like rules: same env (OrientationDiscriminationEasy-v0), same default config (hierarchical conv
+ PPO), only ``rule.name`` changes; accuracy on 1000 fresh trials must be well above chance (0.5). Budgets
per rule are part of the result: feedback alignment needs twice backprop's steps here; predictive coding
runs 5 relaxation steps per update.

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

from agents import learning_report as lr
from agents.config import parse_override, resolve_config
from agents.runs import build_components
from agents.trainer import make_vec_env, seed_everything, set_threads, train

BUDGETS = {  # rule -> (env steps, extra overrides)
    "backprop": (16384, ()),
    "feedback_alignment": (32768, ()),
    "direct_feedback_alignment": (16384, ()),
    "sign_symmetry": (16384, ()),
    "predictive_coding": (8192, ('rule.kwargs={"steps": 5}',)),
}
PERTURBATION_STEPS = 65536
PERTURBATION_SETUP = ('env.kwargs={"size": 16, "phase": 0.0}', "arch.name=mlp", "arch.mlp_hidden=[8]",
                      'rule.kwargs={"num_perturbations": 16, "sigma": 0.01, "antithetic": true}')


def _config(rule: str, steps: int, extra: tuple[str, ...]):
    return resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[parse_override(o) for o in (
        *lr.QUIET, f"train.total_steps={steps}", "run.eval_every=0", "run.eval_episodes=8", "run.seed=0",
        "run.num_threads=1", f"rule.name={rule}", *extra)])


@pytest.mark.parametrize("rule", sorted(BUDGETS))
def test_rule_trains_orientation_discrimination_through_the_trainer(rule):
    steps, extra = BUDGETS[rule]
    cfg = _config(rule, steps, extra)
    res = train(cfg)
    assert res.agent is not None and res.global_step >= steps
    assert lr._accuracy(res.agent, cfg)["score"] >= 0.9


@pytest.mark.parametrize("rule", ["node_perturbation", "weight_perturbation"])
def test_perturbation_rule_trains_a_small_agent_through_the_trainer(rule):
    cfg = _config(rule, PERTURBATION_STEPS, PERTURBATION_SETUP)
    set_threads(1)
    seed_everything(cfg.run.seed)  # the same initial weights as train() builds
    envs = make_vec_env(cfg.env.id, 1, cfg.env.kwargs)
    untrained, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
    envs.close()
    res = train(cfg)
    assert res.global_step >= PERTURBATION_STEPS
    before, after = lr._accuracy(untrained, cfg)["score"], lr._accuracy(res.agent, cfg)["score"]
    assert abs(before - 0.5) < 0.05  # chance: 1000 trials
    assert after >= 0.75
