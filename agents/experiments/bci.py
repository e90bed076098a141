"""BCI learning (Sadtler et al. 2014; Feulner & Clopath 2021): an agent whose own recurrent units drive a
cursor learns the intuitive decoder, then a within-manifold and an outside-manifold perturbation of it.

The agent is the trainer's, with the BCI recipe (``agents/configs/BCI.yaml``): the action's mean IS the
activity of the 16 tanh units of its recurrent core (``arch.action_layer=core``), with Gaussian
exploration noise around it; the env (``BrainSet/BCI*-v0``) decodes those units into a cursor velocity.
For each learning rule and seed:

1. **pre**: PPO with the rule on ``BrainSet/BCI-v0`` (each day a calibration block fits the intrinsic
   manifold of the agent's activity and an intuitive decoder, then an intuitive block) for ``steps``;
2. **within** and **outside**: from those same weights, training goes on with the same rule on
   ``BrainSet/BCIWithinManifold-v0`` / ``BCIOutsideManifold-v0`` (a fresh calibration of the trained
   agent, ``intuitive`` trials with the new intuitive decoder, then the perturbation) until every env has
   run ``budget`` perturbation trials: the same budget, in trials, for both.

Every trial of every env is logged (:class:`TrialLog`, from the env's ``info``); the figures are pooled
over the envs, trial by trial of each block: success rate and steps over ``min_steps`` (the ground truth),
and the fraction of pre-perturbation performance recovered (:func:`brainset_envs.analysis.bci.recovered`
on :func:`~brainset_envs.analysis.bci.performance`: pre = the last ``window`` intuitive trials, early /
late = the first / last ``window`` perturbation trials). The untrained and the trained agent are also
measured frozen on the intuitive decoder (:func:`frozen_intuitive`, 40 intuitive trials per env after a
calibration). Mean and 95% CI over seeds.

    brainset bci                                      # runs/bci/bci.{json,png}
    brainset bci --rules backprop,feedback_alignment --seeds 0-4 --assets assets

A run folder keeps each finished phase (``<rule>__<seed>/<phase>.json`` and the pre-trained weights): the
same command again skips what is done (an interrupted phase starts again), then redraws the figure.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from agents.architectures import build_agent
from agents.config import Config, parse_override, resolve_config
from agents.experiments.learning_report import QUIET
from agents.hooks import TrainerHook
from agents.rollout import obs_to_tensor
from agents.rules import get_rule, registered_rules, rule_class
from agents.trainer import make_vec_env, to_env_actions, train
from brainset_envs.analysis.bci import BLOCKS, INTUITIVE, OUTSIDE, WITHIN, BCITrial, performance, recovered
from brainset_envs.core.files import atomic_write_bytes, save_result_and_figure, write_json

PHASES = {"within": ("BrainSet/BCIWithinManifold-v0", WITHIN), "outside": ("BrainSet/BCIOutsideManifold-v0", OUTSIDE)}
FIELDS = ("env", "day", "block", "trial", "target", "success", "steps", "min_steps")


@functools.cache
def trainable_rules() -> list[str]:
    """The rules the trainer can run on the BCI agent: registered, training the trainer's agents, descending
    the task's objective (``trains_agents`` and ``learns_tasks``) and accepting its recurrent core (e.g.
    direct feedback alignment refuses it)."""
    env = gym.make("BrainSet/BCI-v0")
    agent = build_agent(env.observation_space, env.action_space, resolve_config("BrainSet/BCI-v0").arch)
    env.close()
    out = []
    for name in registered_rules():
        if not (rule_class(name).trains_agents and rule_class(name).learns_tasks):
            continue
        try:
            get_rule(name).check_supported(agent)
        except (TypeError, ValueError):
            continue
        out.append(name)
    return out


class TrialLog(TrainerHook):
    """Logs every finished trial of every env (rows of :data:`FIELDS`) from the env's ``info``; with
    ``block`` and ``budget``, stops training once every env has run ``budget`` trials of that block."""

    def __init__(self, num_envs: int, block: int | None = None, budget: int = 0):
        self.rows: list[list[int]] = []
        self.block, self.budget = block, int(budget)
        self.count = np.zeros(num_envs, np.int64)  # trials of ``block`` on day 1, per env
        self.day1 = np.zeros(num_envs, np.int64)  # trials on day 1, per env

    def on_step(self, info: dict[str, Any], done: np.ndarray) -> None:
        for i in np.flatnonzero(done):
            row = [int(i), *(int(info[k][i]) for k in FIELDS[1:])]
            self.rows.append(row)
            self.day1[i] += row[1] == 1
            if self.block is not None and row[1] == 1 and row[2] == self.block:
                self.count[i] += 1

    def on_update(self, info: dict[str, Any]) -> bool | None:
        return False if self.block is not None and (self.count >= self.budget).all() else None


def as_trials(rows: Sequence[Sequence[int]]) -> list[tuple[int, BCITrial]]:
    """(env, trial) pairs from logged rows."""
    return [(int(r[0]), BCITrial(day=int(r[1]), block=int(r[2]), trial=int(r[3]), target=int(r[4]),
                                 success=bool(r[5]), steps=int(r[6]), min_steps=int(r[7]))) for r in rows]


def block_trials(rows: Sequence[Sequence[int]], block: int, day: int = 1) -> list[list[BCITrial]]:
    """The trials of ``block`` on ``day``, per env, in order."""
    per: dict[int, list[BCITrial]] = {}
    for env, t in as_trials(rows):
        if t.day == day and t.block == block:
            per.setdefault(env, []).append(t)
    return [per[k] for k in sorted(per)]


def pooled(per_env: list[list[BCITrial]], start: int, stop: int) -> list[BCITrial]:
    """Trials ``start:stop`` of each env's block, pooled over envs."""
    return [t for trials in per_env for t in trials[start:stop]]


