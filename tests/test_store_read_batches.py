"""The store reads a table's rows a batch at a time (a server-side cursor on PostgreSQL) and joins the batches
column by column: the frames equal one read of every row, on both databases."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import example_frames, result_of
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.store._read as read_module
from evalkit.access import Scope
from evalkit.ingest import ingest
from evalkit.schemas import table_schema
from evalkit.store import load_tables
from evalkit.store._frames import stacked_frames

SHA = "ab" * 32


@pytest.mark.parametrize("batch", [1, 2, 7])
def test_tables_read_in_batches_equal_one_read(store, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                               batch: int) -> None:
    ingest(result_of(example_frames("North", n=9)), store, provider="North", file_name="a.csv", sha256=SHA)
    ingest(result_of(example_frames("South", n=6, seed=3)), store, provider="South", file_name="b.csv", sha256=SHA)
    whole = load_tables(store, Scope.admin())
    assert len(whole["contacts"]) > 7 and len(whole["participants"]) > 7  # more rows than a batch
    for scope, kwargs in [(Scope.admin(), {}), (Scope.for_provider("North"), {}),
                          (Scope.for_evaluator(["P-S1", "P-N2"]), {"date_range": ("2020-01-01", None)}),
                          (Scope.admin(), {"programmes": ["P-S1"], "provenance": False})]:
        monkeypatch.setattr(read_module, "READ_ROWS", 10**6)
        once = load_tables(store, scope, **kwargs)
        monkeypatch.setattr(read_module, "READ_ROWS", batch)
        batched = load_tables(store, scope, **kwargs)
        assert sum(len(f) for f in once.values()) > 0
        for table, frame in once.items():
            pd.testing.assert_frame_equal(batched[table], frame, obj=f"{table} {scope.role} {kwargs}")


def test_a_table_without_rows_reads_as_before(store) -> None:  # noqa: ANN001
    empty = load_tables(store, Scope.admin())
    assert all(len(f) == 0 for f in empty.values())
    assert list(empty["contacts"].columns)[:3] == ["programme_id", "participant_id", "contact_date"]


_COLUMNS = {
    "text": st.one_of(st.none(), st.text(max_size=4)),
    "number": st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    "whole": st.one_of(st.none(), st.integers(-(2**62), 2**62)),
}


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 5), min_size=1, max_size=5), data=st.data())
def test_stacked_frames_equal_concat(sizes: list[int], data: st.DataObject) -> None:
    parts = []
    for n in sizes:
        parts.append(pd.DataFrame({
            "text": pd.array(data.draw(st.lists(_COLUMNS["text"], min_size=n, max_size=n)), dtype="string"),
            "number": np.array([np.nan if v is None else v
                                for v in data.draw(st.lists(_COLUMNS["number"], min_size=n, max_size=n))], float),
            "whole": pd.array(data.draw(st.lists(_COLUMNS["whole"], min_size=n, max_size=n)), dtype="Int64"),
            "day": pd.to_datetime(pd.Series(data.draw(st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2200, 1, 1)), min_size=n, max_size=n)),
                                            dtype="object")).astype("datetime64[ns]"),
        }))
    expected = pd.concat([p.copy() for p in parts], ignore_index=True)
    got = stacked_frames(parts)
    pd.testing.assert_frame_equal(got, expected)
    assert isinstance(got.index, pd.RangeIndex)


def test_postgresql_rows_stay_in_the_server_until_fetched(store) -> None:  # noqa: ANN001
    """On PostgreSQL the cursor is a named (server-side) one: a client-side cursor holds every row at once."""
    ingest(result_of(example_frames("North", n=5)), store, provider="North", file_name="a.csv", sha256=SHA)
    query = read_module.table_query("contacts", Scope.admin())

    def _cursor_kind(conn) -> tuple[str | None, int]:  # noqa: ANN001
        with read_module._driver_cursor(conn, query) as (cursor, columns):
            assert columns[:2] == ["programme_id", "participant_id"]
            return getattr(cursor, "name", None), len(cursor.fetchmany(3))

    name, fetched = store.transaction(_cursor_kind, write=False)
    assert fetched == 3
    if store.engine.dialect.name == "postgresql":
        assert name  # psycopg's ServerCursor


def test_postgresql_rows_come_back_in_key_order_without_a_sort(store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Two uploads leave the rows stored out of key order. PostgreSQL is asked for them in key order (at 10.6M
    contacts a sort here took 3.8 GB), so :func:`load_tables` has nothing to sort; SQLite's are sorted here."""
    ingest(result_of(example_frames("North", n=12, seed=5)), store, provider="North", file_name="a.csv", sha256=SHA)
    ingest(result_of(example_frames("North", n=12, seed=6, prefix="M")), store, provider="North", file_name="b.csv",
           sha256=SHA)
    expected = {t: f.sort_values(list(table_schema(t).primary_key), kind="stable").reset_index(drop=True)
                for t, f in load_tables(store, Scope.admin()).items()}
    if store.engine.dialect.name == "postgresql":
        def no_sort(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            raise AssertionError("load_tables sorted the rows")

        monkeypatch.setattr(pd.DataFrame, "sort_values", no_sort)
    monkeypatch.setattr(read_module, "READ_ROWS", 4)
    for table, frame in load_tables(store, Scope.admin()).items():
        pd.testing.assert_frame_equal(frame, expected[table], obj=table)


def test_a_driver_error_while_reading_is_a_store_error(store) -> None:  # noqa: ANN001
    """An error the driver raises under the batched read (on PostgreSQL, psycopg's own server-side cursor) is
    the store's clear message, as every other statement's error is, not the driver's exception."""
    import sqlalchemy as sa

    from evalkit.errors import StoreError

    query = sa.select(sa.column("participant_id")).select_from(sa.table("no_such_table"))
    with pytest.raises(StoreError, match="no_such_table"):
        store.transaction(lambda conn: read_module.read_canonical(conn, query, "contacts"), write=False)
