"""The training loop: batched rollouts -> objectives -> learning rule -> optimizer, CleanRL-style.

``train(cfg)`` is meant to be read top to bottom. Envs run batched (the native vector env when the id
registers one, SyncVectorEnv otherwise); observations go to the device once per step as one batch;
recurrent cores are trained with truncated BPTT over rollout segments. Gymnasium's NEXT_STEP autoreset
is handled by masking the reset steps out of every loss (see :mod:`agents.rollout`).
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import gymnasium as gym
import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from tqdm.auto import tqdm

import brainset_envs  # noqa: F401  (registers the BrainSet ids)
from agents.build import build_components
from agents.config import Config, ConfigError, device_problem
from agents.hooks import CallbackHook, TrainerHook, objective_hooks
from agents.objectives import get_objective
from agents.policy import record_video
from agents.rollout import Rollout, obs_to_tensor, set_obs
from agents.rules import get_rule
from agents.run_folder import load_checkpoint, new_run_dir, save_checkpoint
from agents.run_log import RunLogger


class NonFiniteError(RuntimeError):
    """A loss or gradient became NaN or infinite; training stopped before the bad update was applied."""


# --- setup helpers ------------------------------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; a device that is not there raises ValueError naming
    ``run.device``."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device_problem(device):
        raise ConfigError("run.device", f"run.device={device!r} is not a device; allowed: auto, cpu, cuda, "
                          f"cuda:N, mps")
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("run.device", f"run.device={device!r} but CUDA is not available; use 'auto' or "
                              f"'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            n = torch.cuda.device_count()
            raise ConfigError("run.device", f"run.device={device!r} but there are {n} CUDA devices (cuda:0 to "
                              f"cuda:{n - 1}); use 'cuda' or 'auto'")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("run.device", f"run.device={device!r} but MPS is not available; use 'auto' or 'cpu'")
    return dev


def preflight(cfg: Config) -> None:
    """What only a run can check, done before any run folder exists: the device is there, the env is
    made with ``env.kwargs`` and has what ``env.vectorization`` asks for, the objective and the rule are
    built with their options. Raises ValueError / TypeError naming the option."""
    resolve_device(cfg.run.device)
    spec = gym.spec(cfg.env.id)
    if cfg.env.vectorization == "native" and spec.vector_entry_point is None:
        raise ValueError(f"env.vectorization='native' but {cfg.env.id} registers no vector_entry_point; "
                         f"allowed here: auto, sync")
    try:
        gym.make(cfg.env.id, **cfg.env.kwargs).close()
    except (TypeError, ValueError) as e:
        raise type(e)(f"env.kwargs={cfg.env.kwargs!r}: {cfg.env.id} rejects them: {e}") from None
    try:
        get_objective(cfg.objective.spec, cfg.objective.kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"objective.kwargs={cfg.objective.kwargs!r} (objective.spec={cfg.objective.spec!r}): "
                      f"{e}") from None
    try:
        get_rule(cfg.rule.name, **cfg.rule.kwargs)
    except (TypeError, ValueError) as e:
        raise type(e)(f"rule.kwargs={cfg.rule.kwargs!r} (rule.name={cfg.rule.name!r}): {e}") from None


def set_threads(num_threads: int) -> None:
    """torch CPU threads: 0 means 1 (small nets on few cores run fastest single-threaded)."""
    torch.set_num_threads(max(1, int(num_threads)))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002  (third-party code may use the global RNG)
    torch.manual_seed(seed)


def make_vec_env(env_id: str, num_envs: int, kwargs: dict | None = None, vectorization: str = "auto"):
    """A NEXT_STEP-autoreset vector env: native (``vector_entry_point``) when registered, else sync."""
    spec = gym.spec(env_id)
    native = spec.vector_entry_point is not None
    if vectorization == "native" and not native:
        raise ValueError(f"env.vectorization='native' but {env_id} registers no vector_entry_point")
    mode = "vector_entry_point" if native and vectorization != "sync" else "sync"
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **(kwargs or {}))
    autoreset = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    if autoreset != AutoresetMode.NEXT_STEP:
        raise ValueError(f"{env_id}: the trainer needs NEXT_STEP autoreset, the env uses {autoreset}")
    return envs


def to_env_actions(actions: torch.Tensor, space: spaces.Space) -> np.ndarray:
    a = actions.cpu().numpy()
    if isinstance(space, spaces.Box):
        return np.clip(a, space.low, space.high).astype(space.dtype)
    return a


def step_durations(info: dict, key: str, env_id: str = "") -> np.ndarray:
    """Each env's step duration from a vector env's ``info`` (``env.duration_key``), as float32."""
    if key not in info:
        raise KeyError(f"env.duration_key={key!r} but {env_id or 'the env'}'s step info has no such key; "
                       f"info keys: {sorted(k for k in info if not k.startswith('_'))}")
    d = np.asarray(info[key], dtype=np.float32)
    mask = info.get("_" + key)  # SyncVectorEnv: envs that did not report the key (0 = no time passed)
    return np.where(mask, d, 0.0) if mask is not None else d


@torch.no_grad()
def evaluate(agent, envs, episodes: int, seed: int, device: torch.device, deterministic: bool = True,
             max_steps: int = 1_000_000) -> dict[str, float]:
    """Mean/std return and mean length of ``episodes`` episodes, spread evenly over the vector env's
    envs (each env plays its quota, so short episodes are not over-sampled)."""
    n = envs.num_envs
    quota = np.array([episodes // n + (i < episodes % n) for i in range(n)])
    count = np.zeros(n, dtype=int)
    ret, length = np.zeros(n), np.zeros(n)
    returns, lengths = [], []
    obs, _ = envs.reset(seed=seed)
    state = agent.initial_state(n, device)
    first, pending = np.ones(n, bool), np.zeros(n, bool)
    steps = 0
    while (count < quota).any() and steps < max_steps:
        first_t = torch.from_numpy(first).to(device) if agent.recurrent else None
        a, _, _, state = agent.act(obs_to_tensor(obs, device), state, first_t, deterministic=deterministic)
        obs, r, term, trunc, _ = envs.step(to_env_actions(a, envs.single_action_space))
        valid = ~pending
        ret += r * valid
        length += valid
        done = (term | trunc) & valid
        for i in np.flatnonzero(done & (count < quota)):
            returns.append(ret[i])
            lengths.append(length[i])
        count += done
        ret[done], length[done] = 0.0, 0.0
        first, pending = pending, done
        steps += 1
    return {"eval/return": float(np.mean(returns)) if returns else float("nan"),
            "eval/return_std": float(np.std(returns)) if returns else float("nan"),
            "eval/length": float(np.mean(lengths)) if lengths else float("nan"),
            "eval/episodes": len(returns)}


@dataclass
class LoopState:
    """What the loop carries between updates (all of it is checkpointed)."""

    obs: Any  # last observation batch, as the env returned it (numpy)
    first: np.ndarray  # obs starts an episode
    pending: np.ndarray  # the next step only resets (NEXT_STEP autoreset)
    state: torch.Tensor  # recurrent state before the next step
    ep_return: np.ndarray
    ep_length: np.ndarray
    global_step: int = 0
    update: int = 0
    elapsed: float = 0.0
    best_eval: float = -math.inf
    last_eval: float = math.nan
    recent: deque = field(default_factory=lambda: deque(maxlen=100))
    truncated_any: bool = False  # the last step truncated an episode (its final obs needs a value)


@dataclass
class TrainResult:
    agent: torch.nn.Module
    run_dir: Path | None
    global_step: int
    updates: int
    last_eval: float
    best_eval: float
    elapsed: float
    steps_per_second: float
    rows: list
    stopped: str


def _rng_state(device: torch.device) -> dict:
    s = {"python": random.getstate(), "numpy": np.random.get_state(),  # noqa: NPY002
          "torch": torch.get_rng_state()}
    if device.type == "cuda":
        s["cuda"] = torch.cuda.get_rng_state(device)
    return s


def _set_rng_state(s: dict, device: torch.device) -> None:
    random.setstate(s["python"])
    np.random.set_state(s["numpy"])  # noqa: NPY002
    torch.set_rng_state(s["torch"])
    if "cuda" in s and device.type == "cuda":
        torch.cuda.set_rng_state(s["cuda"], device)


def clip_grad_norm(params: list[torch.Tensor], max_norm: float, uniform: bool) -> torch.Tensor:
    """``torch.nn.utils.clip_grad_norm_(params, max_norm)`` (2-norm): the same operations as its foreach
    path (per-tensor norms, the norm of their stack, one in-place scale of every gradient), hence the same
    values to the bit, without its per-call regrouping of the tensors by device and dtype. ``uniform``:
    every parameter on one device with one dtype (checked once, :func:`_uniform`); otherwise, or for
    gradients that are not plain tensors, torch's own function runs."""
    grads = [p.grad for p in params if p.grad is not None]
    if not uniform or not grads or any(type(g) is not torch.Tensor for g in grads):
        return torch.nn.utils.clip_grad_norm_(params, max_norm)
    with torch.no_grad():
        total = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2.0)), 2.0)
        torch._foreach_mul_(grads, torch.clamp(max_norm / (total + 1e-6), max=1.0))
    return total


