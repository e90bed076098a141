"""Train the place-cell actor-critic (Foster, Morris & Dayan 2000) on the water maze with a reversal.

    PYTHONPATH=. python scripts/watermaze_fmd.py --rats 20 --days 16 --reversal-day 13 --seed 0

Writes runs/WaterMaze__fmd__<seed>__<time>/ with latency.png (mean escape latency per day), trials.png
(a trained rat's trial before and after the reversal), results.json (latencies of every rat, day and
trial; time per quadrant in a probe trial before the reversal) and command.txt. --assets also
writes assets/watermaze_latency.png and assets/watermaze_trial.png for the README.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from agents.classic.actor_critic import (
    FMDConfig,
    plot_latency,
    probe_occupancy,
    render_trial,
    save_image,
    save_json,
    train,
)
from agents.run_folder import command_line
from brainset_envs.analysis.water_maze import QUADRANTS


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rats", type=int, default=20, help="simulated rats (one env each)")
    p.add_argument("--days", type=int, default=16)
    p.add_argument("--trials-per-day", type=int, default=4)
    p.add_argument("--reversal-day", type=int, default=13, help="day the platform moves; 0 = never")
    p.add_argument("--gamma", type=float, default=0.98)
    p.add_argument("--critic-lr", type=float, default=0.1)
    p.add_argument("--actor-lr", type=float, default=0.5)
    p.add_argument("--beta", type=float, default=8.0, help="softmax inverse temperature")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="runs", help="folder for the run folder")
    p.add_argument("--assets", action="store_true", help="also write the README images into assets/")
    a = p.parse_args(argv)
    cfg = FMDConfig(n_rats=a.rats, days=a.days, trials_per_day=a.trials_per_day,
                    reversal_day=a.reversal_day or None, gamma=a.gamma, critic_lr=a.critic_lr,
                    actor_lr=a.actor_lr, beta=a.beta, seed=a.seed)
    t0 = time.perf_counter()
    before = cfg.reversal_day - 1 if cfg.reversal_day else cfg.days
    result = train(cfg, snapshot_days=(before,))
    secs = time.perf_counter() - t0
    run = os.path.join(a.out, f"WaterMaze__fmd__{a.seed}__{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(run, exist_ok=True)
    with open(os.path.join(run, "command.txt"), "w") as fh:
        fh.write(command_line("watermaze_fmd.py", argv) + "\n")
    summary = result.summary()
    summary["seconds"] = round(secs, 2)
    occ = probe_occupancy(result, day=before, start="S", seed=a.seed, weights_day=before).mean(axis=0)
    summary["probe"] = {"day": before, "start": "S", "weights_after_day": before,
                        "time_per_quadrant": dict(zip(QUADRANTS, occ.round(4).tolist(), strict=True))}
    save_json(summary, os.path.join(run, "results.json"))
    plot_latency(result, os.path.join(run, "latency.png"))
    # A rat trained up to the day before the reversal, swimming from the south on that day and on the
    # reversal day: it heads straight for the platform, then for where the platform used to be.
    frames = [render_trial(result, rat=0, day=before, start="S", seed=a.seed, weights_day=before)]
    if cfg.reversal_day and cfg.reversal_day <= cfg.days:
        frames.append(render_trial(result, rat=0, day=cfg.reversal_day, start="S", seed=a.seed,
                                   weights_day=before))
    gap = np.full((frames[0].shape[0], 6, 3), 255, np.uint8)
    trials = np.concatenate([frames[0], gap, frames[1]], axis=1) if len(frames) == 2 else frames[0]
    save_image(trials, os.path.join(run, "trials.png"))
    if a.assets:
        plot_latency(result, os.path.join("assets", "watermaze_latency.png"))
        save_image(trials, os.path.join("assets", "watermaze_trial.png"))
    days = " ".join(f"{v:.1f}" for v in result.per_day)
    print(f"{a.rats} rats, {secs:.1f} s; mean escape latency per day (steps): {days}")
    print(f"probe trial on day {before} from S, time per quadrant: "
          + ", ".join(f"{q} {v:.2f}" for q, v in zip(QUADRANTS, occ, strict=True)))
    print(f"wrote {run}")
    return run
