"""The store on SQLite and PostgreSQL: DDL from the schemas, migrations, loading, clear errors."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import StoreError
from evalkit.ingest import ingest
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.store import (
    CURRENT_VERSION,
    MIGRATIONS,
    _migrations,
    _tables,
    data_version,
    load_tables,
    open_store,
    resolve_db_url,
)

SHA = "0" * 64


def _ingest(store, provider="North", **kw):  # noqa: ANN001, ANN202
    return ingest(result_of(example_frames(provider, **kw)), store, provider=provider,
                  file_name=f"{provider}.xlsx", sha256=SHA)


def test_ddl_follows_table_schemas(store) -> None:  # noqa: ANN001
    insp = sa.inspect(store.engine)
    for name in TABLE_NAMES:
        schema = table_schema(name)
        cols = {c["name"]: c for c in insp.get_columns(name)}
        assert [f.name for f in schema.fields] == [c for c in cols if c in schema.field_names]
        for f in schema.fields:
            assert cols[f.name]["nullable"] is (not f.required), f"{name}.{f.name}"
        assert {"upload_id", "created_upload_id", "row_id"} <= set(cols)
        uniques = [tuple(u["column_names"]) for u in insp.get_unique_constraints(name)]
        assert tuple(schema.primary_key) in uniques
        fks = {tuple(fk["constrained_columns"]): fk["referred_table"] for fk in insp.get_foreign_keys(name)}
        for fk in schema.foreign_keys:
            assert fks[tuple(fk["fields"])] == fk["reference"]["resource"]
    assert {"uploads", "quarantine", "audit_history", "schema_version", "store_meta"} <= set(insp.get_table_names())


def test_schema_version_recorded(store) -> None:  # noqa: ANN001
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(_tables.schema_version.c.version)).scalars().all()
    assert rows == [m.version for m in MIGRATIONS]
    assert CURRENT_VERSION == MIGRATIONS[-1].version >= 2


def test_migrates_from_version_1_keeping_data(db_url: str) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        assert _migrations.migrate(conn, target=1) == [1]
        old_id = conn.execute(_tables.uploads.insert().returning(_tables.uploads.c.upload_id).values(
            provider="North", uploaded_at=pd.Timestamp("2025-01-01", tz="UTC").to_pydatetime(),
            file_name="old.csv", sha256=SHA, status="stored", rows_accepted=1, rows_inserted=1,
            rows_updated=0, rows_unchanged=0, rows_quarantined=0, rows_resolved=0)).scalar_one()
        conn.execute(_tables.canonical["programmes"].insert().values(
            programme_id="P-OLD", name="Old", provider="North", format="group", mode="in_person",
            delivered_by="volunteer_peers", upload_id=old_id, created_upload_id=old_id))
    engine.dispose()
    with open_store(db_url) as store:
        insp = sa.inspect(store.engine)
        assert {"quarantine", "audit_history", "store_meta"} <= set(insp.get_table_names())
        with store.engine.connect() as conn:
            assert _migrations.current_version(conn) == CURRENT_VERSION
        progs = load_tables(store, Scope.admin(), tables=["programmes"])["programmes"]
        assert progs["programme_id"].tolist() == ["P-OLD"]
        # the migrated database takes new uploads (sequences continue after the old upload)
        summary = _ingest(store)
        assert summary.upload_id > old_id and summary.total_inserted > 0


def test_migration_is_all_or_nothing(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        _migrations.migrate(conn, target=1)

    def broken(conn: sa.Connection) -> None:
        conn.exec_driver_sql("CREATE TABLE half_done (x integer)")
        raise sa.exc.OperationalError("ALTER", {}, Exception("simulated failure"))

    steps = list(MIGRATIONS)
    steps[-1] = _migrations.Migration(steps[-1].version, "broken", broken)
    monkeypatch.setattr(_migrations, "MIGRATIONS", tuple(steps))
    with pytest.raises(StoreError, match="simulated failure"):
        open_store(db_url)
    with engine.connect() as conn:
        assert _migrations.current_version(conn) == 1
        assert not sa.inspect(conn).has_table("half_done")
        assert not sa.inspect(conn).has_table("quarantine")
    engine.dispose()


def test_newer_database_is_refused(db_url: str) -> None:
    open_store(db_url).close()
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(_tables.schema_version.insert().values(
            version=CURRENT_VERSION + 1, description="from the future",
            applied_at=pd.Timestamp.now(tz="UTC").to_pydatetime()))
    engine.dispose()
    with pytest.raises(StoreError, match=f"version {CURRENT_VERSION + 1}, newer than this evalkit"):
        open_store(db_url)


def test_sqlite_pragmas(tmp_path) -> None:  # noqa: ANN001
    with open_store(tmp_path / "x.sqlite") as store, store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000


def test_resolve_db_url(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    assert resolve_db_url(tmp_path / "a.sqlite") == f"sqlite:///{tmp_path / 'a.sqlite'}"
    assert resolve_db_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("EVALKIT_DB_URL", "sqlite:///env.sqlite")
    assert resolve_db_url(None) == "sqlite:///env.sqlite"
    monkeypatch.delenv("EVALKIT_DB_URL")
    monkeypatch.chdir(tmp_path)
    assert resolve_db_url(None) == f"sqlite:///{tmp_path / 'evalkit.sqlite'}"


def test_unreachable_database_gives_clear_error(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import evalkit.store._engine as eng

    monkeypatch.setattr(eng, "_RETRIES", 2)
    with pytest.raises(StoreError, match="cannot use the database .*reachable"):
        open_store("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "missing" / "x.sqlite")


def test_locked_sqlite_gives_clear_error_after_retries(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import sqlite3

    import evalkit.store._engine as eng

    monkeypatch.setattr(eng, "_BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(eng, "_RETRIES", 3)
    path = tmp_path / "locked.sqlite"
    store = open_store(path)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    calls = []
    try:
        with pytest.raises(StoreError, match="locked by another program \\(tried 3 times\\)"):
            store.transaction(lambda conn: calls.append(1))
        assert calls == []  # the write lock was never obtained, so nothing ran
        assert store.transaction(lambda conn: 42, write=False) == 42  # readers are not blocked (WAL)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.transaction(lambda conn: 7) == 7  # lock released: writing works again
    store.close()


def test_load_tables_identical_on_sqlite_and_postgresql(tmp_path, pg_url: str) -> None:  # noqa: ANN001
    loaded = []
    for url in (f"sqlite:///{tmp_path / 'a.sqlite'}", pg_url):
        with open_store(url) as store:
            _ingest(store, "North")
            _ingest(store, "South", seed=1)
            loaded.append(load_tables(store, Scope.admin()))
    lite, pg = loaded
    for name in TABLE_NAMES:
        assert len(lite[name]) > 0
        pd.testing.assert_frame_equal(lite[name], pg[name], check_exact=True)


def test_loaded_frames_have_canonical_dtypes_and_values(store) -> None:  # noqa: ANN001
    from conftest import TEST_SECRET

    from evalkit.pseudonymise import pseudonymise_frame

    frames = example_frames("North")
    _ingest(store)
    loaded = load_tables(store, Scope.admin())
    for name in TABLE_NAMES:
        expected = pseudonymise_frame(frames[name], secret=TEST_SECRET.encode(), namespace="North")
        key = list(table_schema(name).primary_key)
        expected = expected.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(loaded[name], expected, check_exact=True)


def test_load_tables_without_provenance_is_the_same_rows_and_outcomes(store) -> None:  # noqa: ANN001
    """provenance=False (the dashboard's tables) leaves out exactly the three provenance columns, and the
    outcomes computed from the tables are the same without them."""
    import warnings

    from evalkit.canonical import PROVENANCE_COLUMNS
    from evalkit.outcomes import evaluate_outcomes

    _ingest(store, "North")
    _ingest(store, "South", seed=1)
    full = load_tables(store, Scope.admin())
    lean = load_tables(store, Scope.admin(), provenance=False)
    for name in TABLE_NAMES:
        assert set(PROVENANCE_COLUMNS) <= set(full[name].columns)
        assert not set(PROVENANCE_COLUMNS) & set(lean[name].columns)
        pd.testing.assert_frame_equal(lean[name], full[name].drop(columns=list(PROVENANCE_COLUMNS)), check_exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = evaluate_outcomes(full, models=False), evaluate_outcomes(lean, models=False)
    assert len(a.summary) > 0
    for part in ("summary", "dose_sensitivity", "talking_therapies", "recovery", "parameters"):
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part), check_exact=True)


def test_data_version_changes_with_data(store) -> None:  # noqa: ANN001
    from evalkit.ingest import rollback

    v0 = data_version(store)
    s = _ingest(store)
    v1 = data_version(store)
    rollback(store, s.upload_id)
    v2 = data_version(store)
    assert len({v0, v1, v2}) == 3
    assert data_version(store) == v2
