"""The component registries, at the bottom of ``agents`` so that every layer can read them: learning
rules and objectives by name (their packages register the built-ins when ``agents`` is imported), and
the objective-spec grammar (``"reward+0.1*predictive"``) that the config layer validates against them.

Register through :func:`agents.rules.register_rule` and :func:`agents.objectives.register_objective`;
read through ``available_rules()`` / ``available_objectives()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

RULES: dict[str, Callable[..., Any]] = {}  # name -> LearningRule class or factory (registration order)
OBJECTIVES: dict[str, Callable[..., Any]] = {}  # name -> Objective factory

_TERM = re.compile(r"^\s*(?:([0-9.eE+\-]+)\s*\*\s*)?([A-Za-z_][A-Za-z0-9_\-]*)\s*$")


def parse_spec(spec: str) -> list[tuple[float, str]]:
    """``"reward+0.1*predictive"`` -> ``[(1.0, 'reward'), (0.1, 'predictive')]``."""
    # split on '+' that is not part of a number's exponent (1e+3)
    parts = re.split(r"(?<![eE])\+", spec)
    out = []
    for p in parts:
        m = _TERM.match(p)
        if not m:
            raise ValueError(f"objective={spec!r}: cannot read the term {p!r}; write e.g. "
                             f"'reward' or 'reward+0.1*predictive'")
        w = float(m.group(1)) if m.group(1) else 1.0
        out.append((w, m.group(2)))
    return out
