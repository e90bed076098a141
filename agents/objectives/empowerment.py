"""Empowerment as an objective: the variational lower bound of Mohamed & Rezende (2015), learned from
experience, used as intrinsic reward.

Empowerment E_n(s) = max_w I(A^n; S' | s) is the channel capacity from n-step action sequences to the
state n steps later. For any source w(a^n|s) and any planning decoder q(a^n|s, s'),

    I_w(A^n; S' | s) >= B(s) = H(w(.|s)) + E_{a~w, s'~p(.|s,a)} [log q(a|s, s')]             (1)

(Barber & Agakov 2003). The networks, as in Mohamed & Rezende (2015):

- the planning decoder q(a^n | s, s'): a softmax over all |A|^n sequences on a pair encoder of (s, s'),
  trained by maximum likelihood on n-step windows (s_t, a_t..a_{t+n-1}, s_{t+n}) of experience;
- the source w(a^n | s) = softmax_a u(s, a): for a fixed q the source that maximises (1) is
  w* = exp u* / Z with u*(s,a) = E[log q(a|s, s')] (their Sec. 3), so u (one output per sequence) is
  regressed onto log q(a|s, s') on the windows. The regression needs no samples from w: the agent's own
  windows serve (the trainer runs the agent's policy, not the source) as long as they cover the
  sequences. The targets come from the decoder *before* it trains on those windows (after, it has fit
  them and log q on them is inflated, which biases u upwards).
- the estimate psi(s) = H(w) + sum_a w(a|s) u'(s, a) - kappa * sqrt(sum_a w(a|s) (u - u')^2 / 2): the bound
  (1) at the source w with the decoder term log q(a|s, s'_a) replaced by a *second*, independent
  regression u' (own network, other half of the windows). Plugging u itself in would give log Z, which
  is biased upwards: the softmax favours the sequences whose u is overestimated (the bias double
  Q-learning removes, van Hasselt 2010). The last term subtracts ``pessimism`` (kappa) times the
  disagreement of the two regressions, an estimate of their fitting error: a lower confidence bound.

Why psi stays below the truth: B(s) <= I_w <= E_n(s) for *any* w and q (imperfect networks loosen the
bound, they cannot lift it), psi estimates B without the selection bias, and the pessimism term covers
the remaining fitting noise. psi starts at 0 bits (u = u' = -log |A|^n, w uniform). The tests check it
on EmpowermentGrid against the exact map. With noisy moves, a closed-loop behaviour policy biases
p(s'|s, a^n) slightly (its choices depend on the intermediate states); the bound is exact for
deterministic worlds.

Experience: the windows of each rollout, plus as many from a replay memory of ``replay`` windows. For
the first ``warmup`` env steps no reward is paid: the agent's policy stays exploratory and the memory
keeps a uniform (reservoir) sample of its windows; afterwards the memory is frozen (with ``warmup: 0``
it samples all rollouts). Without this, the estimate follows the data: the agent, driven by psi,
settles somewhere, the estimate grows where the data are, and the agent stays there; with it, the
estimate keeps its exploratory data wherever the agent goes.

Measured (10 x 10 room, n = 3, coords, 100k steps, seeds 0-6; ``tests/agents/objectives/test_empowerment.py``):
Spearman rho with the exact map 0.875-0.960, largest excess over it -0.19 to -0.46 bits (kappa 0.5;
with kappa 0 up to +0.07 bits, with kappa 1 one seed fell to rho 0.78), late steps in the top-10% cells
0.995-1.0.

Intrinsic reward of a transition = psi(s_{t+1}) in bits (the bound where the agent arrives), normalised
by running statistics. A policy-gradient term ('reward' with ``extrinsic: 0``) is added automatically
when the objective string has none. Needs a Discrete action space. Options: ``n`` (horizon, 3),
``hidden`` (head layers, [256]), ``intrinsic`` (reward weight, 1), ``normalize`` ('center'),
``pessimism`` (kappa, 0.5), ``replay`` (windows kept, 20000; 0: none), ``warmup`` (env steps before the
reward is paid, 30000), ``source_coef`` (weight of the u regressions, 1), ``max_sequences`` (refuse |A|^n
above this, 4096). Checkpoints carry the replay memory and the warmup count, so a resumed run continues
exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypedDict

import torch
from gymnasium import spaces
from torch import nn

from agents.architectures import Agent, AgentOutput
from agents.objectives._nets import (
    NORMALIZE,
    PairEncoder,
    RunningStats,
    as_agent,
    cat_obs,
    encode,
    flat_obs,
    head,
    normalise,
    obs_rows,
    own_encoder,
    per_transition,
    require_agent,
)
from agents.objectives.base import Metrics, Objective
from agents.rollout import Batch, Obs, Rollout, index_obs, masked_mean, set_obs

LN2 = math.log(2.0)


def _number(k: str, key: str, v: object, lo: float = 0.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not v >= lo:
        raise ValueError(f"{k}.{key}={v!r} must be a number >= {lo}")
    return float(v)


class _Memory(TypedDict):
    """The replay memory of windows (a plain dict in checkpoints): s_t, s_{t+n}, the action sequence's
    index and which of the two regressions learns from the window."""

    obs: Obs
    final: Obs
    seq: torch.Tensor
    half: torch.Tensor


class _Replayed(_Memory):
    """This rollout's replayed windows, with their decoder targets log q(a|s, s')."""

    logq: torch.Tensor


def _map(obs: Obs, fn: Callable[[torch.Tensor], torch.Tensor]) -> Obs:
    return {k: fn(v) for k, v in obs.items()} if isinstance(obs, dict) else fn(obs)


def _pad_final(obs: Obs, n: int, T: int) -> Obs:
    """s_{t+n} for every t < T, flat (T*N, ...); rows past the rollout repeat its last observation
    (those windows are never valid)."""
    def one(x: torch.Tensor) -> torch.Tensor:
        idx = torch.clamp(torch.arange(T, device=x.device) + n, max=T)
        return x[idx].flatten(0, 1)
    return _map(obs, one)


class EmpowermentObjective(Objective):
    """Variational empowerment (see the module docstring); ``estimate(obs)`` gives psi(s) in bits."""

    name = "empowerment"
    needs_policy = True
    # the warmup pays no reward: normalised advantages would turn value noise into a random drift of
    # the policy and spoil the exploratory windows the estimate learns from
    policy_defaults = {"norm_adv": False}
    # the learned map beside the exact one in the run folder (grid worlds with exact empowerment)
    trainer_hooks = ("agents.probes.intrinsic:EmpowermentMapHook",)

    def __init__(self, n: int = 3, hidden: list | None = None, intrinsic: float = 1.0,
                 normalize: str = "center", pessimism: float = 0.5, replay: int = 20000, warmup: int = 30000,
                 source_coef: float = 1.0, max_sequences: int = 4096):
        k = "objective.kwargs.empowerment"
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 12:
            raise ValueError(f"{k}.n={n!r} must be an integer in [1, 12] (the horizon in steps)")
        hidden = [256] if hidden is None else hidden
        if not isinstance(hidden, (list, tuple)) or not all(isinstance(v, int) and v > 0 for v in hidden):
            raise ValueError(f"{k}.hidden={hidden!r} must be a list of positive integers")
        if normalize not in NORMALIZE:
            raise ValueError(f"{k}.normalize={normalize!r}: choose one of {list(NORMALIZE)}")
        for key, v in (("replay", replay), ("warmup", warmup), ("max_sequences", max_sequences)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if key == "max_sequences" else 0):
                raise ValueError(f"{k}.{key}={v!r} must be an integer >= {1 if key == 'max_sequences' else 0}")
        self.n, self.hidden, self.normalize = n, [int(v) for v in hidden], normalize
        self.replay, self.warmup, self.max_sequences = replay, warmup, max_sequences
        self.intrinsic = _number(k, "intrinsic", intrinsic)
        self.pessimism = _number(k, "pessimism", pessimism)
        self.source_coef = _number(k, "source_coef", source_coef)
        self.stats = RunningStats()
        self.seen = 0  # valid transitions seen (for the warmup)
        self._agent: Agent | None = None
        self._memory: _Memory | None = None  # replay: obs, final obs, sequence index; filled in prepare
        self._filled = 0
        self._batch: _Replayed | None = None  # this rollout's replayed windows; drawn in prepare

    def build(self, agent: Agent) -> None:
        self._check_actions(agent)
        obs_space, cfg, aux = agent.observation_space, agent.cfg, agent.aux
        encoder = own_encoder(obs_space, cfg)
        aux["empowerment_encoder"] = encoder
        aux["empowerment_encoder2"] = own_encoder(obs_space, cfg)
        for key in ("empowerment_source", "empowerment_source2"):  # u and u', separate networks
            aux[key] = head(encoder.out_dim, self.hidden, self.K, out_gain=0.01,
                            out_bias=math.log(self.K - 1) if self.K > 1 else 0.0)  # u = -log K
        pair = PairEncoder(obs_space, cfg)
        aux["empowerment_pair"] = pair
        aux["empowerment_decoder"] = head(pair.out_dim, self.hidden, self.K)
        self.attach(agent)

    def attach(self, model: nn.Module) -> EmpowermentObjective:
        """Use the networks that :meth:`build` added to ``model`` (an :class:`Agent`, e.g. a trained one
        from ``agents.load_agent``) for :meth:`estimate` and the other read-outs."""
        agent = as_agent(model, self.name)
        self._check_actions(agent)
        if "empowerment_decoder" not in agent.aux:
            raise ValueError("attach: the agent has no empowerment networks (train it with objective "
                             "'empowerment')")
        self._agent = agent
        self._powers = self.n_actions ** torch.arange(self.n)
        self._gen = torch.Generator().manual_seed(torch.initial_seed() % 2**62 + 7)
        return self

    def _check_actions(self, agent: Agent) -> None:
        space = agent.action_space
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"objective 'empowerment' needs a Discrete action space (sequences are "
                             f"enumerated), got {space}")
        self.n_actions, self._start = int(space.n), int(space.start)
        self.K = self.n_actions ** self.n
        if self.K > self.max_sequences:
            raise ValueError(f"objective.kwargs.empowerment.n={self.n}: {self.n_actions}^{self.n} = {self.K} "
                             f"action sequences exceed max_sequences={self.max_sequences}; lower n or raise "
                             "max_sequences")

    # -- the networks -------------------------------------------------------------------------------

    def _u(self, obs: Obs) -> tuple[torch.Tensor, torch.Tensor]:
        """(u(s, .), u'(s, .)), each (B, K), in nats (<= 0)."""
        agent = require_agent(self._agent, self.name)
        aux, space = agent.aux, agent.observation_space
        z = encode(aux["empowerment_encoder"], obs, space)
        z2 = encode(aux["empowerment_encoder2"], obs, space)
        return (-nn.functional.softplus(aux["empowerment_source"](z)),
                -nn.functional.softplus(aux["empowerment_source2"](z2)))

    def _psi(self, u: torch.Tensor, u2: torch.Tensor) -> torch.Tensor:
        """H(w) + E_w[u'] - kappa * sqrt(E_w[(u - u')^2] / 2) with w = softmax(u), in nats."""
        logw = torch.log_softmax(u, -1)
        w = logw.exp()
        psi = (w * (u2 - logw)).sum(-1)
        if self.pessimism > 0:
            psi = psi - self.pessimism * ((w * (u - u2) ** 2).sum(-1) / 2).sqrt()
        return psi

    def source_log_probs(self, obs: Obs) -> torch.Tensor:
        """log w(a^n | s) of the source, (B, |A|^n); sequence index sum_k a_k |A|^k."""
        return torch.log_softmax(self._u(obs)[0], -1)

    def decoder_log_probs(self, obs: Obs, final_obs: Obs) -> torch.Tensor:
        """log q(a^n | s, s'), (B, |A|^n)."""
        aux = require_agent(self._agent, self.name).aux
        return torch.log_softmax(aux["empowerment_decoder"](aux["empowerment_pair"](obs, final_obs)), -1)

    @torch.no_grad()
    def estimate(self, obs: Obs) -> torch.Tensor:
        """psi(s): the learned n-step empowerment estimate in bits, (B,)."""
        return self._psi(*self._u(obs)) / LN2

    @torch.no_grad()
    def log_partition(self, obs: Obs) -> torch.Tensor:
        """log2 sum_a exp u(s, a): the closed-form bound at the optimal source if u were exact, biased
        upwards by the noise in u (bits; for comparison with :meth:`estimate`)."""
        return torch.logsumexp(self._u(obs)[0], -1) / LN2

    def sequence_index(self, actions: torch.Tensor) -> torch.Tensor:
        """(..., n) actions -> index of the sequence, sum_k a_k |A|^k."""
        return (actions.long() * self._powers.to(actions.device)).sum(-1)

    # -- the interface ------------------------------------------------------------------------------

    def prepare(self, rollout: Rollout, agent: nn.Module) -> None:
        """Mark the n-step windows that lie inside one episode, store their sequence index and decoder
        targets, add them to the replay memory and draw this rollout's replay windows."""
        self._agent = as_agent(agent, self.name)
        T, N, n = rollout.T, rollout.N, self.n
        if T < n:
            raise ValueError(f"objective.kwargs.empowerment.n={n} needs train.num_steps >= n, got {T}")
        valid = rollout.valid > 0
        done = (rollout.terminated + rollout.truncated) > 0
        acts = rollout.actions.long() - self._start
        ok = torch.zeros_like(valid)
        seq = torch.zeros_like(acts)
        for t in range(T - n + 1):
            good = valid[t:t + n].all(0)
            if n > 1:  # the episode may end on the window's last step (s_{t+n} is its final obs)
                good &= ~done[t:t + n - 1].any(0)
            ok[t] = good
            seq[t] = self.sequence_index(acts[t:t + n].transpose(0, 1))
        obs, final = obs_rows(flat_obs(rollout.obs), 0, T * N), _pad_final(rollout.obs, n, T)
        ok, seq = ok.flatten(), seq.flatten()
        rollout.extras["emp_ok"], rollout.extras["emp_seq"] = ok.float().view(T, N), seq.view(T, N)
        rollout.extras["emp_logq"] = self._targets(obs, final, seq).view(T, N)
        self._batch = None
        if self.replay > 0:
            if self.warmup == 0 or self.seen <= self.warmup:  # with a warmup: its exploratory windows
                idx = torch.nonzero(ok).squeeze(1)
                self._remember(index_obs(obs, idx), index_obs(final, idx), seq[idx], idx % 2)
            m = self._memory
            if m is not None and self._filled > 0:  # this rollout's replayed windows
                pick = torch.randint(0, self._filled, (T * N,), generator=self._gen).to(seq.device)
                b_obs, b_final, b_seq = index_obs(m["obs"], pick), index_obs(m["final"], pick), m["seq"][pick]
                self._batch = {"obs": b_obs, "final": b_final, "seq": b_seq, "half": m["half"][pick],
                               "logq": self._targets(b_obs, b_final, b_seq)}

    @torch.no_grad()
    def _targets(self, obs: Obs, final: Obs, seq: torch.Tensor) -> torch.Tensor:
        """log q(a|s, s') of flat windows with the current decoder, in chunks."""
        out = []
        for i in range(0, len(seq), 4096):
            j = min(i + 4096, len(seq))
            lq = self.decoder_log_probs(obs_rows(obs, i, j), obs_rows(final, i, j))
            out.append(lq.gather(1, seq[i:j, None]).squeeze(1))
        return torch.cat(out) if out else torch.zeros(0, device=seq.device)

    def _remember(self, obs: Obs, final: Obs, seq: torch.Tensor, half: torch.Tensor) -> None:
        """Reservoir sampling: every window seen so far is in the memory with the same probability.
        ``half`` says which of the two regressions learns from each window (kept with it)."""
        if self._memory is None:
            def alloc(x: torch.Tensor) -> torch.Tensor:
                return torch.zeros((self.replay, *x.shape[1:]), dtype=x.dtype, device=x.device)
            self._memory = {"obs": _map(obs, alloc), "final": _map(final, alloc), "seq": alloc(seq),
                            "half": alloc(half)}
            self._count = 0
        m, k = self._memory, len(seq)
        if k == 0:
            return
        pos = torch.arange(self._count, self._count + k)
        slot = torch.where(pos < self.replay, pos,
                           (torch.rand(k, generator=self._gen) * (pos + 1).double()).long())
        keep = slot < self.replay
        slot, src = slot[keep].to(seq.device), torch.nonzero(keep).squeeze(1).to(seq.device)
        set_obs(m["obs"], slot, index_obs(obs, src))
        set_obs(m["final"], slot, index_obs(final, src))
        m["seq"][slot] = seq[src]
        m["half"][slot] = half[src]
        self._count += k
        self._filled = min(self._count, self.replay)

    @torch.no_grad()
    def intrinsic_reward(self, rollout: Rollout) -> torch.Tensor | None:
        if self.intrinsic <= 0:
            return None
        r = per_transition(lambda o, a, o2: self.estimate(o2), rollout)
        self.seen += int(rollout.valid.sum())
        r = self.intrinsic * normalise(r, rollout.valid, self.stats, self.normalize)
        return r if self.seen > self.warmup else torch.zeros_like(r)

    def loss(self, batch: Batch, outputs: AgentOutput) -> tuple[torch.Tensor, Metrics]:
        r = batch.rollout
        obs = batch.flat_obs
        final = flat_obs(index_obs(r.obs, (batch.tt + self.n).clamp(max=r.T), batch.nn))
        seq, logq_t, ok = batch.emp_seq.long(), batch.emp_logq, batch.emp_ok * batch.mask
        slot = (batch.tt * r.N + batch.nn).flatten()  # the window's place in the rollout
        half = slot % 2  # which regression learns from a window: fixed, so u and u' see disjoint data
        b = self._batch
        if b is not None:  # as many replayed windows, fixed per transition slot (same in every call)
            obs, final = cat_obs(obs, index_obs(b["obs"], slot)), cat_obs(final, index_obs(b["final"], slot))
            seq, logq_t = torch.cat([seq, b["seq"][slot]]), torch.cat([logq_t, b["logq"][slot]])
            ok, half = torch.cat([ok, torch.ones_like(ok)]), torch.cat([half, b["half"][slot]])
        logq = self.decoder_log_probs(obs, final).gather(1, seq[:, None]).squeeze(1)
        decoder_loss = -masked_mean(logq, ok)
        u, u2 = self._u(obs)
        err = (u.gather(1, seq[:, None]).squeeze(1) - logq_t) ** 2
        err2 = (u2.gather(1, seq[:, None]).squeeze(1) - logq_t) ** 2
        source_loss = masked_mean(err, ok * half) + masked_mean(err2, ok * (1 - half))
        with torch.no_grad():
            metrics = {"decoder_nll": decoder_loss, "source_mse": source_loss,
                       "bound_bits": masked_mean(self._psi(u, u2) / LN2, ok)}
        return decoder_loss + self.source_coef * source_loss, metrics

    def state_dict(self) -> dict:
        """Everything a resumed run needs to continue exactly: running statistics, the warmup count, the
        replay memory and its sampling generator."""
        out = {"stats": self.stats.state_dict(), "seen": self.seen}
        if getattr(self, "_gen", None) is not None:
            out["generator"] = self._gen.get_state()
        if self._memory is not None:
            out["memory"] = self._memory
            out["memory_count"] = self._count
        return out

    def load_state_dict(self, state: dict) -> None:
        self.stats.load_state_dict(state.get("stats", {}))
        self.seen = int(state.get("seen", 0))
        if "generator" in state and getattr(self, "_gen", None) is not None:
            self._gen.set_state(state["generator"])
        self._memory = state.get("memory")
        self._count = int(state.get("memory_count", 0))
        self._filled = min(self._count, self.replay)
