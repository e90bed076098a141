"""Trainer: GAE with NEXT_STEP masks, resume equivalence, NaN detection, atomic checkpoints, run folders."""

import json
import math

import numpy as np
import pytest
import torch

from agents.build import load_agent
from agents.config import parse_override, resolve_config
from agents.objectives import gae, register_objective
from agents.objectives.reward import RewardObjective
from agents.run_folder import load_checkpoint, save_checkpoint
from agents.trainer import NonFiniteError, train
from tests import ROOT


def _cfg(env_id, tmp_path, *overrides):
    base = [f"run.runs_dir={tmp_path}", "run.progress=false", "run.video=false"]
    return resolve_config(env_id, overrides=[parse_override(o) for o in (*base, *overrides)])


TINY_CONV = ["arch.channels=[4, 4, 4, 4]", "arch.conv_fc=[16]", "env.num_envs=8", "train.num_steps=4"]


def test_gae_masks_reset_steps_and_bootstraps_truncations():
    # one env, 5 steps: step 1 terminates, step 2 is the reset step, step 3 is truncated, 4 resets
    r = torch.tensor([[1.0], [2.0], [0.0], [3.0], [0.0]])
    v = torch.tensor([[0.5], [0.4], [9.0], [0.2], [7.0], [0.1]])  # v[3+1] = value of the final obs
    term = torch.tensor([[0.0], [1.0], [0.0], [0.0], [0.0]])
    trunc = torch.tensor([[0.0], [0.0], [0.0], [1.0], [0.0]])
    valid = torch.tensor([[1.0], [1.0], [0.0], [1.0], [0.0]])
    g, lam = 0.9, 0.5
    adv, ret = gae(r, v, term, trunc, valid, g, lam)
    d1 = 2.0 - 0.4  # terminated: no bootstrap
    d0 = 1.0 + g * 0.4 - 0.5
    d3 = 3.0 + g * 7.0 - 0.2  # truncated: bootstraps the real final observation
    expect = torch.tensor([[d0 + g * lam * d1], [d1], [0.0], [d3], [0.0]])
    assert torch.allclose(adv, expect)
    assert torch.allclose(ret, expect + v[:-1])


def _params(agent):
    return torch.cat([p.detach().flatten() for p in agent.state_dict().values() if p.is_floating_point()])


def _rows(run_dir):
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("time", "sps")} for r in rows]


class _Kill(Exception):
    pass


@pytest.mark.parametrize("env_id,extra", [
    ("BrainSet/OrientationDiscriminationEasy-v0", [*TINY_CONV, "train.total_steps=256"]),
    ("CartPole-v1", ["arch.name=mlp+gru", "arch.core_hidden=8", "arch.mlp_hidden=[16]", "env.num_envs=4",
                     "train.num_steps=16", "train.bptt_len=8", "train.total_steps=384"]),
    # intrinsic objectives keep state between updates (visit counts, running statistics, the empowerment
    # replay memory and warmup count): resumed past the warmup, the frozen memory must come back
    ("BrainSet/EmpowermentGrid-v0", ["objective.spec=empowerment+0.5*count", "arch.mlp_hidden=[16]",
                                     "objective.kwargs={empowerment: {n: 2, warmup: 100, replay: 64, hidden: [16]}}",
                                     "env.num_envs=4", "train.num_steps=16", "train.total_steps=384"]),
    ("BrainSet/EmpowermentGrid-v0", ["objective.spec=curiosity+rnd", "arch.mlp_hidden=[16]", "env.num_envs=4",
                                     "train.num_steps=16", "train.total_steps=384"]),
])
def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path, env_id, extra):
    cfg = _cfg(env_id, tmp_path / "a", *extra, "run.eval_every=64", "run.eval_episodes=6",
               "run.checkpoint_every=1")
    full = train(cfg)

    cfg_b = _cfg(env_id, tmp_path / "b", *extra, "run.eval_every=64", "run.eval_episodes=6",
                 "run.checkpoint_every=1")

    def kill(info):
        if info["loop"].update == 4:  # dies after update 4's work, before its checkpoint
            raise _Kill

    with pytest.raises(_Kill):
        train(cfg_b, callback=kill)
    run_b = next((tmp_path / "b").iterdir())
    assert load_checkpoint(run_b / "checkpoints" / "last.pt")["counters"]["update"] == 3
    resumed = train(cfg_b, resume=run_b)
    assert resumed.global_step == full.global_step and resumed.updates == full.updates
    assert torch.equal(_params(full.agent), _params(resumed.agent))
    assert _rows(run_b) == _rows(full.run_dir)  # metrics written after the checkpoint were replaced
    assert (run_b / "command.txt").read_text().count("\n") == 2


