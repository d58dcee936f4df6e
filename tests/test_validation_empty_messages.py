"""The texts of a message are made at once as empty arrays when a check picks no row (no pandas call on the
whole column), and are the same arrays as the full conversion would give, picked rows or none."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.links import _iso, _text_at

_VALUE = st.one_of(st.none(), st.sampled_from(["M1", "M2", "é3", ""]))


def _reference_text_at(values: np.ndarray | pd.Series, mask: np.ndarray) -> np.ndarray:
    if isinstance(values, pd.Series):
        picked = values[mask]
        return picked.astype(object).where(picked.notna(), None).to_numpy(dtype=object)
    return np.asarray(values, dtype=object)[mask]


@settings(max_examples=150, deadline=None)
@given(cells=st.lists(_VALUE, min_size=0, max_size=12), data=st.data(),
       held=st.sampled_from(["str", "category", "object", "ndarray"]))
def test_text_at_is_the_full_conversion_picked_rows_or_none(cells: list[str | None], data: st.DataObject,
                                                            held: str) -> None:
    picked = data.draw(st.one_of(st.just([False] * len(cells)),
                                 st.lists(st.booleans(), min_size=len(cells), max_size=len(cells))))
    mask = np.asarray(picked, dtype=bool)
    values = np.asarray(cells, dtype=object) if held == "ndarray" else pd.Series(cells, dtype=held)
    got, want = _text_at(values, mask), _reference_text_at(values, mask)
    assert got.dtype == want.dtype == object
    assert got.shape == want.shape and got.tolist() == want.tolist()


@settings(max_examples=60, deadline=None)
@given(days=st.lists(st.one_of(st.none(), st.integers(0, 30000)), min_size=0, max_size=8))
def test_iso_dates_are_pandas_text_none_or_some(days: list[int | None]) -> None:
    values = np.array([np.datetime64("NaT") if d is None else np.datetime64(d, "D") for d in days],
                      dtype="datetime64[ns]")
    want = pd.Series(values, dtype="datetime64[ns]").dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    got = _iso(values)
    assert got.dtype == want.dtype == object
    assert got.shape == want.shape and [None if pd.isna(v) else v for v in got.tolist()] \
        == [None if pd.isna(v) else v for v in want.tolist()]
