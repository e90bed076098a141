"""The README figures of intrinsic motivation, from agents trained with the ordinary trainer.

    python scripts/intrinsic_figures.py                 # both figures into assets/
    python scripts/intrinsic_figures.py --only coverage --seeds 4

- ``assets/empowerment_learned_vs_exact.png``: the variational empowerment estimate (objective
  'empowerment', n = 3) of an agent trained on a 10 x 10 room, beside the exact map and their difference.
- ``assets/coverage.png``: cells visited in 3000 steps of the 21 x 21 four-room world by the curiosity
  agent, a PPO agent with a count bonus, a random walk and the count-based reference policy (least-visited
  neighbour, which knows the map).
"""

from __future__ import annotations

import argparse
from pathlib import Path

EMPOWERMENT = ["env.kwargs={layout: open, size: 10, observation: coords, empowerment_n: 3}", "env.num_envs=16",
               "train.total_steps=100000", "train.lr=0.001", "train.anneal_lr=false", "arch.mlp_hidden=[128, 128]",
               "objective.spec=empowerment", "objective.kwargs={reward: {ent_coef: 0.03}}"]
EXPLORE = ["env.kwargs={layout: four_rooms_21, start: [1, 1], max_steps: 3000}", "env.num_envs=4",
           "train.total_steps=12000", "arch.mlp_hidden=[]", "train.lr=0.01", "train.anneal_lr=false"]
AGENTS = {"curiosity (prediction error)": ["objective.spec=curiosity", "objective.kwargs={reward: {ent_coef: 0.03}}"],
          "PPO + count bonus": ["objective.spec=count",
                                "objective.kwargs={reward: {ent_coef: 0.03}, count: {normalize: center}}"]}
QUIET = ["run.progress=false", "run.video=false", "run.eval_episodes=1", "run.eval_envs=1", "run.eval_every=0",
         "run.checkpoint_every=0"]


def _cfg(overrides: list[str], seed: int, runs_dir: str):
    from agents.config import parse_override, resolve_config

    ov = [*QUIET, f"run.seed={seed}", f"run.runs_dir={runs_dir}", *overrides]
    return resolve_config("BrainSet/EmpowermentGrid-v0", overrides=[parse_override(o) for o in ov])


def empowerment_figure(out: Path, runs_dir: str, seed: int) -> None:
    import gymnasium as gym

    from agents.objectives.empowerment import EmpowermentObjective
    from agents.probes.intrinsic import empowerment_comparison, save_empowerment_comparison
    from agents.trainer import train

    cfg = _cfg(EMPOWERMENT, seed, runs_dir)
    res = train(cfg)
    emp = EmpowermentObjective(**cfg.objective.kwargs.get("empowerment", {})).attach(res.agent)
    path = save_empowerment_comparison(emp, cfg.env.id, cfg.env.kwargs, out, "empowerment_learned_vs_exact",
                                       table=False)
    c = empowerment_comparison(emp, gym.make(cfg.env.id, **cfg.env.kwargs))
    print(f"{path}: Spearman {c['spearman']:.3f}, largest excess {c['max_excess_bits']:+.3f} bits, mean |error| "
          f"{c['mean_abs_error_bits']:.3f} bits (run folder {res.run_dir})")


def coverage_figure(out: Path, seeds: int) -> None:
    import numpy as np

    from agents.probes.intrinsic import coverage_curve, plot_coverage, save_figure, train_and_record
    from brainset_envs.analysis.empowerment import run_reference_policy

    n = 328
    curves = {}
    for label, extra in AGENTS.items():
        rows = []
        for seed in range(seeds):
            _, rec = train_and_record(_cfg(EXPLORE + extra, seed, ""))
            rows += [coverage_curve(t, n) for t in rec.trajectories()]
        curves[label] = np.array(rows)
    refs = (("random walk", "random", 200), ("count reference (least-visited cell)", "count", 16))
    for label, policy, walkers in refs:
        traj = run_reference_policy("four_rooms_21", policy, 3000, (1, 1), n_walkers=walkers, rng=0)
        curves[label] = np.array([coverage_curve(t, n) for t in traj])
    path = save_figure(plot_coverage(curves, "21 x 21 four rooms (328 cells), no reward, start in a corner"),
                       out / "coverage.png")
    print(path, {k: round(float(v[:, -1].mean()), 3) for k, v in curves.items()})


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", choices=["empowerment", "coverage"], help="make one figure only")
    p.add_argument("--out", default="assets", help="folder for the PNGs")
    p.add_argument("--runs-dir", default="runs", help="run folder parent for the empowerment agent")
    p.add_argument("--seed", type=int, default=0, help="seed of the empowerment agent")
    p.add_argument("--seeds", type=int, default=4, help="training seeds per exploring agent (4 walkers each)")
    a = p.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.only in (None, "empowerment"):
        empowerment_figure(out, a.runs_dir, a.seed)
    if a.only in (None, "coverage"):
        coverage_figure(out, a.seeds)


if __name__ == "__main__":
    main()
