"""The command-line scripts answer ordinary mistakes with a one-line usage error (exit status 2) that
names the option, the value and what is allowed, before any run folder or output file exists."""

from __future__ import annotations

import os
import subprocess
import sys
import weakref
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import brainset_envs
from agents.objectives import available_objectives
from agents.rules import available_rules
from tests import ROOT


def _usage_error(main, argv, capsys) -> str:
    """Run ``main(argv)`` in-process; it must exit with status 2; returns stderr."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2, info.value.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "error:" in err
    return err


def _nothing_in(path: Path) -> bool:
    return not path.exists() or not any(path.iterdir())


# --- train.py -------------------------------------------------------------------------------------------

TRAIN_CASES = [
    (["--env", "Nope-v0"], ["--env", "Nope-v0", "BrainSet/OrientationDiscrimination-v0"]),
    (["--env", "BrainSet/Nope-v0"], ["--env", "BrainSet/Nope-v0", "BrainSet/PatchForaging-v0"]),
    (["--arch", "transformer"], ["--arch", "transformer", "hierarchical", "mlp", "gru"]),
    (["--objective", "bogus"], ["--objective", "bogus", *available_objectives()]),
    (["--rule", "bogus"], ["--rule", "bogus", *available_rules()]),
    (["--seed", "-1"], ["--seed", "-1", "2**63 - 1"]),
    (["--total-steps", "0"], ["--total-steps", "0", ">= 1"]),
    (["--total-steps", "-5"], ["--total-steps", "-5", ">= 1"]),
    (["--num-envs", "0"], ["--num-envs", "0", ">= 1"]),
    (["--device", "tpu"], ["--device", "tpu", "cuda:N"]),
    (["train.lr=nan"], ["train.lr", "nan", "finite"]),
    (["train.lr=-1"], ["train.lr", "-1", "> 0"]),
    (["run.eval_envs=0"], ["run.eval_envs", "0"]),
    (["arch.channels=[16, 0, 8, 8]"], ["arch.channels", ">= 1"]),
    (["env.kwargs={noise_std: -1}"], ["env.kwargs", "noise_std"]),
    (["rule.kwargs={bogus: 1}"], ["rule.kwargs", "backprop"]),
    (["objective.kwargs={reward: {bogus: 1}}"], ["objective.kwargs", "bogus"]),
    (["env.kwargs={noise_std: ["], ["env.kwargs", "YAML"]),
    (["trainer.lr=1"], ["trainer", "allowed"]),
    (["train.lr"], ["train.lr", "section.key=value"]),
    (["--config", "/no/such/file.yaml"], ["--config", "/no/such/file.yaml"]),
    (["--resume", "/no/such/run"], ["--resume", "last.pt"]),
]


@pytest.mark.parametrize("argv, words", TRAIN_CASES, ids=[" ".join(c[0]) for c in TRAIN_CASES])
def test_train_rejects_bad_options_before_any_run_folder(argv, words, tmp_path, capsys):
    from agents.cli import train_main

    runs = tmp_path / "runs"
    err = _usage_error(train_main, [*argv, "--runs-dir", str(runs), "--no-progress"], capsys)
    for w in words:
        assert w in err, (w, err)
    assert _nothing_in(runs), "a run folder was created"
    assert len(err.strip().splitlines()[-1]) > 0 and ": error:" in err  # prog: test_cli checks it


def test_train_rejects_a_missing_cuda_device(tmp_path, capsys):
    import torch

    from agents.cli import train_main

    device = f"cuda:{torch.cuda.device_count() + 7}"
    err = _usage_error(train_main, ["--device", device, "--runs-dir", str(tmp_path / "r")], capsys)
    assert "--device" in err and device in err
    assert _nothing_in(tmp_path / "r")


# --- fig4.py --------------------------------------------------------------------------------------------

FIG4_CASES = [
    (["--rule", "bogus"], ["--rule", "bogus", *available_rules()]),
    (["--objective", "bogus"], ["--objective", "bogus", "reward"]),
    (["--set", "lr=-1"], ["--set", "lr=-1", "> 0"]),
    (["--set", "lr=nan"], ["--set", "lr=nan", "finite"]),
    (["--set", "train_steps=0"], ["train_steps=0", ">= 1"]),
    (["--set", "no_such_field=1"], ["no_such_field", "train_steps"]),
    (["--set", "pretrain_rule=bogus"], ["pretrain_rule", "same", "backprop"]),
    (["--seeds", "0"], ["--seeds", ">= 1"]),
    (["--train-steps", "-3"], ["--train-steps", "-3"]),
    (["--num-threads", "0"], ["--num-threads", "0"]),
    (["--device", "tpu"], ["--device", "tpu"]),
    (["--rule-kwargs", "[1]"], ["--rule-kwargs", "mapping"]),
]


@pytest.mark.parametrize("argv, words", FIG4_CASES, ids=[" ".join(c[0]) for c in FIG4_CASES])
def test_fig4_rejects_bad_options_before_any_run_folder(argv, words, tmp_path, capsys):
    from scripts.fig4 import main

    err = _usage_error(main, ["--quick", *argv, "--runs-dir", str(tmp_path / "runs")], capsys)
    for w in words:
        assert w in err, (w, err)
    assert _nothing_in(tmp_path / "runs")


# --- render.py ------------------------------------------------------------------------------------------

RENDER_CASES = [
    (["--env", "Nope-v0"], ["--env", "Nope-v0", "BrainSet/OrientationDiscrimination-v0"]),
    (["--policy", "bogus"], ["--policy", "bogus", "random", "oracle"]),
    (["--episodes", "-1"], ["--episodes", "-1", ">= 1"]),
    (["--episodes", "0"], ["--episodes", "0", ">= 1"]),
    (["--fps", "0"], ["--fps", "> 0"]),
    (["--fps", "-5"], ["--fps", "-5", "> 0"]),
    (["--hold", "0"], ["--hold", ">= 1"]),
    (["--kwargs", "[1]"], ["--kwargs", "dict"]),
    (["--kwargs", '{"noise_std": -1}'], ["--kwargs", "noise_std"]),
    (["--env", "CartPole-v1", "--policy", "oracle"], ["--policy", "oracle"]),
]


@pytest.mark.parametrize("argv, words", RENDER_CASES, ids=[" ".join(c[0]) for c in RENDER_CASES])
def test_render_rejects_bad_options_before_any_output(argv, words, tmp_path, capsys):
    from scripts.render import main

    err = _usage_error(main, [*argv, "--out", str(tmp_path / "out" / "v.gif")], capsys)
    for w in words:
        assert w in err, (w, err)
    assert _nothing_in(tmp_path / "out")


def test_render_rejects_other_suffixes_and_checkpoint_mistakes(tmp_path, capsys):
    from scripts.render import main

    err = _usage_error(main, ["--out", str(tmp_path / "x.txt")], capsys)
    assert "--out" in err and "x.txt" in err and ".mp4" in err and ".gif" in err
    err = _usage_error(main, ["--checkpoint", str(tmp_path / "nothing")], capsys)
    assert "--checkpoint" in err and "nothing" in err
    for argv, word in ((["--episodes", "0"], "--episodes"), (["--device", "tpu"], "--device"),
                       (["--out", "v.avi"], "--out")):
        err = _usage_error(main, ["--checkpoint", str(tmp_path), *argv], capsys)
        assert word in err
    assert not list(tmp_path.iterdir())


def test_record_episodes_streams_frames_to_the_writer(tmp_path):
    """Frames go to the writer as they are rendered: at most a few are alive at any time."""
    from brainset_envs.recording import record_episodes

    alive: list[weakref.ref] = []
    peak = [0]

    class Counting(gym.Wrapper):
        def render(self):
            frame = np.array(self.env.render())
            alive.append(weakref.ref(frame))
            peak[0] = max(peak[0], sum(r() is not None for r in alive))
            return frame

    env = Counting(gym.make("BrainSet/OrientationDiscrimination-v0", render_mode="rgb_array", trials_per_episode=3))
    res = record_episodes(env, tmp_path / "v.mp4", n_episodes=6, policy="random", seed=0)
    assert res["frames"] == 24 and peak[0] <= 3, peak[0]
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"]


@pytest.mark.parametrize("kwargs, word", [({"n_episodes": 0}, "n_episodes"), ({"n_episodes": -1}, "n_episodes"),
                                          ({"fps": 0}, "fps"), ({"fps": -5}, "fps"), ({"fps": float("nan")}, "fps"),
                                          ({"hold_frames": 0}, "hold_frames"), ({"max_frames": 0}, "max_frames")])
def test_record_episodes_refuses_bad_counts_before_writing(kwargs, word, tmp_path):
    from brainset_envs.recording import record_episodes

    env = gym.make("BrainSet/OrientationDiscrimination-v0", render_mode="rgb_array")
    with pytest.raises(ValueError, match=word):
        record_episodes(env, tmp_path / "v.mp4", **kwargs)
    assert not list(tmp_path.iterdir())


# --- fig2.py, play.py, benchmark.py ---------------------------------------------------------------------


@pytest.mark.parametrize("argv, words", [
    (["--epochs", "0"], ["--epochs", "0"]), (["--rules", "bogus"], ["--rules", "bogus", "backprop"]),
    (["--hidden", "0"], ["--hidden"]), (["--assets", "x.jpg"], ["--assets", ".png"]),
    (["--env", "Nope-v0"], ["--env", "Nope-v0"]), (["--seeds", "0"], ["--seeds", "'0'", "count >= 1"]),
    (["--knobs", "ep_beta=x:y"], ["--knobs", "ep_beta=x:y", "floats"]), (["--knobs", "nope"], ["--knobs", "ep_beta"]),
    (["--env", "BrainSet/PatchForaging-v0", "--seeds", "3"], ["--seeds", "digits only"]),
])
def test_fig2_rejects_bad_options(argv, words, tmp_path, capsys):
    from scripts.fig2 import main

    err = _usage_error(main, [*argv, "--runs-dir", str(tmp_path / "runs")], capsys)
    for w in words:
        assert w in err, (w, err)
    assert _nothing_in(tmp_path / "runs")


def test_fig2_writes_into_its_run_folder_only(tmp_path, monkeypatch):
    """No tracked assets/fig2.png is overwritten unless --assets asks for it."""
    import agents.experiments.fig2_knobs as fig2_knobs
    from scripts.fig2 import main

    stub = {"task": "digits", "rules": {}, "seeds": [0], "curves": {}, "seconds": 0.0}
    monkeypatch.setattr(fig2_knobs, "run_fig2_study", lambda *a, **k: dict(stub))
    monkeypatch.setattr(fig2_knobs, "plot_study", lambda result: __import__("matplotlib.pyplot").pyplot.figure())
    monkeypatch.setattr(fig2_knobs, "study_lines", lambda result: [])
    monkeypatch.chdir(tmp_path)
    assert main(["--task", "digits", "--runs-dir", "runs"]) == 0
    assert not (tmp_path / "assets").exists()
    [run] = (tmp_path / "runs").iterdir()
    assert sorted(p.name for p in run.iterdir()) == ["fig2.json", "fig2.png"]
    assert main(["--task", "digits", "--runs-dir", "runs", "--assets", "assets/fig2.png"]) == 0
    assert (tmp_path / "assets" / "fig2.png").is_file() and (tmp_path / "assets" / "fig2.json").is_file()


def test_play_without_a_display_says_so(capsys, monkeypatch):
    from brainset_envs.play import display_problem, main, play

    assert "SDL_VIDEODRIVER" in display_problem({"SDL_VIDEODRIVER": "dummy", "DISPLAY": ":0"}, "linux")
    assert "DISPLAY" in display_problem({}, "linux")
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert display_problem({}, "darwin") is None
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    err = _usage_error(main, [], capsys)
    assert "no display" in err
    with pytest.raises(RuntimeError, match="no display"):
        play("BrainSet/OrientationDiscrimination-v0")
    err = _usage_error(main, ["Nope-v0"], capsys)
    assert "Nope-v0" in err and "BrainSet/OrientationDiscrimination-v0" in err
    err = _usage_error(main, ["--trials", "0"], capsys)
    assert "--trials" in err


def test_benchmark_check_exits_1_and_names_missed_targets(tmp_path, monkeypatch, capsys):
    import agents.experiments.bench_cli as bench

    def section(args):
        return {"env_targets": [
            {"env": "BrainSet/A-v0", "metric": "single", "value": 5.0, "target": 10, "ok": False},
            {"env": "BrainSet/B-v0", "metric": "single", "value": 50.0, "target": 10, "ok": True}]}

    monkeypatch.setattr(bench, "env_section", section)
    out = str(tmp_path / "b.json")
    assert bench.main(["--out", out]) == 0  # reports only
    assert bench.main(["--out", out, "--check"]) == 1
    err = capsys.readouterr().err
    assert "BrainSet/A-v0" in err and "BrainSet/B-v0" not in err
    for argv, word in ((["--seconds", "0"], "--seconds"), (["--envs", "Nope"], "--envs"),
                       (["--sizes", "0"], "--sizes"), (["--out", "x.txt"], "--out")):
        assert word in _usage_error(bench.main, argv, capsys)


# --- real subprocesses: exit status 2, one line, no traceback -------------------------------------------


def _script(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd)


@pytest.mark.parametrize("script, argv, words", [
    ("train.py", ["--env", "Nope-v0"], ["--env", "Nope-v0"]),
    ("train.py", ["--seed", "-1", "train.lr=nan"], ["--seed", "-1"]),
    ("render.py", ["--episodes", "0", "--out", "v.gif"], ["--episodes"]),
    ("fig4.py", ["--set", "lr=-1"], ["--set", "lr=-1"]),
])
def test_scripts_exit_2_without_a_traceback(script, argv, words, tmp_path):
    res = _script(str(ROOT / "scripts" / script), *argv, "--runs-dir" if script != "render.py" else "--seed",
                  "runs" if script != "render.py" else "0", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith(f"{script}: error:") and all(w in last for w in words), last
    assert not list(tmp_path.iterdir()), "something was written"


def test_env_ids_in_messages_come_from_the_registry():
    from brainset_envs.core.ids import env_id_error

    message = env_id_error("BrainSet/Nope-v0")
    assert all(i in message for i in brainset_envs.env_ids())
    assert env_id_error("CartPole-v1") is None
