"""Every gradient-like learning rule trains an agent through the normal trainer (issue 8, check 6).

Same env (OrientationDiscriminationEasy-v0), same default config (hierarchical conv + PPO), only
``rule.name`` changes; accuracy on 1000 fresh trials must be well above chance (0.5). Budgets per rule
are part of the result: feedback alignment needs twice backprop's steps here; predictive coding runs 5
relaxation steps per update.
"""

import pytest

from agents import learning_report as lr
from agents.config import parse_override, resolve_config
from agents.trainer import train

BUDGETS = {  # rule -> (env steps, extra overrides)
    "backprop": (16384, ()),
    "feedback_alignment": (32768, ()),
    "direct_feedback_alignment": (16384, ()),
    "sign_symmetry": (16384, ()),
    "predictive_coding": (8192, ('rule.kwargs={"steps": 5}',)),
}


@pytest.mark.parametrize("rule", sorted(BUDGETS))
def test_rule_trains_orientation_discrimination_through_the_trainer(rule):
    steps, extra = BUDGETS[rule]
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[parse_override(o) for o in (
        *lr.QUIET, f"train.total_steps={steps}", "run.eval_every=0", "run.eval_episodes=8", "run.seed=0",
        "run.num_threads=1", f"rule.name={rule}", *extra)])
    res = train(cfg)
    assert res.agent is not None and res.global_step >= steps
    assert lr._accuracy(res.agent, cfg)["score"] >= 0.9
