"""Trainer benchmarks against SB3 PPO on the same env and machine: end-to-end training throughput and
wall-clock time to a target evaluation return. ``scripts/bench_trainer.py`` prints them as JSON."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

import brainset_envs  # noqa: F401  (registers the BrainSet ids)
from agents.config import parse_override, resolve_config
from agents.trainer import evaluate, make_vec_env, train
from brainset_envs.analysis.patch_foraging import mvt_optimum
from brainset_envs.benchmark import evaluate_targets, machine_info
from brainset_envs.tasks.patch_foraging import PatchForagingCore


def trainer_throughput(env_id: str, steps: int = 200_000, arch: str = "mlp", overrides: list[str] = (),
                       seed: int = 0) -> dict[str, Any]:
    """Env steps/s of our trainer (its defaults for ``env_id``, architecture ``arch``), end to end."""
    cfg = resolve_config(env_id, overrides=[parse_override(o) for o in (
        "run.runs_dir=''", "run.progress=false", "run.video=false", f"arch.name={arch}",
        f"train.total_steps={steps}", "run.eval_every=0", "run.eval_episodes=1", "run.eval_envs=1",
        f"run.seed={seed}", *overrides)])
    t = time.perf_counter()
    res = train(cfg)
    wall = time.perf_counter() - t
    return {"steps": res.global_step, "seconds": wall, "steps_per_second": res.global_step / wall,
            "num_envs": cfg.env.num_envs, "num_steps": cfg.train.num_steps, "device": str(
                next(res.agent.parameters()).device)}


def sb3_throughput(env_id: str, steps: int = 16_384, n_envs: int = 8, policy: str = "MlpPolicy",
                   seed: int = 0) -> dict[str, Any]:
    """Env steps/s of SB3 PPO with its default hyperparameters on ``n_envs`` DummyVecEnv envs."""
    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3 import PPO

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    venv = sb3_make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = PPO(policy, venv, seed=seed, device="cpu", verbose=0)
    t = time.perf_counter()
    model.learn(steps)
    wall = time.perf_counter() - t
    venv.close()
    return {"steps": model.num_timesteps, "seconds": wall, "steps_per_second": model.num_timesteps / wall,
            "n_envs": n_envs, "policy": policy}


def trainer_time_to_target(env_id: str, target: float, max_steps: int, eval_every: int,
                           eval_episodes: int = 200, overrides: list[str] = (), seed: int = 0) -> dict:
    """Wall-clock seconds (evaluations included) until our trainer's evaluation return >= ``target``."""
    cfg = resolve_config(env_id, overrides=[parse_override(o) for o in (
        "run.runs_dir=''", "run.progress=false", "run.video=false", f"train.total_steps={max_steps}",
        f"run.eval_every={eval_every}", f"run.eval_episodes={eval_episodes}", f"run.target_return={target}",
        f"run.seed={seed}", *overrides)])
    t = time.perf_counter()
    res = train(cfg)
    wall = time.perf_counter() - t
    return {"reached": res.last_eval >= target, "seconds": wall, "steps": res.global_step,
            "eval_return": res.last_eval}


