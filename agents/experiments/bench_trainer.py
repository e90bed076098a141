"""Trainer benchmarks against SB3 PPO (and CleanRL) on the same env and machine: like-for-like warm
throughput (:mod:`agents.experiments.bench_like`), each library's defaults, our ideal rate, a profile and
wall-clock time to a target evaluation return. ``scripts/benchmark.py --trainer`` writes them to the
benchmark JSON; ``scripts/bench_trainer.py`` prints them."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import brainset_envs  # noqa: F401  (registers the BrainSet ids)
from agents.config import parse_override, resolve_config
from agents.experiments import bench_like as bl
from agents.trainer import evaluate, make_vec_env, train
from brainset_envs.analysis.patch_foraging import mvt_optimum
from brainset_envs.benchmark import cpu_name, evaluate_targets, machine_info
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

#: Every target of the trainer benchmark, in one place (issue 22), checked by
#: :func:`brainset_envs.benchmark.evaluate_targets` on the ``metrics`` of :func:`trainer_report` (ratios
#: "a/b" of two metrics; >= the minimum). ``*_samples_per_second``: like-for-like, warm, the transitions
#: each trainer learns from per second; ``ideal``: our trainer's own limit (env + act + update timed apart).
#: A target whose measurement was not asked for (no ``--cleanrl``, no time to target) is listed under
#: ``targets_skipped``, never silently dropped.
TRAINER_TARGETS: dict[str, list[tuple[str, float]]] = {
    "BrainSet/PatchForaging-v0": [("ours_samples_per_second/sb3_samples_per_second", 4.0),
                                  ("ours_samples_per_second/cleanrl_samples_per_second", 4.0),
                                  ("ours_steps_per_second/ideal_steps_per_second", 0.9),
                                  ("sb3_seconds_to_target/ours_seconds_to_target", 3.0)],
    "BrainSet/OrientationDiscriminationEasy-v0": [("ours_samples_per_second/sb3_samples_per_second", 3.0),
                                                  ("ours_steps_per_second/ideal_steps_per_second", 0.9),
                                                  ("sb3_seconds_to_target/ours_seconds_to_target", 3.0)],
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


def _throughput_row(env_id: str, setting: dict[str, Any] | None, steps: int, warm_steps: int, repeats: int,
                    cleanrl: str | None, cleanrl_ok: bool) -> dict[str, Any]:
    """ours, SB3 and CleanRL (or why not) for one setting (None: each library's defaults), warm, medians."""
    row: dict[str, Any] = {
        "ours": bl.median_of_repeats(bl.ours_run(env_id, setting), steps, warm_steps, repeats),
        "sb3": bl.median_of_repeats(bl.sb3_run(env_id, setting), steps, warm_steps, repeats)}
    if not cleanrl_ok:
        row["cleanrl"] = {"skipped": "CleanRL's ppo.py trains MLPs only"}
    elif bl.cpu_time_in_use():
        row["cleanrl"] = {"skipped": "--cpu-time: CleanRL runs in a subprocess timed by wall clock"}
    elif cleanrl is None:
        row["cleanrl"] = {"skipped": "no --cleanrl PATH given (CleanRL's ppo.py is not a dependency)"}
    elif not Path(cleanrl).is_file():
        row["cleanrl"] = {"skipped": f"--cleanrl {cleanrl}: no such file"}
    else:
        row["cleanrl"] = bl.cleanrl_run(cleanrl, env_id, setting, steps, repeats=repeats)
    ours = row["ours"]["valid_steps_per_second"]
    row["ours_over_sb3"] = ours / row["sb3"]["steps_per_second"]
    if "steps_per_second" in row["cleanrl"]:
        row["ours_over_cleanrl"] = ours / row["cleanrl"]["steps_per_second"]
    return row


def trainer_report(quick: bool = False, seeds: tuple[int, ...] = (0, 1),
                   settings: tuple[str, ...] = tuple(bl.SETTINGS), defaults_envs: tuple[str, ...] = bl.DEFAULTS_ENVS,
                   time_envs: tuple[str, ...] = (), cleanrl: str | None = None, repeats: int = 3,
                   profile_env: str | None = "BrainSet/PatchForaging-v0", scale: float = 1.0,
                   progress=None, cpu_time: bool = False) -> dict[str, Any]:
    """Our trainer vs SB3 PPO (and CleanRL's ``ppo.py`` at ``cleanrl``) in one process on one torch
    thread. ``like_for_like``: the same network, envs, rollout, epochs and minibatches
    (:data:`agents.experiments.bench_like.SETTINGS`), each trainer warmed up in this process before
    ``repeats`` timed runs (medians). ``defaults``: each library at its own defaults (labelled so).
    ``ideal``: our trainer's limit for each setting and our fraction of it. ``profile``: cProfile of one
    run of ``profile_env``. ``time_to_target``: wall-clock time to the learning-check targets for
    ``time_envs`` (mean over ``seeds``; a run that misses counts its whole time: a lower bound).
    ``scale`` multiplies every step budget (tests); ``progress(kind, env_id, entry)`` after each part.
    ``cpu_time``: time the throughput and ideal parts with this process's CPU time instead of wall time
    (a shared machine; CleanRL, a subprocess, is then skipped: its wall time would not compare)."""
    bl.use_cpu_time(cpu_time)
    try:
        return _trainer_report(quick, seeds, settings, defaults_envs, time_envs, cleanrl, repeats, profile_env,
                               scale, progress, cpu_time)
    finally:
        bl.use_cpu_time(False)


def _trainer_report(quick: bool, seeds: tuple[int, ...], settings: tuple[str, ...], defaults_envs: tuple[str, ...],
                    time_envs: tuple[str, ...], cleanrl: str | None, repeats: int, profile_env: str | None,
                    scale: float, progress, cpu_time: bool) -> dict[str, Any]:
    torch.set_num_threads(1)
    say = progress or (lambda *a: None)
    k = (0.25 if quick else 1.0) * scale
    load_before = os.getloadavg()
    out: dict[str, Any] = {"like_for_like": {}, "defaults": {}, "ideal": {}, "time_to_target": {},
                           "metrics": {}, "targets_skipped": []}
    for env_id in settings:
        s = bl.SETTINGS[env_id]
        batch = s["num_envs"] * s["num_steps"]
        steps = max(batch, int(s["steps"] * k) // batch * batch)
        row = _throughput_row(env_id, s, steps, batch * 2, repeats, cleanrl, s["cleanrl"])
        row["setting"] = dict(s)
        row["parameters"] = bl.param_counts(env_id, s)
        ours = row["ours"]
        f = ours["valid_steps_per_second"] / ours["steps_per_second"]  # learning samples per env step
        ideal = bl.ideal_rate(env_id, s, min_seconds=0.3 * max(k, 0.1), valid_fraction=f)
        parts = {"env": ideal["env_seconds_per_step"], "act": f * ideal["act_seconds_per_step"],
                 "update": f * ideal["update_seconds_per_step"]}  # act and update: learning samples only
        per_step = sum(parts.values())
        ideal.update(valid_fraction=f, ideal_steps_per_second=1.0 / per_step,
                     shares={k: v / per_step for k, v in parts.items()},
                     ours_steps_per_second=ours["steps_per_second"])
        ideal["fraction"] = ours["steps_per_second"] / ideal["ideal_steps_per_second"]
        out["like_for_like"][env_id] = row
        out["ideal"][env_id] = ideal
        m = out["metrics"].setdefault(env_id, {})
        m.update(ours_samples_per_second=ours["valid_steps_per_second"],
                 sb3_samples_per_second=row["sb3"]["steps_per_second"],
                 ours_steps_per_second=ours["steps_per_second"],
                 ideal_steps_per_second=ideal["ideal_steps_per_second"])
        if "steps_per_second" in row["cleanrl"]:
            m["cleanrl_samples_per_second"] = row["cleanrl"]["steps_per_second"]
        say("like_for_like", env_id, row)
        say("ideal", env_id, ideal)
    for env_id in defaults_envs:
        steps = max(16_384, int(32_768 * k) // 16_384 * 16_384)  # SB3's default rollout: 8 x 2048
        row = _throughput_row(env_id, None, steps, 2048, repeats, cleanrl, True)
        row["note"] = ("each library at its own defaults, not like for like: ours = the env's shipped "
                       "config, SB3 = PPO() on 8 envs (2048 steps, 10 epochs, batch 64), CleanRL = ppo.py "
                       "(4 envs x 128 steps, 4 epochs x 4 minibatches)")
        out["defaults"][env_id] = row
        say("defaults", env_id, row)
    if profile_env is not None:
        s = bl.SETTINGS[profile_env]
        batch = s["num_envs"] * s["num_steps"]
        out["profile"] = bl.profile_run(profile_env, s, max(batch, int(s["steps"] * k / 2) // batch * batch))
        say("profile", profile_env, out["profile"])
    plans = _time_to_target_plans(quick)
    for env_id in time_envs:
        plan = plans[env_id]
        _warm_up(env_id, plan["sb3_policy"])
        ours_t = [trainer_time_to_target(env_id, plan["target"], seed=s, eval_episodes=plan["eval_episodes"],
                                         **plan["ours"]) for s in seeds]
        sb3_t = [sb3_time_to_target(env_id, plan["target"], seed=s, eval_episodes=plan["eval_episodes"],
                                    policy=plan["sb3_policy"], **plan["sb3"]) for s in seeds]
        mean = lambda runs: float(np.mean([r["seconds"] for r in runs]))  # noqa: E731
        entry = {"target": plan["target"], "target_rule": plan["target_rule"], "seeds": list(seeds),
                 "ours_budget": plan["ours"], "sb3_budget": {**plan["sb3"], "policy": plan["sb3_policy"]},
                 "ours": ours_t, "sb3_ppo_defaults": sb3_t, "ours_seconds": mean(ours_t),
                 "sb3_seconds": mean(sb3_t), "ours_reached_all": all(r["reached"] for r in ours_t),
                 "sb3_reached_all": all(r["reached"] for r in sb3_t)}
        entry["speedup"] = entry["sb3_seconds"] / entry["ours_seconds"]
        entry["speedup_is_lower_bound"] = not entry["sb3_reached_all"]
        out["time_to_target"][env_id] = entry
        m = out["metrics"].setdefault(env_id, {})
        m["sb3_seconds_to_target"] = entry["sb3_seconds"]
        if entry["ours_reached_all"]:  # a target we did not reach gives no ratio: the check fails
            m["ours_seconds_to_target"] = entry["ours_seconds"]
        say("time_to_target", env_id, entry)
    wanted: dict[str, list[tuple[str, float]]] = {}
    for env_id, targets in TRAINER_TARGETS.items():
        for name, minimum in targets:
            why = None
            if env_id not in out["metrics"]:
                why = "not measured in this run"
            elif "cleanrl" in name and "cleanrl_samples_per_second" not in out["metrics"][env_id]:
                why = out["like_for_like"].get(env_id, {}).get("cleanrl", {}).get("skipped", "no CleanRL")
            elif "seconds_to_target" in name and env_id not in out["time_to_target"]:
                why = "time to target not run (--time-to-target)"
            if why is None:
                wanted.setdefault(env_id, []).append((name, minimum))
            else:
                out["targets_skipped"].append({"env": env_id, "metric": name, "target": minimum, "why": why})
    out["targets"] = evaluate_targets(out["metrics"], wanted)
    out["machine"] = {**machine_info(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
                      "cpu": cpu_name(), "load_average_before": load_before, "load_average_after": os.getloadavg(),
                      "quick": quick, "repeats": repeats,
                      "clock": "process CPU time" if cpu_time else "wall time"}
    return out

