"""Fig. 2 over seeds with knob curves (agents.experiments.fig2_knobs): small nets, two seeds, two knob values."""

import json
import os

import pytest
import torch

from agents.experiments.fig2_knobs import (
    KNOBS,
    parse_knobs,
    parse_seeds,
    run_fig2_study,
    save_study,
    stat,
    study_lines,
    study_markdown,
)
from agents.rules import registered_rules

SMALL_KNOBS = {"pc_steps": (1, 20), "ep_beta": (0.2, 0.05), "ep_beta_symmetric": (0.2, 0.05),
               "ep_steps": (10, 100), "dendritic_self_prediction": (0, 3000), "rdd_samples": (32, 64)}


@pytest.fixture(scope="module")
def study(audit):
    # a module fixture runs before conftest's per-test thread setting: set it here (many threads on a busy
    # machine crawl)
    torch.set_num_threads(int(os.environ.get("BRAINSET_AUDIT_THREADS", "1")))
    s = audit.seed(0)
    return run_fig2_study("digits", ["backprop", "predictive_coding", "rdd"], hidden=(16,), epochs=1, seeds=(s, s + 1),
                          knobs=SMALL_KNOBS)


def test_knobs_name_registered_rules_and_options_their_rules_accept():
    assert parse_knobs("all") == {k: v.values for k, v in KNOBS.items()}
    assert parse_knobs("none") == {}
    for k in KNOBS.values():
        assert k.rule in registered_rules()
    # the knobs: beta (EP, both nudgings), relaxation steps (PC, EP), self-prediction, RDD window and samples
    assert {(k.rule, k.option) for k in KNOBS.values()} == {
        ("equilibrium_propagation", "beta"), ("equilibrium_propagation", "steps"), ("predictive_coding", "steps"),
        ("dendritic_error", "self_prediction_steps"), ("rdd", "window"), ("rdd", "samples")}
    chosen = parse_knobs("ep_beta=0.3:0.1, rdd_window")
    assert chosen == {"ep_beta": (0.3, 0.1), "rdd_window": KNOBS["rdd_window"].values}


@pytest.mark.parametrize("spec, match", [
    ("nope", "'nope' is not a knob curve"), ("ep_beta=abc:0.1", "must be floats"), ("ep_beta=0.1", "at least 2"),
    ("pc_steps=2:2", "at least 2 distinct"), ("ep_beta=0:0.1", "ep_beta value 0.0 is not allowed: beta=0.0"),
    ("pc_steps=-1:2", "pc_steps value -1 is not allowed: steps=-1"), ("rdd_samples=8:64", "samples=8")])
def test_bad_knobs_raise_clear_errors(spec, match):
    with pytest.raises(ValueError, match=match):
        parse_knobs(spec)


def test_seeds_count_or_list_and_bad_ones_raise():
    assert parse_seeds("3") == [0, 1, 2]
    assert parse_seeds(2, first=5) == [5, 6]
    assert parse_seeds("0,3,7") == [0, 3, 7]
    for bad in ("0", "-2", "a", "1,1", "1,-1", ""):
        with pytest.raises(ValueError, match="seeds="):
            parse_seeds(bad)
    with pytest.raises(ValueError, match="seeds="):
        run_fig2_study(seeds=())


def test_stat_mean_ci_and_sd():
    one = stat([2.0])
    assert one["mean"] == 2.0 and one["ci95"] is None and one["sd"] is None
    few, many = stat([1.0, 2.0, 3.0]), stat([1.0, 2.0, 3.0] * 4)
    assert few["mean"] == pytest.approx(2.0) and few["ci95"][0] < 2.0 < few["ci95"][1]
    assert few["ci95"][0] == pytest.approx(2.0 - 4.302653 * 1.0 / 3 ** 0.5, rel=1e-5)  # t(0.975, 2) sd / sqrt(3)
    assert many["ci95"][1] - many["ci95"][0] < few["ci95"][1] - few["ci95"][0]  # more seeds, narrower
    log = stat([1.0, 100.0, None], log=True)
    assert log["mean"] == pytest.approx(10.0) and log["n"] == 2 and log["values"] == [1.0, 100.0, None]
    assert log["ci95"][0] < 10.0 < log["ci95"][1]
    assert stat([None, None])["mean"] is None


