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


def _mixed_frame(counts: list[list[float]], index: list[int]) -> pd.DataFrame:
    """Count columns of several numeric dtypes (missing where NaN) beside text, dates, categories and flags."""
    n = len(index)
    cols = list(zip(*counts, strict=True)) if n else [(), (), ()]
    f = pd.DataFrame({
        "group": pd.Series([f"g{i % 3}" for i in range(n)], dtype="string"),
        "a": pd.array([None if np.isnan(v) else int(v) for v in cols[0]], dtype="Int64"),
        "b": np.nan_to_num(np.array(cols[1], dtype=float)).astype(np.int64),
        "label": pd.Series(["x" if i % 2 else None for i in range(n)], dtype=object),
        "code": pd.Series([f"c{i}" for i in range(n)], dtype=object),  # text objects stay objects
        "c": np.array(cols[2], dtype=float),
        "when": pd.to_datetime(["2024-01-02"] * n),
        "kind": pd.Categorical(["u" if i % 2 else "v" for i in range(n)]),
        "flag": np.array([i % 2 == 0 for i in range(n)], dtype=bool),
        "mean": np.arange(n, dtype=float),
    }, index=index)
    f.attrs["note"] = "kept"
    return f


@settings(max_examples=100, deadline=None)
@given(counts=st.lists(st.lists(_value.map(abs), min_size=3, max_size=3), max_size=12),
       dup=st.booleans())
def test_numeric_counts_read_at_once_are_those_read_one_by_one(counts, dup) -> None:
    """Count columns of numeric dtypes are read as one matrix; the same counts as text (read column by column
    through pandas.to_numeric) give the same table, and the frame given is left as it was."""
    index = [5] * len(counts) if dup else list(range(10, 10 + len(counts)))
    f = _mixed_frame(counts, index)
    before = f.copy()
    kw = {"counts": ["a", "b", "c"], "derived": {"mean": ["a"]}}
    got = apply_disclosure(f, **kw)
    as_text = f.astype({c: object for c in ("a", "b", "c")})
    pd.testing.assert_frame_equal(got, apply_disclosure(as_text, **kw), check_exact=True)
    pd.testing.assert_frame_equal(f, before, check_exact=True)
    assert got.attrs["note"] == "kept" and "disclosure" in got.attrs
    assert list(got.columns) == [*f.columns, "suppressed"]


def test_columns_replaced_at_once_are_the_assignment() -> None:
    """The published table is the frame with its new columns in place, as DataFrame.assign gives it (dtypes,
    index, column order and the columns it keeps)."""
    from evalkit.disclosure import _with_columns_replaced

    f = _mixed_frame([[1.0, 2.0, 3.0], [float("nan"), 5.0, 6.0], [7.0, 8.0, 9.5]], [4, 4, 2])
    new = {"a": pd.arrays.IntegerArray(np.array([0, 5, 7]), np.array([True, False, False])),
           "mean": pd.Series([np.nan, 1.0, 2.0], index=f.index), "label": np.array(["p", None, "q"], dtype=object)}
    got = _with_columns_replaced(f, new)
    pd.testing.assert_frame_equal(got, f.assign(**new), check_exact=True)
    assert got.columns.dtype == f.columns.dtype
    pd.testing.assert_frame_equal(f, _mixed_frame([[1.0, 2.0, 3.0], [float("nan"), 5.0, 6.0], [7.0, 8.0, 9.5]],
                                                  [4, 4, 2]), check_exact=True)
