"""The BrainSet ids in gymnasium's registry, and checking env ids against it with messages that say what
is allowed (for the command-line front ends and the agents' config).

Importing this module imports the ``brainset_envs`` package first (as for any of its submodules), whose
``__init__`` registers every ``BrainSet/<Name>-v0`` id: the registry is complete whenever these functions run.
"""

from __future__ import annotations

import difflib

import gymnasium as gym

NAMESPACE = "BrainSet"


def env_ids() -> list[str]:
    """Every registered ``BrainSet/`` id, sorted."""
    return sorted(k for k in gym.registry if k.startswith(NAMESPACE + "/"))


def env_id_problem(env_id: str) -> str | None:
    """None when gymnasium knows ``env_id`` (``module:Name-vN`` imports the module first), else why not
    (with the closest registered ids, if any)."""
    try:
        gym.spec(env_id)
    except (gym.error.Error, ImportError, ValueError):
        close = difflib.get_close_matches(env_id, sorted(gym.registry), n=3, cutoff=0.75)
        return "not a registered env" + (f"; did you mean {' or '.join(close)}" if close else "")
    return None


def env_ids_allowed() -> str:
    """What an env id may be, in words."""
    return ("a registered gymnasium id: one of " + ", ".join(env_ids())
            + ", or another registered id such as CartPole-v1")


def env_id_error(env_id: str, option: str = "--env") -> str | None:
    """A one-line message for a bad ``env_id`` given as ``option``, or None when it is registered."""
    why = env_id_problem(env_id)
    return None if why is None else f"argument {option}: {env_id!r} is {why}; allowed: {env_ids_allowed()}"
