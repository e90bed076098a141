"""Recording, keyboard play, the benchmark helpers and the command-line scripts."""

import json
import subprocess
import sys

import gymnasium as gym
import imageio.v2 as imageio
import numpy as np
import pytest

import brainset_envs
from brainset_envs import benchmark as bm
from brainset_envs.play import play
from brainset_envs.recording import record_episodes
from tests import ROOT


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_record_episodes_writes_a_readable_video(tmp_path, suffix):
    env = gym.make("BrainSet/OrientationDiscrimination-v0", render_mode="rgb_array", trials_per_episode=3)
    res = record_episodes(env, tmp_path / f"v{suffix}", n_episodes=2, policy="oracle", seed=0)
    assert res["returns"] == [3.0, 3.0]  # the oracle answers every trial correctly
    frames = imageio.mimread(res["path"], memtest=False)
    assert len(frames) == res["frames"] == 8
    assert frames[0].shape[:2] == (296, 256)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"v{suffix}"], "temporary file left behind"


def test_record_rejects_bad_arguments(tmp_path):
    env = gym.make("BrainSet/OrientationDiscrimination-v0", render_mode="rgb_array")
    with pytest.raises(ValueError, match="path"):
        record_episodes(env, tmp_path / "v.avi")
    with pytest.raises(ValueError, match="policy"):
        record_episodes(env, tmp_path / "v.gif", policy="clever")
    with pytest.raises(ValueError, match="render_mode"):
        record_episodes(gym.make("BrainSet/OrientationDiscrimination-v0"), tmp_path / "v.gif")


def test_play_with_scripted_keys_reports_a_psychometric_table(capsys):
    keys = ["right", "left", "x", "right", "left"] * 8
    res = play("BrainSet/OrientationDiscrimination-v0", n_trials=40, seed=0, keys=keys,
               env_kwargs={"offset_deg": [1.0, 10.0]})
    assert res["steps"] == 32  # "x" is not mapped and is ignored
    assert sum(res["n_trials"]) == 32 and res["offsets"] == [1.0, 10.0]
    assert 0 <= res["total_reward"] <= 32
    assert "offset (deg)" in capsys.readouterr().out


def test_play_quits_on_escape():
    res = play("BrainSet/OrientationDiscrimination-v0", keys=["right", "escape", "right"], verbose=False)
    assert res["steps"] == 1


def test_benchmark_helpers_measure_and_check_targets(tmp_path):
    rate = bm.single_env_rate("BrainSet/OrientationDiscrimination-v0", seconds=0.05)
    vec = bm.vector_env_rate("BrainSet/OrientationDiscrimination-v0", 8, "vector_entry_point", seconds=0.05)
    assert rate > 0 and vec > 0
    checks = bm.evaluate_targets({"BrainSet/OrientationDiscrimination-v0": {
        "single": 20_000.0, "native_1024": 100.0, "sync_1024": 50.0,
        "block_native_1024_images": 3.0, "noise_1024_images": 4.0}})
    by_metric = {c["metric"]: c for c in checks}
    assert by_metric["single"]["ok"] and not by_metric["native_1024/sync_1024"]["ok"]
    assert by_metric["block_native_1024_images/noise_1024_images"]["value"] == pytest.approx(0.75)
    bm.write_json({"x": np.float32(1.5)}, tmp_path / "b.json")
    assert json.loads((tmp_path / "b.json").read_text()) == {"x": 1.5}


def _script(*args, timeout=300):
    env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "MPLBACKEND": "Agg",
           "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=ROOT)


def test_render_script(tmp_path):
    out = tmp_path / "o.gif"
    res = _script("scripts/render.py", "--episodes", "2", "--policy", "oracle", "--out", str(out),
                  "--kwargs", '{"trials_per_episode": 2}')
    assert res.returncode == 0, res.stderr
    assert "wrote" in res.stdout and out.exists()


def test_benchmark_script_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    res = _script("scripts/benchmark.py", "--envs", "OrientationDiscriminationEasy", "--seconds", "0.02",
                  "--sizes", "1", "8", "--out", str(out))
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    m = data["envs"]["BrainSet/OrientationDiscriminationEasy-v0"]
    assert m["single"] > 0 and m["native_8"] > 0 and m["sync_8"] > 0
    assert data["references"]["CartPole-v1"]["single"] > 0


def test_demo_writes_video_and_plot(tmp_path):
    from brainset_envs.demo import run_demo

    summary = run_demo(tmp_path, episodes=1, trials=2)
    assert (tmp_path / "orientation.mp4").stat().st_size > 0
    assert (tmp_path / "ideal_observer.png").stat().st_size > 0
    assert 0.05 < summary["ideal_threshold_deg"] < 2.0


@pytest.mark.parametrize("env_id", [i for i in brainset_envs.env_ids()
                                    if hasattr(gym.make(i).unwrapped, "oracle_action")])
def test_oracle_policy_beats_random(env_id):
    """Tasks with a ground-truth policy expose it as ``oracle_action``; it must outscore random actions."""
    oracle, random = (_returns(gym.make(env_id), p) for p in ("oracle", "random"))
    assert oracle > random + 0.1, (oracle, random)


def _returns(env, policy, episodes=6, seed=1):
    from brainset_envs.recording import make_policy

    pol = make_policy(policy, env)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    totals = []
    for _ in range(episodes):
        total = 0.0
        for _ in range(300):
            obs, r, term, trunc, info = env.step(pol(obs, info))
            total += r
            if term or trunc:
                break
        totals.append(total)
        obs, info = env.reset()
    return float(np.mean(totals))
