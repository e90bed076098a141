"""Dendritic error learning (agents/rules/dendritic.py): self-prediction silences the apical compartments at
rest, the update's angle to backprop falls as self-prediction improves, with aligned top-down weights and
perfect self-prediction it is backprop's gradient up to O(beta), and it trains the digits MLP; unsupported
models and bad options are named."""

import copy
import math

import pytest
import torch
from torch import nn

from agents.experiments.fig2 import digits_data, make_mlp
from agents.rules import get_rule
from agents.rules.dendritic import DendriticMLP
from tests.agents.rules.digits import train_digits

EXACT = {"steps": 200, "tol": 1e-12, "interneuron_lr": 0.0}  # relaxed to (float64) convergence, frozen interneurons
SELF_PREDICTION = (100, 300, 1000, 3000)
BETAS = (0.1, 0.01, 0.001)


def _small(seed: int):
    """A 6-12-10-3 tanh net, 16 samples, a per-sample squared error (float64)."""
    net = make_mlp([6, 12, 10, 3], seed).double()
    g = torch.Generator().manual_seed(seed + 1000)
    x = torch.randn(16, 6, generator=g, dtype=torch.float64)
    t = torch.randn(16, 3, generator=g, dtype=torch.float64)
    return net, x, t


def _loss(m, x, t):
    return lambda: 0.5 * ((m(x) - t) ** 2).sum(1).mean()


def _flat(m: nn.Module) -> torch.Tensor:
    return torch.cat([p.grad.flatten() for p in m.parameters()]).clone()


def _backprop(net: nn.Module, x, t) -> torch.Tensor:
    m = copy.deepcopy(net)
    m.zero_grad(set_to_none=True)
    _loss(m, x, t)().backward()
    return _flat(m)


def _update(rule, m: nn.Module, x, t) -> torch.Tensor:
    m.zero_grad(set_to_none=True)
    rule.compute_grads(m, _loss(m, x, t))
    return _flat(m)


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    c = float(a @ b / (a.norm() * b.norm()))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def test_self_prediction_cancels_the_top_down_input_at_rest(audit):
    seed = audit.seed(0)
    xtr = digits_data(seed)[0][:256]  # the task's inputs: self-prediction learnt on random N(0, 1) inputs
    untrained = get_rule("dendritic_error", self_prediction_steps=0, seed=seed).prepare(make_mlp([64, 32, 10], seed))
    trained = get_rule("dendritic_error", seed=seed).prepare(make_mlp([64, 32, 10], seed))
    assert isinstance(trained, DendriticMLP)
    before, after = untrained.apical_mismatch(xtr), trained.apical_mismatch(xtr)
    print(f"apical mismatch at rest: {before:.3g} untrained, {after:.3g} after 1000 self-prediction steps")
    audit.check("dendritic_self_prediction", {"untrained_mismatch": before, "trained_mismatch": after})


def test_angle_to_backprop_falls_as_self_prediction_improves(audit):
    net, x, t = _small(audit.seed(0))
    bp = _backprop(net, x, t)
    mismatch, angles = [], []
    for steps in SELF_PREDICTION:
        rule = get_rule("dendritic_error", beta=0.1, top_down="aligned", self_prediction_steps=steps, **EXACT)
        m = rule.prepare(copy.deepcopy(net))
        mismatch.append(m.apical_mismatch(x))
        angles.append(_angle(_update(rule, m, x, t), bp))
    print(f"self-prediction steps {SELF_PREDICTION}: mismatch {mismatch}, angle to backprop {angles}")
    assert all(a > b for a, b in zip(mismatch, mismatch[1:], strict=False))  # the knob: more steps, better
    audit.check("dendritic_angle_vs_self_prediction", {
        "min_angle_drop_deg": min(a - b for a, b in zip(angles, angles[1:], strict=False)),
        "best_over_worst_angle": angles[-1] / angles[0], "worst_angle_deg": angles[0]})


def test_aligned_top_down_and_perfect_self_prediction_give_backprop_as_beta_shrinks(audit):
    net, x, t = _small(audit.seed(0))
    bp = _backprop(net, x, t)
    angles = []
    for beta in BETAS:
        rule = get_rule("dendritic_error", beta=beta, top_down="aligned", self_prediction_steps=0, **EXACT)
        m = rule.prepare(copy.deepcopy(net))
        m.perfect_self_prediction()
        assert m.apical_mismatch(x) < 1e-20
        u = _update(rule, m, x, t)
        angles.append(_angle(u, bp))
    print(f"beta {BETAS}: angle to backprop {angles} deg; norm ratio {float(u.norm() / bp.norm()):.4f}")
    slope = math.log(angles[0] / angles[-1]) / math.log(BETAS[0] / BETAS[-1])
    audit.check("dendritic_backprop_limit", {"angle_at_smallest_beta_deg": angles[-1], "slope_off_one": abs(slope - 1),
                                             "norm_ratio_off_one": abs(float(u.norm() / bp.norm()) - 1)})


