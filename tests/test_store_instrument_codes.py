"""Schema step 8: measures stored with the instrument as typed (before it was stored as its registry code) are
rewritten to the code; a key two spellings then share keeps the row stored later, the other in audit_history,
so the database is the one the uploads would have made had the code always been stored."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import EvalkitWarning
from evalkit.ingest import ingest, rollback
from evalkit.schemas import table_schema
from evalkit.store import _tables as T
from evalkit.store import list_uploads, load_tables, open_store

KEY = list(table_schema("measures").primary_key)


def _pid(i: int) -> str:
    """Participant ``i``'s id as a pseudonym (kept as it is by ingest, so the test can name the stored rows)."""
    return f"p_{i:016x}"


def _first_upload() -> dict[str, pd.DataFrame]:
    frames = example_frames("North")
    for f in frames.values():
        if "participant_id" in f.columns:
            f["participant_id"] = f["participant_id"].str.slice(1).astype(int).map(_pid).astype("string")
    m = frames["measures"]
    phq = m[m["participant_id"].isin([_pid(i) for i in range(30, 35)])].assign(instrument="phq9", item_10=None)
    frames["measures"] = pd.concat([m, phq.astype(m.dtypes.to_dict())], ignore_index=True)
    return frames


def _changed(frames: dict[str, pd.DataFrame], ids: list[int], item: str) -> dict[str, pd.DataFrame]:
    m = frames["measures"]
    part = m[m["participant_id"].isin([_pid(i) for i in ids]) & (m["instrument"] == "epds")].copy()
    part[item] = 3 - part[item]
    return {"measures": part.reset_index(drop=True)}


def _put(store, frames: dict[str, pd.DataFrame], name: str) -> int:  # noqa: ANN001
    return ingest(result_of(frames), store, provider="North", file_name=name, sha256=name[:1] * 64).upload_id


def _sql(store, *statements: str) -> None:  # noqa: ANN001
    with store.engine.begin() as conn:
        for s in statements:
            conn.exec_driver_sql(s)


def _ids(first: int, last: int) -> str:
    return ", ".join(f"'{_pid(i)}'" for i in range(first, last + 1))


def _uploads(store, spelled: bool) -> list[int]:  # noqa: ANN001
    """u1: every row; u1b: changes N0001-2; u2: changes N0000-5 and N0010; u3: changes N0000 and N0010 again. With
    ``spelled``, the stored instruments are made as older versions stored them between uploads."""
    frames = _first_upload()
    ids = [_put(store, frames, "u1.xlsx"), _put(store, _changed(frames, [1, 2], "item_2"), "u1b.xlsx")]
    _sql(store, f"UPDATE measures SET instrument = 'my scale' WHERE participant_id = '{_pid(14)}'")
    if spelled:  # as typed by older versions, in the rows and in the audit history of their changes
        _sql(store, f"UPDATE measures SET instrument = 'EPDS' WHERE participant_id IN ({_ids(0, 9)})",
             f"UPDATE measures SET instrument = 'E.P.D.S' WHERE participant_id IN ({_ids(10, 12)})",
             f"UPDATE measures SET instrument = 'Edinburgh Postnatal Depression Scale' WHERE participant_id = '{_pid(13)}'",
             "UPDATE measures SET instrument = 'phq-9' WHERE instrument = 'phq9'",
             """UPDATE audit_history SET old_row = REPLACE(old_row, '"instrument":"epds"', '"instrument":"EPDS"'),
                row_key = REPLACE(row_key, '"instrument":"epds"', '"instrument":"EPDS"')""")
    ids.append(_put(store, _changed(frames, [0, 1, 2, 3, 4, 5, 10], "item_1"), "u2.xlsx"))
    if spelled:  # the later row spelled oddly, the earlier as the code; a third spelling for N0010
        _sql(store, f"UPDATE measures SET instrument = 'ePDS' WHERE participant_id = '{_pid(5)}' AND upload_id = {ids[2]}",
             f"UPDATE measures SET instrument = 'epds' WHERE participant_id = '{_pid(5)}' AND instrument = 'EPDS'",
             f"UPDATE measures SET instrument = 'Epds' WHERE participant_id = '{_pid(10)}' AND upload_id = {ids[2]}")
    ids.append(_put(store, _changed(frames, [0, 10], "item_3"), "u3.xlsx"))  # N0000: the later row changed again
    return ids


def _measures(store) -> pd.DataFrame:  # noqa: ANN001
    return load_tables(store, Scope.admin(), tables=["measures"])["measures"]


