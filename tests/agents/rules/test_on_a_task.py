"""Every learning rule trains a small agent on a BrainSet task through the LearningRule interface only.

A self-contained REINFORCE loop on BrainSet/OrientationDiscriminationEasy-v0 (16x16 images, one trial
per episode, 128 envs in the native vector env): the rule is prepared once, then each update calls
``compute_grads`` with a closure recomputing the loss, then ``optimizer.step()`` (the trainer's contract).
Budget: 300 updates of 128 trials for every rule. Node and weight perturbation need SGD with a large step
and 16 antithetic perturbations per update (an update costs 33 forward passes); the other rules use Adam.
"""

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import brainset_envs  # noqa: F401
from agents.experiments.checks import reinforce_rules
from agents.rules import get_rule, rule_class


def _obs(obs: np.ndarray) -> torch.Tensor:
    return (torch.as_tensor(obs, dtype=torch.float32) - 128.0) / 128.0


def _greedy_accuracy(envs, net, trials: int = 8) -> float:
    correct = 0.0
    for _ in range(trials):
        obs, _ = envs.reset()
        with torch.no_grad():
            a = net(_obs(obs)).argmax(1)
        _, rew, *_ = envs.step(a.numpy())
        correct += float(rew.mean())
    return correct / trials


@pytest.mark.parametrize("name", reinforce_rules())
def test_rule_learns_orientation_discrimination_above_chance(name, audit):
    settings = rule_class(name).supervised  # the registry's settings for a small supervised net
    options, opt_name, lr = dict(settings.options), settings.optimizer, settings.lr
    envs = gym.make_vec("BrainSet/OrientationDiscriminationEasy-v0", num_envs=128,
                        vectorization_mode="vector_entry_point", size=16)
    seed = audit.seed(0)
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Flatten(), nn.Linear(256, 32), nn.Tanh(), nn.Linear(32, 2))
    rule = get_rule(name, **options)
    net = rule.prepare(net)
    opt = (torch.optim.Adam if opt_name == "adam" else torch.optim.SGD)(net.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    obs, _ = envs.reset(seed=seed)
    before = _greedy_accuracy(envs, net)
    baseline = 0.5
    for _ in range(300):
        obs, _ = envs.reset()
        x = _obs(obs)
        with torch.no_grad():
            action = torch.multinomial(torch.softmax(net(x), -1), 1, generator=gen).squeeze(1)
        _, reward, terminated, _, _ = envs.step(action.numpy())
        assert terminated.all()  # one trial per episode: a contextual bandit
        adv = torch.as_tensor(reward, dtype=torch.float32) - baseline
        baseline = 0.9 * baseline + 0.1 * float(reward.mean())

        def closure(x=x, action=action, adv=adv):
            logp = torch.log_softmax(net(x), -1).gather(1, action[:, None]).squeeze(1)
            return -(adv * logp).mean()

        opt.zero_grad(set_to_none=True)
        metrics = rule.compute_grads(net, closure)
        assert np.isfinite(metrics["loss"])
        assert all(p.grad is not None for p in net.parameters())
        opt.step()
    after = _greedy_accuracy(envs, net)
    envs.close()
    # chance 0.5; 1024 test trials: standard error ~0.016
    audit.check(f"reinforce_{name}", {"untrained_off_chance": abs(before - 0.5), "accuracy": after})
