"""The seed paper's Fig. 4, measured: where in a hierarchy does perceptual learning change the tuning?

Protocol (one seed, :func:`run_seed`):

1. **Development** (:func:`pretrain`): the hierarchical conv net (stages V1, V2, V4, IT, then fc1)
   learns coarse orientation classification of Gabors at every orientation (8 classes of 22.5 deg, the
   trained orientation at a class centre; low noise, 0-0.15), supervised, which gives orientation-tuned
   units in every stage but no training at the task's fine offsets or noise. The weights are cached per
   seed and protocol under ``runs/fig4_pretrained/`` so reruns skip it.
2. **Task instruction** (:func:`fit_readout`): with the body frozen, a logistic readout of the top
   features learns the clockwise / counter-clockwise report at the trained orientation and offset (the
   policy head; the value head starts at the expected reward). This is what a readout alone can do with
   the developed body: the threshold measured here is "before", so a threshold drop after step 3 is
   learning in the body, not only in the readout.
3. **Perceptual learning**: the whole agent trains on ``OrientationDiscrimination`` (32 x 32 Gabors,
   noise 0.25, offset 2 deg, one trial per episode, reward 1 for a correct report) through the normal
   trainer (PPO by default, ``algo='reinforce'`` for REINFORCE), with the chosen objective and learning
   rule, starting from those weights. The ideal observer's threshold for this stimulus is 1.04 deg.
4. **Measurement** (before and after, same stimuli): the behavioural 75% threshold (psychometric curve
   over offsets from the env's own stimulus generator, greedy reports, 2AFC Weibull fit); each stage's
   tuning (:func:`agents.probes.tuning.measure_tuning`), the after/before ratios of normalised slope at
   the trained orientation, amplitude and Fisher information, Schoups' binning, and the relative weight
   change per stage.

:func:`run_fig4` runs several seeds and :mod:`agents.experiments.fig4_report` summarises, plots and saves them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from agents.architectures import Agent, build_agent
from agents.config import resolve_config
from agents.experiments.fig4_protocol import PROTOCOL_FIELDS, Fig4Protocol, parse_protocol_set  # noqa: F401  (re-exported)
from agents.objectives import parse_spec
from agents.probes.tuning import Tuning, measure_tuning, relative_weight_change, tuning_change
from agents.rules import get_rule
from agents.run_folder import load_checkpoint, save_checkpoint
from agents.trainer import train
from brainset_envs.analysis.psychophysics import fit_weibull
from brainset_envs.core.files import atomic_path
from brainset_envs.tasks.orientation import OrientationCore, _BasisCache, render_gabors

ENV_ID = "BrainSet/OrientationDiscrimination-v0"


# --- the agent and its stimuli ----------------------------------------------------------------------


def new_agent(p: Fig4Protocol, seed: int) -> Agent:
    """A fresh agent for the protocol's env (same spaces and architecture as the trainer builds)."""
    core = OrientationCore(**p.env_kwargs())
    torch.manual_seed(seed)
    return build_agent(core.observation_space, core.action_space, p.arch())


def _features(agent: Agent, images: np.ndarray, batch: int = 1024) -> torch.Tensor:
    """Top features (policy trunk output) of uint8 images (N, H, W, 1), no gradient."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(agent.encode(torch.as_tensor(images[i:i + batch])))
    return torch.cat(out)


def stage_activation_fn(agent: Agent, window_px: int = 0) -> Callable[[np.ndarray], dict[str, np.ndarray]]:
    """Activation function for :func:`measure_tuning`: uint8 images -> every encoder stage (conv and fc).

    ``window_px`` > 0 records, in each conv stage, every position whose receptive-field centre lies in
    the central ``window_px`` x ``window_px`` pixels (at least the central 1 x 1; an even map gives at
    least 2 x 2), as separate units: returned as (N, C * positions, 1, 1), so that the probes' centre
    unit picks them all. More units per stage, as an electrode array samples neighbouring receptive
    fields; the default 0 keeps the probes' convention (the centre unit of each channel).
    """

    def fn(images: np.ndarray) -> dict[str, np.ndarray]:
        acts: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            agent.encode(torch.as_tensor(images), acts)
        out = {}
        for k, v in acts.items():
            if v.ndim == 4 and window_px > 0:
                h, w = v.shape[2], v.shape[3]
                wh = min(h, max(1 + (h + 1) % 2, round(window_px * h / images.shape[1])))
                ww = min(w, max(1 + (w + 1) % 2, round(window_px * w / images.shape[2])))
                y0, x0 = (h - wh) // 2, (w - ww) // 2
                v = v[:, :, y0:y0 + wh, x0:x0 + ww].flatten(1)[:, :, None, None]
            out[k] = v.cpu().numpy()
        return out

    return fn


def discrimination_trials(p: Fig4Protocol, offset: float, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` trials of the env's task at one offset, drawn by the env's own core: (images, labels)."""
    core = OrientationCore(**p.env_kwargs(offset))
    state = core.new_state(n)
    core.reset(state, None, np.random.default_rng(seed))
    return core.observe(state), state["label"].copy()


