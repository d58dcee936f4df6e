"""Argument checking shared by the :mod:`evalkit.stats` modules.

Every public function validates its arguments with these helpers so that the
error messages have one shape: they name the argument, say what is allowed and
show what was received.  Nothing here uses ``assert``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

ArrayLike = Sequence[float] | np.ndarray | pd.Series


def _show(value: Any) -> str:
    """Short representation of a received value for error messages."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_choice(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``, else raise ``ValueError``."""
    allowed = tuple(allowed)
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(repr(a) for a in allowed)}; got {_show(value)}")
    return value


def check_level(name: str, value: Any) -> float:
    """Return a confidence level strictly between 0 and 1."""
    try:
        level = float(value)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number strictly between 0 and 1 (e.g. 0.95); got {_show(value)}"
        ) from None
    if not 0.0 < level < 1.0:
        raise ValueError(f"{name} must be a number strictly between 0 and 1 (e.g. 0.95); got {_show(value)}")
    return level


def check_levels(name: str, value: Any) -> tuple[float, ...]:
    """Return a non-empty tuple of distinct confidence levels in (0, 1)."""
    if isinstance(value, (int, float)):
        value = (value,)
    try:
        levels = tuple(check_level(name, v) for v in value)
    except TypeError:
        raise ValueError(f"{name} must be a sequence of numbers in (0, 1); got {_show(value)}") from None
    if not levels:
        raise ValueError(f"{name} must contain at least one level in (0, 1); got {_show(value)}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"{name} must not repeat a level; got {_show(value)}")
    return levels


def check_positive_number(name: str, value: Any, *, allow_zero: bool = False) -> float:
    """Return ``value`` as a finite float > 0 (or >= 0 with ``allow_zero``)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    bound_ok = number >= 0.0 if allow_zero else number > 0.0
    if not math.isfinite(number) or not bound_ok:
        what = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{name} must be {what}; got {_show(value)}")
    return number


def check_finite_number(name: str, value: Any) -> float:
    """Return ``value`` as a finite float."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise ValueError(f"{name} must be a finite number; got {_show(value)}")
    return number


def as_float_array(name: str, value: Any, *, allow_nan: bool = True) -> np.ndarray:
    """Convert a list, array, Series or scalar to a 1-D float array.

    Missing values (``None``, ``pd.NA``, ``NaN``) become ``NaN``; with
    ``allow_nan=False`` they raise ``ValueError`` instead.  Infinite values
    always raise.
    """
    if isinstance(value, pd.DataFrame):
        raise ValueError(f"{name} must be one-dimensional (list, array or Series); got a DataFrame")
    if np.ndim(value) > 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {np.shape(value)}")
    try:
        if isinstance(value, pd.Series):
            arr = pd.to_numeric(value, errors="raise").to_numpy(dtype=float, na_value=np.nan)
        else:
            try:
                arr = np.atleast_1d(np.asarray(value, dtype=float))
            except (TypeError, ValueError):
                # lists holding None / pd.NA: go through pandas' nullable floats
                obj = np.atleast_1d(np.asarray(value, dtype=object))
                arr = pd.array(obj, dtype="Float64").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must contain numbers (missing values allowed as NaN/None); got {_show(value)}"
        ) from None
    if arr.dtype != float:
        arr = arr.astype(float)
    if np.isinf(arr).any():
        raise ValueError(f"{name} must not contain infinite values; got {_show(value)}")
    if not allow_nan and np.isnan(arr).any():
        where = np.flatnonzero(np.isnan(arr))[:5].tolist()
        raise ValueError(f"{name} must not contain missing values; missing at positions {where}")
    return arr


def same_length(**arrays: np.ndarray) -> int:
    """Check that all arrays have the same length (length-1 arrays broadcast)."""
    lengths = {name: len(arr) for name, arr in arrays.items()}
    sizes = {n for n in lengths.values() if n != 1}
    if len(sizes) > 1:
        shown = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"arguments must have the same length; {shown}")
    return max(lengths.values())


def is_scalar_input(*values: Any) -> bool:
    """True when every value is a plain scalar (so results should be floats)."""
    return all(np.ndim(v) == 0 and not isinstance(v, pd.Series) for v in values)
