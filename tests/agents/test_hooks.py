"""Trainer hooks (agents.hooks): what each hook sees and when, stopping, the old callback, the hooks that
objectives ask for, and recording visits without touching the objective registry."""

import numpy as np
import pytest
import torch

from agents.config import parse_override, resolve_config
from agents.experiments.intrinsic import train_and_record
from agents.hooks import CallbackHook, TrainerHook, load_entry_point, objective_hooks
from agents.objectives import available_objectives, get_objective
from agents.objectives.base import Objective
from agents.probes.intrinsic import EmpowermentMapHook
from agents.trainer import train

GRID = "BrainSet/EmpowermentGrid-v0"
ROOM = "env.kwargs={layout: open, size: 5, observation: coords, empowerment_n: 2}"


def _cfg(tmp_path, *overrides, env_id="CartPole-v1"):
    base = [f"run.runs_dir={tmp_path or ''}", "run.progress=false", "run.video=false", "run.eval_episodes=2",
            "run.eval_envs=2", "run.eval_every=0", "run.tensorboard=false", "env.num_envs=4",
            "train.num_steps=8", "train.total_steps=96", "arch.mlp_hidden=[16]"]
    return resolve_config(env_id, overrides=[parse_override(o) for o in (*base, *overrides)])


class Spy(TrainerHook):
    """Keeps what every call saw."""

    def __init__(self):
        self.calls: list[str] = []
        self.rollouts: list[dict] = []
        self.rows: list[dict] = []
        self.start = self.end = None

    def on_train_start(self, agent, cfg, run_dir):
        self.calls.append("start")
        self.start = (agent, cfg, run_dir)

    def on_rollout(self, rollout):
        self.calls.append("rollout")
        self.rollouts.append({k: getattr(rollout, k).clone() for k in
                              ("obs", "actions", "rewards", "intrinsic", "valid", "first")})
        self.rollouts[-1]["extras"] = sorted(rollout.extras)

    def on_update(self, info):
        self.calls.append("update")
        self.rows.append(dict(info["row"]))

    def on_train_end(self, agent, cfg, run_dir):
        self.calls.append("end")
        self.end = (agent, cfg, run_dir)


def test_hook_sees_every_rollout_update_and_the_run_folder_once(tmp_path):
    cfg = _cfg(tmp_path)
    spy = Spy()
    res = train(cfg, hooks=[spy])
    assert res.updates == 3
    assert spy.calls == ["start", *["rollout", "update"] * 3, "end"]
    T, N = cfg.train.num_steps, cfg.env.num_envs
    for r in spy.rollouts:
        assert r["obs"].shape == (T + 1, N, 4)  # CartPole: 4 numbers, plus the observation after the rollout
        assert r["actions"].shape == r["rewards"].shape == r["intrinsic"].shape == r["valid"].shape == (T, N)
        assert r["first"].shape == (T + 1, N)
        assert "advantages" in r["extras"]  # called after the objectives prepared the rollout
    assert not torch.equal(spy.rollouts[0]["obs"], spy.rollouts[1]["obs"])
    assert spy.rows == res.rows  # on_update gets the logged metrics row
    assert spy.start[2] == spy.end[2] == res.run_dir and res.run_dir.parent == tmp_path
    assert spy.start[1] is cfg and spy.end[0] is res.agent


def test_hooks_do_not_change_the_run_and_run_without_a_folder():
    plain = train(_cfg(None))
    spy = Spy()
    hooked = train(_cfg(None), hooks=[spy])
    assert spy.end[2] is None  # no run folder: on_train_end still runs, with run_dir None
    assert all(torch.equal(a, b) for a, b in zip(plain.agent.state_dict().values(),
                                                  hooked.agent.state_dict().values(), strict=True))


class StopAfter(TrainerHook):
    def __init__(self, n):
        self.n, self.seen = n, 0

    def on_update(self, info):
        self.seen += 1
        return info["loop"].update < self.n


def test_a_hook_or_the_old_callback_stops_training_and_every_hook_sees_the_update():
    stop, spy = StopAfter(2), Spy()
    res = train(_cfg(None), hooks=[stop, spy])
    assert (res.updates, res.stopped, stop.seen, spy.calls[-2:]) == (2, "callback", 2, ["update", "end"])
    seen = []
    res = train(_cfg(None), callback=lambda info: seen.append(info["loop"].update) or len(seen) < 2)
    assert (res.updates, res.stopped, seen) == (2, "callback", [1, 2])
    assert CallbackHook(lambda info: None).on_update({}) is None  # only an explicit False stops


def test_objectives_draw_nothing_they_name_their_hooks():
    assert not hasattr(Objective, "write_outputs")
    objective = get_objective("empowerment+0.5*count", {"empowerment": {"n": 2}})
    hooks = objective_hooks(objective)
    assert [type(h) for h in hooks] == [EmpowermentMapHook]
    assert hooks[0].objective is objective.terms[0][1]
    assert objective_hooks(get_objective("reward")) == []
    assert load_entry_point("agents.hooks:TrainerHook") is TrainerHook
    with pytest.raises(ValueError, match="package.module:Name"):
        load_entry_point("agents.hooks.TrainerHook")


def test_empowerment_run_folder_gets_the_map_through_its_hook(tmp_path):
    cfg = _cfg(tmp_path, ROOM, "objective.spec=empowerment",
               "objective.kwargs={empowerment: {n: 2, warmup: 0, replay: 64, hidden: [8]}}", env_id=GRID)
    res = train(cfg)
    assert (res.run_dir / "empowerment_map.png").stat().st_size > 1000
    assert (res.run_dir / "empowerment_map.json").exists()


def test_recording_visits_registers_no_objective_and_keeps_the_spec():
    cfg = _cfg(None, ROOM, "objective.spec=count", env_id=GRID)
    names, spec = available_objectives(), cfg.objective.spec
    res, rec = train_and_record(cfg)
    assert available_objectives() == names and cfg.objective.spec == spec
    traj, acts = rec.trajectories(), rec.action_trajectories()
    assert traj.shape == (4, res.global_step // 4 + 1) and acts.shape == (4, res.global_step // 4)
    assert np.isin(traj, np.arange(25)).all()
    # the same run as without the recorder
    plain = train(_cfg(None, ROOM, "objective.spec=count", env_id=GRID))
    assert all(torch.equal(a, b) for a, b in zip(plain.agent.state_dict().values(),
                                                  res.agent.state_dict().values(), strict=True))


class StepSpy(TrainerHook):
    """Counts the episodes that ``on_step`` reports as ended, and each step's info keys."""

    def __init__(self):
        self.steps, self.ended, self.lengths = 0, 0, []

    def on_step(self, info, done):
        self.steps += 1
        self.ended += int(done.sum())
        self.lengths += [int(x) for x in info["steps"][done]]


def test_on_step_sees_every_env_step_and_the_episodes_that_end_on_it():
    cfg = _cfg(None, "env.num_envs=2", "train.num_steps=64", "train.total_steps=1024", "train.bptt_len=16",
               env_id="BrainSet/BCI-v0")
    spy, rows = StepSpy(), []
    res = train(cfg, hooks=[spy], callback=lambda info: rows.append(info["row"]))
    assert spy.steps == res.global_step // 2  # one call per vector-env step
    assert spy.ended == sum(r["train/episodes"] for r in rows) > 0  # the episodes the trainer counts
    assert all(1 <= n <= 50 for n in spy.lengths)  # a BCI trial's steps when it ends (success or timeout)
