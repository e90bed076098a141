"""Our trainer vs SB3 PPO (defaults, 8 envs) on the same machine, in the same run: throughput (MLP
policy, env steps/s end to end) and wall-clock time to a target evaluation return. Prints JSON;
``--out FILE`` also writes it. ``python scripts/bench_trainer.py [--quick]``."""

import argparse
import json
import os
import platform

import torch

from agents import bench


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="smaller budgets (a few seconds per entry)")
    p.add_argument("--out", help="also write the JSON here")
    p.add_argument("--envs", nargs="*", default=["CartPole-v1", "BrainSet/OrientationDiscrimination-v0"],
                   help="envs for the throughput comparison")
    a = p.parse_args()
    torch.set_num_threads(1)
    k = 4 if a.quick else 1
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__}
    out = {"machine": machine, "throughput": {}, "time_to_target": {}}
    for env_id in a.envs:
        cheap = "Orientation" not in env_id  # image envs: the Gabor generation itself costs ~0.1-0.3 ms
        ours = bench.trainer_throughput(env_id, steps=(300_000 if cheap else 60_000) // k, arch="mlp")
        sb3 = bench.sb3_throughput(env_id, steps=(32_768 if cheap else 8_192) // k)
        out["throughput"][env_id] = {"ours": ours, "sb3_ppo_defaults": sb3, "ratio": bench.summary(ours, sb3)}
        print(json.dumps({env_id: out["throughput"][env_id]}), flush=True)
    env_id, target = "BrainSet/OrientationDiscriminationEasy-v0", 0.9
    ours = bench.trainer_time_to_target(env_id, target, max_steps=200_000, eval_every=2048)
    sb3 = bench.sb3_time_to_target(env_id, target, max_steps=200_000 // k, eval_every=2048 * 4,
                                   policy="CnnPolicy")
    out["time_to_target"][env_id] = {"target": target, "ours": ours, "sb3_ppo_defaults": sb3,
                                     "speedup": bench.summary(ours, sb3, "seconds")}
    print(json.dumps({env_id: out["time_to_target"][env_id]}), flush=True)
    text = json.dumps(out, indent=2)
    if a.out:
        tmp = a.out + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, a.out)
    print(text)


if __name__ == "__main__":
    main()
