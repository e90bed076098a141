"""Trainer benchmarks against SB3 PPO on the same env and machine: end-to-end training throughput and
wall-clock time to a target evaluation return. ``scripts/bench_trainer.py`` prints them as JSON."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from agents.config import parse_override, resolve_config
from agents.trainer import evaluate, make_vec_env, train


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
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    import brainset_envs  # noqa: F401

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
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    import brainset_envs  # noqa: F401

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
        def __init__(self):
            super().__init__()
            self.next_eval, self.last = eval_every, float("nan")

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.next_eval += eval_every
                self.last = evaluate(_Policy(self.model), eval_envs, eval_episodes, seed + 1_000_003,
                                     torch.device("cpu"))["eval/return"]
                return not self.last >= target
            return True

    venv = sb3_make_vec_env(env_id, n_envs=n_envs, seed=seed)
    model = PPO(policy, venv, seed=seed, device="cpu", verbose=0, **ppo_kwargs)
    cb = _Stop()
    t = time.perf_counter()
    model.learn(max_steps, callback=cb)
    wall = time.perf_counter() - t
    venv.close()
    eval_envs.close()
    return {"reached": bool(cb.last >= target), "seconds": wall, "steps": model.num_timesteps,
            "eval_return": cb.last}


def summary(ours: dict, sb3: dict, key: str = "steps_per_second") -> float:
    """Ratio ours / SB3 of ``key`` (for seconds, SB3 / ours: >1 means we are faster)."""
    if key == "seconds":
        return float(sb3[key] / ours[key])
    return float(ours[key] / sb3[key]) if sb3[key] else float(np.inf)
