"""A re-upload's changed rows are set through a temporary table and only in the columns that changed.

``_bulk_update`` loads the new values into a temporary table and sets them by one ``UPDATE ... FROM`` (an SQLite
older than 3.33 gets one ``UPDATE`` a row), and a re-upload sets only the columns with a new value in some changed
row. The stored rows must be those one ``UPDATE`` of every column a row stores: the same as a fresh upload of the
new rows, indexes intact, and a rollback restoring the old rows.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of

import evalkit.ingest as ingest_module
from evalkit.access import Scope
from evalkit.ingest import ingest, rollback
from evalkit.store import load_tables, open_store

SHA = "ab" * 32
_UPLOAD_COLUMNS = ("upload_id", "created_upload_id")


def _changed(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every third contact's minutes and every other participant's referral source changed."""
    out = {k: v.copy() for k, v in frames.items()}
    c = out["contacts"]
    c.loc[c.index[::3], "duration_minutes"] = c["duration_minutes"].iloc[::3].fillna(0) + 7
    out["contacts"] = c
    p = out["participants"]
    p.loc[p.index[::2], "referral_source"] = "self"
    return out


def _signed_zero(frames: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The first contact stored with ``0.0`` minutes, re-uploaded with ``-0.0`` and another status: the only
    change of minutes in the upload."""
    first = {k: v.copy() for k, v in frames.items()}
    first["contacts"].loc[first["contacts"].index[0], "duration_minutes"] = 0.0
    again = {k: v.copy() for k, v in first.items()}
    c = again["contacts"]
    c.loc[c.index[0], "duration_minutes"] = -0.0
    c.loc[c.index[0], "status"] = "attended" if c["status"].iloc[0] != "attended" else "cancelled"
    return first, again


def _tables(store) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    tables = load_tables(store, Scope.admin(), provenance=False)
    return {k: v.drop(columns=[c for c in _UPLOAD_COLUMNS if c in v.columns]).reset_index(drop=True)
            for k, v in tables.items()}


def _assert_same(got: dict[str, pd.DataFrame], want: dict[str, pd.DataFrame]) -> None:
    for name, frame in want.items():
        pd.testing.assert_frame_equal(got[name], frame, obj=name)
        for c in frame.columns:  # 0.0 and -0.0 are equal to assert_frame_equal
            if frame[c].dtype.kind == "f":
                np.testing.assert_array_equal(np.signbit(got[name][c].to_numpy()), np.signbit(frame[c].to_numpy()),
                                              err_msg=f"{name}.{c}")


def _consistent(store) -> None:  # noqa: ANN001
    """On SQLite, every index holds the table's rows and no foreign key is broken."""
    if store.engine.dialect.name != "sqlite":
        return
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        assert conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall() == []


@pytest.fixture
def other_urls(db_url: str, tmp_path) -> Iterator[tuple[str, str]]:  # noqa: ANN001
    """Two more fresh, empty databases of ``db_url``'s kind."""
    if db_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}", f"sqlite:///{tmp_path / 'first.sqlite'}"
        return
    base = os.environ["EVALKIT_TEST_PG_URL"]
    schemas = [f"t_{uuid.uuid4().hex[:12]}" for _ in range(2)]
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        for schema in schemas:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield tuple(f"{base}{sep}options=-csearch_path%3D{schema}" for schema in schemas)  # type: ignore[misc]
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.mark.parametrize("make", [_changed, None], ids=["some-columns", "signed-zero"])
def test_reupload_stores_the_new_rows_as_a_fresh_upload_does(db_url: str, other_urls: tuple[str, str],
                                                             make) -> None:  # noqa: ANN001
    """On each database: a re-upload's rows (some columns changed) stored as a fresh upload of them stores them;
    a rollback restores the first upload's rows."""
    frames = example_frames("North", n=25)
    if make is None:
        frames, again = _signed_zero(frames)
    else:
        again = make(frames)
    store = open_store(db_url)
    fresh, first = (open_store(u) for u in other_urls)
    try:
        ingest(result_of(frames), store, provider="North", file_name="a.csv", sha256=SHA)
        summary = ingest(result_of(again), store, provider="North", file_name="b.csv", sha256="cd" * 32)
        assert summary.total_updated > 0
        ingest(result_of(again), fresh, provider="North", file_name="b.csv", sha256="cd" * 32)
        ingest(result_of(frames), first, provider="North", file_name="a.csv", sha256=SHA)
        _assert_same(_tables(store), _tables(fresh))
        _consistent(store)
        rollback(store, summary.upload_id)
        _assert_same(_tables(store), _tables(first))
        _consistent(store)
    finally:
        for s in (store, fresh, first):
            s.close()


