"""Learning to learn (agents.experiments.metarl): the frozen-agent evaluators agree exactly with the
single-env ground-truth analyses, the experiment writes and resumes its results, and the meta-RL recipes
reproduce Wang et al.'s three results with frozen weights (learned figures, audited)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

import agents.experiments.metarl as metarl
from agents.experiments.metarl_eval import bandit_regret, harlow_accuracy, two_step_log
from brainset_envs.analysis.bandit import bayes_optimal, thompson_regret
from brainset_envs.analysis.harlow import trial_accuracy
from brainset_envs.analysis.two_step import record_trials, stay_probabilities


class Fixed(nn.Module):
    """A 'frozen agent' that always takes ``action`` (or alternates 0, 1 when ``action`` is None)."""

    def __init__(self, n: int, action: int | None):
        super().__init__()
        self.n, self.action = n, action
        self.w = nn.Parameter(torch.zeros(1))

    def initial_state(self, n: int, device) -> torch.Tensor:
        return torch.zeros(n, 1, device=device)

    def forward(self, obs, state, first):
        a = torch.full((len(state),), 0 if self.action is None else self.action, dtype=torch.long)
        if self.action is None:
            a = state[:, 0].long() % 2
        logits = torch.full((len(state), self.n), -1e9)
        logits[torch.arange(len(state)), a] = 0.0
        return SimpleNamespace(logits=logits, state=state + 1)

    def policy(self, t: int) -> int:
        return (t % 2) if self.action is None else self.action


def _alternating(agent: Fixed):
    t = {"step": 0}

    def act(obs):
        a = agent.policy(t["step"])
        t["step"] += 1
        return a

    return act, lambda: t.update(step=0)


@pytest.mark.parametrize("action", [0, 1, None])
def test_bandit_regret_equals_single_env_episodes(action):
    agent, seed, episodes = Fixed(2, action), 40, 6
    res = bandit_regret(agent, episodes=episodes, seed=seed, batch=4)
    expected = []
    for k in range(0, episodes, 4):  # batches of 4 envs: env i of batch k is a single env seeded seed + 7919 k + i
        for i in range(min(4, episodes - k)):
            env = gym.make("BrainSet/Bandit-v0")
            env.reset(seed=seed + 7919 * k + i)
            act, _ = _alternating(agent)
            done, info = False, {}
            while not done:
                _, _, term, trunc, info = env.step(act(None))
                done = term or trunc
            expected.append(info["expected_regret"])
    assert res["episodes"] == episodes
    assert res["regret"] == pytest.approx(np.mean(expected), abs=1e-9)


def test_two_step_log_equals_record_trials():
    agent, seed = Fixed(2, None), 3
    log = two_step_log(agent, episodes=3, seed=seed, batch=3)
    env = gym.make("BrainSet/TwoStepSwitching-v0")
    parts = []
    for i in range(3):
        act, reset = _alternating(agent)
        parts.append(record_trials(env, act, episodes=1, seed=seed + i, on_reset=reset))
    assert len(log) == 3 * 100
    for field in ("first_action", "state", "common", "second_action", "reward"):
        np.testing.assert_array_equal(getattr(log, field), np.concatenate([getattr(p, field) for p in parts]))
    np.testing.assert_array_equal(log.episode, np.repeat(np.arange(3), 100))
    assert stay_probabilities(log)[0, 0] == 1.0  # always 0 at the first stage (steps 0, 2, 4, ...): always stays


def test_harlow_accuracy_equals_trial_accuracy():
    agent, seed = Fixed(2, 1), 11
    acc = harlow_accuracy(agent, episodes=5, seed=seed, batch=5)
    single = np.mean([trial_accuracy(gym.make("BrainSet/Harlow-v0"), lambda o: 1, episodes=1, seed=seed + i)
                      for i in range(5)], axis=0)
    np.testing.assert_allclose(acc, single)


def test_evaluators_leave_the_global_torch_stream_alone():
    agent = Fixed(2, 0)
    torch.manual_seed(0)
    before = torch.rand(3)
    torch.manual_seed(0)
    bandit_regret(agent, episodes=4, seed=0, batch=4)
    np.testing.assert_array_equal(torch.rand(3), before)


def test_run_writes_json_resumes_curve_and_loads_a_finished_run(tmp_path, monkeypatch):
    run_dir = tmp_path / "metarl__harlow__0"
    res = metarl.run_metarl("harlow", seed=0, steps=2048, every=1024, run_dir=run_dir)
    assert (run_dir / "metarl.json").exists() and (run_dir / "curve.json").exists()
    assert [p["step"] for p in res["curve"]][0] == 0 and len(res["curve"]) >= 2
    assert res["truth"]["ideal"] == [0.5, 1, 1, 1, 1, 1]
    assert set(res["final"]) == {f"trial{i}" for i in range(1, 7)}
    paths = metarl.save_metarl(res, run_dir)
    assert all(p.stat().st_size > 0 for p in paths)
    monkeypatch.setattr(metarl, "train", lambda *a, **k: pytest.fail("a finished run trained again"))
    assert metarl.run_metarl("harlow", seed=0, steps=2048, run_dir=run_dir) == json.loads(
        (run_dir / "metarl.json").read_text())
    hook = metarl.FrozenCurve(metarl.TASKS["harlow"], 100, 0, run_dir / "curve.json")
    assert hook.points == res["curve"] and hook.next == res["curve"][-1]["step"] + 100


def test_bad_arguments_name_the_parameter(capsys):
    with pytest.raises(ValueError, match="task='nope'"):
        metarl.run_metarl("nope")
    with pytest.raises(ValueError, match="every=0"):
        metarl.run_metarl("bandit", every=0)
    for argv, word in ((["--task", "nope"], "--task"), (["--steps", "0"], "--steps"), (["--every", "-1"], "--every")):
        with pytest.raises(SystemExit) as e:
            metarl.main(argv)
        assert e.value.code == 2
        assert word in capsys.readouterr().err
    with pytest.raises(ValueError, match="episodes"):
        bandit_regret(Fixed(2, 0), episodes=0)


def test_ground_truth_is_ordered():
    bo, ts = bayes_optimal(2, 100).regret, thompson_regret(2, 100, episodes=4000, seed=0)["regret"]
    truth = metarl._bandit_truth()
    assert truth["bayes_optimal_regret"] == pytest.approx(bo) and truth["thompson_regret"] == pytest.approx(ts)
    assert bo < ts
    two = metarl._two_step_truth()
    mb, mf = two["model_based"], two["model_free"]
    # model-based: the reward x transition cross; model-free: stays more after reward whatever the transition
    assert mb["rewarded_common"] > mb["rewarded_uncommon"] and mb["unrewarded_uncommon"] > mb["unrewarded_common"]
    assert min(mf["rewarded_common"], mf["rewarded_uncommon"]) > max(mf["unrewarded_common"],
                                                                     mf["unrewarded_uncommon"])
    assert mb["model_based_index"] > mf["model_based_index"] + 0.3


# --- the meta-RL agent's three results, weights frozen (learned figures; limits in agents.experiments.checks) ---


def test_frozen_lstm_bandit_regret_between_bayes_optimal_and_thompson(audit):
    res = metarl.run_metarl("bandit", seed=audit.seed(0), steps=2_000_000, every=2_000_000)
    f, t = res["final"], res["truth"]
    print(metarl.summary(res))
    audit.check("metarl_bandit", {"regret": f["regret"], "regret_over_thompson": f["regret"] / t["thompson_regret"],
                                  "regret_minus_bayes_optimal": f["regret"] - t["bayes_optimal_regret"],
                                  "untrained_regret": res["curve"][0]["regret"]})


def test_frozen_lstm_two_step_stay_probabilities_show_the_model_based_cross(audit):
    res = metarl.run_metarl("two_step", seed=audit.seed(0), steps=300_000, every=300_000)
    f = res["final"]
    print(metarl.summary(res))
    audit.check("metarl_two_step", {  # after a reward it stays on common transitions and switches on uncommon
        "rewarded_common": f["rewarded_common"], "unrewarded_uncommon": f["unrewarded_uncommon"],
        "rewarded_common_minus_uncommon": f["rewarded_common"] - f["rewarded_uncommon"],
        "unrewarded_uncommon_minus_common": f["unrewarded_uncommon"] - f["unrewarded_common"],
        "model_based_index": f["model_based_index"], "untrained_index": abs(res["curve"][0]["model_based_index"])})


def test_frozen_lstm_harlow_trial_two_rises_from_chance(audit):
    res = metarl.run_metarl("harlow", seed=audit.seed(0), steps=500_000, every=500_000)
    f, start = res["final"], res["curve"][0]
    print(metarl.summary(res))
    audit.check("metarl_harlow", {"trial2": f["trial2"], "trial1_off_chance": abs(f["trial1"] - 0.5),
                                  "untrained_trial2_off_chance": abs(start["trial2"] - 0.5)})
