"""What an upload stores is what the provider meant: no made-up people, one key per questionnaire, nothing blanked.

* A blank participant id (or one of spaces, or ``NA``) names nobody: the row is quarantined as validation says,
  not stored under the pseudonym of an empty text; a blank optional id (``peer_supporter_id``) stays missing.
* The instrument is stored as its registry code (``EPDS``, ``epds`` and ``Epds`` are one questionnaire), so a
  re-upload typed differently updates the stored row instead of adding a second one.
* A re-upload of a file that lacks some columns keeps the stored values of those columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_SECRET
from test_ingest_cli import cli, table_lines, write_csvs

from evalkit.access import Scope
from evalkit.pseudonymise import pseudonymise_ids
from evalkit.store import load_tables, open_store


def _stored(db_url: str) -> dict[str, pd.DataFrame]:
    store = open_store(db_url)
    try:
        return load_tables(store, Scope.admin())
    finally:
        store.close()


def _ingest(capsys: pytest.CaptureFixture[str], db_url: str, *paths: Path) -> tuple[int, str, str]:
    return cli(capsys, "ingest", *map(str, paths), "--provider", "North", "--db", db_url)


def test_pseudonymising_keeps_blank_and_missing_marked_ids_missing() -> None:
    ids = pd.Series(["M1", "", "   ", None, "NA", " M1 ", "p_0123456789abcdef"], dtype="string")
    out = pseudonymise_ids(ids, secret=TEST_SECRET.encode(),
                           namespace="North", missing_values=("", "NA"))
    assert out.isna().tolist() == [False, True, True, True, True, False, False]
    assert out.iloc[0] == out.iloc[5] and out.iloc[0].startswith("p_")
    assert out.iloc[6] == "p_0123456789abcdef"  # already a pseudonym: kept
    # without the table's markers, "NA" is an id like any other (it is not blank)
    plain = pseudonymise_ids(ids, secret=TEST_SECRET.encode(),
                             namespace="North")
    assert plain.isna().tolist() == [False, True, True, True, False, False, False]


def test_blank_ids_are_quarantined_not_stored_as_a_made_up_person(tmp_path: Path, db_url: str, capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    folder = files[0].parent
    participants = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    extra = participants.iloc[:3].copy()
    extra["participant_id"] = ["", "   ", "NA"]
    pd.concat([participants, extra]).to_csv(folder / "participants.csv", index=False)
    contacts = pd.read_csv(folder / "contacts.csv", dtype=str, keep_default_na=False)
    contacts.loc[:2, "peer_supporter_id"] = ["", "  ", "NA"]
    contacts.to_csv(folder / "contacts.csv", index=False)
    measures = pd.read_csv(folder / "measures.csv", dtype=str, keep_default_na=False)
    measures.loc[0, "participant_id"] = " "
    measures.to_csv(folder / "measures.csv", index=False)

    code, out, _ = _ingest(capsys, db_url, *files)
    assert code == 0
    lines = table_lines(out)
    assert lines["participants"][-1] == "3" and lines["measures"][-1] == "1"  # quarantined
    stored = _stored(db_url)
    assert len(stored["participants"]) == len(participants)
    assert stored["participants"]["participant_id"].notna().all()
    assert len(stored["measures"]) == len(measures) - 1
    # the three contacts without a peer supporter are stored without one, not as one shared made-up supporter
    peer = stored["contacts"].sort_values("source_row")["peer_supporter_id"]
    assert peer.isna().sum() == 3 and peer.iloc[:3].isna().all()
    code, out, _ = cli(capsys, "quarantine", "--db", db_url)
    assert code == 0 and out.count("is blank, but every participants row needs a participant_id") == 3


def test_instrument_typed_differently_is_the_same_questionnaire(tmp_path: Path, db_url: str, capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    folder = files[0].parent
    assert _ingest(capsys, db_url, *files)[0] == 0
    measures = pd.read_csv(folder / "measures.csv", dtype=str, keep_default_na=False)
    n = len(measures)
    assert set(_stored(db_url)["measures"]["instrument"]) == {"epds"}

    measures["instrument"] = ["EPDS", "Epds ", "e.p.d.s"] * (n // 3) + ["EPDS"] * (n % 3)
    measures.to_csv(folder / "measures.csv", index=False)
    code, out, _ = _ingest(capsys, db_url, folder / "measures.csv")
    assert code == 0
    assert table_lines(out)["measures"] == [str(n), "0", "0", str(n), "0"]  # accepted, new, updated, unchanged
    stored = _stored(db_url)["measures"]
    assert len(stored) == n and set(stored["instrument"]) == {"epds"}

    # a corrected item score typed with another spelling of the code updates the stored row
    measures.loc[0, "item_1"] = str(3 - int(float(measures.loc[0, "item_1"])))
    measures.to_csv(folder / "measures.csv", index=False)
    code, out, _ = _ingest(capsys, db_url, folder / "measures.csv")
    assert table_lines(out)["measures"] == [str(n), "0", "1", str(n - 1), "0"]
    assert len(_stored(db_url)["measures"]) == n


def test_reupload_without_some_columns_keeps_their_stored_values(tmp_path: Path, db_url: str, capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    folder = files[0].parent
    assert _ingest(capsys, db_url, *files)[0] == 0
    before = _stored(db_url)["participants"].sort_values("participant_id").reset_index(drop=True)
    participants = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    n = len(participants)

    # a slim file: the key, the programme and the referral date only; one referral date corrected
    slim = participants[["participant_id", "programme_id", "referral_date"]].copy()
    slim.loc[0, "referral_date"] = "2025-01-02"
    slim.to_csv(tmp_path / "slim_participants.csv", index=False)
    code, out, _ = _ingest(capsys, db_url, tmp_path / "slim_participants.csv")
    assert code == 0
    assert table_lines(out)["participants"] == [str(n), "0", "1", str(n - 1), "0"]
    after = _stored(db_url)["participants"].sort_values("participant_id").reset_index(drop=True)
    kept = [c for c in before.columns
            if c not in ("referral_date", "source_file", "source_row", "source_sheet") and before[c].notna().any()]
    assert {"referral_source", "took_up", "main_language", "deprivation_decile"} <= set(kept)
    pd.testing.assert_frame_equal(after[kept], before[kept])
    changed = after["referral_date"] != before["referral_date"]
    assert int(changed.sum()) == 1

    # the same slim file again is unchanged (the stored row's hash is that of the row as stored)
    code, out, _ = _ingest(capsys, db_url, tmp_path / "slim_participants.csv")
    assert table_lines(out)["participants"] == [str(n), "0", "0", str(n), "0"]

    # a column that is in the file but blank is a blank the provider typed: it is stored blank
    slim["main_language"] = ""
    slim.to_csv(tmp_path / "slim_participants.csv", index=False)
    code, out, _ = _ingest(capsys, db_url, tmp_path / "slim_participants.csv")
    assert table_lines(out)["participants"] == [str(n), "0", str(n), "0", "0"]
    assert _stored(db_url)["participants"]["main_language"].isna().all()

    # rolling the slim upload back restores the rows as they were
    code, out, _ = cli(capsys, "rollback", "--db", db_url, "4")
    assert code == 0
    again = _stored(db_url)["participants"].sort_values("participant_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(again[kept], before[kept])


def test_a_mistyped_provider_is_refused_before_anything_is_stored(tmp_path: Path, db_url: str, capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    folder = files[0].parent
    assert _ingest(capsys, db_url, *files)[0] == 0
    code, before, _ = cli(capsys, "uploads", "--db", db_url, "--format", "json")
    for typed, hint in (("north", "Did you mean 'North'?"), ("Nort", "Did you mean 'North'?"), ("Elsewhere", "")):
        code, out, err = cli(capsys, "ingest", str(folder / "measures.csv"), "--provider", typed, "--db", db_url)
        assert code == 1, typed
        assert f"no programme is stored for provider '{typed}'" in err and "Nothing was stored" in err
        assert hint in err and "Providers with stored programmes: 'North'" in err
    code, after, _ = cli(capsys, "uploads", "--db", db_url, "--format", "json")
    assert after == before  # no upload recorded, nothing quarantined under a phantom provider
    # with its programmes file, a new provider's upload is validated as before (and stored)
    other = write_csvs(tmp_path / "south", provider="South", bad_date=False)
    code, out, _ = cli(capsys, "ingest", *map(str, other), "--provider", "South", "--db", db_url)
    assert code == 0 and "Upload 2 stored for South" in out


def test_quarantine_reasons_put_pseudonyms_in_words(tmp_path: Path, db_url: str, capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    folder = files[0].parent
    participants = pd.read_csv(folder / "participants.csv", dtype=str, keep_default_na=False)
    pd.concat([participants, participants.iloc[[0]]]).to_csv(folder / "participants.csv", index=False)
    measures = pd.read_csv(folder / "measures.csv", dtype=str, keep_default_na=False)
    measures.loc[0, "participant_id"] = "NOBODY"
    measures.to_csv(folder / "measures.csv", index=False)
    assert _ingest(capsys, db_url, *files)[0] == 0
    code, out, _ = cli(capsys, "quarantine", "--db", db_url)
    assert code == 0
    assert "the id on this row appears on more than one row" in out
    assert "the id on this row is not a participant_id" in out
    assert "'p_" not in out  # a pseudonym means nothing to the provider reading the list


def test_an_upload_where_nothing_could_be_stored_does_not_say_stored(tmp_path: Path, db_url: str,
                                                                      capsys) -> None:  # noqa: ANN001
    files = write_csvs(tmp_path / "north", bad_date=False)
    programmes = next(p for p in files if p.stem == "programmes")
    assert _ingest(capsys, db_url, programmes)[0] == 0
    measures = next(p for p in files if p.stem == "measures")
    frame = pd.read_csv(measures, dtype=str, keep_default_na=False)
    frame["participant_id"] = "NOBODY"  # no such participant: every row is quarantined
    frame.to_csv(measures, index=False)
    code, out, err = _ingest(capsys, db_url, measures)
    assert code == 1 and "Upload 2 recorded, but no row of it could be stored, for North" in out
    assert "no row could be stored" in err
