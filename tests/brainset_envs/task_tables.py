"""What the registry-wide tests need to know about each task, declared beside the task's own tests.

Each ``tests/brainset_envs/tasks/test_<task>.py`` ends with ``CONFORMANCE = TaskTables(...)``;
``tests/brainset_envs/test_conformance.py`` collects them with :func:`collect` and fails for a
registered task that has none, so adding a task means its modules, one registry row and its test file.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from tests.brainset_envs import tasks


@dataclass(frozen=True)
class TaskTables:
    """Per-task inputs of the registry-wide tests.

    task: class stem of the entry point (``OrientationDiscriminationEnv`` -> ``"OrientationDiscrimination"``).
    bad_kwargs: malformed constructor arguments, each with a word the error message must contain.
    short_episodes: arguments that make episodes short, so the tests that compare envs through episode
        ends and autoresets see several within a few hundred steps (``{}`` where they already are).
    fast_path_variants: further arguments under which the scalar fast path ``step_one`` is checked against
        the batch path, for branches no registered configuration reaches.
    seed_independent: episodes do not depend on the seed at all (no randomness): "different seeds give
        different episodes" becomes "identical episodes".
    blind_start: the first observation carries nothing about the episode by design (meta-RL tasks): "unseeded
        resets continue the stream" is checked on the reset info (the hidden variables) too.
    """

    task: str
    bad_kwargs: list[tuple[dict[str, Any], str]]
    short_episodes: dict[str, Any]
    fast_path_variants: list[dict[str, Any]] = field(default_factory=list)
    seed_independent: bool = False
    blind_start: bool = False


def task_stem(env_id: str) -> str:
    """Class stem of an id's entry point, e.g. 'OrientationDiscrimination'."""
    ep = gym.spec(env_id).entry_point
    assert isinstance(ep, str), f"{env_id}: entry point {ep!r} is not a 'module:Class' string"
    return ep.split(":")[1].removesuffix("Env")


def collect() -> dict[str, TaskTables]:
    """Every ``CONFORMANCE`` declared in ``tests/brainset_envs/tasks/``, by task stem."""
    found: dict[str, TaskTables] = {}
    for info in pkgutil.iter_modules(tasks.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"{tasks.__name__}.{info.name}")
        tables = getattr(module, "CONFORMANCE", None)
        if tables is None:
            continue
        assert tables.task not in found, f"two test files declare CONFORMANCE for {tables.task}"
        found[tables.task] = tables
    return found
