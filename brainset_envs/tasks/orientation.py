"""Orientation discrimination of noisy Gabor patches: perceptual learning (Richards et al. 2019, Fig. 4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_choice, check_float, check_float32, check_floats, check_int
from brainset_envs.core.rand import shared, standard_normal_f32
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv

CLOCKWISE, COUNTER_CLOCKWISE, ABSTAIN = 0, 1, 2
GO, NO_GO = 0, 1  # go_nogo=True: the actions; S+ is the clockwise stimulus (label 0), S- the other
TRANSFER_PRESETS = ("ref+45", "ref+90", "sf*0.5", "sf*2")


# --- stimulus model (plain functions: the env, the ideal observer and the probes share them) ----------


def gabor_basis(size: int, orientation_deg: float, sf: float, sigma: float | None = None) -> np.ndarray:
    """Cosine and sine Gabor of one orientation, shape (2, size, size) float64.

    Orientation is the angle of the stripes, clockwise from vertical on screen (0 = vertical stripes,
    positive = tilted clockwise). A Gabor of phase ``phi`` is ``cos(phi) * B[0] - sin(phi) * B[1]``.
    """
    sigma = size / 5.0 if sigma is None else sigma
    c = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - c  # y points down the screen
    th = np.deg2rad(orientation_deg)
    u = x * np.cos(th) + y * np.sin(th)  # coordinate across the stripes
    env = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    arg = 2.0 * np.pi * sf * u
    return np.stack([env * np.cos(arg), env * np.sin(arg)])


def gabor(
    size: int, orientation_deg: float, sf: float, phase: float = 0.0, contrast: float = 1.0
) -> np.ndarray:
    """A noiseless Gabor in contrast units (luminance = 1 + value), shape (size, size)."""
    b = gabor_basis(size, orientation_deg, sf)
    return contrast * (np.cos(phase) * b[0] - np.sin(phase) * b[1])


def to_uint8(contrast_image: np.ndarray) -> np.ndarray:
    """Contrast units (0 = mean grey, +/-1 = white/black) to clipped, rounded uint8 pixels."""
    return np.clip(contrast_image * 127.5 + 128.0, 0.0, 255.0).astype(np.uint8)


class _BasisCache:
    """float32 Gabor bases per orientation, flattened, computed once (the hot path reuses them)."""

    def __init__(self, size: int, sf: float, max_entries: int = 512):
        self.size, self.sf, self.max_entries = size, sf, max_entries
        self._d: dict[float, np.ndarray] = {}

    def get_one(self, o: float) -> np.ndarray:
        """Basis (2, size*size) of one orientation; rows: cosine Gabor, sine Gabor."""
        b = self._d.get(o)
        if b is None:
            if len(self._d) >= self.max_entries:
                self._d.clear()
            b = gabor_basis(self.size, o, self.sf).reshape(2, -1).astype(np.float32)
            self._d[o] = b
        return b

    def get(self, orientations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(unique orientations' stacked bases (U, 2, size*size), index of each input into them)."""
        uniq, inv = np.unique(orientations, return_inverse=True)
        out = np.empty((len(uniq), 2, self.size * self.size), dtype=np.float32)
        for j, o in enumerate(uniq.tolist()):
            out[j] = self.get_one(o)
        return out, inv.reshape(-1)


_CHUNK_PIXELS = 128 * 64 * 64  # images rendered per pass: ~2 MB of float32 work arrays


