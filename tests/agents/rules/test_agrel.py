"""AGREL / Q-AGREL (agents/rules/agrel.py): the expected update, enumerated over the selection policy, is minus
the gradient of the policy-weighted squared RPE with pi held fixed; it is biased against the full-output squared
error; only units tagged by the selected output change, signed by RPE x tag x presynaptic activity; it trains
the digits MLP; bad models and options are named."""

import math

import gymnasium as gym
import pytest
import torch
from torch import nn

import brainset_envs  # noqa: F401
from agents.experiments.fig2 import make_mlp
from agents.rules import get_rule
from tests.agents.rules.digits import train_digits


def _small(seed: int = 0, sizes=(5, 7, 6, 4), n: int = 6):
    """A float64 tanh MLP with two hidden layers, inputs and labels."""
    net = make_mlp(list(sizes), seed).double()
    g = torch.Generator().manual_seed(seed + 100)
    x = torch.randn(n, sizes[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (n,), generator=g)
    return net, x, y


def _flat_grad(m: nn.Module) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).flatten() for p in m.parameters()])


def _update_for(rule, m, x, y, action: int) -> torch.Tensor:
    """The rule's update (minus its .grad) on one sample with the selected output forced to ``action``."""
    rule.select = lambda q: torch.full((q.shape[0],), action, dtype=torch.long)
    m.zero_grad(set_to_none=True)
    rule.compute_grads(m, lambda: nn.functional.cross_entropy(m(x), y))
    del rule.select
    return -_flat_grad(m).clone()


def _expected_update(rule, m, x, y) -> torch.Tensor:
    """Sum over every sample and every action, weighted by pi(a|x): exact, no sampling."""
    with torch.no_grad():
        pi = rule.policy(m(x))
    total = torch.zeros_like(_flat_grad(m))
    for i in range(len(x)):
        for a in range(pi.shape[1]):
            total += pi[i, a] * _update_for(rule, m, x[i:i + 1], y[i:i + 1], a)
    return total / len(x)


def _minus_grad(m, objective) -> torch.Tensor:
    m.zero_grad(set_to_none=True)
    objective().backward()
    return -_flat_grad(m).clone()


def _objectives(rule, m, x, y):
    """(policy-weighted squared RPE with pi fixed, squared error of every output) as closures."""
    r = nn.functional.one_hot(y, 4).double()

    def weighted():
        q = m(x)
        return (rule.policy(q.detach()) * (q - r) ** 2 / 2).sum(1).mean()

    return weighted, lambda: ((m(x) - r) ** 2 / 2).sum(1).mean()


def _angle(a: torch.Tensor, b: torch.Tensor) -> float:
    return math.degrees(math.acos(max(-1.0, min(1.0, float(a @ b / (a.norm() * b.norm()))))))


@pytest.mark.parametrize("epsilon", [0.02, 0.3, 1.0])
def test_expected_update_is_minus_the_gradient_of_the_policy_weighted_squared_rpe(epsilon):
    net, x, y = _small()
    rule = get_rule("agrel", epsilon=epsilon)
    m = rule.prepare(net)
    expected = _expected_update(rule, m, x, y)
    weighted, _ = _objectives(rule, m, x, y)
    target = _minus_grad(m, weighted)
    assert float((expected - target).abs().max()) <= 1e-13 * float(target.abs().max())
    assert float(target.norm()) > 0.1  # not trivially zero


def test_it_is_biased_against_the_full_output_squared_error():
    net, x, y = _small()
    rule = get_rule("agrel")
    m = rule.prepare(net)
    expected = _expected_update(rule, m, x, y)
    _, full = _objectives(rule, m, x, y)
    angle = _angle(expected, _minus_grad(m, full))
    print(f"angle of AGREL's expected update to the full-output squared-error gradient: {angle:.1f} deg")
    assert angle > 30.0  # the errors on the 3 unselected outputs are ignored (seed 0: 76.9 deg)


def test_selection_frequencies_follow_the_policy():
    rule = get_rule("agrel", epsilon=0.3, seed=3)
    q = torch.tensor([[0.5, 0.2, -0.3], [-1.0, 1.5, 0.0]], dtype=torch.float64)
    draws = rule.select(q.repeat(20000, 1)).view(20000, 2)
    freq = torch.stack([(draws == a).double().mean(0) for a in range(3)], 1)
    assert float((freq - rule.policy(q)).abs().max()) < 0.015  # binomial sd <= 0.0035
    again = get_rule("agrel", epsilon=0.3, seed=3)
    assert torch.equal(again.select(q.repeat(20000, 1)).view(20000, 2), draws)  # seeded