def stats(trials: Sequence[BCITrial]) -> dict[str, float]:
    """Success rate, steps over ``min_steps`` (timeouts count their full length) and the speed of
    :func:`~brainset_envs.analysis.bci.performance`."""
    success, speed = performance(trials)
    ratio = float(np.mean([t.steps for t in trials]) / np.mean([t.min_steps for t in trials]))
    return {"success": float(success), "steps_over_min": ratio, "speed": float(speed), "trials": len(trials)}


def phase_figures(rows: Sequence[Sequence[int]], block: int, budget: int, window: int, bins: int
                  ) -> dict[str, Any]:
    """A perturbation phase's figures: the last ``window`` intuitive trials (pre), the first and last
    ``window`` perturbation trials of the budget (early, late), the fraction recovered, and the curve
    (``bins`` bins over the budget, pooled over envs)."""
    pre_env, pert_env = block_trials(rows, INTUITIVE), block_trials(rows, block)
    if not pre_env or not pert_env or min(len(t) for t in pert_env) < budget:
        raise ValueError(f"the log holds too few {BLOCKS[block]} trials (budget {budget} per env)")
    pre = [t for trials in pre_env for t in trials[-window:]]
    early, late = pooled(pert_env, 0, window), pooled(pert_env, budget - window, budget)
    p, e, l_ = (performance(x) for x in (pre, early, late))
    edges = np.linspace(0, budget, bins + 1).astype(int)
    curve = [{"trial": float((a + b) / 2), **stats(pooled(pert_env, a, b))}
             for a, b in zip(edges[:-1], edges[1:], strict=True)]
    return {"pre": stats(pre), "early": stats(early), "late": stats(late),
            "recovered": recovered(p, e, l_), "recovered_success": recovered(p[0], e[0], l_[0]),
            "recovered_speed": recovered(p[1], e[1], l_[1]), "curve": curve}


