"""Config: YAML round trip, overrides, per-env defaults, objective strings, clear errors."""

import subprocess
import sys

import pytest

from agents.config import Config, apply_dict, env_names, help_table, parse_override, resolve_config
from agents.objectives import get_objective, parse_spec, register_objective
from agents.objectives.reward import RewardObjective
from tests import ROOT


def test_yaml_round_trip(tmp_path):
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0", overrides=[
        parse_override("train.lr=3e-4"), parse_override("env.kwargs.noise_std=0.2"),
        parse_override("arch.channels=[4, 8, 8, 8]"), parse_override("run.target_return=0.9")])
    cfg.save(tmp_path / "c.yaml")
    back = Config.load(tmp_path / "c.yaml")
    assert back == cfg
    assert back.train.lr == 3e-4 and back.env.kwargs == {"noise_std": 0.2}
    assert back.arch.channels == [4, 8, 8, 8] and back.run.target_return == 0.9


def test_precedence_defaults_env_file_config_overrides(tmp_path):
    # the shipped OrientationDiscrimination.yaml applies to every OrientationDiscrimination* id
    assert env_names("BrainSet/OrientationDiscriminationEasy-v0") == [
        "OrientationDiscrimination", "OrientationDiscriminationEasy"]
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0")
    assert cfg.arch.strides == [4, 2, 2, 1] and cfg.train.lr == 1e-3
    assert Config().train.lr == 5e-4
    f = tmp_path / "mine.yaml"
    f.write_text("train:\n  lr: 5.0e-4\n  num_steps: 16\n")
    cfg = resolve_config("BrainSet/OrientationDiscriminationEasy-v0", f,
                         [parse_override("train.num_steps=4")])
    assert cfg.train.lr == 5e-4 and cfg.train.num_steps == 4 and cfg.arch.strides == [4, 2, 2, 1]
    assert resolve_config("CartPole-v1").arch == Config().arch  # no file: plain defaults


def test_types_are_coerced_and_bad_values_named():
    cfg = Config()
    apply_dict(cfg, {"train": {"total_steps": "1e5", "anneal_lr": "false"}})
    assert cfg.train.total_steps == 100000 and cfg.train.anneal_lr is False
    with pytest.raises(KeyError, match="train.learning_rate"):
        apply_dict(cfg, {"train": {"learning_rate": 1.0}})
    with pytest.raises(KeyError, match="unknown config section 'trainer'"):
        apply_dict(cfg, {"trainer": {}})
    with pytest.raises(TypeError, match="train.num_steps"):
        apply_dict(cfg, {"train": {"num_steps": "many"}})
    with pytest.raises(ValueError, match="train.num_steps"):
        parse_override("train.num_steps")
    with pytest.raises(ValueError, match="env.num_envs"):
        resolve_config("CartPole-v1", overrides=[parse_override("env.num_envs=0")])


def test_objective_strings_and_registry():
    assert parse_spec("reward+0.1*predictive") == [(1.0, "reward"), (0.1, "predictive")]
    assert parse_spec("2e-1*reward") == [(0.2, "reward")]
    obj = get_objective("reward", {"reward": {"ent_coef": 0.0}})
    assert obj.terms[0][1].ent_coef == 0.0
    with pytest.raises(ValueError, match="not known"):
        get_objective("reward+0.1*nonesuch")
    with pytest.raises(ValueError, match="cannot read"):
        get_objective("reward+*")
    with pytest.raises(ValueError, match="algo"):
        get_objective("reward", {"reward": {"algo": "dqn"}})

    class Half(RewardObjective):
        name = "half_reward_test"

    register_objective("half_reward_test", Half)
    both = get_objective("reward+0.5*half_reward_test")
    assert [w for w, _ in both.terms] == [1.0, 0.5] and both.name == "reward+0.5*half_reward_test"


def test_help_lists_every_option():
    text = help_table()
    for sec, fields in Config().to_dict().items():
        for key in fields:
            assert f"{sec}.{key} = " in text
    root = ROOT
    out = subprocess.run([sys.executable, str(root / "scripts" / "train.py"), "--help"], capture_output=True,
                         text=True, cwd=root, env={"PYTHONPATH": str(root), "PATH": ""}, timeout=120)
    assert out.returncode == 0, out.stderr
    for flag in ("--env", "--arch", "--objective", "--rule", "--seed", "--config", "--resume", "--device",
                 "--num-threads", "train.bptt_len", "run.checkpoint_every"):
        assert flag in out.stdout
