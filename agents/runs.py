"""Run folders: naming, metrics (JSONL, CSV, TensorBoard), atomic checkpoints, loading a trained agent,
learning curves and videos.

A run folder ``runs/<env>__<arch>-<objective>-<rule>__<seed>__<time>/`` holds ``config.yaml``,
``command.txt``, ``metrics.jsonl`` and ``metrics.csv``, ``tb/`` (TensorBoard events),
``checkpoints/last.pt`` (periodic) and ``checkpoints/best.pt`` (best evaluation), ``learning_curve.png``
and ``video.mp4``.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.config import Config, arch_label
from brainset_envs.core.files import atomic_write_bytes


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+\-]", "_", text.replace("*", "x").replace("/", "_"))


def run_prefix(cfg: Config) -> str:
    """``<env>__<arch>-<objective>-<rule>__<seed>`` (file-system safe)."""
    return (f"{_slug(cfg.env.id)}__{_slug(arch_label(cfg))}-{_slug(cfg.objective.spec)}-"
            f"{_slug(cfg.rule.name)}__{cfg.run.seed}")


def new_run_dir(cfg: Config) -> Path:
    """Create a fresh run folder for ``cfg`` under ``cfg.run.runs_dir``."""
    root = Path(cfg.run.runs_dir)
    base = f"{run_prefix(cfg)}__{time.strftime('%Y%m%d-%H%M%S')}"
    path, k = root / base, 1
    while path.exists():
        k += 1
        path = root / f"{base}-{k}"
    (path / "checkpoints").mkdir(parents=True)
    return path


def latest_run_dir(cfg: Config) -> Path | None:
    """The newest run folder of the same env, components and seed that has a checkpoint."""
    root = Path(cfg.run.runs_dir)
    if not root.is_dir():
        return None
    cands = [p for p in root.glob(run_prefix(cfg) + "__*") if (p / "checkpoints" / "last.pt").exists()]
    return max(cands, key=lambda p: p.stat().st_mtime) if cands else None


def save_checkpoint(path: str | Path, payload: dict) -> None:
    """``torch.save`` to a temporary file, then ``os.replace``: a crash never leaves a torn checkpoint."""
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(Path(path), buf.getvalue())


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """A checkpoint written by :func:`save_checkpoint` (our own files: full unpickling)."""
    return torch.load(Path(path), map_location=map_location, weights_only=False)


def checkpoint_path(path: str | Path, which: str = "best") -> Path:
    """A ``.pt`` file, or a run folder's ``checkpoints/<which>.pt`` (falling back to ``last.pt``)."""
    p = Path(path)
    if p.is_dir():
        for name in (which, "last"):
            f = p / "checkpoints" / f"{name}.pt"
            if f.exists():
                return f
        raise FileNotFoundError(f"no checkpoint in {p / 'checkpoints'} (looked for {which}.pt, last.pt)")
    if not p.exists():
        raise FileNotFoundError(f"checkpoint {p} does not exist")
    return p


def build_components(cfg: Config, observation_space, action_space):
    """(agent, objective, rule) for the config: objectives add their heads before the rule prepares the
    model, so rules, optimizer and checkpoints all see them."""
    from agents.architectures import build_agent
    from agents.objectives import get_objective
    from agents.rules import get_rule

    agent: torch.nn.Module = build_agent(observation_space, action_space, cfg.arch)
    objective = get_objective(cfg.objective.spec, cfg.objective.kwargs)
    objective.build(agent)
    rule = get_rule(cfg.rule.name, **cfg.rule.kwargs)
    agent = rule.prepare(agent)
    return agent, objective, rule


def load_agent(path: str | Path, which: str = "best", device: str | torch.device = "cpu"):
    """A trained agent from a checkpoint file or run folder, in one call (eval mode).

    ``agent.config`` is the run's :class:`Config`; use ``agent(obs, return_activations=True)`` to read
    every stage.
    """
    ck = load_checkpoint(checkpoint_path(path, which), map_location=device)
    cfg = Config.from_dict(ck["config"])
    agent, _, _ = build_components(cfg, ck["observation_space"], ck["action_space"])
    agent.load_state_dict(ck["model"])
    agent.to(device).eval()
    agent.config = cfg
    agent.checkpoint_step = ck["counters"]["global_step"]
    return agent


