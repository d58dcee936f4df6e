"""apply_disclosure writes its published counts as Int64 directly and hides derived float cells with numpy: the
columns the Float64 round trip and the cell-by-cell assignment gave."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.disclosure import _hidden_where, _published_counts, apply_disclosure

_value = st.one_of(st.just(float("nan")), st.integers(-5, 10**6).map(float),
                   st.sampled_from([0.5, 1.5, 2.5, -0.5, 2.49999, 3.5000001, -0.0]))


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_value, max_size=30))
def test_published_counts_are_the_float64_round_trip(values) -> None:
    v = np.array(values, dtype=float)
    want = pd.array(np.where(np.isnan(v), None, v), dtype="Float64").round().astype("Int64")
    pd.testing.assert_extension_array_equal(_published_counts(v), want)


def _assigned(column: pd.Series, mask: np.ndarray) -> pd.Series:
    """The cell-by-cell path: the column copied and the cells assigned."""
    s = column
    if pd.api.types.is_bool_dtype(s.dtype) and not isinstance(s.dtype, pd.BooleanDtype):
        s = s.astype("boolean")
    elif pd.api.types.is_object_dtype(s.dtype):
        s = s.astype("string")
    s = s.copy()
    s[mask] = pd.NA if not pd.api.types.is_float_dtype(s.dtype) or isinstance(s.dtype, pd.Float64Dtype) else np.nan
    return s


@settings(max_examples=200, deadline=None)
@given(data=st.data(), n=st.integers(0, 20))
def test_hidden_where_is_the_assignment(data, n) -> None:
    floats = data.draw(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.0)),
                                min_size=n, max_size=n))
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    for column in (pd.Series(floats, dtype=float, name="x"), pd.Series(floats, dtype="Float64", name="x"),
                   pd.Series([f > 0 for f in floats], dtype=bool, name="x"),
                   pd.Series([str(f) for f in floats], dtype=object, name="x")):
        column.index = pd.RangeIndex(3, 3 + n)
        before = column.copy()
        pd.testing.assert_series_equal(_hidden_where(column, mask), _assigned(column, mask))
        pd.testing.assert_series_equal(column, before)  # the column itself is left as it was


def test_a_count_that_is_also_derived_is_hidden_with_its_count() -> None:
    f = pd.DataFrame({"n": [3, 10, 12], "m": [2, 9, 1], "mean": [1.0, 2.0, 3.0]})
    out = apply_disclosure(f, counts=["n", "m"], derived={"m": ["n"], "mean": ["n"]})
    assert out["n"].dtype == "Int64" and out["m"].dtype == "Int64"
    assert out["m"].isna().tolist() == [True, False, True]  # hidden as small, and with its count
    assert out["mean"].isna().tolist() == [True, False, False] and out["mean"].dtype == np.float64