def _counts_add_up(store) -> None:  # noqa: ANN001
    counts = list(T.UPLOAD_COUNTS)
    with store.engine.connect() as conn:
        totals = pd.DataFrame(conn.execute(sa.select(T.uploads.c.upload_id, *[T.uploads.c[c] for c in counts]))
                              .all()).set_index("upload_id")
        parts = pd.DataFrame(conn.execute(sa.select(T.upload_programmes)).all()).groupby("upload_id")[counts].sum()
    pd.testing.assert_frame_equal(parts.loc[totals.index].astype("int64"), totals.astype("int64"))


def test_step_8_stores_each_instrument_as_its_code_keeping_the_row_stored_later(db_url: str, tmp_path) -> None:  # noqa: ANN001
    with open_store(tmp_path / "reference.sqlite") as ref:  # the uploads with the code always stored
        ref_ids = _uploads(ref, spelled=False)
        expected = [_measures(ref)]
        for u in reversed(ref_ids[1:]):
            rollback(ref, u)
            expected.append(_measures(ref))

    with open_store(db_url) as store:  # the same uploads by older versions: a database at step 7
        ids = _uploads(store, spelled=True)
        before = list_uploads(store)
        _sql(store, "DELETE FROM schema_version WHERE version = 8")
        assert len(_measures(store)) == len(expected[0]) + 8  # N0000-5 twice, N0010 three times
    with open_store(db_url) as store:
        migrated = _measures(store)
        assert set(migrated["instrument"]) == {"epds", "phq9", "my scale"}  # an unknown spelling stays as stored
        # one row per key, each with the values of the upload that stored it last, as the re-uploads would have
        pd.testing.assert_frame_equal(migrated, expected[0])
        # the upload history is as it was, and each upload's counts per programme still add up to its totals
        pd.testing.assert_frame_equal(list_uploads(store), before)
        _counts_add_up(store)
        # nothing lost: rolling back newest first restores each superseded row as the reference restores it
        for u, want in zip(reversed(ids[1:]), expected[1:], strict=True):
            rollback(store, u)
            pd.testing.assert_frame_equal(_measures(store), want)


def _stale_hashes(store) -> int:  # noqa: ANN001
    """How many stored measures rows have a row_hash other than the hash of their stored values."""
    from evalkit.store._frames import frame_from_rows
    from evalkit.store._row_hash import row_hashes

    t = T.canonical["measures"]
    with store.engine.connect() as conn:
        result = conn.execute(sa.select(t))
        rows = frame_from_rows(result.fetchall(), list(result.keys()), "measures")
    return int((rows[T.ROW_HASH].astype("int64").to_numpy() != row_hashes(rows, "measures")).sum())


def test_step_8_leaves_row_hashes_right_so_a_re_upload_of_the_same_questionnaires_changes_nothing(db_url: str) -> None:
    """The row hash covers the values outside the key; the instrument is in the key, so rewriting it to its code
    leaves each kept row's hash that of its stored values: re-uploading the questionnaires as they are now stored
    reports every row unchanged and writes no audit history."""
    with open_store(db_url) as store:
        _uploads(store, spelled=True)
        _sql(store, "DELETE FROM schema_version WHERE version = 8")
    with open_store(db_url) as store:
        assert _stale_hashes(store) == 0
        with store.engine.connect() as conn:
            audit_before = conn.execute(sa.select(sa.func.count()).select_from(T.audit_history)).scalar_one()
        frames = _first_upload()
        latest = pd.concat([_changed(frames, [1, 2, 3, 4, 5], "item_1")["measures"],
                            _changed(frames, [0, 10], "item_3")["measures"]], ignore_index=True)
        m = frames["measures"]
        rest = m[~m["participant_id"].isin(latest["participant_id"]) | (m["instrument"] != "epds")]
        rest = rest[rest["participant_id"] != _pid(14)]  # stored as 'my scale', not a spelling of a known code
        again = ingest(result_of({"measures": pd.concat([latest, rest], ignore_index=True)}), store,
                       provider="North", file_name="again.xlsx", sha256="a" * 64)
        assert (again.inserted.get("measures", 0), again.updated.get("measures", 0)) == (0, 0)
        assert again.unchanged["measures"] == len(latest) + len(rest)
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(T.audit_history)).scalar_one() == audit_before


