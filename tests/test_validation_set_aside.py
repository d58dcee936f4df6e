"""The quicker ways validate sets rows aside and cleans and compares cells give what pandas' plain ways give.

``core._set_aside`` builds the quarantine frame at once (categorical text taken by code in Arrow, an empty frame
made from the dtypes when no row has an error); ``cells._remapped_codes`` gathers narrow codes in Arrow;
``problems._one_text`` lets Arrow compare a column's cells with its first. Each is checked against the
general formulation on generated frames, masks and codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.cells import _remapped_codes, distinct_cells
from evalkit.validation.core import _set_aside
from evalkit.validation.problems import _one_text

_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "b", " a", "P-01", "é"]), st.text(max_size=3))


def _by_pandas(frame: pd.DataFrame, bad: np.ndarray, added: dict[str, object]) -> pd.DataFrame:
    """The rows set aside as pandas makes them column by column (what validate did before)."""
    aside = frame.loc[bad].copy()
    for column in aside.columns[[isinstance(t, pd.CategoricalDtype) for t in aside.dtypes]]:
        aside[column] = aside[column].astype("str")
    for column, values in added.items():
        aside[column] = values
    return aside.reset_index(drop=True)


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected, check_exact=True, check_column_type=True, check_index_type=True)
    assert list(got.dtypes) == list(expected.dtypes)
    assert got.columns.dtype == expected.columns.dtype


@st.composite
def _frames(draw: st.DrawFn) -> tuple[pd.DataFrame, np.ndarray, dict[str, object]]:
    n = draw(st.integers(0, 12))
    texts = draw(st.lists(_TEXT, min_size=n, max_size=n))
    numbers = draw(st.lists(st.one_of(st.none(), st.integers(-3, 3)), min_size=n, max_size=n))
    frame = pd.DataFrame({
        "participant_id": pd.Categorical(texts),  # Arrow text categories, as the readers give them
        "weeks": pd.Categorical(numbers),  # categories that are not text (a hand-built frame)
        "notes": pd.Series(texts, dtype=object),
        "free": pd.Series(texts, dtype="str"),
        "count": pd.array(numbers, dtype="Int64"),
        "score": np.array([np.nan if v is None else v / 2 for v in numbers], dtype="float64"),
        "when": pd.to_datetime(["2024-01-0" + str(1 + (v or 0) % 9) if v is not None else None for v in numbers]),
        "source_row": np.arange(2, n + 2, dtype=np.int64),
    })
    bad = np.array(draw(st.one_of(st.lists(st.booleans(), min_size=n, max_size=n),
                                  st.just([False] * n), st.just([True] * n))), dtype=bool)
    k = int(bad.sum())
    added: dict[str, object] = {"source_row": pd.array(np.arange(k), dtype="Int64"),
                                "source_file": pd.array(["f.csv"] * k, dtype="string"),
                                "reasons": np.array([f"reason {i}" for i in range(k)], dtype=object)}
    return frame, bad, added


@settings(max_examples=150, deadline=None)
@given(_frames())
def test_set_aside_gives_what_pandas_gives(case: tuple[pd.DataFrame, np.ndarray, dict[str, object]]) -> None:
    frame, bad, added = case
    _assert_same(_set_aside(frame, bad, added), _by_pandas(frame, bad, added))


def test_set_aside_with_repeated_column_names_keeps_both_columns_and_gives_categories_as_text() -> None:
    """Known answer, written out by hand: with a column name given twice, both columns are kept in place, the
    categorical column comes out as its text and the reasons are put at the end."""
    frame = pd.DataFrame([["a", "x", "1"], ["b", "y", "2"], [None, "x", "3"]], columns=["id", "id", "n"])
    frame = frame.astype({"n": "category"})
    got = _set_aside(frame, np.array([True, False, True]), {"reasons": np.array(["r1", "r3"], dtype=object)})
    assert list(got.columns) == ["id", "id", "n", "reasons"]
    assert list(got.index) == [0, 1]
    assert got.iloc[:, 0].tolist()[0] == "a" and pd.isna(got.iloc[1, 0])
    assert got.iloc[:, 1].tolist() == ["x", "x"]
    assert got["n"].tolist() == ["1", "3"] and got["n"].dtype == "str"
    assert got["reasons"].tolist() == ["r1", "r3"]
    none = _set_aside(frame, np.zeros(3, dtype=bool), {"reasons": np.array([], dtype=object)})
    assert list(none.columns) == ["id", "id", "n", "reasons"] and len(none) == 0
    assert none["n"].dtype == "str"


@settings(max_examples=150, deadline=None)
@given(width=st.sampled_from([np.int8, np.int16, np.int32]), data=st.data())
def test_remapped_codes_are_numpys_gather(width: type, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, 300 if width is not np.int8 else 120))
    new_of_old = np.array(data.draw(st.lists(st.integers(-1, max(k - 1, 0)), min_size=k, max_size=k)),
                          dtype=np.int64)
    codes = np.array(data.draw(st.lists(st.integers(-1, k - 1), max_size=40)), dtype=width)
    got = _remapped_codes(codes, new_of_old)
    expected = np.append(new_of_old, -1).astype(width).take(codes)
    assert got.dtype == expected.dtype
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expected)


@given(st.lists(st.one_of(st.none(), st.sampled_from(["f.csv", "g.csv", "f.cs", "", "f.csvf"])), max_size=12),
       st.sampled_from([pa.large_string(), pa.string()]))
def test_one_text_is_every_cell_the_first(values: list[str | None], kind: pa.DataType) -> None:
    expected = bool(values) and kind == pa.large_string() and None not in values and len(set(values)) == 1
    assert _one_text(pa.array(values, type=kind)) == expected


@given(st.lists(_TEXT, max_size=12))
def test_distinct_cells_of_arrow_categories_are_the_categories_as_text(values: list[str | None]) -> None:
    cells = pd.Series(pd.Categorical(values))
    codes, uniques = distinct_cells(cells)
    np.testing.assert_array_equal(codes, cells.cat.codes.to_numpy())
    expected = pd.Series(cells.cat.categories.astype(object)).astype("str")  # the categories through Python
    pd.testing.assert_series_equal(uniques, expected, check_exact=True, check_index_type=True)
