"""The ingest, uploads, quarantine, resubmit, rollback and template commands: exit codes and messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import example_frames
from openpyxl import load_workbook

from evalkit.cli import main


def write_csvs(folder: Path, provider: str = "North", *, bad_date: bool = True) -> list[Path]:
    """The example frames as provider CSV files (raw ids, ISO dates); one participant has an impossible date."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table, frame in example_frames(provider).items():
        out = frame.drop(columns=["source_file", "source_sheet", "source_row"])
        for c in out.columns:
            if out[c].dtype.kind == "M":
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        if table == "participants" and bad_date:
            out.loc[3, "referral_date"] = "2025-02-30"
        path = folder / f"{table}.csv"
        out.to_csv(path, index=False)
        paths.append(path)
    return paths


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, " ".join(err.split())  # the CLI shell wraps messages


def table_lines(out: str) -> dict[str, list[str]]:
    """The per-table summary lines of ``evalkit ingest``: accepted, new, updated, unchanged, quarantined."""
    names = ("programmes", "participants", "group_sessions", "contacts", "measures", "total")
    return {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.split()[:1] and ln.split()[0] in names}


@pytest.fixture
def files(tmp_path: Path) -> list[Path]:
    return write_csvs(tmp_path / "north")


def test_ingest_reports_per_table_and_quarantine(files, db_url: str, capsys) -> None:  # noqa: ANN001
    code, out, err = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url, "--user", "amy")
    assert code == 0
    assert "Upload 1 stored for North" in out
    lines = table_lines(out)
    assert lines["participants"] == ["39", "39", "0", "0", "1"]
    assert lines["total"] == ["104", "104", "0", "0", "3"]
    assert "3 row(s) had errors and were QUARANTINED" in out and "evalkit quarantine --upload 1" in out
    assert "100% stored measures" in err  # progress on stderr
    code, out, _ = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url)
    assert code == 0 and table_lines(out)["total"] == ["104", "0", "0", "104", "3"]
    code, out, _ = cli(capsys, "uploads", "--db", db_url, "--format", "json")
    records = json.loads(out)
    assert [r["upload_id"] for r in records] == [2, 1]
    assert records[0]["rows_unchanged"] == 104 and records[1]["user_name"] == "amy"
    code, out, _ = cli(capsys, "uploads", "--db", db_url)
    assert code == 0 and "participants.csv" in out and "stored" in out


def test_quarantine_export_and_resubmit(files, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = str(tmp_path / "e.sqlite")
    assert cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db)[0] == 0
    code, out, _ = cli(capsys, "quarantine", "--db", db)
    assert code == 0 and "'2025-02-30' is not a date" in out
    fix = tmp_path / "fix.xlsx"
    code, out, _ = cli(capsys, "quarantine", "--db", db, "--upload", "1", "-o", str(fix))
    assert code == 0 and "Wrote 3 quarantined row(s)" in out
    wb = load_workbook(fix)
    assert wb.sheetnames == ["participants", "contacts", "measures"]
    ws = wb["participants"]
    header = [c.value for c in ws[1]]
    col = header.index("referral_date") + 1
    assert ws.cell(2, col).value == "2025-02-30"
    ws.cell(2, col).value = "2025-02-28"
    wb.save(fix)
    code, out, err = cli(capsys, "resubmit", str(fix), "--upload", "1", "--provider", "North", "--db", db)
    assert code == 0, err
    assert "3 quarantined row(s) of the earlier upload marked resolved" in out
    assert "All rows were stored" in out
    code, out, _ = cli(capsys, "quarantine", "--db", db)
    assert out.strip() == "No quarantined rows."


def test_identifier_columns_refuse_the_whole_upload(files, db_url: str, capsys) -> None:  # noqa: ANN001
    part = pd.read_csv(files[1], dtype=str)
    part["Email address"] = "someone@example.org"
    part.to_csv(files[1], index=False)
    code, out, err = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url)
    assert code == 1 and "Email address" in err and "Nothing was stored" in err
    code, out, _ = cli(capsys, "uploads", "--db", db_url)
    assert out.strip() == "No uploads yet."
    part = part.drop(columns=["Email address"])
    part.loc[0, "main_language"] = "07700 900123"  # a phone number in a free-text column
    part.loc[1, "main_language"] = "01632 960001"
    part.to_csv(files[1], index=False)
    code, _, err = cli(capsys, "ingest", str(files[1]), "--provider", "North", "--db", db_url)
    assert code == 1 and "main_language" in err and "phone number" in err and "2 of 40 values" in err


def test_exit_codes_for_errors(files, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = str(tmp_path / "e.sqlite")
    code, _, err = cli(capsys, "ingest", str(tmp_path / "missing.csv"), "--provider", "North", "--db", db)
    assert code == 2 and "missing.csv" in err
    garbage = tmp_path / "participants.xlsx"
    garbage.write_bytes(b"\x00\x01 not a workbook")
    code, _, err = cli(capsys, "ingest", str(garbage), "--provider", "North", "--db", db)
    assert code == 2 and "participants.xlsx" in err
    with pytest.raises(SystemExit) as ex:
        main(["ingest", str(files[0])])  # --provider missing
    assert ex.value.code == 2
    capsys.readouterr()
    # every row invalid: nothing stored, exit 1
    bad = tmp_path / "bad" / "participants.csv"
    bad.parent.mkdir()
    bad.write_text("participant_id,programme_id,referral_date\nM1,P-N1,not a date\n")
    code, out, err = cli(capsys, "ingest", str(bad), "--provider", "North", "--db", db)
    assert code == 1 and "no row could be stored" in err
    # another provider's programme: refused, exit 1
    assert cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db)[0] == 0
    code, _, err = cli(capsys, "ingest", str(files[0]), "--provider", "South", "--db", db)
    assert code == 1 and "South" in err and "Nothing was stored" in err
    # a database path in a folder that does not exist: a usage error, as for every command
    code, _, err = cli(capsys, "ingest", str(files[0]), "--provider", "North", "--db", str(tmp_path / "no" / "x.db"))
    assert code == 2 and "does not exist" in err