def test_updates_row_by_row_on_an_sqlite_without_update_from(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """An SQLite older than 3.33 (no ``UPDATE ... FROM``) stores what the temporary table stores."""
    frames = example_frames("North", n=25)
    again = _changed(frames)
    states = []
    for old in (False, True):
        store = open_store(f"sqlite:///{tmp_path / f'{old}.sqlite'}")
        try:
            with monkeypatch.context() as m:
                if old:
                    m.setattr(ingest_module, "_SQLITE_UPDATE_FROM", (999, 0, 0))
                    m.setattr(ingest_module, "_bulk_insert", _refuse_temporary(ingest_module._bulk_insert))
                ingest(result_of(frames), store, provider="North", file_name="a.csv", sha256=SHA)
                summary = ingest(result_of(again), store, provider="North", file_name="b.csv", sha256="cd" * 32)
                after = _tables(store)
                rollback(store, summary.upload_id)
            states.append((after, _tables(store)))
            _consistent(store)
        finally:
            store.close()
    for got, want in zip(states[1], states[0], strict=True):
        _assert_same(got, want)


def _refuse_temporary(insert):  # noqa: ANN001, ANN202
    def checked(conn: sa.Connection, table: str, frame: pd.DataFrame, **kw) -> None:  # noqa: ANN003
        assert kw.get("into") is None, "an old SQLite has no UPDATE ... FROM: no temporary table"
        insert(conn, table, frame, **kw)
    return checked


def test_a_row_given_twice_gets_its_last_values(db_url: str) -> None:
    """``_bulk_update`` of one row twice sets its last values, as one UPDATE after the other does."""
    frames = example_frames("North", n=5)
    store = open_store(db_url)
    try:
        ingest(result_of(frames), store, provider="North", file_name="a.csv", sha256=SHA)
        with store.engine.begin() as conn:
            row_id = conn.exec_driver_sql("SELECT min(row_id) FROM contacts").scalar_one()
            ingest_module._bulk_update(conn, "contacts", pd.DataFrame({
                "row_id": [row_id, row_id], "duration_minutes": [5.0, 9.0], "status": ["cancelled", "attended"]}))
        with store.engine.connect() as conn:
            got = conn.exec_driver_sql(f"SELECT duration_minutes, status FROM contacts WHERE row_id = {row_id}").one()
        assert tuple(got) == (9.0, "attended")
    finally:
        store.close()


def test_postgresql_looks_the_rows_up_by_primary_key(pg_url: str) -> None:
    """On PostgreSQL the ``UPDATE ... FROM`` the temporary table finds each row by the table's primary key: a part
    of a re-upload (a fifth of the stored rows here) does not read the whole table. The planner's join settings
    are as they were afterwards."""
    frames = example_frames("North", n=5)
    store = open_store(pg_url)
    plans: list[str] = []

    def explain(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.startswith("UPDATE") and ingest_module._UPDATE_TABLE in statement:
            with conn.connection.driver_connection.cursor() as cur:
                plans.append("\n".join(r[0] for r in cur.execute(f"EXPLAIN {statement}")))

    try:
        ingest(result_of(frames), store, provider="North", file_name="a.csv", sha256=SHA)
        with store.engine.begin() as conn:
            # 50,000 more contacts of one participant, a day apart
            conn.exec_driver_sql(
                "INSERT INTO contacts (programme_id, participant_id, contact_date, kind, status, duration_minutes, "
                "upload_id, created_upload_id) SELECT programme_id, participant_id, DATE '1900-01-01' + i, "
                "'one_to_one', 'attended', 60, upload_id, created_upload_id "
                "FROM (SELECT * FROM contacts LIMIT 1) AS c, generate_series(1, 50000) AS i")
            row_ids = np.array([r[0] for r in conn.exec_driver_sql("SELECT row_id FROM contacts")])[::5]
            before = conn.exec_driver_sql("SELECT current_setting('enable_hashjoin'), "
                                          "current_setting('enable_mergejoin')").one()
            sa.event.listen(conn, "before_cursor_execute", explain)
            ingest_module._bulk_update(conn, "contacts", pd.DataFrame({
                "row_id": np.random.default_rng(0).permutation(row_ids), "duration_minutes": 45.0}))
            sa.event.remove(conn, "before_cursor_execute", explain)
            after = conn.exec_driver_sql("SELECT current_setting('enable_hashjoin'), "
                                         "current_setting('enable_mergejoin')").one()
            assert conn.exec_driver_sql("SELECT count(*) FROM contacts WHERE duration_minutes = 45").scalar_one() \
                == len(row_ids)
        assert len(plans) == 1
        assert "Index Scan using contacts_pkey on contacts" in plans[0], plans[0]
        assert "Seq Scan on contacts" not in plans[0], plans[0]
        assert tuple(after) == tuple(before)
    finally:
        store.close()