@torch.no_grad()
def frozen_intuitive(agent: torch.nn.Module, env_kwargs: dict, seed: int, trials: int = 40, num_envs: int = 16
                     ) -> dict[str, float]:
    """The agent with frozen weights (its actions sampled as in training) through a calibration block and
    ``trials`` intuitive trials per env of ``BrainSet/BCI-v0`` (``env_kwargs``): the intuitive block's
    figures. Its own random streams: the training run is unchanged."""
    kwargs = {**env_kwargs, "intuitive_trials": trials}
    envs = make_vec_env("BrainSet/BCI-v0", num_envs, kwargs)
    log = TrialLog(num_envs)
    gen_state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        obs, _ = envs.reset(seed=seed)
        state = agent.initial_state(num_envs)
        first, pending = np.ones(num_envs, bool), np.zeros(num_envs, bool)
        cal = int(env_kwargs.get("calibration_trials", 40))
        while (log.day1 < cal + trials).any():
            a, _, _, state = agent.act(obs_to_tensor(obs, "cpu"), state, torch.from_numpy(first))
            obs, _, term, trunc, info = envs.step(to_env_actions(a, envs.single_action_space))
            done = (term | trunc) & ~pending
            log.on_step(info, done)
            first, pending = pending, done
    finally:
        envs.close()
        torch.set_rng_state(gen_state)
    return stats(pooled(block_trials(log.rows, INTUITIVE), 0, trials))


def bci_config(env_id: str, rule: str, seed: int, steps: int, env_kwargs: dict, overrides: Sequence[str] = (),
               num_threads: int = 1) -> Config:
    """The BCI recipe for ``env_id`` with the rule, seed, budget in env steps and the env's kwargs; no run
    folder, no evaluation (the trial log is the measurement)."""
    return resolve_config(env_id, overrides=[parse_override(o) for o in (
        *QUIET, "run.tensorboard=false", "run.eval_every=0", "run.eval_episodes=1", "run.eval_envs=1",
        "run.checkpoint_every=0", f"run.seed={seed}", f"run.num_threads={num_threads}", f"rule.name={rule}",
        f"train.total_steps={steps}", *overrides)] + [{"env": {"kwargs": dict(env_kwargs)}}])


