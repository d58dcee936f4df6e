"""cells.arrow_text with ``rows``: the kept rows' text, the same as masking the values first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from evalkit.validation.cells import TEXT_DTYPE, arrow_text

_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "b", "P-01", "é", " a"]), st.text(max_size=4))


def _forms(values: list[str | None], chunks: int) -> dict[str, pd.Series | np.ndarray]:
    """The same cells as a categorical, as Arrow text in ``chunks`` chunks, and as an object array."""
    cut = np.array_split(np.arange(len(values)), max(1, chunks))
    chunked = pa.chunked_array([pa.array([values[i] for i in part], type=pa.large_string()) for part in cut],
                               type=pa.large_string())
    return {
        "categorical": pd.Series(pd.Categorical(values)),
        "arrow": pd.Series(pd.arrays.ArrowStringArray(chunked)).astype(TEXT_DTYPE),
        "object": np.array(values, dtype=object),
    }


@given(cells=st.lists(st.tuples(_TEXT, st.booleans()), max_size=30), chunks=st.integers(1, 4),
       keep_chunks=st.booleans())
def test_rows_keeps_what_masking_first_keeps(cells: list[tuple[str | None, bool]], chunks: int,
                                             keep_chunks: bool) -> None:
    values = [v for v, _ in cells]
    rows = np.array([k for _, k in cells], dtype=bool)
    expected = [v for v, k in cells if k]
    for form, series in _forms(values, chunks).items():
        masked = series[rows] if isinstance(series, np.ndarray) else series[rows].reset_index(drop=True)
        got = arrow_text(series, rows=rows, keep_chunks=keep_chunks)
        assert got.to_pylist() == expected, form
        assert got.to_pylist() == arrow_text(masked, keep_chunks=keep_chunks).to_pylist(), form
        assert arrow_text(series).to_pylist() == values, form  # no rows: every row, as before


_CELL = st.one_of(_TEXT, st.integers(-5, 5), st.just(np.nan), st.just(pd.NA), st.floats(-2, 2, allow_nan=False))


@given(cells=st.lists(st.tuples(_CELL, st.booleans()), max_size=20))
def test_cells_of_any_type_are_their_text_and_missing_is_null(cells: list[tuple[object, bool]]) -> None:
    # a hand-built frame's cells: numbers become their text; None, NaN and pd.NA become nulls (not "nan")
    values = np.array([v for v, _ in cells] + [None], dtype=object)[:-1]  # an object array, whatever the cells
    rows = np.array([k for _, k in cells], dtype=bool)

    def text(v: object) -> str | None:
        return None if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)) else str(v)

    assert arrow_text(values).to_pylist() == [text(v) for v in values]
    assert arrow_text(values, rows=rows).to_pylist() == [text(v) for v, k in cells if k]