def test_step_8_keeps_audit_text_that_is_no_row_as_it_is(db_url: str) -> None:
    """Audit text evalkit did not write (a hand edit) neither stops the database from opening nor is changed."""
    with open_store(db_url) as store:
        _uploads(store, spelled=True)
        _sql(store, "UPDATE audit_history SET old_row = 'not json' WHERE audit_id = (SELECT MIN(audit_id) FROM "
                    "audit_history)",
             "DELETE FROM schema_version WHERE version = 8")
    with open_store(db_url) as store:
        assert set(_measures(store)["instrument"]) == {"epds", "phq9", "my scale"}
        with store.engine.connect() as conn:
            kept = conn.execute(sa.select(T.audit_history.c.old_row).where(T.audit_history.c.old_row == "not json"))
            assert len(kept.all()) == 1


def _stored(store, where: str) -> pd.DataFrame:  # noqa: ANN001
    """Every stored column of the measures rows ``where`` selects, in row order (to see them unchanged)."""
    with store.engine.connect() as conn:
        return pd.read_sql_query(f"SELECT * FROM measures WHERE {where} ORDER BY row_id", conn)


def _at_step_7(db_url: str) -> pd.DataFrame:
    """A database as older versions left it (instruments as typed, schema step 7); returns its 'my scale' rows."""
    with open_store(db_url) as store:
        _uploads(store, spelled=True)
        _sql(store, "DELETE FROM schema_version WHERE version = 8")
        return _stored(store, "instrument = 'my scale'")


def test_step_8_opens_the_database_past_a_broken_custom_instrument_file_and_names_it(
        db_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A custom instrument file that cannot be read does not stop the database from opening: the step maps the
    spellings the other instruments know, leaves the rest exactly as stored, and says which file was left out
    and what is wrong with it."""
    mine = _at_step_7(db_url)
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "broken.json").write_text('{"code": "broken",', encoding="utf-8")
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(folder))
    with pytest.warns(EvalkitWarning) as caught:
        store = open_store(db_url)
    with store:
        said = " ".join(str(w.message) for w in caught)
        assert str(folder / "broken.json") in said and "Expecting" in said  # the file, and what is wrong
        assert set(_measures(store)["instrument"]) == {"epds", "phq9", "my scale"}
        pd.testing.assert_frame_equal(_stored(store, "instrument = 'my scale'"), mine)


def test_step_8_leaves_a_broken_custom_instrument_s_rows_as_stored_and_maps_them_once_the_file_is_fixed(
        db_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """Rows of the instrument a broken file defines are kept exactly as stored; opening the database once the
    file is fixed maps them, as the step would have had the file been readable, and only then (another file
    still broken does not hold them back)."""
    mine = _at_step_7(db_url)
    folder = tmp_path / "instruments"
    folder.mkdir()
    (folder / "other.json").write_text("not JSON", encoding="utf-8")
    custom = folder / "myscale.json"
    custom.write_text(json.dumps({"extends": "epds", "code": "myscale", "name": "My scale", "role": "mood"}))
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(folder))
    with pytest.warns(EvalkitWarning) as caught:
        store = open_store(db_url)
    with store:
        said = " ".join(str(w.message) for w in caught)
        assert str(custom) in said and "role" in said and "'my scale' (1 row)" in said and "other.json" in said
        assert set(_measures(store)["instrument"]) == {"epds", "phq9", "my scale"}
        pd.testing.assert_frame_equal(_stored(store, "instrument = 'my scale'"), mine)
    with open_store(db_url) as store:  # still broken: still as stored
        pd.testing.assert_frame_equal(_stored(store, "instrument = 'my scale'"), mine)
    # opened without the instruments folder (another shell, the file deleted): no file is broken, none knows
    # 'my scale', so its rows keep waiting for the file rather than being given up
    monkeypatch.delenv("EVALKIT_INSTRUMENTS_DIR")
    with open_store(db_url) as store:
        pd.testing.assert_frame_equal(_stored(store, "instrument = 'my scale'"), mine)
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(folder))
    custom.write_text(json.dumps({"extends": "epds", "code": "myscale", "name": "My scale"}))
    with pytest.warns(EvalkitWarning, match="other.json"):
        store = open_store(db_url)
    with store:
        mapped = _stored(store, "instrument = 'myscale'")
        assert set(_measures(store)["instrument"]) == {"epds", "phq9", "myscale"}
        pd.testing.assert_frame_equal(mapped.drop(columns="instrument"), mine.drop(columns="instrument"))
        with store.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(T.store_meta)
                                .where(T.store_meta.c.key != "pseudonym_key_check")).scalar_one() == 0
    with open_store(db_url) as store:  # nothing waits any more: opening it again changes nothing, says nothing
        pd.testing.assert_frame_equal(_stored(store, "instrument = 'myscale'"), mapped)
