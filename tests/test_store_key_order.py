"""load_tables' frames in key order: rows that already stand in key order are kept as they come, others sorted.

``sorted_by_key`` checks neighbouring rows instead of sorting when the database returns the rows in key order;
either way the frame must be the one a stable ``sort_values`` by the key gives.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from conftest import example_frames, result_of
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.access import Scope
from evalkit.ingest import ingest
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.store import _tables, load_tables
from evalkit.store._read import read_canonical, sorted_by_key, table_query


def _reference(frame: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    return frame.sort_values(key, kind="stable").reset_index(drop=True)


_TEXT = ["a", "b", "B", "ab", "a b", "é", "ée", "Z", ""]
_DAY = st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 3))


def _or_missing(values: st.SearchStrategy, missing: bool) -> st.SearchStrategy:
    return st.one_of(values, st.none()) if missing else values


@settings(max_examples=200, deadline=None)
@given(data=st.data(), missing=st.booleans(), presort=st.booleans())
def test_sorted_by_key_is_a_stable_sort(data: st.DataObject, missing: bool, presort: bool) -> None:
    # few distinct first keys, so that neighbours often tie there and the later columns decide
    row = st.tuples(_or_missing(st.sampled_from(_TEXT[:3]), missing), _or_missing(_DAY, missing),
                    _or_missing(st.sampled_from(_TEXT), missing), st.integers(0, 3))
    rows = data.draw(st.lists(row, max_size=12))
    frame = pd.DataFrame({
        "participant_id": pd.array([r[0] for r in rows], dtype="string"),
        "contact_date": pd.to_datetime(pd.Series([r[1] for r in rows], dtype=object)).astype("datetime64[ns]"),
        "kind": pd.array([r[2] for r in rows], dtype="string"),
        "n": np.array([r[3] for r in rows], dtype=np.int64),
    })
    swap = data.draw(st.integers(0, max(len(rows) - 1, 0)))
    key = ["participant_id", "contact_date", "kind"]
    if presort:  # rows in key order (the check's road), or all but one pair of neighbours
        frame = _reference(frame, key)
        if 0 < swap < len(frame):
            frame = frame.iloc[[*range(swap - 1), swap, swap - 1, *range(swap + 1, len(frame))]]
            frame = frame.reset_index(drop=True)
    for k in (key, key[:1], ["n", "kind"]):
        pd.testing.assert_frame_equal(sorted_by_key(frame, k), _reference(frame, k), check_exact=True)
        given_frame = frame.copy()
        consumed = sorted_by_key(given_frame, k, consume=True)
        pd.testing.assert_frame_equal(consumed, _reference(frame, k), check_exact=True)
        assert consumed is given_frame or given_frame.columns.empty  # kept as it came, or its columns taken out


def test_a_consumed_sort_holds_one_column_twice_not_the_frame() -> None:
    """Sorted a column at a time, each column let go of once copied: the sorted frame shares no buffer with the
    frame it came from, whose columns are gone."""
    n = 50_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"participant_id": pd.array(rng.permutation(n).astype(str), dtype="string"),
                          "x": rng.random(n), "y": rng.random(n), "k": pd.array(rng.integers(0, 9, n), dtype="Int64")})
    frame.attrs["source"] = "test"
    expected = _reference(frame, ["participant_id"])
    x_before = frame["x"].to_numpy()
    out = sorted_by_key(frame, ["participant_id"], consume=True)
    pd.testing.assert_frame_equal(out, expected, check_exact=True)
    assert out.attrs == {"source": "test"}
    assert frame.columns.empty
    assert not np.shares_memory(out["x"].to_numpy(), x_before)


def test_rows_in_key_order_are_kept_as_they_come() -> None:
    frame = pd.DataFrame({"participant_id": pd.array(["a", "a", "b"], dtype="string"),
                          "contact_date": pd.to_datetime(["2024-01-02", "2024-01-02", "2024-01-01"]),
                          "kind": pd.array(["group_session", "telephone", "telephone"], dtype="string")})
    key = ["participant_id", "contact_date", "kind"]
    assert sorted_by_key(frame, key) is frame
    swapped = frame.iloc[[1, 0, 2]].reset_index(drop=True)  # only the last key column out of order
    assert sorted_by_key(swapped, key) is not swapped
    pd.testing.assert_frame_equal(sorted_by_key(swapped, key), frame)
    shifted = frame.set_axis([1, 2, 3])  # index not 0..n-1: reset as the sort would
    pd.testing.assert_frame_equal(sorted_by_key(shifted, key), frame)


def _raw(store, table: str) -> pd.DataFrame:  # noqa: ANN001
    query = table_query(table, Scope.admin())
    return store.transaction(lambda conn: read_canonical(conn, query, table), write=False)


def test_load_tables_in_key_order_whatever_the_stored_order(store) -> None:  # noqa: ANN001
    for provider, seed in (("North", 0), ("South", 1)):
        ingest(result_of(example_frames(provider, seed=seed)), store, provider=provider,
               file_name=f"{provider}.xlsx", sha256="0" * 64)

    def reverse(conn: sa.Connection) -> None:  # the stored rows in the reverse of their order
        for name in TABLE_NAMES:
            t = _tables.canonical[name]
            conn.execute(sa.update(t).values({_tables.ROW_ID: -t.c[_tables.ROW_ID]}))

    for step in ("as stored", "reversed"):
        if step == "reversed":
            store.transaction(reverse)
        loaded = load_tables(store, Scope.admin())
        out_of_order = 0
        for name in TABLE_NAMES:
            key = list(table_schema(name).primary_key)
            raw = _raw(store, name)
            expected = _reference(raw, key)
            pd.testing.assert_frame_equal(loaded[name], expected, check_exact=True)
            out_of_order += not raw.equals(expected)
        if store.engine.dialect.name == "sqlite" and step == "reversed":
            assert out_of_order == len(TABLE_NAMES)  # every table came back out of key order: sorted
