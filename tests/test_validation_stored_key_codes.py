"""Stored-key codes made in place (re-upload memory) equal those made with fresh arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation import keys
from evalkit.validation.cells import codes_in

_INSTANTS = st.one_of(st.none(), st.integers(-10**18, 10**18))  # ns since 1970: both sides of it, any time of day


def _dates(values: list[int | None]) -> np.ndarray:
    return np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "ns") for v in values],
                    dtype="datetime64[ns]")


@settings(max_examples=200, deadline=None)
@given(st.lists(_INSTANTS, max_size=20), st.lists(_INSTANTS, max_size=20))
def test_day_numbers_are_days_since_the_earliest_as_before(mine, theirs):
    a, b = pd.Series(_dates(mine)), _dates(theirs)
    days = np.concatenate([a.to_numpy().astype("datetime64[D]"), b.astype("datetime64[D]")])
    nat = np.isnat(days)
    low = int(days.view(np.int64)[~nat].min()) if not nat.all() else 0
    want = np.where(nat, -1, days.view(np.int64) - low)  # the arrays the code made before
    got = keys._day_numbers(keys._days(a, b))
    np.testing.assert_array_equal(got, want)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(-1, 30), st.integers(-1, 7)), max_size=30))
def test_combined_in_place_equals_combined_fresh(pairs):
    left = np.array([p[0] for p in pairs], dtype=np.int64)
    right = np.array([p[1] for p in pairs], dtype=np.int64)
    fresh = keys._combined(left.copy(), right)
    mine = left.copy()
    np.testing.assert_array_equal(keys._combined(mine, right, in_place=True), fresh)


def test_codes_in_writes_into_the_array_given():
    values = pd.Series(pd.Categorical(["b", None, "z", "a", "b"], categories=pd.Index(["a", "b", "z"], dtype="str")))
    distinct = pa.array(["b", "a"], type=pa.large_string())
    out = np.full(7, 99, dtype=np.int64)
    codes_in(values, distinct, out=out[2:])
    assert out.tolist() == [99, 99, 0, -1, -1, 1, 0]
    assert codes_in(values, distinct).tolist() == [0, -1, -1, 1, 0]
