"""Semi-Markov steps: ``env.duration_key`` makes the reward objective discount by gamma ** duration."""

import numpy as np
import pytest
import torch
from gymnasium import spaces

from agents.config import parse_override, resolve_config
from agents.objectives import gae, register_objective
from agents.objectives.reward import RewardObjective
from agents.rollout import Rollout
from agents.trainer import step_durations, train


def test_gae_discounts_each_step_by_its_own_gamma():
    r = torch.tensor([[1.0], [2.0], [3.0]])
    v = torch.tensor([[0.5], [0.4], [0.3], [0.2]])
    zeros, ones = torch.zeros(3, 1), torch.ones(3, 1)
    g = torch.tensor([[0.9], [0.5], [0.8]])  # e.g. 0.9 ** duration per step
    lam = 0.7
    adv, ret = gae(r, v, zeros, zeros, ones, g, lam)
    d = [r[t, 0] + g[t, 0] * v[t + 1, 0] - v[t, 0] for t in range(3)]
    a2 = d[2]
    a1 = d[1] + 0.5 * lam * a2
    a0 = d[0] + 0.9 * lam * a1
    assert torch.allclose(adv[:, 0], torch.stack([a0, a1, a2]))
    assert torch.allclose(ret, adv + v[:-1])
    # a constant tensor is the scalar discount
    same, _ = gae(r, v, zeros, zeros, ones, torch.full((3, 1), 0.9), lam)
    assert torch.allclose(same, gae(r, v, zeros, zeros, ones, 0.9, lam)[0])


def _rollout(durations: bool) -> Rollout:
    ro = Rollout.allocate(4, 2, spaces.Box(-1, 1, (3,)), spaces.Discrete(2), 0, torch.device("cpu"),
                          durations=durations)
    gen = torch.Generator().manual_seed(0)
    ro.rewards.copy_(torch.rand(4, 2, generator=gen))
    ro.values.copy_(torch.rand(5, 2, generator=gen))
    ro.valid.fill_(1.0)
    if durations:
        ro.durations.copy_(torch.tensor([[3.0, 6.0], [3.0, 3.0], [6.0, 3.0], [1.5, 6.0]]))
    return ro


def test_reward_objective_discounts_per_unit_of_duration():
    obj = RewardObjective(gamma=0.99, gae_lambda=0.95)
    timed, plain = _rollout(True), _rollout(False)
    obj.prepare(timed, None)
    obj.prepare(plain, None)
    g = 0.99 ** timed.durations
    expect, _ = gae(timed.rewards, timed.values, timed.terminated, timed.truncated, timed.valid, g, 0.95)
    assert torch.allclose(timed.extras["advantages"], expect)
    assert plain.durations is None  # without durations every step is one unit
    expect_plain, _ = gae(plain.rewards, plain.values, plain.terminated, plain.truncated, plain.valid, 0.99,
                          0.95)
    assert torch.allclose(plain.extras["advantages"], expect_plain)
    assert not torch.allclose(timed.extras["advantages"], plain.extras["advantages"])


SEEN: list = []


class _Recorder(RewardObjective):
    name = "reward_recorder_test"

    def prepare(self, rollout, agent):
        SEEN.append((rollout.durations.clone(), rollout.valid.clone(), rollout.truncated.clone()))
        super().prepare(rollout, agent)


@pytest.mark.parametrize("vectorization", ["native", "sync"])
def test_trainer_fills_durations_from_the_step_info(vectorization):
    register_objective("reward_recorder_test", _Recorder)
    SEEN.clear()
    cfg = resolve_config("BrainSet/PatchForaging-v0", overrides=[parse_override(o) for o in (
        "run.runs_dir=''", "run.progress=false", "run.video=false", "objective.spec=reward_recorder_test",
        "env.duration_key=duration", f"env.vectorization={vectorization}",
        "env.num_envs=3", "train.num_steps=100", "train.total_steps=600", "run.eval_every=0",
        "run.eval_episodes=1", "run.eval_envs=1")])
    cfg.objective.kwargs = {}  # the shipped defaults configure 'reward', not the recorder
    train(cfg)
    dur = torch.cat([d for d, _, _ in SEEN]).numpy()
    valid = torch.cat([v for _, v, _ in SEEN]).numpy() > 0
    trunc = torch.cat([t for _, _, t in SEEN]).numpy() > 0
    assert (~valid).any() and trunc.any()  # blocks ended inside the run (390 s of 3 s / 6 s steps)
    assert np.all(dur[~valid] == 0.0)  # reset steps take no task time
    ordinary = valid & ~trunc
    assert set(np.unique(dur[ordinary])) == {3.0, 6.0}  # harvest h = 3 s, travel tau = 6 s
    assert np.all((dur[trunc] > 0) & (dur[trunc] <= 6.0))
    # each completed block adds up to its 390 s: steps from a reset to the truncation, per env
    for env in range(3):
        ends = np.flatnonzero(trunc[:, env])
        starts = np.flatnonzero(~valid[:, env])
        assert len(ends) >= 2
        first_start, second_end = starts[0], ends[ends > starts[0]][0]
        assert dur[first_start:second_end + 1, env].sum() == pytest.approx(390.0)


def test_missing_duration_key_is_a_clear_error():
    with pytest.raises(KeyError, match="env.duration_key='seconds'.*info keys"):
        step_durations({"duration": np.ones(2)}, "seconds", "BrainSet/PatchForaging-v0")
    d = step_durations({"duration": np.array([3.0, 9.0]), "_duration": np.array([True, False])}, "duration")
    assert d.dtype == np.float32 and d.tolist() == [3.0, 0.0]  # sync envs that did not report: no time
