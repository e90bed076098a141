"""Fig. 2 of Richards et al. 2019, measured: bias and variance of each learning rule's updates, per layer.

    python scripts/fig2.py --task digits            # all rules, writes runs/digits__fig2__0__<time>/
    python scripts/fig2.py --task digits --rules backprop,feedback_alignment --epochs 5 --no-assets

Writes fig2.json and fig2.png into a run folder under --runs-dir and copies the PNG to assets/fig2.png
(the README figure) unless --no-assets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from agents.probes.fig2 import RULE_SETTINGS, run_dir_name, run_fig2, save_fig2, summary_lines

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="digits", choices=["digits"], help="data set (digits: sklearn 8x8)")
    p.add_argument("--rules", default=",".join(RULE_SETTINGS), help="comma-separated rule names")
    p.add_argument("--hidden", default="64,64", help="hidden layer sizes, comma-separated")
    p.add_argument("--epochs", type=int, default=10, help="training epochs per rule")
    p.add_argument("--batch", type=int, default=32, help="minibatch size (training and estimates)")
    p.add_argument("--repeats", type=int, default=32, help="passes over the batches for the noisy rules")
    p.add_argument("--seed", type=int, default=0, help="seed of the data split, weights and rules")
    p.add_argument("--num-threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--runs-dir", default="runs", help="where the run folder goes")
    p.add_argument("--assets", default="assets/fig2.png", help="copy of the PNG for the README")
    p.add_argument("--no-assets", action="store_true", help="do not write the assets copy")
    a = p.parse_args(argv)

    import torch

    torch.set_num_threads(a.num_threads)
    rules = [r.strip() for r in a.rules.split(",") if r.strip()]
    hidden = [int(h) for h in a.hidden.split(",") if h.strip()]
    result = run_fig2(a.task, rules, hidden, a.epochs, a.batch, a.seed, a.repeats, progress=print)
    result["command"] = " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])])
    run_dir = Path(a.runs_dir) / run_dir_name(a.task, a.seed)
    paths = save_fig2(result, run_dir, None if a.no_assets else a.assets)
    print("\n".join(summary_lines(result)))
    for path in paths:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
