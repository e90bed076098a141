"""Gradient bias/variance probe and the Fig. 2 experiment (small and fast settings)."""

import json

import pytest
import torch
from torch import nn

from agents.experiments.fig2 import digits_data, make_mlp, run_fig2, save_fig2, summary_lines
from agents.probes.gradients import angle_deg, bias_variance, layer_params
from agents.rules import get_rule


@pytest.fixture(scope="module")
def data(audit):
    x, y, _, _ = digits_data(audit.seed(0))
    return x[:256], y[:256], audit.seed(0)


def _measure(name, data, repeats=1, **options):
    x, y, seed = data
    rule = get_rule(name, **options, **({} if name == "backprop" else {"seed": seed}))
    model = rule.prepare(make_mlp([64, 16, 16, 10], seed))
    loss = nn.functional.cross_entropy
    batches = [lambda i=i: loss(model(x[i:i + 32]), y[i:i + 32]) for i in range(0, len(x), 32)]
    return bias_variance(model, rule, batches, lambda: loss(model(x), y), repeats)


def test_backprop_is_unbiased_and_has_minibatch_variance(data, audit):
    out = _measure("backprop", data)
    assert set(out) == {"hidden1", "hidden2", "output", "all"}
    for d in out.values():
        assert d["bias_deg"] == pytest.approx(0.0, abs=1e-3)
        assert d["bias_raw_deg"] == pytest.approx(0.0, abs=1e-3)
        assert d["n_estimates"] == 8
    variances = [d["variance"] for d in out.values()]
    audit.check("fig2_backprop_variance", {"min_variance": min(variances), "max_variance": max(variances)})


def test_feedback_alignment_at_init_is_orthogonal_in_hidden_layers_and_exact_at_the_output(data, audit):
    out = _measure("feedback_alignment", data)
    assert out["output"]["bias_deg"] == pytest.approx(0.0, abs=1e-3)
    audit.check("fig2_fa_init", {"hidden1_off_orthogonal_deg": abs(out["hidden1"]["bias_deg"] - 90.0)})


def test_weight_perturbation_is_far_noisier_than_backprop(data, audit):
    bp = _measure("backprop", data)
    wp = _measure("weight_perturbation", data, repeats=4, sigma=1e-3)
    assert wp["all"]["n_estimates"] == 32
    # single estimates are nearly orthogonal
    ratio = wp["all"]["variance"] / bp["all"]["variance"]
    audit.check("fig2_weight_perturbation", {"variance_ratio_to_backprop": ratio,
                                             "mean_single_angle_deg": wp["all"]["mean_single_angle_deg"]})


def test_layer_params_and_angle():
    model = make_mlp([4, 3, 2])
    assert list(layer_params(model)) == ["hidden1", "output"]
    assert angle_deg(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])) == pytest.approx(90.0)
    assert angle_deg(torch.zeros(2), torch.ones(2)) == 90.0


def test_run_fig2_writes_json_and_png(tmp_path, audit):
    result = run_fig2("digits", ["backprop", "feedback_alignment"], hidden=(16,), epochs=1, repeats=2,
                      seed=audit.seed(0))
    rec = result["rules"]["feedback_alignment"]
    audit.check("fig2_run", {"fa_init_hidden1_bias_deg": rec["layers"]["hidden1"]["init"]["bias_deg"],
                             "fa_accuracy_gain": rec["test_accuracy"]["trained"] - rec["test_accuracy"]["init"]})
    assert result["rules"]["backprop"]["layers"]["all"]["trained"]["bias_deg"] == pytest.approx(0.0, abs=1e-3)
    paths = save_fig2(result, tmp_path / "run", tmp_path / "assets" / "fig2.png")
    loaded = json.loads((tmp_path / "run" / "fig2.json").read_text())
    assert loaded["rules"].keys() == result["rules"].keys()
    for p in paths[1:]:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.startswith(".")]  # no temp files left
    assert len(summary_lines(result)) == 2 * 3


def test_run_fig2_rejects_unknown_task_and_rule():
    with pytest.raises(ValueError, match="task"):
        run_fig2("mnist")
    with pytest.raises(ValueError, match="nope"):
        run_fig2("digits", ["nope"])


def test_the_paper_question_marks_name_registered_rules():
    from agents.experiments.fig2 import PAPER_QUESTION_MARKS
    from agents.rules import registered_rules

    assert PAPER_QUESTION_MARKS <= set(registered_rules())
    assert len(PAPER_QUESTION_MARKS) == 5  # CHL, predictive coding, dendritic error, RDD, AGREL
