"""``arch.action_layer``: a Box action's mean IS a named layer's activity (the BCI tasks' recorded neurons),
with Gaussian noise of std ``exp(log_std)`` around it; bad values fail by name. Exact checks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch.distributions import Normal

from agents.architectures import build_agent
from agents.config import ConfigError, parse_override, resolve_config
from agents.rules import get_rule

BCI = "BrainSet/BCI-v0"


def _agent(*overrides: str, env_id: str = BCI, env_kwargs: dict | None = None):
    cfg = resolve_config(env_id, overrides=[parse_override(o) for o in overrides])
    env = gym.make(env_id, **(env_kwargs or {}))
    torch.manual_seed(0)
    agent = build_agent(env.observation_space, env.action_space, cfg.arch)
    obs = torch.as_tensor(np.stack([env.observation_space.sample() for _ in range(5)]))
    return agent, obs, cfg


def test_the_bci_recipe_makes_the_core_units_the_action():
    agent, obs, cfg = _agent()
    assert cfg.arch.action_layer == "core" and cfg.arch.core_hidden == 16
    assert isinstance(agent.policy, torch.nn.Identity)  # no readout: no weights between units and action
    out = agent(obs, return_activations=True)
    assert torch.equal(out.logits, out.activations["core"])
    a, _, _, _ = agent.act(obs, deterministic=True)
    assert torch.equal(a, out.activations["core"])  # deterministic: exactly the units' activity
    assert float(a.abs().max()) <= 1.0  # tanh units: inside the action box


def test_the_sampled_action_is_the_activity_plus_gaussian_noise_of_std_exp_log_std():
    agent, obs, _ = _agent("arch.action_std=0.25")
    assert torch.allclose(agent.log_std.exp(), torch.full((16,), 0.25))
    with torch.no_grad():
        agent.log_std.copy_(torch.linspace(-2.0, 0.0, 16))
    h = agent(obs, return_activations=True).activations["core"]
    torch.manual_seed(3)
    a, logp, _, _ = agent.act(obs)
    torch.manual_seed(3)
    agent(obs)  # the forward pass draws nothing
    noise = torch.normal(torch.zeros_like(h), agent.log_std.exp().detach().expand_as(h))
    torch.manual_seed(3)
    expected = torch.normal(h, agent.log_std.exp().detach().expand_as(h))
    assert torch.equal(a, expected)
    assert torch.allclose(a - h, noise, atol=1e-6)
    assert torch.allclose(logp, Normal(h, agent.log_std.exp().detach()).log_prob(a).sum(-1))


def test_a_tanh_mlp_without_core_can_name_its_last_layer():
    agent, obs, _ = _agent("arch.name=mlp", "arch.core=none", "arch.mlp_hidden=[32, 16]", "arch.action_layer=fc2")
    out = agent(obs, return_activations=True)
    assert torch.equal(agent.act(obs, deterministic=True)[0], out.activations["fc2"])


def test_feedback_alignment_prepares_the_agent_and_keeps_the_identity_head():
    agent, obs, _ = _agent()
    model = get_rule("feedback_alignment").prepare(agent)
    out = model(obs, return_activations=True)
    assert torch.equal(out.logits, out.activations["core"])


@pytest.mark.parametrize("overrides, text", [
    (("arch.core_hidden=32",), "has 32 units but the action space"),
    (("arch.name=mlp+rnn_relu",), "allowed: '' (a linear readout) or none here"),
    (("arch.name=mlp", "arch.core=none"), "allowed: '' (a linear readout) or one of ['fc1']"),
    (("arch.action_layer=fc1",), "not the policy trunk's bounded output layer"),
])
def test_bad_action_layers_fail_by_name(overrides, text):
    with pytest.raises(ConfigError) as info:
        _agent(*overrides)
    assert info.value.field == "arch.action_layer" and "arch.action_layer=" in str(info.value)
    assert text in str(info.value)


def test_bad_action_layer_values_fail_in_the_config_by_name():
    for text in ("arch.action_layer=policy", "arch.action_layer=fc0", "arch.action_std=0", "arch.action_std=-1"):
        with pytest.raises(ConfigError) as info:
            resolve_config(BCI, overrides=[parse_override(text)])
        assert info.value.field == text.split("=")[0] and "allowed" in str(info.value)


def test_a_discrete_action_refuses_an_action_layer():
    with pytest.raises(ConfigError, match=r"arch.action_layer='core' needs a 1-D Box action"):
        _agent("arch.name=mlp+rnn", "arch.core_hidden=16", "arch.action_layer=core", env_id="CartPole-v1")


def test_a_wider_bci_needs_a_wider_core():
    with pytest.raises(ConfigError, match=r"needs 32 \(one action per unit\); set arch.core_hidden=32"):
        _agent(env_kwargs={"n_units": 32})
    agent, _, _ = _agent("arch.core_hidden=32", env_kwargs={"n_units": 32})
    assert agent.core.hidden == 32
