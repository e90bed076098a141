"""Trainer benchmark wiring: the report's ratios, lower bounds and targets; SB3's early stop; the
benchmark JSON's sections (scripts/benchmark.py --learning / --trainer)."""

import json
import math
import subprocess
import sys
import time

import pytest

from agents.experiments import bench_trainer as bench
from brainset_envs.benchmark import merge_sections
from tests import ROOT

PF, ORIENT, CARTPOLE = "BrainSet/PatchForaging-v0", "BrainSet/OrientationDiscriminationEasy-v0", "CartPole-v1"
FAKE_CLEANRL = '''"""Stands in for CleanRL's ppo.py: tyro-style options, one 'SPS:' line per iteration."""
import sys, time
opts = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
n, t = int(opts.get("num-envs", 4)), int(opts.get("num-steps", 128))
start = time.time()
for it in range(1, int(opts["total-timesteps"]) // (n * t) + 1):
    time.sleep(0.002)
    print("SPS:", int(it * n * t / (time.time() - start)), flush=True)
print("options", sorted(opts), file=sys.stderr)
'''


def _fake_measurements(monkeypatch, calls, ours_sps=40_000.0, sb3_sps=10_000.0, ideal=50_000.0):
    """Replace every measurement of the trainer report by constants, recording the calls in order."""
    def median(run, steps, warm_steps, repeats=3):
        calls.append(("median", run.__name__, steps, warm_steps, repeats))
        return run(steps)

    def ours_run(env_id, setting):
        def ours(steps):
            calls.append(("ours", env_id, setting is None))
            return {"steps": steps, "seconds": 1.0, "steps_per_second": ours_sps, "valid_steps_per_second": ours_sps}
        return ours

    def sb3_run(env_id, setting):
        def sb3(steps):
            calls.append(("sb3", env_id, setting is None))
            return {"steps": steps, "seconds": 1.0, "steps_per_second": sb3_sps}
        return sb3

    monkeypatch.setattr(bench.bl, "median_of_repeats", median)
    monkeypatch.setattr(bench.bl, "ours_run", ours_run)
    monkeypatch.setattr(bench.bl, "sb3_run", sb3_run)
    monkeypatch.setattr(bench.bl, "param_counts", lambda env_id, s: {"ours": 9155, "sb3": 9155})
    monkeypatch.setattr(bench.bl, "ideal_rate", lambda env_id, s, min_seconds, valid_fraction=1.0: {
        "env_seconds_per_step": 0.1 / ideal, "act_seconds_per_step": 0.1 / ideal,
        "update_seconds_per_step": 0.8 / ideal, "shares": {}})
    monkeypatch.setattr(bench.bl, "profile_run", lambda env_id, s, steps: {
        "env": env_id, "steps": steps, "total_seconds": 1.0, "top_cumulative": [
            {"function": "trainer.py:1(train)", "cumulative_seconds": 1.0, "cumulative_share": 1.0}]})


def test_trainer_report_like_for_like_defaults_ideal_profile_and_targets(monkeypatch):
    calls: list = []
    _fake_measurements(monkeypatch, calls)
    out = bench.trainer_report(settings=(PF, ORIENT), defaults_envs=(PF,))
    row = out["like_for_like"][PF]
    assert row["ours_over_sb3"] == pytest.approx(4.0) and row["parameters"]["ours"] == row["parameters"]["sb3"]
    assert "no --cleanrl PATH" in row["cleanrl"]["skipped"]  # skipped with a note, never silently
    assert "MLPs only" in out["like_for_like"][ORIENT]["cleanrl"]["skipped"]
    assert out["ideal"][PF]["fraction"] == pytest.approx(0.8)
    assert set(out["ideal"][PF]["shares"]) == {"env", "act", "update"}
    assert "not like for like" in out["defaults"][PF]["note"]
    assert ("sb3", PF, True) in calls and ("ours", PF, True) in calls  # the defaults table ran
    assert out["profile"]["top_cumulative"][0]["function"].endswith("(train)")
    checks = {(c["env"], c["metric"]): c["ok"] for c in out["targets"]}
    assert checks[(PF, "ours_samples_per_second/sb3_samples_per_second")]  # 4x >= 4x
    assert not checks[(ORIENT, "ours_steps_per_second/ideal_steps_per_second")]  # 0.8 < 0.9
    skipped = {(t["env"], t["metric"]) for t in out["targets_skipped"]}
    assert (PF, "ours_samples_per_second/cleanrl_samples_per_second") in skipped
    assert (PF, "sb3_seconds_to_target/ours_seconds_to_target") in skipped
    m = out["machine"]
    assert len(m["load_average_before"]) == 3 and len(m["load_average_after"]) == 3
    assert m["torch_threads"] == 1 and m["cpu"] and m["repeats"] == 3


