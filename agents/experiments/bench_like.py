"""Like-for-like trainer throughput: our trainer, SB3 PPO and (given its ``ppo.py``) CleanRL on the same
network, envs, rollout length, epochs and minibatches; every trainer warmed up in the same process before
timing, medians of ``repeats`` timed runs, ratios within one run. Also: each library at its own defaults
(a separate table), the ideal rate of our trainer (env step, acting forward and PPO update timed apart on
the same net and batch) and a cProfile of one run. ``scripts/benchmark.py --trainer`` writes it all."""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

import brainset_envs  # noqa: F401  (registers the BrainSet ids)
from agents.architectures import log_prob_entropy
from agents.build import build_components
from agents.config import Config, parse_override, resolve_config
from agents.hooks import TrainerHook
from agents.rollout import Rollout
from agents.trainer import make_vec_env, to_env_actions, train

#: The like-for-like settings: one network, envs x steps, epochs x minibatches for every trainer. Our
#: conv net goes to SB3 as a features extractor (agents.sb3.BrainSetExtractor, no extra layers: net_arch
#: []), shared by policy and value heads like ours (arch.value_trunk=shared). ``steps``: env steps per
#: timed repeat (quick: / 4).
SETTINGS: dict[str, dict[str, Any]] = {
    "BrainSet/PatchForaging-v0": {"arch": "mlp", "num_envs": 128, "num_steps": 32, "epochs": 4,
                                  "minibatches": 4, "steps": 163_840, "cleanrl": True},
    "BrainSet/OrientationDiscriminationEasy-v0": {"arch": "hierarchical", "num_envs": 64, "num_steps": 8,
                                                  "epochs": 4, "minibatches": 4, "steps": 10_240,
                                                  "cleanrl": False},
    "CartPole-v1": {"arch": "mlp", "num_envs": 128, "num_steps": 32, "epochs": 4, "minibatches": 4,
                    "steps": 163_840, "cleanrl": True},
}

#: Each library's own defaults (the second table): ours = the env's shipped config; SB3 = PPO() with 8
#: envs (2048 steps, 10 epochs of batch 64); CleanRL = ppo.py without options (4 envs x 128, 4 x 4).
DEFAULTS_ENVS = ("BrainSet/PatchForaging-v0", "CartPole-v1")
SB3_DEFAULT_ENVS = 8

Timed = Callable[[int], dict[str, Any]]

#: The clock of every timing in this module (CleanRL's subprocess aside): wall time by default;
#: ``use_cpu_time(True)`` switches to this process's CPU time, which other jobs on a shared machine
#: barely move (every trainer here runs in this process on one torch thread).
_CLOCK: list[Callable[[], float]] = [time.perf_counter]


def clock() -> float:
    """Seconds on the benchmark's clock (see :func:`use_cpu_time`)."""
    return _CLOCK[0]()


def use_cpu_time(on: bool) -> None:
    """Time with this process's CPU time (``time.process_time``) instead of wall time."""
    _CLOCK[0] = time.process_time if on else time.perf_counter


def cpu_time_in_use() -> bool:
    return _CLOCK[0] is time.process_time


