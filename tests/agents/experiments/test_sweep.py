"""Sweeps on Ray Tune (agents/experiments/sweep.py): a 2 x 2 grid of tiny trials runs through a local Ray and
writes results.csv, report.md and the learning curves; resume reruns only a trial whose results are gone; a
failing trial is reported with its error; a trial equals `brainset train` with the same config and seed; bad
options are one-line usage errors before Ray starts or a folder exists. One Ray session for the module."""

from __future__ import annotations

import csv
import json
import math
import shlex
import shutil
from pathlib import Path

import pytest

from agents.experiments import sweep_cli
from agents.experiments.sweep import Sweep, t_interval
from agents.experiments.sweep_cli import main, split_values
from brainset_envs import cli as brainset_cli

ENV = "BrainSet/OrientationDiscriminationEasy-v0"
TINY = ["train.total_steps=256", "env.num_envs=2", "arch.channels=[4, 4, 4, 4]", "arch.conv_fc=[16]",
        "run.eval_episodes=20", "run.eval_every=128", "run.video=false", "run.tensorboard=false"]
GRID = ["--env", ENV, "--rule", "backprop,feedback_alignment", "--seeds", "2", *TINY]


def _rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def ray_sweeps(tmp_path_factory):
    """One local Ray for the module: the 2 x 2 sweep, then a sweep whose one trial fails."""
    import ray  # the sweep extra, which `make test` installs: a missing Ray fails here, it is not skipped
    root = tmp_path_factory.mktemp("sweeps")
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False)
    try:
        assert main([*GRID, "--name", "grid", "--sweeps-dir", str(root)]) == 0
        # Adam at lr 10 without clipping: a non-finite loss at the first update, every time
        assert main(["--env", ENV, "--name", "fails", "--sweeps-dir", str(root), *TINY, "train.lr=10",
                     "train.max_grad_norm=0"]) == 1
        yield {"root": root, "ray": ray}
    finally:
        ray.shutdown()


