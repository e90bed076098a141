"""The credit-signal probe (agents/probes/credit.py): each rule's signal is what its update uses, exactly."""

import pytest
import torch
from torch import nn

from agents.probes.credit import credit_signals, gated_credit, hidden_rates, selected_rpe_loss, tags
from agents.rules import get_rule


def _net(seed: int = 0, sizes=(5, 7, 3)) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers).double()


def _trials(n: int = 9, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 5, generator=g, dtype=torch.float64)
    actions = torch.randint(0, 3, (n,), generator=g)
    rewards = torch.randint(0, 2, (n,), generator=g).double()
    return x, actions, rewards


def test_agrel_changes_only_tagged_units_signed_by_rpe_times_tag_trial_by_trial():
    """Fig. 5a by construction: AGREL's update of the hidden layer on one trial is RPE x tag x presynaptic
    rate; units without a tag (no feedback from the selected output: silent ReLU units) do not change."""
    net, (x, actions, rewards) = _net(), _trials()
    rule = get_rule("agrel")
    m = rule.prepare(net)
    untagged_seen = 0
    for i in range(len(x)):
        xi, ai, ri = x[i : i + 1], actions[i : i + 1], rewards[i : i + 1]
        rule.set_outcome(ai, ri)
        m.zero_grad(set_to_none=True)
        rule.compute_grads(m, lambda xi=xi: m(xi).sum())
        update = -m[0].weight.grad  # (hidden, inputs): the weight change, up to the learning rate
        tag = tags(m, xi, ai)[0]
        rpe = float(ri - m(xi).detach()[0, ai])
        assert torch.allclose(update, rpe * tag[:, None] * xi, rtol=1e-12, atol=1e-15)
        assert torch.equal(update[tag == 0], torch.zeros_like(update[tag == 0]))
        untagged_seen += int((tag == 0).sum())
        both = (update != 0)
        assert torch.equal(torch.sign(update[both]), torch.sign(rpe * tag[:, None] * xi)[both])
        # the output layer: only the selected output's row
        out_update = -m[2].weight.grad
        assert torch.equal(out_update[torch.arange(3) != ai], torch.zeros(2, 7, dtype=torch.float64))
    assert untagged_seen > 0  # some units were silent, so confinement was tested


def test_agrel_credit_is_backprops_for_the_selected_outputs_rpe_and_its_gated_form_is_its_update():
    net, (x, actions, rewards) = _net(2), _trials(seed=3)
    loss = selected_rpe_loss(actions, rewards)
    agrel, bp = get_rule("agrel"), get_rule("backprop")
    m = agrel.prepare(net)
    c_agrel = credit_signals(m, agrel, x, loss)
    c_bp = credit_signals(m, bp, x, loss)
    assert torch.equal(c_agrel, c_bp)
    # by hand: RPE x the selected output's forward weights
    q = m(x).detach()
    rpe = rewards - q.gather(1, actions[:, None]).squeeze(1)
    assert torch.allclose(c_agrel, rpe[:, None] * m[2].weight.detach()[actions], rtol=1e-12, atol=1e-15)
    # the mean of (gated credit) x (input) over trials is minus AGREL's gradient of the hidden weights
    agrel.set_outcome(actions, rewards)
    m.zero_grad(set_to_none=True)
    agrel.compute_grads(m, lambda: m(x).sum())
    g = gated_credit(m, agrel, x, loss)
    assert torch.allclose(-m[0].weight.grad, g.T @ x / len(x), rtol=1e-10, atol=1e-14)


def test_feedback_alignment_credit_is_b_transpose_e_not_the_gradient():
    net, (x, actions, rewards) = _net(4), _trials(seed=5)
    loss = selected_rpe_loss(actions, rewards)
    fa = get_rule("feedback_alignment", seed=0)
    m = fa.prepare(net)
    c = credit_signals(m, fa, x, loss)
    q = m(x).detach()
    e = torch.zeros_like(q)
    e[torch.arange(len(x)), actions] = q.gather(1, actions[:, None]).squeeze(1) - rewards  # dc/dQ
    assert torch.allclose(c, -(e @ m[2].weight_feedback), rtol=1e-12, atol=1e-15)
    exact = -(e @ m[2].weight.detach())  # backprop's credit on the same weights
    assert float((c - exact).norm()) > 0.5 * float(exact.norm())


def test_dendritic_apical_signal_approaches_backprops_credit_with_aligned_top_down_and_small_beta():
    """The dendritic rule's apical potential / beta at the nudged fixed point is backprop's credit in the
    limit (aligned top-down weights, perfect self-prediction, beta -> 0)."""
    net, (x, actions, rewards) = _net(6), _trials(seed=7)
    loss = selected_rpe_loss(actions, rewards)
    bp = credit_signals(net, get_rule("backprop"), x, loss)
    errs = []
    for beta in (0.1, 0.01, 0.001):
        rule = get_rule("dendritic_error", beta=beta, top_down="aligned", self_prediction_steps=0)
        m = rule.prepare(_net(6))
        m.perfect_self_prediction()
        c = credit_signals(m, rule, x, loss)
        errs.append(float((c - bp).norm() / bp.norm()))
    assert errs[2] < 0.01 and errs[0] > errs[1] > errs[2], errs


def test_hidden_rates_and_bad_input():
    net, (x, actions, rewards) = _net(), _trials()
    u, h = hidden_rates(net, x)
    assert torch.equal(h, torch.relu(u)) and torch.allclose(u, net[0](x))
    with pytest.raises(ValueError, match="layer=1 must be a hidden layer index in \\[0, 0\\]"):
        credit_signals(net, get_rule("backprop"), x, selected_rpe_loss(actions, rewards), layer=1)
    with pytest.raises(ValueError, match="loss must return one loss per trial, shape \\(9,\\); got \\(\\)"):
        credit_signals(net, get_rule("backprop"), x, lambda out: out.sum())
    with pytest.raises(ValueError, match="must be an nn.Sequential MLP"):
        credit_signals(nn.Linear(5, 3), get_rule("backprop"), x, selected_rpe_loss(actions, rewards))
    with pytest.raises(ValueError, match="reads the model rule.prepare returned"):
        credit_signals(net, get_rule("dendritic_error"), x, selected_rpe_loss(actions, rewards))