# --- 1. development ----------------------------------------------------------------------------------


class _Classifier(torch.nn.Module):
    """The agent's encoder and a classification head (the development task's network). The agent comes
    first, so a rule prepared on this module draws the same feedback for the agent's layers as when the
    trainer prepares the agent alone (feedback alignment's random matrices follow the module order)."""

    def __init__(self, agent: Agent, classes: int):
        super().__init__()
        self.agent, self.head = agent, torch.nn.Linear(agent.trunk.out_dim, classes)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.agent.encode(images))


def pretrain_rule(p: Fig4Protocol, rule: str, rule_kwargs: dict | None) -> tuple[str, dict]:
    """(rule name, options) of the development phase: ``p.pretrain_rule``, or the perceptual-learning
    rule when it is 'same'."""
    return (rule, dict(rule_kwargs or {})) if p.pretrain_rule == "same" else (p.pretrain_rule, {})


def pretrain(p: Fig4Protocol, seed: int, rule: str = "backprop", rule_kwargs: dict | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, torch.Tensor]:
    """Coarse orientation classification of noisy Gabors at all orientations (``p.pretrain_classes``
    classes centred on multiples of 180 / classes deg, so the trained orientation 0 sits at a class
    centre, where this task asks for no fine discrimination), learned with ``rule``; returns the agent's
    state dict (policy and value heads untouched)."""

    agent = new_agent(p, seed)
    k = p.pretrain_classes
    learning_rule = get_rule(rule, **(rule_kwargs or {}))
    model = learning_rule.prepare(_Classifier(agent, k))
    params = list(model.agent.trunk.parameters()) + list(model.head.parameters())
    opt = torch.optim.Adam(params, lr=p.pretrain_lr)
    rng = np.random.default_rng(seed + 7919)
    cache = _BasisCache(p.size, p.sf)
    lo, hi = p.pretrain_noise
    width = 180.0 / k
    for step in range(p.pretrain_steps):
        theta = rng.uniform(-width / 2, 180.0 - width / 2, p.pretrain_batch).round(0)  # 1-deg grid
        label = torch.as_tensor(np.clip(np.floor((theta + width / 2) / width), 0, k - 1).astype(np.int64))
        phase = rng.uniform(0.0, 2 * np.pi, p.pretrain_batch)
        noise = float(rng.uniform(lo, hi))
        img = torch.as_tensor(render_gabors(cache, theta, phase, p.contrast, noise, rng)
                              .reshape(-1, p.size, p.size, 1))
        opt.zero_grad(set_to_none=True)
        metrics = learning_rule.compute_grads(
            model, lambda img=img, label=label: torch.nn.functional.cross_entropy(model(img), label))
        opt.step()
        if progress is not None and (step + 1) % 500 == 0:
            loss = metrics.get("loss", float("nan"))
            progress(f"  pretrain ({rule}) step {step + 1}/{p.pretrain_steps}: loss {loss:.4f}")
    return {k: v.detach().clone() for k, v in agent.state_dict().items()}