def test_every_trainer_is_warmed_up_before_its_timed_repeats():
    calls, rates = [], iter([1.0, 5.0, 3.0, 4.0])

    def run(steps):
        calls.append(steps)
        return {"steps": steps, "seconds": 1.0, "steps_per_second": next(rates)}

    res = bench.bl.median_of_repeats(run, steps=10, warm_steps=7, repeats=3)
    assert calls == [7, 10, 10, 10]  # the untimed warm-up first, then the timed repeats
    assert res["warm_up"]["steps"] == 7 and res["steps_per_second"] == pytest.approx(4.0)
    assert res["repeats"] == [5.0, 3.0, 4.0]  # the warm-up's rate (1.0) is in none of them


@pytest.mark.parametrize("env_id", [PF, ORIENT, CARTPOLE])
def test_like_for_like_settings_are_the_same_on_both_sides(env_id):
    s = bench.bl.SETTINGS[env_id]
    counts = bench.bl.param_counts(env_id, s)
    assert counts["ours"] == counts["sb3"] > 0
    cfg = bench.bl.ours_config(env_id, 1, s)
    model, venv = bench.bl.sb3_model(env_id, s)
    venv.close()
    assert (cfg.env.num_envs, cfg.train.num_steps) == (model.n_envs, model.n_steps) == (s["num_envs"], s["num_steps"])
    assert cfg.train.update_epochs == model.n_epochs == s["epochs"]
    assert cfg.train.num_minibatches == model.n_envs * model.n_steps // model.batch_size == s["minibatches"]
    assert cfg.arch.name == s["arch"] and model.learning_rate == cfg.train.lr
    if s["arch"] != "mlp":  # our conv net is SB3's features extractor, shared by both heads as ours is
        assert cfg.arch.value_trunk == "shared"
        assert type(model.policy.features_extractor).__name__ == "BrainSetExtractor"


def test_cleanrl_runs_as_a_subprocess_and_is_timed_after_its_warm_up(tmp_path):
    script = tmp_path / "ppo.py"
    script.write_text(FAKE_CLEANRL)
    res = bench.bl.cleanrl_run(script, PF, bench.bl.SETTINGS[PF], steps=4096 * 2, repeats=3)
    assert res["iterations"] == 2 + 3 * 2 and len(res["repeats"]) == 3 and res["steps_per_second"] > 0
    assert (res["num_envs"], res["num_steps"]) == (128, 32)
    bad = tmp_path / "bad.py"
    bad.write_text("raise SystemExit(3)\n")
    with pytest.raises(RuntimeError, match="exited 3"):
        bench.bl.cleanrl_run(bad, PF, None, steps=512)


def test_cpu_time_option_times_with_the_process_clock_and_restores_wall_time(monkeypatch):
    seen = []
    _fake_measurements(monkeypatch, [])
    monkeypatch.setattr(bench.bl, "param_counts", lambda env_id, s: seen.append(bench.bl.cpu_time_in_use()) or {
        "ours": 1, "sb3": 1})
    out = bench.trainer_report(settings=(PF,), defaults_envs=(), profile_env=None, cpu_time=True,
                               cleanrl="ppo.py")
    assert seen == [True] and out["machine"]["clock"] == "process CPU time"
    assert "subprocess" in out["like_for_like"][PF]["cleanrl"]["skipped"]  # its wall time would not compare
    assert not bench.bl.cpu_time_in_use() and bench.bl._CLOCK[0] is time.perf_counter
    assert bench.trainer_report(settings=(PF,), defaults_envs=(), profile_env=None)["machine"]["clock"] == "wall time"


