"""Predictive coding as an objective: predict what comes next, and use the surprise.

``predictive``: a forward model ``f(z(s), a) -> y(s')`` predicts a *target embedding* of the next
observation from the current latent ``z(s)`` and the action; the loss is the squared prediction error
(a description-length objective: what the model predicts need not be stored). Uses:

- alone, as representation learning without reward (``--objective predictive``; with the default
  ``encoder: shared`` the error trains the agent's own encoder);
- beside reward, as an auxiliary loss (``--objective reward+0.1*predictive``);
- as intrinsic motivation: ``intrinsic > 0`` adds the prediction error as a reward (Pathak et al. 2017;
  Burda et al. 2019a). ``curiosity`` is this with ``intrinsic: 1`` and its own encoder.

The target cannot collapse (a learned target predicted by a learned model could shrink to a constant,
which is trivially predictable). ``target`` chooses it:

- ``random`` (default): a *fixed* randomly initialised encoder of the agent's architecture followed by
  a fixed Gaussian projection to ``target_dim`` features (Burda et al. 2019a found random features
  competitive). Fixed, so it cannot move; random, so different observations get different targets.
- ``inverse``: an encoder trained by inverse dynamics, predicting a from (s, s') (ICM, Pathak et al.
  2017); the forward model predicts it with a stop-gradient, so only the inverse loss shapes it. It
  keeps what the agent's actions influence, so the content of a "noisy TV" matters less (measured: 41%
  of late steps on the TV action instead of 78%; a random agent: 17%).
- ``obs``: the next observation itself (preprocessed and flattened; for small observations).

Known failure, reproduced on ``EmpowermentGrid(noisy_tv='action')``: with the ``random`` or ``obs``
target, an unpredictable source keeps the error high forever and draws the agent (the "noisy TV").

``rnd``: random network distillation (Burda et al. 2019b): a predictor learns to match a fixed random
network on the observations seen; the error on s' is the bonus. No dynamics, so a noisy source is only
novel until its distribution has been seen (measured: 4.9% of late steps on the TV action).

Rewards are per transition, non-episodic, computed once per rollout with the model before it learns
from that rollout, then normalised by running statistics (``normalize``).
"""

from __future__ import annotations

import torch
from gymnasium import spaces
from torch import nn

from agents.architectures import Agent, AgentOutput
from agents.objectives._nets import (
    NORMALIZE,
    RandomTarget,
    RunningStats,
    action_dim,
    action_features,
    as_agent,
    cat_obs,
    encode,
    flat_features,
    head,
    normalise,
    obs_dim,
    own_encoder,
    per_transition,
    require_agent,
)
from agents.objectives.base import Metrics, Objective
from agents.rollout import Batch, Obs, Rollout, masked_mean

TARGETS = ("random", "inverse", "obs")
ENCODERS = ("shared", "own")


def _check(name: str, key: str, value, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"objective.kwargs.{name}.{key}={value!r}: choose one of {list(allowed)}")


def _check_number(name: str, key: str, value, lo: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= lo:
        raise ValueError(f"objective.kwargs.{name}.{key}={value!r} must be a number >= {lo}")
    return float(value)


def _check_sizes(name: str, key: str, value) -> list[int]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in value):
        raise ValueError(f"objective.kwargs.{name}.{key}={value!r} must be a list of positive integers")
    return [int(v) for v in value]


