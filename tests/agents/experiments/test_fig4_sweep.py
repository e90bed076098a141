"""Fig. 4 over seeds and rules (agents/experiments/fig4_sweep.py): the statistics, resume and the report. The
(rule, seed) runs are stubbed here (the protocol itself is tested in test_fig4.py); Ray runs them for real in
``scripts/fig4.py --rules``."""

import json
import math

import pytest

from agents.experiments import fig4_sweep as fs
from agents.experiments.fig4 import Fig4Protocol

H = ["V1", "V2", "V4", "IT"]


def test_wilson_interval_matches_the_formula_and_its_edges():
    lo, hi = fs.wilson(1, 5)
    assert lo == pytest.approx(0.0362, abs=1e-4) and hi == pytest.approx(0.6245, abs=1e-4)
    assert fs.wilson(0, 0) == (0.0, 1.0)
    lo, hi = fs.wilson(20, 20)
    assert hi == 1.0 and lo == pytest.approx(0.8389, abs=1e-4)
    assert fs.wilson(0, 20)[0] == 0.0


def test_permutation_p_is_one_for_equal_groups_and_small_for_separated_ones():
    assert fs.permutation_p([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], n_perm=500) == 1.0
    p = fs.permutation_p([0.0] * 10, [1.0] * 10, n_perm=2000)
    assert 1 / 2001 <= p < 0.005  # a shuffle reaches the observed difference with probability 2 / C(20, 10)
    assert 0.05 < fs.permutation_p([0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 1.0, 1.0], n_perm=2000) <= 1.0
    assert math.isnan(fs.permutation_p([], [1.0]))


def _fake_seed(p, seed, rule, objective, out_dir, cache, num_threads=1):
    base = 1.0 + 0.1 * seed
    up = rule == "backprop"
    ratios = [base + (0.2 * i if up or seed % 2 else -0.1 * i) for i in range(4)]
    return {"seed": seed, "tuning_change": {s: {"slope_ratio": r, "abs_slope_ratio": r, "amplitude_ratio": 1.0,
                                                "fisher_ratio": 1.0,
                                                "slope_ratio_by_preference": {"bins_deg": [0, 90], "ratio": [1.0]}}
                                            for s, r in zip(H, ratios, strict=True)},
            "weight_change": {s: 0.01 * (i + 1) * (2 if up else 1) for i, s in enumerate(H)},
            "before": {"threshold": 5.0}, "after": {"threshold": 4.0},
            "train": {"env_steps": 1, "seconds": 0.0}}


def _in_process(jobs, out, address, cpus):
    for j in jobs:
        fs._job(j)


def test_sweep_runs_missing_pairs_compares_rules_and_resumes(tmp_path, monkeypatch):
    monkeypatch.setattr(fs, "run_seed", _fake_seed)
    p = Fig4Protocol.quick()
    res = fs.run_fig4_sweep(p, ["backprop", "feedback_alignment"], [0, 1, 2, 3], "reward", tmp_path / "s",
                            None, n_perm=500, log=lambda s: None, runner=_in_process)
    bp, fa = res["rules"]["backprop"], res["rules"]["feedback_alignment"]
    assert (bp["graded"], bp["n"]) == (4, 4) and (fa["graded"], fa["n"]) == (2, 4)  # odd seeds rise for FA
    assert fa["graded_wilson95"] == list(fs.wilson(2, 4))
    assert bp["stages"]["IT"]["slope_ratio"]["mean"] == pytest.approx(1.15 + 0.6)
    assert bp["stages"]["V1"]["weight_change"]["mean"] == pytest.approx(0.02)
    ps = res["permutation_p"]["backprop vs feedback_alignment"]
    assert set(ps) == {"graded_order", *(f"{m} {s}" for m in ("slope_ratio", "weight_change") for s in H)}
    assert ps["weight_change V1"] < 0.05 and ps["slope_ratio V1"] == 1.0
    assert len(list((tmp_path / "s" / "seeds").glob("*.json"))) == 8
    paths = fs.save_sweep(res, tmp_path / "s", tmp_path / "fig4_sweep.png")
    assert all(path.exists() for path in paths)
    report = (tmp_path / "s" / "report.md").read_text()
    assert "| `backprop` | 4/4 [" in report and "| `feedback_alignment` | 2/4 [" in report
    assert json.loads((tmp_path / "fig4_sweep.json").read_text())["rules"]["backprop"]["graded"] == 4

    def never(*args):
        raise AssertionError("a finished pair ran again")

    again = fs.run_fig4_sweep(p, ["backprop", "feedback_alignment"], [0, 1, 2, 3], "reward", tmp_path / "s", None,
                              n_perm=500, log=lambda s: None, runner=never)
    assert again["rules"] == res["rules"]
    with pytest.raises(ValueError, match="holds a Fig. 4 sweep of another protocol"):
        fs.run_fig4_sweep(p, ["backprop"], [0], "reward+0.1*predictive", tmp_path / "s", None, runner=never)


def test_a_pair_that_did_not_finish_is_reported(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="1 \\(rule, seed\\) pairs did not finish: \\['backprop__0'\\]"):
        fs.run_fig4_sweep(Fig4Protocol.quick(), ["backprop"], [0], "reward", tmp_path, None,
                          log=lambda s: None, runner=lambda *a: None)


@pytest.mark.parametrize("argv, words", [
    (["--rules", "backprop,nope"], "--rules: 'backprop,nope' must name distinct registered rules"),
    (["--rules", "backprop,backprop"], "must name distinct registered rules"),
    (["--rules", "backprop", "--rule-kwargs", "{seed: 1}"], "--rule-kwargs: not with --rules"),
    (["--rules", "backprop", "--cpus-per-trial", "0"], "--cpus-per-trial: 0 must be > 0"),
    (["--rules", "backprop", "--seeds", "0"], "--seeds: 0 is not allowed"),
])
def test_the_rules_form_refuses_bad_options(argv, words, tmp_path, capsys):
    from agents.experiments.fig4_cli import main

    with pytest.raises(SystemExit) as e:
        main([*argv, "--runs-dir", str(tmp_path)])
    assert e.value.code == 2 and words in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
