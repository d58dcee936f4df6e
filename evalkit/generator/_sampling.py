"""Small vectorised sampling and calendar helpers shared by the generator's steps."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

MISSING = -1
"""Integer code used for 'blank' in code and day arrays."""


def choose_rows(rng: np.random.Generator, table: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Draw one category per element, from the probability row ``table[rows[i]]``.

    Parameters
    ----------
    table
        Probabilities, one distribution per row (rows sum to 1).
    rows
        Which row each draw uses.
    """
    cum = np.cumsum(table, axis=1)
    cum[:, -1] = 1.0
    u = rng.random(rows.size)
    return (u[:, None] >= cum[rows]).sum(axis=1)


def choose_weighted(rng: np.random.Generator, weights: np.ndarray) -> np.ndarray:
    """Draw one category per row of a non-negative weight matrix (rows need not sum to 1)."""
    if weights.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    cum = np.cumsum(weights, axis=1)
    u = rng.random(weights.shape[0]) * cum[:, -1]
    return np.minimum((u[:, None] >= cum).sum(axis=1), weights.shape[1] - 1)


def expit(x: npt.ArrayLike) -> np.ndarray:
    """The logistic function ``1 / (1 + exp(-x))``."""
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def weekday(days: npt.ArrayLike) -> np.ndarray:
    """Day of the week (Monday = 0) of day numbers counted from 1970-01-01 (a Thursday)."""
    return (np.asarray(days) + 3) % 7


def to_weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays on to the following Monday."""
    wd = weekday(days)
    return days + np.where(wd == 5, 2, np.where(wd == 6, 1, 0))


def group_starts(sizes: np.ndarray) -> np.ndarray:
    """Index of each group's first element when groups of ``sizes`` are laid end to end."""
    return np.cumsum(sizes) - sizes


def position_in_group(sizes: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group, for groups of ``sizes`` laid end to end."""
    total = int(sizes.sum())
    return np.arange(total) - np.repeat(group_starts(sizes), sizes)


def cumsum_in_group(values: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at each group (groups of ``sizes`` laid end to end)."""
    cs = np.cumsum(values)
    starts = group_starts(sizes)
    nonempty = sizes > 0
    before = np.zeros(sizes.size, dtype=cs.dtype)
    before[nonempty] = cs[starts[nonempty]] - values[starts[nonempty]]
    return cs - np.repeat(before, sizes)


def rank_in_group(owner: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Rank (0-based) of ``u`` among the elements sharing an ``owner``; ``owner`` must be sorted."""
    order = np.argsort(owner + u, kind="stable")
    first = np.searchsorted(owner, owner, side="left")
    rank = np.empty(owner.size, dtype=np.int64)
    rank[order] = np.arange(owner.size) - first[order]
    return rank


def allocate(total: int, weights: np.ndarray) -> np.ndarray:
    """Split ``total`` into integer parts proportional to ``weights`` (largest remainder)."""
    share = np.asarray(weights, dtype=float) / float(np.sum(weights)) * total
    counts = np.floor(share).astype(np.int64)
    left = total - int(counts.sum())
    if left:
        order = np.argsort(-(share - counts), kind="stable")
        counts[order[:left]] += 1
    return counts
