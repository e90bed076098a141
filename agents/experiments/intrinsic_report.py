"""The intrinsic-motivation figures of the README, from agents trained with the ordinary trainer.

- :func:`empowerment_figure`: the variational empowerment estimate (objective 'empowerment', n = 3) of an
  agent trained on a 10 x 10 room, beside the exact map and their difference.
- :func:`coverage_figure`: cells visited in 3000 steps of the 21 x 21 four-room world by the tabular
  curiosity agent (optimistic Q-learning on a prediction-error bonus, :mod:`agents.classic.curiosity`) and
  its count-bonus twin, the deep PPO curiosity agent and a PPO agent with a count bonus (the ordinary
  trainer), a random walk and the count-based reference policy (least-visited neighbour, which knows the
  map).

The configurations are the ones the tests check (``tests/test_objectives_*.py`` import them), so the
figures show what the tests measure.
"""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np

from agents.classic.curiosity import ExploreConfig, explore
from agents.config import parse_override, resolve_config
from agents.experiments.intrinsic import train_and_record
from agents.objectives.empowerment import EmpowermentObjective
from agents.probes.intrinsic import (
    coverage_curve,
    empowerment_comparison,
    plot_coverage,
    save_figure,
    write_empowerment_comparison,
)
from agents.trainer import train
from brainset_envs.analysis.empowerment import run_reference_policy
from brainset_envs.core.layouts import get_layout

ENV_ID = "BrainSet/EmpowermentGrid-v0"
QUIET = ["run.progress=false", "run.video=false", "run.eval_episodes=1", "run.eval_envs=1", "run.eval_every=0",
         "run.checkpoint_every=0"]
# Empowerment: 10 x 10 room, coordinates, 16 envs, 100k steps.
ROOM = "{layout: open, size: 10, observation: coords, empowerment_n: 3}"
EMPOWERMENT = [f"env.kwargs={ROOM}", "env.num_envs=16", "train.total_steps=100000", "train.lr=0.001",
               "train.anneal_lr=false", "arch.mlp_hidden=[128, 128]", "objective.spec=empowerment",
               "objective.kwargs={reward: {ent_coef: 0.03}}"]
# Exploration: on-policy curiosity needs optimism (centred rewards) and fast per-state learning: a tabular
# policy and value (no hidden layers on the one-hot cell) with lr 0.01.
TABULAR = ["arch.mlp_hidden=[]", "train.lr=0.01", "train.anneal_lr=false"]
FOUR_ROOMS = "four_rooms_21"
WALKERS = 4  # envs sharing one network
# Tabular optimistic Q-learners (agents.classic.curiosity), each walker its own learner.
FOUR_ROOMS_KWARGS = {"layout": FOUR_ROOMS, "start": [1, 1]}
TABULAR_AGENTS = {"tabular curiosity (optimistic Q, prediction error)": "prediction",
                  "tabular count bonus (optimistic Q, 1/sqrt(n))": "count"}
AGENTS = {"PPO curiosity (prediction error)": ["objective.spec=curiosity",
                                               "objective.kwargs={reward: {ent_coef: 0.03}}"],
          "PPO + count bonus": ["objective.spec=count",
                                "objective.kwargs={reward: {ent_coef: 0.03}, count: {normalize: center}}"]}


def config(overrides: list[str], seed: int = 0, runs_dir: str = ""):
    """An EmpowermentGrid config: quiet, seeded, with ``overrides`` (``section.key=value`` strings)."""

    ov = [*QUIET, f"run.seed={seed}", f"run.runs_dir={runs_dir}", *overrides]
    return resolve_config(ENV_ID, overrides=[parse_override(o) for o in ov])


def explore_config(agent: list[str], seed: int, steps: int = 3000, runs_dir: str = ""):
    """``WALKERS`` walkers of one agent in the 21 x 21 four rooms from a corner, no reward, ``steps`` each."""
    env = f"env.kwargs={ {**FOUR_ROOMS_KWARGS, 'max_steps': steps} }"
    return config([env, f"env.num_envs={WALKERS}", f"train.total_steps={WALKERS * steps}", *TABULAR, *agent],
                  seed, runs_dir)


def empowerment_figure(out: str | Path, runs_dir: str = "runs", seed: int = 0, total_steps: int | None = None) -> dict:
    """Train the empowerment agent, write ``out/empowerment_learned_vs_exact.png``; returns the comparison
    (Spearman, largest excess, mean |error| in bits)."""

    extra = [] if total_steps is None else [f"train.total_steps={total_steps}"]
    cfg = config([*EMPOWERMENT, *extra], seed, runs_dir)
    res = train(cfg)
    emp = EmpowermentObjective(**cfg.objective.kwargs.get("empowerment", {})).attach(res.agent)
    env = gym.make(cfg.env.id, **cfg.env.kwargs)
    c = empowerment_comparison(emp, env)  # computed once: the figure and the printed numbers
    env.close()
    path = write_empowerment_comparison(c, cfg.env.id, out, "empowerment_learned_vs_exact", table=False)
    print(f"{path}: Spearman {c['spearman']:.3f}, largest excess {c['max_excess_bits']:+.3f} bits, mean |error| "
          f"{c['mean_abs_error_bits']:.3f} bits (run folder {res.run_dir})")
    return {k: c[k] for k in ("spearman", "max_excess_bits", "mean_abs_error_bits")}


def coverage_figure(out: str | Path, seeds: int = 4, steps: int = 3000, reference_walkers: int = 200) -> dict:
    """Train each exploring agent from scratch ``seeds`` times (``WALKERS`` walkers each), write
    ``out/coverage.png``; returns the mean final coverage per curve."""

    n = len(get_layout(FOUR_ROOMS).free_cells)
    curves = {}
    for label, extra in AGENTS.items():
        rows = []
        for seed in range(seeds):
            _, rec = train_and_record(explore_config(extra, seed, steps))
            rows += [coverage_curve(t, n) for t in rec.trajectories()]
        curves[label] = np.array(rows)

    for label, bonus in TABULAR_AGENTS.items():  # one walker per learner, as many walkers as above
        res = explore(ExploreConfig(n_agents=seeds * WALKERS, steps=steps, bonus=bonus, env_kwargs=FOUR_ROOMS_KWARGS))
        curves[label] = np.array([coverage_curve(t, n) for t in res.cells])
    refs = (("random walk", "random", reference_walkers), ("count reference (least-visited cell)", "count", 16))
    for label, policy, walkers in refs:
        traj = run_reference_policy(FOUR_ROOMS, policy, steps, (1, 1), n_walkers=walkers, rng=0)
        curves[label] = np.array([coverage_curve(t, n) for t in traj])
    title = f"21 x 21 four rooms ({n} cells), no reward, start in a corner"
    path = save_figure(plot_coverage(curves, title), Path(out) / "coverage.png")
    final = {k: round(float(v[:, -1].mean()), 3) for k, v in curves.items()}
    print(path, final)
    return final
