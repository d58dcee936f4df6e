"""``missing_text``: the missing ``source_sheet`` of a CSV table, as ``pa.nulls`` would give it, from zeroed buffers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalkit.readers.raw_frame import missing_text, repeated_text


@given(st.integers(min_value=0, max_value=5000))
def test_missing_text_is_pa_nulls(n: int) -> None:
    got = missing_text(n)
    got.validate(full=True)
    assert got.equals(pa.nulls(n, pa.large_string()))
    assert got.null_count == n and got.type == pa.large_string()
    assert repeated_text(None, n).equals(got)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 100_003])
def test_missing_text_behaves_as_missing_text_in_pandas_and_arrow(n: int) -> None:
    s = pd.Series(pd.array(missing_text(n), dtype="string"))
    assert s.isna().all() and len(s) == n
    other = pd.Series(pd.array(["a", None, "b"], dtype="string"))
    both = pd.concat([s, other], ignore_index=True)
    assert both.iloc[n:].tolist() == ["a", pd.NA, "b"] and both.iloc[:n].isna().all()
    taken = missing_text(n).take(pa.array(np.arange(n)[::-1]))
    assert taken.null_count == n
    filled = pc.fill_null(missing_text(n), "x")
    assert filled.to_pylist() == ["x"] * n
    sliced = missing_text(n)[n // 2:]
    assert sliced.null_count == n - n // 2
