"""Node and weight perturbation: single-sample cosine statistics (Werfel et al. 2005), unbiasedness,
options, exact restoration of the weights, and recurrent cells called many times."""

import math

import pytest
import torch
from torch import nn

from agents.rules import get_rule


def expected_abs_cos(d: int) -> float:
    """E|cos| between a fixed vector and a random Gaussian direction in d dimensions."""
    return math.exp(math.lgamma(d / 2) - math.lgamma((d + 1) / 2)) / math.sqrt(math.pi)


def _cos(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(nn.functional.cosine_similarity(a.flatten(), b.flatten(), 0))


def _flat_grad(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in model.parameters()])


def mean_abs_cos(rule_name: str, n_in: int, n_out: int, bias: bool, trials: int = 300, seed: int = 0) -> float:
    """Mean |cos| of single-sample estimates (one input, one perturbation) to the true gradient."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    net = nn.Linear(n_in, n_out, bias=bias).double()
    rule = get_rule(rule_name, sigma=1e-4, seed=seed)
    rule.prepare(net)
    total = 0.0
    for _ in range(trials):
        x = torch.randn(1, n_in, generator=g, dtype=torch.float64)
        t = torch.randn(1, n_out, generator=g, dtype=torch.float64)

        def closure(x=x, t=t):
            return 0.5 * ((net(x) - t) ** 2).sum()

        net.zero_grad()
        closure().backward()
        true = _flat_grad(net)
        net.zero_grad()
        rule.compute_grads(net, closure)
        total += abs(_cos(_flat_grad(net), true))
    return total / trials


@pytest.mark.parametrize(("n_in", "n_out"), [(8, 16), (64, 16), (8, 32)])
def test_node_perturbation_cosine_matches_theory_with_d_outputs(n_in, n_out, audit):
    expected = expected_abs_cos(n_out)  # D = number of output units, whatever the number of inputs
    got = mean_abs_cos("node_perturbation", n_in, n_out, bias=True, seed=audit.seed(0))
    audit.check(f"node_perturbation_cosine_{n_in}_{n_out}", {"relative_error": abs(got - expected) / expected})


def test_node_perturbation_cosine_does_not_depend_on_number_of_inputs(audit):
    few = mean_abs_cos("node_perturbation", 4, 16, bias=True, trials=400, seed=audit.seed(1))
    many = mean_abs_cos("node_perturbation", 128, 16, bias=True, trials=400, seed=audit.seed(1))
    audit.check("node_perturbation_cosine_inputs", {"relative_difference": abs(few - many) / expected_abs_cos(16)})


@pytest.mark.parametrize(("n_in", "n_out"), [(4, 4), (8, 4), (16, 8)])
def test_weight_perturbation_cosine_matches_theory_with_d_weights(n_in, n_out, audit):
    expected = expected_abs_cos(n_in * n_out)  # D = inputs x outputs
    got = mean_abs_cos("weight_perturbation", n_in, n_out, bias=False, seed=audit.seed(0))
    audit.check(f"weight_perturbation_cosine_{n_in}_{n_out}", {"relative_error": abs(got - expected) / expected})


def test_exact_formula_values():
    assert expected_abs_cos(2) == pytest.approx(2 / math.pi)
    assert expected_abs_cos(8) == pytest.approx(0.291, abs=1e-3)
    assert expected_abs_cos(400) == pytest.approx(math.sqrt(2 / (math.pi * 400)), rel=0.01)


@pytest.mark.parametrize("name", ["node_perturbation", "weight_perturbation"])
def test_average_of_many_estimates_converges_to_the_gradient(name, audit):
    torch.manual_seed(audit.seed(0))
    net = nn.Sequential(nn.Linear(6, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    x, t = torch.randn(10, 6, dtype=torch.float64), torch.randn(10, 3, dtype=torch.float64)

    def closure():
        return 0.5 * ((net(x) - t) ** 2).sum(1).mean()

    net.zero_grad()
    closure().backward()
    true = _flat_grad(net)
    rule = get_rule(name, sigma=1e-4, num_perturbations=3000, antithetic=True, seed=audit.seed(0))
    rule.prepare(net)
    net.zero_grad()
    metrics = rule.compute_grads(net, closure)
    assert metrics["loss"] == pytest.approx(float(closure().detach()))
    audit.check(f"{name}_average", {"cosine": _cos(_flat_grad(net), true),
                                    "norm_ratio_off_one": abs(float(_flat_grad(net).norm() / true.norm()) - 1.0)})


def test_weight_perturbation_restores_weights_exactly_and_accumulates_grads():
    torch.manual_seed(0)
    net = nn.Linear(5, 3)
    before = [p.detach().clone() for p in net.parameters()]
    rule = get_rule("weight_perturbation", sigma=0.1, num_perturbations=4, antithetic=True)
    rule.prepare(net)
    x = torch.randn(4, 5)
    rule.compute_grads(net, lambda: net(x).pow(2).mean())
    first = _flat_grad(net).clone()
    rule.compute_grads(net, lambda: net(x).pow(2).mean())
    for a, b in zip(before, net.parameters(), strict=True):
        assert torch.equal(a, b.detach())
    assert not torch.allclose(_flat_grad(net), first)  # the second call added to .grad, like backward


def test_node_perturbation_on_a_recurrent_cell_perturbs_every_step(audit):
    torch.manual_seed(audit.seed(0))

    class Loop(nn.Module):
        def __init__(self):
            super().__init__()
            self.cell, self.out = nn.GRUCell(3, 4), nn.Linear(4, 2)

        def forward(self, xs):
            h = None
            for x in xs:
                h = self.cell(x, h)
            return self.out(h)

    net = Loop().double()
    xs, t = torch.randn(5, 6, 3, dtype=torch.float64), torch.randn(6, 2, dtype=torch.float64)

    def closure():
        return 0.5 * ((net(xs) - t) ** 2).sum(1).mean()

    net.zero_grad()
    closure().backward()
    true = _flat_grad(net)
    rule = get_rule("node_perturbation", sigma=1e-4, num_perturbations=3000, antithetic=True, seed=audit.seed(0))
    rule.prepare(net)
    net.zero_grad()
    rule.compute_grads(net, closure)
    audit.check("node_perturbation_recurrent", {"cosine": _cos(_flat_grad(net), true)})


@pytest.mark.parametrize(("opts", "word"), [({"sigma": 0.0}, "sigma"), ({"num_perturbations": 0}, "num_perturbations"),
                                            ({"sigma": "big"}, "sigma")])
def test_bad_options_are_named(opts, word):
    with pytest.raises(ValueError, match=word):
        get_rule("node_perturbation", **opts)


def test_closure_must_return_a_scalar():
    net = nn.Linear(3, 2)
    rule = get_rule("weight_perturbation")
    rule.prepare(net)
    with pytest.raises(ValueError, match="scalar"):
        rule.compute_grads(net, lambda: net(torch.ones(4, 3)))
