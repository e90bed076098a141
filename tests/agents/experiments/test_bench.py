"""Trainer benchmark wiring: the report's ratios, lower bounds and targets; SB3's early stop; the
benchmark JSON's sections (scripts/benchmark.py --learning / --trainer)."""

import json
import math
import subprocess
import sys

import pytest

from agents.experiments import bench_trainer as bench
from brainset_envs.benchmark import merge_sections
from tests import ROOT


def test_trainer_report_ratios_lower_bounds_and_targets(monkeypatch):
    calls = []
    monkeypatch.setattr(bench, "trainer_throughput", lambda env_id, steps, arch: {"steps_per_second": 40_000.0})
    monkeypatch.setattr(bench, "sb3_throughput", lambda env_id, steps: {"steps_per_second": 2_500.0})
    monkeypatch.setattr(bench, "_warm_up", lambda env_id, policy: calls.append(("warm", env_id, policy)))

    def ours(env_id, target, seed, eval_episodes, max_steps, eval_every):
        calls.append(("ours", env_id, seed))
        return {"reached": True, "seconds": 1.0 + seed, "steps": 4096, "eval_return": target}

    def sb3(env_id, target, seed, eval_episodes, policy, max_steps, eval_every):
        calls.append(("sb3", env_id, seed, policy))
        orient = "Orientation" in env_id
        return {"reached": orient, "seconds": 30.0 if orient else 4.0, "steps": max_steps,
                "eval_return": target if orient else 0.7 * target}

    monkeypatch.setattr(bench, "trainer_time_to_target", ours)
    monkeypatch.setattr(bench, "sb3_time_to_target", sb3)
    out = bench.trainer_report(seeds=(0, 1))
    pf, orient = "BrainSet/PatchForaging-v0", "BrainSet/OrientationDiscriminationEasy-v0"
    assert out["throughput"][pf]["ratio"] == pytest.approx(16.0)
    t_pf, t_or = out["time_to_target"][pf], out["time_to_target"][orient]
    assert t_pf["ours_seconds"] == pytest.approx(1.5) and t_pf["speedup"] == pytest.approx(4.0 / 1.5)
    assert t_pf["speedup_is_lower_bound"] and not t_or["speedup_is_lower_bound"]
    assert t_pf["target"] == pytest.approx(0.8 * 2.2735 * 390, rel=1e-4)  # 0.8 rho* per 390 s block
    assert ("sb3", orient, 1, "CnnPolicy") in calls and ("sb3", pf, 0, "MlpPolicy") in calls
    assert calls.index(("warm", pf, "MlpPolicy")) < calls.index(("ours", pf, 0))  # warm-up before timing
    checks = {(c["env"], c["metric"]): c for c in out["targets"]}
    assert checks[(pf, "ours_steps_per_second/sb3_steps_per_second")]["ok"]  # 16x >= 10x
    assert not checks[(pf, "sb3_seconds_to_target/ours_seconds_to_target")]["ok"]  # 2.7x < 3x
    assert checks[(orient, "sb3_seconds_to_target/ours_seconds_to_target")]["value"] == pytest.approx(20.0)
    assert len(out["machine"]["load_average_before"]) == 3


def test_trainer_report_without_reaching_the_target_has_no_ratio(monkeypatch):
    monkeypatch.setattr(bench, "_warm_up", lambda env_id, policy: None)
    monkeypatch.setattr(bench, "trainer_time_to_target", lambda env_id, target, seed, **k: {
        "reached": False, "seconds": 9.0, "steps": 1, "eval_return": 0.0})
    monkeypatch.setattr(bench, "sb3_time_to_target", lambda env_id, target, seed, **k: {
        "reached": True, "seconds": 90.0, "steps": 1, "eval_return": target})
    out = bench.trainer_report(seeds=(0,), throughput_envs=(), time_envs=("BrainSet/PatchForaging-v0",))
    (check,) = [c for c in out["targets"] if "seconds" in c["metric"]]
    assert check["value"] is None and not check["ok"]


def test_sb3_time_to_target_stops_at_the_first_evaluation_that_reaches_it():
    res = bench.sb3_time_to_target("BrainSet/PatchForaging-v0", target=-1e9, max_steps=100_000, eval_every=0,
                                   eval_episodes=4)
    assert res["reached"] and res["steps"] <= 8  # evaluated before the first rollout, stopped at once
    assert math.isfinite(res["eval_return"])


def test_merge_sections_keeps_other_sections_and_rebuilds_targets(tmp_path):
    path = tmp_path / "b.json"
    merge_sections(path, {"envs": {"X": {"single": 1.0}}, "env_targets": [
        {"env": "X", "metric": "single", "value": 1.0, "target": 2.0, "ok": False}]})
    data = merge_sections(path, {"learning": {"checks": {"c": {
        "env": "Y", "metric": "accuracy", "reached": 0.95, "target": 0.9, "target_rule": ">= 0.9", "ok": True}}}})
    assert data == json.loads(path.read_text())
    assert data["envs"] == {"X": {"single": 1.0}}  # kept from the earlier run
    assert [(t["section"], t["ok"]) for t in data["targets"]] == [("envs", False), ("learning", True)]


def test_benchmark_script_learning_section(tmp_path):
    out = tmp_path / "bench.json"
    out.write_text(json.dumps({"envs": {"kept": {}}}))
    env = {"SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    res = subprocess.run([sys.executable, "scripts/benchmark.py", "--learning", "--checks", "patch_foraging",
                          "--out", str(out)], capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    data = json.loads(out.read_text())
    c = data["learning"]["checks"]["patch_foraging"]
    assert c["ok"] and c["reached"] >= 0.8 and c["budget"]["total_steps"] == 60_000
    assert c["steps_per_second"] > 0 and c["train_seconds"] > 0
    assert len(data["learning"]["machine"]["load_average"]) == 3
    assert data["envs"] == {"kept": {}} and "[ok] learning" in res.stdout
