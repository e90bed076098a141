"""Fig. 2 on a BrainSet env: each learning rule's gradient bias and variance on an RL batch.

``run_fig2_env(env_id)`` takes an agent (fresh, or trained: a run folder or checkpoint), collects one
rollout from the env with it, computes the objective's targets (advantages, returns) once, and then, for
every rule, rebuilds the same agent prepared for that rule and measures its updates on the rollout's
minibatches against backprop's gradient on the whole rollout (:func:`agents.probes.gradients.bias_variance`).
The loss is the run's objective (PPO's clipped surrogate + value + entropy at ratio 1, i.e. the policy
gradient), with advantages normalised once over the whole rollout so that the minibatch losses average
exactly to the full loss. The result has the format of :func:`agents.experiments.fig2.run_fig2` (one
measured state per rule, under "trained"), so :func:`agents.experiments.fig2.save_fig2` draws it.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.build import build_components
from agents.config import Config, resolve_config
from agents.experiments.fig2 import DEFINITIONS, rule_settings, stochastic
from agents.probes.gradients import bias_variance
from agents.rollout import Rollout, masked_mean, obs_to_tensor, set_obs
from agents.rules import RULES
from agents.run_folder import checkpoint_path, load_checkpoint
from agents.trainer import make_vec_env, resolve_device, seed_everything


def agent_config(env_id: str | None, checkpoint: str | Path | None, overrides: Sequence[dict] = ()
                 ) -> tuple[Config, dict | None]:
    """(config, trained state dict or None): a checkpoint's own config, or the env's defaults."""
    if checkpoint is not None:
        ck = load_checkpoint(checkpoint_path(checkpoint, "best"))
        cfg = resolve_config(base=Config.from_dict(ck["config"]), overrides=list(overrides))
        if env_id is not None and env_id != cfg.env.id:
            raise ValueError(f"env={env_id!r} but the checkpoint {checkpoint} was trained on {cfg.env.id!r}")
        return cfg, ck["model"]
    if env_id is None:
        raise ValueError("give an env id, a checkpoint, or both")
    return resolve_config(env_id, overrides=list(overrides)), None


def collect_rollout(agent, envs, num_steps: int, seed: int, device: torch.device) -> Rollout:
    """One rollout of ``num_steps`` steps of every env with ``agent`` (NEXT_STEP autoreset: reset steps
    are marked invalid), laid out as the trainer's :class:`Rollout`, bootstrap value included."""
    T, N = num_steps, envs.num_envs
    buf = Rollout.allocate(T, N, envs.single_observation_space, envs.single_action_space, agent.state_size,
                           device)
    obs, _ = envs.reset(seed=seed)
    state = agent.initial_state(N, device)
    first, pending = np.ones(N, bool), np.zeros(N, bool)
    for t in range(T):
        obs_t = obs_to_tensor(obs, device)
        set_obs(buf.obs, t, obs_t)
        buf.states[t], buf.first[t] = state, torch.from_numpy(first)
        first_t = torch.from_numpy(first).to(device) if agent.recurrent else None
        a, logp, value, state = agent.act(obs_t, state, first_t)
        buf.actions[t], buf.logprobs[t], buf.values[t] = a, logp, value
        act = a.cpu().numpy()
        if hasattr(envs.single_action_space, "low"):
            act = np.clip(act, envs.single_action_space.low, envs.single_action_space.high)
        obs, r, term, trunc, _ = envs.step(act)
        valid = ~pending
        buf.rewards[t] = torch.as_tensor(r * valid, dtype=torch.float32)
        buf.terminated[t] = torch.as_tensor(term, dtype=torch.float32)
        buf.truncated[t] = torch.as_tensor(trunc, dtype=torch.float32)
        buf.valid[t] = torch.as_tensor(valid, dtype=torch.float32)
        done = (term | trunc) & valid
        first, pending = pending.copy(), done
    obs_t = obs_to_tensor(obs, device)
    set_obs(buf.obs, T, obs_t)
    buf.states[T], buf.first[T] = state, torch.from_numpy(first)
    with torch.no_grad():
        buf.values[T] = agent(obs_t, state, torch.from_numpy(first).to(device) if agent.recurrent else None).value
    return buf


def short_layer_name(name: str) -> str:
    """'trunk.encoder.part.conv.stages.V1.0' -> 'V1', 'trunk.encoder.part.mlp.layers.fc1' -> 'fc1',
    the value trunk's layers get a 'value.' prefix; heads keep their names."""
    prefix = "value." if name.startswith("value_trunk.") else ""
    name = re.sub(r"^(value_)?trunk\.encoder\.part\.", "", name)
    name = re.sub(r"^(value_)?trunk\.encoder\.parts\.([^.]+)\.", r"\2.", name)  # Dict obs: key prefix
    name = re.sub(r"(^|\.)(conv\.stages|mlp\.layers)\.", r"\1", name)
    name = re.sub(r"\.0$", "", name)
    return prefix + re.sub(r"^(value_)?trunk\.core", "core", name).replace("aux.", "")