class _NanAfter(RewardObjective):
    """The reward objective, but its loss becomes NaN from the 3rd update on (a test objective)."""

    name = "nan_after_test"

    def __init__(self, **kw):
        super().__init__(**kw)
        self.calls = 0

    def prepare(self, rollout, agent):
        super().prepare(rollout, agent)
        self.calls += 1

    def loss(self, batch, outputs):
        loss, m = super().loss(batch, outputs)
        return (loss * math.nan if self.calls >= 3 else loss), m


def test_nan_detection_stops_with_message_and_keeps_last_good_checkpoint(tmp_path):
    register_objective("nan_after_test", _NanAfter)
    cfg = _cfg("CartPole-v1", tmp_path, "objective.spec=nan_after_test", "env.num_envs=4",
               "train.num_steps=16", "run.checkpoint_every=1", "train.total_steps=640")
    with pytest.raises(NonFiniteError, match=r"non-finite loss or gradient at update 3 .*last\.pt"):
        train(cfg)
    run = next(tmp_path.iterdir())
    ck = load_checkpoint(run / "checkpoints" / "last.pt")
    assert ck["counters"]["update"] == 2
    assert all(torch.isfinite(v).all() for v in ck["model"].values() if v.is_floating_point())
    assert len(_rows(run)) == 2  # the failed update logged nothing


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"w": torch.ones(3)})
    import brainset_envs.core.files as files

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(files.os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"w": torch.zeros(3)})
    assert torch.equal(load_checkpoint(path)["w"], torch.ones(3))  # the old checkpoint is intact
    monkeypatch.undo()
    save_checkpoint(path, {"w": torch.full((3,), 2.0)})
    assert torch.equal(load_checkpoint(path)["w"], torch.full((3,), 2.0))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]  # no temporary file left behind


