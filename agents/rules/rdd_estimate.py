"""Regression discontinuity design (RDD): a spiking neuron's causal effect from its own threshold.

Lansdell & Kording (PLoS Comput Biol 19(4):e1011005, 2023): a neuron's spike is decided by whether its
drive crossed threshold. Trials where the drive peaked just below threshold and trials where it peaked
just above are alike in everything else (the inputs, the noise shared with other neurons), so the jump of
a downstream quantity at the threshold is the spike's causal effect, free of the confounding that makes
the observed dependence (the difference of the mean outcome with and without a spike) wrong whenever
the neuron's drive and the outcome share a cause.

- :func:`lif_window`: a discretised leaky integrate-and-fire layer over one window of ``steps`` time
  steps, driven by its input ``mu`` plus noise (a part ``shared`` common to the neurons, the confounder):
  ``v <- v + dt_tau (-v + mu + noise)`` from rest (computed as one product with the leak's kernel). Per
  neuron it returns the maximum drive ``z`` in the window (the potential without reset, Lansdell &
  Kording's "maximum input drive") and whether it spiked (``z >= threshold``; one spike per window counts).
- :func:`rdd_effects`: per neuron, the piecewise-linear RDD: among trials with ``|z - threshold| < window``
  the least-squares fit ``y = a + b d + delta H + c d H`` (``d = z - threshold``, ``H`` the spike), for every
  outcome column at once; ``delta`` is the estimated effect. A narrow window leaves little curvature of
  ``E[y | z]`` to bias the fit but few trials (noisy); a wide one the reverse.
- :func:`naive_effects`: mean outcome when the neuron spiked minus when it did not (observed dependence).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

MIN_SIDE = 3  # trials needed on each side of threshold inside the window for a neuron's estimate


@dataclass
class Window:
    """One simulated window per trial: ``z`` (trials, neurons) the maximum drive, ``spiked`` (trials,
    neurons) 0/1, ``confounder`` the shared noise averaged over the window (trials, 1 or neurons)."""

    z: torch.Tensor
    spiked: torch.Tensor
    confounder: torch.Tensor


def lif_window(mu: torch.Tensor, steps: int = 50, dt_tau: float = 0.1, noise: float = 1.0,
               shared: float = 0.5, threshold: float = 1.0, generator: torch.Generator | None = None,
               common: torch.Tensor | None = None) -> Window:
    """Simulate ``mu`` (trials, neurons) for one window (module docstring). ``shared``: the fraction of the
    noise variance common to all neurons of a trial (the confounder), unless ``common`` (trials, neurons
    or 1, steps) gives that common noise trace itself (e.g. one per neuron)."""
    if mu.dim() != 2:
        raise ValueError(f"mu must be (trials, neurons), got shape {tuple(mu.shape)}")
    if not 0.0 <= shared <= 1.0:
        raise ValueError(f"shared={shared!r} must be in [0, 1] (the common fraction of the noise variance)")
    s, n = mu.shape
    if common is None:
        common = torch.randn(s, 1, steps, generator=generator, dtype=mu.dtype, device=mu.device)
    own = torch.randn(s, n, steps, generator=generator, dtype=mu.dtype, device=mu.device)
    drive = own.mul_(noise * (1.0 - shared) ** 0.5).add_(common, alpha=noise * shared ** 0.5).add_(mu.unsqueeze(-1))
    # the leaky integration from rest is linear: v_t = sum_{k <= t} dt_tau (1 - dt_tau)^(t - k) drive_k
    t = torch.arange(steps, dtype=mu.dtype, device=mu.device)
    lag = t[None, :] - t[:, None]  # (k, t)
    kernel = torch.where(lag >= 0, dt_tau * (1.0 - dt_tau) ** lag.clamp_min(0), torch.zeros_like(lag))
    z = (drive @ kernel).amax(-1)
    return Window(z, (z >= threshold).to(mu.dtype), common.mean(-1))


def rdd_effects(z: torch.Tensor, spiked: torch.Tensor, y: torch.Tensor, threshold: float,
                window: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Piecewise-linear RDD (module docstring): ``z``, ``spiked`` (trials, neurons), ``y`` (trials,
    outcomes). Returns (effects (neurons, outcomes), valid (neurons,)): a neuron is valid with at least
    :data:`MIN_SIDE` trials on each side of threshold inside the window (else its effects are 0)."""
    if not window > 0:
        raise ValueError(f"window={window!r} must be > 0 (half-width of the drive window around threshold)")
    if z.shape != spiked.shape or z.dim() != 2 or y.dim() != 2 or y.shape[0] != z.shape[0]:
        raise ValueError(f"z and spiked must be (trials, neurons) and y (trials, outcomes); got "
                         f"{tuple(z.shape)}, {tuple(spiked.shape)}, {tuple(y.shape)}")
    d = (z - threshold).t()  # (neurons, trials)
    h = spiked.t()
    w = (d.abs() < window).to(y.dtype)
    x = torch.stack([torch.ones_like(d), d, h, d * h], -1)  # (neurons, trials, 4)
    xw = x * w.unsqueeze(-1)
    xtx = xw.transpose(1, 2) @ x  # (neurons, 4, 4)
    xty = xw.transpose(1, 2) @ y  # (neurons, 4, outcomes)
    above = (w * h).sum(1)
    valid = (above >= MIN_SIDE) & (w.sum(1) - above >= MIN_SIDE)
    eye = torch.eye(4, dtype=y.dtype, device=y.device)
    xtx = torch.where(valid[:, None, None], xtx, eye)  # a neuron without trials on both sides: skipped
    coef = torch.linalg.solve(xtx + 1e-9 * eye, xty)
    return coef[:, 2, :] * valid[:, None].to(y.dtype), valid


def naive_effects(spiked: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Observed dependence (neurons, outcomes): E[y | spike] - E[y | no spike] per neuron (nan where a
    neuron always or never spiked)."""
    h = spiked.t()
    on = h @ y / h.sum(1, keepdim=True)
    off = (1.0 - h) @ y / (1.0 - h).sum(1, keepdim=True)
    return on - off
