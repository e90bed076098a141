"""TwoStep: the two-step task of Daw et al. 2011 (model-based vs model-free choice; Wang et al. 2018)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_budget, check_choice, check_float, check_int
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv

SCHEDULES = ("drift", "switch")
FIRST, STATE_A, STATE_B = 0, 1, 2  # the state on screen (observation slots 0..2)
OBS_DIM = 6  # [first stage, state A, state B, previous action (2, one-hot), previous reward]


class TwoStepCore(TaskCore):
    """Batch-first dynamics of TwoStep (see :class:`TwoStepEnv`).

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws, per env and
    episode: the transition and reward uniforms of every trial and the whole reward-probability
    trajectory (the random walk or the switches). Steps draw nothing, so env ``i`` of a vector env is
    exactly a single env seeded with ``seed + i`` at no cost per step.

    State: ``p`` (n, trials, 2, 2) reward probability of (second-stage state, second-stage action) on
    each trial; ``u`` (n, trials, 2) the transition and reward uniforms; ``stage`` (0 first, 1 second);
    ``where`` (0 first stage, 1 state A, 2 state B); ``trial``; the last action, reward, first-stage
    choice and transition type.
    """

    info_keys: tuple[str, ...] = (
        "stage", "state", "trial", "first_action", "common", "pA0", "pA1", "pB0", "pB1", "best_first_action",
    )
    render_size: tuple[int, int] = (420, 330)
    render_fps: ClassVar[int] = 4

    def __init__(
        self,
        trials: int = 100,
        common_prob: float = 0.7,
        rewards: str = "drift",
        drift_sd: float = 0.025,
        reward_min: float = 0.25,
        reward_max: float = 0.75,
        reward_high: float = 0.9,
        reward_low: float = 0.1,
        switch_prob: float = 0.1,
    ):
        self.trials = check_int("trials", trials, 1, 1_000_000)
        self.common_prob = check_float("common_prob", common_prob, 0.5, 1.0)
        self.schedule = check_choice("rewards", rewards, SCHEDULES)
        self.drift_sd = check_float("drift_sd", drift_sd, 0.0, 1.0)
        self.reward_min = check_float("reward_min", reward_min, 0.0, 1.0)
        self.reward_max = check_float("reward_max", reward_max, 0.0, 1.0)
        if self.reward_max <= self.reward_min:
            raise ValueError(f"reward_max={reward_max!r} must be above reward_min={reward_min!r} (the reflecting "
                             "bounds of the drifting reward probabilities)")
        self.reward_high = check_float("reward_high", reward_high, 0.0, 1.0)
        self.reward_low = check_float("reward_low", reward_low, 0.0, 1.0)
        self.switch_prob = check_float("switch_prob", switch_prob, 0.0, 1.0)
        check_budget(f"trials={trials!r}", "the reward-probability trajectory of one episode", 6.0 * self.trials)
        self.observation_space = spaces.Box(0.0, 1.0, (OBS_DIM,), np.float32)
        self.action_space = spaces.Discrete(2)

    def new_state(self, n: int) -> State:
        return {
            "p": np.zeros((n, self.trials, 2, 2)), "u": np.zeros((n, self.trials, 2)),
            "stage": np.zeros(n, np.int64), "where": np.zeros(n, np.int64), "trial": np.zeros(n, np.int64),
            "last_action": np.full(n, -1, np.int64), "last_reward": np.zeros(n),
            "first_action": np.full(n, -1, np.int64), "common": np.full(n, -1, np.int64),
            "rows": np.arange(n),
        }

    def _trajectory(self, g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """One env's episode: (reward probabilities (trials, 2, 2), uniforms (trials, 2)); two calls on ``g``."""
        T = self.trials
        p = np.empty((T, 2, 2))
        if self.schedule == "switch":  # per trial: transition, reward and switch uniforms
            u = g.random((T, 3))
            good = np.empty(T, np.int64)
            g0 = int(u[0, 2] < 0.5)  # state A (0) or B (1) is the rewarding one on trial 0
            flips = np.concatenate([[0], (u[1:, 2] < self.switch_prob).astype(np.int64)])
            good[:] = (g0 + np.cumsum(flips)) % 2
            p[:, 0, :] = np.where(good == 0, self.reward_high, self.reward_low)[:, None]
            p[:, 1, :] = np.where(good == 1, self.reward_high, self.reward_low)[:, None]
            return p, u[:, :2]
        u = g.random(T * 2 + 4)  # 4 starting probabilities, then the transition and reward uniforms
        lo, hi = self.reward_min, self.reward_max
        cur = lo + (hi - lo) * u[:4]
        steps = g.standard_normal((max(T - 1, 0), 4)) * self.drift_sd
        flat = p.reshape(T, 4)
        flat[0] = cur
        for t in range(1, T):  # Gaussian random walk with reflecting bounds (Daw et al. 2011)
            cur = cur + steps[t - 1]
            cur = np.where(cur > hi, 2 * hi - cur, cur)
            cur = np.where(cur < lo, 2 * lo - cur, cur)
            cur = np.clip(cur, lo, hi)  # a step larger than the band cannot escape it
            flat[t] = cur
        return p, u[4:].reshape(T, 2)

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rows = state["rows"] if mask is None else state["rows"][mask]
        for i in rows.tolist():
            g = rng if isinstance(rng, np.random.Generator) else rng[i]
            state["p"][i], state["u"][i] = self._trajectory(g)
        for key, value in (("stage", 0), ("where", FIRST), ("trial", 0), ("last_action", -1), ("last_reward", 0),
                           ("first_action", -1), ("common", -1)):
            state[key][rows] = value

    def step(self, state: State, action: np.ndarray, rng: Rng):
        rows = state["rows"]
        n = len(rows)
        t = np.minimum(state["trial"], self.trials - 1)  # an ended env steps once more in the autoreset step
        u = state["u"][rows, t]
        first = state["stage"] == 0
        reward = np.zeros(n)
        # first stage: action a leads to state a (common) or 1 - a (uncommon)
        common = u[:, 0] < self.common_prob
        second = np.where(common, action, 1 - action)
        # second stage: paid with the probability of (state, action) on this trial
        s2 = np.maximum(state["where"] - 1, 0)
        paid = u[:, 1] < state["p"][rows, t, s2, action]
        reward[~first] = paid[~first]
        state["first_action"] = np.where(first, action, state["first_action"])
        state["common"] = np.where(first, common.astype(np.int64), state["common"])
        state["where"] = np.where(first, second + 1, FIRST)
        state["trial"] += ~first
        state["stage"] = first.astype(np.int64)
        state["last_action"][:] = action
        state["last_reward"][:] = reward
        terminated = state["trial"] >= self.trials
        return reward.astype(np.float32), terminated, np.zeros(n, bool)

    def observe(self, state: State) -> np.ndarray:
        n = len(state["rows"])
        obs = np.zeros((n, OBS_DIM), np.float32)
        obs[state["rows"], state["where"]] = 1.0
        la = state["last_action"]
        acted = la >= 0
        obs[np.flatnonzero(acted), 3 + la[acted]] = 1.0
        obs[:, 5] = state["last_reward"]
        return obs

    def _current_p(self, state: State) -> np.ndarray:
        t = np.minimum(state["trial"], self.trials - 1)
        return state["p"][state["rows"], t]  # (n, 2, 2)

    def best_first_action(self, state: State) -> np.ndarray:
        """The first-stage action with the higher expected reward, knowing the current probabilities."""
        best = self._current_p(state).max(axis=2)  # (n, state)
        c = self.common_prob
        v0 = c * best[:, 0] + (1 - c) * best[:, 1]
        v1 = c * best[:, 1] + (1 - c) * best[:, 0]
        return (v1 > v0).astype(np.int64)

    def info(self, state: State) -> dict[str, np.ndarray]:
        p = self._current_p(state)
        return {
            "stage": state["stage"], "state": state["where"], "trial": state["trial"],
            "first_action": state["first_action"], "common": state["common"],
            "pA0": p[:, 0, 0], "pA1": p[:, 0, 1], "pB0": p[:, 1, 0], "pB1": p[:, 1, 1],
            "best_first_action": self.best_first_action(state),
        }

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf = canvas.surface
        w, h = surf.get_size()
        surf.fill((24, 26, 32))
        where, la, r = int(state["where"][i]), int(state["last_action"][i]), float(state["last_reward"][i])
        colours = {FIRST: (150, 150, 160), STATE_A: (70, 160, 220), STATE_B: (220, 140, 60)}
        boxes = {FIRST: pygame.Rect(w // 2 - 70, 40, 140, 60), STATE_A: pygame.Rect(30, 150, 150, 70),
                 STATE_B: pygame.Rect(w - 180, 150, 150, 70)}
        c = self.common_prob
        for a, (target, other) in enumerate(((STATE_A, STATE_B), (STATE_B, STATE_A))):
            start = (boxes[FIRST].left + 35 + 70 * a, boxes[FIRST].bottom)
            pygame.draw.line(surf, (200, 200, 200), start, boxes[target].midtop, max(1, int(6 * c)))
            pygame.draw.line(surf, (110, 110, 110), start, boxes[other].midtop, max(1, int(6 * (1 - c))))
        p = self._current_p(state)[i]
        for s, box in boxes.items():
            active = s == where
            pygame.draw.rect(surf, colours[s] if active else tuple(v // 3 for v in colours[s]), box)
            if active and la >= 0 and where == FIRST and state["trial"][i] > 0:
                pygame.draw.rect(surf, (40, 200, 60) if r > 0 else (220, 50, 50), box, 4)
            label = {FIRST: "choose", STATE_A: "A", STATE_B: "B"}[s]
            surf.blit(canvas.font(20).render(label, True, (20, 20, 24)), (box.left + 8, box.top + 6))
            if s != FIRST:
                for a in range(2):  # bars: the hidden reward probabilities of the two second-stage actions
                    bh = int(60 * p[s - 1, a])
                    bar = pygame.Rect(box.left + 40 + 50 * a, box.bottom + 68 - bh, 20, bh)
                    pygame.draw.rect(surf, (240, 240, 240), bar)
        trial = int(state["trial"][i])
        common = int(state["common"][i])
        trans = {1: "common", 0: "uncommon", -1: "-"}[common]
        text = f"trial {min(trial + 1, self.trials)}/{self.trials}   last transition: {trans}   last reward: {r:g}"
        surf.blit(canvas.font(18).render(text, True, (230, 230, 230)), (8, 10))
        surf.blit(canvas.font(16).render("bars: reward probability of each second-stage action", True,
                                         (170, 170, 180)), (8, h - 22))


class TwoStepEnv(TaskEnv):
    """
    ## Description
    The two-step task of Daw et al. 2011 (Neuron 69:1204), the test of model-based versus model-free choice
    used for meta-RL by Wang et al. 2018 (Nat Neurosci 21:860). Each trial has two steps: a first-stage
    choice (action 0 or 1) leads to second-stage state A or B, action 0 commonly to A and action 1
    commonly to B (probability `common_prob`), otherwise to the other state (an uncommon transition);
    a second-stage choice is then paid 1 with a probability that changes over trials:
    - `rewards="drift"` (Daw et al. 2011): each of the 4 (state, action) probabilities follows a Gaussian
      random walk (sd `drift_sd` per trial) reflected at `reward_min` and `reward_max` (0.25, 0.75);
    - `rewards="switch"` (Wang et al.'s simplified version): one second-stage state pays with
      `reward_high` (0.9), the other with `reward_low` (0.1), whatever the second-stage action; the roles
      swap with probability `switch_prob` per trial (0.1, read from a public re-implementation's config,
      not checked against the paper).
    A model-free learner repeats rewarded first-stage choices whatever the transition; a model-based one
    repeats a choice after a rewarded common or an unrewarded uncommon transition (the interaction of
    reward and transition in the stay probabilities).

    ## Observation
    `Box(0, 1, (6,), float32)`, a flat vector (works with check_env, SB3 `MlpPolicy`, TorchRL and
    recurrent agents): `[first stage, state A, state B]` one-hot (the state on screen), then the previous
    action (one-hot, 2; zeros at reset) and the previous reward, as meta-RL needs.

    ## Action
    `Discrete(2)` at both stages.

    ## Rewards
    0 at the first stage; at the second stage 1 with the current probability of (state, action), else 0.

    ## Termination
    After `trials` trials (100), i.e. `2 * trials` steps. No truncation.

    ## Info
    `stage` (0 first, 1 second: of the observation returned), `state` (0 first stage, 1 A, 2 B), `trial`
    (trials completed), `first_action` and `common` (1 common, 0 uncommon, -1 none yet) of the current or
    last trial, the current reward probabilities `pA0`, `pA1`, `pB0`, `pB1`, and `best_first_action`.

    ## Arguments
    `trials` (100), `common_prob` (0.7; 0.5..1), `rewards` ('drift' or 'switch'), `drift_sd` (0.025),
    `reward_min` (0.25), `reward_max` (0.75), `reward_high` (0.9), `reward_low` (0.1), `switch_prob` (0.1),
    `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.two_step`: simple model-based and model-free agents (`ModelBasedAgent`,
    `ModelFreeAgent`) that act on the observations, `record_trials` (an episode log from any policy),
    `stay_probabilities` (the 2 x 2 table: rewarded / unrewarded x common / uncommon), and
    `stay_regression` (logistic regression; the model-based index is the reward x transition
    interaction). `oracle_action` knows the current probabilities.

    ## Registered configurations
    - `BrainSet/TwoStep-v0`: Daw et al. 2011: common 0.7, drifting probabilities, 100 trials.
    - `BrainSet/TwoStepSwitching-v0`: Wang et al.'s version: common 0.9, 0.9 / 0.1 state rewards that swap
      with probability 0.1 per trial, 100 trials.
    """

    core_class = TwoStepCore
    core: TwoStepCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 4}

    play_keys: ClassVar[dict[str, int]] = {"left": 0, "right": 1}

    def oracle_action(self) -> int:
        """Knowing the current reward probabilities: the better first-stage action, then the better
        second-stage action (for scoring, not learning)."""
        s = self.state
        if s["stage"][0] == 0:
            return int(self.core.best_first_action(s)[0])
        p = self.core._current_p(s)[0, s["where"][0] - 1]
        return int(p[1] > p[0])


class TwoStepVectorEnv(TaskVectorEnv):
    """Native batched TwoStep: the same core over `num_envs` envs."""

    core_class = TwoStepCore
    core: TwoStepCore
