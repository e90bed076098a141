"""Rollout storage on the training device, and minibatches of it (flat, or sequences for BPTT).

Layout: time-major ``(T, N, ...)`` for T steps of N envs. ``obs``, ``first``, ``states`` and ``values``
have T+1 rows: the last row is the observation after the rollout (for bootstrapping and for objectives
that predict the next observation).

``durations`` (optional, (T, N)) is each step's duration in task time (semi-Markov envs report it in
``info``): the reward objective then discounts by ``gamma ** duration`` instead of ``gamma`` per step.

``valid`` is 0 for the reset steps of gymnasium's NEXT_STEP autoreset (the step after an episode ends
only starts the next episode: its action is ignored and its reward is 0): losses skip those transitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import torch
from gymnasium import spaces

Obs = torch.Tensor | dict[str, torch.Tensor]


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.zeros(1, dtype=dtype)).dtype


def _alloc_array(space: spaces.Space, lead: tuple[int, ...], device: torch.device) -> torch.Tensor:
    if space.shape is None or space.dtype is None:  # e.g. a Dict inside a Dict: Obs is one level deep
        raise TypeError(f"observation space {space} is not supported; use Box, Discrete, MultiBinary or "
                        "a Dict of those")
    return torch.zeros(*lead, *space.shape, dtype=_torch_dtype(space.dtype), device=device)


def alloc_obs(space: spaces.Space, lead: tuple[int, ...], device: torch.device) -> Obs:
    if isinstance(space, spaces.Dict):
        return {k: _alloc_array(s, lead, device) for k, s in space.spaces.items()}
    return _alloc_array(space, lead, device)


def obs_to_tensor(obs: np.ndarray | dict[str, np.ndarray], device: torch.device) -> Obs:
    """A batch of observations from the vector env -> tensors on ``device`` (one transfer per array)."""
    if isinstance(obs, dict):
        return {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in obs.items()}
    return torch.from_numpy(np.ascontiguousarray(obs)).to(device)


def index_obs(obs: Obs, *idx: int | slice | torch.Tensor) -> Obs:
    if isinstance(obs, dict):
        return {k: v[idx] for k, v in obs.items()}
    return obs[idx]


def set_obs(buf: Obs, t: int | torch.Tensor, value: Obs) -> None:
    """Write ``value`` into rows ``t`` of ``buf`` (a tensor or a dict of tensors, like ``value``)."""
    if isinstance(buf, dict):
        if not isinstance(value, dict):
            raise TypeError("set_obs: a dict buffer takes a dict of tensors")
        for k in buf:
            buf[k][t] = value[k]
    else:
        if isinstance(value, dict):
            raise TypeError("set_obs: a tensor buffer takes a tensor")
        buf[t] = value


@dataclass
class Rollout:
    """One rollout of T steps of N envs (see the module docstring for the layout)."""

    obs: Obs
    first: torch.Tensor
    states: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    valid: torch.Tensor
    intrinsic: torch.Tensor
    extras: dict[str, torch.Tensor] = field(default_factory=dict)
    durations: torch.Tensor | None = None  # (T, N) task time of each step; None = one unit per step

    @classmethod
    def allocate(cls, T: int, N: int, obs_space: spaces.Space, act_space: spaces.Space, state_size: int,
                 device: torch.device, durations: bool = False) -> Rollout:
        z = lambda *s, dt=torch.float32: torch.zeros(*s, dtype=dt, device=device)  # noqa: E731
        if isinstance(act_space, spaces.Discrete):
            actions = z(T, N, dt=torch.long)
        elif act_space.shape is not None:
            actions = z(T, N, *act_space.shape)
        else:
            raise TypeError(f"action space {act_space} is not supported; use Discrete or a Box")
        return cls(obs=alloc_obs(obs_space, (T + 1, N), device), first=z(T + 1, N, dt=torch.bool),
                   states=z(T + 1, N, state_size), actions=actions, logprobs=z(T, N), values=z(T + 1, N),
                   rewards=z(T, N), terminated=z(T, N), truncated=z(T, N), valid=z(T, N), intrinsic=z(T, N),
                   durations=z(T, N) if durations else None)

    @property
    def T(self) -> int:
        return self.rewards.shape[0]

    @property
    def N(self) -> int:
        return self.rewards.shape[1]

    @property
    def next_obs(self) -> Obs:
        """Observation after each step, (T, N, ...)."""
        return index_obs(self.obs, slice(1, None))

    def minibatches(self, num_minibatches: int, seq_len: int, generator: torch.Generator) -> Iterator[Batch]:
        """Yield :class:`Batch` es covering the rollout once, in random order. ``seq_len`` 1 gives the
        valid transitions, independently; larger values give sequences of that length for truncated
        BPTT (reset steps inside them are masked by ``Batch.mask``)."""
        T, N = self.T, self.N
        dev = self.rewards.device
        if seq_len == 1:  # independent transitions: only the valid ones (reset steps carry no loss)
            idx = torch.nonzero(self.valid.flatten() > 0).squeeze(1)
            idx = idx[torch.randperm(len(idx), generator=generator).to(dev)]
            for chunk in idx.tensor_split(min(num_minibatches, max(len(idx), 1))):
                if len(chunk):
                    batch = Batch(self, index=chunk[None])
                    batch.all_valid = True  # only valid transitions were drawn
                    yield batch
            return
        if T % seq_len:
            raise ValueError(f"train.num_steps={T} must be a multiple of train.bptt_len={seq_len}")
        n_seq = (T // seq_len) * N
        if num_minibatches > n_seq:
            raise ValueError(f"train.num_minibatches={num_minibatches} exceeds the {n_seq} sequences of a "
                             f"rollout (num_steps/bptt_len x num_envs)")
        perm = torch.randperm(n_seq, generator=generator).to(dev)
        steps = torch.arange(seq_len, device=dev)[:, None] * N  # (L, 1): one step later = N rows later
        for chunk in perm.tensor_split(num_minibatches):
            start = (chunk // N) * (seq_len * N) + chunk % N  # each sequence's first row in (T*N) order
            yield Batch(self, index=start[None, :] + steps)


class Batch:
    """A minibatch: sequences (L, B) of the rollout. Per-transition fields are flat (L*B, ...) in
    time-major order, matching :class:`agents.architectures.AgentOutput`; ``obs`` keeps (L, B, ...).

    Give the rows either as ``tt, nn_`` (time and env index, (L, B) each) or as ``index`` (L, B), the
    rows of the rollout flattened to (T*N) (``tt * N + nn_``): every field is then one ``index_select``
    of a flat view (the same values as indexing by (tt, nn_), cheaper)."""

    def __init__(self, rollout: Rollout, tt: torch.Tensor | None = None, nn_: torch.Tensor | None = None,
                 index: torch.Tensor | None = None):
        if index is None:
            if tt is None or nn_ is None:
                raise TypeError("Batch: give tt and nn_, or index")
            index = tt * rollout.N + nn_
        self.rollout, self.index = rollout, index
        self.all_valid = False  # True when every row is known to be valid (``mask`` all ones)
        self._tt, self._nn = tt, nn_
        self.seq_shape = tuple(index.shape)
        r, flat_index = rollout, index.flatten()
        flat = lambda x: x.flatten(0, 1).index_select(0, flat_index)  # noqa: E731  (rows < T*N: x[:T] too)
        seq = lambda x: flat(x).view(*self.seq_shape, *x.shape[2:])  # noqa: E731
        self.obs = {k: seq(v) for k, v in r.obs.items()} if isinstance(r.obs, dict) else seq(r.obs)
        self.first = seq(r.first)
        self.state0 = r.states.flatten(0, 1).index_select(0, index[0])
        self.actions = flat(r.actions)
        self.logprobs = flat(r.logprobs)
        self.values = flat(r.values)
        self.rewards = flat(r.rewards)
        self.intrinsic = flat(r.intrinsic)
        self.terminated = flat(r.terminated)
        self.mask = flat(r.valid)
        self.extras = {k: flat(v) for k, v in r.extras.items()}

    @property
    def tt(self) -> torch.Tensor:
        """The rollout step of each row, (L, B)."""
        if self._tt is None:
            self._tt = self.index // self.rollout.N
        return self._tt

    @property
    def nn(self) -> torch.Tensor:
        """The env of each row, (L, B)."""
        if self._nn is None:
            self._nn = self.index % self.rollout.N
        return self._nn

    def __getattr__(self, name: str):
        # extras added by objectives (advantages, returns, ...) read like fields
        extras = self.__dict__.get("extras", {})
        if name in extras:
            return extras[name]
        raise AttributeError(f"Batch has no field {name!r}; extras: {sorted(extras)}")

    @property
    def flat_obs(self) -> Obs:
        """Observations flattened to (L*B, ...)."""
        if isinstance(self.obs, dict):
            return {k: v.flatten(0, 1) for k, v in self.obs.items()}
        return self.obs.flatten(0, 1)

    @property
    def next_obs(self) -> Obs:
        """The observation after each transition, flat (L*B, ...)."""
        o = index_obs(self.rollout.obs, self.tt + 1, self.nn)
        if isinstance(o, dict):
            return {k: v.flatten(0, 1) for k, v in o.items()}
        return o.flatten(0, 1)


def masked_mean(x: torch.Tensor, mask: torch.Tensor, count: torch.Tensor | None = None,
                all_valid: bool = False) -> torch.Tensor:
    """Mean of ``x`` over the transitions where ``mask`` is 1. ``count``: ``mask_count(mask)`` when the
    caller already has it (several means over one mask). ``all_valid``: the mask is known to be all ones
    (e.g. :attr:`Batch.all_valid`), so the product with it is skipped: ``x * 1`` is ``x`` exactly, in the
    value and in its gradient, so the result is the same to the bit."""
    if count is None:
        count = mask_count(mask)
    return (x if all_valid else x * mask).sum() / count


def mask_count(mask: torch.Tensor) -> torch.Tensor:
    """The denominator of :func:`masked_mean`: how many transitions ``mask`` keeps (at least 1)."""
    return mask.sum().clamp(min=1.0)
