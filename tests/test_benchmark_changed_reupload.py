"""The ingest stage's changed re-upload: contacts sent again with every recorded duration one minute longer."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_benchmark_measure import _NoSampler

from benchmarks import common, stage_ingest


def test_changed_contacts_adds_a_minute_to_recorded_durations_only(tmp_path: Path) -> None:
    source = tmp_path / "contacts.csv"
    source.write_text("programme_id,participant_id,contact_date,kind,status,duration_minutes,group_session_id\n"
                      "P1,M1,2024-01-02,group_session,attended,120,G1\n"
                      "P1,M2,2024-01-03,one_to_one_phone,did_not_attend,,\n"
                      "P1,M3,2024-01-04,one_to_one_phone,attended,9,\n")
    out = tmp_path / "changed.csv"
    assert stage_ingest.changed_contacts(source, out) == 2
    assert out.read_text() == ("programme_id,participant_id,contact_date,kind,status,duration_minutes,group_session_id\n"
                               "P1,M1,2024-01-02,group_session,attended,121,G1\n"
                               "P1,M2,2024-01-03,one_to_one_phone,did_not_attend,,\n"
                               "P1,M3,2024-01-04,one_to_one_phone,attended,10,\n")


@pytest.mark.parametrize("changed, expect", [("auto", True), ("0", False)])
def test_the_stage_updates_every_changed_contact_from_its_own_data_folder(tmp_path: Path, monkeypatch,  # noqa: ANN001
                                                                          changed: str, expect: bool) -> None:
    monkeypatch.setattr(common, "RECORDS", [])
    monkeypatch.setattr(common, "_Sampler", _NoSampler)  # psutil is a benchmark extra, not a test dependency
    stage_ingest.run(200, root=tmp_path, baseline="0", commands="0", reupload="0", changed=changed)
    steps = {r["step"]: r for r in common.RECORDS}
    contacts = common.csv_paths(200, tmp_path)["contacts"]
    assert steps["ingest"]["accepted"] == sum(common.data_info(200, tmp_path)["rows"].values())
    if not expect:
        assert not any(step.startswith("changed") for step in steps)
        return
    recorded = stage_ingest.changed_contacts(contacts, tmp_path / "again.csv")
    assert recorded > 0
    ingest = steps["changed re-upload: ingest"]
    assert ingest["updated"] == recorded and ingest["quarantined"] == 0
    assert ingest["unchanged"] == common.data_info(200, tmp_path)["rows"]["contacts"] - recorded
