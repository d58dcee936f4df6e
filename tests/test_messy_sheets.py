"""Messy provider sheets: title rows, merged cells, notes and totals, spacer columns, several tables, missing words."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.readers.messy import MISSING_TOKENS, Grid, extract_table, is_missing, read_grids
from evalkit.readers.wide import header_is_known, read_wide
from evalkit.validation import validate

HEADERS = ["Ref no", "Date referred", "Referred by", "EPDS at start", "EPDS at end", "No. of sessions attended"]


def score(headers: list[str]) -> int:
    return sum(1 for h in headers if h and header_is_known(h))


def workbook(path: Path, rows: list[list[object]], *, merges: list[str] = (), title: str = "Mums") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for r, row in enumerate(rows, start=1):
        for c, v in enumerate(row, start=1):
            if v is not None:
                ws.cell(row=r, column=c, value=v)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


def data_rows() -> list[list[object]]:
    return [
        ["A1", "13/01/2025", "HV", 18, 9, 6],
        ["A2", "20/01/2025", "Midwife", "15 ", "n/a", "3.0"],
        ["A3", "03/02/2025", "health visitor", "not done", "-", 0],
    ]


def test_header_found_under_merged_title_rows(tmp_path):
    rows = [["Little Steps - referrals 2025"], ["Updated by the coordinator"], [], HEADERS, *data_rows()]
    path = workbook(tmp_path / "t.xlsx", rows, merges=["A1:F1"])
    (grid,) = read_grids(path)
    t = extract_table(grid, header_score=score)
    assert t.header_row == 4
    assert t.headers == HEADERS
    assert list(t.source_rows) == [5, 6, 7]
    assert any("Rows 1-2 above the header are titles" in s for s in t.layout)


def test_two_row_header_under_merged_group_cells_and_merged_data(tmp_path):
    rows = [
        ["Programme", "Ref no", "EPDS", None, "WEMWBS", None, "Date referred"],
        [None, None, "start", "end", "first", "last", None],
        ["P-A", "A1", 18, 9, 40, 50, "13/01/2025"],
        [None, "A2", 15, None, 38, None, "14/01/2025"],
        ["P-B", "B1", 20, 11, None, None, "15/01/2025"],
    ]
    path = workbook(tmp_path / "t.xlsx", rows, merges=["C1:D1", "E1:F1", "A1:A2", "B1:B2", "G1:G2", "A3:A4"])
    (grid,) = read_grids(path)
    t = extract_table(grid, header_score=score)
    assert t.headers == ["Programme", "Ref no", "EPDS start", "EPDS end", "WEMWBS first", "WEMWBS last",
                         "Date referred"]
    assert t.header_row == 2
    assert t.cells[0].tolist() == ["P-A", "P-A", "P-B"]  # the merged programme cell fills its rows
    r = read_wide(path)
    m = r.raw["measures"]
    assert sorted(m["instrument"].unique()) == ["epds", "wemwbs"]
    assert set(r.raw["participants"]["programme_id"]) == {"P-A", "P-B"}


def test_notes_totals_other_tables_and_spacers_are_left_out_and_reported(tmp_path):
    rows = [
        ["Ref no", "Date referred", "Referred by", None, "EPDS at start", "EPDS at end", "No. of sessions attended"],
        ["A1", "13/01/2025", "HV", None, 18, 9, 6],
        [],  # a spacer row inside the data
        ["A2", "20/01/2025", "Midwife", None, 15, 12, 3],
        ["Notes: EPDS not repeated for mums who left early"],
        ["Total", None, None, None, None, None, 9],
        [],
        ["Month", "Referrals"],
        ["Jan 2025", 2],
        [],
        ["Ref no", "Date referred", "Referred by", None, "EPDS at start", "EPDS at end", "No. of sessions attended"],
        ["Z9", "01/03/2025", "GP", None, 10, 5, 2],
    ]
    path = workbook(tmp_path / "t.xlsx", rows)
    (grid,) = read_grids(path)
    t = extract_table(grid, header_score=score)
    assert t.cells[0].tolist() == ["A1", "A2"]
    assert list(t.source_rows) == [2, 4]
    assert 4 not in [c for c in t.columns]  # column D (spacer) dropped
    assert t.columns == [1, 2, 3, 5, 6, 7]
    rules = {p["rule"]: p for p in t.problems}
    assert rules["note_row"]["source_row"] == 5
    assert rules["summary_row"]["source_row"] == 6
    others = [p for p in t.problems if p["rule"] == "other_table"]
    assert [p["source_row"] for p in others] == [8, 11]
    assert "Rows 8-9 hold another table" in others[0]["message"]
    assert any("spacer column D" in s for s in t.layout)
    # the same findings reach the validation report, with file, sheet and row as the provider sees them
    report = validate(read_wide(path, programme_id="P-A").raw, today="2026-01-01").report
    found = report[report["rule"].isin(["note_row", "summary_row", "other_table"])]
    assert set(found["file"]) == {"t.xlsx"} and set(found["sheet"]) == {"Mums"}
    assert sorted(found["source_row"].tolist()) == [5, 6, 8, 11]


def test_repeated_header_row_is_skipped(tmp_path):
    rows = [HEADERS, ["A1", "13/01/2025", "HV", 18, 9, 6], HEADERS, ["A2", "14/01/2025", "HV", 17, 8, 5]]
    (grid,) = read_grids(workbook(tmp_path / "t.xlsx", rows))
    t = extract_table(grid, header_score=score)
    assert t.cells[0].tolist() == ["A1", "A2"]
    assert list(t.source_rows) == [2, 4]


@pytest.mark.parametrize("token", MISSING_TOKENS)
def test_documented_missing_words_mean_blank(token):
    assert is_missing(token)
    assert is_missing(f"  {token.upper()} ")


@pytest.mark.parametrize("value", ["0", "12", "health visitor", "no", "none", "2025-01-01"])
def test_real_values_are_not_missing(value):
    assert not is_missing(value)


def test_numbers_as_text_and_missing_words_in_scores(tmp_path):
    rows = [HEADERS, *data_rows()]
    r = read_wide(workbook(tmp_path / "t.xlsx", rows), programme_id="P-A")
    m = r.raw["measures"]
    assert m.loc[m["participant_id"] == "A2", "total"].tolist() == ["15"]  # "15 " read, "n/a" blank
    assert "A3" not in set(m["participant_id"])  # "not done" and "-" are blanks
    p = r.raw["participants"].set_index("participant_id")
    assert p.loc["A2", "sessions_attended"] == "3"  # "3.0" stored as text
    assert p.loc["A3", "sessions_attended"] == "0"


def test_csv_with_title_lines(tmp_path):
    path = tmp_path / "mums.csv"
    path.write_text("Little Steps referrals\n\n" + ",".join(HEADERS) + "\nA1,13/01/2025,HV,18,9,6\n"
                    "A2,14/01/2025,Midwife,12,,2\n", encoding="utf-8")
    r = read_wide(path, programme_id="P-A")
    assert r.raw["participants"]["source_row"].tolist() == [4, 5]
    assert r.raw["participants"]["referral_source"].tolist() == ["health_visitor", "midwife"]


def test_grid_rules_on_an_in_memory_grid():
    grid = Grid("f.csv", None, [["Report"], [], ["Ref no", "EPDS at start", "EPDS at end"], ["A1", "3", "4"]])
    t = extract_table(grid, header_score=score)
    assert t.header_row == 3 and t.headers == ["Ref no", "EPDS at start", "EPDS at end"]


def test_empty_sheet_raises_a_plain_error(tmp_path):
    from evalkit.errors import InputFileError

    wb = openpyxl.Workbook()
    wb.save(tmp_path / "e.xlsx")
    with pytest.raises(InputFileError, match="no sheet with any data"):
        read_grids(tmp_path / "e.xlsx")


def test_frame_without_header_row_is_searched_like_a_sheet():
    from evalkit.mapping_proposal import propose_mapping

    frame = pd.DataFrame([["Referrals 2025", None, None], [None, None, None], ["Ref no", "Date referred",
                          "EPDS at start"], ["A1", "13/01/2025", "12"]])
    p = propose_mapping(frame, programme_id="P-A")
    assert p.layout == "wide" and p.ok
    assert p.tables[0].header_row == 3


_WORDS = ["Ref no", "Date referred", "Referred by", "EPDS at start", "EPDS at end", "EPDS start date", "WEMWBS T2",
          "Baby's DOB", "Postcode", "Notes", "", "Programme", "No. of sessions attended", "Start date", "Age", "EPDS"]
_VALUES = ["A1", "13/01/2025", "01/13/2025", "03/04/2025", "HV", "", "n/a", "12", "12.5", "999 000 0018", "a@b.co",
           "ZZ99 3CZ", "Notes: x", "Total", "?", "40+", "31/02/2025", "P-X"]


@settings(max_examples=15, deadline=None)
@given(st.lists(st.sampled_from(_WORDS), min_size=1, max_size=8).flatmap(
    lambda header: st.tuples(st.just(header), st.lists(st.lists(st.sampled_from(_VALUES), min_size=len(header),
                                                                  max_size=len(header)), max_size=6))),
       st.booleans())
def test_any_grid_gives_a_proposal_or_a_plain_error(grid, title):
    from evalkit.errors import InputFileError
    from evalkit.mapping_proposal import propose_mapping

    header, rows = grid
    cells = ([["Title"] + [None] * (len(header) - 1)] if title else []) + [header, *rows]
    try:
        p = propose_mapping(pd.DataFrame(cells), programme_id="P-A")
    except InputFileError:
        return
    assert p.to_text() and isinstance(p.preview(2), dict)
    if p.read_result is not None:
        validate(p.read_result.raw, today="2026-01-01")