def _uniform(params: list[torch.Tensor]) -> bool:
    """All ``params`` on one CPU or CUDA device with one dtype: :func:`clip_grad_norm` may take its path."""
    return bool(params) and params[0].device.type in ("cpu", "cuda") and all(
        p.device == params[0].device and p.dtype == params[0].dtype for p in params)


def _mean_metric(values: list) -> float:
    """The mean of one metric over an update's minibatches, as float32 (tensors and numbers alike)."""
    if all(torch.is_tensor(v) for v in values):
        return float(torch.stack(values).float().mean())
    return float(torch.stack([v if torch.is_tensor(v) else torch.tensor(v) for v in values]).float().mean())


# --- the loop -----------------------------------------------------------------------------------------


def train(cfg: Config, run_dir: str | Path | None = None, resume: str | Path | None = None,
          callback=None, command: str | None = None, init_weights: dict | None = None,
          hooks: Sequence[TrainerHook] = ()) -> TrainResult:
    """Train an agent as ``cfg`` says. Outputs go to ``run_dir`` (a new folder under ``cfg.run.runs_dir``
    when None; nothing is written when ``runs_dir`` is empty). ``resume``: a run folder to continue from
    its last checkpoint. ``callback(info)`` runs after every update; returning False stops training (the
    same as a hook's ``on_update``).
    ``init_weights``: a state dict (e.g. pre-trained weights) loaded into the fresh agent before training;
    every key must name a parameter or buffer of the agent, missing keys keep their initial values.
    ``hooks``: :class:`agents.hooks.TrainerHook` instances, called after the hooks the objective asks for
    (``Objective.trainer_hooks``, e.g. the learned empowerment map), then ``callback``."""
    t, r = cfg.train, cfg.run
    device = resolve_device(r.device)
    set_threads(r.num_threads)
    seed_everything(r.seed)

    # Envs, model, objective, rule, optimizer.
    envs = make_vec_env(cfg.env.id, cfg.env.num_envs, cfg.env.kwargs, cfg.env.vectorization)
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    agent, objective, rule = build_components(cfg, obs_space, act_space)
    hooks = [*objective_hooks(objective), *hooks, *([CallbackHook(callback)] if callback is not None else [])]
    if init_weights is not None and resume is None:
        unexpected = agent.load_state_dict(init_weights, strict=False).unexpected_keys
        if unexpected:
            raise KeyError(f"init_weights has keys the agent does not: {unexpected[:5]}")
    agent.to(device)
    params = [p for p in agent.parameters() if p.requires_grad]
    optimizer: torch.optim.Optimizer
    if t.optimizer == "adam":
        try:  # the fused kernel is several times faster for small nets, on CPU too
            optimizer = torch.optim.Adam(params, lr=t.lr, eps=t.adam_eps, weight_decay=t.weight_decay,
                                         fused=True)
        except (RuntimeError, TypeError):
            optimizer = torch.optim.Adam(params, lr=t.lr, eps=t.adam_eps, weight_decay=t.weight_decay)
    else:
        optimizer = torch.optim.SGD(params, lr=t.lr, weight_decay=t.weight_decay)
    mb_gen = torch.Generator().manual_seed(r.seed)
    T, N = t.num_steps, cfg.env.num_envs
    batch_steps = T * N
    num_updates = max(1, math.ceil(t.total_steps / batch_steps))
    seq_len = t.bptt_len if agent.recurrent else 1
    dkey = cfg.env.duration_key  # semi-Markov envs: discount per unit of this info key (gamma ** duration)
    buf = Rollout.allocate(T, N, obs_space, act_space, agent.state_size, device, durations=bool(dkey))
    rew_np, term_np, trunc_np, valid_np, dur_np = (np.zeros((T, N), np.float32) for _ in range(5))
    first_np = np.zeros((T + 1, N), bool)

    # Run folder, or the checkpoint to resume from.
    if resume is not None:
        run_dir = Path(resume)
        ck = load_checkpoint(run_dir / "checkpoints" / "last.pt", map_location=device)
        agent.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        objective.load_state_dict(ck.get("objective", {}))
        loop = ck["loop"]
        loop.state = loop.state.to(device)
        if ck.get("envs") is not None:
            envs.close()
            envs = cloudpickle.loads(ck["envs"])
        else:  # the envs could not be pickled: start fresh episodes
            loop.obs, _ = envs.reset(seed=r.seed + loop.update)
            loop.first[:], loop.pending[:] = True, False
            loop.ep_return[:], loop.ep_length[:] = 0.0, 0.0
        mb_gen.set_state(ck["minibatch_rng"])
        _set_rng_state(ck["rng"], device)
    else:
        if run_dir is None and r.runs_dir:
            run_dir = new_run_dir(cfg)
        obs, _ = envs.reset(seed=r.seed)
        loop = LoopState(obs=obs, first=np.ones(N, bool), pending=np.zeros(N, bool),
                         state=agent.initial_state(N, device), ep_return=np.zeros(N), ep_length=np.zeros(N))
    run_dir = Path(run_dir) if run_dir else None
    if run_dir is not None:
        (run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
        cfg.save(run_dir / "config.yaml")
        with open(run_dir / "command.txt", "a") as f:
            f.write((command or " ".join([sys.executable, *sys.argv])) + "\n")
    logger = RunLogger(run_dir, r.tensorboard, purge_step=loop.global_step if resume is not None else None)
    eval_envs = make_vec_env(cfg.env.id, min(r.eval_envs, r.eval_episodes), cfg.env.kwargs,
                             cfg.env.vectorization)

    def checkpoint(name: str) -> None:
        if run_dir is None:
            return
        try:
            env_bytes = cloudpickle.dumps(envs)
        except Exception:  # an env that cannot be pickled restarts its episodes on resume
            env_bytes = None
        save_checkpoint(run_dir / "checkpoints" / f"{name}.pt", {
            "format": 1, "config": cfg.to_dict(), "observation_space": obs_space, "action_space": act_space,
            "model": agent.state_dict(), "optimizer": optimizer.state_dict(),
            "objective": objective.state_dict(), "rng": _rng_state(device),
            "minibatch_rng": mb_gen.get_state(), "envs": env_bytes, "loop": loop,
            "counters": {"global_step": loop.global_step, "update": loop.update},
        })

    for hook in hooks:
        hook.on_train_start(agent, cfg, run_dir)
    step_hooks = [h for h in hooks if type(h).on_step is not TrainerHook.on_step]
    pbar = tqdm(total=num_updates * batch_steps, initial=loop.global_step, unit="step", unit_scale=True,
                disable=not r.progress, dynamic_ncols=True, desc=cfg.env.id.split("/")[-1],
                mininterval=0.5 if sys.stderr.isatty() else 10.0)  # logs (CI, make demo | tee) stay short
    stopped = "total_steps"
    t_start, steps_start = time.perf_counter(), loop.global_step
    elapsed0 = loop.elapsed
    try:
        while loop.update < num_updates:
            loop.update += 1
            if t.anneal_lr:
                optimizer.param_groups[0]["lr"] = t.lr * (1.0 - (loop.update - 1) / num_updates)

            # 1. Rollout: T steps of N envs; one observation transfer per step.
            obs_t = obs_to_tensor(loop.obs, device)
            finished = []
            for step in range(T):
                first_t = torch.from_numpy(loop.first).to(device) if agent.recurrent else None
                set_obs(buf.obs, step, obs_t)
                if agent.recurrent:  # a core without one has a (N, 0) state: nothing to store
                    buf.states[step] = loop.state
                if loop.pending.all() and not loop.truncated_any:
                    # Every env only resets on this step (one-step episodes): the actions are ignored
                    # and no value is bootstrapped here, so skip the forward pass.
                    action = buf.actions[step].zero_()
                    buf.logprobs[step], buf.values[step] = 0.0, 0.0
                else:
                    action, logp, value, loop.state = agent.act(obs_t, loop.state, first_t)
                    buf.actions[step], buf.logprobs[step], buf.values[step] = action, logp, value
                first_np[step] = loop.first
                next_obs, reward, term, trunc, info = envs.step(to_env_actions(action, act_space))
                valid = ~loop.pending  # False: this step only reset the env
                rew_np[step], term_np[step], trunc_np[step], valid_np[step] = reward, term, trunc, valid
                if dkey:
                    dur_np[step] = step_durations(info, dkey, cfg.env.id)
                loop.ep_return += reward * valid
                loop.ep_length += valid
                done = (term | trunc) & valid
                for hook in step_hooks:
                    hook.on_step(info, done)
                if done.any():
                    finished += list(zip(loop.ep_return[done].tolist(), loop.ep_length[done].tolist(),
                                         strict=True))
                    loop.ep_return[done], loop.ep_length[done] = 0.0, 0.0
                loop.first, loop.pending = loop.pending.copy(), done
                loop.truncated_any = bool((trunc & valid).any())
                loop.obs = next_obs
                obs_t = obs_to_tensor(next_obs, device)
            loop.global_step += batch_steps
            # The observation after the rollout: bootstrap value, and the next obs of the last step.
            set_obs(buf.obs, T, obs_t)
            buf.states[T], first_np[T] = loop.state, loop.first
            for dst, src in ((buf.rewards, rew_np), (buf.terminated, term_np), (buf.truncated, trunc_np),
                             (buf.valid, valid_np), (buf.first, first_np)):
                dst.copy_(torch.from_numpy(src))  # one transfer per rollout
            if dkey and buf.durations is not None:  # allocated whenever dkey is set
                buf.durations.copy_(torch.from_numpy(dur_np))
            if valid_np[T - 1].any():  # the bootstrap value counts only after a valid last step
                with torch.no_grad():
                    first_t = buf.first[T] if agent.recurrent else None
                    buf.values[T] = agent(obs_t, loop.state, first_t).value
            else:  # every env only reset on the last step (one-step episodes): GAE masks that step out
                buf.values[T] = 0.0

            # 2. Objectives: intrinsic rewards, then per-rollout targets (advantages, ...).
            buf.intrinsic.zero_()
            with torch.no_grad():
                intrinsic = objective.intrinsic_reward(buf)
                if intrinsic is not None:
                    buf.intrinsic.copy_(intrinsic * buf.valid)
                objective.prepare(buf, agent)
            for hook in hooks:
                hook.on_rollout(buf)

            # 3. Update: the rule turns each minibatch loss into gradients; the optimizer steps.
            # Per minibatch only what the step needs: no metric reductions, one host read (the finite
            # check, before the step); the metrics are averaged once per update (_mean_metrics).
            sums: dict[str, list] = {}
            max_norm = t.max_grad_norm if t.max_grad_norm > 0 else math.inf
            uniform = _uniform(params)
            for _epoch in range(t.update_epochs):
                for batch in buf.minibatches(t.num_minibatches, seq_len, mb_gen):
                    seen: dict[str, Any] = {}

                    def closure(batch=batch, seen=seen):
                        out = agent.forward_sequence(batch.obs, batch.state0, batch.first)
                        loss, metrics = objective.loss(batch, out)
                        seen["loss"], seen["metrics"] = loss, metrics
                        return loss

                    for p in params:  # optimizer.zero_grad(set_to_none=True), without its profiler wrapper
                        p.grad = None
                    rule_metrics = rule.compute_grads(agent, closure)
                    grad_norm = clip_grad_norm(params, max_norm, uniform)
                    if not bool(torch.isfinite(seen["loss"].detach()) & torch.isfinite(grad_norm)):
                        raise NonFiniteError(
                            f"non-finite loss or gradient at update {loop.update} (env step "
                            f"{loop.global_step}): loss={float(seen['loss'].detach()):.4g}, grad_norm="
                            f"{float(grad_norm):.4g}. The bad update was not applied. Last good checkpoint: "
                            f"{run_dir / 'checkpoints' / 'last.pt' if run_dir else 'none (no run folder)'}. "
                            f"Try a lower train.lr (now {t.lr}) or train.max_grad_norm.")
                    optimizer.step()
                    for k, v in {**seen["metrics"], **rule_metrics, "grad_norm": grad_norm}.items():
                        sums.setdefault(k, []).append(v.detach() if torch.is_tensor(v) else v)

            # 4. Log, evaluate, checkpoint.
            now = time.perf_counter()
            loop.elapsed = elapsed0 + now - t_start
            sps = (loop.global_step - steps_start) / max(now - t_start, 1e-9)
            loop.recent.extend(x[0] for x in finished)
            row: dict[str, Any] = {"step": loop.global_step, "update": loop.update, "time": loop.elapsed,
                                   "sps": sps, "lr": optimizer.param_groups[0]["lr"],
                                   "train/episode_return": float(np.mean([x[0] for x in finished]))
                                   if finished else None,
                                   "train/episode_length": float(np.mean([x[1] for x in finished]))
                                   if finished else None,
                                   "train/episodes": len(finished)}
            row.update({k: _mean_metric(v) for k, v in sums.items()})
            last = loop.update == num_updates
            if t.max_seconds > 0 and now - t_start >= t.max_seconds:
                stopped, last = "max_seconds", True  # still evaluates and checkpoints below
            crossed = lambda every: every > 0 and (loop.global_step // every  # noqa: E731
                                                   > (loop.global_step - batch_steps) // every)
            if crossed(r.eval_every) or last:
                ev = evaluate(agent, eval_envs, r.eval_episodes, r.seed + 1_000_003, device,
                              r.eval_deterministic)
                row.update(ev)
                loop.last_eval = ev["eval/return"]
                if loop.last_eval > loop.best_eval:
                    loop.best_eval = loop.last_eval
                    checkpoint("best")
                if r.target_return is not None and loop.last_eval >= r.target_return:
                    stopped, last = "target_return", True
            info = {"row": row, "agent": agent, "loop": loop}
            if any([hook.on_update(info) is False for hook in hooks]):  # a list: every hook sees the update
                stopped, last = "callback", True
            logger.log(row)
            if crossed(r.checkpoint_every) or last:
                checkpoint("last")
                logger.flush()
            pbar.update(batch_steps)
            recent = f"{np.mean(loop.recent):.3g}" if loop.recent else "-"
            pbar.set_postfix_str(f"sps={sps:,.0f} return={recent}")
            if last:
                break
    finally:
        pbar.close()
        logger.close()
        envs.close()
        eval_envs.close()

    for hook in hooks:  # the objectives' read-outs (e.g. the learned empowerment map) come first
        hook.on_train_end(agent, cfg, run_dir)
    if run_dir is not None and r.video:
        record_video(agent, cfg.env.id, cfg.env.kwargs, run_dir / "video.mp4", r.video_episodes, r.seed,
                     r.video_max_frames)
    elapsed = time.perf_counter() - t_start
    return TrainResult(agent=agent, run_dir=run_dir, global_step=loop.global_step, updates=loop.update,
                       last_eval=loop.last_eval, best_eval=loop.best_eval, elapsed=loop.elapsed,
                       steps_per_second=(loop.global_step - steps_start) / max(elapsed, 1e-9),
                       rows=logger.rows, stopped=stopped)