def test_only_units_tagged_by_the_selected_output_change_signed_by_rpe_tag_and_presynaptic_activity():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 3)).double()
    a = 1
    with torch.no_grad():
        net[2].weight[a, :2] = 0.0  # hidden units 0, 1 send the selected output nothing: never tagged
        net[0].bias[2] = -100.0  # hidden unit 2 is silent: f' = 0, not tagged
    x = torch.randn(1, 5, dtype=torch.float64)
    rule = get_rule("agrel")
    m = rule.prepare(net)
    for label in (a, 0):  # rewarded (RPE 1 - Q_a) and unrewarded (RPE -Q_a)
        y = torch.tensor([label])
        w1, w2 = net[0].weight.detach().clone(), net[2].weight.detach().clone()
        _update_for(rule, m, x, y, a)
        d1, d2 = -net[0].weight.grad, -net[2].weight.grad
        with torch.no_grad():
            h = torch.relu(net[0](x))
            rpe = float(label == a) - float(net(x)[0, a])
            tag = (net[0](x)[0] > 0).double() * w2[a]
        assert rpe != 0 and int((tag != 0).sum()) >= 3
        others = [i for i in range(3) if i != a]
        assert torch.equal(d2[others], torch.zeros_like(d2[others]))  # only the selected output's row
        assert torch.allclose(d2[a], rpe * h[0], rtol=1e-14, atol=0)
        assert torch.equal(d1[:3], torch.zeros_like(d1[:3]))  # untagged units: no change at all
        assert torch.allclose(d1, rpe * tag[:, None] * x, rtol=1e-14, atol=0)
        want = torch.sign(torch.tensor(rpe)) * torch.sign(tag)[:, None] * torch.sign(x)
        assert torch.equal(torch.sign(d1), want)  # sign(RPE x tag x presynaptic activity), unit by unit
        assert torch.equal(net[0].weight, w1)  # compute_grads only fills .grad


def _train(name: str, run_seed: int, epochs: int = 8, **options) -> float:
    return train_digits(name, run_seed, epochs, **options)[1]


def test_agrel_trains_the_digits_mlp_close_to_backprop(audit):
    seed = audit.seed(0)
    bp = _train("backprop", seed)
    ag = _train("agrel", seed, seed=seed)
    print(f"digits 64-32-10, 8 epochs, Adam 3e-3: backprop {bp:.3f}, AGREL {ag:.3f}")
    audit.check("agrel_digits", {"backprop_accuracy": bp, "agrel_accuracy": ag, "agrel_minus_backprop": ag - bp})


def _greedy_accuracy(envs, net, trials: int = 8) -> float:
    correct = 0.0
    for _ in range(trials):
        obs, _ = envs.reset()
        with torch.no_grad():
            a = net((torch.as_tensor(obs, dtype=torch.float32) - 128.0) / 128.0).argmax(1)
        _, rew, *_ = envs.step(a.numpy())
        correct += float(rew.mean())
    return correct / trials


def test_agrel_learns_orientation_discrimination_from_its_own_choices_and_rewards(audit):
    """The RL loop: the rule selects each trial's action, the environment rewards it, set_outcome hands both
    to the update (the budget of tests/agents/rules/test_on_a_task.py: 300 updates of 128 trials, Adam 3e-3)."""
    seed = audit.seed(0)
    envs = gym.make_vec("BrainSet/OrientationDiscriminationEasy-v0", num_envs=128,
                        vectorization_mode="vector_entry_point", size=16)
    torch.manual_seed(seed)
    rule = get_rule("agrel", seed=seed)
    net = rule.prepare(nn.Sequential(nn.Flatten(), nn.Linear(256, 32), nn.Tanh(), nn.Linear(32, 2)))
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    envs.reset(seed=seed)
    before = _greedy_accuracy(envs, net)
    for _ in range(300):
        obs, _ = envs.reset()
        x = (torch.as_tensor(obs, dtype=torch.float32) - 128.0) / 128.0
        with torch.no_grad():
            action = rule.select(net(x))
        _, reward, terminated, _, _ = envs.step(action.numpy())
        assert terminated.all()  # one trial per episode: a contextual bandit
        rule.set_outcome(action, torch.as_tensor(reward, dtype=torch.float32))
        opt.zero_grad(set_to_none=True)
        metrics = rule.compute_grads(net, lambda x=x: net(x).sum())  # the closure only runs the model
        assert metrics["agrel_reward"] == pytest.approx(float(reward.mean()))
        opt.step()
    after = _greedy_accuracy(envs, net)
    envs.close()
    print(f"orientation discrimination, AGREL's own choices: greedy accuracy {before:.3f} -> {after:.3f}")
    audit.check("agrel_bandit", {"untrained_off_chance": abs(before - 0.5), "accuracy": after})


