"""Learning checks: the default trainer and each env's default config learn the task, on a fixed budget.

Each check trains with the env's shipped defaults (``agents/configs/<Env>.yaml``) plus a budget, then
scores the trained agent on *fresh* episodes against the task's ground truth, and the same network
before training (same seed, same initial weights) on the same episodes. ``tests/agents/experiments/test_learning.py``
asserts the targets; ``python scripts/benchmark.py --learning`` runs the same checks and records budgets,
scores, wall time and steps/s in JSON, so regressions show.

| check | env | score (fresh episodes) | target |
|---|---|---|---|
| ``orientation_easy`` | OrientationDiscriminationEasy-v0 | accuracy, 1000 trials | >= 0.9 (untrained ~0.5) |
| ``patch_foraging`` | PatchForaging-v0 | reward rate / rho* (MVT optimum), 128 blocks | >= 0.8 |
| ``water_maze`` | WaterMaze-v0 | mean escape latency (timeout = 120 steps), 200 trials | <= 0.5 x untrained |
| ``empowerment_goal`` | EmpowermentFourRooms-v0, goal (9, 9), random starts | goal reached, 100 episodes | >= 0.8 |
| ``cartpole`` | CartPole-v1 | mean return, 20 episodes | >= 195 (random ~22) |
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from agents.build import build_components
from agents.config import Config, parse_override, resolve_config
from agents.rollout import obs_to_tensor
from agents.trainer import evaluate, make_vec_env, seed_everything, set_threads, to_env_actions, train
from brainset_envs.analysis.patch_foraging import foraging_stats, mvt_optimum
from brainset_envs.analysis.water_maze import ideal_latency
from brainset_envs.benchmark import machine_info
from brainset_envs.tasks.water_maze import _START_XY

QUIET = ("run.runs_dir=''", "run.progress=false", "run.video=false")
CPU = torch.device("cpu")


@dataclass(frozen=True)
class LearningCheck:
    """One learning check: an env, the training budget (overrides on top of the env's defaults), and a
    scorer ``score(agent, cfg) -> dict`` whose ``"score"`` is compared with the target."""

    name: str
    env_id: str
    budget: tuple[str, ...]
    score: Callable[[Any, Config], dict[str, float]]
    metric: str
    target: float
    higher_is_better: bool = True
    relative_to_untrained: bool = False  # target is a factor of the untrained network's score


# --- scorers on fresh episodes ---------------------------------------------------------------------------


def _eval_score(agent, cfg: Config, num_envs: int, episodes: int, seed: int) -> dict[str, float]:
    envs = make_vec_env(cfg.env.id, num_envs, cfg.env.kwargs)
    try:
        return {"score": evaluate(agent, envs, episodes, seed, CPU)["eval/return"]}
    finally:
        envs.close()


def _accuracy(agent, cfg: Config) -> dict[str, float]:
    return _eval_score(agent, cfg, 50, 1000, 777)


def _mean_return(agent, cfg: Config) -> dict[str, float]:
    return _eval_score(agent, cfg, 10, 20, 99)


@torch.no_grad()
def foraging_log(agent, env_id: str, num_envs: int = 64, blocks_per_env: int = 2, seed: int = 777,
                 kwargs: dict | None = None) -> tuple[dict[str, np.ndarray], Any]:
    """Greedy play of ``agent`` on fresh PatchForaging blocks: the log of
    :func:`brainset_envs.analysis.patch_foraging.foraging_stats` and the vector env's core (its conditions)."""
    envs = make_vec_env(env_id, num_envs, kwargs)
    obs, info = envs.reset(seed=seed)
    state = agent.initial_state(num_envs, CPU)
    first, resetting = np.ones(num_envs, bool), np.zeros(num_envs, bool)
    finished = np.zeros(num_envs, np.int64)
    cols: dict[str, list] = {k: [] for k in ("action", "reward", "duration", "expected_reward", "harvests",
                                             "valid")}
    while (finished < blocks_per_env).any():
        first_t = torch.from_numpy(first) if agent.recurrent else None
        a, _, _, state = agent.act(obs_to_tensor(obs, CPU), state, first_t, deterministic=True)
        action = to_env_actions(a, envs.single_action_space)
        cols["expected_reward"].append(np.array(info["expected_reward"]))
        cols["harvests"].append(np.array(info["harvests"]))
        cols["valid"].append(~resetting & (finished < blocks_per_env))
        obs, reward, term, trunc, info = envs.step(action)
        cols["action"].append(action)
        cols["reward"].append(reward)
        cols["duration"].append(np.array(info["duration"]))
        ended = (term | trunc) & ~resetting
        finished += ended
        first, resetting = resetting, ended
    core = envs.unwrapped.core
    envs.close()
    return {k: np.stack(v) for k, v in cols.items()}, core


def _foraging(agent, cfg: Config) -> dict[str, float]:

    num_envs, blocks_per_env = 64, 2
    log, core = foraging_log(agent, cfg.env.id, num_envs, blocks_per_env, kwargs=cfg.env.kwargs)
    if len(core.conditions) != 1:
        raise ValueError(f"{cfg.env.id} draws several conditions per block; the check needs one (its rho*)")
    opt = mvt_optimum(core.conditions[0])
    s = foraging_stats(log, opt)
    return {"score": s["rate_ratio"], "reward_rate": s["reward_rate"], "rho_star": opt.rate,
            "leave_threshold": s["leave_threshold"], "optimal_leave_threshold": opt.leave_reward_mean,
            "harvests_per_patch": s["harvests_per_patch"], "optimal_harvests_per_patch": opt.harvests_per_patch,
            "blocks": num_envs * blocks_per_env}


def _escape_latency(agent, cfg: Config) -> dict[str, float]:

    envs = make_vec_env(cfg.env.id, 50, cfg.env.kwargs)
    try:
        ev = evaluate(agent, envs, 200, 777, CPU)  # 4 trials (one day: N, E, S, W once) per env
        core = envs.unwrapped.core
    finally:
        envs.close()
    ideal = ideal_latency(np.hypot(*(_START_XY * core.pool_radius - core.base_platform).T), core.platform_radius,
                          core.speed, core.momentum)
    return {"score": ev["eval/length"], "escape_fraction": ev["eval/return"] / core.reward_platform,
            "ideal_latency": float(np.mean(ideal))}


def _goal_rate(agent, cfg: Config) -> dict[str, float]:
    """Fraction of 100 fresh episodes (random starts) that reach the goal, and their mean length."""
    envs = make_vec_env(cfg.env.id, 20, cfg.env.kwargs)
    try:
        ev = evaluate(agent, envs, 100, 4242, CPU)
    finally:
        envs.close()
    return {"score": ev["eval/return"] / cfg.env.kwargs.get("goal_reward", 1.0), "episode_length": ev["eval/length"]}


# --- the checks ---------------------------------------------------------------------------------------------

CHECKS: dict[str, LearningCheck] = {c.name: c for c in (
    LearningCheck("orientation_easy", "BrainSet/OrientationDiscriminationEasy-v0",
                  ("train.total_steps=40000", "run.eval_every=2048", "run.eval_episodes=200",
                   "run.target_return=0.95"), _accuracy, "accuracy", 0.9),
    LearningCheck("patch_foraging", "BrainSet/PatchForaging-v0",
                  ("train.total_steps=60000", "run.eval_every=0", "run.eval_episodes=8"), _foraging,
                  "reward_rate/rho*", 0.8),
    LearningCheck("water_maze", "BrainSet/WaterMaze-v0",
                  ("train.total_steps=60000", "run.eval_every=0", "run.eval_episodes=8"), _escape_latency,
                  "escape_latency", 0.5, higher_is_better=False, relative_to_untrained=True),
    LearningCheck("empowerment_goal", "BrainSet/EmpowermentFourRooms-v0",
                  ("train.total_steps=100000", "run.eval_every=0", "run.eval_episodes=8",
                   'env.kwargs={"goal": [9, 9], "start": "random"}'), _goal_rate, "goal_rate", 0.8),
    LearningCheck("cartpole", "CartPole-v1",
                  ("train.total_steps=150000", "run.eval_every=10000", "run.eval_episodes=20",
                   "run.target_return=450"), _mean_return, "return", 195.0),
)}


def run_check(name: str | LearningCheck, seed: int = 0, num_threads: int = 1) -> dict[str, Any]:
    """Train the check's budget with the env's defaults; score the trained and the untrained network.
    ``name`` is a key of :data:`CHECKS` or a :class:`LearningCheck` (e.g. a registered one with its budget
    changed)."""
    check = CHECKS[name] if isinstance(name, str) else name
    cfg = resolve_config(check.env_id, overrides=[parse_override(o) for o in (
        *QUIET, *check.budget, f"run.seed={seed}", f"run.num_threads={num_threads}")])
    # The network before training: train() seeds everything, then builds the same components.
    set_threads(num_threads)
    seed_everything(seed)
    envs = make_vec_env(cfg.env.id, 1, cfg.env.kwargs)
    untrained_agent, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
    envs.close()
    t0 = time.perf_counter()
    res = train(cfg)
    wall = time.perf_counter() - t0
    trained, untrained = check.score(res.agent, cfg), check.score(untrained_agent, cfg)
    target = check.target * untrained["score"] if check.relative_to_untrained else check.target
    ok = trained["score"] >= target if check.higher_is_better else trained["score"] <= target
    return {
        "env": check.env_id, "metric": check.metric, "seed": seed,
        "budget": {"overrides": list(check.budget), "total_steps": cfg.train.total_steps,
                   "num_envs": cfg.env.num_envs, "num_threads": num_threads},
        "target": target, "target_rule": (f"<= {check.target} x untrained" if check.relative_to_untrained
                                          else f"{'>=' if check.higher_is_better else '<='} {check.target}"),
        "reached": trained["score"], "untrained": untrained["score"], "ok": bool(ok),
        "details": {k: v for k, v in trained.items() if k != "score"},
        "steps": res.global_step, "stopped": res.stopped, "train_seconds": wall,
        "steps_per_second": res.global_step / wall,
    }


def learning_report(names: list[str] | None = None, seed: int = 0, num_threads: int = 1,
                    progress: Callable[[str, dict], None] | None = None) -> dict[str, Any]:
    """Run the checks (all by default) and return the report: machine, load average, one entry each."""

    names = list(names or CHECKS)
    unknown = sorted(set(names) - set(CHECKS))
    if unknown:
        raise ValueError(f"unknown learning check(s) {unknown}; available: {sorted(CHECKS)}")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    checks = {}
    for name in names:
        checks[name] = run_check(name, seed, num_threads)
        if progress is not None:
            progress(name, checks[name])
    return {"machine": {**machine_info(), "torch": torch.__version__, "load_average_before": load_before,
                        "load_average_after": os.getloadavg()},
            "checks": checks, "all_ok": all(c["ok"] for c in checks.values()),
            "total_seconds": time.perf_counter() - t0}
