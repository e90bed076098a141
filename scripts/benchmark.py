"""Benchmark every registered BrainSet env against references measured in the same run; write JSON.

    python scripts/benchmark.py                       # all envs, ~1 s per measurement
    python scripts/benchmark.py --envs Orientation    # ids containing a substring
    python scripts/benchmark.py --seconds 0.2 --out runs/bench.json
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="*", default=None, help="substrings of the ids to benchmark (default: all)")
    p.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    p.add_argument("--out", default="runs/benchmark.json", help="where to write the JSON")
    p.add_argument("--sizes", type=int, nargs="*", default=None, help="native vector sizes (default 1 64 1024)")
    args = p.parse_args(argv)

    from tqdm import tqdm

    import brainset_envs
    from brainset_envs import benchmark as bm

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
    checks = bm.evaluate_targets(results)
    data = {"machine": bm.machine_info(), "envs": results, "references": refs, "targets": checks}
    bm.write_json(data, args.out)

    sync = f"sync_{max(sizes)}"
    print(f"\n{'env':46s} {'single':>10s} " + " ".join(f"{'native_' + str(n):>13s}" for n in sizes)
          + f" {sync:>10s}")
    for env_id, m in {**results, **refs}.items():
        cells = " ".join(f"{m.get('native_' + str(n), float('nan')):13,.0f}" for n in sizes)
        print(f"{env_id:46s} {m['single']:10,.0f} {cells} {m.get(sync, float('nan')):10,.0f}")
    print("\ntargets:")
    for c in checks:
        v = "n/a" if c["value"] is None else f"{c['value']:,.2f}"
        print(f"  [{'ok' if c['ok'] else 'MISS'}] {c['env']} {c['metric']} = {v} (target >= {c['target']:,})")
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
