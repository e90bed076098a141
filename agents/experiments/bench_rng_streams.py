"""Cost of per-env RNG streams in the native vector env (the measurement behind each core's ``shared_stream``).

    python scripts/bench_rng_streams.py                  # vector steps/s at 1024 envs, every id
    python scripts/bench_rng_streams.py --envs WaterMaze --repeats 5
    python scripts/bench_rng_streams.py --draws          # the per-env draws a step would need, timed alone
    python scripts/bench_rng_streams.py --ab             # per-env vs one shared stream, same code, interleaved

A per-env stream costs one Python-level Generator call per env and draw; tasks that draw only when an
episode starts pay it for the resetting envs only, tasks that draw on every step pay it for every env.
Compare the steps/s of two checkouts by running this script with each on PYTHONPATH, alternately.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import gymnasium as gym
import numpy as np

import brainset_envs
from brainset_envs import benchmark as bm
from brainset_envs.core.rand import standard_normal_f32


def vector_rates(ids: list[str], num_envs: int, seconds: float, repeats: int) -> None:
    for env_id in ids:
        rates = [bm.vector_env_rate(env_id, num_envs, "vector_entry_point", seconds) for _ in range(repeats)]
        print(f"{env_id:46s} native_{num_envs} median {statistics.median(rates):13,.0f} steps/s "
              f"(runs: {', '.join(f'{r:,.0f}' for r in rates)})", flush=True)


def _time(fn, seconds: float = 0.5) -> float:
    fn()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or calls < 3:
        fn()
        calls += 1
    return (time.perf_counter() - t0) / calls


def draw_costs(num_envs: int) -> None:
    """Per step at ``num_envs`` envs: one batched draw from a shared Generator vs one draw per env from
    per-env Generators (the every-step draws of PatchForaging and OrientationDiscrimination)."""
    shared = np.random.default_rng(0)
    per_env = [np.random.default_rng(i) for i in range(num_envs)]
    a, b = 14.909, 2.033
    rows = [
        ("PatchForaging: Beta factor per env",
         lambda: shared.beta(a, b, num_envs),
         lambda: np.concatenate([g.beta(a, b, 1) for g in per_env])),
        ("OrientationDiscrimination: label + phase + 32x32 noise per env",
         lambda: (shared.integers(0, 2, num_envs), shared.random(num_envs),
                  standard_normal_f32(shared, (num_envs, 32 * 32))),
         lambda: [(g.integers(0, 2, 1), g.random(1), standard_normal_f32(g, (1, 32 * 32))) for g in per_env]),
    ]
    for name, batched, looped in rows:
        tb, tl = _time(batched), _time(looped)
        print(f"{name:66s} shared {tb * 1e6:8.1f} us  per-env {tl * 1e6:8.1f} us  (+{(tl - tb) * 1e6:.1f} us/step)")


def _cpu_rate(envs, actions, seconds: float) -> float:
    """Env-steps per CPU second (process time: less sensitive than wall time to other load)."""
    envs.step(actions[0])
    calls, t0 = 0, time.process_time()
    while time.process_time() - t0 < seconds or calls < 3:
        envs.step(actions[calls % len(actions)])
        calls += 1
    return calls * envs.num_envs / (time.process_time() - t0)


def ab_streams(ids: list[str], num_envs: int, seconds: float, repeats: int) -> None:
    """For each id: vector steps/s of the same core with per-env streams and with one shared stream
    (the class attribute ``shared_stream`` overridden each way), runs interleaved, best of ``repeats``.
    Cores whose draws are written for one Generator only (every-step batched draws) are reported so."""
    for env_id in ids:
        envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
        core_cls = type(envs.unwrapped.core)
        chosen = "shared" if envs.unwrapped.core.shared_stream else "per-env"
        envs.action_space.seed(0)
        actions = [envs.action_space.sample() for _ in range(16)]
        rates: dict[bool, list[float]] = {False: [], True: []}
        try:
            for _ in range(repeats):
                for shared in (False, True):
                    saved = core_cls.__dict__["shared_stream"] if "shared_stream" in core_cls.__dict__ else None
                    core_cls.shared_stream = shared
                    try:
                        e = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode="vector_entry_point")
                        e.reset(seed=0)
                        rates[shared].append(_cpu_rate(e, actions, seconds))
                    finally:
                        if saved is None:
                            del core_cls.shared_stream
                        else:
                            core_cls.shared_stream = saved
        except (TypeError, AttributeError):
            print(f"{env_id:46s} {chosen}: draws written for one shared Generator (see --draws)")
            continue
        per, sh = max(rates[False]), max(rates[True])
        print(f"{env_id:46s} {chosen:7s} | per-env {per:13,.0f}  shared {sh:13,.0f} steps/s "
              f"(best of {repeats}): per-env throughput cost {100 * (1 - per / sh):.1f}%", flush=True)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="*", help="substrings of the ids to run (default: all)")
    p.add_argument("--num-envs", type=int, default=1024)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--draws", action="store_true", help="time the per-env draws alone")
    p.add_argument("--ab", action="store_true", help="per-env vs shared stream on the same code")
    args = p.parse_args(argv)
    if args.draws:
        draw_costs(args.num_envs)
        return
    ids = [i for i in brainset_envs.env_ids() if not args.envs or any(s in i for s in args.envs)]
    if args.ab:
        ab_streams(ids, args.num_envs, args.seconds, args.repeats)
    else:
        vector_rates(ids, args.num_envs, args.seconds, args.repeats)
