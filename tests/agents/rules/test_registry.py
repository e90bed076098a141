"""The learning-rule registry: every table, figure and registry-wide test reads it, so adding a rule is
its file, one ``register_rule`` line and its test (the README's table is regenerated, not edited)."""


import pytest
import torch
from torch import nn

from agents.config import ConfigError, parse_override, resolve_config
from agents.experiments import fig2
from agents.rules import (
    RULES,
    LearningRule,
    Settings,
    get_rule,
    register_rule,
    registered_rules,
    rule_class,
    rules_table,
)
from agents.rules import base as rules_base
from tests import ROOT

README = ROOT / "README.md"


def test_readme_rules_table_is_the_registry_table():
    assert rules_table(RULES) in README.read_text(), "README's rules table is stale: paste `python -m agents.rules`"


@pytest.mark.parametrize("name", RULES)
def test_every_rule_describes_itself(name):
    cls = rule_class(name)
    assert cls.name == name and cls.label and cls.summary and cls.supports
    for settings in (cls.fig2, cls.supervised):
        assert settings.optimizer in ("adam", "sgd") and settings.lr > 0
        get_rule(name, **settings.options)  # the options are ones the rule accepts
    assert cls.trainer_steps > 0
    resolve_config("BrainSet/OrientationDiscriminationEasy-v0",
                   overrides=[parse_override(o) for o in cls.trainer_overrides])


class _SignSGD(LearningRule):
    """A toy rule for this test: the sign of the gradient."""

    name = "toy_sign_gradient"
    label = "sign of gradient"
    summary = "sign of the exact gradient (a test rule)"
    fig2 = Settings(optimizer="sgd", lr=0.01)

    def compute_grads(self, model, closure):
        loss = closure()
        loss.backward()
        for p in model.parameters():
            if p.grad is not None:
                p.grad.sign_()
        return {"loss": float(loss.detach())}


@pytest.fixture
def toy_rule():
    register_rule(_SignSGD)
    yield _SignSGD.name
    del rules_base._RULES[_SignSGD.name]


def test_a_new_rule_is_one_registration_away_from_every_consumer(toy_rule, tmp_path):
    assert toy_rule in registered_rules() and f"`{toy_rule}`" in rules_table()
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0",
                         overrides=[parse_override(f"rule.name={toy_rule}")])
    assert cfg.rule.name == toy_rule  # the config layer accepts it
    assert fig2.rule_settings(toy_rule) == {"options": {}, "lr": 0.01} and not fig2.stochastic(toy_rule)
    res = fig2.run_fig2(rules=[toy_rule], hidden=(8,), epochs=1, repeats=1)
    assert set(res["rules"]) == {toy_rule}
    model = nn.Linear(3, 2)
    rule = get_rule(toy_rule)
    rule.compute_grads(rule.prepare(model), lambda: model(torch.ones(4, 3)).pow(2).sum())
    assert set(model.weight.grad.unique().tolist()) <= {-1.0, 0.0, 1.0}


def test_registering_badly_is_refused():
    with pytest.raises(TypeError, match="factory"):
        register_rule("no_factory")
    with pytest.raises(TypeError, match="LearningRule"):
        register_rule(int)  # type: ignore[arg-type]

    class Nameless(LearningRule):
        pass

    with pytest.raises(ValueError, match="name"):
        register_rule(Nameless)
    with pytest.raises(ConfigError, match="rule.name"):
        resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[parse_override("rule.name=nope")])
