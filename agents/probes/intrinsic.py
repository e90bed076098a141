"""Measure intrinsically motivated agents on the grid worlds: where they go (visits, coverage, time on a
noisy TV) and what they learned (the empowerment estimate beside the exact map).

- :class:`VisitRecorder`: a trainer hook (:mod:`agents.hooks`) that keeps the cell of every observation
  the agent reached and every action it took (``agents.experiments.intrinsic.train_and_record`` trains
  with one).
- :func:`learned_empowerment_map`, :func:`exact_bound_map`: the learned estimate psi(s) of every free
  cell, and the variational bound of the learned source and decoder evaluated exactly with the true
  (deterministic) dynamics, for comparison with ``env.unwrapped.true_empowerment(n)``.
- :func:`save_empowerment_comparison` (written by :class:`EmpowermentMapHook` after training with
  ``--objective empowerment``), :func:`plot_empowerment_maps`, :func:`plot_coverage`: figures, written
  atomically.
"""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.config import Config
from agents.hooks import TrainerHook
from agents.rollout import Rollout
from brainset_envs.core.files import atomic_write_bytes

# --- grid observations ----------------------------------------------------------------------------------


def grid_core(env: gym.Env) -> Any:
    """The EmpowermentGrid core behind ``env`` (raises for other envs)."""
    core = getattr(env.unwrapped, "core", None)
    if core is None or not hasattr(core, "grid") or not hasattr(core, "observe"):
        raise ValueError(f"{env.spec.id if env.spec else env}: not a grid world with a core (EmpowermentGrid)")
    return core


