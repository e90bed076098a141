"""Fig. 4: the quick experiment end to end (the issue's check), and its parts with known answers."""

import json

import numpy as np
import pytest
import torch

from agents.build import load_agent
from agents.config import resolve_config
from agents.experiments.checks import CHECKS, fig4_figures
from agents.experiments.fig4 import Fig4Protocol, new_agent, pretrained_weights, stage_activation_fn, stage_weights
from agents.experiments.fig4_report import summarise
from agents.probes.tuning import Tuning, grating_batch, tuning_change, von_mises_population
from agents.trainer import train

PNG = b"\x89PNG\r\n\x1a\n"


def test_quick_fig4_threshold_drops_and_the_top_stage_changes_more(tmp_path, capsys):
    """``scripts/fig4.py --quick``, default seed 0: the 75% threshold drops by >= 5% (after/before 0.46-0.90 over
    the audited seeds and code paths, assets/robustness.md) and the normalised
    slope ratio at the trained orientation is larger in the top conv stage than in the bottom one."""
    from scripts.fig4 import main

    assert main(["--quick", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    run = next(tmp_path.glob("fig4__backprop__reward__quick__*"))
    result = json.loads((run / "fig4.json").read_text())
    (seed,) = result["seeds"]
    assert seed["seed"] == 0
    bottom, *_, top = result["summary"]["hierarchy"]
    assert (bottom, top) == ("V1", "IT") and {"V1", "IT"} <= set(seed["tuning_change"])
    check = CHECKS["fig4_quick"]  # limits set from the robustness audit (assets/robustness.md)
    figures = fig4_figures(seed, tuple(result["summary"]["hierarchy"]))
    assert not check.failures(figures), (check.failures(figures), seed["tuning_change"])
    # everything the figure and the README need is there, written atomically
    assert (run / "fig4.png").read_bytes()[:8] == PNG
    assert not [p for p in run.iterdir() if p.name.startswith(".")]
    assert set(seed["weight_change"]) == {"V1", "V2", "V4", "IT", "fc1"}
    assert all(0 < v < 1 for v in seed["weight_change"].values())
    assert "threshold" in out and "slope ratio" in out
    curves = np.load(seed["tuning_curves"])
    assert curves["before/V1"].shape == curves["after/V1"].shape and curves["orientations"].shape == (60,)
    # the trained agent reloads from its run folder; the pre-trained weights were cached
    agent = load_agent(run / "seed0")
    assert agent.config.rule.name == "backprop" and agent.config.env.kwargs["size"] == 32
    assert len(list((tmp_path / "fig4_pretrained").glob("pretrained_*_seed0.pt"))) == 1


def test_unknown_objective_or_rule_fails_before_any_work(tmp_path, capsys):
    from scripts.fig4 import main

    for args, word in ((["--objective", "reward+0.1*no_such_objective"], "no_such_objective"),
                       (["--rule", "nope"], "nope")):
        with pytest.raises(SystemExit) as exit_info:
            main(["--quick", *args, "--runs-dir", str(tmp_path)])
        assert exit_info.value.code == 2  # a usage error, before any work
        assert word in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_pretrained_weights_are_cached_per_seed_and_protocol(tmp_path):
    p = Fig4Protocol(pretrain_steps=2, pretrain_batch=8)
    a, cached = pretrained_weights(p, 0, tmp_path)
    b, cached_again = pretrained_weights(p, 0, tmp_path)
    assert (cached, cached_again) == (False, True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    c, _ = pretrained_weights(p, 1, tmp_path)
    assert not torch.equal(a["trunk.encoder.part.conv.stages.V1.0.weight"],
                           c["trunk.encoder.part.conv.stages.V1.0.weight"])
    assert Fig4Protocol(pretrain_steps=3).pretrain_key() != p.pretrain_key()
    assert Fig4Protocol(lr=1.0).pretrain_key() == Fig4Protocol().pretrain_key()  # fine-tuning only


def test_development_with_feedback_alignment_uses_the_trainers_feedback_matrices():
    """Developing with the perceptual-learning rule only makes sense if both phases share the feedback
    pathway: the random matrices drawn for the agent's layers must be the same in both."""
    from agents.build import build_components
    from agents.experiments.fig4 import _Classifier, train_config
    from agents.rules import get_rule
    from brainset_envs.tasks.orientation import OrientationCore

    p = Fig4Protocol()
    dev = get_rule("feedback_alignment", seed=3).prepare(_Classifier(new_agent(p, 0), p.pretrain_classes))
    cfg = train_config(p, 0, "feedback_alignment", "reward", "", rule_kwargs={"seed": 3})
    core = OrientationCore(**p.env_kwargs())
    agent, _, _ = build_components(cfg, core.observation_space, core.action_space)
    for name in ("trunk.encoder.part.conv.stages.V1.0", "trunk.encoder.part.mlp.layers.fc1"):
        a, b = dev.agent.get_submodule(name), agent.get_submodule(name)
        assert torch.equal(a.weight_feedback, b.weight_feedback)
    a, _ = pretrained_weights(Fig4Protocol(pretrain_steps=2, pretrain_batch=8), 0, None, "feedback_alignment")
    assert set(a) == set(agent.state_dict())  # the feedback matrices are not part of the weights


def test_stage_activation_window_and_stage_weights():
    p = Fig4Protocol()
    agent = new_agent(p, 0)
    images, _ = grating_batch([0.0, 45.0], 2, size=32)
    centre = stage_activation_fn(agent)(images)
    window = stage_activation_fn(agent, 12)(images)
    assert centre["V1"].shape == (4, 16, 16, 16) and centre["fc1"].shape == (4, 64)
    # 12 px: 6 x 6 positions of the 16 x 16 V1 map, 3 x 3 of V2 (8 x 8), at least 2 x 2 of V4 and IT (4 x 4)
    assert window["V1"].shape == (4, 16 * 36, 1, 1) and window["V2"].shape == (4, 32 * 9, 1, 1)
    assert window["IT"].shape == (4, 32 * 4, 1, 1)
    np.testing.assert_array_equal(window["V1"].reshape(4, 16, 6, 6), centre["V1"][:, :, 5:11, 5:11])
    names = stage_weights(agent, ("V1", "fc1"))
    assert names == {"V1": ["trunk.encoder.part.conv.stages.V1.0.weight"],
                     "fc1": ["trunk.encoder.part.mlp.layers.fc1.weight"]}


def test_smoothed_tuning_keeps_smooth_curves_and_removes_noise():
    ori = np.arange(0.0, 180.0, 3.0)
    f = von_mises_population(ori, np.array([10.0, 50.0, 120.0]), kappa=1.0)
    rng = np.random.default_rng(0)
    clean = Tuning(ori, np.repeat(f[:, None, :], 4, axis=1))
    np.testing.assert_allclose(clean.smoothed(6).mean, f, atol=1e-4)  # kappa 1: harmonics decay fast
    noisy = Tuning(ori, f[:, None, :] + 0.2 * rng.standard_normal((len(ori), 4, 3)))
    err_raw = np.abs(noisy.derivative(0.0) - clean.derivative(0.0)).mean()
    err_smooth = np.abs(noisy.smoothed(6).derivative(0.0) - clean.derivative(0.0)).mean()
    assert err_smooth < 0.5 * err_raw
    with pytest.raises(ValueError, match="harmonics"):
        Tuning(ori[:5], f[:5, None, :]).smoothed(3)


def test_grating_phase_grid_gives_exact_phase_average():
    a, _ = grating_batch([30.0], 8, size=16, noise_std=0.0, phases=8, seed=0)
    b, _ = grating_batch([30.0], 8, size=16, noise_std=0.0, phases=8, seed=1)
    np.testing.assert_array_equal(a, b)  # no randomness left
    assert abs(a.astype(float).mean() - 128.0) < 1.0  # opposite phases cancel


def test_tuning_change_skips_silent_units():
    ori = np.arange(0.0, 180.0, 2.0)
    f = von_mises_population(ori, np.linspace(0, 180, 5, endpoint=False), kappa=2.0)
    f = np.concatenate([f, np.zeros((len(ori), 6))], axis=1)  # 6 silent units: more than half
    before = {"L": Tuning(ori, np.repeat(f[:, None, :], 4, axis=1))}
    after = {"L": Tuning(ori, np.repeat(1.5 * f[:, None, :], 4, axis=1))}
    ch = tuning_change(before, after, 40.0)["L"]
    assert (ch["n_units"], ch["n_responsive"]) == (11, 5)
    assert ch["slope_ratio"] == pytest.approx(1.0) and ch["amplitude_ratio"] == pytest.approx(1.5)
    assert np.isnan(tuning_change(before, after, 40.0, exclude_silent=False)["L"]["slope_ratio"])


def _seed_result(slopes, weights):
    stages = ["V1", "V2", "IT"]
    return {"tuning_change": {s: {"slope_ratio": v, "amplitude_ratio": 1.0, "fisher_ratio": float("nan"),
                                  "slope_ratio_by_preference": {"bins_deg": [0, 45, 90], "ratio": [v, float("nan")]}}
                              for s, v in zip(stages, slopes, strict=True)},
            "weight_change": dict(zip(stages, weights, strict=True)),
            "before": {"threshold": 2.0}, "after": {"threshold": 1.5}}


def test_summary_statistics_and_orderings():
    runs = [_seed_result([0.9, 1.1, 1.4], [0.1, 0.3, 0.2]), _seed_result([1.0, 0.8, 1.2], [0.1, 0.2, 0.3])]
    s = summarise(runs, ["V1", "V2", "IT"])
    assert s["stages"]["IT"]["slope_ratio"]["mean"] == pytest.approx(1.3)
    assert s["stages"]["IT"]["slope_ratio"]["std"] == pytest.approx(np.std([1.4, 1.2], ddof=1))
    assert s["stages"]["V1"]["fisher_ratio"]["n"] == 0 and s["stages"]["V1"]["fisher_ratio"]["mean"] is None
    assert s["threshold_drop"]["mean"] == pytest.approx(0.25)
    o = s["ordering"]
    assert (o["slope_ratio_increasing"], o["slope_ratio_top_gt_bottom"]) == (1, 2)
    assert o["weight_change_argmax"] == ["V2", "IT"]
    assert s["stages"]["V2"]["slope_ratio_by_preference"]["mean"] == [pytest.approx(0.95), None]


def test_trainer_starts_from_init_weights():
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[
        {"train": {"total_steps": 16, "num_steps": 2, "update_epochs": 1, "num_minibatches": 1, "lr": 1e-9},
         "env": {"num_envs": 8, "kwargs": {"size": 32}},
         "run": {"runs_dir": "", "progress": False, "video": False, "tensorboard": False, "eval_episodes": 4,
                 "device": "cpu"}}])
    first = train(cfg).agent
    init = {k: torch.full_like(v, 0.01) if k.endswith("policy.bias") else v for k, v in first.state_dict().items()}
    second = train(cfg, init_weights=init).agent
    assert torch.allclose(second.policy.bias, torch.full_like(second.policy.bias, 0.01), atol=1e-6)
    with pytest.raises(KeyError, match="nope"):
        train(cfg, init_weights={"nope": torch.zeros(1)})
