"""Tables made ready once (ui.shown, ui.shown_parts) are the tables ui.table makes from the library's frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards import ui

COLUMNS = ("mean", "p", "n", "share", "flag", "word", "level")


@st.composite
def library_tables(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A library-like table (floats, nullable counts and shares, flags, text, a category, the ``suppressed``
    column naming hidden cells) and some row selections of it."""
    n = draw(st.integers(0, 8))
    # (below about 1e-300, rounding to three significant digits overflows: not a figure the library gives)
    numbers = st.floats(-1e4, 1e4, allow_nan=False).filter(lambda v: v == 0 or abs(v) > 1e-300)
    floats = st.one_of(st.none(), numbers, st.sampled_from([0.0, 1e-5, 0.04567, 2.0]))
    col = lambda strategy: draw(st.lists(strategy, min_size=n, max_size=n))  # noqa: E731
    frame = pd.DataFrame({
        "programme_id": pd.array(col(st.sampled_from(["P1", "P2", None])), dtype="string"),
        "mean": np.array([np.nan if v is None else v for v in col(floats)], dtype="float64"),
        "p": np.array([np.nan if v is None else v for v in col(floats)], dtype="float64"),
        "n": pd.array(col(st.one_of(st.none(), st.integers(0, 500))), dtype="Int64"),
        "share": pd.array(col(floats), dtype="Float64"),
        "flag": pd.array(col(st.one_of(st.none(), st.booleans())), dtype="boolean"),
        "word": pd.Series(col(st.one_of(st.none(), st.text(max_size=4))), dtype=object),
        "level": pd.Categorical(col(st.sampled_from(["low", "high", None]))),
    })
    frame["suppressed"] = ["; ".join(draw(st.lists(st.sampled_from(COLUMNS), max_size=3, unique=True)))
                           for _ in range(n)]
    frame.attrs = {"source": "test"}
    parts = {f"part{i}": np.array(col(st.booleans()), dtype=bool) for i in range(draw(st.integers(1, 3)))}
    return frame, parts


def _readable_part(frame: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    return ui.readable(frame[mask].reset_index(drop=True))


@settings(max_examples=60, deadline=None)
@given(library_tables())
def test_parts_of_one_conversion_equal_each_part_converted(case: tuple[pd.DataFrame, dict[str, np.ndarray]]) -> None:
    """Each part cut from the whole table made readable is that part made readable on its own."""
    frame, parts = case
    got = ui.shown_parts(frame, parts)
    assert set(got) == set(parts)
    for name, mask in parts.items():
        expected = _readable_part(frame, mask)
        pd.testing.assert_frame_equal(got[name].frame, expected)
        assert got[name].frame.attrs == expected.attrs
        assert got[name].columns == ui._column_settings(expected)
    whole = ui.shown(frame)
    pd.testing.assert_frame_equal(whole.frame, ui.readable(frame))


def test_date_columns_are_converted_part_by_part() -> None:
    """A column of midnights reads as dates, one with a time of day as date and time: each part as it would
    be on its own, whatever the other rows hold."""
    frame = pd.DataFrame({"programme_id": ["P1", "P2"],
                          "baseline_date": [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02 10:30")],
                          "n": pd.array([12, None], dtype="Int64"), "suppressed": ["", "n"]})
    parts = {"P1": np.array([True, False]), "P2": np.array([False, True])}
    got = ui.shown_parts(frame, parts)
    for name, mask in parts.items():
        pd.testing.assert_frame_equal(got[name].frame, _readable_part(frame, mask))
    assert got["P1"].frame["baseline_date"].tolist() == ["2024-01-01"]


@settings(max_examples=60, deadline=None)
@given(library_tables(), st.data())
def test_columns_cut_from_the_whole_table_equal_the_narrower_table_converted(
        case: tuple[pd.DataFrame, dict[str, np.ndarray]], draw: st.DataObject) -> None:
    """Some columns of a table made readable (with or without the ``suppressed`` column, in any order) are
    those columns made readable on their own; so are parts cut from a whole made readable beforehand."""
    frame, parts = case
    columns = draw.draw(st.lists(st.sampled_from(list(frame.columns)), unique=True))
    whole = ui.shown(frame)
    got = ui.shown_columns(frame, columns, whole=whole)
    expected = ui.shown(frame[columns])
    pd.testing.assert_frame_equal(got.frame, expected.frame)
    assert got.frame.attrs == expected.frame.attrs and got.columns == expected.columns
    for name, part in ui.shown_parts(frame, parts, whole=whole).items():
        pd.testing.assert_frame_equal(part.frame, _readable_part(frame, parts[name]))


def _rounded_column_by_column(frame: pd.DataFrame) -> pd.DataFrame:
    """How ``ui._display_rounded`` made a table before it assembled it once: each float column rounded (by the
    same arithmetic, ``ui._rounded``) and put back into a shallow copy, one column at a time."""
    out = frame.copy(deep=False)
    for c in [c for c in frame.columns if pd.api.types.is_float_dtype(frame[c].dtype)]:
        out[c] = ui._rounded(frame[c])
    return out


@settings(max_examples=80, deadline=None)
@given(library_tables(), st.sampled_from([None, "unique", "repeated"]))
def test_table_rounded_at_once_is_the_table_rounded_column_by_column(
        case: tuple[pd.DataFrame, dict[str, np.ndarray]], index: str | None) -> None:
    """The table rounded for reading in one assembly has the columns, dtypes (object text stays object), index,
    ``attrs`` and values of the table rounded and put back a column at a time."""
    frame, _ = case
    if index is not None:
        frame = frame.set_axis([f"r{i // (2 if index == 'repeated' else 1)}" for i in range(len(frame))])
    got = ui._display_rounded(frame)
    expected = _rounded_column_by_column(frame)
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_column_type=True, check_index_type=True)
    assert list(got.dtypes) == list(frame.dtypes)
    assert got.attrs == frame.attrs
    assert ui.content_key(got) == ui.content_key(expected)


def test_a_column_name_given_twice_is_rounded_in_both_columns() -> None:
    """A table whose column names repeat is rounded in each of those columns (it used to fail: taking the
    column by name gave both)."""
    frame = pd.DataFrame([[3.14159, 0.000123456, "a"]], columns=["x", "x", "word"])
    got = ui._display_rounded(frame)
    assert got.iloc[0, :2].tolist() == [3.14, 0.000123]
    assert list(got.columns) == ["x", "x", "word"] and got.iloc[0, 2] == "a"
