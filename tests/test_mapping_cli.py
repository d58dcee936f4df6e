"""``evalkit map``: output, saved mapping, exit codes (0 ready, 1 required column missing, 2 unreadable), no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from evalkit.cli import main

HEADERS = ["Ref no", "Mum's name", "Date referred", "Referred by", "EPDS at start", "EPDS at end",
           "No. of sessions attended"]
ROWS = [["A1", "Amy Example", "13/01/2025", "HV", 18, 9, 6], ["A2", "Beth Sample", "20/01/2025", "Midwife", 15, 12, 3]]


@pytest.fixture
def sheet(tmp_path: Path) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Mums"
    ws["A1"] = "Referrals 2025"
    ws.merge_cells("A1:G1")
    ws.append([])
    ws.append(HEADERS)
    for r in ROWS:
        ws.append(r)
    wb.save(tmp_path / "mums.xlsx")
    return tmp_path / "mums.xlsx"


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(args)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_ready_file_exit_0_and_mapping_saved(sheet, tmp_path, capsys):
    target = tmp_path / "mapping.json"
    code, out, _ = run(["map", str(sheet), "--programme", "P-A", "-o", str(target)], capsys)
    assert code == 0
    assert "'EPDS at start'" in out and "-> epds total, start" in out
    assert "'Mum's name'" in out and "never stored" in out
    assert "Header on row 3" in out and f"Mapping saved to {target}" in out
    saved = json.loads(target.read_text(encoding="utf-8"))
    assert saved["kind"] == "wide" and saved["constants"] == {"programme_id": "P-A"}
    assert saved["drop"] == {"Mum's name": "name"}
    # the saved mapping is used by validate (and ingest) with --mapping
    code, out, _ = run(["validate", str(sheet), "--mapping", str(target), "--today", "2026-01-01"], capsys)
    assert code == 0 and "participants" in out and "measures" in out


def test_required_column_missing_exit_1(sheet, tmp_path, capsys):
    target = tmp_path / "partial.json"
    code, out, _ = run(["map", str(sheet), "-o", str(target)], capsys)
    assert code == 1
    assert "NOT READY" in out and "programme_id" in out and "incomplete" in out
    assert target.exists()
    # adding the programme to the saved mapping and giving it back makes it ready
    data = json.loads(target.read_text(encoding="utf-8"))
    data["constants"]["programme_id"] = "P-A"
    target.write_text(json.dumps(data), encoding="utf-8")
    code, out, _ = run(["map", str(sheet), "--mapping", str(target)], capsys)
    assert code == 0 and "P-A (from the mapping)" in out


def test_json_output_and_preview(sheet, capsys):
    code, out, _ = run(["map", str(sheet), "--programme", "P-A", "--format", "json", "--preview", "1"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["ok"] and data["layout"] == "wide" and data["mapping"]["kind"] == "wide"
    assert data["preview"]["participants"][0]["participant_id"] == "(pseudonym 1)"
    assert "Mum's name" in data["identifying_columns"]


def test_text_preview(sheet, capsys):
    code, out, _ = run(["map", str(sheet), "--programme", "P-A", "--preview", "2"], capsys)
    assert code == 0 and "Preview of measures" in out and "Amy" not in out


@pytest.mark.parametrize(("name", "content"), [("broken.xlsx", b"not a zip"), ("empty.csv", b""),
                                                ("old.xls", b"\xd0\xcf\x11\xe0rest")])
def test_unreadable_file_exit_2(tmp_path, capsys, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = run(["map", str(path)], capsys)
    assert code == 2 and out == "" and name in err


def test_missing_file_and_bad_mapping_exit_2(sheet, tmp_path, capsys):
    code, _, err = run(["map", str(tmp_path / "nope.xlsx")], capsys)
    assert code == 2 and "no such file" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "wide", "colums": {}}', encoding="utf-8")
    code, _, err = run(["map", str(sheet), "--mapping", str(bad)], capsys)
    assert code == 2 and "unknown key" in err
    code, _, err = run(["map", str(sheet), "--sheet", "Dads"], capsys)
    assert code == 2 and "no sheet called 'Dads'" in err


def test_ingest_with_the_saved_mapping_stores_no_identifiers(sheet, tmp_path, capsys):
    mapping, db = tmp_path / "mapping.json", tmp_path / "e.sqlite"
    assert run(["map", str(sheet), "--programme", "P-A", "-o", str(mapping)], capsys)[0] == 0
    register = tmp_path / "programmes.csv"
    register.write_text("programme_id,name,provider,format,mode,delivered_by\n"
                        "P-A,Little Steps group,Little Steps,group,in_person,volunteer_peers\n", encoding="utf-8")
    assert run(["ingest", str(register), "--provider", "Little Steps", "--db", str(db)], capsys)[0] == 0
    code, _, err = run(["ingest", str(sheet), "--mapping", str(mapping), "--provider", "Little Steps",
                        "--db", str(db)], capsys)
    assert code == 0, err
    stored = db.read_bytes()
    assert b"Amy Example" not in stored and b"Beth" not in stored
    # an identifying column the mapping does not cover refuses the upload until 'evalkit map' has shown it
    wb = openpyxl.load_workbook(sheet)
    ws = wb["Mums"]
    ws.cell(row=3, column=8, value="Contact")
    ws.cell(row=4, column=8, value="amy@example.invalid")
    wb.save(tmp_path / "next.xlsx")
    code, _, err = run(["ingest", str(tmp_path / "next.xlsx"), "--mapping", str(mapping), "--provider",
                        "Little Steps", "--db", str(db)], capsys)
    assert code == 1 and "Contact" in err and b"example.invalid" not in db.read_bytes()
    assert run(["map", str(tmp_path / "next.xlsx"), "--mapping", str(mapping), "-o", str(mapping)], capsys)[0] == 0
    code, _, err = run(["ingest", str(tmp_path / "next.xlsx"), "--mapping", str(mapping), "--provider",
                        "Little Steps", "--db", str(db)], capsys)
    assert code == 0, err
    assert b"example.invalid" not in db.read_bytes()