def _train(name: str, seed: int, options: dict, epochs: int = 8) -> float:
    return train_digits(name, seed, epochs, **options)[1]


def test_dendritic_error_trains_the_digits_mlp_near_backprop(audit):
    seed = audit.seed(0)
    bp = _train("backprop", seed, {})
    de = _train("dendritic_error", seed, {"seed": seed})  # the defaults: random top-down, beta 0.5
    print(f"digits 64-32-10, 8 epochs, Adam 3e-3: backprop {bp:.3f}, dendritic error {de:.3f}")
    audit.check("dendritic_digits", {"backprop_accuracy": bp, "dendritic_accuracy": de,
                                     "dendritic_minus_backprop": de - bp})


def test_prepared_model_keeps_names_and_its_forward_is_the_feedforward_pass():
    net, x, t = _small(0)
    names = [n for n, _ in net.named_parameters()]
    rule = get_rule("dendritic_error", self_prediction_steps=10)
    m = rule.prepare(copy.deepcopy(net))
    assert isinstance(m, DendriticMLP) and [n for n, _ in m.named_parameters()] == names
    assert {n for n, _ in m.named_buffers()} == {f"dend_{b}{k}" for k in (1, 2) for b in (
        "top_down", "interneuron", "interneuron_bias", "inter_apical")}
    with torch.no_grad():
        torch.testing.assert_close(m(x), net(x))
    before = m.dend_interneuron1.clone()
    metrics = rule.compute_grads(m, _loss(m, x, t))
    assert {"loss", "apical_mismatch", "dendritic_steps"} <= set(metrics)
    assert not torch.equal(before, m.dend_interneuron1)  # the interneurons keep learning in the task phase
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_relu_layers_without_bias_reach_backprop_with_perfect_self_prediction():
    _, x, t = _small(0)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 12, bias=False), nn.ReLU(), nn.Linear(12, 3, bias=False)).double()
    rule = get_rule("dendritic_error", beta=1e-4, top_down="aligned", self_prediction_steps=0, **EXACT)
    m = rule.prepare(copy.deepcopy(net))
    m.perfect_self_prediction()
    assert _angle(_update(rule, m, x, t), _backprop(net, x, t)) < 0.1


@pytest.mark.parametrize(("model", "word"), [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 2)), "Conv2d"),
    (nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2)), "LayerNorm"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh()), "end with an nn.Linear"),
    (nn.Sequential(nn.Linear(3, 2)), "hidden layer"),
    (nn.Linear(3, 2), "nn.Sequential"),
])
def test_unsupported_models_are_named(model, word):
    with pytest.raises(ValueError, match=word):
        get_rule("dendritic_error").prepare(model)


@pytest.mark.parametrize(("opts", "word"), [
    ({"beta": 0}, "beta"), ({"beta": 1.5}, "beta"), ({"top_down": "learned"}, "top_down"),
    ({"self_prediction_steps": -1}, "self_prediction_steps"), ({"self_prediction_lr": 2.5}, "self_prediction_lr"),
    ({"interneuron_lr": -0.1}, "interneuron_lr"), ({"gain": 0}, "gain"), ({"steps": 0}, "steps"),
    ({"tol": 0.0}, "tol"), ({"seed": 1.5}, "seed")])
def test_bad_options_are_named(opts, word):
    with pytest.raises(ValueError, match=word):
        get_rule("dendritic_error", **opts)


def test_a_large_apical_gain_diverges_and_is_raised():
    _, x, t = _small(0)
    net = make_mlp([6, 12, 10, 3], 0, activation=nn.ReLU).double()  # unbounded rates (tanh's stay bounded)
    rule = get_rule("dendritic_error", gain=20.0, self_prediction_steps=0, steps=200)
    m = rule.prepare(net)
    with pytest.raises(FloatingPointError, match="diverged"):
        rule.compute_grads(m, _loss(m, x, t))


def test_the_closure_must_call_the_prepared_model_once():
    net, x, t = _small(0)
    rule = get_rule("dendritic_error", self_prediction_steps=0)
    m = rule.prepare(net)
    with pytest.raises(RuntimeError, match="exactly once"):
        rule.compute_grads(m, lambda: _loss(m, x, t)() + _loss(m, x, t)())
    with pytest.raises(RuntimeError, match="prepare"):
        rule.compute_grads(make_mlp([6, 12, 3]).double(), _loss(m, x, t))
