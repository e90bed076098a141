"""The trainer's fast paths give the same numbers, to the bit, as the plain code they replace (issue 22):
a training run with a fixed seed must not change when the trainer gets faster (learned figures and their
audits depend on the exact trajectories)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.objectives.reward import RewardObjective, gae
from agents.rollout import Batch, Rollout, masked_mean
from agents.trainer import _uniform, clip_grad_norm


def _rollout(T: int = 6, N: int = 5, seed: int = 0) -> Rollout:
    g = torch.Generator().manual_seed(seed)
    obs_space = spaces.Box(-1, 1, (3,), np.float32)
    r = Rollout.allocate(T, N, obs_space, spaces.Discrete(4), 2, torch.device("cpu"), durations=True)
    r.obs.copy_(torch.randn(r.obs.shape, generator=g))
    r.first.copy_(torch.rand(r.first.shape, generator=g) < 0.2)
    r.states.copy_(torch.randn(r.states.shape, generator=g))
    r.actions.copy_(torch.randint(0, 4, r.actions.shape, generator=g))
    for x in (r.logprobs, r.values, r.rewards, r.intrinsic, r.durations):
        x.copy_(torch.randn(x.shape, generator=g))
    r.terminated.copy_((torch.rand(T, N, generator=g) < 0.2).float())
    r.truncated.copy_((torch.rand(T, N, generator=g) < 0.1).float())
    r.valid.copy_((torch.rand(T, N, generator=g) < 0.8).float())
    r.extras["advantages"] = torch.randn(T, N, generator=g)
    return r


def _gae_step_by_step(rewards, values, terminated, truncated, valid, gamma, lam):
    """GAE as it was written before issue 22: every term inside the loop."""
    adv, last = torch.zeros_like(rewards), torch.zeros_like(rewards[0])
    not_term, go_on = 1.0 - terminated, 1.0 - torch.maximum(terminated, truncated)
    for t in range(rewards.shape[0] - 1, -1, -1):
        g = gamma[t] if isinstance(gamma, torch.Tensor) else gamma
        delta = rewards[t] + g * values[t + 1] * not_term[t] - values[t]
        last = (delta + g * lam * go_on[t] * last) * valid[t]
        adv[t] = last
    return adv, adv + values[:-1]


@pytest.mark.parametrize("per_step", [False, True])
def test_gae_equals_the_step_by_step_recursion(per_step):
    r = _rollout(T=32, N=16)
    gamma = torch.pow(0.99, r.durations.abs()) if per_step else 0.99
    args = (r.rewards, r.values, r.terminated, r.truncated, r.valid, gamma, 0.95)
    for got, want in zip(gae(*args), _gae_step_by_step(*args), strict=True):
        assert torch.equal(got, want)


@pytest.mark.parametrize("seq_len", [1, 3])
def test_batch_by_flat_index_equals_indexing_by_step_and_env(seq_len):
    r = _rollout()
    g = torch.Generator().manual_seed(1)
    batches = list(r.minibatches(2, seq_len, g))
    assert sum(b.mask.numel() for b in batches) == (int(r.valid.sum()) if seq_len == 1 else r.T * r.N)
    for b in batches:
        tt, nn_ = b.tt, b.nn
        assert torch.equal(tt * r.N + nn_, b.index)
        assert torch.equal(b.obs, r.obs[tt, nn_]) and torch.equal(b.first, r.first[tt, nn_])
        assert torch.equal(b.state0, r.states[tt[0], nn_[0]])
        for name, full in (("actions", r.actions), ("logprobs", r.logprobs), ("values", r.values[:-1]),
                           ("rewards", r.rewards), ("intrinsic", r.intrinsic), ("mask", r.valid),
                           ("terminated", r.terminated), ("advantages", r.extras["advantages"])):
            assert torch.equal(getattr(b, name), full[tt, nn_].flatten(0, 1)), name
        assert torch.equal(b.next_obs, r.obs[tt + 1, nn_].flatten(0, 1))
        by_pair = Batch(r, tt, nn_)  # the (tt, nn_) constructor gives the same batch
        assert torch.equal(by_pair.obs, b.obs) and torch.equal(by_pair.mask, b.mask)
        assert b.all_valid == (seq_len == 1) and (not b.all_valid or bool((b.mask == 1).all()))


def test_masked_mean_all_valid_is_the_same_value_and_gradient():
    x = torch.randn(1000, dtype=torch.float32, requires_grad=True)
    mask = torch.ones(1000)
    a = masked_mean(x * 1.7, mask)
    (ga,) = torch.autograd.grad(a, x)
    b = masked_mean(x * 1.7, mask, all_valid=True)
    (gb,) = torch.autograd.grad(b, x)
    assert torch.equal(a, b) and torch.equal(ga, gb)


def test_ppo_loss_of_an_all_valid_batch_is_unchanged_by_the_shortcut():
    r = _rollout(T=8, N=32)
    obj = RewardObjective()
    obj.prepare(r, None)
    batch = next(iter(r.minibatches(1, 1, torch.Generator().manual_seed(0))))
    logits = torch.randn(batch.mask.shape[0], 4, requires_grad=True)
    value = torch.randn(batch.mask.shape[0], requires_grad=True)

    class Out:
        log_std = None

    out = Out()
    out.logits, out.value = logits, value  # type: ignore[attr-defined]
    results = []
    for every in (True, False):
        batch.all_valid = every
        loss, metrics = obj.loss(batch, out)
        results.append((loss, *torch.autograd.grad(loss, (logits, value)), *metrics.values()))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3])
@pytest.mark.parametrize("max_norm", [0.5, math.inf])
def test_clip_grad_norm_equals_torch(scale, max_norm):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(8, 64), torch.nn.Tanh(), torch.nn.Linear(64, 5))
    params = list(net.parameters())
    grads = [torch.randn_like(p) * scale for p in params]
    out = []
    for fn in (lambda: torch.nn.utils.clip_grad_norm_(params, max_norm),
               lambda: clip_grad_norm(params, max_norm, _uniform(params))):
        for p, g in zip(params, grads, strict=True):
            p.grad = g.clone()
        out.append((fn(), [p.grad.clone() for p in params]))
    (na, ga), (nb, gb) = out
    assert _uniform(params) and torch.equal(na, nb)
    assert all(torch.equal(a, b) for a, b in zip(ga, gb, strict=True))