def render_gabors(cache: _BasisCache, orientation: np.ndarray, phase: np.ndarray, contrast: float,
                  noise_std: float, rng: np.random.Generator) -> np.ndarray:
    """A batch of noisy Gabors as uint8, shape (n, size*size): one noise draw per pixel (Box-Muller on the
    passed generator, :func:`standard_normal_f32`), then each orientation group's Gabors added in place.

    pixel = 128 + 127.5 * (contrast * gabor + noise_std * N(0, 1)), clipped to [0, 255]. Plain
    elementwise numpy, no BLAS call: a multi-threaded BLAS stalls here when other work (a torch learner,
    other processes) competes for the cores.
    """
    n = len(orientation)
    chunk = max(1, _CHUNK_PIXELS // (cache.size * cache.size))
    if n > chunk:  # work in cache-sized chunks: large batches are memory-bound otherwise
        images = np.empty((n, cache.size * cache.size), dtype=np.uint8)
        for i in range(0, n, chunk):
            images[i : i + chunk] = render_gabors(cache, orientation[i : i + chunk], phase[i : i + chunk],
                                                  contrast, noise_std, rng)
        return images
    scale = np.float32(127.5 * contrast)
    out = standard_normal_f32(rng, (n, cache.size * cache.size), 127.5 * noise_std)
    out += np.float32(128.0)
    cos_p = (scale * np.cos(phase)).astype(np.float32)[:, None]
    sin_p = (-scale * np.sin(phase)).astype(np.float32)[:, None]
    if n == 1:  # single-env fast path: no grouping machinery
        b = cache.get_one(float(orientation[0]))
        out += cos_p * b[0]
        out += sin_p * b[1]
    else:
        bases, idx = cache.get(orientation)
        for j in range(len(bases)):
            rows = np.flatnonzero(idx == j)
            block = cos_p[rows] * bases[j, 0]
            block += sin_p[rows] * bases[j, 1]
            out[rows] += block
    np.minimum(out, 255.0, out=out)
    np.maximum(out, 0.0, out=out)
    return out.astype(np.uint8)


# --- the task core ------------------------------------------------------------------------------------


class OrientationCore(TaskCore):
    """Batch-first dynamics of OrientationDiscrimination (see :class:`OrientationDiscriminationEnv`).

    ``shared_stream = True``: every step of every env draws a new trial and its noise image, and one
    batched draw for the whole batch keeps the vector env fast: per-env streams would cost a few
    Generator calls per env and step (about +30 ms per step at 1024 envs for 32x32 images, several times
    the batched draw; ``python scripts/bench_rng_streams.py --draws``). So env ``i`` of a vector env
    matches a single env in distribution, not draw for draw.
    """

    shared_stream: ClassVar[bool] = True

    info_keys: tuple[str, ...] = (
        "label", "offset_deg", "ref_deg", "orientation_deg", "trial",
        "correct", "response", "answered_label", "answered_offset_deg",
    )
    render_fps: ClassVar[int] = 4

    def __init__(
        self,
        size: int = 64,
        ref_deg: float | list[float] = 0.0,
        offset_deg: float | Sequence[float] = (0.5, 1.0, 2.0, 5.0, 10.0),
        noise_std: float = 0.25,
        contrast: float = 0.5,
        sf: float = 0.08,
        phase: float | None = None,
        two_frame: bool = False,
        abstain: bool = False,
        trials_per_episode: int = 1,
        reward_correct: float = 1.0,
        reward_wrong: float = 0.0,
        reward_abstain: float = 0.35,
        transfer: str | None = None,
        go_nogo: bool = False,
    ):
        self.size = check_int("size", size, 16, 512)
        self.ref_choices = check_floats("ref_deg", ref_deg, -360.0, 360.0)
        self.offset_choices = check_floats("offset_deg", offset_deg, 0.0, 90.0, low_open=True)
        self.noise_std = check_float("noise_std", noise_std, 0.0, 10.0)
        self.contrast = check_float("contrast", contrast, 0.0, 1.0)
        self.sf = check_float("sf", sf, 0.0, 0.5, low_open=True)
        self.phase = None if phase is None else check_float("phase", phase, 0.0, 2 * np.pi)
        for name, flag in (("two_frame", two_frame), ("abstain", abstain), ("go_nogo", go_nogo)):
            if not isinstance(flag, (bool, np.bool_)):
                raise TypeError(f"{name}={flag!r} must be True or False")
        self.two_frame, self.abstain, self.go_nogo = bool(two_frame), bool(abstain), bool(go_nogo)
        if self.go_nogo and self.abstain:
            raise ValueError("go_nogo=True with abstain=True: a Go/NoGo trial has two actions (go, no-go); "
                             "set abstain=False")
        self.trials_per_episode = check_int("trials_per_episode", trials_per_episode, 1, 1_000_000)
        self.rewards = np.array(
            [check_float32("reward_correct", reward_correct), check_float32("reward_wrong", reward_wrong),
             check_float32("reward_abstain", reward_abstain)], dtype=np.float32)
        self.transfer = None if transfer is None else check_choice("transfer", transfer, TRANSFER_PRESETS)
        if transfer == "ref+45":
            self.ref_choices = self.ref_choices + 45.0
        elif transfer == "ref+90":
            self.ref_choices = self.ref_choices + 90.0
        elif transfer == "sf*0.5":
            self.sf *= 0.5
        elif transfer == "sf*2":
            self.sf = check_float("sf (after transfer='sf*2')", self.sf * 2.0, 0.0, 0.5, low_open=True)
        channels = 2 if self.two_frame else 1
        self.observation_space = spaces.Box(0, 255, (self.size, self.size, channels), dtype=np.uint8)
        self.action_space = spaces.Discrete(3 if self.abstain else 2)
        self.render_size = (512 if self.two_frame else 256, 296)
        self._cache = _BasisCache(self.size, self.sf)

    def set_offsets(self, offset_deg: float | Sequence[float]) -> None:
        """Offsets sampled from the next trial on (used by the staircase and constant-stimuli wrappers)."""
        self.offset_choices = check_floats("offset_deg", offset_deg, 0.0, 90.0, low_open=True)

    def new_state(self, n: int) -> State:
        c = 2 if self.two_frame else 1
        return {
            "ref": np.zeros(n), "offset": np.zeros(n), "theta": np.zeros(n), "label": np.zeros(n, np.int64),
            "trial": np.zeros(n, np.int64), "correct": np.full(n, -1, np.int64),
            "response": np.full(n, -1, np.int64), "answered_label": np.full(n, -1, np.int64),
            "answered_offset": np.zeros(n), "img": np.zeros((n, self.size, self.size, c), np.uint8),
        }

    def _new_trials(self, s: State, idx: np.ndarray | slice, k: int, rng: np.random.Generator) -> None:
        """Draw reference, offset, label and phase for ``k`` envs, and their images."""
        ref = self.ref_choices[rng.integers(0, len(self.ref_choices), k)] if len(self.ref_choices) > 1 \
            else np.full(k, self.ref_choices[0])
        off = self.offset_choices[rng.integers(0, len(self.offset_choices), k)] \
            if len(self.offset_choices) > 1 else np.full(k, self.offset_choices[0])
        label = rng.integers(0, 2, k)
        theta = ref + np.where(label == CLOCKWISE, off, -off)
        n_phase = 2 if self.two_frame else 1
        phase = rng.random(n_phase * k) * (2 * np.pi) if self.phase is None \
            else np.full(n_phase * k, self.phase)
        if self.two_frame:
            both = render_gabors(self._cache, np.concatenate([ref, theta]), phase,
                                 self.contrast, self.noise_std, rng)
            img = np.stack([both[:k], both[k:]], axis=-1)
        else:
            img = render_gabors(self._cache, theta, phase, self.contrast, self.noise_std, rng)
        s["ref"][idx], s["offset"][idx], s["label"][idx], s["theta"][idx] = ref, off, label, theta
        s["img"][idx] = img.reshape(k, self.size, self.size, n_phase)

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rng = shared(rng)  # shared_stream = True: one Generator for the batch
        idx: Any = slice(None) if mask is None else mask
        k = len(state["ref"]) if mask is None else int(mask.sum())
        state["trial"][idx] = 0
        for key in ("correct", "response", "answered_label"):
            state[key][idx] = -1
        state["answered_offset"][idx] = 0.0
        self._new_trials(state, idx, k, rng)

    def step(self, state: State, action: np.ndarray, rng: Rng):
        rng = shared(rng)  # shared_stream = True: one Generator for the batch
        label = state["label"]
        correct = (action == label).astype(np.int64)  # Go/NoGo too: go (0) on S+ (0), no-go (1) on S- (1)
        if self.go_nogo:  # hit: reward_correct, false alarm: reward_wrong, no-go: 0 on both stimuli
            go = action == GO
            reward = np.where(go, self.rewards[label], np.float32(0.0)).astype(np.float32)
            state["correct"][:] = correct
        elif self.abstain:
            abst = action == ABSTAIN
            reward = self.rewards[np.where(abst, 2, 1 - correct)]  # 0 correct, 1 wrong, 2 abstain
            state["correct"][:] = np.where(abst, -1, correct)
        else:
            reward = self.rewards[1 - correct]
            state["correct"][:] = correct
        state["response"][:] = action
        state["answered_label"][:] = label
        state["answered_offset"][:] = state["offset"]
        state["trial"] += 1
        terminated = state["trial"] >= self.trials_per_episode
        go_on = ~terminated
        if go_on.any():  # the next trial of the block; a finished block keeps its last stimulus
            if go_on.all():
                self._new_trials(state, slice(None), len(go_on), rng)
            else:
                self._new_trials(state, go_on, int(go_on.sum()), rng)
        return reward, terminated, np.zeros_like(terminated)

    def observe(self, state: State) -> np.ndarray:
        return state["img"].copy()

    def info(self, state: State) -> dict[str, np.ndarray]:
        label = state["label"]
        return {
            "label": label, "offset_deg": state["offset"], "ref_deg": state["ref"],
            "orientation_deg": state["theta"],
            "trial": state["trial"], "correct": state["correct"], "response": state["response"],
            "answered_label": state["answered_label"], "answered_offset_deg": state["answered_offset"],
        }

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf = canvas.surface
        surf.fill((128, 128, 128))
        img = state["img"][i]
        for ch in range(img.shape[-1]):
            g = np.repeat(img[..., ch].T[..., None], 3, axis=-1)  # surfarray is (x, y)
            small = pygame.surfarray.make_surface(g)
            surf.blit(pygame.transform.scale(small, (256, 256)), (256 * ch, 0))
            pygame.draw.circle(surf, (255, 40, 40), (256 * ch + 128, 128), 3)  # fixation point
        corr = int(state["correct"][i])
        resp = int(state["response"][i])
        if resp >= 0:  # feedback on the last response: a coloured frame
            colour = {1: (40, 200, 60), 0: (220, 50, 50)}.get(corr, (200, 200, 60))
            pygame.draw.rect(surf, colour, pygame.Rect(0, 0, surf.get_width(), 256), 6)
        surf.fill((20, 20, 24), pygame.Rect(0, 256, surf.get_width(), 40))
        surf.blit(canvas.font(20).render(self.status_text(state, i), True, (230, 230, 230)), (8, 266))

    def status_text(self, state: State, i: int) -> str:
        """The frame's status line for env ``i``: the trial on screen (the one being shown, or, once the
        block has ended, the last one answered) and the feedback on the last response."""
        corr, resp, answered = int(state["correct"][i]), int(state["response"][i]), int(state["trial"][i])
        if self.go_nogo:
            words = ("hit" if resp == GO else "correct rejection") if corr == 1 else \
                ("false alarm" if resp == GO else "miss")
            words = words if resp >= 0 else "respond: go or no-go"
        else:
            words = {1: "correct", 0: "wrong", -1: "abstained"}[corr] if resp >= 0 else "respond: CW or CCW"
        n = self.trials_per_episode
        if answered >= n:  # a finished block keeps showing its last trial, now answered
            return f"trial {n}/{n} done   last: {words}"
        return f"trial {answered + 1}/{n}   last: {words}"


class OrientationDiscriminationEnv(TaskEnv):
    """
    ## Description
    Fine orientation discrimination of a noisy Gabor patch, the perceptual-learning task of the seed
    paper's Fig. 4 (Richards et al. 2019; Schoups et al. 2001; Wenliang & Seitz 2018). Each trial shows a
    Gabor at `reference +/- offset`; the agent reports whether it is tilted clockwise or
    counter-clockwise of the (learned) reference. The phase is random on every trial, so the task cannot
    be solved by a fixed linear template. In two-frame mode the reference is shown too (channel 0), as in
    the pair design of Wenliang & Seitz.

    **Go/NoGo** (`go_nogo=True`, the protocol of the seed paper's Fig. 5 and of Benezra et al., eLife 2024):
    the clockwise stimulus (`reference + offset`, label 0) is S+, the reinforced one: "go" on it pays
    `reward_correct`; the counter-clockwise one is S-: "go" on it (a false alarm) gets `reward_wrong`
    (0 by default: unreinforced; a negative value is a timeout's cost); "no-go" gets 0 on both.

    ## Observation
    `Box(0, 255, (size, size, C), uint8)`, C = 1 (or 2 in two-frame mode: reference, test). Pixel =
    128 + 127.5 * (contrast * Gabor + noise_std * N(0, 1)), clipped; Gaussian envelope sigma = size / 5.
    Orientation is clockwise from vertical on screen.

    ## Action
    `Discrete(2)`: 0 = clockwise, 1 = counter-clockwise; `Discrete(3)` with `abstain=True`
    (2 = abstain / sure bet). Go/NoGo: `Discrete(2)`, 0 = go, 1 = no-go (so the correct action is still
    the label).

    ## Rewards
    `reward_correct` (1) for a correct report, `reward_wrong` (0) otherwise, `reward_abstain` (0.35) for
    abstaining. Go/NoGo: `reward_correct` for go on S+ (a hit), `reward_wrong` for go on S- (a false
    alarm), 0 for no-go; `correct` is 1 for a hit or a correct rejection.

    ## Termination
    After `trials_per_episode` trials (default 1: one trial per episode). No truncation.

    ## Info
    The stimulus in the returned observation: `label` (0 CW, 1 CCW), `offset_deg`, `ref_deg`,
    `orientation_deg`, `trial` (index in the block). The trial just answered: `correct` (1/0, -1 for none
    or abstain), `response`, `answered_label`, `answered_offset_deg`.

    ## Arguments
    `size` (64), `ref_deg` (0; a list interleaves references: roving), `offset_deg` (0.5, 1, 2, 5, 10;
    sampled per trial), `noise_std` (0.25, contrast units), `contrast` (0.5), `sf` (0.08 cycles/px),
    `phase` (None = random), `two_frame` (False), `abstain` (False), `trials_per_episode` (1),
    `reward_correct`, `reward_wrong`, `reward_abstain`, `transfer` (None or one of 'ref+45', 'ref+90',
    'sf*0.5', 'sf*2': transfer tests of Wenliang & Seitz), `go_nogo` (False; not with `abstain`),
    `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.psychophysics.ideal_observer_accuracy` /
    `ideal_threshold`: the Bayesian ideal observer of this stimulus model (knows both candidate
    orientations, marginalises the random phase). Efficiency = (threshold_ideal / threshold_agent)^2.

    ## Registered configurations
    - `BrainSet/OrientationDiscrimination-v0`: defaults above.
    - `BrainSet/OrientationDiscriminationEasy-v0`: offset 20 deg, noise 0.1 (a learning check).
    - `BrainSet/OrientationDiscriminationPair-v0`: two-frame mode.
    - `BrainSet/OrientationGoNoGo-v0`: Go/NoGo at offset 20 deg, noise 0.1 (the Easy stimuli); a false
      alarm costs 0.5 (`reward_wrong=-0.5`), so the agent must learn to withhold on S-.
    """

    core_class = OrientationCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 4}

    play_keys: ClassVar[dict[str, int]] = {"right": CLOCKWISE, "left": COUNTER_CLOCKWISE, "down": ABSTAIN}

    def oracle_action(self) -> int:
        """The correct report for the stimulus on screen (ground truth, for scripted policies)."""
        return int(self.state["label"][0])


class OrientationDiscriminationVectorEnv(TaskVectorEnv):
    """Native batched OrientationDiscrimination: the same core over `num_envs` envs."""

    core_class = OrientationCore
