"""Learning to learn (Wang et al. 2018): an LSTM trained by RL across many tasks, then frozen, learns each
new task from its own activity. Scored against each task's ground truth.

The agent is the project's ordinary trainer with a recipe per task (``agents/configs/Bandit.yaml``,
``TwoStepSwitching.yaml``, ``Harlow.yaml``: ``mlp+lstm``, the previous action and reward in the
observation, the recurrent state reset at every episode, PPO over episodes of many trials). During
training a hook measures the agent with frozen weights every ``every`` env steps (the learning curve);
at the end it is measured on more episodes:

- **bandit** (``BrainSet/Bandit-v0``, 2 arms, 100 pulls, independent uniform arms): expected regret,
  against the exact Bayes-optimal regret (dynamic programming) and Thompson sampling's;
- **two_step** (``BrainSet/TwoStepSwitching-v0``, Wang et al.'s version of Daw et al. 2011): the 2 x 2
  stay probabilities and the model-based index (the reward x transition coefficient of a logistic
  regression), against ideal model-based and model-free agents on the same task and Wang et al.'s figures;
- **harlow** (``BrainSet/Harlow-v0``, 6 trials per new pair of objects): accuracy on each trial, against
  the ideal learner (1/2 on trial 1, then 1).

    brainset metarl --task bandit                  # runs/metarl__bandit__0/metarl.{json,png}
    brainset metarl --task all --assets assets     # the README's figures: assets/metarl_<task>.png

A run folder holds the trainer's checkpoints: the same command again resumes an interrupted run (the
curve so far is kept in ``curve.json``) and, once finished, only re-measures nothing: it loads the result.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from torch import nn

from agents.config import Config, parse_override, resolve_config
from agents.experiments.learning_report import QUIET
from agents.experiments.metarl_eval import bandit_regret, harlow_accuracy, two_step_log
from agents.hooks import TrainerHook
from agents.trainer import train
from brainset_envs.analysis.bandit import bayes_optimal, thompson_regret
from brainset_envs.analysis.harlow import ideal_accuracy
from brainset_envs.analysis.two_step import (
    ModelBasedAgent,
    ModelFreeAgent,
    record_trials,
    stay_probabilities,
    stay_regression,
)
from brainset_envs.core.files import save_result_and_figure, write_json


def read_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


STAY_KEYS = ("rewarded_common", "rewarded_uncommon", "unrewarded_common", "unrewarded_uncommon")
# Wang et al. 2018 (Fig. 4): the frozen meta-RL agent's stay probabilities, read from the paper's figure.
WANG_STAY = {"rewarded_common": 0.99, "rewarded_uncommon": 0.63, "unrewarded_common": 0.61,
             "unrewarded_uncommon": 0.99}
WANG_HARLOW_TRIAL2 = 0.97


def _bandit(agent: nn.Module, seed: int, episodes: int) -> dict[str, float]:
    return bandit_regret(agent, episodes=episodes, seed=seed)


def _two_step(agent: nn.Module, seed: int, episodes: int) -> dict[str, float]:
    log = two_step_log(agent, episodes=episodes, seed=seed)
    stay = stay_probabilities(log).ravel()
    return {**dict(zip(STAY_KEYS, map(float, stay), strict=True)),
            "model_based_index": float(stay_regression(log)["interaction"]),
            "reward_per_trial": float(log.reward.mean())}


def _harlow(agent: nn.Module, seed: int, episodes: int) -> dict[str, float]:
    acc = harlow_accuracy(agent, episodes=episodes, seed=seed)
    return {f"trial{i + 1}": float(a) for i, a in enumerate(acc)}


def _bandit_truth() -> dict[str, float]:
    return {"bayes_optimal_regret": float(bayes_optimal(2, 100).regret),
            "thompson_regret": float(thompson_regret(2, 100, episodes=4000, seed=0)["regret"])}


def _two_step_truth() -> dict[str, Any]:
    out: dict[str, Any] = {"wang_et_al": dict(WANG_STAY)}
    env = gym.make("BrainSet/TwoStepSwitching-v0")
    for name, agent in (("model_based", ModelBasedAgent(common_prob=0.9, seed=0)),
                        ("model_free", ModelFreeAgent(seed=0))):
        log = record_trials(env, agent.act, episodes=100, seed=0, on_reset=agent.reset)
        out[name] = {**dict(zip(STAY_KEYS, map(float, stay_probabilities(log).ravel()), strict=True)),
                     "model_based_index": float(stay_regression(log)["interaction"]),
                     "reward_per_trial": float(log.reward.mean())}
    env.close()
    return out


def _harlow_truth() -> dict[str, Any]:
    return {"ideal": [float(a) for a in ideal_accuracy(6)], "wang_et_al_trial2": WANG_HARLOW_TRIAL2}


@dataclass(frozen=True)
class MetaTask:
    """One learning-to-learn task: its env, how the frozen agent is measured, its ground truth."""

    name: str
    env_id: str
    measure: Callable[[nn.Module, int, int], dict[str, float]]  # (agent, seed, episodes) -> figures
    truth: Callable[[], dict[str, Any]]
    headline: str  # the figure of the learning curve
    curve_episodes: int  # episodes per point of the learning curve
    final_episodes: int  # episodes of the final measurement


TASKS: dict[str, MetaTask] = {t.name: t for t in (
    MetaTask("bandit", "BrainSet/Bandit-v0", _bandit, _bandit_truth, "regret", 500, 4000),
    MetaTask("two_step", "BrainSet/TwoStepSwitching-v0", _two_step, _two_step_truth, "model_based_index", 50, 400),
    MetaTask("harlow", "BrainSet/Harlow-v0", _harlow, _harlow_truth, "trial2", 500, 4000),
)}


class FrozenCurve(TrainerHook):
    """Measures the agent with frozen weights every ``every`` env steps (its own envs and generator, so the
    run is unchanged); keeps the points in ``curve.json`` of the run folder, so a resumed run keeps them."""

    def __init__(self, task: MetaTask, every: int, seed: int, path: Path | None = None,
                 progress: Callable[[str], Any] | None = None):
        self.task, self.every, self.seed, self.path, self.progress = task, int(every), int(seed), path, progress
        self.points: list[dict[str, float]] = (read_json(path) if path is not None and path.exists() else [])
        self.next = (int(self.points[-1]["step"]) + self.every) if self.points else 0

    def _measure(self, agent: nn.Module, step: int) -> None:
        was_training = agent.training
        agent.eval()
        figures = self.task.measure(agent, self.seed + 1_000_003 + len(self.points), self.task.curve_episodes)
        agent.train(was_training)
        self.points.append({"step": float(step), **figures})
        if self.path is not None:
            write_json(self.points, self.path)
        if self.progress is not None:
            self.progress(f"{self.task.name} step {step}: {self.task.headline} {figures[self.task.headline]:.3f}")

    def on_train_start(self, agent: nn.Module, cfg: Config, run_dir: Path | None) -> None:
        if not self.points:
            self._measure(agent, 0)
            self.next = self.every

    def on_update(self, info: dict[str, Any]) -> bool | None:
        step = int(info["loop"].global_step)
        if step >= self.next:
            self._measure(info["agent"], step)
            self.next = step + self.every
        return None


def task_config(task: str, seed: int = 0, steps: int | None = None, overrides: tuple[str, ...] = (),
                num_threads: int = 1) -> Config:
    """The task's recipe (``agents/configs/<Name>.yaml``) with ``seed``, ``steps`` and ``overrides``; no
    video, no progress bar, no run folder unless :func:`run_metarl` is given one."""
    t = _task(task)
    return resolve_config(t.env_id, overrides=[parse_override(o) for o in (
        *QUIET, "run.eval_every=0", "run.eval_episodes=8", f"run.seed={seed}",
        f"run.num_threads={num_threads}", *((f"train.total_steps={steps}",) if steps is not None else ()),
        *overrides)])


def _task(name: str) -> MetaTask:
    if name not in TASKS:
        raise ValueError(f"task={name!r} is not a learning-to-learn task; choose from {', '.join(TASKS)}")
    return TASKS[name]


def run_metarl(task: str, seed: int = 0, steps: int | None = None, every: int | None = None,
               run_dir: str | Path | None = None, overrides: tuple[str, ...] = (), num_threads: int = 1,
               progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """Train the task's meta-RL agent (resuming from ``run_dir`` if it holds a checkpoint), measure it frozen
    along training and at the end, and return the result (also written to ``run_dir/metarl.json``)."""
    t = _task(task)
    if every is not None and every < 1:
        raise ValueError(f"every={every!r} must be a positive number of env steps")
    folder = Path(run_dir) if run_dir is not None else None
    if folder is not None and (folder / "metarl.json").exists():
        return read_json(folder / "metarl.json")
    cfg = task_config(task, seed, steps, overrides, num_threads)
    total = cfg.train.total_steps
    hook = FrozenCurve(t, every or max(total // 10, 1), seed, folder / "curve.json" if folder else None, progress)
    resume = folder if folder is not None and (folder / "checkpoints" / "last.pt").exists() else None
    t0 = time.perf_counter()
    res = train(cfg, run_dir=folder, resume=resume, hooks=[hook])
    wall = time.perf_counter() - t0
    res.agent.eval()
    final = t.measure(res.agent, seed + 2_000_003, t.final_episodes)
    result = {"task": t.name, "env_id": t.env_id, "seed": seed, "steps": int(res.global_step),
              "train_seconds": wall, "headline": t.headline, "final": final, "curve": hook.points,
              "truth": t.truth(), "config": cfg.to_dict()}
    if folder is not None:
        write_json(result, folder / "metarl.json")
    return result


def plot_metarl(result: dict[str, Any]):
    """Two panels: the frozen agent's headline figure along training, and the final measurement beside the
    ground truth (bandit: regret; two-step: stay probabilities; Harlow: accuracy per trial)."""
    import matplotlib  # deferred: matplotlib is slow to import and only the figure needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: as above

    task, final, truth, curve = result["task"], result["final"], result["truth"], result["curve"]
    steps = np.array([p["step"] for p in curve]) / 1e6
    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 3.8))
    minutes = result["train_seconds"] / 60
    fig.suptitle(f"{result['env_id']}: LSTM meta-RL agent, weights frozen when measured "
                 f"({result['steps']:,} env steps, {minutes:.1f} min, seed {result['seed']})", fontsize=10)
    ax0.set_xlabel("training env steps (millions)")
    if task == "bandit":
        ax0.plot(steps, [p["regret"] for p in curve], "o-", label="meta-RL agent")
        for key, color, ls, label in (("bayes_optimal_regret", "k", "--", "Bayes-optimal"),
                                      ("thompson_regret", "C1", ":", "Thompson sampling")):
            ax0.axhline(truth[key], ls=ls, color=color, label=label)
        ax0.set_ylabel("expected regret (100 pulls)")
        ax0.legend(fontsize=8)
        names = ["meta-RL\n(frozen)", "Bayes-\noptimal", "Thompson"]
        vals = [final["regret"], truth["bayes_optimal_regret"], truth["thompson_regret"]]
        ax1.bar(names, vals, yerr=[final["regret_se"], 0, 0], color=["C0", "0.3", "C1"])
        ax1.set_ylabel("expected regret")
        ax1.set_title("2 independent arms, 100 pulls", fontsize=9)
    elif task == "two_step":
        ax0.plot(steps, [p["model_based_index"] for p in curve], "o-", label="meta-RL agent")
        ax0.axhline(truth["model_based"]["model_based_index"], ls="--", color="k", label="model-based agent")
        ax0.axhline(truth["model_free"]["model_based_index"], ls=":", color="C1", label="model-free agent")
        ax0.set_ylabel("model-based index (reward x transition)")
        ax0.legend(fontsize=8)
        x = np.arange(2)
        rows = (("meta-RL (frozen)", final), ("Wang et al. 2018", truth["wang_et_al"]),
                ("model-based", truth["model_based"]), ("model-free", truth["model_free"]))
        w = 0.2
        for k, (label, figs) in enumerate(rows):
            common = [figs["rewarded_common"], figs["unrewarded_common"]]
            uncommon = [figs["rewarded_uncommon"], figs["unrewarded_uncommon"]]
            ax1.bar(x * 2.2 + k * w, common, w, color=f"C{k}", label=label)
            ax1.bar(x * 2.2 + 1 + k * w, uncommon, w, color=f"C{k}", alpha=0.55)
        ax1.set_xticks([0.3, 1.3, 2.5, 3.5], ["rewarded\ncommon", "rewarded\nuncommon", "unrewarded\ncommon",
                                              "unrewarded\nuncommon"], fontsize=8)
        ax1.set_ylabel("P(stay with first-stage choice)")
        ax1.set_ylim(0, 1.05)
        ax1.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=4, frameon=False)
    else:
        ax0.plot(steps, [p["trial2"] for p in curve], "o-", label="trial 2")
        ax0.plot(steps, [p["trial1"] for p in curve], "s-", color="0.5", label="trial 1")
        ax0.axhline(truth["wang_et_al_trial2"], ls=":", color="C1", label="Wang et al.: trial 2")
        ax0.axhline(0.5, ls="--", color="k", lw=0.8)
        ax0.set_ylabel("accuracy")
        ax0.set_ylim(0.3, 1.03)
        ax0.legend(fontsize=8)
        trials = np.arange(1, len(truth["ideal"]) + 1)
        ax1.plot(trials, [curve[0][f"trial{i}"] for i in trials], "s-", color="0.5", label="before training")
        ax1.plot(trials, [final[f"trial{i}"] for i in trials], "o-", label="after training (frozen)")
        ax1.plot(trials, truth["ideal"], "k--", label="ideal learner")
        ax1.set_xlabel("trial of a new problem")
        ax1.set_ylabel("accuracy")
        ax1.set_ylim(0.3, 1.03)
        ax1.legend(fontsize=8)
    fig.tight_layout()
    return fig


def save_metarl(result: dict[str, Any], run_dir: str | Path, assets_png: str | Path | None = None) -> list[Path]:
    """Write ``metarl.json`` and ``metarl.png`` into ``run_dir`` (and the PNG to ``assets_png``), atomically."""
    return save_result_and_figure(result, plot_metarl(result), run_dir, "metarl", assets_png)


def summary(result: dict[str, Any]) -> str:
    """One line per task with the figures that matter, for the terminal and the README."""
    f, t = result["final"], result["truth"]
    head = f"{result['task']}: {result['steps']:,} steps in {result['train_seconds']:.0f} s; "
    if result["task"] == "bandit":
        return head + (f"regret {f['regret']:.2f} +- {f['regret_se']:.2f} (Bayes-optimal "
                       f"{t['bayes_optimal_regret']:.2f}, Thompson {t['thompson_regret']:.2f})")
    if result["task"] == "two_step":
        stay = " / ".join(f"{f[k]:.2f}" for k in STAY_KEYS)
        return head + (f"stay probabilities {stay} (rewarded-common, rewarded-uncommon, unrewarded-common, "
                       f"unrewarded-uncommon; Wang et al. 0.99 / 0.63 / 0.61 / 0.99), model-based index "
                       f"{f['model_based_index']:.2f}")
    acc = " ".join(f"{f[f'trial{i}']:.2f}" for i in range(1, 7))
    start = result["curve"][0]["trial2"]
    return head + f"accuracy per trial {acc} (ideal 0.5 then 1; trial 2 before training: {start:.2f})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", default="all", help=f"{' | '.join(TASKS)} | all (comma-separated list allowed)")
    p.add_argument("--seed", type=int, default=0, help="seed of the training run")
    p.add_argument("--steps", type=int, default=None, help="env steps of training (default: the recipe's)")
    p.add_argument("--every", type=int, default=None, help="env steps between points of the learning curve "
                   "(default: a tenth of the run)")
    p.add_argument("--runs-dir", default="runs", help="parent of the run folders (runs/metarl__<task>__<seed>)")
    p.add_argument("--assets", default=None, help="also write the PNGs and JSONs into this folder "
                   "(metarl_<task>.png / .json: the README's figures and the docs page's numbers)")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides of the recipe")
    a = p.parse_args(argv)
    names = list(TASKS) if a.task == "all" else [t.strip() for t in a.task.split(",") if t.strip()]
    for name in names:
        if name not in TASKS:
            p.error(f"argument --task: {name!r} is not a learning-to-learn task; choose from {', '.join(TASKS)}, all")
    if a.steps is not None and a.steps < 1:
        p.error(f"argument --steps: {a.steps} must be a positive number of env steps")
    if a.every is not None and a.every < 1:
        p.error(f"argument --every: {a.every} must be a positive number of env steps")
    for name in names:
        run_dir = Path(a.runs_dir) / f"metarl__{name}__{a.seed}"
        result = run_metarl(name, a.seed, a.steps, a.every, run_dir, tuple(a.overrides), progress=print)
        png = Path(a.assets) / f"metarl_{name}.png" if a.assets else None
        for path in save_metarl(result, run_dir, png):
            print(f"wrote {path}")
        if a.assets:
            write_json(result, Path(a.assets) / f"metarl_{name}.json")
            print(f"wrote {Path(a.assets) / f'metarl_{name}.json'}")
        print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
