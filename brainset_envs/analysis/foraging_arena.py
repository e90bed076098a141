"""ForagingArena ground truth: reference policies (the scripted forager and a random walk) with their reward
rate and survival time, so an agent can be scored against them on the same configuration.

The scripted forager's policy, :func:`forager_actions`, is defined in :mod:`brainset_envs.tasks.foraging_arena`
(the env's ``oracle_action`` uses it) and re-exported here."""

from __future__ import annotations

from typing import Any

import numpy as np

from brainset_envs.core.grid import N_MOVES
from brainset_envs.core.params import check_choice, check_float, check_int
from brainset_envs.tasks.foraging_arena import ForagingArenaCore, forager_actions

POLICIES = ("forager", "random")

__all__ = ["POLICIES", "forager_actions", "reference_stats"]


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
