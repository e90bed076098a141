"""Fig. 2 of Richards et al. 2019, measured: bias and variance of each learning rule's updates, per layer.

    python scripts/fig2.py --task digits            # all rules, writes runs/digits__fig2__0__<time>/
    python scripts/fig2.py --task digits --assets assets/fig2.png   # also the README figure
    python scripts/fig2.py --task digits --rules backprop,feedback_alignment --epochs 5 --knobs none
    python scripts/fig2.py --seeds 5 --assets assets/fig2.png   # 5 seeds, 95% CIs, knob curves: the README's
    python scripts/fig2.py --knobs ep_beta=0.2:0.1:0.05,rdd_window   # chosen curves (and values)
    python scripts/fig2.py --env BrainSet/PatchForaging-v0                 # a fresh agent, one RL rollout
    python scripts/fig2.py --checkpoint runs/<a training run folder>        # a trained agent, its env

Writes fig2.json and fig2.png into a run folder under --runs-dir, and nothing else unless asked: to
refresh the README figure, add --assets assets/fig2.png (assets/fig2.json goes beside it). Digits: every
rule at each seed of --seeds (mean and 95% CI over them), and the knob curves of --knobs
(:mod:`agents.experiments.fig2_knobs`: EP beta one-sided and symmetric, EP and PC relaxation steps,
dendritic self-prediction steps, RDD window and samples). With --env or --checkpoint, each rule's update is
measured on one rollout of the env (the run's objective, e.g. PPO's policy gradient + value loss)
against backprop's gradient on the whole rollout, per layer of the agent (:mod:`agents.experiments.fig2_env`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from agents.config import parse_override
from agents.experiments import fig2, fig2_env, fig2_knobs
from agents.rules import registered_rules
from brainset_envs.core.ids import env_id_error


def _check(a, known_rules: list[str]) -> str | None:
    """A one-line usage error for a bad option, or None (checked before any work or output)."""
    for opt in ("num_envs", "num_steps", "batches", "epochs", "batch", "repeats", "num_threads"):
        if getattr(a, opt) < 1:
            return f"argument --{opt.replace('_', '-')}: {getattr(a, opt)} is not allowed; give an integer >= 1"
    rules = [r.strip() for r in a.rules.split(",") if r.strip()]
    unknown = [r for r in rules if r not in known_rules]
    if not rules or unknown:
        return (f"argument --rules: {a.rules!r} names {'no rule' if not rules else repr(unknown[0])}; allowed: a "
                f"comma-separated list of {', '.join(known_rules)}")
    try:
        hidden = [int(h) for h in a.hidden.split(",") if h.strip()]
    except ValueError:
        hidden = [0]
    if not hidden or min(hidden) < 1:
        return f"argument --hidden: {a.hidden!r} is not allowed; give comma-separated layer sizes >= 1, e.g. 64,64"
    for parse, value in ((fig2_knobs.parse_seeds, a.seeds), (fig2_knobs.parse_knobs, a.knobs)):
        try:
            parse(value)
        except ValueError as e:
            return f"argument --{parse.__name__.removeprefix('parse_')}: {e}"
    if a.assets is not None and Path(a.assets).suffix != ".png":
        return f"argument --assets: {a.assets!r} must end in .png"
    if (a.env is not None or a.checkpoint is not None) and (a.seeds != "1" or a.knobs != "all"):
        return "arguments --seeds and --knobs: digits only; --env/--checkpoint measure one rollout at --seed"
    if a.env is not None:
        return env_id_error(a.env)
    return None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="digits", choices=["digits"], help="data set (digits: sklearn 8x8)")
    p.add_argument("--env", help="measure on an RL rollout of this env instead (e.g. BrainSet/PatchForaging-v0)")
    p.add_argument("--checkpoint", help="a trained agent (run folder or .pt) for --env mode; default: fresh")
    p.add_argument("--num-envs", type=int, default=16, help="--env mode: envs in the rollout")
    p.add_argument("--num-steps", type=int, default=32, help="--env mode: steps per env in the rollout")
    p.add_argument("--batches", type=int, default=8, help="--env mode: minibatches the rollout is split into")
    p.add_argument("overrides", nargs="*", metavar="section.key=value",
                   help="--env mode: config overrides of the agent (as in train.py), e.g. arch.name=mlp")
    p.add_argument("--rules", default=",".join(registered_rules()), help="comma-separated rule names")
    p.add_argument("--hidden", default="64,64", help="hidden layer sizes, comma-separated")
    p.add_argument("--epochs", type=int, default=10, help="training epochs per rule")
    p.add_argument("--batch", type=int, default=32, help="minibatch size (training and estimates)")
    p.add_argument("--repeats", type=int, default=32, help="passes over the batches for the noisy rules")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split, weights and rules (the first of "
                   "--seeds)")
    p.add_argument("--seeds", default="1", help="digits: how many seeds from --seed (e.g. 5), or a list (0,3,7); "
                   "2 or more give 95%% CIs")
    p.add_argument("--knobs", default="all", help="digits: knob curves, 'all', 'none' or a comma-separated list of "
                   f"{', '.join(fig2_knobs.KNOBS)}, each optionally =v1:v2:... (its values)")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--runs-dir", default="runs", help="where the run folder goes")
    p.add_argument("--assets", default=None, help="also write the PNG here (e.g. assets/fig2.png, the README's)")
    p.add_argument("--no-assets", action="store_true", help="no copy of the PNG (the default; kept for old commands)")
    a = p.parse_args(argv)
    problem = _check(a, list(registered_rules()))
    if problem:
        p.error(problem)

    torch.set_num_threads(a.num_threads)
    rules = [r.strip() for r in a.rules.split(",") if r.strip()]
    if a.env or a.checkpoint:
        try:
            overrides = [parse_override(o) for o in a.overrides]
        except ValueError as e:
            p.error(str(e))
        result = fig2_env.run_fig2_env(a.env, rules, a.checkpoint, a.num_envs, a.num_steps, a.batches, a.repeats,
                              a.seed, overrides, progress=print)
        task, assets = result["task"], None if a.no_assets else a.assets
    else:
        if a.overrides:
            p.error(f"config overrides {a.overrides} need --env or --checkpoint")
        hidden = [int(h) for h in a.hidden.split(",") if h.strip()]
        seeds = fig2_knobs.parse_seeds(a.seeds, a.seed)
        knobs = fig2_knobs.parse_knobs(a.knobs)
        if a.knobs.strip() == "all":  # the curves of the rules asked for
            knobs = {k: v for k, v in knobs.items() if fig2_knobs.KNOBS[k].rule in rules}
        result = fig2_knobs.run_fig2_study(a.task, rules, hidden, a.epochs, a.batch, seeds, a.repeats, knobs,
                                           progress=print)
        result["command"] = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
        run_dir = Path(a.runs_dir) / fig2.run_dir_name(a.task, seeds[0])
        paths = fig2_knobs.save_study(result, run_dir, None if a.no_assets else a.assets)
        print("\n".join(fig2_knobs.study_lines(result)))
        print(f"{result['seconds']:.0f} s")
        for path in paths:
            print(f"wrote {path}")
        return 0
    result["command"] = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    run_dir = Path(a.runs_dir) / fig2.run_dir_name(task, a.seed)
    paths = fig2.save_fig2(result, run_dir, assets)
    print("\n".join(fig2.summary_lines(result)))
    for path in paths:
        print(f"wrote {path}")
    return 0
