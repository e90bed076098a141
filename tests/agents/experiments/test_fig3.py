"""Fig. 3 (agents/experiments/fig3.py): the three panels on y = w2 w1 x, their numbers, the files and the CLI."""

import json

import pytest

from agents.experiments import fig3


def test_panels_follow_are_orthogonal_to_and_partly_follow_the_gradient(audit):
    res = fig3.run_fig3(seed=audit.seed(0), n=9, probes=4, rules=())
    p = res["panels"]
    assert p["backprop"]["orthogonal_fraction"] < 1e-12 and p["backprop"]["antisymmetry_exact"] < 1e-12
    assert p["drift"]["orthogonal_fraction"] > 1 - 1e-12  # along the level sets of w1 w2
    assert p["drift"]["antisymmetry_exact"] < 1e-12  # and yet the gradient of (w1^2 - w2^2) / 2
    assert abs(p["drift"]["loss_end"] - p["drift"]["loss_start"]) < 0.05  # the loss hardly changes
    assert p["backprop"]["loss_end"] < 1e-3 and p["feedback_alignment"]["loss_end"] < 1e-2
    fa = p["feedback_alignment"]
    audit.check("fig3_panels", {
        "fa_orthogonal_fraction": fa["orthogonal_fraction"], "fa_antisymmetry": fa["antisymmetry_exact"],
        "fa_estimate_relative_error": abs(fa["antisymmetry_estimated"] / fa["antisymmetry_exact"] - 1.0),
        "backprop_antisymmetry_estimated": p["backprop"]["antisymmetry_estimated"]})


def test_save_and_cli_write_json_and_png_into_the_run_folder(tmp_path, capsys):
    assert fig3.main(["--rules", "backprop,hebbian", "--grid", "5", "--probes", "2", "--runs-dir",
                      str(tmp_path)]) == 0
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("fig3__0__")
    data = json.loads((run / "fig3.json").read_text())
    assert set(data["panels"]) == {"backprop", "drift", "feedback_alignment"}
    assert set(data["rules"]) == {"backprop", "hebbian"}
    assert (run / "fig3.png").read_bytes()[:4] == b"\x89PNG"
    assert "drift" in capsys.readouterr().out


def test_assets_get_the_json_beside_the_png_and_every_stochastic_rule_runs(tmp_path):
    """--assets writes fig3.json beside fig3.png (the docs page's tables read it); AGREL and RDD, stochastic
    rules without the perturbation rules' options, are measured too (they were once given those options)."""
    png = tmp_path / "assets" / "fig3.png"
    png.parent.mkdir()
    assert fig3.main(["--rules", "backprop,agrel,rdd", "--grid", "5", "--probes", "2", "--runs-dir",
                      str(tmp_path / "runs"), "--assets", str(png)]) == 0
    data = json.loads(png.with_suffix(".json").read_text())
    (run,) = (tmp_path / "runs").iterdir()
    assert data == json.loads((run / "fig3.json").read_text()) and png.read_bytes()[:4] == b"\x89PNG"
    lines = fig3.results_markdown(data)
    for name, r in data["rules"].items():
        assert (f"| `{name}` | {r['orthogonal_fraction']:.3g} | {r['cos_to_descent']:.3g} | {r['antisymmetry']:.3g} | "
                f"{r['antisymmetry_hidden']:.3g} |") in lines
    assert sum(line.startswith("| ") for line in lines) == 1 + 3 + 1 + 3  # a header and 3 rows per table


@pytest.mark.parametrize("argv, words", [(["--rules", "nope"], "not registered"), (["--grid", "1"], "--grid"),
                                         (["--assets", "x.jpg"], ".png")])
def test_bad_options_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as info:
        fig3.main(argv)
    assert info.value.code == 2 and words in capsys.readouterr().err
