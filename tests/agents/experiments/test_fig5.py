"""Fig. 5 (agents/experiments/fig5.py): the Go/NoGo runs, the probe, the figure, resume and bad input."""

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from agents.experiments import fig5
from agents.experiments.fig5 import GROUPS, PHASES, QUICK, RULES, Fig5Protocol, check_rules, main, train_seed


def test_quick_run_writes_json_and_png_then_resumes_without_training(tmp_path, monkeypatch, capsys):
    argv = ["--quick", "--seeds", "2", "--rules", "backprop,agrel", "--runs-dir", str(tmp_path),
            "--assets", str(tmp_path / "assets")]
    (tmp_path / "assets").mkdir()
    assert main(argv) == 0
    out = capsys.readouterr().out
    run = tmp_path / "fig5_quick"
    result = json.loads((run / "fig5.json").read_text())
    assert (run / "fig5.png").stat().st_size > 10_000 and (tmp_path / "assets" / "fig5.png").exists()
    assert json.loads((tmp_path / "assets" / "fig5.json").read_text()) == result
    assert result["rules"] == ["backprop", "agrel"] and result["seeds"] == [0, 1]
    for rule in result["rules"]:
        for ph in PHASES:
            entry = result["summary"][rule][ph]
            assert set(GROUPS) <= set(entry) and entry["hit_rate"]["n"] == 2
        assert f"\n{rule}: " in out and "sign agreement" in out
    # AGREL by construction: its changes sit in tagged units only, signed by RPE x tag
    for ph in PHASES:
        assert result["summary"]["agrel"][ph]["tagged_fraction"]["mean"] == 1.0
        assert result["summary"]["agrel"][ph]["sign_agreement"]["mean"] == 1.0
    assert len(list((run / "seeds").glob("*.json"))) == 4

    def no_training(*args, **kwargs):
        raise AssertionError("a finished (rule, seed) was trained again")

    monkeypatch.setattr(fig5, "train_seed", no_training)
    assert main(argv) == 0
    again = json.loads((run / "fig5.json").read_text())
    assert again["summary"] == result["summary"]


def test_a_run_folder_of_another_protocol_is_refused(tmp_path):
    fig5.run_fig5(["backprop"], [0], replace(QUICK, updates=8), tmp_path)
    with pytest.raises(ValueError, match="holds a run of another protocol"):
        fig5.run_fig5(["backprop"], [0], replace(QUICK, updates=12), tmp_path)


def test_probing_changes_neither_the_net_nor_the_training_run():
    p = replace(QUICK, updates=8)
    rule = fig5._rule("backprop", 0, p)
    net = rule.prepare(fig5._net(p, 0))
    before = [t.clone() for t in net.state_dict().values()]
    a, b = fig5.probe(net, rule, p, 0), fig5.probe(net, rule, p, 0)
    assert a == b
    assert all(torch.equal(x, y) for x, y in zip(before, net.state_dict().values(), strict=True))
    # the same run twice: identical curves and probes (every draw comes from the seed)
    assert train_seed("agrel", 3, p) | {"seconds": 0} == train_seed("agrel", 3, p) | {"seconds": 0}


def test_every_rule_learns_go_nogo_from_its_own_choices(audit):
    """Each rule's figure comes from a trained agent: the default protocol's hit rate rises from the
    untrained net's to near 1 for every rule."""
    seed = audit.seed(0)
    p = Fig5Protocol()
    figures = {}
    for rule in RULES:
        r = train_seed(rule, seed, p)
        before, after = r["probes"]["before"], r["probes"]["after"]
        print(f"{rule}: hits {before['hit_rate']:.3f} -> {after['hit_rate']:.3f}, false alarms "
              f"{before['false_alarm_rate']:.3f} -> {after['false_alarm_rate']:.3f}")
        figures[f"{rule}_hit_rate"] = after["hit_rate"]
    audit.check("fig5_go_nogo", figures)


