"""Typing a driver's rows column by column gives the frame pandas inference plus ``to_canonical`` gives."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.canonical import DTYPES
from evalkit.store._frames import (
    _frame_from_records,
    _typed_column,
    column_types,
    frame_from_rows,
    to_canonical,
)

TABLE = "participants"
TYPES = column_types(TABLE)
COLUMNS = {kind: next(c for c, k in TYPES.items() if k == kind)
           for kind in ("string", "integer", "number", "date", "boolean")}


def _reference(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return to_canonical(pd.DataFrame(rows, columns=columns), TABLE)


def _check(rows: list[tuple], columns: list[str], dialect: str | None = None) -> pd.DataFrame:
    expected = _reference(rows, columns)
    got = frame_from_rows(rows, columns, TABLE)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    if dialect is not None:  # the driver's types named: the one-pass road (falling back column by column)
        pd.testing.assert_frame_equal(frame_from_rows(rows, columns, TABLE, dialect=dialect), expected,
                                      check_exact=True)
    return got


_DAY = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))
# what each driver returns: SQLite gives ISO text for dates and 0/1 for booleans, PostgreSQL date and bool
_SQLITE = {
    "string": st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10),
                        st.sampled_from(["", " ", "0", "NA", "None"])),
    # to_canonical passes integers through float64 when a column has missing values, so beyond 2**53 the
    # reference itself rounds (test_large_integers_stay_exact): compare within the range it keeps exact
    "integer": st.one_of(st.none(), st.integers(min_value=-(2**53), max_value=2**53)),
    "number": st.one_of(st.none(), st.floats(allow_nan=False), st.integers(-(2**53), 2**53)),
    "date": st.one_of(st.none(), _DAY.map(dt.date.isoformat)),
    "boolean": st.one_of(st.none(), st.sampled_from([0, 1])),
}
_POSTGRES = {**_SQLITE, "date": st.one_of(st.none(), _DAY), "boolean": st.one_of(st.none(), st.booleans())}


def _rows(values: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    kinds = list(COLUMNS)
    return st.lists(st.tuples(*[values[k] for k in kinds]), max_size=40)


@settings(max_examples=150, deadline=None)
@given(rows=_rows(_SQLITE))
def test_sqlite_rows_type_as_pandas_and_to_canonical_do(rows: list[tuple]) -> None:
    got = _check(rows, list(COLUMNS.values()), "sqlite")
    for kind, column in COLUMNS.items():
        assert str(got[column].dtype) == DTYPES[kind]


@settings(max_examples=100, deadline=None)
@given(rows=_rows(_POSTGRES))
def test_postgresql_rows_type_as_pandas_and_to_canonical_do(rows: list[tuple]) -> None:
    _check(rows, list(COLUMNS.values()), "postgresql")


@settings(max_examples=150, deadline=None)
@given(rows=_rows(_SQLITE), postgres_rows=_rows(_POSTGRES))
def test_driver_rows_take_the_one_pass_road(rows: list[tuple], postgres_rows: list[tuple]) -> None:
    # frame_from_rows falls back to typing column by column when this road raises, which would hide its
    # failures behind the same frame: ordinary driver rows must go through it, and give that frame
    columns = list(COLUMNS.values())
    for driver_rows, dialect in ((rows, "sqlite"), (postgres_rows, "postgresql")):
        if driver_rows:
            got = _frame_from_records(driver_rows, columns, list(COLUMNS), dialect)
            pd.testing.assert_frame_equal(got, _reference(driver_rows, columns), check_exact=True)


def test_one_pass_road_takes_a_column_with_every_value_missing() -> None:
    columns = list(COLUMNS.values())
    for row, dialect in (((None,) * len(columns), "sqlite"), ((None,) * len(columns), "postgresql"),
                         (("a", 1, 2.5, "2025-01-02", None), "sqlite"),
                         (("a", 1, 2.5, dt.date(2025, 1, 2), None), "postgresql")):
        got = _frame_from_records([row, row], columns, list(COLUMNS), dialect)
        pd.testing.assert_frame_equal(got, _reference([row, row], columns), check_exact=True)


@pytest.mark.parametrize(("kind", "odd"), [
    ("string", [7, None, "x"]),             # a number in a text column (SQLite stores what it is given)
    ("integer", [1.0, None, 3]),            # a real in an integer column
    ("date", ["2025-01-02 00:00:00", None]),  # a date with a time
    ("date", ["2025-01-02", "not a date"]),  # coerce refuses it too
    ("date", ["1500-01-01", None]),          # outside datetime64[ns]: numpy would wrap it silently
    ("date", [dt.date(2300, 1, 1), None]),  # the same from PostgreSQL's driver
    ("boolean", [0, 2, None]),              # not 0/1
    ("boolean", ["1", "0"]),                # text
])
def test_values_arrow_will_not_take_go_through_coerce(kind: str, odd: list) -> None:
    column = COLUMNS[kind]
    rows = [(v,) for v in odd]
    try:
        expected = _reference(rows, [column])
    except (TypeError, ValueError):  # coerce itself refuses: frame_from_rows must refuse the same way
        for dialect in (None, "sqlite", "postgresql"):
            with pytest.raises((TypeError, ValueError)):
                frame_from_rows(rows, [column], TABLE, dialect=dialect)
        return
    for dialect in (None, "sqlite", "postgresql"):
        pd.testing.assert_frame_equal(frame_from_rows(rows, [column], TABLE, dialect=dialect), expected,
                                      check_exact=True)


def test_unknown_columns_keep_pandas_inference() -> None:
    rows = [("a", 1, 2.5), ("b", None, None)]
    columns = ["participant_id", "not_in_schema", "baby_age_weeks"]
    got = frame_from_rows(rows, columns, TABLE)
    pd.testing.assert_frame_equal(got, to_canonical(pd.DataFrame(rows, columns=columns), TABLE), check_exact=True)
    assert got["not_in_schema"].dtype == "float64"


def test_no_rows_gives_typed_empty_columns() -> None:
    got = _check([], list(COLUMNS.values()))
    assert len(got) == 0 and list(got.columns) == list(COLUMNS.values())
    assert isinstance(got.index, pd.RangeIndex) and np.array_equal(got.index, [])


def test_large_integers_stay_exact() -> None:
    column = COLUMNS["integer"]
    big = 2**53 + 1
    for dialect in (None, "sqlite", "postgresql"):
        got = frame_from_rows([(big,), (None,), (-(2**63),)], [column], TABLE, dialect=dialect)[column]
        assert got.tolist() == [big, pd.NA, -(2**63)]


def test_dates_take_the_arrow_road_within_the_nanosecond_range() -> None:
    inside = np.array(["1677-09-22", "2262-04-11", None, "2025-06-30"], dtype=object)
    got = _typed_column(inside, "date")  # no fallback: raises if the range check were wrong
    assert got.dtype == "datetime64[ns]" and pd.isna(got[2])
    assert [str(d)[:10] for d in got[[0, 1, 3]]] == ["1677-09-22", "2262-04-11", "2025-06-30"]
    assert pd.Timestamp.min <= pd.Timestamp(got[0]) and pd.Timestamp(got[1]) <= pd.Timestamp.max
    for outside in ("1677-09-21", "2262-04-12"):
        with pytest.raises(ValueError):
            _typed_column(np.array([outside], dtype=object), "date")
