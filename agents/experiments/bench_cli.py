"""Benchmarks, written to one JSON file with the targets checked; print a summary.

    python scripts/benchmark.py                       # env throughput: all envs, ~1 s per measurement
    python scripts/benchmark.py --envs Orientation    # ids containing a substring
    python scripts/benchmark.py --learning            # learning checks: budgets, scores, time, steps/s
    python scripts/benchmark.py --trainer [--quick] [--cleanrl PATH] [--time-to-target] [--cpu-time]
        # our trainer vs SB3 PPO (and CleanRL): like for like and warm, defaults, ideal rate, profile
    python scripts/benchmark.py --full                # all three sections

Each run replaces the sections it ran in --out (default runs/benchmark.json) and keeps the others
(each section records its own time and load average); `targets` lists every checked target.
With --check the exit status is 1 when a target of the sections run this time was missed (each is
named on stderr), 0 when all were met; without it, missed targets are only reported.
"""

from __future__ import annotations

import argparse
import math
import os
import sys

from tqdm import tqdm

import brainset_envs
from agents.experiments.bench_trainer import trainer_report
from agents.experiments.learning_report import CHECKS, learning_report
from brainset_envs import benchmark as bm


def env_section(args: argparse.Namespace) -> dict:
    """Throughput of every selected env against same-run references (brainset_envs.benchmark)."""
    ids = [i for i in brainset_envs.env_ids() if not args.envs or any(s in i for s in args.envs)]
    sizes = tuple(args.sizes or bm.VECTOR_SIZES)
    results: dict[str, dict[str, float]] = {}
    for env_id in tqdm(ids, desc="envs"):
        results[env_id] = bm.env_throughput(env_id, args.seconds, sizes)
    if "BrainSet/OrientationDiscrimination-v0" in results:
        results["BrainSet/OrientationDiscrimination-v0"].update(bm.orientation_noise_reference(seconds=args.seconds))
    refs = bm.reference_rates(args.seconds, max(sizes))
    for env_id in results:  # same-run references as metrics, for ratio targets
        results[env_id]["minigrid"] = refs.get("MiniGrid-Empty-8x8-v0", {}).get("single", float("nan"))

    sync = f"sync_{max(sizes)}"
    print(f"\n{'env':46s} {'single':>10s} " + " ".join(f"{'native_' + str(n):>13s}" for n in sizes)
          + f" {sync:>10s}")
    for env_id, m in {**results, **refs}.items():
        cells = " ".join(f"{m.get('native_' + str(n), float('nan')):13,.0f}" for n in sizes)
        print(f"{env_id:46s} {m['single']:10,.0f} {cells} {m.get(sync, float('nan')):10,.0f}")
    return {"machine": bm.machine_info(), "envs": results, "references": refs,
            "env_targets": bm.evaluate_targets(results)}


def learning_section(args: argparse.Namespace) -> dict:
    def show(name: str, c: dict) -> None:
        print(f"  {name:18s} {c['metric']} {c['reached']:.3f} (untrained {c['untrained']:.3f}; target "
              f"{c['target_rule']}) {c['steps']} steps, {c['train_seconds']:.1f} s, "
              f"{c['steps_per_second']:,.0f} steps/s [{'ok' if c['ok'] else 'MISS'}]", flush=True)

    print("learning checks (one thread):")
    return {"learning": learning_report(args.checks, progress=show)}


def _cleanrl_cell(c: dict) -> str:
    return f"{c['steps_per_second']:,.0f}" if "steps_per_second" in c else f"- ({c['skipped']})"


def trainer_section(args: argparse.Namespace) -> dict:
    def show(kind: str, env_id: str, e: dict) -> None:
        if kind in ("like_for_like", "defaults"):
            what = "like for like" if kind == "like_for_like" else "library defaults"
            shape = ""
            if kind == "like_for_like":
                s, pc = e["setting"], e["parameters"]
                shape = (f" [{s['arch']}, {s['num_envs']} x {s['num_steps']}, {s['epochs']} x {s['minibatches']}, "
                         f"params ours {pc['ours']:,} / SB3 {pc['sb3']:,}]")
            vs = f", ours/CleanRL {e['ours_over_cleanrl']:.2f}" if "ours_over_cleanrl" in e else ""
            print(f"  {what} {env_id}{shape}: ours {e['ours']['valid_steps_per_second']:,.0f} samples/s "
                  f"({e['ours']['steps_per_second']:,.0f} env steps/s), SB3 {e['sb3']['steps_per_second']:,.0f}, "
                  f"CleanRL {_cleanrl_cell(e['cleanrl'])}: ours/SB3 {e['ours_over_sb3']:.2f}{vs}", flush=True)
        elif kind == "ideal":
            sh = e["shares"]
            print(f"  ideal {env_id}: {e['ideal_steps_per_second']:,.0f} steps/s (env {sh['env']:.0%}, act "
                  f"{sh['act']:.0%}, update {sh['update']:.0%}); ours {e['ours_steps_per_second']:,.0f} = "
                  f"{e['fraction']:.2f} of it", flush=True)
        elif kind == "profile":
            print(f"  profile {env_id} ({e['steps']} steps, {e['total_seconds']:.2f} s), top by cumulative time:")
            for r in e["top_cumulative"][:15]:
                print(f"    {r['cumulative_share']:6.1%} {r['cumulative_seconds']:7.3f} s  {r['function']}")
        else:
            bound = " (SB3 missed the target: a lower bound)" if e["speedup_is_lower_bound"] else ""
            print(f"  time to target {env_id}: ours {e['ours_seconds']:.1f} s, SB3 PPO {e['sb3_seconds']:.1f} s: "
                  f"{e['speedup']:.1f}x{bound}", flush=True)

    clock = "process CPU time" if args.cpu_time else "wall time"
    print(f"trainer vs SB3 PPO and CleanRL, one torch thread, warm, medians of 3, {clock}:")
    plans = ("BrainSet/OrientationDiscriminationEasy-v0", "BrainSet/PatchForaging-v0")
    rep = trainer_report(quick=args.quick, seeds=(0,) if args.quick else (0, 1), cleanrl=args.cleanrl,
                         time_envs=plans if args.time_to_target else (), progress=show, cpu_time=args.cpu_time)
    for t in rep["targets_skipped"]:
        print(f"  target skipped: {t['env']} {t['metric']}: {t['why']}")
    return {"trainer": rep}


