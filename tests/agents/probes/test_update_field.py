"""The Fig. 3 probe (agents/probes/update_field.py): the orthogonal fraction of a rule's mean update and the
antisymmetry of its Jacobian, on known fields and on the registered rules."""

import math

import pytest
import torch
from torch import nn

from agents.experiments.fig3 import mlp_problem, rule_figures
from agents.probes.update_field import (
    along_training,
    antisymmetry,
    antisymmetry_of,
    orthogonal_fraction_of,
)
from agents.rules import get_rule


def test_orthogonal_fraction_of_known_vectors():
    g = torch.tensor([1.0, 0.0])
    assert orthogonal_fraction_of(-g, g)["orthogonal_fraction"] == 0.0
    assert orthogonal_fraction_of(-g, g)["cos_to_descent"] == 1.0
    assert orthogonal_fraction_of(torch.tensor([0.0, 2.0]), g)["orthogonal_fraction"] == 1.0
    r = orthogonal_fraction_of(torch.tensor([-1.0, 1.0]), g)
    assert r["orthogonal_fraction"] == pytest.approx(0.5) and r["angle_deg"] == pytest.approx(45.0)
    assert math.isnan(orthogonal_fraction_of(torch.zeros(2), g)["orthogonal_fraction"])


def test_antisymmetry_of_linear_fields(audit):
    """u = M theta with M = S + K: a = ||K||_F / ||S||_F; symmetric 0, antisymmetric inf."""
    gen = torch.Generator().manual_seed(audit.seed(0))
    a = torch.randn(6, 6, generator=gen, dtype=torch.float64)
    s, k = (a + a.T) / 2, 0.5 * (a - a.T) / 2
    theta = torch.randn(6, generator=gen, dtype=torch.float64)
    assert antisymmetry_of(lambda t: s @ t, theta, probes=4)["antisymmetry"] < 1e-8
    assert antisymmetry_of(lambda t: k @ t, theta, probes=4)["antisymmetry"] > 1e6  # inf up to rounding
    exact = float(k.norm() / s.norm())
    est = antisymmetry_of(lambda t: (s + k) @ t, theta, probes=256, seed=audit.seed(0))["antisymmetry"]
    audit.check("update_field_linear_estimate", {"relative_error": abs(est / exact - 1.0)})
    with pytest.raises(ValueError, match="probes"):
        antisymmetry_of(lambda t: t, theta, probes=0)


def test_fig3_rules_backprop_and_hebb_are_gradients_fa_sign_symmetry_and_oja_are_not(audit):
    seed = audit.seed(0)
    f = {r: rule_figures(r, seed) for r in ("backprop", "feedback_alignment", "sign_symmetry", "hebbian", "oja")}
    audit.check("fig3_rules", {
        "backprop_orthogonal_fraction": f["backprop"]["orthogonal_fraction"],
        "backprop_antisymmetry": f["backprop"]["antisymmetry"],
        "hebbian_hidden_antisymmetry": f["hebbian"]["antisymmetry_hidden"],
        "feedback_alignment_antisymmetry": f["feedback_alignment"]["antisymmetry"],
        "sign_symmetry_antisymmetry": f["sign_symmetry"]["antisymmetry"],
        "oja_hidden_antisymmetry": f["oja"]["antisymmetry_hidden"],
        "hebbian_orthogonal_fraction": f["hebbian"]["orthogonal_fraction"],
    })


@pytest.mark.parametrize("name", ["node_perturbation", "weight_perturbation"])
def test_perturbation_mean_update_is_symmetric_in_expectation(name, audit):
    """Their mean update is the gradient: a shrinks like 1/sqrt(perturbations) (common random numbers)."""
    seed = audit.seed(0)
    a = {}
    for k in (64, 1024):
        model, x, y = mlp_problem(seed)
        rule = get_rule(name, num_perturbations=k, sigma=1e-4, antithetic=True)
        model = rule.prepare(model)
        a[k] = antisymmetry(model, rule, lambda m=model, x=x, y=y: nn.functional.cross_entropy(m(x), y), probes=4,
                            seed=seed)["antisymmetry"]
    audit.check(f"fig3_{name}", {"antisymmetry_1024": a[1024], "ratio_1024_to_64": a[1024] / a[64]})


def test_along_training_records_loss_and_both_figures():
    model, x, y = mlp_problem(0)
    rule = get_rule("backprop")
    model = rule.prepare(model)
    rec = along_training(model, rule, lambda: nn.functional.cross_entropy(model(x), y), steps=20, lr=0.5,
                         every=10, probes=2)
    assert [r["step"] for r in rec] == [0.0, 10.0, 20.0]
    assert rec[-1]["loss"] < rec[0]["loss"]
    for r in rec:  # backprop's field is a gradient: the Hessian is symmetric (finite differences: ~1e-8)
        assert r["orthogonal_fraction"] < 1e-12 and r["antisymmetry"] < 1e-5
