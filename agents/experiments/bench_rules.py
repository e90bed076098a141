"""Cost of the learning rules: time per update against backprop on the same model and batch.

``python -m agents.experiments.bench_rules`` prints JSON: per model, the time of one update (zero_grad,
compute_grads, optimizer step) for each rule and its ratio to backprop (target for feedback alignment
and sign symmetry: <= 1.5x), and the cost per relaxation step of predictive coding and (MLPs only)
dendritic error learning (RDD feedback: MLPs only). Rules are timed in interleaved rounds; ``ms_per_update`` is
the fastest round (least disturbed by other processes on a shared machine), ``median_ms`` the median round.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from agents.rules import get_rule


def _models() -> dict[str, tuple[Callable[[], nn.Module], Callable[[], tuple]]]:
    """name -> (model factory, batch factory returning (input, target class))."""

    def conv() -> nn.Module:
        return nn.Sequential(nn.Conv2d(1, 16, 5, stride=2, padding=2), nn.ReLU(),
                             nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Flatten(), nn.Linear(64 * 8 * 8, 10))

    class GRUNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.gru, self.out = nn.GRU(32, 64, batch_first=True), nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.out(self.gru(x)[0][:, -1])

    class LinearGRU(nn.Module):
        """A GRU core built from two nn.Linear layers, as agents.architectures.RecurrentCore."""

        def __init__(self) -> None:
            super().__init__()
            self.ih, self.hh, self.out = nn.Linear(32, 192), nn.Linear(64, 192), nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = x.new_zeros(x.shape[0], 64)
            for t in range(x.shape[1]):
                xr, xz, xn = self.ih(x[:, t]).chunk(3, -1)
                hr, hz, hn = self.hh(h).chunk(3, -1)
                r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
                h = (1 - z) * torch.tanh(xn + r * hn) + z * h
            return self.out(h)

    def mlp(sizes: list[int]) -> Callable[[], nn.Module]:
        def make() -> nn.Module:
            layers: list[nn.Module] = []
            for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
                layers += [nn.Linear(a, b), nn.Tanh()]
            return nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))
        return make

    g = torch.Generator().manual_seed(0)
    return {
        "mlp 64-128-128-10, batch 32": (mlp([64, 128, 128, 10]),
                                        lambda: (torch.rand(32, 64, generator=g), torch.randint(10, (32,)))),
        "mlp 784-512-512-10, batch 256": (mlp([784, 512, 512, 10]),
                                          lambda: (torch.rand(256, 784, generator=g), torch.randint(10, (256,)))),
        "conv 3 stages on 1x64x64, batch 32": (conv, lambda: (torch.rand(32, 1, 64, 64, generator=g),
                                                              torch.randint(10, (32,)))),
        "GRU 32->64, 16 steps, batch 32": (GRUNet, lambda: (torch.rand(32, 16, 32, generator=g),
                                                            torch.randint(10, (32,)))),
        "Linear-gated GRU core 32->64, 16 steps, batch 32": (
            LinearGRU, lambda: (torch.rand(32, 16, 32, generator=g), torch.randint(10, (32,)))),
    }


def time_updates(make: Callable[[], nn.Module], batch: tuple, rules: dict[str, dict],
                 rounds: int = 15, round_s: float = 0.025, device: str = "cpu") -> dict[str, dict[str, float]]:
    """Seconds per update for each rule (name -> options) on copies of one model: the minimum over
    ``rounds`` interleaved rounds of at least ``round_s`` seconds (the least disturbed by other
    processes) and the median."""
    torch.manual_seed(0)
    base = make()
    x, y = (t.to(device) for t in batch)
    setups = {}
    for label, spec in rules.items():
        rule = get_rule(spec["name"], **spec.get("options", {}))
        model = rule.prepare(copy.deepcopy(base)).to(device)
        opt = torch.optim.SGD(model.parameters(), lr=1e-3)
        setups[label] = (rule, model, opt)

    def step(rule, model, opt) -> None:
        opt.zero_grad(set_to_none=True)
        rule.compute_grads(model, lambda: nn.functional.cross_entropy(model(x), y))
        opt.step()

    def timed(s: tuple, n: int) -> float:
        if device != "cpu":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(n):
            step(*s)
        if device != "cpu":
            torch.cuda.synchronize()
        return (time.perf_counter() - t0) / n

    reps = {k: max(1, round(round_s / timed(s, 3))) for k, s in setups.items()}  # warm-up and sizing
    times: dict[str, list[float]] = {k: [] for k in setups}
    for _ in range(rounds):
        for label, s in setups.items():
            times[label].append(timed(s, reps[label]))
    return {k: {"min": min(v), "median": statistics.median(v)} for k, v in times.items()}


def benchmark(rounds: int = 15, round_s: float = 0.025, device: str = "cpu") -> dict:
    """Per model: seconds per update and ratio to backprop; predictive coding per relaxation step."""
    rules = {
        "backprop": {"name": "backprop"},
        "feedback_alignment": {"name": "feedback_alignment"},
        "sign_symmetry": {"name": "sign_symmetry"},
        "direct_feedback_alignment": {"name": "direct_feedback_alignment"},
        "pc_0_steps": {"name": "predictive_coding", "options": {"steps": 0}},
        "pc_20_steps": {"name": "predictive_coding", "options": {"steps": 20}},
        "pc_fixed_prediction_20_steps": {"name": "predictive_coding",
                                         "options": {"steps": 20, "fixed_prediction": True}},
        "dendritic_error": {"name": "dendritic_error"},
        "dendritic_5_steps": {"name": "dendritic_error", "options": {"steps": 5, "tol": 1e-30}},
        "dendritic_25_steps": {"name": "dendritic_error", "options": {"steps": 25, "tol": 1e-30}},
        "rdd": {"name": "rdd"},  # MLPs only
    }
    dendritic = ("dendritic_error", "dendritic_5_steps", "dendritic_25_steps")
    out: dict = {"device": device, "torch": torch.__version__, "threads": torch.get_num_threads(),
                 "models": {}}
    for name, (make, batch) in _models().items():
        chosen = {k: v for k, v in rules.items() if k != "rdd" or name.startswith("mlp")}
        if "GRU" in name:  # DFA is feed-forward only; PC does not take full-sequence recurrent layers
            keep = ("backprop", "feedback_alignment", "sign_symmetry") + (("pc_0_steps", "pc_20_steps",
                    "pc_fixed_prediction_20_steps") if name.startswith("Linear") else ())
            chosen = {k: v for k, v in rules.items() if k in keep}
        elif not name.startswith("mlp"):  # the pyramidal microcircuit is built on an MLP only
            chosen = {k: v for k, v in chosen.items() if k not in dendritic}
        full = time_updates(make, batch(), chosen, rounds, round_s, device)
        t = {k: v["min"] for k, v in full.items()}
        bp = t["backprop"]
        rec = {k: {"ms_per_update": round(v * 1e3, 4), "ratio_to_backprop": round(v / bp, 3),
                   "median_ms": round(full[k]["median"] * 1e3, 4),
                   "median_ratio": round(full[k]["median"] / full["backprop"]["median"], 3)}
               for k, v in t.items()}
        if "pc_20_steps" in t:
            rec["pc_ms_per_relaxation_step"] = round((t["pc_20_steps"] - t["pc_0_steps"]) / 20 * 1e3, 4)
            rec["pc_fixed_prediction_ms_per_step"] = round(
                (t["pc_fixed_prediction_20_steps"] - t["pc_0_steps"]) / 20 * 1e3, 4)
        if "dendritic_25_steps" in t:
            rec["dendritic_ms_per_relaxation_step"] = round(
                (t["dendritic_25_steps"] - t["dendritic_5_steps"]) / 20 * 1e3, 4)
        out["models"][name] = rec
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=15)
    p.add_argument("--round-seconds", type=float, default=0.025)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    print(json.dumps(benchmark(a.rounds, a.round_seconds, a.device), indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
