"""The reward objective: maximise reward with a policy gradient and a learned baseline (Williams 1992).

Two forms:
- ``algo='ppo'`` (default): PPO's clipped surrogate with GAE advantages (Schulman et al. 2017), value
  loss (optionally clipped) and an entropy bonus; the workhorse for multi-step tasks.
- ``algo='reinforce'``: REINFORCE with a baseline, advantage = Monte Carlo return - V(s) (GAE with
  lambda = 1); the simplest case, exact for one-step tasks. Use one epoch per rollout (it is on-policy).

With ``env.duration_key`` set (semi-Markov tasks such as PatchForaging, whose steps last different
task times), ``gamma`` is per unit of task time: a step of duration d is discounted by ``gamma ** d``.

The reward is ``extrinsic * env reward + intrinsic`` (intrinsic rewards come from other objectives of the
weighted sum), so ``reward`` with ``extrinsic: 0`` maximises intrinsic reward alone.
"""

from __future__ import annotations

import torch

from agents.architectures import log_prob_entropy
from agents.objectives.base import Metrics, Objective
from agents.rollout import Batch, Rollout, mask_count, masked_mean


def gae(rewards: torch.Tensor, values: torch.Tensor, terminated: torch.Tensor, truncated: torch.Tensor,
        valid: torch.Tensor, gamma: float | torch.Tensor, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimates and returns for (T, N) tensors; ``values`` has T+1 rows.

    ``gamma`` is one discount per step, or a (T, N) tensor of per-step discounts (``gamma ** duration``
    for semi-Markov steps of varying task time: ``delta = r + gamma_t V(s') - V(s)``).

    With NEXT_STEP autoreset, the observation after a truncated step is the episode's real last
    observation, so ``values[t+1]`` bootstraps it; a terminated step does not bootstrap; the reset steps
    (``valid`` 0) get zero advantage and cut the recursion.
    """
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    not_term = 1.0 - terminated
    go_on = 1.0 - torch.maximum(terminated, truncated)
    # Everything but the recursion, for all steps at once (the same element-wise operations, in the same
    # order, as step by step: identical values).
    delta = rewards + gamma * values[1:] * not_term - values[:-1]
    carry = gamma * lam * go_on
    for t in range(T - 1, -1, -1):
        last = (delta[t] + carry[t] * last) * valid[t]
        adv[t] = last
    return adv, adv + values[:-1]


class RewardObjective(Objective):
    """Policy gradient on (extrinsic + intrinsic) reward with a learned value baseline."""

    name = "reward"
    drives_policy = True

    def __init__(self, algo: str = "ppo", gamma: float = 0.99, gae_lambda: float = 0.95,
                 clip_coef: float = 0.2, vf_coef: float = 0.5, ent_coef: float = 0.01,
                 norm_adv: bool = True, clip_vloss: bool = True, extrinsic: float = 1.0):
        if algo not in ("ppo", "reinforce"):
            raise ValueError(f"objective.kwargs.reward.algo={algo!r}: choose 'ppo' or 'reinforce'")
        for name, v, lo, hi in (("gamma", gamma, 0.0, 1.0), ("gae_lambda", gae_lambda, 0.0, 1.0),
                                ("clip_coef", clip_coef, 0.0, 10.0)):
            if not lo <= float(v) <= hi:
                raise ValueError(f"objective.kwargs.reward.{name}={v!r} must be in [{lo}, {hi}]")
        self.algo, self.gamma, self.clip_coef = algo, float(gamma), float(clip_coef)
        self.lam = 1.0 if algo == "reinforce" else float(gae_lambda)
        self.vf_coef, self.ent_coef = float(vf_coef), float(ent_coef)
        self.norm_adv, self.clip_vloss, self.extrinsic = bool(norm_adv), bool(clip_vloss), float(extrinsic)

    def prepare(self, rollout: Rollout, agent) -> None:
        r = self.extrinsic * rollout.rewards + rollout.intrinsic
        # Semi-Markov steps (env.duration_key): gamma is per unit of task time.
        gamma = self.gamma if rollout.durations is None else torch.pow(self.gamma, rollout.durations)
        adv, ret = gae(r, rollout.values, rollout.terminated, rollout.truncated, rollout.valid,
                       gamma, self.lam)
        rollout.extras["advantages"], rollout.extras["returns"] = adv, ret

    def loss(self, batch: Batch, outputs) -> tuple[torch.Tensor, Metrics]:
        m = batch.mask
        count, every = mask_count(m), batch.all_valid  # one denominator for every mean of the minibatch

        def mean(x: torch.Tensor) -> torch.Tensor:
            return masked_mean(x, m, count, every)

        newlogp, entropy = log_prob_entropy(outputs, batch.actions)
        adv = batch.advantages
        if self.norm_adv:
            adv_mean = mean(adv)
            std = mean((adv - adv_mean) ** 2).sqrt()
            adv = (adv - adv_mean) / (std + 1e-8)
        logratio = newlogp - batch.logprobs
        ratio = logratio.exp()
        if self.algo == "ppo":
            pg = torch.maximum(-adv * ratio, -adv * ratio.clamp(1 - self.clip_coef, 1 + self.clip_coef))
        else:
            pg = -adv * newlogp
        pg_loss = mean(pg)
        v = outputs.value
        if self.clip_vloss and self.algo == "ppo":
            v_clip = batch.values + (v - batch.values).clamp(-self.clip_coef, self.clip_coef)
            v_err = torch.maximum((v - batch.returns) ** 2, (v_clip - batch.returns) ** 2)
            v_loss = 0.5 * mean(v_err)
        else:
            v_loss = 0.5 * mean((v - batch.returns) ** 2)
        ent = mean(entropy)
        loss = pg_loss + self.vf_coef * v_loss - self.ent_coef * ent
        with torch.no_grad():
            metrics = {"pg_loss": pg_loss.detach(), "v_loss": v_loss.detach(), "entropy": ent.detach(),
                       "approx_kl": mean((ratio - 1) - logratio),
                       "clipfrac": mean(((ratio - 1).abs() > self.clip_coef).float())}
        return loss, metrics