def _check_args(p: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit 2) for bad options, before anything is measured or written."""
    if not (math.isfinite(args.seconds) and 0 < args.seconds <= 3600):
        p.error(f"argument --seconds: {args.seconds} is not allowed; give a number > 0 and <= 3600")
    if args.sizes is not None and (not args.sizes or min(args.sizes) < 1):
        p.error(f"argument --sizes: {args.sizes} is not allowed; give one or more integers >= 1")
    if not args.out.endswith(".json"):
        p.error(f"argument --out: {args.out!r} must end in .json")
    if args.envs:
        ids = brainset_envs.env_ids()
        unmatched = [s for s in args.envs if not any(s in i for i in ids)]
        if unmatched:
            p.error(f"argument --envs: {unmatched[0]!r} matches no env id; allowed: substrings of "
                    f"{', '.join(ids)}")
    if args.cleanrl is not None and not os.path.isfile(args.cleanrl):
        p.error(f"argument --cleanrl: {args.cleanrl!r} is not a file (CleanRL's ppo.py)")
    if args.checks is not None:
        unknown = [c for c in args.checks if c not in CHECKS]
        if unknown:
            p.error(f"argument --checks: {unknown[0]!r} is not a learning check; allowed: {', '.join(CHECKS)}")


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="*", default=None, help="substrings of the ids to benchmark (default: all)")
    p.add_argument("--seconds", type=float, default=1.0, help="time per env measurement")
    p.add_argument("--out", default="runs/benchmark.json", help="the JSON file to update")
    p.add_argument("--sizes", type=int, nargs="*", default=None, help="native vector sizes (default 1 64 1024)")
    p.add_argument("--learning", action="store_true",
                   help="run the learning checks (agents.experiments.learning_report)")
    p.add_argument("--checks", nargs="*", default=None,
                   help="learning checks to run (default: all of agents.experiments.learning_report.CHECKS)")
    p.add_argument("--trainer", action="store_true", help="our trainer vs SB3 PPO (agents.experiments.bench_trainer)")
    p.add_argument("--full", action="store_true", help="env throughput, learning checks and trainer")
    p.add_argument("--quick", action="store_true", help="smaller trainer budgets, one seed")
    p.add_argument("--cleanrl", default=None, metavar="PATH",
                   help="CleanRL's ppo.py: adds it to the trainer tables (without it, its rows say skipped)")
    p.add_argument("--time-to-target", action="store_true",
                   help="trainer: also wall-clock time to the learning-check targets vs SB3 (minutes)")
    p.add_argument("--cpu-time", action="store_true",
                   help="trainer: time with this process's CPU time, not wall time (a shared machine)")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 when a target of the sections run was missed (for CI)")
    args = p.parse_args(argv)
    _check_args(p, args)
    run_envs = args.full or not (args.learning or args.trainer)
    sections: dict = {}
    if run_envs:
        sections.update(env_section(args))
    if args.learning or args.full:
        sections.update(learning_section(args))
    if args.trainer or args.full:
        sections.update(trainer_section(args))

    data = bm.merge_sections(args.out, sections)
    ran = [name for name, on in (("envs", run_envs), ("learning", args.learning or args.full),
                                 ("trainer", args.trainer or args.full)) if on]
    print("\ntargets:")
    for c in data["targets"]:
        v = "n/a" if c["value"] is None else f"{c['value']:,.2f}"
        rule = c.get("rule") or f">= {c['target']:,}"
        print(f"  [{'ok' if c['ok'] else 'MISS'}] {c['section']:8s} {c['env']} {c['metric']} = {v} ({rule})")
    print(f"\nwrote {args.out}")
    missed = bm.missed_targets(data, ran)
    if missed and args.check:
        for c in missed:
            v = "n/a" if c["value"] is None else f"{c['value']:,.2f}"
            rule = c.get("rule") or f">= {c['target']:,}"
            print(f"missed target: {c['section']} {c['env']} {c['metric']} = {v} ({rule})", file=sys.stderr)
        print(f"--check: {len(missed)} of the targets of {', '.join(ran)} missed", file=sys.stderr)
        return 1
    return 0
