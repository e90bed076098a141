"""Equilibrium propagation and contrastive Hebbian learning (agents/rules/equilibrium.py): the bias of EP's
update against the true gradient at the free equilibrium falls like beta one-sided and beta^2 symmetric,
CHL is biased, EP trains the digits MLP close to backprop; unsupported models and options are named."""

import math

import pytest
import torch
from torch import nn

from agents.experiments.fig2 import make_mlp
from agents.rules import get_rule
from agents.rules.equilibrium import EnergyMLP
from tests.agents.rules.digits import train_digits

BETAS = (0.2, 0.1, 0.05, 0.025)
EXACT = {"steps": 100000, "tol": 1e-13}  # relaxed to (float64) convergence


def _small(seed: int):
    """A 6-12-3 tanh net, 16 samples, a per-sample squared error (float64)."""
    net = make_mlp([6, 12, 3], seed).double()
    g = torch.Generator().manual_seed(seed + 1000)
    x = torch.randn(16, 6, generator=g, dtype=torch.float64)
    t = torch.randn(16, 3, generator=g, dtype=torch.float64)
    return net, x, t


def _loss(m, x, t):
    return lambda: 0.5 * ((m(x) - t) ** 2).sum(1).mean()


def _update(name: str, net: nn.Module, x, t, **options) -> tuple[torch.Tensor, nn.Module]:
    rule = get_rule(name, **options, **EXACT)
    m = rule.prepare(net)
    m.zero_grad(set_to_none=True)
    rule.compute_grads(m, _loss(m, x, t))
    return torch.cat([p.grad.flatten() for p in m.parameters()]).clone(), m


def _finite_differences(m: nn.Module, x, t, h: float = 1e-5) -> torch.Tensor:
    """Central differences of the loss at the re-relaxed free equilibrium (the prepared model's forward)."""
    out = []
    with torch.no_grad():
        for p in m.parameters():
            flat = p.view(-1)
            for i in range(flat.numel()):
                v = float(flat[i])
                flat[i] = v + h
                up = float(_loss(m, x, t)())
                flat[i] = v - h
                down = float(_loss(m, x, t)())
                flat[i] = v
                out.append((up - down) / (2 * h))
    return torch.tensor(out, dtype=torch.float64)


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    c = float(a @ b / (a.norm() * b.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def _slope(angles: list[float]) -> float:
    return (math.log(angles[0]) - math.log(angles[-1])) / (math.log(BETAS[0]) - math.log(BETAS[-1]))


def test_ep_bias_falls_like_beta_one_sided_and_beta_squared_symmetric_and_chl_is_biased(audit):
    net, x, t = _small(audit.seed(0))
    m = get_rule("equilibrium_propagation", **EXACT).prepare(net)
    m._ep_steps, m._ep_tol = EXACT["steps"], EXACT["tol"]
    true = _finite_differences(m, x, t)
    m.zero_grad(set_to_none=True)
    _loss(m, x, t)().backward()  # backprop through the unrolled relaxation: the same gradient
    unrolled = torch.cat([p.grad.flatten() for p in m.parameters()])
    one = [_angle(_update("equilibrium_propagation", net, x, t, beta=b)[0], true) for b in BETAS]
    sym = [_angle(_update("equilibrium_propagation", net, x, t, beta=b, symmetric=True)[0], true) for b in BETAS]
    chl = _angle(_update("contrastive_hebbian", net, x, t)[0], true)
    print(f"one-sided {one}\nsymmetric {sym}\nCHL {chl}")
    audit.check("ep_beta_slopes", {
        "unrolled_vs_finite_differences_deg": _angle(unrolled, true),
        "one_sided_slope_off_one": abs(_slope(one) - 1), "symmetric_slope_off_two": abs(_slope(sym) - 2),
        "symmetric_over_one_sided_at_smallest_beta": sym[-1] / one[-1], "chl_angle_deg": chl})


def _train(name: str, run_seed: int, epochs: int = 8, **options) -> float:
    return train_digits(name, run_seed, epochs, **options)[1]


def test_ep_trains_the_digits_mlp_within_a_few_points_of_backprop(audit):
    seed = audit.seed(0)
    bp = _train("backprop", seed)
    ep = _train("equilibrium_propagation", seed, beta=0.1, symmetric=True, steps=30)
    print(f"digits 64-32-10, 8 epochs, Adam 3e-3: backprop {bp:.3f}, equilibrium propagation {ep:.3f}")
    audit.check("ep_digits", {"backprop_accuracy": bp, "ep_accuracy": ep, "ep_minus_backprop": ep - bp})


def test_prepared_model_keeps_names_and_its_forward_is_the_free_equilibrium():
    net, x, _ = _small(0)
    names = [n for n, _ in net.named_parameters()]
    m = get_rule("contrastive_hebbian", steps=500, tol=1e-12).prepare(net)
    assert isinstance(m, EnergyMLP) and [n for n, _ in m.named_parameters()] == names
    assert m.hidden1.weight is net.hidden1.weight
    with torch.no_grad():
        out = m(x)
        r1 = torch.tanh(m.hidden1(x) + out @ m.output.weight)  # hidden rates with top-down feedback
        assert torch.allclose(out, m.output(r1), atol=1e-10)  # a fixed point
        assert not torch.allclose(out, net(x), atol=1e-3)  # ... that differs from the feed-forward pass


@pytest.mark.parametrize(("model", "word"), [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 2)), "Conv2d"),
    (nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), "ReLU"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh()), "end with an nn.Linear"),
    (nn.Linear(3, 2), "nn.Sequential"),
])
@pytest.mark.parametrize("rule", ["equilibrium_propagation", "contrastive_hebbian"])
def test_unsupported_models_are_named(rule, model, word):
    with pytest.raises(ValueError, match=word):
        get_rule(rule).prepare(model)


@pytest.mark.parametrize(("opts", "word"), [({"beta": 0}, "beta"), ({"symmetric": 1}, "symmetric"),
                                            ({"steps": 0}, "steps"), ({"tol": -1.0}, "tol"),
                                            ({"step_size": 1.5}, "step_size")])
def test_bad_options_are_named(opts, word):
    with pytest.raises(ValueError, match=word):
        get_rule("equilibrium_propagation", **opts)


def test_a_large_negative_nudge_diverges_and_is_raised():
    net, x, t = _small(0)
    rule = get_rule("equilibrium_propagation", beta=4.0, symmetric=True, steps=2000)
    m = rule.prepare(net)
    with pytest.raises(FloatingPointError, match="diverged"):
        rule.compute_grads(m, _loss(m, x, t))


def test_the_closure_must_call_the_prepared_model_once():
    net, x, t = _small(0)
    rule = get_rule("equilibrium_propagation")
    m = rule.prepare(net)
    with pytest.raises(RuntimeError, match="exactly once"):
        rule.compute_grads(m, lambda: _loss(m, x, t)() + _loss(m, x, t)())
    with pytest.raises(RuntimeError, match="prepare"):
        rule.compute_grads(make_mlp([6, 12, 3]).double(), _loss(m, x, t))