def test_a_2x2_grid_writes_one_row_per_trial_a_report_and_curves(ray_sweeps):
    d = ray_sweeps["root"] / "grid"
    rows = _rows(d / "results.csv")
    assert len(rows) == 4
    assert [(r["rule.name"], r["seed"]) for r in rows] == [("backprop", "0"), ("backprop", "1"),
                                                           ("feedback_alignment", "0"), ("feedback_alignment", "1")]
    for r in rows:
        assert r["status"] == "ok" and r["env.id"] == ENV and int(r["steps"]) == 256 and r["hostname"]
        assert 0 <= float(r["final_eval_return"]) <= 1 and float(r["best_eval_return"]) >= float(r["final_eval_return"])
        assert 0 <= float(r["score"]) <= 1 and r["score_metric"] == "accuracy"  # the learning check's scorer
        run = d / r["run_dir"]
        assert (run / "checkpoints" / "last.pt").is_file() and (run / "config.yaml").is_file()
        assert (run / "command.txt").read_text().startswith("brainset train ")
    report = (d / "report.md").read_text()
    assert f"## {ENV}" in report and "| backprop | 2/2 |" in report and "| feedback_alignment | 2/2 |" in report
    assert "95% t interval" in report
    assert (d / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (d / "sweep.yaml").is_file() and (d / "tune" / "attempt-1").is_dir()


def test_a_failing_trial_is_a_row_with_its_error(ray_sweeps):
    d = ray_sweeps["root"] / "fails"
    (row,) = _rows(d / "results.csv")
    assert row["status"] == "error" and "NonFiniteError" in row["error"] and "non-finite" in row["error"]
    assert "Trials that did not finish" in (d / "report.md").read_text()


def test_resume_reruns_only_the_trial_whose_results_are_gone(ray_sweeps, capsys):
    d = ray_sweeps["root"] / "grid"
    trials = sorted((d / "trials").iterdir())
    before = {t.name: (t / "trial.json").stat().st_mtime_ns for t in trials}
    shutil.rmtree(trials[1])
    assert main(["--resume", str(d)]) == 0
    out = capsys.readouterr().out
    assert "4 trials, 3 finished before, 1 to run" in out
    after = {t.name: (t / "trial.json").stat().st_mtime_ns for t in sorted((d / "trials").iterdir())}
    assert set(after) == set(before)
    assert [k for k in before if after[k] != before[k]] == [trials[1].name]
    assert len(_rows(d / "results.csv")) == 4 and (d / "tune" / "attempt-2").is_dir()
    assert main(["--resume", str(d)]) == 0  # nothing left: no trial runs
    assert "0 to run" in capsys.readouterr().out
    assert not (d / "tune" / "attempt-3").exists()


def test_a_trial_equals_brainset_train_with_the_same_config_and_seed(ray_sweeps, tmp_path):
    d = ray_sweeps["root"] / "grid"
    trial = sorted((d / "trials").iterdir())[2]  # feedback alignment, seed 0
    argv = shlex.split((trial / "command.txt").read_text().splitlines()[0])
    assert argv[:2] == ["brainset", "train"]
    argv = [a if not a.startswith("run.runs_dir=") else f"run.runs_dir={tmp_path}" for a in argv[2:]]
    assert brainset_cli.main(["train", *argv]) == 0
    (run,) = tmp_path.iterdir()

    def metrics(p):
        rows = [json.loads(x) for x in (p / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("time", "sps")} for r in rows]

    assert metrics(run) == metrics(trial) and len(metrics(run)) == 16
    assert metrics(run)[-1]["eval/return"] == json.loads((trial / "trial.json").read_text())["final_eval_return"]


# --- no Ray needed ------------------------------------------------------------------------------------------

BAD = [
    (["--rule", "bogus"], ["--rule", "bogus", "backprop", "feedback_alignment"]),
    (["--rule", "backprop,"], ["--rule", "empty grid"]),
    (["--objective", "bogus"], ["--objective", "bogus", "reward"]),
    (["--env", "Nope-v0"], ["--env", "Nope-v0", ENV]),
    (["--arch", "transformer"], ["--arch", "transformer", "mlp"]),
    (["--set", "trainer.lr=1"], ["--set", "trainer", "allowed"]),
    (["--set", "train.lr=1e-3,-1"], ["--set", "train.lr", "-1", "> 0"]),
    (["--set", "train.lr="], ["--set", "train.lr", "empty grid"]),
    (["--seeds", "0"], ["--seeds", "0", ">= 1"]),
    (["--cpus-per-trial", "0"], ["--cpus-per-trial", "0", "> 0"]),
    (["--config", "/no/such/sweep.yaml"], ["--config", "/no/such/sweep.yaml"]),
    (["train.lr=nan"], ["train.lr", "nan", "finite"]),
    (["--resume", "/no/such/sweep"], ["--resume", "sweep.yaml"]),
]


@pytest.mark.parametrize("argv, words", BAD, ids=[" ".join(c[0]) for c in BAD])
def test_bad_options_exit_2_before_ray_or_any_folder(argv, words, tmp_path, capsys, monkeypatch):
    def no_ray(*a, **k):
        raise AssertionError("the sweep started")

    monkeypatch.setattr(sweep_cli, "run_sweep", no_ray)
    with pytest.raises(SystemExit) as info:
        main([*argv, "--sweeps-dir", str(tmp_path / "sweeps"), *([] if "--resume" in argv else TINY)])
    assert info.value.code == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert "Traceback" not in err and ": error: " in last
    for w in words:
        assert w in last, (w, last)
    assert not (tmp_path / "sweeps").exists()


def test_a_yaml_sweep_equals_the_same_flags(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(f"name: s\nenv: {ENV}\nrule: [backprop, feedback_alignment]\nseeds: 2\n"
                    "set: {train.lr: [1.0e-3, 5.0e-4], 'arch.mlp_hidden': '[16],[32, 32]'}\n"
                    f"overrides: {json.dumps(TINY)}\n")
    from_file = sweep_cli.build_sweep(sweep_cli.parser().parse_args(["--config", str(spec)]))
    from_flags = sweep_cli.build_sweep(sweep_cli.parser().parse_args(
        ["--name", "s", "--env", ENV, "--rule", "backprop,feedback_alignment", "--seeds", "2", "--set",
         "train.lr=1e-3,5e-4", "--set", "arch.mlp_hidden=[16],[32, 32]", *TINY]))
    assert from_file == from_flags
    assert from_file.fields["arch.mlp_hidden"] == [[16], [32, 32]]
    trials = from_file.trials()
    assert len(trials) == 2 * 2 * 2 * 2 and [t.seed for t in trials[:3]] == [0, 1, 0]
    assert from_file.config(trials[-1]).train.lr == 5e-4 and from_file.config(trials[-1]).run.seed == 1


def test_helpers():
    assert split_values("a, [1, 2],{x: 1, y: 2},'c,d'") == ["a", "[1, 2]", "{x: 1, y: 2}", "'c,d'"]
    m, h, n = t_interval([1.0, 2.0, 3.0])
    assert (m, n) == (2.0, 3) and math.isclose(h, 4.302652729749464 * 1.0 / math.sqrt(3))
    assert math.isnan(t_interval([5.0])[1]) and t_interval([])[2] == 0
    assert Sweep(name="x").trials()[0].seed == 0


def test_an_interrupted_trial_continues_from_its_checkpoint(tmp_path):
    """A trial killed mid-run (here: after update 5, with a checkpoint every update) is resumed by the trainer
    when the sweep runs it again, and ends as the uninterrupted trial does (no Ray: the trial function itself)."""
    from agents.experiments.sweep import plan, run_trial
    from agents.trainer import train

    sweep = Sweep(name="s", fields={"env.id": [ENV]}, overrides=[*TINY, "run.checkpoint_every=1"], score=False)
    (full,), (cut,) = plan(sweep, tmp_path / "full"), plan(sweep, tmp_path / "cut")
    run_trial(full)

    class Kill(Exception):
        pass

    def kill(info):
        if info["loop"].update == 5:
            raise Kill

    cfg = sweep.config(sweep.trials()[0], tmp_path / "cut" / "trials")
    with pytest.raises(Kill):
        train(cfg, run_dir=cut["run_dir"], callback=kill)
    cut_dir = Path(cut["run_dir"])
    assert (cut_dir / "checkpoints" / "last.pt").is_file() and not (cut_dir / "trial.json").exists()
    out = run_trial(cut)
    assert out["status"] == "ok" and out["steps"] == 256

    def metrics(p):
        rows = [json.loads(x) for x in (Path(p) / "metrics.jsonl").read_text().splitlines()]
        return [{k: v for k, v in r.items() if k not in ("time", "sps")} for r in rows]

    assert metrics(cut["run_dir"]) == metrics(full["run_dir"])
