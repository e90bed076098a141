"""Orientation tuning of every stage, measured like single-unit physiology.

A network is probed through an *activation function*: ``images (N, H, W, C) uint8 -> {stage: array}``
with arrays (N, channels, h, w) for conv stages or (N, units) for dense ones, so our agents, SB3 policies
and any torch model can be measured alike (:func:`torch_activation_fn` wraps a module). Conv stages are
read at the centre unit of each channel, as an electrode samples one retinotopic location.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from brainset_envs.core.params import check_float, check_int
from brainset_envs.tasks.orientation import _BasisCache, render_gabors

ActivationFn = Callable[[np.ndarray], dict[str, np.ndarray]]
PERIOD = 180.0  # orientation is periodic in 180 deg


def grating_batch(orientations_deg: np.ndarray, n_repeats: int, size: int = 64, sf: float = 0.08,
                  contrast: float = 0.5, noise_std: float = 0.25, channels: int = 1,
                  seed: int = 0, phases: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Noisy Gabors with random phase, ``n_repeats`` per orientation, exactly as the env draws them.

    Returns (images (K * R, size, size, channels) uint8, orientation of each image). With ``channels`` = 2
    (the pair design) the same grating fills both frames. ``phases`` = P: instead of random phases the
    repeats of each orientation cycle through P evenly spaced phases, so that with ``n_repeats`` a
    multiple of P (and ``noise_std`` 0) the mean over repeats is the exact phase-averaged response.
    """
    check_int("n_repeats", n_repeats, 1)
    rng = np.random.default_rng(seed)
    theta = np.repeat(np.asarray(orientations_deg, dtype=np.float64), n_repeats)
    if phases is None:
        phase = rng.uniform(0.0, 2 * np.pi, len(theta))
    else:
        check_int("phases", phases, 1)
        phase = np.tile(np.arange(n_repeats) % phases * (2 * np.pi / phases), len(theta) // n_repeats)
    img = render_gabors(_BasisCache(size, sf), theta, phase, contrast, noise_std, rng).reshape(-1, size, size, 1)
    return np.repeat(img, channels, axis=-1), theta


def centre_units(act: np.ndarray) -> np.ndarray:
    """(N, C, h, w) -> the centre unit of each channel (N, C); (N, D) is returned as is."""
    act = np.asarray(act)
    if act.ndim == 4:
        return act[:, :, act.shape[2] // 2, act.shape[3] // 2]
    if act.ndim == 2:
        return act
    raise ValueError(f"activations must be (N, C, h, w) or (N, D), got shape {act.shape}")


@dataclass
class Tuning:
    """Responses of one stage: ``responses[k, r, u]`` for orientation k, repeat r, unit u."""

    orientations: np.ndarray
    responses: np.ndarray

    @property
    def mean(self) -> np.ndarray:
        """Tuning curves, (K, U)."""
        return self.responses.mean(axis=1)

    def _index(self, theta0: float) -> int:
        d = np.abs((self.orientations - theta0 + PERIOD / 2) % PERIOD - PERIOD / 2)
        k = int(np.argmin(d))
        if d[k] > 1e-6:
            raise ValueError(f"theta0={theta0} is not on the orientation grid; measure it (grid step "
                             f"{np.diff(self.orientations[:2])[0]} deg)")
        return k

    def derivative(self, theta0: float) -> np.ndarray:
        """f'(theta0) per unit (per degree), central difference on the periodic grid."""
        k, n = self._index(theta0), len(self.orientations)
        step = (self.orientations[(k + 1) % n] - self.orientations[(k - 1) % n]) % PERIOD
        return (self.mean[(k + 1) % n] - self.mean[(k - 1) % n]) / step

    def normalised_slope(self, theta0: float) -> np.ndarray:
        """|f'(theta0)| / max f per unit (units with max f <= 0 give 0)."""
        peak = self.mean.max(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.abs(self.derivative(theta0)) / peak
        return np.where(peak > 1e-12, out, 0.0)

    def amplitude(self) -> np.ndarray:
        """max f - min f per unit."""
        return self.mean.max(axis=0) - self.mean.min(axis=0)

    def preferred(self) -> np.ndarray:
        """Preferred orientation per unit (deg, in [0, 180)): circular mean of the curve on doubled angles."""
        f = self.mean - self.mean.min(axis=0)
        ang = np.deg2rad(self.orientations) * 2
        z = (f * np.exp(1j * ang)[:, None]).sum(axis=0)
        return (np.rad2deg(np.angle(z)) / 2) % PERIOD

    def smoothed(self, harmonics: int) -> Tuning:
        """This tuning with every repeat's curve projected on a Fourier series in 2*theta up to
        ``harmonics`` (least squares over the grid), which averages the noise of neighbouring
        orientations before slopes are taken. Needs a uniform grid over the whole 180 deg."""
        check_int("harmonics", harmonics, 0)
        n = len(self.orientations)
        if n < 2 * harmonics + 1:
            raise ValueError(f"harmonics={harmonics} needs at least {2 * harmonics + 1} orientations, got {n}")
        ang = np.deg2rad(self.orientations) * 2
        basis = [np.ones(n)] + [f(h * ang) for h in range(1, harmonics + 1) for f in (np.cos, np.sin)]
        b = np.stack(basis, 1)  # (K, 2H+1)
        proj = b @ np.linalg.pinv(b)  # (K, K) projection onto the series
        return Tuning(self.orientations, np.einsum("kj,jru->kru", proj, self.responses))

    def fisher_information(self, theta0: float, ridge: float = 1e-3, bias_correct: bool = True) -> float:
        """Linear Fisher information f'^T Sigma^-1 f' of the population at theta0 (per deg^2).

        f' is the difference of the mean responses at the two neighbouring orientations; Sigma is their
        pooled noise covariance, with a ridge of ``ridge`` x its mean variance so a large population with
        few repeats stays well posed. ``bias_correct`` applies Kanitscheider et al. (2015)'s correction
        for the finite number of repeats T and units N (the naive estimate is biased upwards).
        """
        k, n = self._index(theta0), len(self.orientations)
        fp = self.derivative(theta0)
        resid = [self.responses[j] - self.responses[j].mean(0) for j in ((k - 1) % n, (k + 1) % n)]
        r = np.concatenate(resid)
        cov = r.T @ r / max(len(r) - 2, 1)
        cov += ridge * max(np.trace(cov) / len(cov), 1e-12) * np.eye(len(cov))
        info = float(fp @ np.linalg.solve(cov, fp))
        if bias_correct:
            t, units = self.responses.shape[1], self.responses.shape[2]
            dtheta = (self.orientations[(k + 1) % n] - self.orientations[(k - 1) % n]) % PERIOD
            info = info * (2 * t - units - 3) / (2 * t - 2) - 2 * units / (t * dtheta**2)
        return info


def measure_tuning(activation_fn: ActivationFn, orientations_deg: np.ndarray | None = None,
                   n_repeats: int = 48, batch_size: int = 512, **stimulus) -> dict[str, Tuning]:
    """Tuning of every stage ``activation_fn`` returns, for gratings at ``orientations_deg``
    (default 90 orientations, 2 deg apart) x ``n_repeats`` noisy presentations."""
    ori = np.arange(0.0, PERIOD, 2.0) if orientations_deg is None else np.asarray(orientations_deg, float)
    images, _ = grating_batch(ori, n_repeats, **stimulus)
    chunks: dict[str, list[np.ndarray]] = {}
    for i in range(0, len(images), batch_size):
        for stage, act in activation_fn(images[i : i + batch_size]).items():
            chunks.setdefault(stage, []).append(centre_units(act))
    return {s: Tuning(ori, np.concatenate(c).reshape(len(ori), n_repeats, -1)) for s, c in chunks.items()}


def tuning_change(before: dict[str, Tuning], after: dict[str, Tuning], theta0: float,
                  bins_deg: tuple[float, ...] = (0, 6, 12, 20, 30, 45, 90),
                  exclude_silent: bool = True) -> dict[str, dict]:
    """After/before ratios per stage (the Fig. 4 metric): median normalised slope at theta0, median
    amplitude, Fisher information; and the slope ratio binned by |preferred - theta0| (Schoups' plot),
    binned by each unit's preferred orientation before learning.

    ``exclude_silent``: the medians skip units that never respond (peak of the mean curve <= 0) before or
    after learning, as an electrode only records responsive cells (ReLU nets have many silent centre
    units, whose normalised slope is undefined). ``n_units`` / ``n_responsive`` report how many.
    """
    out = {}
    for stage in before:
        b, a = before[stage], after[stage]
        keep = np.ones(b.mean.shape[1], bool)
        if exclude_silent:
            keep = (b.mean.max(axis=0) > 1e-9) & (a.mean.max(axis=0) > 1e-9)
        sb, sa = b.normalised_slope(theta0)[keep], a.normalised_slope(theta0)[keep]
        dist = np.abs((b.preferred()[keep] - theta0 + PERIOD / 2) % PERIOD - PERIOD / 2)
        binned = []
        for lo, hi in zip(bins_deg[:-1], bins_deg[1:], strict=True):
            sel = (dist >= lo) & (dist < hi)
            binned.append(float(np.median(sa[sel]) / np.median(sb[sel])) if sel.any() and np.median(sb[sel]) > 0
                          else float("nan"))
        out[stage] = {
            "slope_ratio": _ratio(np.median(sa), np.median(sb)) if keep.any() else float("nan"),
            "amplitude_ratio": _ratio(np.median(a.amplitude()[keep]), np.median(b.amplitude()[keep]))
            if keep.any() else float("nan"),
            "fisher_ratio": _ratio(_subset(a, keep).fisher_information(theta0),
                                   _subset(b, keep).fisher_information(theta0)) if keep.any() else float("nan"),
            "slope_ratio_by_preference": {"bins_deg": list(bins_deg), "ratio": binned},
            "n_units": int(len(keep)), "n_responsive": int(keep.sum()),
        }
    return out


def _subset(t: Tuning, units: np.ndarray) -> Tuning:
    return Tuning(t.orientations, t.responses[:, :, units])


def _ratio(a: float, b: float) -> float:
    return float(a / b) if b > 0 else float("nan")


def von_mises_population(orientations_deg: np.ndarray, preferred_deg: np.ndarray, kappa: float,
                         amplitude: float = 1.0, baseline: float = 0.0) -> np.ndarray:
    """Mean responses (K, U) of a von Mises population on the 180-deg orientation circle:
    f(theta) = baseline + amplitude * exp(kappa * (cos(2 (theta - pref)) - 1))."""
    check_float("kappa", kappa, 0.0)
    d = np.deg2rad(np.asarray(orientations_deg, float)[:, None] - np.asarray(preferred_deg, float)[None, :])
    return baseline + amplitude * np.exp(kappa * (np.cos(2 * d) - 1.0))


def relative_weight_change(params_now: dict[str, np.ndarray], params_init: dict[str, np.ndarray],
                           stages: dict[str, list[str]]) -> dict[str, float]:
    """||W - W0|| / ||W0|| per stage, over the parameter names listed for each stage."""
    out = {}
    for stage, names in stages.items():
        missing = [n for n in names if n not in params_now or n not in params_init]
        if missing:
            raise KeyError(f"stage {stage!r}: parameters {missing} not found")
        num = np.sqrt(sum(np.sum((np.asarray(params_now[n]) - params_init[n]) ** 2) for n in names))
        den = np.sqrt(sum(np.sum(np.asarray(params_init[n]) ** 2) for n in names))
        out[stage] = float(num / den) if den > 0 else float("nan")
    return out


def torch_activation_fn(model, stages_fn: Callable | None = None, device: str = "cpu") -> ActivationFn:
    """Wrap a torch module as an activation function. ``stages_fn(model, x)`` returns {stage: tensor};
    by default ``model(x, return_stages=True)`` must return (output, {stage: tensor}). Images are given
    as float (N, C, H, W) in [0, 1]."""

    def fn(images: np.ndarray) -> dict[str, np.ndarray]:
        x = torch.as_tensor(images, device=device).permute(0, 3, 1, 2).float() / 255.0
        with torch.no_grad():
            stages = stages_fn(model, x) if stages_fn else model(x, return_stages=True)[1]
        return {k: v.detach().cpu().numpy() for k, v in stages.items()}

    return fn
