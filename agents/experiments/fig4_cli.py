"""Fig. 4 of Richards et al. 2019, measured: perceptual learning of orientation in a conv hierarchy.

    python scripts/fig4.py --seeds 3 --rule backprop --objective reward
    python scripts/fig4.py --seeds 3 --rule feedback_alignment
    python scripts/fig4.py --quick                      # CI-sized, one seed (seed 0)

Per seed: a conv net (stages V1, V2, V4, IT, then fc1) develops orientation tuning (coarse orientation
classification; cached under --cache-dir), a logistic readout learns the task with the body frozen
(the "before" state), then the whole agent learns fine discrimination with the reward objective through
the trainer, with the chosen --rule and --objective. Writes fig4.json and fig4.png into
runs/fig4__<rule>__<objective>__<time>/ (one trainer run folder per seed inside), copies the PNG to
--assets when given, and prints the per-stage changes with their spread over seeds.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

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
    p.add_argument("--assets", default=None, help="also write the PNG here (e.g. assets/fig4.png)")
    a = p.parse_args(argv if argv is not None else sys.argv[1:])

    try:  # every argument, before the run folder exists
        proto, seeds, rule_kwargs = check_fig4_args(a)
    except ValueError as e:
        p.error(str(e))

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
