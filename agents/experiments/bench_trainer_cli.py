"""Our trainer vs SB3 PPO (defaults, 8 envs) on the same machine, in the same run: throughput (MLP
policy, env steps/s end to end) and wall-clock time to the learning-check targets. Prints JSON;
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
    p.add_argument("--envs", nargs="*", default=["BrainSet/PatchForaging-v0", "CartPole-v1"],
                   help="envs for the throughput comparison")
    a = p.parse_args(argv)
    out = bench.trainer_report(quick=a.quick, seeds=(0,) if a.quick else (0, 1), throughput_envs=tuple(a.envs),
                               progress=lambda kind, env_id, e: print(json.dumps({kind: {env_id: e}}), flush=True))
    if a.out:
        write_json(out, a.out)
    print(json.dumps(out, indent=2))
