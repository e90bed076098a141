"""The local Hebbian rules (agents/rules/hebbian.py): hidden Linears get Hebb with decay or Oja's rule from
their own input and activity, output layers their true loss gradient (the local delta rule)."""

import copy

import pytest
import torch
from torch import nn

from agents.rules import get_rule


def _net(seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3)).double()


def _expected_hidden(name: str, w, b, x, y, eta=1.0, decay=1.0):
    n = x.shape[0]
    if name == "hebbian":
        return eta * y.T @ x / n - decay * w, eta * y.mean(0) - decay * b
    y2 = (y * y).mean(0)
    return eta * (y.T @ x / n - y2[:, None] * w), eta * (y.mean(0) - y2 * b)


@pytest.mark.parametrize("name", ["hebbian", "oja"])
def test_hidden_layer_gets_the_rule_and_the_output_layer_its_true_gradient(name):
    ref = _net()
    rule = get_rule(name, eta=0.7)
    net = rule.prepare(copy.deepcopy(ref))
    x, t = torch.randn(16, 4, dtype=torch.float64), torch.randint(0, 3, (16,))
    metrics = rule.compute_grads(net, lambda: nn.functional.cross_entropy(net(x), t))
    assert metrics["hebbian_layers"] == 1.0
    nn.functional.cross_entropy(ref(x), t).backward()
    torch.testing.assert_close(net[2].weight.grad, ref[2].weight.grad)  # delta rule = true gradient
    torch.testing.assert_close(net[2].bias.grad, ref[2].bias.grad)
    with torch.no_grad():
        y = torch.tanh(net[0](x))  # postsynaptic activity: after the nonlinearity
        dw, db = _expected_hidden(name, net[0].weight, net[0].bias, x, y, eta=0.7,
                                  decay=1.0 if name == "hebbian" else 0.0)
    torch.testing.assert_close(net[0].weight.grad, -dw)  # p.grad = -update: SGD applies the update
    torch.testing.assert_close(net[0].bias.grad, -db)


def test_shared_activation_module_and_linear_units():
    """The agents' MLP calls one nn.Tanh after every layer; a Linear with no nonlinearity is a linear unit."""

    class Shared(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.fc3, self.out = nn.Linear(3, 4), nn.Linear(4, 4), nn.Linear(4, 4), nn.Linear(4, 2)
            self.act = nn.Tanh()

        def forward(self, x):
            return self.out(self.fc3(self.act(self.fc2(self.act(self.fc1(x))))))

    torch.manual_seed(1)
    net = Shared().double()
    rule = get_rule("hebbian", decay=0.0)
    rule.prepare(net)
    x = torch.randn(8, 3, dtype=torch.float64)
    rule.compute_grads(net, lambda: net(x).pow(2).mean())
    with torch.no_grad():
        h1 = torch.tanh(net.fc1(x))
        h2 = torch.tanh(net.fc2(h1))
        a3 = net.fc3(h2)  # no nonlinearity follows fc3: its own output is the activity
    torch.testing.assert_close(net.fc1.weight.grad, -(h1.T @ x) / 8)
    torch.testing.assert_close(net.fc2.weight.grad, -(h2.T @ h1) / 8)
    torch.testing.assert_close(net.fc3.weight.grad, -(a3.T @ h2) / 8)


@pytest.mark.parametrize("name", ["hebbian", "oja"])
def test_conv_and_recurrent_modules_fail_at_prepare_naming_them(name):
    with pytest.raises(ValueError, match=r"'0' \(type Conv2d\)") as err:
        get_rule(name).prepare(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)))
    assert name in str(err.value) and "layered MLPs" in str(err.value)
    with pytest.raises(ValueError, match="GRUCell"):
        get_rule(name).prepare(nn.Sequential(nn.Linear(3, 3), nn.GRUCell(3, 4)))
    with pytest.raises(RuntimeError, match="prepare"):
        net = _net()
        get_rule(name).compute_grads(net, lambda: net(torch.ones(2, 4, dtype=torch.float64)).sum())
    with pytest.raises(ValueError, match="eta"):
        get_rule(name, eta=0.0)
    if name == "hebbian":
        with pytest.raises(ValueError, match="decay"):
            get_rule(name, decay=-1.0)


def test_oja_unit_learns_the_principal_direction_and_unit_norm(audit):
    """Oja (1982): a linear unit's weights converge to the unit-norm first principal component."""
    seed = audit.seed(0)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 3, generator=gen, dtype=torch.float64) * torch.tensor([2.0, 1.0, 0.5], dtype=torch.float64)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 1, bias=False), nn.Linear(1, 1)).double()
    rule = get_rule("oja")
    rule.prepare(net)
    opt = torch.optim.SGD(net.parameters(), lr=0.02)
    for _ in range(400):
        opt.zero_grad(set_to_none=True)
        rule.compute_grads(net, lambda: net(x).pow(2).mean())
        opt.step()
    w = net[0].weight.detach().reshape(-1)
    audit.check("oja_principal_component", {"norm_off_one": abs(float(w.norm()) - 1.0),
                                            "abs_cos_to_pc1": abs(float(w[0] / w.norm()))})


def test_hebbian_rules_are_kept_out_of_the_task_learning_checks_by_their_attribute():
    from agents.experiments.checks import CHECKS, reinforce_rules, task_rules
    from agents.rules import RULES, rule_class

    assert {"hebbian", "oja"} <= set(RULES)
    assert not rule_class("hebbian").learns_tasks and not rule_class("oja").learns_tasks
    assert set(reinforce_rules()) == {r for r in RULES if rule_class(r).learns_tasks}
    assert set(task_rules()) == {r for r in reinforce_rules() if rule_class(r).trains_agents}
    for r in ("hebbian", "oja"):
        assert f"rule_{r}" not in CHECKS and f"reinforce_{r}" not in CHECKS
    assert "rule_backprop" in CHECKS and "reinforce_backprop" in CHECKS


def test_runs_through_the_trainer_on_a_small_mlp_agent():
    """PPO on 16 px gratings with a one-hidden-layer MLP agent: fc1 Hebbian, policy and value heads by their
    loss gradients (a smoke test: the rule is kept out of the accuracy checks, see above)."""
    from agents.experiments.checks import rule_config
    from agents.trainer import train

    cfg = rule_config("oja", 2048, ('env.kwargs={"size": 16, "phase": 0.0}', "arch.name=mlp",
                                    "arch.mlp_hidden=[8]", "arch.center_images=true"))
    res = train(cfg)
    assert res.global_step == 2048
    params = dict(res.agent.named_parameters())
    assert all(torch.isfinite(p).all() for p in params.values())
    w = params["trunk.encoder.part.mlp.layers.fc1.weight"].detach()
    assert float(w.norm(dim=1).max()) < 2.0  # Oja keeps each hidden unit's weight vector bounded (norm -> 1)
