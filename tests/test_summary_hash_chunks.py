"""data_hash built a chunk of rows at a time (chunks of whole groups of rows sharing their leading cells) feeds
the hash the same bytes as building every row's text at once (as before), for any chunk size: tiny chunks here,
so that tables are split into many chunks and groups, with missing values, control characters below the
separator, equal leading cells, -0.0 next to 0.0, times within a day, dates out of years 1000-9999, and text that
needs ``to_csv``."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac
import pytest
from conftest import reference_data_hash, sorted_csv_rows
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.summary as summary
from evalkit.summary import _cell_text, _chunk_stops, _hash_rows_in_chunks, data_hash


def _one_pass_rows(frame: pd.DataFrame, cols: list[str]) -> bytes | None:
    """data_hash's rows as they were built before (commit 46a17f3): every row's text at once, sorted."""
    cells = [_cell_text(frame[c], single=len(cols) == 1) for c in cols]
    if any(c is None for c in cells):
        return None
    rows = pac.binary_join_element_wise(*cells, pa.scalar("\x1f", pa.large_string())).to_pylist()
    return "\x1e".join(sorted(rows)).encode("utf-8")


def _data_hash_in_one_pass(tables: dict[str, pd.DataFrame]) -> str:
    """data_hash as it was before (commit 46a17f3): rows built in one pass, to_csv where a column needs it.

    (Not the plain ``to_csv`` definition: for a table whose one used column is a float with a missing value,
    ``to_csv`` writes the lone empty cell as ``""``, and data_hash never did.)
    """
    def rows(frame: pd.DataFrame, cols: list[str]) -> bytes:
        one_pass = _one_pass_rows(frame, cols)
        return sorted_csv_rows(frame, cols) if one_pass is None else one_pass

    return reference_data_hash(tables, rows)


# few distinct values, so that leading cells repeat and groups outgrow tiny chunks
_text = st.one_of(st.none(), st.text(alphabet=st.sampled_from(["a", "b", "\x00", "\x01", "\t", "é", " "]),
                                     max_size=3))
_quoted = st.sampled_from(["x\ny", 'a"b', "\x1e", "\r"])
_float = st.one_of(st.none(), st.integers(-3, 3).map(float), st.sampled_from([-0.0, 0.0, 0.5, -0.5, 1 / 3, 2.0**53]))
_int = st.one_of(st.none(), st.integers(-2, 12))
_bool = st.one_of(st.none(), st.booleans())
_day = st.one_of(st.none(), st.dates(dt.date(2020, 1, 1), dt.date(2020, 1, 4)))

_PARTICIPANT_COLUMNS = {"age_band": _text, "baby_age_weeks": _float, "deprivation_decile": _int,
                        "end_date": _day, "first_time_mother": _bool, "participant_id": _text}
_DTYPES = {"age_band": "string", "baby_age_weeks": "float64", "deprivation_decile": "Int64",
           "end_date": "datetime64[s]", "first_time_mother": "boolean", "participant_id": "string"}


@st.composite
def _participants(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(st.sampled_from(sorted(_PARTICIPANT_COLUMNS)), min_size=1, max_size=6, unique=True))
    n = draw(st.integers(0, 14))
    data = {c: draw(st.lists(_PARTICIPANT_COLUMNS[c], min_size=n, max_size=n)) for c in names}
    if "age_band" in data and n and draw(st.integers(0, 5)) == 0:  # now and then, text the CSV writer quotes
        data["age_band"][draw(st.integers(0, n - 1))] = draw(_quoted)
    if "end_date" in data:
        data["end_date"] = [None if d is None else dt.datetime(d.year, d.month, d.day) for d in data["end_date"]]
    return pd.DataFrame({c: pd.Series(v, dtype=_DTYPES[c]) for c, v in data.items()})


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_participants(), st.integers(1, 5))
def test_data_hash_in_tiny_chunks_equals_the_one_pass_hash(frame: pd.DataFrame, chunk: int) -> None:
    tables = {"participants": frame}
    expected = _data_hash_in_one_pass(tables)
    old_size = summary._CHUNK_ROWS
    try:
        summary._CHUNK_ROWS = chunk
        assert data_hash(tables) == expected
    finally:
        summary._CHUNK_ROWS = old_size
    assert data_hash(tables) == expected  # one chunk


# untyped frames straight into the chunked path: times within a day, dates out of years 1000-9999, numpy dtypes
_moment = st.one_of(st.none(), st.datetimes(dt.datetime(2020, 1, 1), dt.datetime(2020, 1, 2, 23)),
                    st.sampled_from([dt.datetime(999, 12, 31), dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31)]))
_RAW = {"a_text": (_text, "string"), "b_float": (_float, "float64"), "c_int": (st.integers(-2, 2), "int64"),
        "d_moment": (_moment, "datetime64[s]"), "e_bool": (st.booleans(), "bool"), "f_text": (_text, "str"),
        "g_text": (_text, "string[python]")}


@st.composite
def _raw_frames(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str]]:
    cols = sorted(draw(st.lists(st.sampled_from(sorted(_RAW)), min_size=1, max_size=6, unique=True)))
    n = draw(st.integers(1, 14))
    frame = pd.DataFrame({c: pd.Series(draw(st.lists(_RAW[c][0], min_size=n, max_size=n)), dtype=_RAW[c][1])
                          for c in cols})
    cuts = sorted(draw(st.lists(st.integers(1, n - 1), max_size=3))) if n > 1 else []
    if cuts:  # pieces put together: Arrow text columns of several chunks, as tables read from Parquet have
        frame = pd.concat([frame.iloc[i:j] for i, j in zip([0, *cuts], [*cuts, n], strict=True)], ignore_index=True)
    return frame, cols


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_raw_frames(), st.integers(1, 4))
def test_chunks_feed_the_sorted_rows_or_fall_back_as_the_whole_columns_do(case: tuple, chunk: int) -> None:
    frame, cols = case
    h = hashlib.sha256()
    done = _hash_rows_in_chunks(h, frame, cols, chunk_rows=chunk)
    rows = _one_pass_rows(frame, cols)
    assert done == (rows is not None)  # to_csv for the same tables as when every row's text was built at once
    if done:
        assert h.hexdigest() == hashlib.sha256(rows).hexdigest()


def test_first_cells_below_the_separator_and_signed_zeros_order_their_groups() -> None:
    """``"a"`` sorts before ``"a\\x00"`` but ``"a\\x1f..."`` after it; ``"-0"`` and ``"0"`` are different texts."""
    frame = pd.DataFrame({"a": pd.array(["a", "a\x00", "a", "a\t", "b", "\x00"], dtype="string"),
                          "b": [0.0, -0.0, -0.5, 0.0, -0.0, 1.0]})
    for cols in (["a", "b"], ["b", "a"], ["a"], ["b"]):
        for chunk in (1, 2, 3, 100):
            h = hashlib.sha256()
            assert _hash_rows_in_chunks(h, frame, cols, chunk_rows=chunk)
            assert h.hexdigest() == hashlib.sha256(_one_pass_rows(frame, cols)).hexdigest()


@pytest.mark.parametrize(("ends", "size", "stops"), [
    ([3, 5, 9], 4, [3, 5, 9]), ([1, 2, 3, 4], 2, [2, 4]), ([5, 6], 2, [5, 6]), ([2, 7, 8, 9], 100, [9]),
    ([1, 2, 3], 1, [1, 2, 3]),
])
def test_chunks_hold_whole_groups(ends: list[int], size: int, stops: list[int]) -> None:
    assert _chunk_stops(np.array(ends), size) == stops
