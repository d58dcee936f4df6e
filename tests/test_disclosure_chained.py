"""Chained totals: a hidden total whose members are all published must not unlock another equation.

Regression test for a leak found when building summaries: with x + y = T and T + z = U, hiding z
(a small count) and then T (as its complement) left T = x + y recoverable, hence z = U - x - y.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from evalkit.disclosure import Partition, apply_disclosure


def _recoverable(published: dict[str, float | None], equations: list[tuple[tuple[str, ...], str]]) -> set[str]:
    """Cells a reader can work out by repeatedly solving equations with one unknown."""
    known = {k for k, v in published.items() if v is not None}
    changed = True
    while changed:
        changed = False
        for members, total in equations:
            cells = [*members, total]
            unknown = [c for c in cells if c not in known]
            if len(unknown) == 1:
                known.add(unknown[0])
                changed = True
    return known


def test_the_reported_leak_is_closed() -> None:
    f = pd.DataFrame({"x": [10], "y": [10], "T": [20], "z": [3], "U": [23]})
    eqs = [(("x", "y"), "T"), (("T", "z"), "U")]
    out = apply_disclosure(f, counts=list(f.columns), partitions=[Partition(m, t) for m, t in eqs])
    published = {c: (None if pd.isna(out[c].iloc[0]) else float(out[c].iloc[0])) for c in f.columns}
    assert published["z"] is None
    assert "z" not in _recoverable(published, eqs)


@given(st.lists(st.integers(0, 30), min_size=3, max_size=3))
def test_chained_partitions_never_reveal_a_small_count(parts: list[int]) -> None:
    x, y, z = parts
    f = pd.DataFrame({"x": [x], "y": [y], "T": [x + y], "z": [z], "U": [x + y + z]})
    eqs = [(("x", "y"), "T"), (("T", "z"), "U")]
    out = apply_disclosure(f, counts=list(f.columns), partitions=[Partition(m, t) for m, t in eqs])
    published = {c: (None if pd.isna(out[c].iloc[0]) else float(out[c].iloc[0])) for c in f.columns}
    derivable = _recoverable(published, eqs)
    for c in f.columns:
        value = float(f[c].iloc[0])
        if 1 <= value < 5:
            assert c not in derivable, (c, published)
    # hidden cells of an equation with a published total never add up to a small count
    for members, total in eqs:
        if published[total] is not None:
            hidden = [m for m in members if published[m] is None]
            s = sum(float(f[m].iloc[0]) for m in hidden)
            assert not (len(hidden) >= 2 and 0 < s < 5), (members, published)


def test_rows_are_independent() -> None:
    rows = list(itertools.product([0, 2, 7], [1, 9], [3, 12]))
    f = pd.DataFrame(rows, columns=["x", "y", "z"])
    f["T"] = f["x"] + f["y"]
    f["U"] = f["T"] + f["z"]
    out = apply_disclosure(f, counts=["x", "y", "T", "z", "U"],
                           partitions=[Partition(("x", "y"), "T"), Partition(("T", "z"), "U")])
    one = apply_disclosure(f.iloc[[4]], counts=["x", "y", "T", "z", "U"],
                           partitions=[Partition(("x", "y"), "T"), Partition(("T", "z"), "U")])
    assert out.iloc[4]["suppressed"] == one.iloc[0]["suppressed"]
    assert np.all(out["U"].notna() | (f["U"] < 5))
