"""BrainSet's tests, in folders that mirror the packages (tests/brainset_envs/..., tests/agents/...)."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the repository root
