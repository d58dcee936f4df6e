"""The audit history's JSON of a row: written a column at a time, the same text as ``json.dumps`` of the row."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.store._frames import column_types, db_columns, from_json_rows, json_rows, to_canonical

TABLE = "participants"
TYPES = column_types(TABLE)
COLUMNS = {kind: next(c for c, k in TYPES.items() if k == kind)
           for kind in ("string", "integer", "number", "date", "boolean")}


def _row_by_row(frame: pd.DataFrame, table: str) -> list[str]:
    """The text as it was written before, one ``json.dumps`` of a dict per row (the reference)."""
    types = column_types(table, frame)
    cols = db_columns(frame, table)
    for col, arr in cols.items():
        if types.get(col) == "date":
            mask = arr != None  # noqa: E711
            arr[mask] = [d.isoformat() for d in arr[mask]]
    keys = list(cols)
    return [json.dumps(dict(zip(keys, row, strict=True)), separators=(",", ":"))
            for row in zip(*cols.values(), strict=True)]


def test_known_row() -> None:
    frame = to_canonical(pd.DataFrame({
        "participant_id": ["P-1", None, "Zoë \"Z\"\n"],
        "row_id": [7, None, -3],
        COLUMNS["number"]: [-0.0, np.nan, 0.1],
        COLUMNS["date"]: ["2024-02-29", None, "1999-12-31"],
        COLUMNS["boolean"]: [True, None, False],
    }), TABLE)
    got = json_rows(frame, TABLE)
    n, d, b = COLUMNS["number"], COLUMNS["date"], COLUMNS["boolean"]
    assert got == [
        f'{{"participant_id":"P-1","row_id":7,"{n}":-0.0,"{d}":"2024-02-29","{b}":true}}',
        f'{{"participant_id":null,"row_id":null,"{n}":null,"{d}":null,"{b}":null}}',
        f'{{"participant_id":"Zo\\u00eb \\"Z\\"\\n","row_id":-3,"{n}":0.1,"{d}":"1999-12-31","{b}":false}}',
    ]
    assert got == _row_by_row(frame, TABLE)


def test_empty_frames() -> None:
    assert json_rows(pd.DataFrame({"participant_id": pd.array([], dtype="string")}), TABLE) == []
    assert json_rows(pd.DataFrame(index=range(2)), TABLE) == ["{}", "{}"]


_VALUES = {
    "string": st.one_of(st.none(), st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
                        st.sampled_from(["", "P-1", "é", "\U0001f600", "\x00", "\\"])),
    "integer": st.one_of(st.none(), st.integers(min_value=-(2**53), max_value=2**53)),
    "number": st.one_of(st.none(), st.floats(allow_nan=True), st.sampled_from([0.0, -0.0, 1e300, 5e-324])),
    "date": st.one_of(st.none(), st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31))),
    "boolean": st.one_of(st.none(), st.booleans()),
}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(*[_VALUES[k] for k in COLUMNS]), min_size=1, max_size=30), st.randoms())
def test_same_text_as_a_dumps_per_row(rows: list[tuple], rnd) -> None:
    columns = list(COLUMNS.values())
    rnd.shuffle(columns)  # any column order is kept as given
    frame = to_canonical(pd.DataFrame(rows, columns=list(COLUMNS.values())), TABLE)[columns]
    got = json_rows(frame, TABLE)
    assert got == _row_by_row(frame, TABLE)
    back = from_json_rows(got, TABLE)
    assert len(back) == len(frame)


def test_bookkeeping_frame_types_from_dtypes() -> None:
    """A frame of a table that is not canonical: kinds read from its dtypes, as before."""
    frame = pd.DataFrame({"a": [1, 2], "b": [0.5, np.nan], "c": pd.to_datetime(["2024-01-01", None]),
                          "d": ["x", None]})
    assert json_rows(frame, "audit") == _row_by_row(frame, "audit") == [
        '{"a":1,"b":0.5,"c":"2024-01-01","d":"x"}', '{"a":2,"b":null,"c":null,"d":null}']
