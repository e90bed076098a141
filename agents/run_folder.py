"""Run folders: their names and the checkpoints in them.

A run folder ``runs/<env>__<arch>-<objective>-<rule>__<seed>__<time>/`` holds ``config.yaml``,
``command.txt``, ``metrics.jsonl`` and ``metrics.csv``, ``tb/`` (TensorBoard events),
``checkpoints/last.pt`` (periodic) and ``checkpoints/best.pt`` (best evaluation), ``learning_curve.png``
and ``video.mp4`` (:mod:`agents.run_log` writes the metrics and the curve, :mod:`agents.policy` the
video).
"""

from __future__ import annotations

import io
import re
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

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


def command_line(script: str, argv: Sequence[str] | None = None) -> str:
    """The command that ran a front end, for a run folder's ``command.txt``: ``brainset <command> ...`` when
    the brainset command ran it (brainset_envs.cli sets ``sys.argv[0]`` to ``"brainset <command>"``), else
    ``python <script> ...`` (``scripts/<script>`` when ``argv`` is passed in-process)."""
    args = sys.argv[1:] if argv is None else list(argv)
    if sys.argv[0].startswith("brainset "):
        return shlex.join([*sys.argv[0].split(" "), *args])
    return shlex.join([sys.executable, sys.argv[0] if argv is None else f"scripts/{script}", *args])