def pretrain(rule: str, seed: int, steps: int, env_kwargs: dict, overrides: Sequence[str] = (),
             trials: int = 40) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Train with ``rule`` on ``BrainSet/BCI-v0`` for ``steps``; measure the untrained and the trained
    agent frozen (:func:`frozen_intuitive`, ``trials`` intuitive trials per env). Returns the figures and
    the trained weights."""
    cfg = bci_config("BrainSet/BCI-v0", rule, seed, steps, env_kwargs, overrides)
    kwargs = dict(cfg.env.kwargs)
    t0 = time.perf_counter()
    untrained: dict[str, Any] = {}

    class Untrained(TrainerHook):
        def on_train_start(self, agent, cfg, run_dir) -> None:
            untrained.update(frozen_intuitive(agent, kwargs, seed + 7919, trials))

    res = train(cfg, hooks=[Untrained()])
    weights = {k: v.detach().clone() for k, v in res.agent.state_dict().items()}
    out = {"untrained": untrained, "trained": frozen_intuitive(res.agent, kwargs, seed + 7919, trials),
           "pre_seconds": time.perf_counter() - t0, "pre_steps": res.global_step}
    return out, weights


def perturb(rule: str, seed: int, name: str, weights: dict[str, torch.Tensor], budget: int, intuitive: int,
            window: int, bins: int, env_kwargs: dict, overrides: Sequence[str] = ()) -> dict[str, Any]:
    """From ``weights``, train on with ``rule`` under the ``name`` ('within' or 'outside') perturbation, at
    a constant step size, until every env has run ``budget`` perturbation trials (after a calibration and
    ``intuitive`` intuitive trials); return :func:`phase_figures` of its trial log."""
    if name not in PHASES:
        raise ValueError(f"name={name!r} must be one of {list(PHASES)}")
    env_id, block = PHASES[name]
    kwargs = {**env_kwargs, "intuitive_trials": intuitive, "perturbation_trials": 2 * budget}
    cfg = bci_config(env_id, rule, seed, 1, kwargs, ("train.anneal_lr=false", *overrides))
    k = cfg.env.kwargs
    trials = int(k.get("calibration_trials", 40)) + intuitive + budget
    cfg.train.total_steps = 2 * trials * int(k.get("max_steps", 50)) * cfg.env.num_envs  # a cap: never reached
    log = TrialLog(cfg.env.num_envs, block, budget)
    t0 = time.perf_counter()
    res = train(cfg, init_weights=weights, hooks=[log])
    figs = phase_figures(log.rows, block, budget, window, bins)
    figs.update(seconds=time.perf_counter() - t0, steps=res.global_step)
    return figs


def run_seed(rule: str, seed: int, folder: Path | None, steps: int, budget: int, intuitive: int,
             window: int, bins: int, env_kwargs: dict, overrides: Sequence[str] = (),
             progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """One rule and seed: :func:`pretrain`, then :func:`perturb` within and outside from the same weights
    (finished phases in ``folder`` are reused). Returns ``{"untrained", "trained", "within", "outside",
    ...}``."""
    say = progress or (lambda _: None)
    done = (lambda name: folder / f"{name}.json") if folder is not None else None
    if folder is not None and (folder / "pre.json").exists():
        out = json.loads((folder / "pre.json").read_text())
        weights = torch.load(folder / "pre_weights.pt", map_location="cpu", weights_only=True)
    else:
        out, weights = pretrain(rule, seed, steps, env_kwargs, overrides, min(40, intuitive))
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            buf = io.BytesIO()
            torch.save(weights, buf)
            atomic_write_bytes(folder / "pre_weights.pt", buf.getvalue())
            write_json(out, folder / "pre.json")
        say(f"{rule} seed {seed} pre: success {out['untrained']['success']:.2f} -> "
            f"{out['trained']['success']:.2f}, steps/min {out['trained']['steps_over_min']:.2f}")
    for name in PHASES:
        if done is not None and done(name).exists():
            out[name] = json.loads(done(name).read_text())
            continue
        figs = perturb(rule, seed, name, weights, budget, intuitive, window, bins, env_kwargs, overrides)
        out[name] = figs
        if done is not None:
            write_json(figs, done(name))
        say(f"{rule} seed {seed} {name}: success {figs['pre']['success']:.2f} -> {figs['early']['success']:.2f} "
            f"-> {figs['late']['success']:.2f}, recovered {figs['recovered']:.2f}")
    return out


def ci95(values: Sequence[float]) -> tuple[float, float]:
    """Mean and half-width of the 95% t confidence interval (0 for one value)."""
    from scipy import stats as st  # deferred: only summaries need it

    v = np.asarray([x for x in values if np.isfinite(x)], dtype=np.float64)
    if len(v) == 0:
        return float("nan"), float("nan")
    if len(v) == 1:
        return float(v[0]), 0.0
    return float(v.mean()), float(st.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))


def aggregate(per_seed: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95% CI over seeds of each rule's figures (``per_seed[rule][seed]``)."""
    out: dict[str, Any] = {}
    for rule, seeds in per_seed.items():
        runs = list(seeds.values())
        r: dict[str, Any] = {}
        for key in ("untrained", "trained"):
            r[key] = {f: ci95([x[key][f] for x in runs]) for f in ("success", "steps_over_min")}
        for name in PHASES:
            r[name] = {f"{part}_{f}": ci95([x[name][part][f] for x in runs])
                       for part in ("pre", "early", "late") for f in ("success", "steps_over_min")}
            for f in ("recovered", "recovered_success", "recovered_speed"):
                r[name][f] = ci95([x[name][f] for x in runs])
            curve = [x[name]["curve"] for x in runs]
            r[name]["curve"] = [{"trial": pts[0]["trial"],
                                 **{f: ci95([p[f] for p in pts]) for f in ("success", "steps_over_min")}}
                                for pts in zip(*curve, strict=True)]
        r["within_minus_outside"] = ci95([x["within"]["recovered"] - x["outside"]["recovered"] for x in runs])
        r["seeds"] = len(runs)
        out[rule] = r
    return out


def parse_seeds(text: str) -> list[int]:
    """'0-4' or '0,2,5' -> a list of seeds."""
    seeds: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        if "-" in part:
            a, b = part.split("-", 1)
            seeds += list(range(int(a), int(b) + 1))
        elif part:
            seeds.append(int(part))
    if not seeds or min(seeds) < 0:
        raise ValueError(f"seeds={text!r} must name seeds >= 0, e.g. '0-4' or '0,2,5'")
    return seeds


