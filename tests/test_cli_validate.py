"""``evalkit validate``: exit codes, readable output, no tracebacks."""

from __future__ import annotations

import json

import openpyxl
import pytest

from evalkit.cli import main

GOOD = ("participant_id,programme_id,referral_date,referral_source\n"
        "M1,P1,2025-01-02,midwife\nM2,P1,2025-01-03,self\n")


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["validate", *argv, "--today", "2026-01-01"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_valid_file_exits_0_with_summary(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text(GOOD)
    code, out, _ = run(capsys, str(path))
    assert code == 0
    assert "participants" in out and "rows read" in out
    assert "not checked against the programmes table" in out  # a warning, still exit 0


def test_errors_exit_1_and_report_is_written_safely(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text(GOOD + "M3,P1,2025-01-04,=HYPERLINK(\"x\")\nM4,P1,31/02/2025,HV2\n")
    report = tmp_path / "problems.xlsx"
    code, out, _ = run(capsys, str(path), "--report", str(report))
    assert code == 1
    assert "Row 5, column 'referral_date': '31/02/2025' is not a date" in out
    assert "'HV2' is not an allowed code" in out
    cells = [c.value for row in openpyxl.load_workbook(report).active.iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith("'=HYPERLINK") for v in cells)
    assert not any(isinstance(v, str) and v.startswith("=") for v in cells)
    csv_report = tmp_path / "problems.csv"
    run(capsys, str(path), "--report", str(csv_report))
    assert "'=HYPERLINK" in csv_report.read_text(encoding="utf-8-sig")


def test_json_format(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text(GOOD + "M1,P1,2025-01-04,self\n")
    code, out, _ = run(capsys, str(path), "--format", "json")
    assert code == 1
    data = json.loads(out)
    assert data["summary"]["errors"] == 2
    assert data["summary"]["tables"][0] == {"table": "participants", "rows_read": 3, "rows_valid": 1,
                                            "rows_set_aside": 2, "errors": 2, "warnings": 1}
    assert {p["rule"] for p in data["problems"]} == {"unique", "not_checked"}
    assert all(set(p) == {"file", "sheet", "table", "source_row", "column", "value", "rule", "message", "severity"}
               for p in data["problems"])


def test_missing_required_column_is_one_clear_problem(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text("participant_id,programme_id\nM1,P1\nM2,P1\n")
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "Column 'referral_date' is missing from 'participants.csv'" in out
    assert out.count("referral_date") == 1


def test_long_output_is_capped(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text("participant_id,programme_id,referral_date\n" + "".join(f"M{i},P1,bad\n" for i in range(80)))
    code, out, _ = run(capsys, str(path))
    assert code == 1
    assert "more problem(s); write them all with --report" in out
    assert out.count("is not a date") == 50  # errors first, capped at 50 lines


@pytest.mark.parametrize(
    ("name", "content", "args", "expected"),
    [
        ("empty.csv", b"", [], "empty"),
        ("junk.csv", bytes(range(256)) * 4, [], "binary"),
        ("contacts.csv", b"participant_id,contact_date,kind,status\nM1,2025-01-01,text,attended\n",
         ["--table", "programmes"], "none of the columns"),
        ("data.csv", b"a,b\n1,2\n", [], "cannot tell which table"),
        ("missing.csv", None, [], "does not exist"),
    ],
)
def test_unreadable_input_exits_2_without_traceback(tmp_path, capsys, name, content, args, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    code, out, err = run(capsys, str(path), *args)
    assert code == 2
    assert expected in err.replace("\n", " ")
    assert name in err


def test_bad_arguments_exit_2(tmp_path, capsys):
    path = tmp_path / "participants.csv"
    path.write_text(GOOD)
    code, _, err = run(capsys, str(path), "--report", str(tmp_path / "out.txt"))
    assert code == 2 and "--report must end in .csv or .xlsx" in err.replace("\n", " ")
    code, _, err = run(capsys, str(path), "--mapping", str(tmp_path / "nope.json"))
    assert code == 2 and "does not exist" in err
    with pytest.raises(SystemExit) as info:
        main(["validate", str(path), "--table", "people"])
    assert info.value.code == 2

