"""Upload semantics on SQLite and PostgreSQL: upsert, idempotence, audit, quarantine, rollback, atomicity."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import StoreError
from evalkit.ingest import ProviderConflict, UploadSummary, ingest, resubmit, rollback
from evalkit.schemas import TABLE_NAMES
from evalkit.store import _tables as T
from evalkit.store import list_uploads, load_tables, open_store, quarantine_rows

SHA = "ab" * 32


def put(store, frames, provider="North", name="upload.xlsx", quarantine=None, **kw):  # noqa: ANN001, ANN201
    return ingest(result_of(frames, quarantine), store, provider=provider, file_name=name, sha256=SHA, **kw)


def dump(store, tables=(*TABLE_NAMES, "quarantine", "audit_history", "uploads")):  # noqa: ANN001, ANN201
    """Full contents of tables (all columns, internal ones included), in a stable order."""
    out = {}
    with store.engine.connect() as conn:
        for name in tables:
            t = T.metadata.tables[name]
            res = conn.execute(sa.select(t).order_by(*t.primary_key.columns))
            out[name] = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    return out


def assert_same(a, b) -> None:  # noqa: ANN001
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def changed_frames():  # noqa: ANN201
    frames = example_frames("North")
    frames["participants"].loc[[0, 5], "deprivation_decile"] = [10, 1]
    frames["participants"].loc[3, "ending"] = "planned_ending"
    frames["measures"].loc[2, "item_1"] = 0.1 + 0.2  # needs all 17 digits to round-trip
    frames["contacts"].loc[0, "duration_minutes"] = np.nan
    return frames


def test_summary_counts_and_upload_record(store) -> None:  # noqa: ANN001
    s = put(store, example_frames("North"), user="alice")
    assert isinstance(s, UploadSummary)
    assert dict(s.inserted) == {"programmes": 2, "participants": 40, "group_sessions": 5, "contacts": 20,
                                "measures": 40}
    assert s.total_accepted == s.total_inserted == 107 and s.total_updated == s.total_quarantined == 0
    frame = s.to_frame()
    assert list(frame.columns) == ["table", "accepted", "inserted", "updated", "unchanged", "quarantined"]
    assert frame.iloc[-1].tolist() == ["total", 107, 107, 0, 0, 0]
    up = list_uploads(store).iloc[0]
    assert (up["upload_id"], up["provider"], up["file_name"], up["sha256"], up["user_name"], up["status"]) == (
        s.upload_id, "North", "upload.xlsx", SHA, "alice", "stored")
    assert up["rows_accepted"] == 107 and up["rows_quarantined"] == 0
    assert str(up["uploaded_at"].tz) == "UTC"
    assert abs(pd.Timestamp.now(tz="UTC") - up["uploaded_at"]) < pd.Timedelta(minutes=5)


def test_reupload_is_a_noop(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    before = dump(store, TABLE_NAMES)
    again = put(store, example_frames("North"), name="again.xlsx")
    assert again.total_unchanged == 107 and again.total_inserted == again.total_updated == 0
    assert_same(before, dump(store, TABLE_NAMES))  # not even upload_id or provenance changed
    assert list_uploads(store).iloc[0]["rows_unchanged"] == 107


def test_overlapping_upload_inserts_only_new_rows(store) -> None:  # noqa: ANN001
    full = example_frames("North")
    half = {t: f.iloc[: max(1, len(f) // 2)] for t, f in full.items()}
    half["contacts"] = half["contacts"][half["contacts"]["participant_id"].isin(half["participants"]["participant_id"])]
    half["contacts"] = half["contacts"][half["contacts"]["group_session_id"].isin(half["group_sessions"]["group_session_id"])]
    half["measures"] = half["measures"][half["measures"]["participant_id"].isin(half["participants"]["participant_id"])]
    first = put(store, half)
    second = put(store, full)
    assert second.total_unchanged == first.total_accepted
    assert second.total_inserted == 107 - first.total_accepted
    assert sum(len(f) for f in load_tables(store, Scope.admin()).values()) == 107


def test_changed_rows_update_and_are_audited(store) -> None:  # noqa: ANN001
    first = put(store, example_frames("North"))
    old = load_tables(store, Scope.admin())
    started = datetime.now(UTC)
    second = put(store, changed_frames(), name="v2.xlsx")
    finished = datetime.now(UTC)
    assert dict(second.updated) == {"programmes": 0, "participants": 3, "group_sessions": 0, "contacts": 1,
                                    "measures": 1}
    assert second.total_unchanged == 107 - 5
    new = load_tables(store, Scope.admin())
    assert (new["measures"]["item_1"] == 0.1 + 0.2).sum() == 1
    assert new["participants"]["ending"].eq("planned_ending").sum() == 1
    audit = dump(store, ["audit_history"])["audit_history"]
    assert len(audit) == 5 and set(audit["new_upload_id"]) == {second.upload_id}
    # one time for each table's changes, read back as the instant it was (SQLite keeps UTC without its offset)
    changed_at = [t if t.tzinfo is not None else t.replace(tzinfo=UTC) for t in audit["changed_at"]]
    assert audit.groupby("table_name")["changed_at"].nunique().eq(1).all()
    assert all(started <= t <= finished for t in changed_at)
    assert sorted(audit["table_name"]) == ["contacts", "measures", "participants", "participants", "participants"]
    rows = [json.loads(r) for r in audit["old_row"]]
    assert all(r["upload_id"] == first.upload_id for r in rows)
    keys = [json.loads(k) for k in audit["row_key"]]
    contact_key = next(k for k, t in zip(keys, audit["table_name"], strict=True) if t == "contacts")
    assert set(contact_key) == {"participant_id", "contact_date", "kind"}
    contact_old = next(r for r, t in zip(rows, audit["table_name"], strict=True) if t == "contacts")
    assert contact_old["duration_minutes"] == 120.0
    # the changed rows now carry the new upload id, the others the first one
    with store.engine.connect() as conn:
        counts = dict(conn.execute(sa.select(T.canonical["participants"].c.upload_id, sa.func.count())
                                   .group_by(T.canonical["participants"].c.upload_id)).all())
    assert counts == {first.upload_id: 37, second.upload_id: 3}
    assert len(old["participants"]) == len(new["participants"])


def test_rollback_restores_previous_state_exactly(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    put(store, example_frames("South", seed=3), provider="South")
    before = dump(store, (*TABLE_NAMES, "quarantine"))
    frames = changed_frames()
    extra = example_frames("North", n=25)  # N0040.. are new ids -> inserts
    frames["participants"] = pd.concat([frames["participants"], extra["participants"].iloc[[40, 41, 45]]],
                                       ignore_index=True)
    bad = pd.DataFrame({"participant_id": ["N9999"], "programme_id": ["P-N1"], "referral_date": ["31/02/2025"],
                        "source_file": ["v2.xlsx"], "source_sheet": ["participants"], "source_row": [99],
                        "reasons": ["referral_date: not a date"]})
    s = put(store, frames, name="v2.xlsx", quarantine={"participants": bad})
    assert s.total_inserted == 3 and s.total_updated == 5 and s.total_quarantined == 1
    after_upload = dump(store, (*TABLE_NAMES, "quarantine"))
    with pytest.raises(AssertionError):
        assert_same(before, after_upload)
    r = rollback(store, s.upload_id)
    assert dict(r.removed) == {"participants": 3} and sum(r.restored.values()) == 5 and r.quarantine_removed == 1
    assert_same(before, dump(store, (*TABLE_NAMES, "quarantine")))
    assert list_uploads(store).set_index("upload_id").loc[s.upload_id, "status"] == "rolled_back"
    with pytest.raises(StoreError, match="status is 'rolled_back'"):
        rollback(store, s.upload_id)


def test_rollback_newest_first(store) -> None:  # noqa: ANN001
    first = put(store, example_frames("North"))
    second = put(store, changed_frames())
    other = put(store, example_frames("South", seed=2), provider="South")
    with pytest.raises(StoreError, match=f"roll back newest first \\(upload {second.upload_id} first\\)"):
        rollback(store, first.upload_id)
    with pytest.raises(StoreError, match="no upload 999"):
        rollback(store, 999)
    with pytest.raises(Exception, match="another provider"):
        rollback(store, other.upload_id, scope=Scope.for_provider("North"))
    rollback(store, second.upload_id)
    rollback(store, first.upload_id)  # other providers' later uploads do not block
    loaded = load_tables(store, Scope.admin())
    assert set(loaded["programmes"]["provider"]) == {"South"}
    assert all(len(f) == 0 for f in load_tables(store, Scope.for_provider("North")).values())


def test_failure_mid_transaction_changes_nothing(store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    import evalkit.ingest as ing

    put(store, example_frames("North"))
    before = dump(store)
    real = ing._upsert

    def failing(run, table, frame):  # noqa: ANN001, ANN202
        real(run, table, frame)  # programmes .. contacts are written (and audited) first
        if table == "measures":
            raise RuntimeError("disk full (simulated)")

    monkeypatch.setattr(ing, "_upsert", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        put(store, changed_frames(), name="v2.xlsx")
    assert_same(before, dump(store))


def test_provider_cannot_touch_another_providers_rows(store) -> None:  # noqa: ANN001
    put(store, example_frames("North"))
    before = dump(store)
    # South sends a programme row that belongs to North
    south = example_frames("South")
    south["programmes"] = pd.concat([south["programmes"], example_frames("North")["programmes"].iloc[:1]])
    with pytest.raises(ProviderConflict, match="P-N1"):
        put(store, south, provider="South")
    # South sends participants of North's programme (programme row omitted)
    north = example_frames("North")
    with pytest.raises(ProviderConflict, match="belong to another provider"):
        put(store, {"participants": north["participants"]}, provider="South")
    # a programme row naming another provider than the uploader
    with pytest.raises(ProviderConflict, match="naming another provider"):
        put(store, {"programmes": example_frames("South")["programmes"]}, provider="West")
    # a group session id already used by North
    gs = example_frames("South")
    gs["group_sessions"]["group_session_id"] = north["group_sessions"]["group_session_id"].to_numpy()
    with pytest.raises(ProviderConflict, match="group_sessions rows that belong to another provider"):
        put(store, gs, provider="South")
    assert_same(before, dump(store))


def test_store_level_problems_are_quarantined_not_dropped(store) -> None:  # noqa: ANN001
    frames = example_frames("North")
    frames["contacts"].loc[0, "participant_id"] = "NOBODY"
    frames["measures"] = pd.concat([frames["measures"], frames["measures"].iloc[[4]]], ignore_index=True)
    frames["measures"].loc[len(frames["measures"]) - 1, "item_2"] = 3.0
    frames["participants"].loc[1, "programme_id"] = "P-UNKNOWN"
    s = put(store, frames)
    # participant 1 is quarantined, so are her measures and contacts (they refer to her)
    assert s.quarantined["participants"] == 1
    assert s.quarantined["measures"] == 2 + 1
    q = quarantine_rows(store)
    reasons = " | ".join(q["measures"]["reasons"])
    assert "duplicate_key" in reasons and "foreign_key: participant_id" in reasons
    assert "foreign_key: programme_id" in q["participants"]["reasons"].iloc[0]
    assert q["contacts"]["participant_id"].str.fullmatch(r"p_[0-9a-f]{16}").all()  # pseudonymised
    total = sum(len(f) for f in frames.values())
    assert s.total_accepted + s.total_quarantined == total


def test_validation_quarantine_is_stored_and_resubmission_resolves_it(store) -> None:  # noqa: ANN001
    frames = example_frames("North")
    bad = pd.DataFrame({"participant_id": ["N0100", "N0101"], "programme_id": ["P-N1", "P-N1"],
                        "referral_date": ["2025-13-01", "yesterday"], "source_file": "north.xlsx",
                        "source_sheet": "participants", "source_row": ["50", "51"],
                        "reasons": ["referral_date: not a date", "referral_date: not a date"]},
                       dtype="string")
    first = put(store, frames, quarantine={"participants": bad})
    assert first.total_quarantined == 2 and first.total_accepted == 107
    open_rows = quarantine_rows(store, upload_id=first.upload_id)["participants"]
    assert open_rows["source_row"].tolist() == [50, 51] and set(open_rows["quarantine_status"]) == {"open"}
    assert open_rows["referral_date"].tolist() == ["2025-13-01", "yesterday"]
    # the provider corrects one row; the other is still wrong and is quarantined again
    fixed = example_frames("North", n=51)["participants"]
    fixed = fixed[fixed["participant_id"].isin(["N0100"])].assign(programme_id="P-N1")
    fixed["participant_id"] = open_rows["participant_id"].iloc[:1].to_numpy()  # exported pseudonym
    still_bad = open_rows.iloc[1:][["participant_id", "programme_id", "referral_date", "source_file",
                                    "source_sheet", "source_row", "reasons"]].astype("string")
    again = resubmit(result_of({"participants": fixed}, {"participants": still_bad}), store,
                     upload_id=first.upload_id, provider="North", file_name="fixed.xlsx", sha256=SHA)
    assert again.resolved == 2 and again.inserted["participants"] == 1 and again.total_quarantined == 1
    assert len(quarantine_rows(store, upload_id=first.upload_id)) == 0
    resolved = quarantine_rows(store, status="resolved")["participants"]
    assert set(resolved["resolved_upload_id"]) == {again.upload_id}
    now_open = quarantine_rows(store)["participants"]
    assert now_open["upload_id"].tolist() == [again.upload_id]
    # the pseudonym from the export was kept, not hashed twice
    stored = load_tables(store, Scope.admin())["participants"]
    assert fixed["participant_id"].iloc[0] in set(stored["participant_id"])
    rollback(store, again.upload_id)
    assert len(quarantine_rows(store, upload_id=first.upload_id)["participants"]) == 2


def test_two_concurrent_ingests_both_land(db_url: str) -> None:
    stores = [open_store(db_url), open_store(db_url)]
    big = [example_frames("North", n=150), example_frames("South", n=150, seed=5)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            barrier.wait()
            put(stores[i], big[i], provider=["North", "South"][i], name=f"{i}.xlsx")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    loaded = load_tables(stores[0], Scope.admin())
    assert len(loaded["participants"]) == 2 * 300 and len(loaded["measures"]) == 2 * 300
    assert len(list_uploads(stores[0])) == 2
    for s in stores:
        s.close()


def test_empty_upload_and_blank_provider_are_refused(store) -> None:  # noqa: ANN001
    with pytest.raises(ValueError, match="no rows"):
        put(store, {})
    with pytest.raises(ValueError, match="provider"):
        put(store, example_frames("North"), provider="  ")
    assert len(list_uploads(store)) == 0


def test_columns_the_store_lacks_are_refused(store) -> None:  # noqa: ANN001
    frames = example_frames("North")
    frames["measures"]["item_21"] = 1.0
    with pytest.raises(StoreError, match="item_21"):
        put(store, frames)
    assert len(list_uploads(store)) == 0


def test_progress_is_reported(store) -> None:  # noqa: ANN001
    seen: list[tuple[float, str]] = []
    put(store, example_frames("North"), progress=lambda f, m: seen.append((f, m)))
    assert [m for _, m in seen] == [f"stored {t}" for t in TABLE_NAMES]
    assert seen[-1][0] == 1.0 and all(a <= b for (a, _), (b, _) in zip(seen, seen[1:], strict=False))
