"""Fig. 4 of Richards et al. 2019, measured: perceptual learning of orientation in a conv hierarchy.

    python scripts/fig4.py --seeds 3 --rule backprop --objective reward
    python scripts/fig4.py --seeds 3 --rule feedback_alignment
    python scripts/fig4.py --quick                      # CI-sized, one seed (seed 0)
    python scripts/fig4.py --rules backprop,feedback_alignment --seeds 20   # many seeds and rules, on Ray Tune

Per seed: a conv net (stages V1, V2, V4, IT, then fc1) develops orientation tuning (coarse orientation
classification; cached under --cache-dir), a logistic readout learns the task with the body frozen
(the "before" state), then the whole agent learns fine discrimination with the reward objective through
the trainer, with the chosen --rule and --objective. Writes fig4.json and fig4.png into
runs/fig4__<rule>__<objective>__<time>/ (one trainer run folder per seed inside), copies the PNG to
--assets when given, and prints the per-stage changes with their spread over seeds.

With --rules (one or more rules, comma-separated) every (rule, seed) is a Ray Tune trial
(agents/experiments/fig4_sweep.py): runs/fig4_sweep__<rules>__<objective>/ holds each pair's result as it
ends (the same command again runs only the missing ones), the graded order's frequency with a Wilson
interval, permutation tests between rules, fig4_sweep.{json,png} and report.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from agents.config import rule_names
from agents.experiments.fig4_report import check_fig4_args, run_dir_name, run_fig4, save_fig4, summary_table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds >= 1 (first-seed, first-seed + 1, ...); default 3, with --quick 1")
    p.add_argument("--first-seed", type=int, default=0, help="the first seed")
    p.add_argument("--rule", default="backprop", help="learning rule of the perceptual-learning phase")
    p.add_argument("--rule-kwargs", default="{}", help="options of the rule, as YAML, e.g. '{seed: 1}'")
    p.add_argument("--objective", default="reward",
                   help="objective of the perceptual-learning phase, e.g. reward or 'reward+0.1*predictive'")
    p.add_argument("--quick", action="store_true", help="CI-sized protocol with one seed unless --seeds is given")
    p.add_argument("--train-steps", type=int, help="env steps of perceptual learning (protocol: 40000)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any protocol field (see agents/experiments/fig4.py Fig4Protocol), e.g. --set lr=1e-3")
    p.add_argument("--device", default="cpu", help="torch device of the trainer (cpu, cuda, auto)")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--runs-dir", default="runs", help="parent of the run folder")
    p.add_argument("--cache-dir", default=None, help="pre-trained weights cache (default RUNS_DIR/fig4_pretrained)")
    p.add_argument("--assets", default=None, help="also write the PNG here (e.g. assets/fig4.png; with --rules "
                   "the JSON goes beside it)")
    p.add_argument("--rules", default=None, help="several rules, comma-separated: every (rule, seed) as a Ray Tune "
                   "trial, compared (graded-order frequency, permutation tests)")
    p.add_argument("--address", default=None, help="with --rules: a running Ray cluster (default: a local Ray)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="with --rules: CPUs Ray reserves per trial")
    a = p.parse_args(argv if argv is not None else sys.argv[1:])

    rules = [r.strip() for r in a.rules.split(",") if r.strip()] if a.rules is not None else None
    try:  # every argument, before the run folder exists
        if rules is not None:
            bad = [r for r in rules if r not in rule_names()]
            if bad or not rules or len(set(rules)) != len(rules):
                raise ValueError(f"argument --rules: {a.rules!r} must name distinct registered rules; allowed: "
                                 f"{', '.join(rule_names())}")
            if a.rule_kwargs.strip() not in ("{}", ""):
                raise ValueError("argument --rule-kwargs: not with --rules (each rule runs with its defaults)")
            if not a.cpus_per_trial > 0:
                raise ValueError(f"argument --cpus-per-trial: {a.cpus_per_trial:g} must be > 0")
            for r in rules:
                a.rule = r
                proto, seeds, rule_kwargs = check_fig4_args(a)
        else:
            proto, seeds, rule_kwargs = check_fig4_args(a)
    except ValueError as e:
        p.error(str(e))
    if rules is not None:
        return _sweep_main(a, proto, seeds, rules)

    torch.set_num_threads(a.num_threads)
    out_dir = Path(a.runs_dir) / run_dir_name(a.rule, a.objective, a.quick)
    cache = a.cache_dir or str(Path(a.runs_dir) / "fig4_pretrained")
    print(f"Fig. 4: rule {a.rule}, objective {a.objective}, seeds {seeds} -> {out_dir}")
    result = run_fig4(proto, seeds, a.rule, a.objective, out_dir, cache, a.device, a.num_threads,
                      rule_kwargs, progress=print)
    result["command"] = " ".join(["scripts/fig4.py", *(argv if argv is not None else sys.argv[1:])])
    paths = save_fig4(result, out_dir, a.assets)
    print(summary_table(result))
    for path in paths:
        print(f"wrote {path}")
    return 0


def _sweep_main(a: argparse.Namespace, proto, seeds: list[int], rules: list[str]) -> int:
    # deferred: the Ray path only
    from agents.experiments.fig4_sweep import report_markdown, run_fig4_sweep, save_sweep

    obj = a.objective.replace("*", "x").replace("+", "_plus_")
    out = Path(a.runs_dir) / f"fig4_sweep__{'_'.join(rules)}__{obj}{'__quick' if a.quick else ''}"
    cache = a.cache_dir or str(Path(a.runs_dir) / "fig4_pretrained")
    try:
        result = run_fig4_sweep(proto, rules, seeds, a.objective, out, cache, a.address, a.cpus_per_trial)
    except (ValueError, RuntimeError) as e:
        print(f"fig4.py: error: {e}", file=sys.stderr)
        return 1
    for path in save_sweep(result, out, a.assets):
        print(f"wrote {path}")
    print(report_markdown(result))
    return 0