def test_study_has_one_point_per_knob_value_and_cis_around_the_means(study):
    seeds = study["seeds"]
    assert len(seeds) == 2 and set(study["per_seed"]) == {str(s) for s in seeds}
    assert set(study["curves"]) == set(SMALL_KNOBS)
    for key, cur in study["curves"].items():
        assert [p["value"] for p in cur["points"]] == list(SMALL_KNOBS[key]) == cur["values"]
        assert cur["state"] == ("trained" if KNOBS[key].trained else "init")
        assert KNOBS[key].option not in cur["options"]  # the fixed options; the knob is the curve's x
        for p in cur["points"]:
            d = p["layers"]["all"][cur["state"]]["bias_deg"]
            assert d["n"] == 2 and len(d["values"]) == 2
            assert d["ci95"][0] <= d["mean"] <= d["ci95"][1]
    mism = study["curves"]["dendritic_self_prediction"]["points"]
    assert all("apical_mismatch" in p["extra"] for p in mism)
    # at the rule's own Fig. 2 setting (PC: 20 steps) a curve passes through the rule's hollow marker, seed by seed
    pc20 = study["curves"]["pc_steps"]["points"][1]["layers"]["all"]["init"]["bias_deg"]["values"]
    assert pc20 == study["rules"]["predictive_coding"]["layers"]["all"]["init"]["bias_deg"]["values"]
    bp = study["rules"]["backprop"]["layers"]["all"]["trained"]
    assert bp["bias_deg"]["mean"] == pytest.approx(0.0, abs=1e-3)
    assert bp["variance"]["ci95"][0] <= bp["variance"]["mean"] <= bp["variance"]["ci95"][1]
    assert len(study_lines(study)) == 1 + 3 + sum(len(v) for v in SMALL_KNOBS.values())


def test_study_json_round_trips_and_the_page_tables_read_it(study, tmp_path):
    paths = save_study(study, tmp_path / "run", tmp_path / "assets" / "fig2.png")
    assert [p.name for p in paths] == ["fig2.json", "fig2.png", "fig2.png", "fig2.json"]
    assert json.loads((tmp_path / "run" / "fig2.json").read_text()) == json.loads(json.dumps(study))
    assets = json.loads((tmp_path / "assets" / "fig2.json").read_text())
    assert isinstance(assets.pop("per_seed"), str)  # the per-seed records stay in the run folder
    assert assets == json.loads(json.dumps({k: v for k, v in study.items() if k != "per_seed"}))
    assert (tmp_path / "assets" / "fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = "\n".join(study_markdown(json.loads((tmp_path / "assets" / "fig2.json").read_text())))
    mean = study["rules"]["predictive_coding"]["layers"]["all"]["trained"]["bias_deg"]["mean"]
    assert "| predictive_coding [?] | " in md and f"{mean:.1f} [" in md
    assert "| self_prediction_steps | bias (deg) | variance | apical_mismatch |" in md


def test_knob_trends_pc_steps_dendritic_self_prediction_and_ep_nudging(study, audit):
    """At the initial weights: PC's bias falls with relaxation steps; dendritic error's falls as its interneurons
    learn to predict the top-down input (and their prediction error falls); symmetric nudging is less biased than
    one-sided at small beta on this unconverged relaxation, and EP's bias falls with relaxation steps."""
    def bias(key, i):
        cur = study["curves"][key]
        return cur["points"][i]["layers"]["all"][cur["state"]]["bias_deg"]["mean"]

    mism = [p["extra"]["apical_mismatch"]["mean"] for p in study["curves"]["dendritic_self_prediction"]["points"]]
    audit.check("fig2_knob_trends", {
        "pc_bias_drop_deg": bias("pc_steps", 0) - bias("pc_steps", 1),
        "dendritic_bias_drop_deg": bias("dendritic_self_prediction", 0) - bias("dendritic_self_prediction", 1),
        "dendritic_mismatch_ratio": mism[1] / mism[0],
        "ep_one_sided_minus_symmetric_deg": bias("ep_beta", 1) - bias("ep_beta_symmetric", 1),
        "ep_steps_bias_drop_deg": bias("ep_steps", 0) - bias("ep_steps", 1),
    })