def run_bci(rules: Sequence[str] = ("backprop", "feedback_alignment"), seeds: Sequence[int] = (0, 1, 2, 3, 4),
            steps: int = 150_000, budget: int = 150, intuitive: int = 100, window: int = 25, bins: int = 6,
            env_kwargs: dict | None = None, overrides: Sequence[str] = (), run_dir: str | Path | None = None,
            progress: Callable[[str], Any] | None = None) -> dict[str, Any]:
    """The protocol for each rule and seed (see the module docstring); the result also goes to
    ``run_dir/bci.json`` with the figure when :func:`save_bci` is called."""
    allowed = trainable_rules()
    for rule in rules:
        if rule not in allowed:
            raise ValueError(f"rules: {rule!r} cannot train the BCI agent; allowed: {', '.join(allowed)}")
    for name, value, lo in (("steps", steps, 1), ("budget", budget, 2), ("intuitive", intuitive, 1),
                            ("window", window, 1), ("bins", bins, 1)):
        if not isinstance(value, int) or value < lo:
            raise ValueError(f"{name}={value!r} must be an integer >= {lo}")
    if 2 * window > budget or window > intuitive or bins > budget:
        raise ValueError(f"window={window} must be at most budget / 2 ({budget // 2}) and intuitive ({intuitive}), "
                         f"and bins={bins} at most budget")
    env_kwargs = dict(env_kwargs or {})
    folder = Path(run_dir) if run_dir is not None else None
    t0 = time.perf_counter()
    per_seed: dict[str, dict[str, Any]] = {}
    for rule in rules:
        per_seed[rule] = {}
        for seed in seeds:
            sub = folder / f"{rule}__{seed}" if folder is not None else None
            per_seed[rule][str(seed)] = run_seed(rule, seed, sub, steps, budget, intuitive, window, bins,
                                                 env_kwargs, overrides, progress)
    return {"rules": list(rules), "seeds": list(seeds), "steps": steps, "budget": budget, "intuitive": intuitive,
            "window": window, "env_kwargs": env_kwargs, "overrides": list(overrides),
            "seconds": time.perf_counter() - t0, "summary": aggregate(per_seed), "per_seed": per_seed}