class PredictiveObjective(Objective):
    """Forward-model prediction error as a loss and, optionally, as an intrinsic reward.

    Options: ``target`` (random | inverse | obs), ``encoder`` (shared: the agent's policy encoder gives
    z(s); own: a separate encoder of the same architecture), ``hidden`` (forward model layers, [256]),
    ``intrinsic`` (weight of the prediction error as reward; 0 = loss only), ``normalize`` (none | std |
    center: how the reward is scaled by running statistics), ``inverse_coef`` (weight of the inverse
    dynamics loss for ``target: inverse``), ``target_dim`` (width of the random target, 64).
    """

    name = "predictive"

    def __init__(self, target: str = "random", encoder: str = "shared", hidden: list | None = None,
                 intrinsic: float = 0.0, normalize: str = "std", inverse_coef: float = 1.0,
                 target_dim: int = 64):
        n = self.name
        _check(n, "target", target, TARGETS)
        _check(n, "encoder", encoder, ENCODERS)
        _check(n, "normalize", normalize, NORMALIZE)
        self.target, self.encoder, self.normalize = target, encoder, normalize
        self.hidden = _check_sizes(n, "hidden", [256] if hidden is None else hidden)
        self.intrinsic = _check_number(n, "intrinsic", intrinsic)
        self.inverse_coef = _check_number(n, "inverse_coef", inverse_coef)
        self.target_dim = _check_sizes(n, "target_dim", [target_dim])[0]
        self.stats = RunningStats()
        self._agent: Agent | None = None

    @property
    def needs_policy(self) -> bool:
        """True when this objective rewards the agent (a policy-gradient term must then maximise it)."""
        return self.intrinsic > 0

    def _key(self, part: str) -> str:
        return f"{self.name}_{part}"

    def build(self, agent: Agent) -> None:
        self._agent = agent
        space, cfg, aux = agent.observation_space, agent.cfg, agent.aux
        if self.encoder == "own":
            encoder = own_encoder(space, cfg)
            aux[self._key("encoder")] = encoder
            z_dim = encoder.out_dim
        else:
            z_dim = agent.encoder.out_dim
        if self.target == "random":
            aux[self._key("target")] = RandomTarget(space, cfg, self.target_dim)
            y_dim = self.target_dim
        elif self.target == "inverse":
            phi = own_encoder(space, cfg)
            aux[self._key("phi")] = phi
            y_dim = phi.out_dim
            aux[self._key("inverse")] = head(2 * y_dim, self.hidden, action_dim(agent.action_space))
        else:
            y_dim = obs_dim(space)
        aux[self._key("forward")] = head(z_dim + action_dim(agent.action_space), self.hidden, y_dim)

    def attach(self, model: nn.Module) -> PredictiveObjective:
        """Use the networks :meth:`build` added to ``model`` (an :class:`Agent`, e.g. a trained one) for
        :meth:`bonus`."""
        agent = as_agent(model, self.name)
        if self._key("forward") not in agent.aux:
            raise ValueError(f"attach: the agent has no {self.name!r} networks")
        self._agent = agent
        return self

    # -- the pieces ---------------------------------------------------------------------------------

    def _latent(self, obs: Obs, features: torch.Tensor | None = None) -> torch.Tensor:
        agent = require_agent(self._agent, self.name)
        if self.encoder == "own":
            return encode(agent.aux[self._key("encoder")], obs, agent.observation_space)
        return features if features is not None else agent.encode(obs)

    def _target(self, next_obs: Obs) -> torch.Tensor:
        agent = require_agent(self._agent, self.name)
        space = agent.observation_space
        if self.target == "random":
            return agent.aux[self._key("target")](next_obs)
        if self.target == "inverse":
            return encode(agent.aux[self._key("phi")], next_obs, space).detach()
        return flat_features(next_obs, space)

    def _errors(self, obs: Obs, actions: torch.Tensor, next_obs: Obs,
                features: torch.Tensor | None = None) -> torch.Tensor:
        """Per-transition squared prediction error (mean over target dimensions)."""
        agent = require_agent(self._agent, self.name)
        z = self._latent(obs, features)
        a = action_features(actions, agent.action_space)
        pred = agent.aux[self._key("forward")](torch.cat([z, a], -1))
        return ((pred - self._target(next_obs)) ** 2).mean(-1)

    # -- the interface ------------------------------------------------------------------------------

    def prepare(self, rollout: Rollout, agent: nn.Module) -> None:
        self._agent = as_agent(agent, self.name)

    @torch.no_grad()
    def bonus(self, obs: Obs, actions: torch.Tensor, next_obs: Obs) -> torch.Tensor:
        """Raw prediction error of transitions (flat batches), before any scaling: the curiosity."""
        return self._errors(obs, actions, next_obs)

    @torch.no_grad()
    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor | None:
        if self.intrinsic <= 0:
            return None
        r = per_transition(self._errors, rollout)
        return self.intrinsic * normalise(r, rollout.valid, self.stats, self.normalize)

    def loss(self, batch: Batch, outputs: AgentOutput) -> tuple[torch.Tensor, Metrics]:
        m = batch.mask
        feats = outputs.features if self.encoder == "shared" else None
        err = self._errors(batch.flat_obs, batch.actions, batch.next_obs, feats)
        loss = masked_mean(err, m)
        metrics: Metrics = {"pred_error": loss.detach()}
        if self.target == "inverse":
            agent = require_agent(self._agent, self.name)
            space = agent.observation_space
            phi = agent.aux[self._key("phi")]
            both = encode(phi, cat_obs(batch.flat_obs, batch.next_obs), space)
            b = both.shape[0] // 2
            out = agent.aux[self._key("inverse")](torch.cat([both[:b], both[b:]], -1))
            inv = _action_nll(out, batch.actions, agent.action_space)
            inv_loss = masked_mean(inv, m)
            loss = loss + self.inverse_coef * inv_loss
            metrics["inverse_loss"] = inv_loss.detach()
        return loss, metrics

    def state_dict(self) -> dict:
        return {"stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state.get("stats", {}))


class CuriosityObjective(PredictiveObjective):
    """Prediction-error curiosity: :class:`PredictiveObjective` with ``intrinsic: 1``, its own encoder
    (so the policy's features are not shaped by the forward model) and centred rewards by default
    (familiar transitions then pay less than unseen ones: the optimism that on-policy curiosity needs)."""

    name = "curiosity"

    def __init__(self, target: str = "random", encoder: str = "own", hidden: list | None = None,
                 intrinsic: float = 1.0, normalize: str = "center", inverse_coef: float = 1.0,
                 target_dim: int = 64):
        super().__init__(target, encoder, hidden, intrinsic, normalize, inverse_coef, target_dim)


class RNDObjective(Objective):
    """Random network distillation: bonus = || g(s') - f(s') ||^2 with f a fixed random encoder of the
    agent's architecture (and projection) and g a trained one plus a head. Options: ``hidden`` (g's head,
    [256]), ``intrinsic`` (reward weight, 1), ``normalize`` ('std'), ``target_dim`` (64)."""

    name = "rnd"

    def __init__(self, hidden: list | None = None, intrinsic: float = 1.0, normalize: str = "std",
                 target_dim: int = 64):
        _check(self.name, "normalize", normalize, NORMALIZE)
        self.target_dim = _check_sizes(self.name, "target_dim", [target_dim])[0]
        self.hidden = _check_sizes(self.name, "hidden", [256] if hidden is None else hidden)
        self.intrinsic = _check_number(self.name, "intrinsic", intrinsic)
        self.normalize = normalize
        self.stats = RunningStats()
        self._agent: Agent | None = None

    @property
    def needs_policy(self) -> bool:
        return self.intrinsic > 0

    def build(self, agent: Agent) -> None:
        self._agent = agent
        space, cfg = agent.observation_space, agent.cfg
        agent.aux["rnd_target"] = RandomTarget(space, cfg, self.target_dim)
        encoder = own_encoder(space, cfg)
        agent.aux["rnd_encoder"] = encoder
        agent.aux["rnd_head"] = head(encoder.out_dim, self.hidden, self.target_dim)

    def attach(self, model: nn.Module) -> RNDObjective:
        """Use the networks :meth:`build` added to ``model`` (an :class:`Agent`) for :meth:`bonus`."""
        agent = as_agent(model, self.name)
        if "rnd_head" not in agent.aux:
            raise ValueError("attach: the agent has no 'rnd' networks")
        self._agent = agent
        return self

    def _errors(self, obs: Obs) -> torch.Tensor:
        agent = require_agent(self._agent, self.name)
        space = agent.observation_space
        y = agent.aux["rnd_target"](obs)
        pred = agent.aux["rnd_head"](encode(agent.aux["rnd_encoder"], obs, space))
        return ((pred - y) ** 2).mean(-1)

    def prepare(self, rollout: Rollout, agent: nn.Module) -> None:
        self._agent = as_agent(agent, self.name)

    @torch.no_grad()
    def bonus(self, obs: Obs) -> torch.Tensor:
        """Raw distillation error of observations (a flat batch)."""
        return self._errors(obs)

    @torch.no_grad()
    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor | None:
        if self.intrinsic <= 0:
            return None
        r = per_transition(lambda o, a, o2: self._errors(o2), rollout)
        return self.intrinsic * normalise(r, rollout.valid, self.stats, self.normalize)

    def loss(self, batch: Batch, outputs: AgentOutput) -> tuple[torch.Tensor, Metrics]:
        loss = masked_mean(self._errors(batch.next_obs), batch.mask)
        return loss, {"rnd_error": loss.detach()}

    def state_dict(self) -> dict:
        return {"stats": self.stats.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state.get("stats", {}))


# --- helpers -------------------------------------------------------------------------------------------


def _action_nll(out: torch.Tensor, actions: torch.Tensor, space: spaces.Space) -> torch.Tensor:
    """Per-sample inverse-dynamics loss: cross-entropy (Discrete) or squared error (Box)."""

    if isinstance(space, spaces.Discrete):
        return nn.functional.cross_entropy(out, actions.long() - int(space.start), reduction="none")
    return ((out - actions.float().reshape(out.shape)) ** 2).mean(-1)


__all__ = ["CuriosityObjective", "PredictiveObjective", "RNDObjective", "TARGETS"]
