"""``evalkit validate``, ``evalkit ingest`` and the library's :func:`evalkit.ingest` give one verdict on identifiers.

A column that looks like a direct identifier - by its header (left out by the reader) or by its values (an
email, a phone number in a free-text column) - refuses the upload whole. ``validate`` says so in advance (exit
code 1) instead of "No errors"; the library refuses it too (the dashboard's path), not only the CLI; and a
refusal for values names the rows that hold them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_ingest_cli import cli, write_csvs

from evalkit.access import Scope
from evalkit.ingest import check_upload, ingest
from evalkit.pseudonymise import IdentifierColumnsError
from evalkit.readers import read_files
from evalkit.store import list_uploads, load_tables


@pytest.fixture
def participants(tmp_path: Path) -> Path:
    files = write_csvs(tmp_path / "north", bad_date=False)
    return next(p for p in files if p.stem == "participants")


def test_validate_says_ingest_would_refuse_a_name_column(participants: Path, capsys) -> None:  # noqa: ANN001
    frame = pd.read_csv(participants, dtype=str, keep_default_na=False)
    frame.insert(2, "Mum's name", "Jane Doe")
    frame.to_csv(participants, index=False)
    code, out, _ = cli(capsys, "validate", str(participants))
    assert code == 1
    assert "evalkit ingest would refuse these files" in out and "Mum's name" in out
    code, out, _ = cli(capsys, "validate", str(participants), "--format", "json")
    summary = json.loads(out)["summary"]
    assert code == 1 and summary["errors"] == 0 and "Mum's name" in summary["refused"]


def test_validate_and_ingest_name_the_rows_holding_phone_numbers(participants: Path, tmp_path: Path,
                                                                 capsys) -> None:  # noqa: ANN001
    frame = pd.read_csv(participants, dtype=str, keep_default_na=False)
    frame.loc[[1, 4], "main_language"] = ["07700 900123", "01632 960001"]  # spreadsheet rows 3 and 6
    frame.to_csv(participants, index=False)
    code, out, _ = cli(capsys, "validate", str(participants))
    assert code == 1 and "main_language' looks like phone number (2 of 40 values: rows 3, 6)" in out
    code, _, err = cli(capsys, "ingest", str(participants), "--provider", "North",
                       "--db", str(tmp_path / "x.sqlite"))
    assert code == 1 and "(2 of 40 values: rows 3, 6)" in err


def test_validate_of_clean_files_is_not_refused(participants: Path, capsys) -> None:  # noqa: ANN001
    code, out, _ = cli(capsys, "validate", str(participants))
    assert code == 0 and "would refuse" not in out
    code, out, _ = cli(capsys, "validate", str(participants), "--format", "json")
    assert json.loads(out)["summary"]["refused"] is None


def test_the_library_refuses_a_column_left_out_for_its_header(participants: Path, store) -> None:  # noqa: ANN001
    frame = pd.read_csv(participants, dtype=str, keep_default_na=False)
    frame["Email address"] = ""  # an identifying header, no values
    frame.to_csv(participants, index=False)
    programmes = participants.parent / "programmes.csv"
    result = check_upload(read_files([programmes, participants]), store, "North")
    assert (result.report["rule"] == "identifier_column").any() and result.n_errors == 0
    with pytest.raises(IdentifierColumnsError, match=r"participants.Email address' looks like identifying details"):
        ingest(result, store, provider="North", file_name="p.csv", sha256="0" * 64)
    assert list_uploads(store).empty
    assert load_tables(store, Scope.admin(), tables=["participants"])["participants"].empty
