"""The digits run shared by the rules' learned checks: a 64-32-10 tanh MLP trained with a rule (Adam 3e-3,
minibatches of 32, the order from the seed), the same weights and data for every rule at one seed."""

from __future__ import annotations

import time

import torch
from torch import nn

from agents.experiments.fig2 import accuracy, digits_data, make_mlp
from agents.rules import get_rule


def train_digits(name: str, run_seed: int, epochs: int = 8, **options) -> tuple[nn.Module, float, float]:
    """(the trained model, its test accuracy, seconds per update) of rule ``name`` with ``options`` (which
    may hold the rule's own ``seed``)."""
    seed = run_seed
    xtr, ytr, xte, yte = digits_data(seed)
    rule = get_rule(name, **options)
    m = rule.prepare(make_mlp([64, 32, 10], seed))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(seed)
    n, t0 = 0, time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=gen)
        for i in range(0, len(xtr), 32):
            b = perm[i:i + 32]
            opt.zero_grad(set_to_none=True)
            rule.compute_grads(m, lambda b=b: nn.functional.cross_entropy(m(xtr[b]), ytr[b]))
            opt.step()
            n += 1
    return m, accuracy(m, xte, yte), (time.perf_counter() - t0) / n
