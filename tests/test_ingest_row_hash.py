"""Re-uploads find unchanged rows by key and row hash; the hash never decides alone that a row is unchanged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import sqlalchemy as sa
from conftest import example_frames, result_of
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.ingest as ingest_module
from evalkit.access import Scope
from evalkit.ingest import ingest, rollback
from evalkit.schemas import TABLE_NAMES
from evalkit.store import _tables as T
from evalkit.store import load_tables
from evalkit.store._frames import column_types
from evalkit.store._row_hash import _column_values, hashed_columns, row_hashes

SHA = "cd" * 32


def put(store, frames, name="upload.xlsx"):  # noqa: ANN001, ANN201
    return ingest(result_of(frames), store, provider="North", file_name=name, sha256=SHA)


def stored_hashes(store, table: str) -> pd.Series:  # noqa: ANN001
    t = T.canonical[table]
    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(t.c.row_id, t.c.row_hash).order_by(t.c.row_id)).all()
    return pd.Series([r[1] for r in rows], index=[r[0] for r in rows], dtype="Int64")


def full_reads(monkeypatch) -> list[tuple[str, int]]:  # noqa: ANN001
    """(table, number of ids) of every read of whole stored rows during ingest."""
    calls: list[tuple[str, int]] = []
    real = ingest_module._fetch

    def spy(conn, table, by, values, columns=None):  # noqa: ANN001, ANN202
        values = list(values)
        if columns is None:
            calls.append((table, len(values)))
        return real(conn, table, by, values, columns)

    monkeypatch.setattr(ingest_module, "_fetch", spy)
    return calls


def test_every_stored_row_gets_the_hash_of_its_loaded_values(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    loaded = load_tables(store, Scope.admin())
    for table in TABLE_NAMES:
        hashes = stored_hashes(store, table)
        assert hashes.notna().all() and len(hashes) == len(loaded[table])
        # the hashes of the values read back are the stored ones
        assert sorted(row_hashes(loaded[table], table).tolist()) == sorted(hashes.astype("int64").tolist())


def test_unchanged_reupload_reads_no_whole_rows(store, monkeypatch) -> None:  # noqa: ANN001
    first = put(store, example_frames("North"))
    calls = full_reads(monkeypatch)
    again = put(store, example_frames("North"), name="again.xlsx")
    assert again.total_updated == 0 and again.total_inserted == 0
    assert again.total_unchanged == first.total_inserted
    assert all(n == 0 for _, n in calls), calls


def test_changed_rows_are_found_updated_and_rehashed(store, monkeypatch) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    frames = example_frames("North")
    frames["participants"].loc[3, "ending"] = "planned_ending"
    frames["measures"].loc[2, "item_1"] = 0.1 + 0.2
    calls = full_reads(monkeypatch)
    s = put(store, frames, name="v2.xlsx")
    assert s.updated["participants"] == 1 and s.updated["measures"] == 1 and s.total_updated == 2
    # only the ids of the rows whose hash differed were read whole
    assert dict((t, n) for t, n in calls if n) == {"participants": 1, "measures": 1}
    loaded = load_tables(store, Scope.admin())
    for table in ("participants", "measures"):
        assert sorted(row_hashes(loaded[table], table).tolist()) == \
            sorted(stored_hashes(store, table).astype("int64").tolist())


def test_missing_or_stale_hashes_are_compared_by_value_and_repaired(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    right = stored_hashes(store, "participants")
    p = T.canonical["participants"]
    ids = right.index.tolist()
    with store.engine.begin() as conn:
        conn.execute(sa.update(p).where(p.c.row_id.in_(ids[:5])).values(row_hash=None))
        conn.execute(sa.update(p).where(p.c.row_id.in_(ids[5:8])).values(row_hash=12345))  # stale
    frames = example_frames("North")
    frames["participants"].loc[6, "ending"] = "planned_ending"  # and one row changed
    s = put(store, frames, name="v2.xlsx")
    assert s.updated["participants"] == 1 and s.unchanged["participants"] == len(ids) - 1
    after = stored_hashes(store, "participants")
    assert after.notna().all() and (after != 12345).all()
    loaded = load_tables(store, Scope.admin())["participants"]
    assert sorted(row_hashes(loaded, "participants").tolist()) == sorted(after.astype("int64").tolist())


def test_rollback_restores_the_old_hash_or_forgets_it(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    before = stored_hashes(store, "participants")
    frames = example_frames("North")
    frames["participants"].loc[3, "ending"] = "planned_ending"
    s = put(store, frames, name="v2.xlsx")
    assert not stored_hashes(store, "participants").equals(before)
    rollback(store, s.upload_id)
    pd.testing.assert_series_equal(stored_hashes(store, "participants"), before)
    # an audit written before row hashes existed has none: the restored row's hash becomes unknown
    s = put(store, frames, name="v3.xlsx")
    a = T.audit_history
    with store.engine.begin() as conn:
        row_id, old = conn.execute(sa.select(a.c.audit_id, a.c.old_row).where(a.c.new_upload_id == s.upload_id)).one()
        legacy = {k: v for k, v in json.loads(old).items() if k != "row_hash"}
        conn.execute(sa.update(a).where(a.c.audit_id == row_id).values(old_row=json.dumps(legacy)))
    rollback(store, s.upload_id)
    after = stored_hashes(store, "participants")
    assert after.isna().sum() == 1 and after.dropna().equals(before[after.notna()])
    again = put(store, example_frames("North"), name="v4.xlsx")  # compared by value, then repaired
    assert again.total_updated == 0 and stored_hashes(store, "participants").notna().all()


_text = st.one_of(st.none(), st.text(max_size=4))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_text, st.one_of(st.none(), st.integers(1, 10)), st.booleans()), min_size=1, max_size=8))
def test_the_hash_does_not_depend_on_how_values_are_held(rows: list) -> None:
    """str, string or categorical text; NaN or NA; Int64 or float: one value, one hash."""
    cols = hashed_columns("participants")
    base = pd.DataFrame({c: pd.array([pd.NA] * len(rows), dtype="string") for c in cols})
    base["ending"] = pd.array([r[0] for r in rows], dtype="string")
    base["deprivation_decile"] = pd.array([r[1] for r in rows], dtype="Int64")
    base["took_up"] = pd.array([r[2] for r in rows], dtype="boolean")
    base["referral_date"] = pd.to_datetime(pd.Series(["2025-01-02"] * len(rows)))
    for c in cols:
        if c not in ("ending", "deprivation_decile", "took_up", "referral_date") and c in base:
            kind = column_types("participants")[c]
            if kind == "date":
                base[c] = pd.Series(pd.NaT, index=base.index, dtype="datetime64[ns]")
            elif kind in ("integer", "number", "boolean"):
                base[c] = pd.array([pd.NA] * len(rows), dtype="Float64" if kind == "number" else "Int64")
    h = row_hashes(base, "participants")
    other = base.copy()
    other["ending"] = other["ending"].astype("category")
    other["deprivation_decile"] = other["deprivation_decile"].astype("Float64").astype("float64")
    np.testing.assert_array_equal(row_hashes(other, "participants"), h)
    plain = base.copy()
    plain["ending"] = plain["ending"].astype(object).where(plain["ending"].notna(), np.nan).astype("str") \
        .where(plain["ending"].notna(), np.nan)
    np.testing.assert_array_equal(row_hashes(plain, "participants"), h)
    # a different value, a different hash
    changed = base.copy()
    changed.loc[0, "deprivation_decile"] = 11
    assert row_hashes(changed, "participants")[0] != h[0]
    assert row_hashes(base.drop(columns="ending"), "participants") is None


def test_the_hash_is_pandas_hash_of_the_columns_combined_in_order() -> None:
    """Computed column by column (one column's arrays in memory) but equal to hash_pandas_object of them all."""
    frames = example_frames("North")
    result = result_of(frames)
    for table, frame in result.tables.items():
        if not len(frame):
            continue
        types = column_types(table)
        whole = pd.DataFrame({c: _column_values(frame[c], types[c]) for c in hashed_columns(table)})
        expected = pd.util.hash_pandas_object(whole, index=False).to_numpy().view(np.int64)
        np.testing.assert_array_equal(row_hashes(frame, table), expected)


def test_contacts_of_group_sessions_are_found_by_index(store) -> None:  # noqa: ANN001
    """A re-upload's group sessions look up their stored attendance by index, not one table scan per 10,000 ids."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN SELECT row_id FROM contacts WHERE group_session_id IN "
                                        "('a', 'b')").fetchall()
            assert any(T.GROUP_SESSION_INDEX in str(row) for row in plan), plan
        else:
            names = conn.exec_driver_sql("SELECT indexname FROM pg_indexes WHERE tablename = 'contacts'").scalars().all()
            assert T.GROUP_SESSION_INDEX in names
