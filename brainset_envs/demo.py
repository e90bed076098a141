"""An environment-only demo (no agent, no training, no torch): episodes of OrientationDiscrimination on
video with the oracle's answers, and the ideal observer's psychometric curve as a plot, written under one
output folder. Run it with ``python -c "from brainset_envs.demo import run_demo; run_demo()"``.

Not what ``make demo`` runs: that target runs ``scripts/demo.py``, which trains an agent (``agents.demo``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from brainset_envs.analysis.psychophysics import ideal_threshold, weibull_2afc
from brainset_envs.core.files import atomic_path, write_json
from brainset_envs.recording import record_episodes

ENV_ID = "BrainSet/OrientationDiscrimination-v0"


def plot_psychometric(offsets: np.ndarray, accuracy: np.ndarray, fit: Any, path: str | os.PathLike,
                      title: str) -> None:
    """Accuracy against offset (log axis) with the Weibull fit and its 75% threshold; saved atomically."""
    import matplotlib  # deferred: matplotlib is optional and slow to import; only the plot needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after choosing the Agg backend above

    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.semilogx(offsets, accuracy, "o", color="k", ms=4, label="simulated")
    xs = np.geomspace(offsets.min(), offsets.max(), 200)
    ax.semilogx(xs, weibull_2afc(xs, fit.alpha, fit.beta, fit.lapse), "-", color="C0", label="Weibull fit")
    ax.axhline(0.75, ls=":", color="grey")
    ax.axvline(fit.threshold, ls="--", color="C3", label=f"75% threshold {fit.threshold:.3f} deg")
    ax.set(xlabel="offset from reference (deg)", ylabel="proportion correct", ylim=(0.45, 1.02), title=title)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def run_demo(out_dir: str | os.PathLike = "runs/demo", episodes: int = 4, trials: int = 6) -> dict[str, Any]:
    """Write ``orientation.mp4`` (oracle responses, blocks of ``trials`` trials), ``ideal_observer.png`` and
    ``ideal_observer.json`` into ``out_dir``; print and return what was written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    env = gym.make(ENV_ID, render_mode="rgb_array", trials_per_episode=trials)
    video = record_episodes(env, out / "orientation.mp4", episodes, "oracle", seed=0, hold_frames=2)
    env.close()
    print(f"wrote {video['path']} ({video['frames']} frames)")
    res = ideal_threshold()
    plot_psychometric(res.offsets, res.accuracy, res.fit, out / "ideal_observer.png",
                      "Ideal observer, OrientationDiscrimination-v0")
    summary = {"env": ENV_ID, "ideal_threshold_deg": res.threshold, "fit": res.fit.to_dict(),
               "offsets_deg": res.offsets.tolist(), "accuracy": res.accuracy.tolist()}
    write_json(summary, out / "ideal_observer.json")
    print(f"wrote {out / 'ideal_observer.png'}: ideal observer's 75% threshold = {res.threshold:.3f} deg "
          f"(noise 0.25, contrast 0.5)")
    return summary