def test_ideal_update_learns_from_the_trainers_number_of_samples(monkeypatch):
    s = {**bench.bl.SETTINGS[PF], "num_envs": 8, "num_steps": 8}
    sizes = []
    real = bench.bl.log_prob_entropy
    monkeypatch.setattr(bench.bl, "log_prob_entropy", lambda out, a: sizes.append(len(a)) or real(out, a))
    bench.bl.ideal_rate(PF, s, min_seconds=0.001, valid_fraction=0.5)
    assert set(sizes) == {8 * 8 // 2 // s["minibatches"]}  # half the steps, the setting's minibatch count


def test_ideal_rate_and_profile_on_tiny_budgets():
    s = {**bench.bl.SETTINGS[PF], "num_envs": 8, "num_steps": 8}
    ideal = bench.bl.ideal_rate(PF, s, min_seconds=0.01)
    assert ideal["ideal_steps_per_second"] > 0 and sum(ideal["shares"].values()) == pytest.approx(1.0)
    prof = bench.bl.profile_run(PF, s, steps=128, top=5)
    assert len(prof["top_cumulative"]) == 5
    assert any("train" in r["function"] for r in prof["top_cumulative"])


def _fake_report(ok: bool):
    def report(**kwargs):
        return {"like_for_like": {}, "targets_skipped": [], "machine": {}, "targets": [
            {"env": PF, "metric": "ours_samples_per_second/sb3_samples_per_second", "value": 5.0 if ok else 2.0,
             "target": 4.0, "ok": ok}]}
    return report


@pytest.mark.parametrize("ok, check, code", [(False, True, 1), (True, True, 0), (False, False, 0)])
def test_check_exits_1_when_a_trainer_target_is_missed(monkeypatch, tmp_path, capsys, ok, check, code):
    from agents.experiments import bench_cli

    monkeypatch.setattr(bench_cli, "trainer_report", _fake_report(ok))
    out = tmp_path / "b.json"
    assert bench_cli.main(["--trainer", "--out", str(out), *(["--check"] if check else [])]) == code
    data = json.loads(out.read_text())
    assert data["trainer"]["targets"][0]["ok"] == ok and data["targets"][0]["section"] == "trainer"
    if code:
        assert "missed target: trainer" in capsys.readouterr().err


def test_benchmark_json_is_written_atomically(monkeypatch, tmp_path):
    from agents.experiments import bench_cli

    out = tmp_path / "b.json"
    out.write_text(json.dumps({"envs": {"kept": {}}}))

    def broken(**kwargs):
        return {**_fake_report(True)(), "machine": {"cpu": object()}}  # not JSON: the dump fails midway

    monkeypatch.setattr(bench_cli, "trainer_report", broken)
    with pytest.raises(TypeError):
        bench_cli.main(["--trainer", "--out", str(out)])
    assert json.loads(out.read_text()) == {"envs": {"kept": {}}}  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["b.json"]  # no temporary file left behind


def test_cleanrl_option_rejects_a_missing_file(tmp_path):
    from agents.experiments import bench_cli

    with pytest.raises(SystemExit) as e:
        bench_cli.main(["--trainer", "--cleanrl", str(tmp_path / "nope.py"), "--out", str(tmp_path / "b.json")])
    assert e.value.code == 2


def test_trainer_report_without_reaching_the_target_has_no_ratio(monkeypatch):
    monkeypatch.setattr(bench, "_warm_up", lambda env_id, policy: None)
    monkeypatch.setattr(bench, "trainer_time_to_target", lambda env_id, target, seed, **k: {
        "reached": False, "seconds": 9.0, "steps": 1, "eval_return": 0.0})
    monkeypatch.setattr(bench, "sb3_time_to_target", lambda env_id, target, seed, **k: {
        "reached": True, "seconds": 90.0, "steps": 1, "eval_return": target})
    out = bench.trainer_report(seeds=(0,), settings=(), defaults_envs=(), profile_env=None,
                               time_envs=("BrainSet/PatchForaging-v0",))
    (check,) = [c for c in out["targets"] if "seconds" in c["metric"]]
    assert check["value"] is None and not check["ok"]
    assert out["time_to_target"][PF]["speedup"] == pytest.approx(10.0)


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