def pretrained_weights(p: Fig4Protocol, seed: int, cache_dir: str | Path | None, rule: str = "backprop",
                       rule_kwargs: dict | None = None, progress: Callable[[str], None] | None = None
                       ) -> tuple[dict[str, torch.Tensor], bool]:
    """(pre-trained state dict, loaded from cache?) for the development ``rule``. Cached atomically in
    ``cache_dir`` when given, under a key of the protocol's development fields, the rule and the seed."""
    key = p.pretrain_key(rule, rule_kwargs)
    path = Path(cache_dir) / f"pretrained_{key}_seed{seed}.pt" if cache_dir else None
    if path is not None and path.exists():
        return load_checkpoint(path)["model"], True
    sd = pretrain(p, seed, rule, rule_kwargs, progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        save_checkpoint(path, {"model": sd, "protocol": p.to_dict(), "seed": seed, "rule": rule,
                               "rule_kwargs": rule_kwargs or {}})
    return sd, False


# --- 2. the readout ----------------------------------------------------------------------------------


def fit_readout(agent: Agent, p: Fig4Protocol, seed: int) -> dict[str, float]:
    """Fit the policy head as a logistic readout of the frozen top features for clockwise vs
    counter-clockwise at the training offset (in place). Returns its training accuracy."""
    images, labels = discrimination_trials(p, p.offset_deg, p.readout_trials, seed)
    x = _features(agent, images)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xs = (x - mu) / sd
    y = torch.as_tensor(labels == 0, dtype=torch.float32)  # 1 = clockwise (action 0)
    w = torch.zeros(x.shape[1], requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xs @ w + b, y) + p.readout_l2 * (w @ w)
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        w_raw = w / sd  # undo the standardisation
        b_raw = b - (mu * w_raw).sum()
        agent.policy.weight.copy_(torch.stack([w_raw / 2, -w_raw / 2]))
        agent.policy.bias.copy_(torch.cat([b_raw / 2, -b_raw / 2]))
        z = xs @ w + b
        acc = float(((z > 0).float() == y).float().mean())
        p_correct = float(torch.where(y > 0, torch.sigmoid(z), torch.sigmoid(-z)).mean())
        # the value of a one-trial episode is the expected reward: start the baseline there, so that the
        # first value updates do not push large errors into the (shared) body
        agent.value.weight.zero_()
        agent.value.bias.fill_(p_correct)
    return {"train_accuracy": acc, "expected_reward": p_correct}


# --- 4. measurement ----------------------------------------------------------------------------------


def psychometric(agent: Agent, p: Fig4Protocol, seed: int) -> dict[str, Any]:
    """Greedy reports at each of ``p.threshold_offsets`` (``p.threshold_trials`` each), Weibull fit."""
    acc, n = [], p.threshold_trials
    for j, off in enumerate(p.threshold_offsets):
        images, labels = discrimination_trials(p, off, n, seed * 1000 + j)
        with torch.no_grad():
            logits = torch.cat([agent(torch.as_tensor(images[i:i + 1024])).logits
                                for i in range(0, n, 1024)])
        acc.append(float((logits.argmax(1).numpy() == labels).mean()))
    offsets = np.asarray(p.threshold_offsets, float)
    k = np.round(np.asarray(acc) * n)
    fit = fit_weibull(offsets, k, np.full(len(k), float(n)), fit_lapse=True)
    # a 75% point beyond the largest offset tested is an extrapolation: reported as not reached (None)
    reached = fit.threshold <= offsets.max()
    return {"offsets": offsets.tolist(), "accuracy": acc, "n_trials": n, "fit": fit.to_dict(),
            "threshold": fit.threshold if reached else None, "threshold_reached": bool(reached)}


def measure(agent: Agent, p: Fig4Protocol, seed: int) -> dict[str, Any]:
    """Threshold, tuning curves and Fisher information of every stage (fixed stimulus seeds, so before
    and after see the same trials).

    Tuning curves: the mean response to ``p.tuning_repeats`` gratings per orientation at the task's noise
    (or ``p.tuning_noise``), their phases cycling through ``p.tuning_phases`` evenly spaced values (the
    phase average is then exact, only the pixel noise is sampled). Fisher information: ``p.fisher_repeats``
    random-phase trials at the trained orientation +/- ``p.fisher_delta_deg``, at the task's noise.
    """
    agent.eval()
    fn = stage_activation_fn(agent, p.units_window_px)
    stim = {"size": p.size, "sf": p.sf, "contrast": p.contrast}
    ori = np.arange(0.0, 180.0, p.tuning_step_deg)
    noise = p.noise_std if p.tuning_noise is None else p.tuning_noise
    curves = measure_tuning(fn, ori, n_repeats=p.tuning_repeats, noise_std=noise, phases=p.tuning_phases,
                            seed=seed + 31, **stim)
    d = p.fisher_delta_deg
    local = measure_tuning(fn, np.array([p.ref_deg - d, p.ref_deg, p.ref_deg + d]), n_repeats=p.fisher_repeats,
                           noise_std=p.noise_std, seed=seed + 37, **stim)
    return {"psychometric": psychometric(agent, p, seed + 17), "curves": curves, "local": local}


def fisher_information(local: dict[str, Tuning], theta0: float, units: dict[str, np.ndarray] | None = None
                       ) -> dict[str, dict[str, float]]:
    """Linear Fisher information per stage at ``theta0`` (bias-corrected) over ``units[stage]`` (a boolean
    mask; default every unit that varies), with its standard error (Kanitscheider et al. 2015):
    {stage: {"value", "se", "n_units"}}."""
    out = {}
    for s, t in local.items():
        keep = units[s] if units is not None else t.responses.std(axis=(0, 1)) > 0
        n, reps = int(keep.sum()), t.responses.shape[1]
        k = int(np.argmin(np.abs(t.orientations - theta0)))
        dtheta = float(t.orientations[(k + 1) % len(t.orientations)] - t.orientations[k - 1])
        if n == 0 or 2 * reps - n - 5 <= 0:
            out[s] = {"value": float("nan"), "se": float("nan"), "n_units": n}
            continue
        info = float(Tuning(t.orientations, t.responses[:, :, keep]).fisher_information(theta0))
        i2 = max(abs(info), 1e-12)
        var = 2 * i2**2 / (2 * reps - n - 5) * (1 + 4 * (2 * reps - 3) / (reps * i2 * dtheta**2)
                                               + 4 * n * (2 * reps - 3) / (reps**2 * i2**2 * dtheta**4))
        out[s] = {"value": info, "se": float(np.sqrt(var)), "n_units": n}
    return out


def stage_weights(agent: Agent, stages: tuple) -> dict[str, list[str]]:
    """Weight names (no biases) of each stage of the policy encoder."""
    names = [k for k in agent.state_dict() if k.startswith("trunk.encoder.") and k.endswith(".weight")]
    out = {s: [k for k in names if f".{s}." in k] for s in stages}
    missing = [s for s, v in out.items() if len(v) != 1]
    if missing:
        raise KeyError(f"stages {missing} have no single weight tensor in the encoder ({names})")
    return out


def _deg(psy: dict[str, Any]) -> str:
    t = psy["threshold"]
    return f"{t:.3f} deg" if t is not None else f"> {max(psy['offsets']):g} deg (not reached)"


def _numpy_sd(sd: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    return {k: v.detach().cpu().numpy() for k, v in sd.items()}


def compare(before: dict[str, Any], after: dict[str, Any], p: Fig4Protocol) -> dict[str, dict[str, Any]]:
    """Per stage: :func:`tuning_change` of the smoothed curves, and the Fisher information at the task's
    noise before and after (its ratio only where the information before is resolved, > 2 SE)."""
    smooth = {key: {k: v.smoothed(p.tuning_harmonics) for k, v in m["curves"].items()}
              for key, m in (("before", before), ("after", after))}
    change = tuning_change(smooth["before"], smooth["after"], p.ref_deg)
    for s, c in change.items():  # the slope without normalisation, to tell tuning from baseline changes
        b, a = smooth["before"][s], smooth["after"][s]
        keep = (b.mean.max(axis=0) > 1e-9) & (a.mean.max(axis=0) > 1e-9)
        db, da = np.median(np.abs(b.derivative(p.ref_deg))[keep]), np.median(np.abs(a.derivative(p.ref_deg))[keep])
        c["abs_slope_ratio"] = float(da / db) if keep.any() and db > 0 else float("nan")
    varies = {s: (before["local"][s].responses.std(axis=(0, 1)) > 0)
              & (after["local"][s].responses.std(axis=(0, 1)) > 0) for s in before["local"]}
    fi_b = fisher_information(before["local"], p.ref_deg, varies)
    fi_a = fisher_information(after["local"], p.ref_deg, varies)
    for s in change:
        b, a = fi_b[s], fi_a[s]
        resolved = b["value"] > 2 * b["se"]
        change[s].update(fisher_before=b["value"], fisher_before_se=b["se"], fisher_after=a["value"],
                         fisher_after_se=a["se"], fisher_units=b["n_units"],
                         fisher_ratio=a["value"] / b["value"] if resolved else float("nan"))
    return change


# --- one seed, end to end ----------------------------------------------------------------------------


def train_config(p: Fig4Protocol, seed: int, rule: str, objective: str, runs_dir: str | Path,
                 device: str = "cpu", num_threads: int = 1, rule_kwargs: dict | None = None):
    """The trainer's config for the perceptual-learning phase."""

    names = {n for _, n in parse_spec(objective)}
    obj_kwargs = {"reward": {"algo": p.algo, "gamma": 0.0, "ent_coef": p.ent_coef}} if "reward" in names else {}
    override = {
        "env": {"id": ENV_ID, "kwargs": p.env_kwargs(), "num_envs": p.num_envs},
        "arch": asdict(p.arch()),
        "objective": {"spec": objective, "kwargs": obj_kwargs},
        "rule": {"name": rule, "kwargs": rule_kwargs or {}},
        "train": {"total_steps": p.train_steps, "num_steps": p.num_steps, "update_epochs": p.update_epochs,
                  "num_minibatches": p.num_minibatches, "lr": p.lr, "anneal_lr": False},
        "run": {"seed": seed, "device": device, "num_threads": num_threads, "runs_dir": str(runs_dir),
                "eval_every": 0, "eval_episodes": 500, "checkpoint_every": 0, "video": False,
                "progress": False, "tensorboard": False},
    }
    cfg = resolve_config(ENV_ID, overrides=[override])
    cfg.objective.kwargs = obj_kwargs  # replace (not merge) the env defaults' objective options
    return cfg


def run_seed(p: Fig4Protocol, seed: int, rule: str = "backprop", objective: str = "reward",
             out_dir: str | Path = "runs/fig4", cache_dir: str | Path | None = "runs/fig4_pretrained",
             device: str = "cpu", num_threads: int = 1, rule_kwargs: dict | None = None,
             progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The whole protocol for one seed; returns a JSON-ready dict (the trained run is in ``out_dir``)."""

    say = progress or (lambda s: None)
    t0 = time.perf_counter()
    dev_rule, dev_kwargs = pretrain_rule(p, rule, rule_kwargs)
    sd, cached = pretrained_weights(p, seed, cache_dir, dev_rule, dev_kwargs, progress)
    t_pre = time.perf_counter() - t0
    agent = new_agent(p, seed)
    agent.load_state_dict(sd)
    readout = fit_readout(agent, p, seed + 101)
    init = {k: v.detach().clone() for k, v in agent.state_dict().items()}
    before = measure(agent, p, seed)
    say(f"  seed {seed}: pre-trained with {dev_rule} ({'cache' if cached else f'{t_pre:.0f} s'}), readout "
        f"accuracy {readout['train_accuracy']:.3f}, threshold before {_deg(before['psychometric'])}")
    t1 = time.perf_counter()
    cfg = train_config(p, seed, rule, objective, Path(out_dir).parent, device, num_threads, rule_kwargs)
    res = train(cfg, run_dir=Path(out_dir) / f"seed{seed}", init_weights=init,
                command=f"agents.experiments.fig4.run_seed(seed={seed}, rule={rule!r}, objective={objective!r})")
    trained = res.agent.to("cpu")
    after = measure(trained, p, seed)
    change = compare(before, after, p)
    weights = relative_weight_change(_numpy_sd(trained.state_dict()), _numpy_sd(init),
                                     stage_weights(trained, p.weight_stages))
    say(f"  seed {seed}: trained {res.global_step} steps in {time.perf_counter() - t1:.0f} s, threshold "
        f"after {_deg(after['psychometric'])}; slope ratio "
        + " ".join(f"{s} {change[s]['slope_ratio']:.2f}" for s in change))
    curves = Path(out_dir) / f"seed{seed}" / "tuning_curves.npz"
    with atomic_path(curves) as tmp:  # mean curves per stage, (orientations, units), for one's own plots
        np.savez_compressed(tmp, orientations=before["curves"][next(iter(change))].orientations,
                            **{f"before/{k}": v.mean for k, v in before["curves"].items()},
                            **{f"after/{k}": v.mean for k, v in after["curves"].items()})
    return {"seed": seed, "pretrain": {"rule": dev_rule, "rule_kwargs": dev_kwargs, "cached": cached},
            "readout": readout,
            "before": before["psychometric"], "after": after["psychometric"],
            "tuning_change": change, "weight_change": weights, "tuning_curves": str(curves),
            "train": {"run_dir": str(res.run_dir), "env_steps": res.global_step, "updates": res.updates,
                      "eval_return": res.last_eval, "seconds": round(res.elapsed, 1)}}