def plot_bci(result: dict[str, Any]):
    """Left: success rate along the perturbation block (mean and 95% CI over seeds), within (solid) and
    outside (dashed) per rule, with the pre-perturbation level; middle: steps over min_steps; right: the
    fraction of pre-perturbation performance recovered, within vs outside, per rule."""
    import matplotlib  # deferred: matplotlib is slow to import and only the figure needs it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: as above

    summ = result["summary"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    for k, rule in enumerate(result["rules"]):
        color = f"C{k}"
        for name, ls in (("within", "-"), ("outside", "--")):
            curve = summ[rule][name]["curve"]
            x = np.array([p["trial"] for p in curve])
            for ax, f in ((axes[0], "success"), (axes[1], "steps_over_min")):
                m = np.array([p[f][0] for p in curve])
                h = np.array([p[f][1] for p in curve])
                ax.plot(x, m, ls, color=color, label=f"{rule.replace('_', ' ')}: {name}")
                ax.fill_between(x, m - h, m + h, color=color, alpha=0.12)
            axes[0].axhline(summ[rule][name]["pre_success"][0], color=color, ls=":", lw=0.8)
            axes[1].axhline(summ[rule][name]["pre_steps_over_min"][0], color=color, ls=":", lw=0.8)
    axes[0].set_ylabel("success rate")
    axes[0].set_ylim(0, 1.02)
    axes[1].set_ylabel("steps / min_steps (timeouts: 50 steps)")
    for ax in axes[:2]:
        ax.set_xlabel("trial of the perturbation block (per env)")
    axes[0].legend(fontsize=7)
    axes[0].set_title("dotted: last intuitive trials before", fontsize=8)
    w = 0.38
    for k, rule in enumerate(result["rules"]):
        for j, (name, hatch) in enumerate((("within", ""), ("outside", "//"))):
            m, h = summ[rule][name]["recovered"]
            axes[2].bar(k + (j - 0.5) * w, m, w, yerr=h, color=f"C{k}", hatch=hatch, alpha=0.8,
                        label=name if k == 0 else None, edgecolor="k", capsize=3)
            vals = [result["per_seed"][rule][s][name]["recovered"] for s in result["per_seed"][rule]]
            axes[2].plot([k + (j - 0.5) * w] * len(vals), vals, "k.", ms=3)
    axes[2].set_xticks(range(len(result["rules"])), [r.replace("_", "\n") for r in result["rules"]], fontsize=8)
    axes[2].axhline(0, color="k", lw=0.6)
    axes[2].set_ylabel("fraction of pre-perturbation\nperformance recovered")
    axes[2].legend(fontsize=8)
    fig.suptitle(f"BCI learning: the agent's 16 recurrent units drive the cursor; {result['budget']} perturbation "
                 f"trials per env after {result['steps']:,} steps of training ({len(result['seeds'])} seeds, "
                 "mean and 95% CI)", fontsize=9)
    fig.tight_layout()
    return fig


def save_bci(result: dict[str, Any], run_dir: str | Path, assets: str | Path | None = None) -> list[Path]:
    """Write ``bci.json`` and ``bci.png`` into ``run_dir`` (and both into ``assets``), atomically."""
    png = Path(assets) / "bci.png" if assets is not None else None
    paths = save_result_and_figure(result, plot_bci(result), run_dir, "bci", png)
    if assets is not None:
        write_json(result, Path(assets) / "bci.json")
        paths.append(Path(assets) / "bci.json")
    return paths


def summary(result: dict[str, Any]) -> str:
    """One line per rule: intuitive success untrained -> trained, and the recovery within vs outside."""
    lines = []
    for rule in result["rules"]:
        s = result["summary"][rule]
        fmt = lambda mh: f"{mh[0]:.2f} +- {mh[1]:.2f}"  # noqa: E731
        lines.append(f"{rule}: intuitive success {fmt(s['untrained']['success'])} untrained -> "
                     f"{fmt(s['trained']['success'])} trained (steps/min {fmt(s['trained']['steps_over_min'])}); "
                     f"recovered within {fmt(s['within']['recovered'])}, outside {fmt(s['outside']['recovered'])} "
                     f"(within - outside {fmt(s['within_minus_outside'])}; {s['seeds']} seeds)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rules", default="backprop,feedback_alignment",
                   help=f"comma-separated learning rules (allowed: {', '.join(trainable_rules())})")
    p.add_argument("--seeds", default="0-4", help="seeds, e.g. 0-4 or 0,2,5")
    p.add_argument("--steps", type=int, default=150_000, help="env steps of training on the intuitive decoder")
    p.add_argument("--budget", type=int, default=150, help="perturbation trials per env (the same for both)")
    p.add_argument("--intuitive", type=int, default=100, help="intuitive trials per env before the perturbation")
    p.add_argument("--window", type=int, default=25, help="trials per env in the pre / early / late windows")
    p.add_argument("--bins", type=int, default=6, help="points of the learning curve over the budget")
    p.add_argument("--run-dir", default="runs/bci", help="the run folder (finished phases are kept and reused)")
    p.add_argument("--fresh", action="store_true", help="delete the run folder first")
    p.add_argument("--assets", default=None, help="also write bci.png and bci.json into this folder")
    p.add_argument("overrides", nargs="*", metavar="section.key=value", help="config overrides of the recipe")
    a = p.parse_args(argv)
    try:
        rules = [r.strip() for r in a.rules.split(",") if r.strip()]
        seeds = parse_seeds(a.seeds)
        run_dir = Path(a.run_dir)
        if a.fresh and run_dir.exists():
            shutil.rmtree(run_dir)
        result = run_bci(rules, seeds, a.steps, a.budget, a.intuitive, a.window, a.bins, overrides=tuple(a.overrides),
                         run_dir=run_dir, progress=print)
    except ValueError as e:
        p.error(str(e))
    for path in save_bci(result, run_dir, a.assets):
        print(f"wrote {path}")
    print(summary(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
