"""Argument checks that fail early with a message naming the parameter, its value and what is allowed."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

#: largest finite float32 and smallest normal float32: the envs compute observations and rewards in float32
F32_MAX = float(np.finfo(np.float32).max)
F32_TINY = float(np.finfo(np.float32).tiny)


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


def check_float32(name: str, value: Any, low: float | None = None, high: float | None = None,
                  low_open: bool = False, high_open: bool = False) -> float:
    """:func:`check_float`, and the value must survive the cast to float32 (see :func:`fit_float32`)."""
    v = check_float(name, value, low, high, low_open, high_open)
    fit_float32(name, v, value)
    return v


def fit_float32(name: str, value: float, given: Any = None) -> np.float32:
    """``value`` as a float32, else ValueError: it overflows (|value| > 3.4e38, it would become inf) or, not
    being 0, underflows to 0. ``name`` may be an expression of parameters (e.g. ``'bite / food_max'``);
    ``given`` is what the user passed, when it differs from ``value``."""
    v = float(value)
    shown = f"{name}={given!r}" if given is not None and given is not value else f"{name}={v!r}"
    if not np.isfinite(v) or abs(v) > F32_MAX:
        raise ValueError(f"{shown} cannot be represented in float32 (the env computes in float32): "
                         f"allowed |{name}| <= {F32_MAX:.4g}")
    if v != 0.0 and abs(v) < F32_TINY:
        raise ValueError(f"{shown} underflows to 0 in float32 (the env computes in float32): allowed 0 or "
                         f"|{name}| >= {F32_TINY:.4g}")
    return np.float32(v)


def check_options(options: Any) -> None:
    """``reset(options=...)`` must be None or a dict (a list, string or number is a mistake, not "none")."""
    if options is not None and not isinstance(options, dict):
        raise TypeError(f"options={options!r} must be a dict or None (got {type(options).__name__})")


#: most elements of one array an env may build from its arguments (tables, observations): larger ones end
#: in a MemoryError or minutes of work instead of an env
MAX_ELEMENTS = 5e7


def check_budget(names: str, what: str, count: float, limit: float = MAX_ELEMENTS) -> None:
    """Refuse arguments (``names``, e.g. ``"size=256, view_size=63"``) whose ``what`` would need more than
    ``limit`` elements: a clear ValueError instead of a MemoryError or a hang."""
    if count > limit:
        raise ValueError(f"{names}: {what} would need {count:.3g} elements; allowed at most {limit:.3g}: "
                         "choose smaller values")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices``, else ValueError listing them."""
    # an unhashable value (a list, an array) is never a choice; ``in`` on an array would fail inside numpy
    if not isinstance(value, Hashable) or value not in choices:
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
