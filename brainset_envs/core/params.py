"""Argument checks that fail early with a message naming the parameter, its value and what is allowed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, (bool, np.bool_))


def check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float inside [low, high] (open ends where asked), else ValueError/TypeError."""
    if not _is_number(value):
        raise TypeError(f"{name}={value!r} must be a number{_range(low, high, low_open, high_open)}")
    v = float(value)
    if not np.isfinite(v):
        raise ValueError(f"{name}={value!r} must be finite{_range(low, high, low_open, high_open)}")
    bad_low = low is not None and (v <= low if low_open else v < low)
    bad_high = high is not None and (v >= high if high_open else v > high)
    if bad_low or bad_high:
        raise ValueError(f"{name}={value!r} is out of range: allowed{_range(low, high, low_open, high_open)}")
    return v


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int inside [low, high], else ValueError/TypeError."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}={value!r} must be an integer{_range(low, high)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name}={value!r} is out of range: allowed{_range(low, high)}")
    return v


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(choices)}")
    return value


def check_floats(name: str, value: Any, low: float | None = None, high: float | None = None,
                 low_open: bool = False) -> np.ndarray:
    """A number or a non-empty sequence of numbers, each inside [low, high], as a float64 array."""
    seq = value if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if len(seq) == 0:
        raise ValueError(f"{name}={value!r} must be a number or a non-empty list of numbers")
    return np.array([check_float(f"{name}", v, low, high, low_open=low_open) for v in seq], dtype=np.float64)


def _range(low: Any, high: Any, low_open: bool = False, high_open: bool = False) -> str:
    if low is None and high is None:
        return ""
    lo = "-inf" if low is None else str(low)
    hi = "inf" if high is None else str(high)
    return f" in {'(' if low_open else '['}{lo}, {hi}{')' if high_open else ']'}"