def median_of_repeats(run: Timed, steps: int, warm_steps: int, repeats: int = 3,
                      key: str = "steps_per_second") -> dict[str, Any]:
    """``run(warm_steps)`` once untimed (one-time costs of the process: lazy imports such as the first
    Adam's torch._dynamo, kernel caches), then ``repeats`` timed ``run(steps)``; the median of ``key``."""
    warm = run(warm_steps)
    reps = [run(steps) for _ in range(repeats)]
    out = dict(reps[int(np.argsort([r[key] for r in reps])[len(reps) // 2])])
    out.update(repeats=[r[key] for r in reps], warm_up={"steps": warm.get("steps"), "seconds": warm.get("seconds")},
               **{key: float(np.median([r[key] for r in reps]))})
    return out


class _Clock(TrainerHook):
    """Times the training loop alone (from after setup to the end) and counts the valid transitions."""

    def __init__(self) -> None:
        self.t0 = self.t1 = 0.0
        self.valid = 0.0

    def on_train_start(self, agent, cfg, run_dir) -> None:
        self.t0 = clock()

    def on_rollout(self, rollout: Rollout) -> None:
        self.valid += float(rollout.valid.sum())

    def on_train_end(self, agent, cfg, run_dir) -> None:
        self.t1 = clock()


def ours_config(env_id: str, steps: int, setting: dict[str, Any] | None, seed: int = 0) -> Config:
    """Our trainer's config: the env's shipped defaults, with ``setting``'s shape when given."""
    extra = [] if setting is None else [
        f"arch.name={setting['arch']}", f"env.num_envs={setting['num_envs']}",
        f"train.num_steps={setting['num_steps']}", f"train.update_epochs={setting['epochs']}",
        f"train.num_minibatches={setting['minibatches']}"]
    if setting is not None and setting["arch"] != "mlp":
        extra.append("arch.value_trunk=shared")
    return resolve_config(env_id, overrides=[parse_override(o) for o in (
        "run.runs_dir=''", "run.progress=false", "run.video=false", f"train.total_steps={steps}",
        "run.eval_every=0", "run.eval_episodes=1", "run.eval_envs=1", "run.num_threads=1", f"run.seed={seed}",
        *extra)])


def ours_run(env_id: str, setting: dict[str, Any] | None) -> Timed:
    def run(steps: int) -> dict[str, Any]:
        cfg = ours_config(env_id, steps, setting)
        clock = _Clock()
        res = train(cfg, hooks=[clock])
        wall = clock.t1 - clock.t0
        return {"steps": res.global_step, "seconds": wall, "steps_per_second": res.global_step / wall,
                "valid_steps_per_second": clock.valid / wall, "num_envs": cfg.env.num_envs,
                "num_steps": cfg.train.num_steps, "epochs": cfg.train.update_epochs,
                "minibatches": cfg.train.num_minibatches, "arch": cfg.arch.name}
    return run


def sb3_model(env_id: str, setting: dict[str, Any] | None, seed: int = 0):
    """SB3 PPO for ``setting`` (None: its defaults, 8 envs) on a DummyVecEnv; returns (model, venv)."""
    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3 import PPO

    # deferred: optional heavy dependency, imported only when used
    from stable_baselines3.common.env_util import make_vec_env as sb3_make_vec_env

    if setting is None:
        venv = sb3_make_vec_env(env_id, n_envs=SB3_DEFAULT_ENVS, seed=seed)
        image = len(venv.observation_space.shape or ()) == 3
        return PPO("CnnPolicy" if image else "MlpPolicy", venv, seed=seed, device="cpu", verbose=0), venv
    n, t = setting["num_envs"], setting["num_steps"]
    cfg = ours_config(env_id, 1, setting)
    venv = sb3_make_vec_env(env_id, n_envs=n, seed=seed)
    kw: dict[str, Any] = {"n_steps": t, "batch_size": n * t // setting["minibatches"], "n_epochs": setting["epochs"],
                          "learning_rate": cfg.train.lr, "max_grad_norm": cfg.train.max_grad_norm}
    if setting["arch"] == "mlp":
        policy = "MlpPolicy"  # SB3's default: separate 64-64 tanh trunks for policy and value, like ours
        kw["policy_kwargs"] = {"net_arch": {"pi": list(cfg.arch.mlp_hidden), "vf": list(cfg.arch.mlp_hidden)}}
    else:
        # deferred: optional heavy dependency, imported only when used
        from agents.sb3 import BrainSetExtractor

        policy = "CnnPolicy"
        a = cfg.arch
        kw["policy_kwargs"] = {"features_extractor_class": BrainSetExtractor, "net_arch": [],
                               "features_extractor_kwargs": {
                                   "arch": a.name, "stages": list(a.stages), "channels": list(a.channels),
                                   "kernels": list(a.kernels), "strides": list(a.strides),
                                   "conv_fc": list(a.conv_fc)}}
    return PPO(policy, venv, seed=seed, device="cpu", verbose=0, **kw), venv


def sb3_run(env_id: str, setting: dict[str, Any] | None) -> Timed:
    def run(steps: int) -> dict[str, Any]:
        model, venv = sb3_model(env_id, setting)
        t = clock()
        model.learn(steps)
        wall = clock() - t
        venv.close()
        return {"steps": model.num_timesteps, "seconds": wall, "steps_per_second": model.num_timesteps / wall,
                "valid_steps_per_second": model.num_timesteps / wall, "num_envs": model.n_envs,
                "num_steps": model.n_steps, "epochs": model.n_epochs,
                "minibatches": model.n_envs * model.n_steps // model.batch_size}
    return run


def param_counts(env_id: str, setting: dict[str, Any]) -> dict[str, int]:
    """Trainable parameters of our agent and of SB3's policy for ``setting`` (they must be equal)."""
    cfg = ours_config(env_id, 1, setting)
    envs = make_vec_env(env_id, 1)
    agent, _, _ = build_components(cfg, envs.single_observation_space, envs.single_action_space)
    envs.close()
    model, venv = sb3_model(env_id, {**setting, "num_envs": 1, "num_steps": setting["minibatches"] * 2})
    venv.close()
    count = lambda m: sum(p.numel() for p in m.parameters() if p.requires_grad)  # noqa: E731
    return {"ours": count(agent), "sb3": count(model.policy)}


# --- CleanRL: its ppo.py in a subprocess, timed from the moments it prints each iteration ---------------

_CLEANRL_WRAPPER = (
    "import runpy, sys; import brainset_envs; import torch; torch.set_num_threads(1); "
    "path = sys.argv[1]; sys.argv = [path] + sys.argv[2:]; runpy.run_path(path, run_name='__main__')")


def cleanrl_run(path: str | os.PathLike, env_id: str, setting: dict[str, Any] | None, steps: int,
                warm_iterations: int = 2, repeats: int = 3, timeout: float = 900) -> dict[str, Any]:
    """CleanRL's ``ppo.py`` at ``path`` (tyro options; BrainSet ids registered first) with ``setting``'s
    shape (None: its own defaults), one torch thread. It prints ``SPS:`` once per iteration: the first
    ``warm_iterations`` are its warm-up, the rest is cut into ``repeats`` equal windows timed from the
    moments those lines arrive; the median window rate is reported."""
    if setting is None:
        n, t, opts = 4, 128, []
    else:
        n, t = setting["num_envs"], setting["num_steps"]
        opts = [f"--num-envs={n}", f"--num-steps={t}", f"--update-epochs={setting['epochs']}",
                f"--num-minibatches={setting['minibatches']}"]
    batch = n * t
    iters = warm_iterations + repeats * max(1, -(-steps // batch))
    cmd = [sys.executable, "-u", "-c", _CLEANRL_WRAPPER, str(path), f"--env-id={env_id}",
           f"--total-timesteps={iters * batch}", "--seed=0", "--no-cuda", "--no-track", "--no-capture-video",
           *opts]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stamps: list[float] = []
    deadline = time.perf_counter() + timeout
    assert proc.stdout is not None
    for line in proc.stdout:
        if re.match(r"\s*SPS:", line):
            stamps.append(time.perf_counter())
        if time.perf_counter() > deadline:
            proc.kill()
            break
    err = proc.stderr.read() if proc.stderr is not None else ""
    rc = proc.wait()
    if rc != 0 or len(stamps) < warm_iterations + repeats:
        raise RuntimeError(f"CleanRL {path} exited {rc} after {len(stamps)} iterations: {err[-2000:]}")
    timed = stamps[warm_iterations - 1:]  # the end of the last warm-up iteration starts the first window
    per = (len(timed) - 1) // repeats
    rates = [per * batch / (timed[(i + 1) * per] - timed[i * per]) for i in range(repeats)]
    return {"steps_per_second": float(np.median(rates)), "valid_steps_per_second": float(np.median(rates)),
            "repeats": rates, "iterations": len(stamps), "warm_up": {"iterations": warm_iterations},
            "num_envs": n, "num_steps": t, "epochs": None if setting is None else setting["epochs"],
            "minibatches": None if setting is None else setting["minibatches"], "path": str(path)}


# --- the ideal rate: env, acting and update timed apart ---------------------------------------------------

def _timeit(fn: Callable[[], Any], repeats: int = 3, min_seconds: float = 0.3) -> float:
    """Median seconds per call of ``fn`` (warmed up by one call; each repeat runs >= ``min_seconds``)."""
    fn()
    out = []
    for _ in range(repeats):
        k, t0 = 0, clock()
        while True:
            fn()
            k += 1
            if clock() - t0 >= min_seconds:
                break
        out.append((clock() - t0) / k)
    return float(np.median(out))


def ideal_rate(env_id: str, setting: dict[str, Any], min_seconds: float = 0.3,
               valid_fraction: float = 1.0) -> dict[str, Any]:
    """Our trainer's limit for ``setting``: one env step of the batch (random actions, drawn afresh for
    every step as a near-uniform initial policy does: a fixed action per env would play different, often
    cheaper, episodes), one acting forward (``agent.act`` on the batch) and one bare PPO update (epochs x
    minibatches of forward, clipped loss, backward, grad clipping and fused Adam; indices drawn once per
    epoch), each timed alone on the same net; ideal steps/s = 1 / (env + act + update / samples) per env
    step. The update learns from the samples the trainer learns from: ``valid_fraction`` of the envs x
    steps (NEXT_STEP autoreset spends the rest on resets), in the setting's number of minibatches, so the
    minibatches have the trainer's size."""
    torch.set_num_threads(1)
    cfg = ours_config(env_id, 1, setting)
    n, t = setting["num_envs"], setting["num_steps"]
    envs = make_vec_env(env_id, n)
    space, aspace = envs.single_observation_space, envs.single_action_space
    agent, _, _ = build_components(cfg, space, aspace)
    obs, _ = envs.reset(seed=0)
    rng = np.random.default_rng(0)
    aspace.seed(0)
    acts_np = [np.stack([aspace.sample() for _ in range(n)]) for _ in range(256)]
    k = [0]

    def env_step() -> None:
        envs.step(acts_np[k[0] % len(acts_np)])
        k[0] += 1

    env_s = _timeit(env_step, min_seconds=min_seconds) / n
    obs_t = torch.as_tensor(obs)

    def act() -> None:
        with torch.no_grad():
            a, _, _, _ = agent.act(obs_t)
            to_env_actions(a, aspace)

    act_s = _timeit(act, min_seconds=min_seconds) / n
    envs.close()
    b = max(setting["minibatches"], round(n * t * valid_fraction))
    big = torch.as_tensor(np.concatenate([obs] * t))[:b]
    with torch.no_grad():
        a, logp, value, _ = agent.act(big)
    adv, ret = torch.as_tensor(rng.standard_normal(b), dtype=torch.float32), value + 0.1
    params = [p for p in agent.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg.train.lr, eps=cfg.train.adam_eps, fused=True)
    mb = b // setting["minibatches"]
    gen = torch.Generator().manual_seed(0)

    def update() -> None:
        for _ in range(setting["epochs"]):
            perm = torch.randperm(b, generator=gen)
            for i in range(setting["minibatches"]):
                idx = perm[i * mb:(i + 1) * mb]
                out = agent(big[idx])
                new_logp, ent = log_prob_entropy(out, a[idx])
                ratio = (new_logp - logp[idx]).exp()
                pg = -torch.min(ratio * adv[idx], ratio.clamp(0.8, 1.2) * adv[idx]).mean()
                loss = pg + 0.5 * (out.value - ret[idx]).pow(2).mean() - 0.01 * ent.mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, cfg.train.max_grad_norm)
                opt.step()

    update_s = _timeit(update, min_seconds=min_seconds) / b
    per_step = env_s + act_s + update_s
    return {"env_seconds_per_step": env_s, "act_seconds_per_step": act_s, "update_seconds_per_step": update_s,
            "ideal_steps_per_second": 1.0 / per_step,
            "shares": {"env": env_s / per_step, "act": act_s / per_step, "update": update_s / per_step}}


# --- a profile of one run ---------------------------------------------------------------------------------

def profile_run(env_id: str, setting: dict[str, Any], steps: int, top: int = 25) -> dict[str, Any]:
    """cProfile of one (warm) run of our trainer: the ``top`` functions by cumulative time, with their
    share of the run's total."""
    ours_run(env_id, setting)(setting["num_envs"] * setting["num_steps"] * 2)  # warm
    prof = cProfile.Profile()
    prof.enable()
    ours_run(env_id, setting)(steps)
    prof.disable()
    st = pstats.Stats(prof, stream=io.StringIO())
    total = max(float(st.total_tt), 1e-12)  # type: ignore[attr-defined]
    rows = []
    for (file, line, name), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        rows.append({"function": f"{Path(file).name}:{line}({name})", "calls": nc, "cumulative_seconds": ct,
                     "own_seconds": tt, "cumulative_share": ct / total})
    rows.sort(key=lambda r: -r["cumulative_seconds"])
    return {"env": env_id, "steps": steps, "total_seconds": total, "top_cumulative": rows[:top]}