class RunLogger:
    """Metrics to ``metrics.jsonl`` (appended), ``metrics.csv`` (rewritten atomically) and TensorBoard.

    ``run_dir`` None makes every method a no-op apart from keeping the rows in memory.
    """

    def __init__(self, run_dir: Path | None, tensorboard: bool = True, purge_step: int | None = None):
        self.run_dir = run_dir
        self.rows: list[dict[str, Any]] = []
        self.tb = None
        self._plotted = time.monotonic()
        if run_dir is None:
            return
        jl = run_dir / "metrics.jsonl"
        if purge_step is not None and jl.exists():  # resume: drop rows written after the checkpoint
            keep = [json.loads(line) for line in jl.read_text().splitlines() if line.strip()]
            self.rows = [r for r in keep if r["step"] <= purge_step]
            atomic_write_bytes(jl, "".join(json.dumps(r) + "\n" for r in self.rows).encode())
        elif purge_step is None and jl.exists():  # a fresh run in a reused folder starts fresh metrics
            jl.unlink()
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"), purge_step=purge_step)

    def log(self, row: dict[str, Any]) -> None:
        row = {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in row.items()}
        self.rows.append(row)
        if self.run_dir is None:
            return
        with open(self.run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in row.items():
                if k != "step" and isinstance(v, (int, float)) and math.isfinite(v):
                    self.tb.add_scalar(k, v, row["step"])

    def flush(self, plot: bool = False) -> None:
        """Rewrite metrics.csv from all rows; plot the learning curve when ``plot`` or a minute passed."""
        if self.run_dir is None or not self.rows:
            return
        keys: list[str] = []
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        sio = io.StringIO()
        w = csv.DictWriter(sio, fieldnames=keys)
        w.writeheader()
        w.writerows(self.rows)
        atomic_write_bytes(self.run_dir / "metrics.csv", sio.getvalue().encode())
        if plot or time.monotonic() - self._plotted > 60.0:
            plot_learning_curve(self.rows, self.run_dir / "learning_curve.png")
            self._plotted = time.monotonic()
        if self.tb is not None:
            self.tb.flush()

    def close(self) -> None:
        self.flush(plot=True)
        if self.tb is not None:
            self.tb.close()


def plot_learning_curve(rows: list[dict], path: Path, title: str = "") -> None:
    """Training and evaluation return against env steps, as a PNG (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=100)
    for key, label in (("train/episode_return", "train"), ("eval/return", "evaluation")):
        pts = [(r["step"], r[key]) for r in rows if isinstance(r.get(key), (int, float))
               and math.isfinite(r[key])]
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(x, y, marker="o" if key.startswith("eval") else None, ms=3, label=label)
    ax.set_xlabel("env steps")
    ax.set_ylabel("episode return")
    ax.set_title(title or path.parent.name[:80], fontsize=8)
    if ax.lines:
        ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())


class AgentPolicy:
    """A trained agent as a ``policy(obs, info)`` for :func:`brainset_envs.recording.record_episodes`
    (keeps the recurrent state; reset at every episode start)."""

    def __init__(self, agent, deterministic: bool = True):
        self.agent, self.deterministic = agent, deterministic
        self.device = next(agent.parameters()).device
        self.reset()

    def reset(self) -> None:
        self.state = self.agent.initial_state(1, self.device)
        self.first = torch.ones(1, dtype=torch.bool, device=self.device)

    def __call__(self, obs, info=None):
        from agents.rollout import obs_to_tensor

        batch = {k: np.asarray(v)[None] for k, v in obs.items()} if isinstance(obs, dict) else np.asarray(obs)[None]
        a, _, _, self.state = self.agent.act(obs_to_tensor(batch, self.device), self.state, self.first,
                                             deterministic=self.deterministic)
        self.first = torch.zeros_like(self.first)
        a = a[0].cpu().numpy()
        return a.item() if a.ndim == 0 else a


def record_video(agent, env_id: str, env_kwargs: dict, path: str | Path, episodes: int = 8, seed: int = 0,
                 max_frames: int = 400, deterministic: bool = True) -> Path:
    """Record ``agent`` for ``episodes`` episodes (at most ``max_frames`` frames) as MP4 or GIF (by the
    suffix of ``path``). Returns the written path."""
    import gymnasium as gym

    from brainset_envs.recording import record_episodes

    env = gym.make(env_id, render_mode="rgb_array", **env_kwargs)
    res = record_episodes(env, path, episodes, AgentPolicy(agent, deterministic), seed=seed, max_frames=max_frames)
    env.close()
    return Path(res["path"])
