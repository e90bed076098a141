"""Harlow: the learning-set task (Harlow 1949; Wang et al. 2018): two novel objects per episode, one rewarded."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_choice, check_int
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv

LEFT, RIGHT = 0, 1
SHAPES = ("disc", "square", "triangle", "diamond", "cross", "ring", "star", "stripes")
N_SHAPES = len(SHAPES)
FEATURES = N_SHAPES + 3  # one-hot shape, then the colour (RGB / 255)
OBSERVATIONS = ("features", "pixels")


def shape_mask(shape: int, size: int) -> np.ndarray:
    """Boolean (size, size) mask of shape ``shape`` (an index into :data:`SHAPES`), centred, procedural."""
    c = (np.arange(size) + 0.5) / size * 2.0 - 1.0
    y, x = np.meshgrid(c, c, indexing="ij")  # y down the image
    r = np.hypot(x, y)
    name = SHAPES[shape]
    if name == "disc":
        return r < 0.7
    if name == "square":
        return (np.abs(x) < 0.6) & (np.abs(y) < 0.6)
    if name == "triangle":
        return (y < 0.6) & (y > -0.7 + 2.2 * np.abs(x))
    if name == "diamond":
        return np.abs(x) + np.abs(y) < 0.8
    if name == "cross":
        return ((np.abs(x) < 0.22) & (np.abs(y) < 0.75)) | ((np.abs(y) < 0.22) & (np.abs(x) < 0.75))
    if name == "ring":
        return (r < 0.75) & (r > 0.42)
    if name == "star":
        return r < 0.42 + 0.33 * np.cos(5 * np.arctan2(x, -y))
    return (np.abs(x) < 0.7) & (np.abs(y) < 0.7) & ((np.floor((y + 1.0) * 3.5) % 2) == 0)  # stripes


def object_image(shape: int, colour: np.ndarray, size: int) -> np.ndarray:
    """(size, size, 3) uint8: the shape in ``colour`` (RGB uint8) on a dark grey ground."""
    img = np.full((size, size, 3), 40, np.uint8)
    img[shape_mask(shape, size)] = colour
    return img


class HarlowCore(TaskCore):
    """Batch-first dynamics of Harlow (see :class:`HarlowEnv`).

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws, one call per
    env and episode (the two objects' shapes and colours, which one is rewarded, and the side of each
    object on every trial); steps draw nothing, so env ``i`` of a vector env is exactly a single env
    seeded with ``seed + i``.
    """

    info_keys: tuple[str, ...] = (
        "trial", "rewarded_position", "left_object", "rewarded_object", "correct", "response",
    )
    render_size: tuple[int, int] = (400, 260)
    render_fps: ClassVar[int] = 3

    def __init__(self, trials: int = 6, observation: str = "features", object_size: int = 40):
        self.trials = check_int("trials", trials, 1, 10_000)
        self.observation = check_choice("observation", observation, OBSERVATIONS)
        self.object_size = check_int("object_size", object_size, 8, 128)
        if self.observation == "pixels" and self.object_size < 36:
            raise ValueError(f"object_size={object_size!r} is too small for observation='pixels': image agents "
                             "(SB3's NatureCNN) need at least 36 px; allowed 36..128")
        self._masks = np.stack([shape_mask(s, self.object_size) for s in range(N_SHAPES)])
        self.prev_space = spaces.Box(0.0, 1.0, (3,), np.float32)  # previous action (one-hot), previous reward
        if self.observation == "features":
            self.observation_space = spaces.Box(0.0, 1.0, (2 * FEATURES + 3,), np.float32)
        else:
            self.observation_space = spaces.Dict({
                "image": spaces.Box(0, 255, (self.object_size, 2 * self.object_size, 3), np.uint8),
                "prev": self.prev_space})
        self.action_space = spaces.Discrete(2)

    def new_state(self, n: int) -> State:
        return {
            "shape": np.zeros((n, 2), np.int64), "colour": np.zeros((n, 2, 3), np.uint8),
            "feat": np.zeros((n, 2, FEATURES), np.float32), "good": np.zeros(n, np.int64),
            "left": np.zeros((n, self.trials), np.int64), "trial": np.zeros(n, np.int64),
            "last_action": np.full(n, -1, np.int64), "last_reward": np.zeros(n, np.float32),
            "correct": np.full(n, -1, np.int64), "rows": np.arange(n),
            "img": np.zeros((n, 2, self.object_size, self.object_size, 3), np.uint8)
            if self.observation == "pixels" else np.zeros((n, 0), np.uint8),
        }

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rows = state["rows"] if mask is None else state["rows"][mask]
        for i in rows.tolist():
            g = rng if isinstance(rng, np.random.Generator) else rng[i]
            u = g.random(N_SHAPES + 6 + 1 + self.trials)
            shapes = np.argsort(u[:N_SHAPES])[:2]  # two different shapes: the objects are always distinct
            colour = (40 + 215 * u[N_SHAPES: N_SHAPES + 6]).astype(np.uint8).reshape(2, 3)
            colour[:, 0] = np.maximum(colour[:, 0], 90)  # never as dark as the ground
            state["shape"][i], state["colour"][i] = shapes, colour
            feat = state["feat"][i]
            feat[:] = 0.0
            feat[[0, 1], shapes] = 1.0
            feat[:, N_SHAPES:] = colour / 255.0
            state["good"][i] = int(u[N_SHAPES + 6] < 0.5)
            state["left"][i] = (u[N_SHAPES + 7:] < 0.5).astype(np.int64)  # object on the left on each trial
            if self.observation == "pixels":
                for o in range(2):
                    state["img"][i, o] = object_image(int(shapes[o]), colour[o], self.object_size)
        state["trial"][rows] = 0
        state["last_action"][rows] = -1
        state["last_reward"][rows] = 0.0
        state["correct"][rows] = -1

    def _left(self, state: State) -> np.ndarray:
        return state["left"][state["rows"], np.minimum(state["trial"], self.trials - 1)]

    def rewarded_position(self, state: State) -> np.ndarray:
        """Where the rewarded object is on the trial on screen: 0 left, 1 right."""
        return (self._left(state) != state["good"]).astype(np.int64)

    def step(self, state: State, action: np.ndarray, rng: Rng):
        correct = action == self.rewarded_position(state)
        state["correct"][:] = correct
        state["last_action"][:] = action
        state["last_reward"][:] = correct
        state["trial"] += 1
        terminated = state["trial"] >= self.trials
        return correct.astype(np.float32), terminated, np.zeros_like(terminated)

    def _prev(self, state: State) -> np.ndarray:
        n = len(state["rows"])
        prev = np.zeros((n, 3), np.float32)
        la = state["last_action"]
        acted = la >= 0
        prev[np.flatnonzero(acted), la[acted]] = 1.0
        prev[:, 2] = state["last_reward"]
        return prev

    def observe(self, state: State) -> Any:
        rows = state["rows"]
        left = self._left(state)
        if self.observation == "features":
            f = state["feat"]
            return np.concatenate([f[rows, left], f[rows, 1 - left], self._prev(state)], axis=1)
        img = state["img"]
        return {"image": np.concatenate([img[rows, left], img[rows, 1 - left]], axis=2), "prev": self._prev(state)}

    def info(self, state: State) -> dict[str, np.ndarray]:
        return {
            "trial": state["trial"], "rewarded_position": self.rewarded_position(state),
            "left_object": self._left(state), "rewarded_object": state["good"], "correct": state["correct"],
            "response": state["last_action"],
        }

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf = canvas.surface
        w, h = surf.get_size()
        surf.fill((24, 26, 32))
        left = int(self._left(state)[i])
        panel = 150
        for pos, obj in enumerate((left, 1 - left)):
            img = object_image(int(state["shape"][i, obj]), state["colour"][i, obj], panel)
            x0 = 35 + pos * (panel + 30)
            surf.blit(pygame.surfarray.make_surface(np.ascontiguousarray(img.transpose(1, 0, 2))), (x0, 50))
        la, corr = int(state["last_action"][i]), int(state["correct"][i])
        if la >= 0:  # feedback on the last choice, at the side chosen
            rect = pygame.Rect(35 + la * (panel + 30) - 6, 44, panel + 12, panel + 12)
            pygame.draw.rect(surf, (40, 200, 60) if corr == 1 else (220, 50, 50), rect, 5)
        t = int(state["trial"][i])
        words = {1: "rewarded", 0: "not rewarded", -1: "choose left or right"}[corr]
        text = f"trial {min(t + 1, self.trials)}/{self.trials}   last: {words}"
        surf.blit(canvas.font(20).render(text, True, (230, 230, 230)), (8, 14))
        good = SHAPES[int(state["shape"][i, int(state["good"][i])])]
        surf.blit(canvas.font(16).render(f"the rewarded object is the {good}", True, (170, 170, 180)), (8, h - 26))


class HarlowEnv(TaskEnv):
    """
    ## Description
    Harlow's learning-set task (Harlow 1949, "The formation of learning sets"; the meta-RL version of Wang
    et al. 2018, Nat Neurosci 21:860). Each episode brings two novel objects; one of them is always
    rewarded, the other never. On every trial the two objects are shown side by side, their sides shuffled
    at random, and the agent picks one. The first trial can only be a guess; an agent that has learned to
    learn picks the rewarded object on every later trial. Objects are generated by the env from its own
    random stream: two different shapes out of 8 (disc, square, triangle, diamond, cross, ring, star,
    stripes) in random colours; no data files.

    ## Observation
    - `observation="features"` (default): `Box(0, 1, (25,), float32)`, a flat vector (check_env, SB3
      `MlpPolicy`, TorchRL, recurrent agents): the left object's features (one-hot shape (8), colour
      RGB / 255 (3)), the right object's, then the previous action (one-hot, 2) and the previous reward.
    - `observation="pixels"`: `Dict(image=Box(0, 255, (S, 2S, 3), uint8), prev=Box(0, 1, (3,), float32))`
      (SB3's `MultiInputPolicy`, TorchRL): the two objects as images of `object_size` S px side by side,
      and the previous action and reward.
    At reset the previous action and reward are zeros.

    ## Action
    `Discrete(2)`: 0 = pick the left object, 1 = the right one.

    ## Rewards
    1 for the rewarded object, 0 for the other.

    ## Termination
    After `trials` trials (6). No truncation.

    ## Info
    `trial` (trials done), `rewarded_position` (the correct action on the trial on screen),
    `left_object` (0/1: which of the episode's objects is on the left), `rewarded_object`, and for the
    last trial `correct` (1/0, -1 none yet) and `response`.

    ## Arguments
    `trials` (6), `observation` ('features' or 'pixels'), `object_size` (40 px; >= 36 for pixels),
    `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.harlow`: `IdealLearner` (acts on the observations only: a guess on trial 1,
    then the object rewarded on trial 1, or the other one) is at chance on trial 1 and perfect after;
    `ideal_accuracy(trials)` gives that curve and `trial_accuracy` measures any policy's accuracy per
    trial position. `oracle_action` knows the rewarded object from the start.

    ## Registered configurations
    - `BrainSet/Harlow-v0`: 6 trials, object features.
    - `BrainSet/HarlowPixels-v0`: 6 trials, object images (40 x 80 x 3).
    """

    core_class = HarlowCore
    core: HarlowCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 3}

    play_keys: ClassVar[dict[str, int]] = {"left": LEFT, "right": RIGHT}

    def oracle_action(self) -> int:
        """The side of the rewarded object (knows it from trial 1; for scoring, not learning)."""
        return int(self.core.rewarded_position(self.state)[0])


class HarlowVectorEnv(TaskVectorEnv):
    """Native batched Harlow: the same core over `num_envs` envs."""

    core_class = HarlowCore
    core: HarlowCore
