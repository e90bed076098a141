"""Throughput benchmarks of every registered env against references measured in the same run.

``scripts/benchmark.py`` is the command line; this module holds the measurements so tests can call them
on a tiny budget. Rates are env steps per second with pre-sampled random actions.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.core.files import write_json  # noqa: F401  (re-exported for scripts)

VECTOR_SIZES = (1, 64, 1024)

# Targets from the issues, per registered id: (metric, minimum). Metrics are keys of env_throughput's
# result, or ratios "a/b" of two of them; "minigrid" and "noise" name same-run references.
TARGETS: dict[str, list[tuple[str, float]]] = {
    "BrainSet/OrientationDiscrimination-v0": [
        ("single", 10_000), ("native_1024/sync_1024", 10), ("block_native_1024_images/noise_1024_images", 0.5)],
    "BrainSet/PatchForaging-v0": [("single", 50_000), ("native_1024", 5_000_000), ("native_1024/sync_1024", 50)],
    "BrainSet/WaterMaze-v0": [("single", 30_000), ("native_1024", 2_000_000), ("native_1024/sync_1024", 50)],
    "BrainSet/EmpowermentGrid-v0": [("single", 50_000), ("single/minigrid", 5), ("native_1024", 5_000_000),
                                    ("native_1024/sync_1024", 50)],
    "BrainSet/ForagingArena-v0": [("single", 50_000), ("single/minigrid", 5), ("native_1024/sync_1024", 50)],
}


def _rate(step: Callable[[int], Any], n_per_call: int, seconds: float, min_calls: int = 3) -> float:
    """Calls per second x n_per_call, timed for at least ``seconds`` after one warm-up call."""
    step(0)
    calls, t0 = 0, time.perf_counter()
    while True:
        step(calls)
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= seconds and calls >= min_calls:
            return calls * n_per_call / dt


def single_env_rate(env_id: str, seconds: float = 1.0, **kwargs: Any) -> float:
    """Steps/s of ``gym.make(env_id)`` (default wrappers) with random actions, resets included."""
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(4096)]

    def step(i: int) -> None:
        for a in actions[:256]:
            _, _, term, trunc, _ = env.step(a)
            if term or trunc:
                env.reset()

    rate = _rate(step, 256, seconds)
    env.close()
    return rate


def vector_env_rate(env_id: str, num_envs: int, mode: str, seconds: float = 1.0, **kwargs: Any) -> float:
    """Env-steps/s of ``gym.make_vec(env_id, num_envs, vectorization_mode=mode)`` with random actions."""
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **kwargs)
    envs.reset(seed=0)
    envs.action_space.seed(0)
    actions = [envs.action_space.sample() for _ in range(16)]
    rate = _rate(lambda i: envs.step(actions[i % 16]), num_envs, seconds)
    envs.close()
    return rate


def env_throughput(env_id: str, seconds: float = 1.0, sizes: tuple[int, ...] = VECTOR_SIZES,
                   sync_envs: int | None = None) -> dict[str, float]:
    """Single env, native vector env at each size, and SyncVectorEnv (at the largest size by default)."""
    out = {"single": single_env_rate(env_id, seconds)}
    spec = gym.spec(env_id)
    for n in sizes:
        if spec.vector_entry_point is not None:
            out[f"native_{n}"] = vector_env_rate(env_id, n, "vector_entry_point", seconds)
    n_sync = sync_envs or max(sizes)
    out[f"sync_{n_sync}"] = vector_env_rate(env_id, n_sync, "sync", seconds)
    return out


def orientation_noise_reference(num_envs: int = 1024, size: int = 64, seconds: float = 1.0) -> dict[str, float]:
    """Images/s at which this process merely draws the Gaussian pixel noise of ``num_envs`` images, and the
    native vector env's images/s when every step draws a new trial (blocks of trials, no resets)."""
    rng = np.random.default_rng(0)
    noise = _rate(lambda i: rng.standard_normal((num_envs, size, size), dtype=np.float32), num_envs, seconds)
    block = vector_env_rate("BrainSet/OrientationDiscrimination-v0", num_envs, "vector_entry_point", seconds,
                            trials_per_episode=1_000_000, size=size)
    return {f"noise_{num_envs}_images": noise, f"block_native_{num_envs}_images": block}


def reference_rates(seconds: float = 1.0, sync_envs: int = 1024) -> dict[str, dict[str, float]]:
    """CartPole-v1 (gym.make and SyncVectorEnv) and, when installed, MiniGrid-Empty-8x8-v0."""
    refs = {"CartPole-v1": {"single": single_env_rate("CartPole-v1", seconds),
                            f"sync_{sync_envs}": vector_env_rate("CartPole-v1", sync_envs, "sync", seconds)}}
    try:
        import minigrid  # noqa: F401  # deferred: optional; only probed for its reference env

        refs["MiniGrid-Empty-8x8-v0"] = {"single": single_env_rate("MiniGrid-Empty-8x8-v0", seconds)}
    except ImportError:
        pass
    return refs


def evaluate_targets(results: dict[str, dict[str, float]],
                     targets: dict[str, list[tuple[str, float]]] | None = None) -> list[dict[str, Any]]:
    """Check every target in ``targets`` (default :data:`TARGETS`) against ``results`` (an env id ->
    metrics mapping). Other components keep their own tables in the same format, e.g. the trainer's
    ``agents.experiments.bench_trainer.TRAINER_TARGETS`` over its metrics (steps/s and seconds to target vs SB3)."""
    checks = []
    for env_id, wanted in (TARGETS if targets is None else targets).items():
        if env_id not in results:
            continue
        metrics = dict(results[env_id])
        for name, minimum in wanted:
            if "/" in name:
                a, b = name.split("/")
                value = metrics[a] / metrics[b] if a in metrics and b in metrics else None
            else:
                value = metrics.get(name)
            checks.append({"env": env_id, "metric": name, "value": value, "target": minimum,
                           "ok": value is not None and value >= minimum})
    return checks


def cpu_name() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, Any]:
    """Where and when the numbers were measured, with the load average (1, 5, 15 min) at that time:
    other processes on a shared machine slow every measurement."""
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(),
            "numpy": np.__version__, "gymnasium": gym.__version__, "time": time.strftime("%Y-%m-%d %H:%M:%S"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def merge_sections(path: str | os.PathLike, sections: dict[str, Any]) -> dict[str, Any]:
    """The benchmark JSON at ``path`` with ``sections`` replaced (others kept from the file, each with its
    own machine info and time) and the combined ``targets`` list rebuilt; written atomically."""
    data: dict[str, Any] = {}
    if Path(path).is_file():
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError):
            data = {}
    data.update(sections)
    targets = [{**c, "section": "envs"} for c in data.get("env_targets", [])]
    targets += [{**c, "section": "trainer"} for c in (data.get("trainer") or {}).get("targets", [])]
    for name, c in ((data.get("learning") or {}).get("checks") or {}).items():
        targets.append({"env": c["env"], "metric": f"learning:{name}:{c['metric']}", "value": c["reached"],
                        "target": c["target"], "rule": c["target_rule"], "ok": c["ok"], "section": "learning"})
    data["targets"] = targets
    write_json(data, path)
    return data


def missed_targets(data: dict[str, Any], sections: Iterable[str]) -> list[dict[str, Any]]:
    """The targets of ``data`` (from :func:`merge_sections`) in ``sections`` ('envs', 'learning',
    'trainer') that were not met (a missing value counts as missed)."""
    wanted = set(sections)
    return [c for c in data.get("targets", []) if c.get("section") in wanted and not c.get("ok")]