def test_rollback_and_template_commands(files, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = str(tmp_path / "e.sqlite")
    cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db)
    cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db)
    code, _, err = cli(capsys, "rollback", "1", "--db", db)
    assert code == 1 and "newest first" in err
    code, out, _ = cli(capsys, "rollback", "2", "--db", db)
    assert code == 0 and "upload 2 rolled back" in out
    code, out, _ = cli(capsys, "rollback", "1", "--db", db)
    assert code == 0 and "104 rows removed" in out
    code, out, _ = cli(capsys, "template", "--format", "xlsx", "-o", str(tmp_path / "t.xlsx"))
    assert code == 0 and (tmp_path / "t.xlsx").is_file()
    code, out, _ = cli(capsys, "template", "--format", "csv", "-o", str(tmp_path / "t.zip"))
    assert code == 0 and (tmp_path / "t.zip").is_file()
    code, _, err = cli(capsys, "template", "-o", str(tmp_path / "nofolder" / "t.xlsx"))
    assert code == 2 and "does not exist" in err


def test_reupload_warnings_are_summarised_and_listed_by_report(files, db_url: str, tmp_path: Path,
                                                               capsys) -> None:  # noqa: ANN001
    assert cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url)[0] == 0
    code, out, _ = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url)
    assert code == 0 and table_lines(out)["total"] == ["104", "0", "0", "104", "3"]
    # the re-upload's 'already stored' warnings are said once, as the rows the table counts, not as a count to check
    assert "'evalkit validate' lists them" not in out
    assert "104 row(s) of this upload have a key that was already stored" in out
    assert "104 were left as they were" in out
    assert "--report" in out  # the way that lists every warning, including the already-stored ones
    report = tmp_path / "problems.csv"
    code, out, _ = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url,
                       "--report", str(report))
    assert code == 0 and f"Every warning is listed in {report}" in out
    rows = pd.read_csv(report, encoding="utf-8-sig")
    assert list(rows.columns) == ["file", "sheet", "table", "source_row", "column", "value", "rule", "message",
                                  "severity"]
    stored = rows[rows["rule"] == "already_stored"]
    assert len(stored) == 104 and set(stored["severity"]) == {"warning"}
    others = rows[(rows["severity"] == "warning") & (rows["rule"] != "already_stored")]
    assert f"{len(others)} other warning(s)" in out
    assert (rows["severity"] == "error").sum() >= 3  # the quarantined rows' errors are listed too
    xlsx = tmp_path / "problems.xlsx"
    assert cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url, "--report", str(xlsx))[0] == 0
    assert load_workbook(xlsx).active.max_row == len(rows) + 1


def test_ingest_report_must_be_csv_or_xlsx(files, db_url: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code, _, err = cli(capsys, "ingest", *map(str, files), "--provider", "North", "--db", db_url,
                       "--report", str(tmp_path / "problems.txt"))
    assert code == 2 and "--report must end in .csv or .xlsx" in err
    code, out, _ = cli(capsys, "uploads", "--db", db_url, "--format", "json")
    assert json.loads(out) == []  # refused before anything was stored


def test_ingest_says_a_sheet_it_could_not_match_was_not_read(files, tmp_path: Path, db_url: str,  # noqa: ANN001
                                                              capsys) -> None:
    """A workbook sheet that matches no table is skipped: ingest must not claim every row was stored."""
    from openpyxl import Workbook

    programmes = next(p for p in files if p.stem == "programmes")
    assert cli(capsys, "ingest", str(programmes), "--provider", "North", "--db", db_url)[0] == 0
    people = pd.read_csv(next(p for p in files if p.stem == "participants"), dtype=str, keep_default_na=False)
    people = people.drop(index=3).head(4)  # row 3 has the impossible date: these four are valid
    wb = Workbook()
    ws = wb.active
    ws.title = "participants"
    ws.append(list(people.columns))
    for values in people.to_numpy().tolist():
        ws.append([v or None for v in values])
    other = wb.create_sheet("Sheet2")
    other.append(["Ref", "Date done", "Score at start", "Score at end"])
    for i in range(3):
        other.append([f"R{i}", "2024-02-01", 12 + i, 8])
    book = tmp_path / "book.xlsx"
    wb.save(book)
    code, out, _ = cli(capsys, "ingest", str(book), "--provider", "North", "--db", db_url)
    assert code == 0
    assert table_lines(out)["participants"] == ["4", "4", "0", "0", "0"]
    assert "All rows were stored" not in out
    text = " ".join(out.split())
    assert ("NOT READ: book.xlsx: Sheet 'Sheet2' (3 data rows) could not be matched to a table, so it was not "
            "read and none of its rows were stored.") in text
    assert "not every row of the files was stored" in text