def sb3_time_to_target(env_id: str, target: float, max_steps: int, eval_every: int,
                       eval_episodes: int = 200, n_envs: int = 8, policy: str = "MlpPolicy",
                       seed: int = 0, **ppo_kwargs) -> dict:
    """Wall-clock seconds (evaluations included) until SB3 PPO (defaults unless ``ppo_kwargs``) reaches
    an evaluation return >= ``target``, evaluated greedily like ours."""
    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3 import PPO

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.callbacks import BaseCallback

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    eval_envs = make_vec_env(env_id, min(32, eval_episodes))

    class _Policy:  # our evaluate() calls agent.act / initial_state / recurrent
        recurrent = False

        def __init__(self, model):
            self.model = model

        def initial_state(self, n, device):
            return torch.zeros(n, 0)

        def act(self, obs, state, first, deterministic=True):
            a, _ = self.model.predict(obs.numpy(), deterministic=deterministic)
            return torch.as_tensor(a), None, None, state

    class _Stop(BaseCallback):
        """Evaluates after an update (at the start of the next rollout: the policy only changes there)
        once ``eval_every`` steps have passed, and stops at the first step of that rollout on success."""

        def __init__(self):
            super().__init__()
            self.next_eval, self.last, self.reached = eval_every, float("nan"), False

        def _on_rollout_start(self) -> None:
            if self.num_timesteps >= self.next_eval:
                self.next_eval = self.num_timesteps + eval_every
                self.last = evaluate(_Policy(self.model), eval_envs, eval_episodes, seed + 1_000_003,
                                     torch.device("cpu"))["eval/return"]
                self.reached = self.last >= target

        def _on_step(self) -> bool:
            return not self.reached

    venv = sb3_make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = PPO(policy, venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs)
    cb = _Stop()
    t = time.perf_counter()
    model.learn(max_steps, callback=cb)
    if not cb.reached:  # the policy after the last update has not been evaluated yet
        cb.last = evaluate(_Policy(model), eval_envs, eval_episodes, seed + 1_000_003,
                           torch.device("cpu"))["eval/return"]
        cb.reached = cb.last >= target
    wall = time.perf_counter() - t
    venv.close()
    eval_envs.close()
    return {"reached": bool(cb.reached), "seconds": wall, "steps": model.num_timesteps,
            "eval_return": cb.last}


def summary(ours: dict, sb3: dict, key: str = "steps_per_second") -> float:
    """Ratio ours / SB3 of ``key`` (for seconds, SB3 / ours: >1 means we are faster)."""
    if key == "seconds":
        return float(sb3[key] / ours[key])
    return float(ours[key] / sb3[key]) if sb3[key] else float(np.inf)


# --- the trainer section of scripts/benchmark.py -------------------------------------------------------

#: Targets of issue 7, checked by :func:`brainset_envs.benchmark.evaluate_targets` on the ``metrics`` of
#: :func:`trainer_report` (ratios "a/b" of two metrics; >= the minimum).
TRAINER_TARGETS: dict[str, list[tuple[str, float]]] = {
    "BrainSet/PatchForaging-v0": [("ours_steps_per_second/sb3_steps_per_second", 10.0),
                                  ("sb3_seconds_to_target/ours_seconds_to_target", 3.0)],
    "BrainSet/OrientationDiscriminationEasy-v0": [("sb3_seconds_to_target/ours_seconds_to_target", 3.0)],
}


