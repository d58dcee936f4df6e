"""The distinct cells of every item column are read as numbers in one call, and give, bit for bit, what reading
each column on its own gives (-0 and whole numbers beyond 2**53 included, which a column of whole numbers only
reads differently)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.cells import number_values
from evalkit.validation.measures import _item_numbers

_TEXT = st.one_of(
    st.sampled_from(["0", "1", "2", "3", "-0", "+0", "-00", "0.0", "-0.0", "2.5", "1e2", " 4 ", "x", "nan", "inf",
                     "-inf", "9007199254740993", "18446744073709551617", "-9007199254740993", "1_000", "٣"]),
    st.integers(-10**20, 10**20).map(str),
    st.floats(allow_nan=False).map(repr),
)


def _bits(x: np.ndarray) -> list[int]:
    return np.where(np.isnan(x), np.nan, x).view(np.int64).tolist()


@settings(max_examples=300, deadline=None)
@given(columns=st.lists(st.lists(_TEXT, unique=True, max_size=6), min_size=0, max_size=6))
def test_item_numbers_are_each_column_read_on_its_own(columns: list[list[str]]) -> None:
    uniques = {f"item_{i + 1}": pd.Series(texts, dtype="str") for i, texts in enumerate(columns)}
    got = _item_numbers(uniques)
    assert list(got) == list(uniques)
    for column, u in uniques.items():
        want = number_values(u) if len(u) else np.empty(0)
        assert got[column].dtype == want.dtype == np.float64
        assert _bits(got[column]) == _bits(want), (column, list(u))


def test_cells_other_than_text_are_read_column_by_column() -> None:
    uniques = {"item_1": pd.Series([1, 2], dtype=object), "item_2": pd.Index([0.5, -0.0])}
    got = _item_numbers(uniques)  # type: ignore[arg-type]
    assert _bits(got["item_1"]) == _bits(np.array([1.0, 2.0]))
    assert _bits(got["item_2"]) == _bits(np.array([0.5, -0.0]))
