"""The learned-figure registry and the robustness audit: limits, the table, resume, the CLI's refusals."""

import json
import re
import subprocess
import sys

import pytest

from agents.experiments import robustness as rb
from agents.experiments.checks import CHECKS, Check, Limit
from tests import ROOT


def test_limits_hold_and_fail_on_the_right_side():
    assert Limit(">", 1.0).holds(1.01) and not Limit(">", 1.0).holds(1.0)
    assert Limit("<=", 0.5).holds(0.5) and not Limit("<=", 0.5).holds(0.51)
    assert Limit(">=", 2).higher and not Limit("<", 2).higher
    with pytest.raises(ValueError, match=r"op='=='.*allowed"):
        Limit("==", 1.0)


def test_every_check_names_an_existing_test_and_limits_a_figure_it_measures():
    for name, check in CHECKS.items():
        assert check.name == name and check.limits and check.test_seeds
        path, _, func = check.test.partition("::")
        assert (ROOT / path).exists(), check.test
        source = (ROOT / path).read_text()
        head = f"def {func.split('[')[0]}("
        assert head in source, check.test
        if check.measure is None:  # measured by its test: the test takes the audit fixture
            assert "audit" in source.split(head, 1)[1].split(")", 1)[0], check.test
        else:
            assert callable(check.measure)


def test_failures_name_the_figure_the_value_and_the_limit():
    check = Check("x", "tests/x.py::t", lambda seed, threads: {"a": seed}, {"a": Limit(">", 1.5)}, (1, 2, 3))
    figures = check.tested()
    assert figures == {"a": 2.0}
    assert check.failures(figures) == []
    assert check.failures({"a": 1.0}) == ["a = 1, expected > 1.5"]


def _results(values, check="ppo_curiosity_coverage", figure="ratio_to_random_walk"):
    return [{"check": check, "path": p, "seed": s, figure: v, "seconds": 1.0} for (p, s), v in values.items()]


def test_summary_takes_the_worst_path_of_the_tested_mean():
    seeds = CHECKS["ppo_curiosity_coverage"].test_seeds
    vals = {("auto", s): 1.3 for s in range(8)} | {("compatible", s): 1.2 for s in range(8)}
    vals[("compatible", seeds[0])] = 1.0  # one bad seed among the tested ones on one path
    (row,) = rb.summarize(_results(vals))
    assert row["seeds"] == 8 and row["paths"] == ["auto", "compatible"] and row["n"] == 16
    assert row["min"] == 1.0 and row["max"] == 1.3
    assert row["tested_per_path"]["auto"] == pytest.approx(1.3)
    assert row["worst_tested"] == pytest.approx((1.0 + 1.2 * (len(seeds) - 1)) / len(seeds))
    assert row["margin"] == pytest.approx(row["worst_tested"] - CHECKS["ppo_curiosity_coverage"].limits[
        "ratio_to_random_walk"].threshold)
    md = rb.table_markdown([row])
    assert re.search(r"\| ppo_curiosity_coverage \| ratio_to_random_walk \| 8 x 2 \| 1\.000 \|", md)


def test_lower_is_better_margins_are_positive_when_the_test_passes():
    vals = {("auto", 0): 0.3}
    (row, *_) = [r for r in rb.summarize(_results(vals, "water_maze", "latency_ratio_to_untrained"))]
    assert row["op"] == "<=" and row["margin"] == pytest.approx(0.5 - 0.3) and row["tested_ok"]


def test_interrupted_audit_resumes_from_its_log_and_ignores_a_torn_line(tmp_path, monkeypatch):
    log = tmp_path / "results.jsonl"
    first = _results({("auto", 0): 1.25})[0]
    log.write_text(json.dumps(first) + "\n" + '{"check": "ppo_cur')  # killed while writing
    calls = []

    def fake_run_one(check, path, seed):
        calls.append((check, path, seed))
        return {"check": check, "path": path, "seed": seed, "ratio_to_random_walk": 1.2 + seed / 100,
                "coverage": 0.8, "seconds": 0.0}

    monkeypatch.setattr(rb, "run_one", fake_run_one)
    rows = rb.audit(["ppo_curiosity_coverage"], range(4), ["auto"], tmp_path, jobs=2, progress=False)
    assert sorted(calls) == [("ppo_curiosity_coverage", "auto", s) for s in (1, 2, 3)]  # seed 0 was done
    assert rows[0]["n"] == 4 and rows[0]["max"] == 1.25
    assert len(rb.load_results(log)) == 4
    assert "ppo_curiosity_coverage" in (tmp_path / "table.md").read_text()
    assert json.loads((tmp_path / "table.json").read_text())["rows"][0]["seeds"] == 4
    calls.clear()
    rb.audit(["ppo_curiosity_coverage"], range(4), ["auto"], tmp_path, progress=False)
    assert calls == []  # nothing left to do


def test_a_failed_measurement_is_reported_after_the_others_finish(tmp_path, monkeypatch):
    def flaky(check, path, seed):
        if seed == 1:
            raise RuntimeError("worker died")
        return {"check": check, "path": path, "seed": seed, "ratio_to_random_walk": 1.2, "seconds": 0.0}

    monkeypatch.setattr(rb, "run_one", flaky)
    with pytest.raises(RuntimeError, match=r"1 measurement\(s\) failed.*'auto', 1"):
        rb.audit(["ppo_curiosity_coverage"], range(3), ["auto"], tmp_path, jobs=1, progress=False)
    assert len(rb.load_results(tmp_path / "results.jsonl")) == 2  # the others were kept


def test_checks_measured_by_their_tests_run_at_the_audit_seed_in_one_pytest_process():
    names = ["node_perturbation_cosine_8_16", "weight_perturbation_cosine_4_4"]
    first = rb.run_tests(names, "compatible", 1)
    assert [r["check"] for r in first] == names and all(r["seed"] == 1 for r in first)
    assert 0.0 <= first[0]["relative_error"] < 0.15 and first[0]["seconds"] > 0
    other = rb.run_tests(names[:1], "compatible", 2)
    assert other[0]["relative_error"] != first[0]["relative_error"]  # another seed, another sample
    with pytest.raises(ValueError, match="measured by its test"):
        CHECKS[names[0]].tested()


def test_one_real_measurement_in_a_worker_process():
    r = rb.run_one("tabular_curiosity_coverage", "compatible", 1)
    assert r["path"] == "compatible" and r["seed"] == 1
    assert 1.0 < r["prediction_ratio_to_random_walk"] < 1.6 and 1.0 < r["count_ratio_to_random_walk"] < 1.6


@pytest.mark.parametrize("args, word", [
    (["--checks", "nope"], "unknown check"), (["--paths", "avx9"], "unknown code path"),
    (["--seeds", "0"], "--seeds must be >= 1"), (["--jobs", "0"], "--jobs must be >= 1")])
def test_the_script_refuses_bad_arguments_with_exit_status_2(tmp_path, args, word):
    p = subprocess.run([sys.executable, str(ROOT / "scripts" / "robustness.py"), *args, "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 2 and word in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "o").exists()


def test_learning_checks_option_selects_exactly_the_registered_tests():
    """``make test-compatible`` reruns these: every check's test, nothing else."""
    p = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "--learning-checks",
                        "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 0, p.stdout[-2000:] + p.stderr[-2000:]
    collected = {line.strip() for line in p.stdout.splitlines() if "::" in line}
    assert collected == {c.test for c in CHECKS.values()}
