"""The mixed model pairs scores with episodes by position: the same rows, in the same order, as pandas' merge."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.longitudinal import _inner_merge_rows, _sort_order

IDS = st.sampled_from(["M1", "M2", "M10", "é", "", None])
CODES = st.sampled_from(["epds", "phq9", "gad7", None])


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame({"participant_id": pd.array([r[0] for r in rows], dtype="str"),
                         "instrument": pd.array([r[1] for r in rows], dtype="str")})


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(IDS, CODES), max_size=40), st.lists(st.tuples(IDS, CODES), max_size=15))
def test_rows_are_those_of_the_inner_merge(left_rows: list[tuple], right_rows: list[tuple]) -> None:
    left, right = _frame(left_rows), _frame(right_rows)
    on = ["participant_id", "instrument"]
    pairs = _inner_merge_rows(left, right, on)
    if right.duplicated(on).any():
        assert pairs is None
        return
    merged = left.assign(_l=np.arange(len(left))).merge(right.assign(_r=np.arange(len(right))), on=on, how="inner")
    assert pairs is not None
    np.testing.assert_array_equal(pairs[0], merged["_l"].to_numpy())
    np.testing.assert_array_equal(pairs[1], merged["_r"].to_numpy())


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(IDS, CODES, st.one_of(st.none(), st.integers(0, 5))), max_size=40))
def test_the_sort_order_is_that_of_sort_values(rows: list[tuple]) -> None:
    frame = _frame([r[:2] for r in rows])
    frame["date"] = pd.to_datetime([None if r[2] is None else f"2024-01-0{r[2] + 1}" for r in rows])
    keys = ["instrument", "participant_id", "date"]
    expected = frame.sort_values(keys).index.to_numpy()
    np.testing.assert_array_equal(_sort_order(frame[c] for c in keys), expected)
