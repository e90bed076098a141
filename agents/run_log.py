"""A run's metrics: ``metrics.jsonl``, ``metrics.csv``, TensorBoard events and ``learning_curve.png``."""

from __future__ import annotations

import csv
import io
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from brainset_envs.core.files import atomic_write_bytes


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
            # deferred: TensorBoard's writer loads protobuf and its event code, only for runs that log to it
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
    import matplotlib  # deferred: matplotlib takes ~0.3 s to load; only runs with a folder draw curves

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: as above, and after choosing the Agg backend

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
