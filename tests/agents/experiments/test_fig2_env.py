"""Fig. 2 on a BrainSet env (scripts/fig2.py --env / --checkpoint): rule bias and variance on an RL batch."""

import json

import pytest

from agents.config import resolve_config
from agents.experiments.fig2_env import run_fig2_env, short_layer_name
from agents.trainer import train

ENV = "BrainSet/PatchForaging-v0"
SMALL = {"num_envs": 8, "num_steps": 16, "num_batches": 4}


def test_fresh_agent_backprop_is_exact_and_feedback_alignment_is_biased_below_the_heads(audit):
    res = run_fig2_env(ENV, ["backprop", "feedback_alignment"], **SMALL, seed=audit.seed(0))
    bp = res["rules"]["backprop"]["layers"]
    assert set(bp) == {"fc1", "fc2", "value.fc1", "value.fc2", "policy", "value", "all"}
    for d in bp.values():
        assert d["trained"]["bias_deg"] == pytest.approx(0.0, abs=1e-3)  # minibatches partition the rollout
        assert d["trained"]["variance"] > 0
    fa = res["rules"]["feedback_alignment"]["layers"]
    assert fa["policy"]["trained"]["bias_deg"] == pytest.approx(0.0, abs=1e-3)  # heads get the true gradient
    assert fa["value"]["trained"]["bias_deg"] == pytest.approx(0.0, abs=1e-3)
    # random feedback, not yet aligned
    audit.check("fig2_env_fa", {"valid_transitions": res["config"]["valid_transitions"],
                                "fa_fc1_bias_deg": fa["fc1"]["trained"]["bias_deg"]})
    # the same rollout for every rule: identical heads, identical minibatch variance there
    assert fa["policy"]["trained"]["variance"] == pytest.approx(bp["policy"]["trained"]["variance"], rel=1e-5)


def test_unsupported_rule_is_reported_not_fatal():
    res = run_fig2_env(ENV, ["backprop", "direct_feedback_alignment"], overrides=[{"arch": {"name": "mlp+gru"}}],
                       **SMALL)
    assert {"core.ih", "core.hh"} <= set(res["rules"]["backprop"]["layers"])
    assert "recurrent" in res["rules"]["direct_feedback_alignment"]["unsupported"]


def test_script_on_a_trained_checkpoint(tmp_path, capsys):
    from scripts.fig2 import main

    cfg = resolve_config(ENV, overrides=[
        {"train": {"total_steps": 512, "num_steps": 32}, "env": {"num_envs": 8},
         "run": {"runs_dir": str(tmp_path / "runs"), "progress": False, "video": False, "tensorboard": False,
                 "eval_episodes": 2, "device": "cpu", "seed": 3}}])
    run = train(cfg).run_dir
    assert main(["--checkpoint", str(run), "--rules", "backprop,node_perturbation", "--repeats", "2",
                 "--num-envs", "8", "--num-steps", "16", "--batches", "4", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    folder = next(tmp_path.glob("PatchForaging-v0__fig2__0__*"))
    res = json.loads((folder / "fig2.json").read_text())
    assert res["config"]["checkpoint"] == str(run) and res["model"].startswith("trained")
    assert res["rules"]["node_perturbation"]["layers"]["all"]["trained"]["n_estimates"] == 8
    assert (folder / "fig2.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "node_perturbation" in out
    with pytest.raises(ValueError, match="trained on"):
        run_fig2_env("BrainSet/WaterMaze-v0", ["backprop"], checkpoint=run)


def test_short_layer_names():
    assert short_layer_name("trunk.encoder.part.conv.stages.V1.0") == "V1"
    assert short_layer_name("trunk.encoder.part.mlp.layers.fc2") == "fc2"
    assert short_layer_name("value_trunk.encoder.part.mlp.layers.fc1") == "value.fc1"
    assert short_layer_name("trunk.encoder.parts.image.conv.stages.V2.0") == "image.V2"
    assert short_layer_name("trunk.core.ih") == "core.ih"
    assert short_layer_name("policy") == "policy"