def _time_to_target_plans(quick: bool) -> dict[str, dict[str, Any]]:
    """Per env: the learning-check target (an evaluation return), budgets and evaluation schedules.
    SB3 evaluates after each update (its default rollout is 2048 steps x 8 envs)."""

    core = PatchForagingCore()
    rho = mvt_optimum(core.conditions[0]).rate
    k = 3 if quick else 1
    return {
        "BrainSet/OrientationDiscriminationEasy-v0": {
            "target": 0.9, "target_rule": "greedy accuracy >= 0.9 (200 trials)", "eval_episodes": 200,
            "ours": {"max_steps": 200_000, "eval_every": 2048}, "sb3_policy": "CnnPolicy",
            "sb3": {"max_steps": 100_000 // k, "eval_every": 16_384}},
        "BrainSet/PatchForaging-v0": {
            "target": 0.8 * rho * core.block_time, "eval_episodes": 32,
            "target_rule": f"greedy return per block >= 0.8 rho* x {core.block_time:g} s "
                           f"(rho* = {rho:.4f}; 32 blocks)",
            "ours": {"max_steps": 200_000, "eval_every": 4096}, "sb3_policy": "MlpPolicy",
            "sb3": {"max_steps": 200_000 // k, "eval_every": 16_384}},
    }


def _warm_up(env_id: str, policy: str) -> None:
    """One-time costs of a process (torch kernels, lazy imports) paid before timing either trainer."""
    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3 import PPO

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    trainer_throughput(env_id, steps=2048)
    venv = sb3_make_vec_env(env_id, n_envs=2, seed=0)
    PPO(policy, venv, n_steps=64, batch_size=64, n_epochs=1, device="cpu", seed=0).learn(128)
    venv.close()


def trainer_report(quick: bool = False, seeds: tuple[int, ...] = (0, 1),
                   throughput_envs: tuple[str, ...] = ("BrainSet/PatchForaging-v0",),
                   time_envs: tuple[str, ...] | None = None, progress=None) -> dict[str, Any]:
    """Our trainer vs SB3 PPO (its defaults, 8 envs) in one process on one CPU thread: end-to-end
    throughput (MLP policy) and wall-clock time to the learning-check target (mean over ``seeds``; a run
    that misses the target counts its whole time, so the speedup is then a lower bound). ``time_envs``:
    which of the time-to-target envs to run (default: OrientationDiscriminationEasy and PatchForaging).
    ``progress(kind, env_id, entry)`` is called after each measurement."""

    torch.set_num_threads(1)
    say = progress or (lambda *a: None)
    k = 4 if quick else 1
    load_before = os.getloadavg()
    out: dict[str, Any] = {"throughput": {}, "time_to_target": {}, "metrics": {}}
    for env_id in throughput_envs:
        cheap = "Orientation" not in env_id  # image envs: the Gabor generation itself costs ~0.1-0.3 ms
        ours = trainer_throughput(env_id, steps=(300_000 if cheap else 60_000) // k, arch="mlp")
        sb3 = sb3_throughput(env_id, steps=(32_768 if cheap else 8_192) // k)
        out["throughput"][env_id] = {"ours": ours, "sb3_ppo_defaults": sb3, "ratio": summary(ours, sb3)}
        out["metrics"].setdefault(env_id, {}).update(
            ours_steps_per_second=ours["steps_per_second"], sb3_steps_per_second=sb3["steps_per_second"])
        say("throughput", env_id, out["throughput"][env_id])
    plans = _time_to_target_plans(quick)
    for env_id in (time_envs if time_envs is not None else tuple(plans)):
        plan = plans[env_id]
        _warm_up(env_id, plan["sb3_policy"])
        ours = [trainer_time_to_target(env_id, plan["target"], seed=s, eval_episodes=plan["eval_episodes"],
                                       **plan["ours"]) for s in seeds]
        sb3 = [sb3_time_to_target(env_id, plan["target"], seed=s, eval_episodes=plan["eval_episodes"],
                                  policy=plan["sb3_policy"], **plan["sb3"]) for s in seeds]
        mean = lambda runs: float(np.mean([r["seconds"] for r in runs]))  # noqa: E731
        entry = {"target": plan["target"], "target_rule": plan["target_rule"], "seeds": list(seeds),
                 "ours_budget": plan["ours"], "sb3_budget": {**plan["sb3"], "policy": plan["sb3_policy"]},
                 "ours": ours, "sb3_ppo_defaults": sb3, "ours_seconds": mean(ours), "sb3_seconds": mean(sb3),
                 "ours_reached_all": all(r["reached"] for r in ours),
                 "sb3_reached_all": all(r["reached"] for r in sb3)}
        entry["speedup"] = entry["sb3_seconds"] / entry["ours_seconds"]
        entry["speedup_is_lower_bound"] = not entry["sb3_reached_all"]
        out["time_to_target"][env_id] = entry
        m = out["metrics"].setdefault(env_id, {})
        m["sb3_seconds_to_target"] = entry["sb3_seconds"]
        if entry["ours_reached_all"]:  # a target we did not reach gives no ratio: the check fails
            m["ours_seconds_to_target"] = entry["ours_seconds"]
        say("time_to_target", env_id, entry)
    out["targets"] = evaluate_targets(out["metrics"], TRAINER_TARGETS)
    out["machine"] = {**machine_info(), "torch": torch.__version__, "torch_threads": 1,
                      "load_average_before": load_before, "load_average_after": os.getloadavg()}
    return out