def test_set_outcome_sets_the_action_and_reward_of_the_next_update_only():
    net, x, y = _small()
    rule = get_rule("agrel")
    m = rule.prepare(net)
    loss = lambda: nn.functional.cross_entropy(m(x), y)  # noqa: E731
    action, reward = torch.tensor([0, 1, 2, 3, 0, 1]), torch.tensor([1.0, 0.0, 0.5, 1.0, -1.0, 0.0])
    rule.set_outcome(action, reward)
    m.zero_grad(set_to_none=True)
    rule.compute_grads(m, loss)
    got = _flat_grad(m).clone()

    def selected():  # the squared RPE of the given actions, with the given rewards
        return ((m(x).gather(1, action[:, None]).squeeze(1) - reward.double()) ** 2 / 2).mean()

    assert torch.allclose(got, -_minus_grad(m, selected), rtol=1e-12, atol=1e-15)
    assert rule._outcome is None  # used once: the next update selects again
    with pytest.raises(ValueError, match="one action in"):
        rule.set_outcome(torch.tensor([0, 4, 0, 0, 0, 0]), torch.zeros(6))
        rule.compute_grads(m, loss)
    with pytest.raises(ValueError, match="rewards of shape"):
        rule.set_outcome(action, torch.zeros(5))
    with pytest.raises(ValueError, match="integer"):
        rule.set_outcome(action.double(), reward)


@pytest.mark.parametrize(("model", "word"), [
    (nn.Sequential(nn.Conv2d(1, 2, 3), nn.Tanh(), nn.Flatten(), nn.Linear(8, 2)), "Conv2d"),
    (nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.1), nn.Linear(4, 2)), "'1' \\(type Dropout\\)"),
    (nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)), "type BatchNorm1d"),
    (nn.Sequential(nn.Linear(3, 4), nn.Tanh()), "end with an nn.Linear"),
    (nn.Linear(3, 2), "nn.Sequential"),
])
def test_unsupported_models_are_named(model, word):
    with pytest.raises(ValueError, match=word):
        get_rule("agrel").prepare(model)


@pytest.mark.parametrize(("opts", "word"), [({"epsilon": -0.1}, "epsilon"), ({"epsilon": 1.5}, "epsilon"),
                                            ({"epsilon": "0.1"}, "epsilon"), ({"seed": 1.5}, "seed"),
                                            ({"seed": True}, "seed")])
def test_bad_options_are_named(opts, word):
    with pytest.raises(ValueError, match=word):
        get_rule("agrel", **opts)


def test_the_closure_must_call_the_prepared_model_once():
    net, x, y = _small()
    rule = get_rule("agrel")
    m = rule.prepare(net)
    with pytest.raises(RuntimeError, match="exactly once"):
        rule.compute_grads(m, lambda: nn.functional.cross_entropy(m(x), y) + nn.functional.cross_entropy(m(x), y))
    with pytest.raises(RuntimeError, match="prepare"):
        rule.compute_grads(make_mlp([5, 7, 6, 4]).double(), lambda: nn.functional.cross_entropy(m(x), y))


def test_diverged_weights_are_raised():
    net, x, y = _small()
    rule = get_rule("agrel")
    m = rule.prepare(net)
    with torch.no_grad():
        net.output.bias[0] = float("inf")
    with pytest.raises(FloatingPointError, match="non-finite"):
        rule.compute_grads(m, lambda: nn.functional.cross_entropy(m(x), y))
