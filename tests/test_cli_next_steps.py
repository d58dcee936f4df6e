"""A new provider's first hour: after each step the CLI names the next command, with the provider's own paths,
and no message asks for something the command cannot take."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.cli import main

GOOD = ("participant_id,programme_id,referral_date,referral_source\n"
        "M1,P1,2025-01-02,midwife\nM2,P1,2025-01-03,self\n")
PROGRAMMES = ("programme_id,name,provider,format,mode,delivered_by\n"
              "P1,Mums Together,Sunrise Charity,group,in_person,volunteer_peers\n")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


def test_template_says_what_to_do_with_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "tpl"
    code, out = run(capsys, "template", "--format", "csv", "-o", str(target))
    assert code == 0
    assert "README.txt" in out
    assert f"evalkit validate {target}/*.csv" in out
    book = tmp_path / "tpl.xlsx"
    code, out = run(capsys, "template", "-o", str(book))
    assert code == 0
    assert "'instructions' sheet" in out and f"evalkit validate {book}" in out


def test_validate_without_problems_names_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "programmes.csv").write_text(PROGRAMMES)
    (tmp_path / "participants.csv").write_text(GOOD)
    files = [str(tmp_path / "programmes.csv"), str(tmp_path / "participants.csv")]
    code, out = run(capsys, "validate", *files, "--today", "2026-01-01")
    assert code == 0 and "No problems found." in out
    assert "Next: store them with 'evalkit ingest " + " ".join(files) + " --provider NAME'" in out


def test_validate_with_warnings_only_names_ingest_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "participants.csv"
    path.write_text(GOOD)
    code, out = run(capsys, "validate", str(path), "--today", "2026-01-01")
    assert code == 0 and "No errors." in out
    assert f"Next: store them with 'evalkit ingest {path} --provider NAME'" in out


def test_validate_with_errors_does_not_suggest_ingest(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "participants.csv"
    path.write_text(GOOD + "M3,P1,31/02/2025,self\n")
    code, out = run(capsys, "validate", str(path), "--today", "2026-01-01")
    assert code == 1 and "Next: store them" not in out


def test_unchecked_links_warning_says_how_to_check_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """validate has no --db: the warning must not ask for 'stored data', but say to check the files together."""
    path = tmp_path / "participants.csv"
    path.write_text(GOOD)
    code, out = run(capsys, "validate", str(path), "--today", "2026-01-01")
    assert code == 0
    assert "no stored data was given" not in out
    assert "check this file together with your programmes file" in out
    assert "evalkit ingest checks them against the programmes already stored" in out


def test_map_names_the_validate_command_with_the_saved_mapping(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    sheet = tmp_path / "own.csv"
    sheet.write_text("Client ref,Date referred,Referred by,EPDS at start,EPDS at end,Sessions attended\n"
                     "C1,13/01/2025,Health Visitor,18,9,6\nC2,20/01/2025,Self,15,12,3\n")
    target = tmp_path / "own_map.json"
    code, out = run(capsys, "map", str(sheet), "--programme", "P-A", "-o", str(target))
    assert code == 0
    assert f"Next: evalkit validate {sheet} --mapping {target}" in out
    assert "save it (-o mapping.json)" not in out  # it was saved already


def test_validating_the_blank_template_says_to_fill_it_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    book = tmp_path / "tpl.xlsx"
    run(capsys, "template", "-o", str(book))
    code, out = run(capsys, "validate", str(book), "--today", "2026-01-01")
    assert code == 0
    assert "The files hold no rows yet: fill in one row per record under the headers" in out
    assert "Next: store them" not in out