def test_a_false_alarm_cost_teaches_every_rule_to_withhold(audit):
    seed = audit.seed(0)
    p = Fig5Protocol(false_alarm_reward=-0.5)
    figures = {}
    for rule in RULES:
        after = train_seed(rule, seed, p)["probes"]["after"]
        print(f"{rule}: hits {after['hit_rate']:.3f}, false alarms {after['false_alarm_rate']:.3f}")
        figures[f"{rule}_discrimination"] = after["hit_rate"] - after["false_alarm_rate"]
    audit.check("fig5_go_nogo_timeout", figures)


@pytest.mark.parametrize("kwargs, words", [
    ({"updates": 0}, "updates=0 must be an integer >= 4"),
    ({"hidden": 1.5}, "hidden=1.5 must be an integer >= 2"),
    ({"lr": 0.0}, "lr=0.0 must be a number in (0.0, 1.0]"),
    ({"epsilon": 2}, "epsilon=2 must be a number in [0.0, 1.0]"),
    ({"false_alarm_reward": float("nan")}, "false_alarm_reward=nan must be a number in [-10.0, 1.0]"),
])
def test_bad_protocols_are_refused(kwargs, words):
    with pytest.raises(ValueError) as e:
        Fig5Protocol(**kwargs)
    assert words in str(e.value)


def test_bad_rules_seeds_and_options_are_refused(tmp_path, capsys):
    with pytest.raises(ValueError, match="rule='hebbian' cannot run Fig. 5; allowed: \\['backprop'"):
        check_rules(["hebbian"])
    with pytest.raises(ValueError, match="seeds=\\[-1\\] must be a non-empty list of integers >= 0"):
        fig5.run_fig5(["backprop"], [-1], QUICK)
    for argv, words in ((["--seeds", "0"], "--seeds: 0 must be >= 1"),
                        (["--rules", "oja"], "--rules: rule='oja' cannot run Fig. 5"),
                        (["--updates", "2"], "updates=2 must be an integer >= 4")):
        with pytest.raises(SystemExit) as e:
            main([*argv, "--runs-dir", str(tmp_path)])
        assert e.value.code == 2 and words in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_verdicts_follow_the_sign_of_each_groups_change():
    def run(plus: list[float], minus_on_plus: list[float], minus: list[float]) -> dict:
        per_seed = [{"rule": "r", "probes": {
            "before": {"signals": {GROUPS[0]: 0.0, GROUPS[2]: 0.0, GROUPS[3]: 0.0}},
            "during": {"signals": {GROUPS[0]: a, GROUPS[2]: b, GROUPS[3]: c}}}}
            for a, b, c in zip(plus, minus_on_plus, minus, strict=True)]
        return {"rules": ["r"], "per_seed": per_seed}

    up, down, unreliable = [1.0, 1.1, 0.9], [-1.0, -1.2, -0.8], [1.0, -1.2, 0.1]
    cases = [((up, down, unreliable), "asymmetric"), ((up, unreliable, up), "symmetric"), ((up, down, up), "both"),
             ((up, unreliable, unreliable), "neither"), ((down, down, up), "neither")]
    for args, word in cases:
        assert fig5.verdict_word(fig5.verdicts(run(*args))["r"]) == word, (args, word)
    ch = fig5.changes(run(up, down, up))["r"]["S+ units, S+ trials"]
    assert ch["mean"] == pytest.approx(1.0) and ch["n"] == 3 and np.isfinite(ch["ci95"])


def test_the_readme_says_what_the_assets_run_shows():
    """The README's Fig. 5 statement is the one the figure's own run (assets/fig5.json) gives."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    result = json.loads((root / "assets" / "fig5.json").read_text())
    assert result["seeds"] == list(range(16)) and result["protocol"] == fig5.asdict(Fig5Protocol())
    assert fig5.readme_sentence(result) in " ".join((root / "README.md").read_text().split())
