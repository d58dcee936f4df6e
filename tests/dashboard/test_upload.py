"""Upload page: check and store files, the validation report, quarantine and re-submission, history and rollback."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data
from evalkit.access import Scope
from evalkit.store import list_uploads, open_store, quarantine_rows

from .conftest import APP, TIMEOUT, assert_clean, frame_with, texts

PROGRAMMES = (b"programme_id,name,provider,format,mode,delivered_by\n"
              b"P-T1,Test group,Test Charity,group,in_person,volunteer_peers\n")
PARTICIPANTS = (b"participant_id,programme_id,referral_date,took_up\n"
                b"T001,P-T1,2025-01-06,yes\n"
                b"T002,P-T1,2025-13-45,yes\n"
                b"T003,P-T1,2025-01-08,no\n")


@pytest.fixture
def empty_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, str]:
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    monkeypatch.setenv("EVALKIT_DB_URL", url)
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page("views/upload.py")
    at.run()
    return at, url


def test_upload_check_store_quarantine_resubmit_rollback(empty_app) -> None:  # noqa: ANN001
    at, url = empty_app
    assert_clean(at)
    assert at.title[0].value == "Upload data"
    assert len(at.get("download_button")) >= 2  # the templates
    at.file_uploader(key="ek_up_files").set_value([("programmes.csv", PROGRAMMES, "text/csv"),
                                                   ("participants.csv", PARTICIPANTS, "text/csv")])
    at.run()
    at.button(key="ek_up_check").click()
    at.run()
    assert_clean(at)
    assert "What we found" in texts(at)
    report = frame_with(at, "severity", "rule", "message")
    bad = report[report["severity"] == "error"]
    assert list(bad["source_row"]) == [3] and set(bad["column"]) == {"referral_date"}
    # the report filter narrows what is shown
    at.multiselect(key="ek_up_report_severity").set_value(["warning"])
    at.run()
    assert (frame_with(at, "severity", "rule", "message")["severity"] == "warning").all()
    at.button(key="ek_up_store").click()
    at.run()
    assert_clean(at)
    assert "Stored." in texts(at)

    store = open_store(url)
    try:
        hist = list_uploads(store)
        assert list(hist["status"]) == ["stored"] or len(hist) == 1
        upload_id = int(hist["upload_id"].iloc[0])
        q = quarantine_rows(store)
        assert len(q["participants"]) == 1
        # the page lists the same quarantined row
        at.run()
        assert "T002" not in set(frame_with(at, "reasons", "quarantine_id")["participant_id"])  # pseudonymised
        assert len(frame_with(at, "reasons", "quarantine_id")) == 1

        # re-submit the corrected row through the dashboard's loading layer
        ctx = data.Context(url=url, scope=Scope.admin())
        fixed = q["participants"].copy()
        fixed.loc[:, "referral_date"] = "2025-01-07"
        summary, rep = data.resubmit_rows(ctx, upload_id, {"participants": fixed}, user="test")
        assert int(summary.loc[summary["table"] == "total", "accepted"].iloc[0]) == 1
        assert not quarantine_rows(store)

        # roll the newest upload back from the page
        at.run()
        newest = int(list_uploads(store)["upload_id"].max())
        at.selectbox(key="ek_h_rollback_id").set_value(newest)
        at.checkbox(key="ek_h_rollback_confirm").check()
        at.run()
        at.button(key="ek_h_rollback").click()
        at.run()
        assert_clean(at)
        assert "rolled back" in texts(at)
        assert "rolled_back" in set(list_uploads(store)["status"])
    finally:
        store.close()


def test_a_file_of_two_providers_is_stored_whole_or_not_at_all(tmp_path: Path) -> None:
    """An admin's upload split by provider: when one provider's part fails while being written (here the
    database refuses South's programme row), North's part is not left stored - the store, the upload register
    and the audit history are as before; once the failure is gone the same file stores both parts."""
    import sqlalchemy as sa

    from evalkit.errors import StoreError
    from evalkit.store import _tables as T

    url = "sqlite:///" + str(tmp_path / "two.sqlite")
    progs = (b"programme_id,name,provider,format,mode,delivered_by\n"
             b"P-N1,North group,North Charity,group,in_person,volunteer_peers\n"
             b"P-S1,South group,South Charity,group,in_person,volunteer_peers\n")
    parts = (b"participant_id,programme_id,referral_date,took_up\n"
             b"N001,P-N1,2025-01-06,yes\nS001,P-S1,2025-01-07,yes\n")
    files = [("programmes.csv", progs), ("participants.csv", parts)]
    ctx = data.Context(url=url, scope=Scope.admin())
    checked = data.check_upload(ctx, files, provider=None)
    assert sorted(checked.parts) == ["North Charity", "South Charity"]
    store = open_store(url)
    try:
        with store.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TRIGGER refuse_south BEFORE INSERT ON programmes "
                                 "WHEN NEW.provider = 'South Charity' BEGIN SELECT RAISE(ABORT, 'disk full'); END")

        def snapshot() -> dict[str, list]:
            with store.engine.connect() as conn:
                return {t.name: sorted(map(str, conn.execute(sa.select(t)).fetchall()))
                        for t in T.metadata.sorted_tables}

        before = snapshot()
        with pytest.raises(StoreError, match="disk full.*nothing was changed"):
            data.store_upload(ctx, checked, user="admin")
        assert snapshot() == before
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_south")
        stored = data.store_upload(ctx, data.check_upload(ctx, files, provider=None), user="admin")
        assert sorted(set(stored["provider"])) == ["North Charity", "South Charity"]
        assert sorted(list_uploads(store)["provider"]) == ["North Charity", "South Charity"]
    finally:
        store.close()
