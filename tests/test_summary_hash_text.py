"""data_hash on text cells (the byte search for characters the CSV writer quotes) equals its ``to_csv``
definition, whatever the text holds, for whole and sliced tables."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import reference_data_hash, sorted_csv_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.summary import data_hash


def _with_to_csv(tables: dict[str, pd.DataFrame]) -> str:
    """The definition in data_hash's docstring: typed tables, used columns in name order, to_csv rows sorted."""
    return reference_data_hash(tables, sorted_csv_rows)


_text = st.one_of(st.none(), st.text(alphabet=st.sampled_from(list('ab é"\x1f\x1e\r\n,\x00\t')), max_size=4))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_text, _text), min_size=1, max_size=12), st.integers(0, 6), st.booleans())
def test_text_cells_hash_as_to_csv_writes_them(rows: list, skip: int, arrow: bool) -> None:
    dtype = "string[pyarrow]" if arrow else "string[python]"
    p = pd.DataFrame({"programme_id": [f"P{i}" for i in range(len(rows))],
                      "name": pd.array([r[0] for r in rows], dtype=dtype),
                      "region": pd.array([r[1] for r in rows], dtype=dtype)})
    p = p.iloc[skip:]  # a slice: its text arrays may start part way into their buffers
    tables = {"programmes": p}
    assert data_hash(tables) == _with_to_csv(tables)


@pytest.mark.parametrize("char", list('\x1f\x1e"\r\n'))
def test_each_quoted_character_anywhere_in_a_column(char: str) -> None:
    names = pd.array(["plain", "also plain", f"x{char}y", None], dtype="string[pyarrow]")
    for frame in (pd.DataFrame({"programme_id": ["A", "B", "C", "D"], "name": names}),):
        for part in (frame, frame.iloc[2:], frame.iloc[:2], frame.iloc[1:3]):
            tables = {"programmes": part}
            assert data_hash(tables) == _with_to_csv(tables)


_whole = st.one_of(st.none(), st.integers(-40, 40).map(float), st.sampled_from([-0.0, 0.5, 2.0**53, -(2.0**53) + 1]))
_day = st.one_of(st.none(), st.dates(dt.date(1990, 1, 1), dt.date(1990, 3, 1)),
                 st.sampled_from([dt.date(1678, 1, 1), dt.date(2262, 4, 1)]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_whole, _whole, _day), min_size=1, max_size=14), st.integers(0, 5))
def test_whole_floats_and_dates_written_once_per_value_hash_as_to_csv_writes_them(rows: list, skip: int) -> None:
    """Floats that are all whole numbers and dates are written once for each number or day of their span and
    picked for each cell when the span is shorter than the column: the same text as ``to_csv`` (missing floats
    empty, missing dates NUL, -0.0 and fractions, spans as long as the column)."""
    n = len(rows)
    days = [None if r[2] is None else dt.datetime(r[2].year, r[2].month, r[2].day) for r in rows]
    m = pd.DataFrame({"programme_id": "P", "participant_id": [f"m{i}" for i in range(n)], "instrument": "epds",
                      "completed_on": pd.Series(days, dtype="datetime64[s]"),
                      "item_1": pd.array([r[0] for r in rows], dtype="float64"),
                      "item_2": pd.array([r[1] for r in rows], dtype="float64")}).iloc[skip:]
    tables = {"measures": m}
    assert data_hash(tables) == _with_to_csv(tables)
