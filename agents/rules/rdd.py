"""RDD feedback: feedback weights learned from each hidden neuron's causal effect, estimated at its spiking
threshold (Guerguiev, Kording & Richards, ICLR 2020, arXiv:1910.01689; the estimator is Lansdell &
Kording's regression discontinuity design, PLoS Comput Biol 19(4):e1011005, 2023: the seed paper's ref. 93).

The forward weights train like feedback alignment: every ``Linear`` of the MLP becomes a feedback layer
(:mod:`agents.rules._feedback_layers`) whose backward pass sends the error through a feedback matrix
``B`` (same shape as ``W``; initially random, as feedback alignment draws it). Here ``B`` is learned. At
every update, after the gradient has been computed with the current ``B``, each hidden layer's rates
``r`` on the batch (the input of the next ``Linear``, ``W``) drive a leaky integrate-and-fire stand-in of
that layer for ``samples`` windows (:func:`agents.rules.rdd_estimate.lif_window`; mean input
``0.6 + 0.4 clamp(r, -1, 1)``, noise with a shared part ``shared`` that confounds the neurons with one
another). A spike of hidden neuron ``j`` adds ``W[i, j]`` to the drive of downstream unit ``i`` (plus noise
``outcome_noise``); the RDD estimate ``beta[i, j]`` of that effect, from the trials whose maximum drive
fell within ``window`` of threshold, moves ``B`` toward it: ``B <- B + feedback_lr (beta - B)`` (neurons
without ``3`` trials on each side of threshold in the window are skipped). So ``B`` tracks ``W`` (it is
the causal effect of a spike), without ``W`` ever being sent backwards, and the update approaches
backprop's as the estimates accumulate. The observed dependence (spike vs no spike) would instead pick up
the other neurons that the shared noise makes fire together.

Options: ``window`` (half-width of the drive window around threshold 1), ``samples`` (windows per
estimate), ``feedback_lr`` (in (0, 1]), ``steps`` (time steps per window; 20 steps of ``dt_tau`` 0.2
align B as fast as 50 of 0.1 at 2.5x less cost), ``shared`` (common noise fraction), ``outcome_noise``,
``seed`` and ``scale`` (the initial random ``B``, as feedback alignment), ``estimator='naive'`` (learn
``B`` from the observed dependence instead, for comparison: with the default shared noise it settles far
from ``W``).
Inside :func:`agents.rules.frozen_rule_state` (the Fig. 2 probes) ``B`` is used but not updated.
Only MLPs: an ``nn.Sequential`` of ``Linear`` layers and elementwise nonlinearities (optional leading
``Flatten``), at least one hidden layer; ``prepare`` names what it refuses. The trainer's agents are no
such chain, so the rule is kept out of the trainer-level task check (``trains_agents = False``); the
REINFORCE check on a small MLP (tests/agents/rules/test_on_a_task.py) runs it.

Measured (tests/agents/rules/test_rdd.py): see the README's rules section.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from agents.rules._feedback_layers import FeedbackLinear
from agents.rules._support import check_prepared, linear_chain, mark_prepared, rule_seed
from agents.rules.base import LearningRule, LossClosure, Settings, rule_state_frozen
from agents.rules.rdd_estimate import lif_window, naive_effects, rdd_effects

# Parameter-free elementwise nonlinearities allowed between the Linear layers.
ELEMENTWISE: tuple[type[nn.Module], ...] = (nn.Tanh, nn.Sigmoid, nn.Softsign, nn.ReLU, nn.LeakyReLU, nn.ELU,
                                            nn.GELU, nn.SiLU, nn.Hardtanh)
THRESHOLD = 1.0
REST, GAIN = 0.6, 0.4  # LIF mean input = REST + GAIN * clamp(rate, -1, 1)


def check_chain(model: nn.Module, rule: str) -> list[nn.Linear]:
    """The Linear layers of an MLP ``rule`` can train; ValueError naming what it refuses."""
    items = linear_chain(model, rule, ELEMENTWISE, "an elementwise nonlinearity", "an RDD-trained MLP", "the MLP",
                         "an RDD-trained MLP needs at least one hidden layer "
                         "and a Linear output: feedback is learned from hidden neurons' effects on the next layer")
    linears = [m for _, m in items if isinstance(m, nn.Linear)]
    if len(linears) < 2:
        raise ValueError(f"rule={rule!r}: the MLP must have at least one hidden layer (feedback is learned from "
                         "hidden neurons' effects on the next layer)")
    return linears


def _number(name: str, v: object, low: float, high: float = math.inf, low_open: bool = True) -> float:
    x = float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else math.nan
    ok = math.isfinite(x) and (x > low if low_open else x >= low) and x <= high
    if not ok:
        rng = f"{'>' if low_open else '>='} {low:g}" + (f" and <= {high:g}" if high < math.inf else "")
        raise ValueError(f"{name}={v!r} must be a number {rng}")
    return x


def _count(name: str, v: object, low: int) -> int:
    if not (isinstance(v, int) and not isinstance(v, bool) and v >= low):
        raise ValueError(f"{name}={v!r} must be an integer >= {low}")
    return v


def angle_deg(a: torch.Tensor, b: torch.Tensor) -> float:
    """Angle between two tensors as flat vectors (degrees)."""
    a, b = a.detach().flatten().double(), b.detach().flatten().double()
    c = float(a @ b / (a.norm() * b.norm()).clamp_min(1e-300))
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


class RDDFeedback(LearningRule):
    """Feedback-alignment forward learning through feedback weights learned by RDD (module docstring)."""

    name = "rdd"
    label = "RDD feedback"
    summary = ("feedback alignment whose feedback weights learn each hidden neuron's causal effect, estimated by "
               "a regression discontinuity at its LIF spiking threshold (Lansdell & Kording 2023; Guerguiev, "
               "Kording & Richards 2020); `window`, `samples`, `feedback_lr`")
    supports = "MLPs: nn.Sequential of Linear + elementwise nonlinearities (optional leading Flatten)"
    trains_agents = False  # the trainer's agents are no single Linear chain (torso + policy and value heads)
    fig2 = Settings({"feedback_lr": 0.1}, "sgd", 0.1)
    supervised = Settings({"feedback_lr": 0.1})

    def __init__(self, window: float = 0.2, samples: int = 256, feedback_lr: float = 0.05, steps: int = 20,
                 dt_tau: float = 0.2, shared: float = 0.5, outcome_noise: float = 0.1, seed: int = 0,
                 scale: float = 1.0, estimator: str = "rdd"):
        self.window = _number("window", window, 0.0)
        self.samples = _count("samples", samples, 16)
        self.feedback_lr = _number("feedback_lr", feedback_lr, 0.0, 1.0)
        self.steps = _count("steps", steps, 1)
        self.dt_tau = _number("dt_tau", dt_tau, 0.0, 1.0)
        self.shared = _number("shared", shared, 0.0, 1.0, low_open=False)
        self.outcome_noise = _number("outcome_noise", outcome_noise, 0.0, low_open=False)
        self.seed = _count("seed", seed, 0)
        self.scale = _number("scale", scale, 0.0)
        if estimator not in ("rdd", "naive"):
            raise ValueError(f"estimator={estimator!r} must be 'rdd' (the threshold's discontinuity) or 'naive' "
                             "(the observed dependence, for comparison)")
        self.estimator = estimator
        self._gen = torch.Generator().manual_seed(rule_seed(self.seed, self.name + "/lif"))

    def check_supported(self, model: nn.Module) -> None:
        check_chain(model, self.name)

    def prepare(self, model: nn.Module) -> nn.Module:
        linears = check_chain(model, self.name)
        gen = torch.Generator().manual_seed(rule_seed(self.seed, self.name))
        for m in linears:
            if not isinstance(m, FeedbackLinear):
                m.__class__ = FeedbackLinear
            assert isinstance(m, FeedbackLinear)
            m.init_feedback("random", gen, self.scale)
        mark_prepared(model, self.name)
        return model

    def feedback_layers(self, model: nn.Module) -> list[FeedbackLinear]:
        """The Linear layers whose feedback is learned: all but the first (they take hidden rates)."""
        return [m for m in model.modules() if isinstance(m, FeedbackLinear)][1:]

    def estimate(self, rates: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RDD estimates (out, in) of each hidden neuron's effect on each downstream unit, from ``rates``
        (batch, in) driving ``samples`` LIF windows; and which neurons had trials on both sides. Simulated
        in float32 on the CPU (the rule's generator), returned on ``weight``'s device and dtype."""
        rates = rates.detach().to("cpu", torch.float32)
        rows = torch.arange(self.samples) % rates.shape[0]
        mu = REST + GAIN * rates[rows].clamp(-1.0, 1.0)
        win = lif_window(mu, self.steps, self.dt_tau, shared=self.shared, threshold=THRESHOLD, generator=self._gen)
        w = weight.detach().to("cpu", torch.float32)
        y = win.spiked @ w.t()
        y = y + self.outcome_noise * torch.randn(y.shape, generator=self._gen)
        if self.estimator == "naive":
            effects = naive_effects(win.spiked, y)
            valid = torch.isfinite(effects).all(1)
            effects = effects.nan_to_num(0.0)
        else:
            effects, valid = rdd_effects(win.z, win.spiked, y, THRESHOLD, self.window)
        return effects.t().to(weight.device, weight.dtype), valid.to(weight.device)

    def compute_grads(self, model: nn.Module, closure: LossClosure) -> dict[str, float]:
        check_prepared(model, self.name)
        layers = [] if rule_state_frozen(model) else self.feedback_layers(model)
        seen: dict[int, torch.Tensor] = {}

        def hook(m: nn.Module, args: Any) -> None:
            seen[id(m)] = args[0].detach()

        handles = [m.register_forward_pre_hook(hook) for m in layers]
        try:
            loss = closure()
        finally:
            for h in handles:
                h.remove()
        loss.backward()  # through the current feedback matrices
        angles, valid_frac = [], []
        with torch.no_grad():
            for m in layers:
                if id(m) not in seen:
                    continue
                x = seen[id(m)]
                rates = x.reshape(-1, x.shape[-1])
                beta, valid = self.estimate(rates, m.weight)
                fb = m._fb_buffer("weight")
                fb[:, valid] += self.feedback_lr * (beta[:, valid] - fb[:, valid])
                angles.append(angle_deg(fb, m.weight))
                valid_frac.append(float(valid.float().mean()))
        out = {"loss": float(loss.detach())}
        if angles:
            out["rdd_feedback_angle_deg"] = sum(angles) / len(angles)
            out["rdd_valid_fraction"] = sum(valid_frac) / len(valid_frac)
        return out