def run_fig2_env(env_id: str | None = None, rules: Sequence[str] = RULES,
                 checkpoint: str | Path | None = None, num_envs: int = 16, num_steps: int = 32,
                 num_batches: int = 8, repeats: int = 16, seed: int = 0, overrides: Sequence[dict] = (),
                 rule_options: dict[str, dict] | None = None,
                 progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Bias and variance of each rule's update on one RL rollout of ``env_id``; a JSON-ready dict in
    :func:`agents.experiments.fig2.run_fig2`'s format. ``repeats``: passes over the batches for the noisy rules
    (node and weight perturbation); ``rule_options``: options per rule (default: the Fig. 2 settings)."""

    cfg, trained = agent_config(env_id, checkpoint, overrides)
    cfg = copy.deepcopy(cfg)
    cfg.env.num_envs = num_envs
    cfg.run.device = "cpu" if cfg.run.device == "auto" else cfg.run.device
    device = resolve_device(cfg.run.device)
    seed_everything(seed)
    envs = make_vec_env(cfg.env.id, num_envs, cfg.env.kwargs, cfg.env.vectorization)
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    base_cfg = copy.deepcopy(cfg)
    base_cfg.rule.name, base_cfg.rule.kwargs = "backprop", {}
    base, objective, _ = build_components(base_cfg, obs_space, act_space)
    if trained is not None:
        base.load_state_dict(trained)
    base.to(device)
    weights = copy.deepcopy(base.state_dict())
    rollout = collect_rollout(base, envs, num_steps, seed, device)
    envs.close()
    with torch.no_grad():
        intrinsic = objective.intrinsic_reward(rollout)
        if intrinsic is not None:
            rollout.intrinsic.copy_(intrinsic * rollout.valid)
        objective.prepare(rollout, base)
        if "advantages" in rollout.extras:  # normalise once, over the whole rollout
            adv, m = rollout.extras["advantages"], rollout.valid
            mean = masked_mean(adv, m)
            rollout.extras["advantages"] = (adv - mean) / (masked_mean((adv - mean) ** 2, m).sqrt() + 1e-8) * m
    for _, term in getattr(objective, "terms", []):
        if hasattr(term, "norm_adv"):
            term.norm_adv = False
    seq_len = cfg.train.bptt_len if base.recurrent else 1
    gen = torch.Generator().manual_seed(seed)
    batches = list(rollout.minibatches(num_batches, seq_len, gen))
    everything = next(rollout.minibatches(1, seq_len, torch.Generator().manual_seed(seed)))
    n_valid = int(rollout.valid.sum())
    out: dict[str, Any] = {
        "task": cfg.env.id.split("/")[-1], "env": cfg.env.id, "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "model": f"{'trained' if checkpoint else 'fresh'} {cfg.arch.name} agent, {cfg.objective.spec}",
        "config": {"env": cfg.env.id, "checkpoint": str(checkpoint) if checkpoint else None,
                   "num_envs": num_envs, "num_steps": num_steps, "num_batches": len(batches),
                   "valid_transitions": n_valid, "repeats_stochastic": repeats, "seed": seed,
                   "objective": cfg.objective.spec, "arch": cfg.arch.name,
                   "mean_reward": float(masked_mean(rollout.rewards, rollout.valid))},
        "definitions": DEFINITIONS, "rules": {},
    }
    for name in rules:
        t0 = time.perf_counter()
        opts = (rule_options or {}).get(name, rule_settings(name)["options"])
        rcfg = copy.deepcopy(cfg)
        rcfg.rule.name, rcfg.rule.kwargs = name, dict(opts)
        torch.manual_seed(seed)
        try:
            agent, _, rule = build_components(rcfg, obs_space, act_space)
        except (ValueError, TypeError) as e:  # the rule refuses this architecture: say so and go on
            out["rules"][name] = {"options": opts, "unsupported": str(e)}
            if progress is not None:
                progress(f"{name:26s} not measured: {e}")
            continue
        agent.load_state_dict(weights)
        agent.to(device)

        def closure(batch, agent=agent):
            o = agent.forward_sequence(batch.obs, batch.state0, batch.first)
            return objective.loss(batch, o)[0]

        reps = repeats if stochastic(name) else 1
        res = bias_variance(agent, rule, [lambda b=b: closure(b) for b in batches], lambda: closure(everything),
                            max(reps, 2 if len(batches) < 2 else 1))
        out["rules"][name] = {"options": opts,
                              "layers": {short_layer_name(k): {"trained": v} for k, v in res.items()},
                              "seconds": round(time.perf_counter() - t0, 2)}
        if progress is not None:
            a = res["all"]
            bias = "n/a" if a["bias_deg"] is None else f"{a['bias_deg']:5.1f}"
            var = "n/a" if a["variance"] is None else f"{a['variance']:.3g}"
            progress(f"{name:26s} bias {bias} deg  variance {var}  ({out['rules'][name]['seconds']:.1f} s)")
    return out
