"""Our trainer vs SB3 PPO (and CleanRL's ppo.py with --cleanrl) on the same machine, in the same run:
like-for-like warm throughput, each library's defaults, the ideal rate, a profile and (--time-to-target)
wall-clock time to the learning-check targets. Prints JSON;
``--out FILE`` also writes it. ``python scripts/bench_trainer.py [--quick] [--envs ID ...]``.
``python scripts/benchmark.py --trainer`` records the same numbers in the benchmark JSON."""

from __future__ import annotations

import argparse
import json

from agents.experiments import bench_trainer as bench
from brainset_envs.core.files import write_json


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller budgets, one seed")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--envs", nargs="*", default=list(bench.bl.SETTINGS),
                   help="like-for-like settings to run (ids of agents.experiments.bench_like.SETTINGS)")
    p.add_argument("--cleanrl", default=None, metavar="PATH", help="CleanRL's ppo.py, timed like for like too")
    p.add_argument("--time-to-target", action="store_true", help="also time to the learning-check targets")
    p.add_argument("--cpu-time", action="store_true", help="time with this process's CPU time (a shared machine)")
    a = p.parse_args(argv)
    out = bench.trainer_report(quick=a.quick, seeds=(0,) if a.quick else (0, 1), settings=tuple(a.envs),
                               cleanrl=a.cleanrl, time_envs=tuple(bench.TRAINER_TARGETS) if a.time_to_target else (),
                               progress=lambda kind, env_id, e: print(json.dumps({kind: {env_id: e}}), flush=True),
                               cpu_time=a.cpu_time)
    if a.out:
        write_json(out, a.out)
    print(json.dumps(out, indent=2))
