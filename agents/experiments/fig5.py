"""The seed paper's Fig. 5 as an experiment: each learning rule's credit signal in units tuned to the
reinforced (S+) and the unreinforced (S-) stimulus, before, during and after Go/NoGo learning.

``brainset fig5`` (``scripts/fig5.py``). A small MLP (16 x 16 image -> ``hidden`` ReLU units -> 2 outputs) learns
``BrainSet/OrientationGoNoGo-v0`` (S+ = +20 deg, "go" pays 1; S- = -20 deg, a false alarm costs 0.5; no-go 0)
from its own choices, 128 trials per update, with each rule in its natural reinforcement-learning form:

- backprop, feedback alignment, dendritic error: a softmax policy over the outputs, the policy-gradient loss
  ``-A log pi(a|x)`` with the advantage ``A = r - mean(r)`` of the batch;
- AGREL: action values, the epsilon-greedy selection of :meth:`AGREL.select`, the selected output's RPE.

At three points (before, during: after a quarter of the updates, after) a probe batch of trials (the net's
own choices and the env's rewards, from a stream of their own) gives per trial and hidden unit the rule's
credit signal (:mod:`agents.probes.credit`: backprop's ``-dc/dh``, feedback alignment's ``B^T e``, AGREL's
tag x RPE, the dendritic rule's apical potential). Units are grouped by preferred stimulus with the tuning
probe (:func:`agents.probes.tuning.measure_tuning` at +/-20 deg); silent units are left out. Reported per
rule, phase and seed: the mean signal of S+-tuned and S--tuned units on S+ and S- trials; the fraction of the
hidden layer's weight change carried by AGREL-tagged units (nonzero feedback from the selected output); the
fraction of weight changes whose sign is that of RPE x tag (RPE: the advantage for the policy-gradient rules);
the hit and false-alarm rates. Then mean and 95% t interval over seeds, a JSON and a PNG.

Each (rule, seed) result is written atomically to the run folder as it finishes: an interrupted run resumes
with the pairs still missing, and a finished one is loaded, not retrained.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from agents.experiments.sweep import t_interval
from agents.probes.credit import credit_signals, gated_credit, hidden_rates, selected_rpe_loss, tags
from agents.probes.tuning import measure_tuning
from agents.rules import get_rule
from agents.rules.agrel import AGREL
from agents.rules.base import LearningRule, registered_rules
from brainset_envs.core.files import save_result_and_figure, write_json

ENV_ID = "BrainSet/OrientationGoNoGo-v0"
RULES = ("backprop", "feedback_alignment", "agrel", "dendritic_error")
PHASES = ("before", "during", "after")
GROUPS = ("S+ units, S+ trials", "S+ units, S- trials", "S- units, S+ trials", "S- units, S- trials")
S_PLUS, S_MINUS = 0, 1  # the env's labels: S+ is the clockwise stimulus


@dataclass(frozen=True)
class Fig5Protocol:
    """The knobs of one Fig. 5 run (defaults: the assets' run)."""

    size: int = 16  # image side (px)
    hidden: int = 32  # hidden ReLU units
    batch: int = 128  # trials per update
    updates: int = 400
    lr: float = 1e-3  # Adam
    epsilon: float = 0.05  # AGREL's exploration
    probe_trials: int = 512
    curve_every: int = 25  # updates between points of the learning curve
    false_alarm_reward: float = 0.0  # go on S-: 0 = unreinforced (the paper's Fig. 5), < 0 = a timeout's cost

    def __post_init__(self) -> None:
        for name, low in (("size", 16), ("hidden", 2), ("batch", 2), ("updates", 4), ("probe_trials", 8),
                          ("curve_every", 1)):
            v = getattr(self, name)
            if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
                raise ValueError(f"{name}={v!r} must be an integer >= {low}")
        for name, lo, hi in (("lr", 0.0, 1.0), ("epsilon", 0.0, 1.0), ("false_alarm_reward", -10.0, 1.0)):
            v = getattr(self, name)
            if not (isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi
                    and (name != "lr" or v > 0)):
                raise ValueError(f"{name}={v!r} must be a number in {'(' if name == 'lr' else '['}{lo}, {hi}]")

    @property
    def checkpoints(self) -> dict[str, int]:
        """Update counts at which the credit signals are probed."""
        return {"before": 0, "during": self.updates // 4, "after": self.updates}


QUICK = Fig5Protocol(hidden=16, batch=64, updates=40, probe_trials=128, curve_every=10)


def check_rules(names: Sequence[str]) -> tuple[str, ...]:
    """Registered rules that train a layered MLP from a per-trial loss (the four above, sign symmetry, DFA)."""
    allowed = [r for r in registered_rules() if r in RULES or r in ("sign_symmetry", "direct_feedback_alignment")]
    for n in names:
        if n not in allowed:
            raise ValueError(f"rule={n!r} cannot run Fig. 5; allowed: {allowed}")
    if not names:
        raise ValueError("rules is empty; give at least one of " + ", ".join(allowed))
    return tuple(names)


def _net(p: Fig5Protocol, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(p.size * p.size, p.hidden), nn.ReLU(), nn.Linear(p.hidden, 2))


def _inputs(obs: np.ndarray) -> torch.Tensor:
    return (torch.as_tensor(obs, dtype=torch.float32) - 128.0) / 128.0


def _rule(name: str, seed: int, p: Fig5Protocol) -> LearningRule:
    if name == "agrel":
        return get_rule(name, epsilon=p.epsilon, seed=seed)
    return get_rule(name) if name == "backprop" else get_rule(name, seed=seed)  # the others draw feedback weights


class _Chooser:
    """The rule's selection policy (AGREL: epsilon-greedy over Q, :meth:`AGREL.policy`; the others: softmax),
    sampled from a generator of its own, so that probing never shifts the training run's draws."""

    def __init__(self, rule: LearningRule, seed: int):
        self.rule, self.gen = rule, torch.Generator().manual_seed(seed)

    def __call__(self, out: torch.Tensor) -> torch.Tensor:
        q = out.detach().double()
        probs = self.rule.policy(q) if isinstance(self.rule, AGREL) else torch.softmax(q, 1)
        return torch.multinomial(probs, 1, generator=self.gen).squeeze(1)


def trial_loss(rule: LearningRule, actions: torch.Tensor, rewards: torch.Tensor) -> tuple[Callable, torch.Tensor]:
    """(per-trial loss of the outputs, the RPE of each trial): AGREL's selected-output squared RPE, or the
    policy-gradient loss with the batch-mean baseline."""
    if isinstance(rule, AGREL):
        loss = selected_rpe_loss(actions, rewards)
        return loss, torch.empty(0)  # the RPE depends on Q: computed by the caller
    adv = rewards - rewards.mean()

    def pg(out: torch.Tensor) -> torch.Tensor:
        return -adv.to(out.dtype) * torch.log_softmax(out, 1).gather(1, actions[:, None]).squeeze(1)

    return pg, adv


def _env(p: Fig5Protocol, n: int) -> gym.vector.VectorEnv:
    return gym.make_vec(ENV_ID, num_envs=n, vectorization_mode="vector_entry_point", size=p.size,
                        reward_wrong=p.false_alarm_reward)


def probe(net: nn.Module, rule: LearningRule, p: Fig5Protocol, seed: int) -> dict[str, Any]:
    """Credit signals by tuning group, tagged fraction, sign agreement and behaviour on a probe batch."""
    env = _env(p, p.probe_trials)
    obs, info = env.reset(seed=seed + 100_000)
    x = _inputs(obs)
    with torch.no_grad():
        out = nn.Sequential.forward(net, x)  # type: ignore[arg-type]
    actions = _Chooser(rule, seed + 100_001)(out)
    _, reward, *_ = env.step(actions.numpy())
    env.close()
    rewards = torch.as_tensor(reward, dtype=torch.float32)
    loss, rpe = trial_loss(rule, actions, rewards)
    if isinstance(rule, AGREL):
        rpe = rewards - out.gather(1, actions[:, None]).squeeze(1)
    credit = credit_signals(net, rule, x, loss).double()
    gated = gated_credit(net, rule, x, loss).double()
    tag = tags(net, x, actions).double()
    label = torch.as_tensor(info["label"])

    def act_fn(images: np.ndarray) -> dict[str, np.ndarray]:
        return {"hidden": hidden_rates(net, _inputs(images))[1].numpy()}

    tuning = measure_tuning(act_fn, np.array([20.0, -20.0]), n_repeats=64, size=p.size, noise_std=0.1,
                            seed=seed + 100_003)["hidden"]
    mean_resp = tuning.responses.mean(1)  # (2 stimuli, units)
    active = mean_resp.max(0) > 1e-6
    pref_plus = torch.as_tensor(active & (mean_resp[0] > mean_resp[1]))
    pref_minus = torch.as_tensor(active & (mean_resp[0] <= mean_resp[1]))
    signals = {}
    for g, (units, trials) in zip(GROUPS, ((pref_plus, S_PLUS), (pref_plus, S_MINUS), (pref_minus, S_PLUS),
                                           (pref_minus, S_MINUS)), strict=True):
        block = credit[label == trials][:, units]
        signals[g] = float(block.mean()) if block.numel() else None
    weight = x.reshape(len(x), -1).abs().sum(1).double()[:, None]  # each trial's change of row j: |gated_j| |x|_1
    change = gated.abs() * weight
    tagged = float((change * (tag != 0)).sum() / change.sum()) if float(change.sum()) > 0 else None
    both = (gated != 0) & (tag != 0) & (rpe.double()[:, None] != 0)
    agree = (torch.sign(gated) == torch.sign(rpe.double()[:, None] * tag)) & both
    go = actions == 0
    return {
        "signals": signals, "tagged_fraction": tagged,
        "sign_agreement": float(agree.sum() / both.sum()) if int(both.sum()) else None,
        "hit_rate": float(go[label == S_PLUS].double().mean()),
        "false_alarm_rate": float(go[label == S_MINUS].double().mean()),
        "accuracy": float((actions == label).double().mean()),
        "units": {"S+": int(pref_plus.sum()), "S-": int(pref_minus.sum()), "silent": int((~active).sum())},
    }


def train_seed(rule_name: str, seed: int, p: Fig5Protocol, progress: Callable[[str], None] | None = None
               ) -> dict[str, Any]:
    """Train one net with one rule from its own choices; probe it at the three checkpoints."""
    t0 = time.perf_counter()
    rule = _rule(rule_name, seed, p)
    net = rule.prepare(_net(p, seed))
    opt = torch.optim.Adam(net.parameters(), lr=p.lr)
    env = _env(p, p.batch)
    env.reset(seed=seed)
    choose = _Chooser(rule, seed + 1)
    probes: dict[str, Any] = {}
    rates: list[tuple[float, float]] = []  # (hit, false alarm) of each training batch
    marks = {v: k for k, v in p.checkpoints.items()}
    for update in range(p.updates + 1):
        if update in marks:
            probes[marks[update]] = probe(net, rule, p, seed)
        if update == p.updates:
            break
        obs, info = env.reset()
        x = _inputs(obs)
        with torch.no_grad():
            out = net(x)
        actions = choose(out)
        _, reward, *_ = env.step(actions.numpy())
        rewards = torch.as_tensor(reward, dtype=torch.float32)
        label, go = torch.as_tensor(info["label"]), actions == 0
        rates.append((float(go[label == S_PLUS].double().mean()), float(go[label == S_MINUS].double().mean())))
        opt.zero_grad(set_to_none=True)
        if isinstance(rule, AGREL):
            rule.set_outcome(actions, rewards)  # the closure only runs the model on the trials' inputs
            loss: Callable[[torch.Tensor], torch.Tensor] = torch.sum
        else:
            loss = trial_loss(rule, actions, rewards)[0]

        def closure(x: torch.Tensor = x, loss: Callable[[torch.Tensor], torch.Tensor] = loss) -> torch.Tensor:
            return loss(net(x)).mean()
        rule.compute_grads(net, closure)
        opt.step()
    env.close()
    r = np.array(rates)
    curve = [{"update": i + p.curve_every, "hit_rate": float(r[i:i + p.curve_every, 0].mean()),
              "false_alarm_rate": float(r[i:i + p.curve_every, 1].mean())} for i in range(0, len(r), p.curve_every)]
    if progress:
        after = probes["after"]
        progress(f"fig5 {rule_name} seed {seed}: hit {after['hit_rate']:.2f}, false alarms "
                 f"{after['false_alarm_rate']:.2f} ({time.perf_counter() - t0:.1f} s)")
    return {"rule": rule_name, "seed": seed, "probes": probes, "curve": curve,
            "seconds": round(time.perf_counter() - t0, 2)}


def _interval(values: list[float | None]) -> dict[str, Any]:
    v = [x for x in values if x is not None and math.isfinite(x)]
    if not v:
        return {"mean": None, "ci95": None, "n": 0}
    if len(v) == 1:
        return {"mean": v[0], "ci95": None, "n": 1}
    m, h, n = t_interval(v)
    return {"mean": m, "ci95": h, "n": n}


def summarise(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean and 95% t interval over seeds of every probed figure, per rule and phase."""
    out: dict[str, Any] = {}
    for rule in dict.fromkeys(r["rule"] for r in per_seed):
        runs = [r for r in per_seed if r["rule"] == rule]
        out[rule] = {}
        for ph in PHASES:
            probes = [r["probes"][ph] for r in runs]
            entry = {g: _interval([q["signals"][g] for q in probes]) for g in GROUPS}
            for k in ("tagged_fraction", "sign_agreement", "hit_rate", "false_alarm_rate", "accuracy"):
                entry[k] = _interval([q[k] for q in probes])
            out[rule][ph] = entry
    return out


def _seed_path(run_dir: Path, rule: str, seed: int) -> Path:
    return run_dir / "seeds" / f"{rule}__{seed}.json"


def run_fig5(rules: Sequence[str] = RULES, seeds: Sequence[int] = (0, 1, 2, 3, 4), p: Fig5Protocol = Fig5Protocol(),
             run_dir: str | Path | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train and probe every (rule, seed); with ``run_dir`` each pair is saved as it ends and reused when the
    run is started again (a protocol different from the folder's is refused)."""
    rules = check_rules(list(rules))
    if not seeds or any(not isinstance(s, int) or isinstance(s, bool) or s < 0 for s in seeds):
        raise ValueError(f"seeds={list(seeds)!r} must be a non-empty list of integers >= 0")
    t0 = time.perf_counter()
    folder = Path(run_dir) if run_dir is not None else None
    if folder is not None:
        saved = folder / "protocol.json"
        if saved.exists() and json.loads(saved.read_text()) != asdict(p):
            raise ValueError(f"run folder {folder} holds a run of another protocol ({saved}); use another "
                             "--runs-dir or remove it")
        write_json(asdict(p), saved)
    per_seed = []
    for rule in rules:
        for seed in seeds:
            path = _seed_path(folder, rule, seed) if folder is not None else None
            if path is not None and path.exists():
                per_seed.append(json.loads(path.read_text()))
                continue
            result = train_seed(rule, seed, p, progress)
            if path is not None:
                write_json(result, path)
            per_seed.append(result)
    return {"env": ENV_ID, "rules": list(rules), "seeds": list(seeds), "protocol": asdict(p),
            "checkpoints": p.checkpoints, "groups": list(GROUPS), "summary": summarise(per_seed),
            "per_seed": per_seed, "seconds": round(time.perf_counter() - t0, 1)}


CHANGES = {"S+ units, S+ trials": GROUPS[0], "S- units, S+ trials": GROUPS[2], "S- units, S- trials": GROUPS[3]}


def changes(result: dict[str, Any], phase: str = "during") -> dict[str, dict[str, Any]]:
    """Per rule, the change from before to ``phase`` of the signals that the two predictions concern
    (:data:`CHANGES`): mean and 95% t interval over seeds of the paired per-seed differences."""
    out: dict[str, dict[str, Any]] = {}
    for rule in result["rules"]:
        runs = [r for r in result["per_seed"] if r["rule"] == rule]
        out[rule] = {}
        for key, g in CHANGES.items():
            d = [r["probes"][phase]["signals"][g] - r["probes"]["before"]["signals"][g] for r in runs
                 if r["probes"][phase]["signals"][g] is not None and r["probes"]["before"]["signals"][g] is not None]
            out[rule][key] = _interval(d)
    return out


def _sign(st: dict[str, Any]) -> int:
    """+1 / -1 where the interval excludes 0, else 0."""
    if st["mean"] is None or st["ci95"] is None or abs(st["mean"]) <= st["ci95"]:
        return 0
    return 1 if st["mean"] > 0 else -1


def verdicts(result: dict[str, Any]) -> dict[str, dict[str, bool]]:
    """Per rule, which of the two predictions the change of the signals from before to during learning
    shows (a change counts only where its 95% interval over seeds excludes 0):

    - ``asymmetric``, the seed paper's Fig. 5: on the reinforced (S+) trials the signal rises in S+-tuned
      units and falls in S--tuned units;
    - ``symmetric``, what Benezra et al. observed in tuft responses: each tuned group's signal on its own
      stimulus rises, in S+-tuned units on S+ trials and in S--tuned units on S- trials.

    During, not after: every rule here is error-driven, so its signals fade once the task is learned."""
    out = {}
    for rule, ch in changes(result).items():
        up_plus = _sign(ch["S+ units, S+ trials"]) == 1
        out[rule] = {"asymmetric": up_plus and _sign(ch["S- units, S+ trials"]) == -1,
                     "symmetric": up_plus and _sign(ch["S- units, S- trials"]) == 1}
    return out


def verdict_word(v: dict[str, bool]) -> str:
    """'asymmetric', 'symmetric', 'both' or 'neither'."""
    return {(True, True): "both", (True, False): "asymmetric", (False, True): "symmetric",
            (False, False): "neither"}[(v["asymmetric"], v["symmetric"])]


def plot_fig5(result: dict[str, Any]):
    """One panel per rule (the four signals per phase, mean and 95% CI over seeds), then the learning curves
    and the tagged fraction / sign agreement after learning."""
    # deferred: matplotlib is slow to import; only the figure needs it
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: after choosing the Agg backend

    rules, summ = result["rules"], result["summary"]
    n = len(rules)
    fig, axes = plt.subplots(2, max(n, 2), figsize=(3.6 * max(n, 2), 6.6), squeeze=False)
    colours = ("#1f77b4", "#9ecae1", "#d62728", "#fcae91")
    width = 0.2
    for i, rule in enumerate(rules):
        ax = axes[0, i]
        for k, g in enumerate(GROUPS):
            means = [summ[rule][ph][g]["mean"] for ph in PHASES]
            errs = [summ[rule][ph][g]["ci95"] or 0.0 for ph in PHASES]
            xs = np.arange(len(PHASES)) + (k - 1.5) * width
            ax.bar(xs, [m if m is not None else np.nan for m in means], width, yerr=errs, color=colours[k],
                   label=g, capsize=2, hatch="//" if "S- trials" in g else None, edgecolor="k", linewidth=0.4)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xticks(range(len(PHASES)), PHASES)
        ax.set_title(f"{rule}: {verdict_word(verdicts(result)[rule])}", fontsize=9)
        if i == 0:
            ax.set_ylabel("credit signal (mean over units, trials)")
    for j in range(n, axes.shape[1]):
        axes[0, j].axis("off")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    ax = axes[1, 0]
    for rule in rules:
        runs = [r for r in result["per_seed"] if r["rule"] == rule]
        ups = [c["update"] for c in runs[0]["curve"]]
        hit = np.mean([[c["hit_rate"] for c in r["curve"]] for r in runs], 0)
        fa = np.mean([[c["false_alarm_rate"] for c in r["curve"]] for r in runs], 0)
        line, = ax.plot(ups, hit, label=f"{rule} hits")
        ax.plot(ups, fa, ls="--", color=line.get_color())
    ax.set_xlabel("update")
    ax.set_ylabel("P(go): hits (solid), false alarms (dashed)")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    ax = axes[1, 1]
    pos = np.arange(n)
    for k, (key, label) in enumerate((("tagged_fraction", "weight change in tagged units"),
                                      ("sign_agreement", "sign agrees with RPE x tag"))):
        vals = [summ[r]["after"][key]["mean"] for r in rules]
        errs = [summ[r]["after"][key]["ci95"] or 0.0 for r in rules]
        ax.bar(pos + (k - 0.5) * 0.35, [v if v is not None else np.nan for v in vals], 0.35, yerr=errs,
               label=label, capsize=2)
    ax.set_xticks(pos, rules, rotation=20, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("after learning", fontsize=9)
    for j in range(2, axes.shape[1]):
        axes[1, j].axis("off")
    fig.suptitle(f"Fig. 5 on {result['env']}: credit signals by tuning group ({len(result['seeds'])} seeds)",
                 fontsize=10)
    fig.tight_layout()
    return fig


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The printout: per rule the behaviour after learning, the signal changes and the verdict."""
    ch, ver, out = changes(result), verdicts(result), []
    for rule in result["rules"]:
        a = result["summary"][rule]["after"]

        def f(st: dict[str, Any], spec: str = ".3f") -> str:
            if st["mean"] is None:
                return "-"
            return f"{st['mean']:{spec}}" + (f" +- {st['ci95']:{spec}}" if st["ci95"] is not None else "")

        c = ch[rule]
        out.append(f"{rule}: {verdict_word(ver[rule])}; hits {f(a['hit_rate'], '.2f')}, false alarms "
                   f"{f(a['false_alarm_rate'], '.2f')}; change on S+ trials of S+ units {f(c['S+ units, S+ trials'])}, "
                   f"of S- units {f(c['S- units, S+ trials'])}; of S- units on S- trials "
                   f"{f(c['S- units, S- trials'])}; tagged fraction {f(a['tagged_fraction'])}, sign agreement "
                   f"{f(a['sign_agreement'])}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated rules (default: %(default)s)")
    ap.add_argument("--seeds", type=int, default=5, help="number of seeds, 0..N-1 (default: %(default)s)")
    ap.add_argument("--updates", type=int, default=None, help="updates of 128 trials (default: 400)")
    ap.add_argument("--false-alarm-reward", type=float, default=0.0, help="reward of go on S- (default 0: "
                    "unreinforced, as in the paper's Fig. 5; e.g. -0.5: a timeout's cost)")
    ap.add_argument("--quick", action="store_true", help="a small, short protocol (a smoke test, not a result)")
    ap.add_argument("--runs-dir", default="runs", help="parent of the run folder (runs/fig5[_quick])")
    ap.add_argument("--assets", default=None, help="also write fig5.png and fig5.json into this folder "
                    "(the README's figure and the docs page's numbers)")
    a = ap.parse_args(argv)
    if a.seeds < 1:
        ap.error(f"argument --seeds: {a.seeds} must be >= 1")
    p = QUICK if a.quick else Fig5Protocol()
    try:
        p = Fig5Protocol(**{**asdict(p), "updates": p.updates if a.updates is None else a.updates,
                            "false_alarm_reward": a.false_alarm_reward})
    except ValueError as e:
        ap.error(str(e))
    try:
        rules = check_rules([r.strip() for r in a.rules.split(",") if r.strip()])
    except ValueError as e:
        ap.error(f"argument --rules: {e}")
    stem = "fig5" if p.false_alarm_reward == 0 else f"fig5_fa{p.false_alarm_reward:g}"
    run_dir = Path(a.runs_dir) / (stem + ("_quick" if a.quick else ""))
    result = run_fig5(rules, list(range(a.seeds)), p, run_dir, progress=print)
    png = Path(a.assets) / f"{stem}.png" if a.assets else None
    for path in save_result_and_figure(result, plot_fig5(result), run_dir, "fig5", png):
        print(f"wrote {path}")
    if a.assets:
        write_json(result, Path(a.assets) / f"{stem}.json")
        print(f"wrote {Path(a.assets) / f'{stem}.json'}")
    print("\n".join(summary_lines(result)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def readme_sentence(result: dict[str, Any]) -> str:
    """The README's statement of which rules show which prediction, from a run's result (a test checks that
    the README says what ``assets/fig5.json`` shows)."""
    ver = verdicts(result)

    def names(key: str, want: bool) -> str:
        hit = [r for r in result["rules"] if ver[r][key] == want]
        return ", ".join(hit) if hit else "no rule"

    neither = [r for r in result["rules"] if not (ver[r]["asymmetric"] or ver[r]["symmetric"])]
    return (f"Fig. 5 ({len(result['seeds'])} seeds, S- unreinforced): the paper's asymmetric prediction (on "
            f"rewarded S+ trials the credit signal rises in S+-tuned units and falls in S--tuned units) shows in "
            f"{names('asymmetric', True)}; the symmetric enhancement Benezra et al. observed (each tuned group's "
            f"signal rises on its own stimulus) in {names('symmetric', True)}; neither, within the 95% intervals, "
            f"in {', '.join(neither) if neither else 'no rule'}.")
