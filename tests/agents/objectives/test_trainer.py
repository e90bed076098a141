"""Every intrinsic objective runs through the ordinary trainer on grid worlds and on image envs, alone and
beside reward, with several learning rules; run folders get the empowerment map; trained agents reload."""

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents.build import load_agent
from agents.config import parse_override, resolve_config
from agents.objectives.empowerment import EmpowermentObjective
from agents.probes.intrinsic import cell_observations
from agents.trainer import train

TINY_CONV = ["arch.channels=[4, 4, 4, 4]", "arch.kernels=[3, 3, 3, 3]", "arch.conv_fc=[16]"]
PIXELS = "env.kwargs={layout: open, size: 5, observation: pixels, pixels_per_cell: 4}"


def _cfg(env_id, tmp_path, *overrides):
    base = [f"run.runs_dir={tmp_path}", "run.progress=false", "run.video=false", "run.eval_episodes=2",
            "run.eval_envs=2", "run.eval_every=0", "env.num_envs=4", "train.num_steps=8",
            "train.total_steps=128", "run.tensorboard=false"]
    return resolve_config(env_id, overrides=[parse_override(o) for o in (*base, *overrides)])


CASES = [
    # (objective, env id, extra overrides, metrics that must appear)
    ("curiosity", "BrainSet/EmpowermentGrid-v0", [PIXELS, *TINY_CONV], ["curiosity/pred_error"]),
    ("empowerment", "BrainSet/EmpowermentGrid-v0",
     [PIXELS, *TINY_CONV, "objective.kwargs={empowerment: {n: 2, warmup: 0, hidden: [16], replay: 64}}"],
     ["empowerment/decoder_nll", "empowerment/bound_bits"]),
    ("reward+0.1*predictive", "BrainSet/ForagingArena-v0", ["arch.mlp_hidden=[16]"], ["predictive/pred_error"]),
    ("reward+0.1*curiosity", "BrainSet/OrientationDiscriminationEasy-v0", TINY_CONV, ["curiosity/pred_error"]),
    ("predictive", "BrainSet/OrientationDiscriminationEasy-v0",
     [*TINY_CONV, "objective.kwargs={predictive: {target: inverse}}"], ["inverse_loss", "pred_error"]),
    ("rnd", "BrainSet/EmpowermentGrid-v0", ["env.kwargs={observation: view}"], ["rnd/rnd_error"]),
    ("count", "BrainSet/EmpowermentGrid-v0", [], ["count/distinct_observations"]),
    ("curiosity+0.5*empowerment", "BrainSet/EmpowermentGrid-v0",
     ["arch.name=mlp+gru", "train.bptt_len=4", "objective.kwargs={empowerment: {warmup: 0, replay: 64}}"],
     ["curiosity/pred_error", "empowerment/source_mse"]),
]


@pytest.mark.parametrize("spec,env_id,extra,keys", CASES, ids=[f"{c[0]}-{c[1].split('/')[-1]}" for c in CASES])
def test_objective_trains_through_the_trainer(tmp_path, spec, env_id, extra, keys):
    cfg = _cfg(env_id, tmp_path, f"objective.spec={spec}", *extra)
    res = train(cfg)
    row = res.rows[-1]
    for k in keys:
        assert k in row and math.isfinite(row[k]), (k, sorted(row))
    assert math.isfinite(row["grad_norm"])


@pytest.mark.parametrize("rule,spec", [("feedback_alignment", "curiosity"), ("sign_symmetry", "empowerment"),
                                       ("direct_feedback_alignment", "reward+0.1*predictive"),
                                       ("node_perturbation", "rnd"), ("predictive_coding", "curiosity")])
def test_objectives_train_with_other_learning_rules(tmp_path, rule, spec):
    from agents.build import build_components
    from agents.trainer import seed_everything

    cfg = _cfg("BrainSet/EmpowermentGrid-v0", tmp_path, f"objective.spec={spec}", f"rule.name={rule}",
               "arch.mlp_hidden=[16]", "objective.kwargs={}" if "empowerment" not in spec else
               "objective.kwargs={empowerment: {n: 2, warmup: 0, hidden: [16], replay: 64}}")
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    seed_everything(cfg.run.seed)  # the initial weights train() draws
    agent0, _, _ = build_components(cfg, env.observation_space, env.action_space)
    res = train(cfg)
    assert all(math.isfinite(v) for k, v in res.rows[-1].items() if isinstance(v, float) and k != "eval/return_std")
    after = res.agent.state_dict()
    trained = [k for k, p in agent0.named_parameters() if k.startswith("aux.") and p.requires_grad]
    assert trained and all(torch.isfinite(after[k]).all() for k in trained)
    assert any(not torch.equal(after[k], agent0.state_dict()[k]) for k in trained)  # the rule trained them


def test_empowerment_run_folder_gets_the_map_and_the_agent_reloads(tmp_path):
    env_kwargs = "{layout: open, size: 6, observation: coords, empowerment_n: 2}"
    cfg = _cfg("BrainSet/EmpowermentGrid-v0", tmp_path, "objective.spec=empowerment", f"env.kwargs={env_kwargs}",
               "objective.kwargs={empowerment: {n: 2, warmup: 0, replay: 128}}")
    res = train(cfg)
    png, table = res.run_dir / "empowerment_map.png", res.run_dir / "empowerment_map.json"
    assert png.stat().st_size > 1000
    c = json.loads(table.read_text())
    assert c["n"] == 2 and -1 <= c["spearman"] <= 1 and len(c["exact"]) == 6
    agent = load_agent(res.run_dir, which="last")
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    cells, obs = cell_observations(env)
    kw = cfg.objective.kwargs["empowerment"]
    fresh = EmpowermentObjective(**kw).attach(agent).estimate(torch.as_tensor(obs))
    trained = EmpowermentObjective(**kw).attach(res.agent).estimate(torch.as_tensor(obs))
    assert torch.allclose(fresh, trained)
    learned = np.array(c["learned"], dtype=float).ravel()
    assert np.allclose(learned[cells], trained.numpy(), atol=1e-5)


def test_intrinsic_figures_script_writes_both_pngs(tmp_path):
    """scripts/intrinsic_figures.py end to end with tiny budgets (the README figures use the defaults)."""
    from agents.experiments.intrinsic_report import TABULAR_AGENTS, coverage_figure, empowerment_figure

    c = empowerment_figure(tmp_path, runs_dir=str(tmp_path / "runs"), total_steps=2048)
    assert -1 <= c["spearman"] <= 1 and math.isfinite(c["max_excess_bits"])
    final = coverage_figure(tmp_path, seeds=1, steps=100, reference_walkers=8)
    assert set(final) == {"PPO curiosity (prediction error)", "PPO + count bonus", "random walk",
                          "count reference (least-visited cell)", *TABULAR_AGENTS}
    assert all(0 < v <= 1 for v in final.values())
    for name in ("empowerment_learned_vs_exact.png", "coverage.png"):
        assert (tmp_path / name).stat().st_size > 10_000
