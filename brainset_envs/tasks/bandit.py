"""Bandit: a k-armed Bernoulli bandit whose arms are drawn anew each episode (Wang et al. 2016, 2018)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from brainset_envs.core.params import check_budget, check_int
from brainset_envs.core.rand import per_env
from brainset_envs.core.single import TaskEnv
from brainset_envs.core.task_core import Rng, State, TaskCore
from brainset_envs.core.vector import TaskVectorEnv

MAX_ARMS = 64


def _check_bool(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be True or False")
    return bool(value)


class BanditCore(TaskCore):
    """Batch-first dynamics of Bandit (see :class:`BanditEnv`).

    Per-env random streams (the default ``shared_stream = False``): only :meth:`reset` draws, one call
    per env and episode: the arm probabilities and a table of ``horizon x arms`` uniforms that fixes
    every arm's outcome on every pull (``outcome[t, a] = u[t, a] < p[a]``). Steps draw nothing, so env
    ``i`` of a vector env is exactly a single env seeded with ``seed + i`` at no cost per step.
    """

    render_fps: ClassVar[int] = 6

    def __init__(self, arms: int = 2, horizon: int = 100, correlated: bool = False):
        self.arms = check_int("arms", arms, 2, MAX_ARMS)
        self.horizon = check_int("horizon", horizon, 1, 1_000_000)
        self.correlated = _check_bool("correlated", correlated)
        check_budget(f"horizon={horizon!r}, arms={arms!r}", "the outcome table of one episode",
                     float(self.horizon) * self.arms)
        if self.correlated and self.arms != 2:
            raise ValueError(f"correlated=True needs arms=2 (p and 1 - p, Wang et al.); got arms={arms!r}")
        self.info_keys = (*(f"p{a}" for a in range(self.arms)), "best_arm", "pulls", "expected_regret")
        # observation: one-hot previous arm (k), previous reward, pulls / horizon
        self.obs_dim = self.arms + 2
        self.observation_space = spaces.Box(0.0, 1.0, (self.obs_dim,), np.float32)
        self.action_space = spaces.Discrete(self.arms)
        self.render_size = (480, 300)

    def new_state(self, n: int) -> State:
        return {
            "p": np.zeros((n, self.arms)), "win": np.zeros((n, self.horizon, self.arms), bool),
            "t": np.zeros(n, np.int64), "last_action": np.full(n, -1, np.int64),
            "last_reward": np.zeros(n), "succ": np.zeros((n, self.arms), np.int64),
            "fail": np.zeros((n, self.arms), np.int64), "regret": np.zeros(n), "rows": np.arange(n),
        }

    def _draw(self, g: np.random.Generator, m: int) -> np.ndarray:
        """One call per env: (m, k + horizon*k) uniforms (probabilities, then the outcome table)."""
        return g.random((m, (1 if self.correlated else self.arms) + self.horizon * self.arms))

    def reset(self, state: State, mask: np.ndarray | None, rng: Rng) -> None:
        rows = state["rows"] if mask is None else state["rows"][mask]
        u = per_env(rng, rows, self._draw)
        if self.correlated:
            p = np.concatenate([u[:, :1], 1.0 - u[:, :1]], axis=1)
            table = u[:, 1:]
        else:
            p, table = u[:, : self.arms], u[:, self.arms:]
        state["p"][rows] = p
        state["win"][rows] = table.reshape(len(rows), self.horizon, self.arms) < p[:, None, :]
        state["t"][rows] = 0
        state["last_action"][rows] = -1
        for key in ("last_reward", "succ", "fail", "regret"):
            state[key][rows] = 0

    def step(self, state: State, action: np.ndarray, rng: Rng):
        rows, t = state["rows"], state["t"]
        # (an env whose episode has ended steps once more in the vector env's autoreset step, then resets)
        won = state["win"][rows, np.minimum(t, self.horizon - 1), action]
        state["succ"][rows, action] += won
        state["fail"][rows, action] += ~won
        p = state["p"]
        state["regret"] += p.max(axis=1) - p[rows, action]
        state["last_action"][:] = action
        state["last_reward"][:] = won
        t += 1
        terminated = t >= self.horizon
        return won.astype(np.float32), terminated, np.zeros_like(terminated)

    def observe(self, state: State) -> np.ndarray:
        n = len(state["t"])
        obs = np.zeros((n, self.obs_dim), np.float32)
        la = state["last_action"]
        pulled = la >= 0
        obs[np.flatnonzero(pulled), la[pulled]] = 1.0
        obs[:, self.arms] = state["last_reward"]
        obs[:, self.arms + 1] = state["t"] / self.horizon
        return obs

    def info(self, state: State) -> dict[str, np.ndarray]:
        p = state["p"]
        out = {f"p{a}": p[:, a] for a in range(self.arms)}
        out.update(best_arm=p.argmax(axis=1), pulls=state["t"], expected_regret=state["regret"])
        return out

    def draw(self, canvas: Any, state: State, i: int) -> None:
        import pygame  # deferred: pygame (SDL) loads only when rendering

        surf = canvas.surface
        w, h = surf.get_size()
        surf.fill((24, 26, 32))
        col = w / self.arms
        top, bottom = 48, h - 56
        la, won = int(state["last_action"][i]), bool(state["last_reward"][i])
        best = int(state["p"][i].argmax())
        for a in range(self.arms):
            x0 = int(a * col + col * 0.15)
            bw = max(2, int(col * 0.7))
            frame = pygame.Rect(x0, top, bw, bottom - top)
            pygame.draw.rect(surf, (60, 64, 76), frame)
            s, f = int(state["succ"][i, a]), int(state["fail"][i, a])
            mean = (s + 1) / (s + f + 2)  # posterior mean under Beta(1, 1) (independent view)
            fill = int((bottom - top) * mean)
            pygame.draw.rect(surf, (90, 140, 220), pygame.Rect(x0, bottom - fill, bw, fill))
            y = bottom - int((bottom - top) * state["p"][i, a])  # the hidden true probability
            pygame.draw.line(surf, (250, 210, 60) if a == best else (200, 200, 200), (x0 - 3, y), (x0 + bw + 2, y), 3)
            if a == la:
                pygame.draw.rect(surf, (40, 200, 60) if won else (220, 50, 50), frame, 4)
            if col >= 30:
                surf.blit(canvas.font(16).render(f"{s}/{s + f}", True, (230, 230, 230)), (x0, bottom + 6))
        t = int(state["t"][i])
        total = int(state["succ"][i].sum())
        text = f"pull {t}/{self.horizon}   reward {total}   regret {state['regret'][i]:.1f}"
        surf.blit(canvas.font(20).render(text, True, (230, 230, 230)), (8, 14))
        surf.blit(canvas.font(16).render("bar: posterior mean   line: true p (gold = best)", True,
                                         (170, 170, 180)), (8, h - 24))


class BanditEnv(TaskEnv):
    """
    ## Description
    A k-armed Bernoulli bandit whose arm probabilities are drawn anew at every reset, so that an agent
    must learn each episode's bandit from its own experience: the bandit family of "learning to
    reinforcement learn" (Wang et al. 2016; Wang et al. 2018, Nat Neurosci 21:860). Independent arms:
    `p_a ~ Uniform(0, 1)` each. Correlated arms (`correlated=True`, 2 arms): `p_0 ~ Uniform(0, 1)`,
    `p_1 = 1 - p_0`, so a pull of either arm informs about both.

    ## Observation
    `Box(0, 1, (arms + 2,), float32)`, a flat vector (works unchanged with gymnasium's check_env, SB3's
    `MlpPolicy`, TorchRL and recurrent agents): `[one-hot previous arm (arms), previous reward,
    pulls so far / horizon]`. At reset the previous arm and reward are all zeros. A bandit has no other
    observation: the previous action and reward are what a meta-RL agent learns from.

    ## Action
    `Discrete(arms)`: the arm to pull.

    ## Rewards
    1 with probability `p_a` of the pulled arm, else 0.

    ## Termination
    After `horizon` pulls (default 100). No truncation.

    ## Info
    The hidden variables: `p0` ... `p{arms-1}` (true probabilities), `best_arm`, `pulls`, and
    `expected_regret` (sum over the pulls so far of `max(p) - p[pulled arm]`).

    ## Arguments
    `arms` (2; 2..64), `horizon` (100), `correlated` (False; needs `arms=2`), `render_mode`.

    ## Ground truth
    `brainset_envs.analysis.bandit`: `bayes_optimal(arms, horizon, correlated)` is the Bayes-optimal
    policy for Beta(1, 1) priors (exact dynamic programming over the posterior counts) and its expected
    regret, the floor any learner can reach on this prior; `thompson_regret` and `ucb_regret` are the
    usual references above it (Monte Carlo with a seed). `oracle_action` pulls the truly best arm.

    ## Registered configurations
    - `BrainSet/Bandit-v0`: 2 independent arms, 100 pulls.
    - `BrainSet/BanditCorrelated-v0`: 2 arms with `p_1 = 1 - p_0`, 100 pulls.
    """

    core_class = BanditCore
    metadata: dict[str, Any] = {"render_modes": ["human", "rgb_array"], "render_fps": 6}

    play_keys: ClassVar[dict[str, int]] = {"left": 0, "right": 1}

    def oracle_action(self) -> int:
        """The arm with the highest true probability (knows the hidden ``p``; for scoring, not learning)."""
        return int(self.state["p"][0].argmax())


class BanditVectorEnv(TaskVectorEnv):
    """Native batched Bandit: the same core over `num_envs` envs."""

    core_class = BanditCore
