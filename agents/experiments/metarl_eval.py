"""A frozen meta-RL agent scored against each learning-to-learn task's ground truth (Wang et al. 2018).

The weights never change here: every episode is a new task (new arms, new reward schedule, new objects)
that the agent can only learn from its own recurrent activity. Episodes run in a batch on the native
vector env; actions are sampled from the policy with the evaluator's own ``torch.Generator`` (a trainer
hook can call these functions mid-run without touching the run's random streams).

- :func:`bandit_regret`: mean expected regret at the end of an episode (``info['expected_regret']``),
  to compare with the exact Bayes-optimal regret and Thompson sampling's
  (:mod:`brainset_envs.analysis.bandit`);
- :func:`two_step_log`: the trial log of TwoStep episodes, for the 2 x 2 stay probabilities and the
  model-based index (:mod:`brainset_envs.analysis.two_step`);
- :func:`harlow_accuracy`: accuracy on each trial of Harlow episodes (the ideal learner: 1/2, then 1).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from agents.rollout import obs_to_tensor
from agents.trainer import make_vec_env
from brainset_envs.analysis.two_step import TrialLog
from brainset_envs.core.params import check_int

CPU = torch.device("cpu")


def _episodes(agent: Any, env_id: str, kwargs: dict, episodes: int, seed: int, batch: int,
              deterministic: bool) -> Iterator[tuple[list[np.ndarray], list[np.ndarray], list[dict]]]:
    """Batches of whole episodes played by the frozen ``agent``: per batch, the actions, rewards and infos
    of every step (lists over steps of (n,) arrays / info dicts). Every env of a batch starts an episode at
    the same reset, and a batch ends when all its episodes have ended (all tasks here have fixed lengths)."""
    check_int("episodes", episodes, 1, 10_000_000)
    device = next(agent.parameters()).device
    gen = torch.Generator(device=device).manual_seed(int(seed))
    done_eps = 0
    envs = make_vec_env(env_id, min(batch, episodes), kwargs)
    n = envs.num_envs
    try:
        while done_eps < episodes:
            obs, _ = envs.reset(seed=int(seed) + 7919 * done_eps)
            state = agent.initial_state(n, device)
            first = torch.ones(n, dtype=torch.bool, device=device)
            ended = np.zeros(n, bool)
            actions, rewards, infos = [], [], []
            while not ended.all():
                with torch.no_grad():
                    out = agent(obs_to_tensor(obs, device), state, first)
                probs = torch.softmax(out.logits, -1)
                a = probs.argmax(-1) if deterministic else torch.multinomial(probs, 1, generator=gen).squeeze(-1)
                state, first = out.state, torch.zeros_like(first)
                act = a.cpu().numpy()
                obs, r, term, trunc, info = envs.step(act)
                actions.append(act)
                rewards.append(np.where(ended, 0.0, r))
                infos.append({k: np.asarray(v) for k, v in info.items() if not k.startswith("_")})
                ended |= term | trunc
            yield actions, rewards, infos
            done_eps += n
    finally:
        envs.close()


def bandit_regret(agent: Any, episodes: int = 2000, seed: int = 10_000, env_id: str = "BrainSet/Bandit-v0",
                  kwargs: dict | None = None, batch: int = 500, deterministic: bool = False) -> dict[str, float]:
    """Mean expected regret (sum over pulls of max p - p of the pulled arm) of the frozen agent at the end
    of ``episodes`` bandit episodes, its standard error, and the mean reward."""
    regrets, totals = [], []
    for _, rewards, infos in _episodes(agent, env_id, kwargs or {}, episodes, seed, batch, deterministic):
        regrets.append(infos[-1]["expected_regret"])
        totals.append(np.sum(rewards, 0))
    reg = np.concatenate(regrets)[:episodes]
    return {"regret": float(reg.mean()), "regret_se": float(reg.std(ddof=1) / np.sqrt(len(reg))),
            "reward": float(np.concatenate(totals)[:episodes].mean()), "episodes": float(len(reg))}


def two_step_log(agent: Any, episodes: int = 200, seed: int = 10_000, env_id: str = "BrainSet/TwoStepSwitching-v0",
                 kwargs: dict | None = None, batch: int = 200, deterministic: bool = False) -> TrialLog:
    """The trials of ``episodes`` TwoStep episodes played by the frozen agent, in the layout of
    :func:`brainset_envs.analysis.two_step.record_trials` (one row per trial, episodes numbered from 0)."""
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("first_action", "state", "common", "second_action",
                                                           "reward", "episode")}
    base = 0
    for actions, rewards, infos in _episodes(agent, env_id, kwargs or {}, episodes, seed, batch, deterministic):
        n = len(actions[0])
        second_state = np.full(n, -1)
        rows: list[tuple[np.ndarray, ...]] = []
        for a, r, info in zip(actions, rewards, infos, strict=True):
            ended = info["stage"] == 0  # a second-stage step just ended the trial
            rows.append((info["first_action"].copy(), second_state.copy(), info["common"].copy(), a, r, ended))
            second_state = np.where(ended, second_state, info["state"] - 1)
        for i in range(n):  # episode-major, trial order within each episode
            if base + i >= episodes:
                break
            for fa, s2, com, a, r, ended in rows:
                if ended[i]:
                    for k, v in zip(cols, (fa[i], s2[i], com[i], a[i], r[i], base + i), strict=True):
                        cols[k].append(v)
        base += n
    arr = {k: np.asarray(v) for k, v in cols.items()}
    return TrialLog(arr["first_action"].astype(np.int64), arr["state"].astype(np.int64), arr["common"].astype(bool),
                    arr["second_action"].astype(np.int64), arr["reward"].astype(np.float64),
                    arr["episode"].astype(np.int64))


def harlow_accuracy(agent: Any, episodes: int = 1000, seed: int = 10_000, env_id: str = "BrainSet/Harlow-v0",
                    kwargs: dict | None = None, batch: int = 500, deterministic: bool = False) -> np.ndarray:
    """Accuracy of the frozen agent on each trial position of ``episodes`` Harlow episodes (reward 1 for
    the rewarded object)."""
    hits = []
    for _, rewards, _ in _episodes(agent, env_id, kwargs or {}, episodes, seed, batch, deterministic):
        hits.append(np.stack(rewards, 1))  # (n, trials)
    return np.concatenate(hits)[:episodes].mean(0)
