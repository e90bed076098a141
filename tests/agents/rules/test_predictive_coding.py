"""Predictive coding (Whittington & Bogacz 2017): its update against backprop's gradient (anchors of
agents.md, 64-64-64-10 tanh on digits, relaxation rate 0.1), generic layers, and options."""

import copy

import pytest
import torch
from torch import nn

from agents.experiments.fig2 import digits_data
from agents.rules import get_rule


def _net() -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for a, b in ((64, 64), (64, 64), (64, 64)):
        layers += [nn.Linear(a, b), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(64, 10)).double()


@pytest.fixture(scope="module")
def batch():
    x, y, _, _ = digits_data(0)
    return x[:64].double(), nn.functional.one_hot(y[:64], 10).double()


def _cosine_to_backprop(batch, **options) -> float:
    x, t = batch
    model = _net()

    def closure(m):
        return lambda: 0.5 * ((m(x) - t) ** 2).sum(1).mean()

    ref = copy.deepcopy(model)
    closure(ref)().backward()
    g_bp = torch.cat([p.grad.flatten() for p in ref.parameters()])
    rule = get_rule("predictive_coding", **options)
    model = rule.prepare(model)
    metrics = rule.compute_grads(model, closure(model))
    assert metrics["loss"] == pytest.approx(float(closure(ref)().detach()))
    g = torch.cat([p.grad.flatten() for p in model.parameters()])
    return float(nn.functional.cosine_similarity(g, g_bp, 0))


def test_fixed_prediction_assumption_gives_backprop(batch):
    assert _cosine_to_backprop(batch, steps=100, fixed_prediction=True) > 0.9999  # anchor: 1.000000


def test_weak_output_clamping_approaches_backprop(batch):
    assert _cosine_to_backprop(batch, steps=100, output_precision=0.01) > 0.999  # anchor: 0.9999


def test_equal_precisions_cosine_rises_with_relaxation_steps(batch):
    c0, c10, c50 = (_cosine_to_backprop(batch, steps=s) for s in (0, 10, 50))
    assert c0 < c10 < c50  # anchor: 0.55, 0.86, 0.93
    assert c50 > 0.9


def test_recurrent_cell_and_unused_head_under_fixed_prediction():
    """One value node per call of a cell; a head the loss ignores gets no update."""

    class Agent(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc, self.cell = nn.Linear(3, 5), nn.LSTMCell(5, 6)
            self.pi, self.value = nn.Linear(6, 2), nn.Linear(6, 1)

        def forward(self, xs):
            h, outs = None, []
            for x in xs:
                h = self.cell(torch.tanh(self.enc(x)), h)
                outs.append(self.pi(h[0]))
                self.value(h[0])  # computed, unused by the loss
            return torch.cat(outs)

    torch.manual_seed(0)
    model = Agent().double()
    xs, t = torch.randn(4, 3, 3, dtype=torch.float64), torch.randn(12, 2, dtype=torch.float64)
    ref = copy.deepcopy(model)
    nn.functional.mse_loss(ref(xs), t).backward()
    rule = get_rule("predictive_coding", steps=200, fixed_prediction=True)
    rule.prepare(model)
    for _ in range(2):  # the second call reuses the cached output layers
        model.zero_grad()
        rule.compute_grads(model, lambda: nn.functional.mse_loss(model(xs), t))
        for (name, p), q in zip(model.named_parameters(), ref.parameters(), strict=True):
            if name.startswith("value"):
                assert p.grad is None or float(p.grad.abs().max()) == 0.0
            else:
                assert float(nn.functional.cosine_similarity(p.grad.flatten(), q.grad.flatten(), 0)) > 0.999


@pytest.mark.parametrize(("opts", "word"), [({"steps": -1}, "steps"), ({"rate": 0}, "rate"),
                                            ({"output_precision": -1.0}, "output_precision"),
                                            ({"fixed_prediction": "yes"}, "fixed_prediction")])
def test_bad_options_are_named(opts, word):
    with pytest.raises(ValueError, match=word):
        get_rule("predictive_coding", **opts)
