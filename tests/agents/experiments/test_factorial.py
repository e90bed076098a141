"""The component factorial (agents/experiments/factorial.py): its design from the registries, the run, resume,
the ranking and the CLI's errors. Ray itself is exercised by tests/agents/experiments/test_sweep.py; here the
trials run in this process through the same ``run_trial``."""

import csv
import json
import math

import pytest

from agents.experiments import factorial as fx
from agents.experiments.sweep import run_trial


def test_rules_and_exclusions_come_from_the_registry_flags():
    from agents.rules.base import registered_rules, rule_class

    rules, excluded = fx.factorial_rules(), fx.excluded_rules()
    assert set(rules) | set(excluded) == set(registered_rules()) and not set(rules) & set(excluded)
    assert all(rule_class(r).learns_tasks and rule_class(r).trains_agents for r in rules)
    assert "backprop" in rules and "learns_tasks = False" in excluded["hebbian"]
    assert "trains_agents = False" in excluded["rdd"]
    assert fx.rule_overrides("feedback_alignment") == ["train.lr=0.0005"]
    assert all(o.startswith("rule.") for o in fx.rule_overrides("node_perturbation"))  # no env/arch overrides
    budget = fx.scaled_budget(fx.CHECKS["cartpole"], 0.5)
    assert "train.total_steps=75000" in budget and not any(o.startswith("run.target_return") for o in budget)


def test_a_rule_that_cannot_train_the_recurrent_variant_is_skipped_with_its_reason():
    cells = fx.design(["patch_foraging"], [0], 0.01, ["backprop", "direct_feedback_alignment"], ["reward"])
    got = {(c.arch, c.rule): c for c in cells}
    assert set(got) == {(a, r) for a in ("auto", "auto+gru") for r in ("backprop", "direct_feedback_alignment")}
    skipped = got[("auto+gru", "direct_feedback_alignment")]
    assert skipped.sweep is None and "recurrent" in skipped.reason
    assert all(c.sweep is not None for k, c in got.items() if k != ("auto+gru", "direct_feedback_alignment"))


@pytest.mark.parametrize("kwargs, words", [
    ({"tasks": ["nope"]}, "tasks=['nope']: unknown ['nope']"),
    ({"tasks": []}, "tasks=[]: empty"),
    ({"rules": ["hebbian"]}, "rules=['hebbian']: not allowed ['hebbian']"),
    ({"seeds": [-1]}, "seeds=[-1] must be a non-empty list of integers >= 0"),
    ({"budget": 0}, "budget=0 must be a number in (0, 100]"),
    ({"objectives": []}, "objectives is empty"),
])
def test_bad_designs_are_refused(kwargs, words):
    args = {"tasks": ["cartpole"], "seeds": [0], "budget": 0.1, "rules": ["backprop"], "objectives": ["reward"]}
    with pytest.raises(ValueError) as e:
        fx.design(**{**args, **kwargs, "check": False})
    assert words in str(e.value)


def _in_process(sweep, sweep_dir, pending, address, log):
    for job in pending:
        run_trial(job)


def test_a_tiny_factorial_runs_reports_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fx, "_run_on_ray", _in_process)
    argv = ["--tasks", "cartpole", "--rules", "backprop,sign_symmetry", "--objectives", "reward", "--seeds", "2",
            "--budget", "0.004", "--out", str(tmp_path / "f"), "--assets", str(tmp_path / "assets")]
    (tmp_path / "assets").mkdir()
    assert fx.main(argv) == 0
    out = capsys.readouterr().out
    rows = list(csv.DictReader((tmp_path / "f" / "results.csv").open()))
    assert len(rows) == 4 and {r["status"] for r in rows} == {"ok"}
    assert {(r["rule"], r["seed"]) for r in rows} == {(r, s) for r in ("backprop", "sign_symmetry") for s in "01"}
    result = json.loads((tmp_path / "f" / "factorial.json").read_text())
    ranked = result["summary"]["tasks"]["cartpole"]["ranked"]
    assert len(ranked) == 2 and ranked[0]["mean"] >= ranked[1]["mean"] and all(c["n"] == 2 for c in ranked)
    assert result["counts"] == {"ok": 4, "error": 0, "not run": 0, "skipped": 0}
    assert "| `backprop` |" in out and (tmp_path / "assets" / "factorial.md").read_text().startswith("# Component")
    assert json.loads((tmp_path / "assets" / "factorial.json").read_text())["summary"] == result["summary"]

    def no_training(job):
        raise AssertionError("a finished trial ran again")

    monkeypatch.setattr(fx, "_run_on_ray", lambda *a: [no_training(j) for j in a[2]])
    assert fx.main(argv) == 0
    again = json.loads((tmp_path / "f" / "factorial.json").read_text())
    assert again["summary"] == result["summary"] and again["wall_s"] < result["wall_s"] + 60


def test_ranking_learned_and_fraction_of_tasks_per_rule():
    def row(task, rule, score, arch="auto", obj="reward", status="ok"):
        return {"task": task, "arch": arch, "rule": rule, "objective": obj, "status": status, "score": score,
                "error": ""}

    rows = [row("cartpole", "a", 200.0), row("cartpole", "a", 210.0), row("cartpole", "b", 100.0),
            row("cartpole", "b", 120.0),
            row("water_maze", "a", 100.0), row("water_maze", "a", 110.0),  # lower is better, 0.5 x untrained
            row("water_maze", "b", 40.0), row("water_maze", "b", 50.0),
            {"task": "water_maze", "arch": "auto+gru", "rule": "b", "objective": "", "status": "skipped",
             "error": "why"}]
    s = fx.summarise(rows, {("water_maze", "auto"): [120.0, 120.0]})
    cp, wm = s["tasks"]["cartpole"], s["tasks"]["water_maze"]
    assert [c["rule"] for c in cp["ranked"]] == ["a", "b"] and cp["ranked"][0]["learned"]
    assert not cp["ranked"][1]["learned"] and cp["ranked"][0]["mean"] == 205.0
    assert [c["rule"] for c in wm["ranked"]] == ["b", "a"] and wm["ranked"][0]["target"] == 60.0
    assert wm["ranked"][0]["learned"] and not wm["ranked"][1]["learned"]
    assert wm["skipped"] == [{"arch": "auto+gru", "rule": "b", "reason": "why"}]
    assert s["rules"]["a"] == {"learned": ["cartpole"], "tried": ["cartpole", "water_maze"], "fraction": 0.5}
    assert s["rules"]["b"]["learned"] == ["water_maze"] and math.isclose(cp["ranked"][0]["ci95"], 63.53, rel_tol=1e-3)
    table = fx.headline_table(s)
    assert "| `a` | 205 +- 63.5 (learned) | 105 +- 63.5 | 1/2 |" in table


def test_the_cli_refuses_bad_options_before_anything_runs(tmp_path, capsys):
    for argv, words in ((["--tasks", "nope"], "unknown ['nope']"), (["--rules", "oja"], "not allowed ['oja']"),
                        (["--seeds", "0"], "--seeds: 0 must be >= 1"), (["--budget", "-1"], "budget=-1.0"),
                        (["--cpus-per-trial", "0"], "--cpus-per-trial: 0 must be > 0")):
        with pytest.raises(SystemExit) as e:
            fx.main([*argv, "--out", str(tmp_path / "f")])
        assert e.value.code == 2 and words in capsys.readouterr().err, argv
    assert not (tmp_path / "f").exists()