def test_run_folder_contents_and_load_agent(tmp_path):
    cfg = _cfg("BrainSet/OrientationDiscriminationEasy-v0", tmp_path, *TINY_CONV, "train.total_steps=128",
               "run.video=true", "run.video_episodes=3", "run.eval_episodes=8")
    res = train(cfg, command="train.py --test")
    d = res.run_dir
    assert d.name.startswith("BrainSet_OrientationDiscriminationEasy-v0__hierarchical-reward-backprop__0__")
    assert (d / "command.txt").read_text() == "train.py --test\n"
    assert (d / "config.yaml").exists() and (d / "learning_curve.png").read_bytes()[:4] == b"\x89PNG"
    header = (d / "metrics.csv").read_text().splitlines()[0].split(",")
    assert {"step", "sps", "train/episode_return", "eval/return", "pg_loss"} <= set(header)
    events = list((d / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set(EventAccumulator(str(events[0])).Reload().Tags()["scalars"])
    assert {"eval/return", "train/episode_return", "pg_loss"} <= tags
    video = d / "video.mp4"
    assert video.exists() and video.stat().st_size > 1000
    import imageio.v3 as iio

    frames = iio.imread(video)
    assert frames.shape[0] == 3 * 2 and frames.shape[-1] == 3  # 3 one-step episodes: 2 frames each
    agent = load_agent(d)
    assert agent.config == cfg and agent.checkpoint_step == 128
    obs = torch.as_tensor(np.random.default_rng(0).integers(0, 255, (5, 64, 64, 1), dtype=np.uint8))
    best = load_checkpoint(d / "checkpoints" / "best.pt")
    ref = load_agent(d / "checkpoints" / "best.pt")
    assert torch.equal(agent(obs).logits, ref(obs).logits) and best["counters"]["global_step"] == 128
    acts = agent(obs, return_activations=True).activations
    assert list(acts)[:4] == ["V1", "V2", "V4", "IT"]
    from agents.cli import render_main

    assert render_main(["--checkpoint", str(d), "--episodes", "2", "--out", str(tmp_path / "r.gif")]) == 0
    assert len(iio.imread(tmp_path / "r.gif")) == 4


def test_cli_trains_then_resumes_the_same_run(tmp_path):
    import subprocess
    import sys

    root = ROOT
    base = [sys.executable, str(root / "scripts" / "train.py"), "--env", "CartPole-v1", "--arch", "mlp",
            "--seed", "3", "--runs-dir", str(tmp_path), "--no-video", "--no-progress", "--device", "cpu",
            "env.num_envs=4", "train.num_steps=16", "run.checkpoint_every=64", "run.eval_episodes=4"]
    env = {"PYTHONPATH": str(root), "PATH": "", "MPLBACKEND": "Agg"}
    first = subprocess.run([*base, "--total-steps", "128"], capture_output=True, text=True, env=env,
                           cwd=tmp_path, timeout=300)
    assert first.returncode == 0, first.stderr
    (run,) = list(tmp_path.iterdir())
    assert run.name.startswith("CartPole-v1__mlp-reward-backprop__3__")
    assert load_checkpoint(run / "checkpoints" / "last.pt")["counters"]["global_step"] == 128
    second = subprocess.run([*base, "--total-steps", "256", "--resume"], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=300)
    assert second.returncode == 0, second.stderr
    assert list(tmp_path.iterdir()) == [run]  # continued in the same folder
    assert load_checkpoint(run / "checkpoints" / "last.pt")["counters"]["global_step"] == 256
    assert [r["step"] for r in _rows(run)] == [64, 128, 192, 256]
    lines = (run / "command.txt").read_text().splitlines()
    assert len(lines) == 2 and lines[1].endswith("--resume")


class _DictCartPole:
    """CartPole with a Dict observation {'pos': (x, theta), 'vel': (x_dot, theta_dot)} (a test env)."""

    @staticmethod
    def make(**kwargs):
        import gymnasium as gym
        from gymnasium import spaces

        env = gym.make("CartPole-v1", **kwargs)
        box = env.observation_space
        space = spaces.Dict({"pos": spaces.Box(box.low[[0, 2]], box.high[[0, 2]], dtype=np.float32),
                             "vel": spaces.Box(box.low[[1, 3]], box.high[[1, 3]], dtype=np.float32)})
        return gym.wrappers.TransformObservation(env, lambda o: {"pos": o[[0, 2]], "vel": o[[1, 3]]}, space)


@pytest.mark.parametrize("env_id,arch", [("Pendulum-v1", "mlp"), ("AgentsTest/DictCartPole-v0", "auto+lstm"),
                                         ("CartPole-v1", "mlp+rnn_relu")])
def test_box_actions_dict_observations_and_cores_train(tmp_path, env_id, arch):
    import gymnasium as gym

    if env_id not in gym.registry:
        gym.register(env_id, entry_point=_DictCartPole.make, max_episode_steps=500)
    cfg = _cfg(env_id, tmp_path, f"arch.name={arch}", "env.num_envs=4", "train.num_steps=16",
               "train.bptt_len=8", "train.total_steps=256", "run.eval_episodes=2", "run.runs_dir=''")
    import agents.architectures as A
    from agents.build import build_components
    from agents.trainer import make_vec_env

    envs = make_vec_env(env_id, 1)
    torch.manual_seed(cfg.run.seed)
    init, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
    res = train(cfg)
    assert isinstance(res.agent, A.Agent) and res.global_step == 256 and math.isfinite(res.last_eval)
    after = _params(res.agent)
    assert torch.isfinite(after).all() and not torch.equal(after, _params(init))