def cell_observations(env: gym.Env, cells: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(cells, observations) with the agent in each of ``cells`` (default: every free cell that is not
    a box), boxes at their start, TV off; observations batch-first as the env gives them."""
    core = grid_core(env)
    lay = core.layout
    if cells is None:
        cells = np.setdiff1d(lay.free_cells, list(lay.boxes))
    cells = np.asarray(cells, np.intp)
    state = core.new_state(len(cells))
    core.reset(state, None, np.random.default_rng(0))
    state["cell"][:] = cells
    return cells, core.observe(state)


def cell_decoder(env: gym.Env) -> Callable[[torch.Tensor], torch.Tensor]:
    """Observation tensor (..., D) -> the agent's cell index (...), for 'onehot' and 'coords'."""
    core = grid_core(env)
    hw, h, w = core.grid.n_cells, core.layout.h, core.layout.w
    if core.observation == "onehot":
        return lambda obs: obs[..., :hw].argmax(-1)
    if core.observation == "coords":
        return lambda obs: ((obs[..., 0] * max(h - 1, 1)).round() * w
                            + (obs[..., 1] * max(w - 1, 1)).round()).long()
    raise ValueError(f"observation={core.observation!r}: cells can be decoded from 'onehot' or 'coords'")


# --- recording visits through the trainer ------------------------------------------------------------------


class VisitRecorder(TrainerHook):
    """A trainer hook that records the decoded cell of every observation and every action of every
    rollout (it reads the rollout buffer only: the run is the same with or without it)."""

    def __init__(self, decode: Callable[[torch.Tensor], torch.Tensor]):
        self.decode = decode
        self.first: np.ndarray | None = None
        self.cells: list[np.ndarray] = []  # per rollout (T, N): cell after each step
        self.valid: list[np.ndarray] = []
        self.actions: list[np.ndarray] = []

    @torch.no_grad()
    def on_rollout(self, rollout: Rollout) -> None:
        if not isinstance(rollout.obs, torch.Tensor):
            raise TypeError("VisitRecorder needs array observations (an EmpowermentGrid observation), got a dict")
        cells = self.decode(rollout.obs).cpu().numpy()
        if self.first is None:
            self.first = cells[0]
        self.cells.append(cells[1:].copy())
        self.valid.append(rollout.valid.cpu().numpy() > 0)
        self.actions.append(rollout.actions.cpu().numpy().copy())  # the buffer is reused

    def action_trajectories(self) -> np.ndarray:
        """(N, steps) actions of each env (the reset steps' actions, which the env ignored, included)."""
        return np.concatenate(self.actions, 0).T

    def trajectories(self) -> np.ndarray:
        """(N, steps + 1) cells of each env: its first cell, then the cell after every step (reset steps
        keep the episode's last cell, so use with one episode per env)."""
        if self.first is None:
            raise RuntimeError("no rollout recorded yet: train with this recorder first")
        cells, valid = np.concatenate(self.cells, 0), np.concatenate(self.valid, 0)
        out = np.concatenate([self.first[None], cells], 0)
        for t in range(1, len(out)):  # reset steps: carry the previous cell
            out[t] = np.where(valid[t - 1], out[t], out[t - 1])
        return out.T


# --- the empowerment estimate against the exact map --------------------------------------------------------


def _to_tensor(obs: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(obs), device=device)


def learned_empowerment_map(objective, env: gym.Env) -> np.ndarray:
    """(h, w) map of the learned estimate psi(s) in bits (NaN on blocked cells)."""
    core = grid_core(env)
    cells, obs = cell_observations(env)
    dev = next(objective._agent.parameters()).device
    out = np.full(core.grid.n_cells, np.nan)
    out[cells] = objective.estimate(_to_tensor(obs, dev)).cpu().numpy()
    return out.reshape(core.layout.h, core.layout.w)


@torch.no_grad()
def exact_bound_map(objective, env: gym.Env) -> np.ndarray:
    """(h, w) map of H(w) + E_w[log2 q(a|s, s'_a)] for the learned source w and decoder q, summed over
    all |A|^n sequences with the true deterministic moves (no boxes): a lower bound on the true
    empowerment whatever the networks learned."""
    core = grid_core(env)
    if core.noise > 0 or core.n_boxes:
        raise ValueError("exact_bound_map needs deterministic moves and no boxes")
    cells, obs = cell_observations(env)
    dev = next(objective._agent.parameters()).device
    n, A = objective.n, objective.n_actions
    seqs = np.array(list(itertools.product(range(A), repeat=n)))
    idx = torch.as_tensor((seqs * A ** np.arange(n)).sum(1), device=dev)
    out = np.full(core.grid.n_cells, np.nan)
    for i, c in enumerate(cells):
        end = np.full(len(seqs), c)
        for k in range(n):
            end = core.grid.next[end, seqs[:, k]]
        _, end_obs = cell_observations(env, end)
        s = _to_tensor(np.repeat(obs[i:i + 1], len(seqs), 0), dev)
        logw = objective.source_log_probs(s[:1])[0][idx]
        logq = objective.decoder_log_probs(s, _to_tensor(end_obs, dev)).gather(1, idx[:, None]).squeeze(1)
        out[c] = float((logw.exp() * (logq - logw)).sum() / np.log(2.0))
    return out.reshape(core.layout.h, core.layout.w)


def plot_empowerment_maps(learned: np.ndarray, exact: np.ndarray, title: str = "", n: int | None = None):
    """A figure: the learned map, the exact map (same colour scale) and their difference."""
    import matplotlib  # deferred: matplotlib takes ~0.3 s to load; only figure writers need it

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: as above, and after choosing the Agg backend

    lo, hi = np.nanmin([learned, exact]), np.nanmax([learned, exact])
    fig, axes = plt.subplots(1, 3, figsize=(12.5, 4.0))
    h = f"{n}-step " if n else ""
    for ax, m, t in ((axes[0], learned, f"learned {h}estimate (bits)"), (axes[1], exact, f"exact {h}empowerment")):
        im = ax.imshow(np.ma.masked_invalid(m), vmin=lo, vmax=hi, cmap="viridis", interpolation="nearest")
        ax.set_title(t, fontsize=10)
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    d = learned - exact
    lim = max(0.1, float(np.nanmax(np.abs(d))))
    im = axes[2].imshow(np.ma.masked_invalid(d), vmin=-lim, vmax=lim, cmap="RdBu_r", interpolation="nearest")
    axes[2].set_title("learned - exact (bits)", fontsize=10)
    fig.colorbar(im, ax=axes[2], fraction=0.046, pad=0.04)
    for ax in axes:
        ax.set_facecolor((0.45, 0.45, 0.48))
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt  # deferred: matplotlib takes ~0.3 s to load; only figure writers need it

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def empowerment_comparison(objective, env: gym.Env) -> dict:
    """Learned and exact maps and the agreement statistics (Spearman rho over cells, largest excess)."""
    from scipy.stats import spearmanr  # deferred: scipy.stats takes ~0.7 s to load, for this statistic only

    learned = learned_empowerment_map(objective, env)
    exact = cast(Any, env.unwrapped).true_empowerment(objective.n)  # EmpowermentGrid's ground truth
    ok = np.isfinite(exact) & np.isfinite(learned)
    rho = float(spearmanr(learned[ok], exact[ok]).statistic)
    return {"n": objective.n, "learned": learned, "exact": exact, "spearman": rho,
            "max_excess_bits": float(np.max(learned[ok] - exact[ok])),
            "mean_abs_error_bits": float(np.mean(np.abs(learned[ok] - exact[ok])))}


def save_empowerment_comparison(objective, env_id: str, env_kwargs: dict, out_dir: str | Path,
                                stem: str = "empowerment_map", table: bool = True) -> Path | None:
    """Write ``<stem>.png`` (learned | exact | difference) and, with ``table``, ``<stem>.json`` into
    ``out_dir`` when the env has exact empowerment (EmpowermentGrid without boxes); returns the PNG path,
    or None for other envs."""
    env = gym.make(env_id, **(env_kwargs or {}))
    try:
        if not hasattr(env.unwrapped, "true_empowerment") or grid_core(env).n_boxes:
            return None
        c = empowerment_comparison(objective, env)
    finally:
        env.close()
    return write_empowerment_comparison(c, env_id, out_dir, stem, table)


class EmpowermentMapHook(TrainerHook):
    """After training with the empowerment objective (which asks for this hook in ``trainer_hooks``):
    :func:`save_empowerment_comparison` of the trained estimate into the run folder, i.e.
    ``empowerment_map.png`` (learned | exact | difference) and ``empowerment_map.json``, on grid worlds
    with exact empowerment; nothing for other envs or runs without a folder."""

    def __init__(self, objective):
        self.objective = objective  # an EmpowermentObjective (the trainer passes its own term)

    def on_train_end(self, agent: nn.Module, cfg: Config, run_dir: Path | None) -> None:
        if run_dir is not None:
            save_empowerment_comparison(self.objective.attach(agent), cfg.env.id, cfg.env.kwargs, run_dir)


def _finite_or_none(v: np.ndarray) -> list:
    """``v`` as nested lists with NaN and inf as None (JSON null)."""
    o = v.astype(object)
    o[~np.isfinite(v)] = None
    return o.tolist()


def write_empowerment_comparison(c: dict, env_id: str, out_dir: str | Path, stem: str = "empowerment_map",
                                 table: bool = True) -> Path:
    """Write a computed :func:`empowerment_comparison` as ``<stem>.png`` (and ``<stem>.json``)."""
    out = Path(out_dir)
    title = (f"{env_id}: Spearman rho {c['spearman']:.3f}, largest excess {c['max_excess_bits']:+.3f} bits, "
             f"mean |error| {c['mean_abs_error_bits']:.3f} bits")
    path = save_figure(plot_empowerment_maps(c["learned"], c["exact"], title, c["n"]), out / f"{stem}.png")
    if table:
        rows = {k: (_finite_or_none(v) if isinstance(v, np.ndarray) else v) for k, v in c.items()}
        atomic_write_bytes(out / f"{stem}.json", json.dumps(rows).encode())
    return path


@torch.no_grad()
def late_occupancy(agent, env_id: str, env_kwargs: dict, mask: np.ndarray, steps: int, late_from: int,
                   num_envs: int = 16, seed: int = 0, deterministic: bool = False) -> float:
    """Fraction of the steps ``late_from..steps-1`` of ``num_envs`` episodes in which the agent (sampling
    its actions unless ``deterministic``) stands in a cell where ``mask`` (h, w) is True."""
    mode = "vector_entry_point" if gym.spec(env_id).vector_entry_point is not None else "sync"
    envs = gym.make_vec(env_id, num_envs=num_envs, vectorization_mode=mode, **(env_kwargs or {}))
    dev = next(agent.parameters()).device
    try:
        obs, info = envs.reset(seed=seed)
        state = agent.initial_state(num_envs, dev)
        first = torch.ones(num_envs, dtype=torch.bool, device=dev)
        hits = []
        flat = np.asarray(mask, bool).ravel()
        for t in range(steps):
            a, _, _, state = agent.act(_to_tensor(obs, dev), state, first, deterministic=deterministic)
            obs, _, term, trunc, info = envs.step(a.cpu().numpy())
            first = torch.as_tensor(term | trunc, device=dev)
            if t >= late_from:
                hits.append(flat[info["row"] * mask.shape[1] + info["col"]])
    finally:
        envs.close()
    return float(np.mean(hits))


# --- coverage ----------------------------------------------------------------------------------------------


def coverage_curve(trajectory: np.ndarray, n_reachable: int) -> np.ndarray:
    """Fraction of the reachable cells visited after each step of one trajectory."""
    traj = np.asarray(trajectory)
    first = np.zeros(len(traj), bool)
    first[np.unique(traj, return_index=True)[1]] = True
    return np.cumsum(first) / float(n_reachable)


def plot_coverage(curves: dict[str, np.ndarray], title: str = "", ax=None):
    """Coverage against steps: ``curves[label]`` is (walkers, steps + 1); mean and min-max band. Draws on
    ``ax`` when given, else on a new figure; returns the figure."""
    import matplotlib  # deferred: matplotlib takes ~0.3 s to load; only figure writers need it

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # deferred: as above, and after choosing the Agg backend

    fig, ax = plt.subplots(figsize=(6.4, 4.0)) if ax is None else (ax.figure, ax)
    for label, c in curves.items():
        c = np.atleast_2d(c)
        x = np.arange(c.shape[1])
        line, = ax.plot(x, 100 * c.mean(0), label=f"{label}: {100 * c[:, -1].mean():.0f}%")
        if len(c) > 1:
            ax.fill_between(x, 100 * c.min(0), 100 * c.max(0), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("steps")
    ax.set_ylabel("cells visited (%)")
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
