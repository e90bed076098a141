"""Reference policies for ForagingArena: a scripted forager and a random walk, with their reward rate and
survival time, so an agent can be scored against them on the same configuration."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainset_envs.core.grid import N_MOVES, STAY
from brainset_envs.core.params import check_choice, check_float, check_int
from brainset_envs.core.task_core import State
from brainset_envs.tasks.foraging_arena import ForagingArenaCore

POLICIES = ("forager", "random")


def forager_actions(core: ForagingArenaCore, state: State, threshold: float | None = None,
                    min_food: float | None = None) -> np.ndarray:
    """Actions of the scripted forager for every env of a batch.

    Below ``threshold`` energy (default: the core's setpoint) walk along a shortest path to the nearest
    patch with at least ``min_food`` (default: one bite) and stay on it to eat; if no patch has that
    much, go to the fullest one and wait there. At or above the threshold rest: stay, or step off a
    patch that still has food (eating is automatic, so resting on food would overeat). Deterministic.
    """
    grid = core.grid
    thr = core.setpoint if threshold is None else threshold
    cell, rows = state["cell"], state["rows"]
    patch = state["patch"]
    action = np.full(len(cell), STAY, np.intp)
    if core.n_patches == 0:
        return action
    food_here = state["ext"][rows, cell] > 0
    dist = grid.distances()[cell[:, None], patch].astype(float)
    dist[dist < 0] = np.inf
    amount = core.food(state)
    need = core.bite if min_food is None else min_food / core.food_max
    full = amount >= need * (1 - 1e-6)
    d_food = np.where(full, dist, np.inf)
    # nearest patch with a full bite; if none, the fullest patch (ties: the nearest)
    fallback = np.where(np.isfinite(dist), -amount + 1e-3 * dist / (1.0 + dist.max()), np.inf)
    has = np.isfinite(d_food).any(1)
    pick = np.where(has, d_food.argmin(1), fallback.argmin(1))
    target = patch[rows, pick]
    go = grid.step_towards(cell, target)
    # resting: off the food, to the first neighbour without food
    nb = grid.next[cell, :4]
    nb_free = (state["ext"][rows[:, None], nb] <= 0) & (nb != cell[:, None])
    leave = np.where(nb_free.any(1), nb_free.argmax(1), STAY)
    hungry = core.energy(state) < thr
    action[hungry] = go[hungry]
    sated_on_food = ~hungry & food_here
    action[sated_on_food] = leave[sated_on_food]
    return action


def reference_stats(policy: str = "forager", episodes: int = 64, seed: int = 0,
                    threshold: float | None = None, min_food: float | None = None,
                    **env_kwargs: Any) -> dict[str, float]:
    """Run ``episodes`` episodes of a reference policy (all at once, batched) on ForagingArena with
    ``env_kwargs``; return per-step rates and survival.

    Keys: ``reward_rate`` (mean reward per step over all steps), ``food_rate`` (food per step),
    ``return`` (mean episode return), ``survival_time`` (mean episode length in steps), ``starved``
    (fraction of episodes ended by energy reaching zero), ``mean_energy``.
    """
    check_choice("policy", policy, POLICIES)
    episodes = check_int("episodes", episodes, 1)
    if threshold is not None:
        threshold = check_float("threshold", threshold, 0.0, 1.0)
    core = ForagingArenaCore(**env_kwargs)
    rng = np.random.default_rng(seed)
    state = core.new_state(episodes)
    core.reset(state, None, rng)
    alive = np.ones(episodes, bool)
    length = np.zeros(episodes, np.int64)
    ret = np.zeros(episodes)
    food = np.zeros(episodes)
    energy_sum = np.zeros(episodes)
    starved = np.zeros(episodes, bool)
    while alive.any():
        if policy == "forager":
            act = forager_actions(core, state, threshold, min_food)
        else:
            act = rng.integers(0, N_MOVES, episodes)
        reward, term, trunc = core.step(state, act, rng)
        ret[alive] += reward[alive]
        food[alive] += state["eaten"][alive]
        energy_sum[alive] += core.energy(state)[alive]
        length[alive] += 1
        starved |= alive & term
        alive &= ~(term | trunc)
    steps = length.sum()
    return {"reward_rate": float(ret.sum() / steps), "food_rate": float(food.sum() / steps),
            "return": float(ret.mean()), "survival_time": float(length.mean()),
            "starved": float(starved.mean()), "mean_energy": float(energy_sum.sum() / steps)}
