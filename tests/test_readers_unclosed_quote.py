"""A stray quote mark that swallows the rest of a CSV file into one cell is reported as such, row set aside."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.readers import NOTES_ATTR, read_file
from evalkit.validation import validate
from evalkit.validation.problems import quoted

_HEADER = "participant_id,programme_id,referral_date,took_up"


def _problems(frame: pd.DataFrame, rule: str) -> list[dict]:
    return [p for p in frame.attrs[NOTES_ATTR]["problems"] if p["rule"] == rule]


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"], ids=["LF", "CRLF", "CR"])
def test_short_file_with_a_quote_opened_and_never_closed(tmp_path: Path, end: str) -> None:
    path = tmp_path / "participants.csv"
    text = (f"{_HEADER}\nR2,P-GROUP,2024-01-01,yes\nR3,P-GROUP,2024-01-02,yes\n"
            'R4,"P-GROUP,2024-02-01,yes\nR5,P-GROUP,2024-02-02,yes\nR6,P-GROUP,2024-02-03,no\n')
    path.write_bytes(text.replace("\n", end).encode())
    frame = read_file(path)["participants"]
    (found,) = _problems(frame, "unclosed_quote")
    assert found["severity"] == "error" and found["source_row"] == 4 and found["column"] == "programme_id"
    assert found["message"].startswith(
        "Row 4, column 'programme_id': a quote mark (\") opens here and is never closed, so the 2 lines 5–6, "
        "to the end of the file, were read into this one cell")
    assert "Check the quote marks on row 4" in found["message"]
    result = validate({"participants": frame}, today=pd.Timestamp("2025-06-01").date())
    assert len(result.tables["participants"]) == 2  # rows 2 and 3; row 4 set aside with the reason
    assert (result.report["rule"] == "unclosed_quote").sum() == 1


def test_audit_file_row_four_swallows_the_other_117_rows(tmp_path: Path) -> None:
    people = pd.read_csv(Path(__file__).parents[1] / "examples" / "data" / "participants.csv", dtype=str,
                         keep_default_na=False).head(120)
    lines = people.to_csv(index=False).split("\n")
    cells = lines[3].split(",")
    cells[list(people.columns).index("decline_reason")] = '"not_ready'
    lines[3] = ",".join(cells)
    path = tmp_path / "participants.csv"
    path.write_text("\n".join(lines))
    frame = read_file(path)["participants"]
    (found,) = _problems(frame, "unclosed_quote")
    assert found["message"].startswith(
        "Row 4, column 'decline_reason': a quote mark (\") opens here and is never closed, so the 117 lines "
        "5–121, to the end of the file, were read into this one cell ('not_ready,")
    assert len(found["value"]) == 61 and found["value"].endswith("…")
    assert len(found["message"]) < 600
    result = validate({"participants": frame}, today=pd.Timestamp("2025-06-01").date())
    assert result.report["message"].str.len().max() < 1000  # no message quotes kilobytes of the file


def test_a_quote_closed_lines_later_names_the_line_it_closes_on(tmp_path: Path) -> None:
    path = tmp_path / "participants.csv"
    path.write_text(f'{_HEADER}\nR2,P-GROUP,2024-01-01,yes\nR3,"P-GROUP,2024-01-02,yes\nR4,P-GROUP,2024-02-01,yes\n'
                    'R5,P-GROUP",2024-02-02,yes\nR6,P-GROUP,2024-02-03,no\n')
    (found,) = _problems(read_file(path)["participants"], "unclosed_quote")
    assert found["source_row"] == 3
    assert "is not closed until line 5, so the 2 lines 4–5 were read into this one cell" in found["message"]


def test_multi_line_notes_are_not_mistaken_for_swallowed_rows(tmp_path: Path) -> None:
    people = pd.read_csv(Path(__file__).parents[1] / "examples" / "data" / "participants.csv", dtype=str,
                         keep_default_na=False).head(20)
    people.loc[3, "decline_reason"] = "Said she would think about it,\nthen called back, twice, to say no.\nOK"
    path = tmp_path / "participants.csv"
    people.to_csv(path, index=False)
    assert _problems(read_file(path)["participants"], "unclosed_quote") == []


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_rows=st.integers(3, 30), at=st.integers(0, 29), column=st.integers(1, 3))
def test_every_row_after_a_stray_quote_is_accounted_for(tmp_path: Path, n_rows: int, at: int, column: int) -> None:
    """Rows read plus lines said to be swallowed are all the data lines of the file."""
    at = at % n_rows
    rows = [[f"R{i}", "P-GROUP", f"2024-01-{i % 28 + 1:02d}", "yes"] for i in range(n_rows)]
    rows[at][column] = '"' + rows[at][column]
    path = tmp_path / "participants.csv"
    path.write_text(_HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows))
    frame = read_file(path)["participants"]
    found = _problems(frame, "unclosed_quote")
    if at == n_rows - 1:  # nothing after it to swallow
        assert found == [] and len(frame) == n_rows
        return
    (one,) = found
    assert one["source_row"] == at + 2
    assert f"the {n_rows - at - 1:,} lines" in one["message"] or (n_rows - at - 1 == 1 and "so line" in one["message"])
    assert len(frame) == at + 1


def test_quoted_values_are_cut_short_in_messages() -> None:
    shown = quoted(np.array(["HV2", "x" * 5000, None], dtype=object))
    assert shown[0] == "'HV2'" and shown[2] == "''"
    assert shown[1] == "'" + "x" * 60 + "…'"


@pytest.mark.parametrize("delimiter", [",", ";"])
def test_cells_of_clean_quoted_files_are_unchanged(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "participants.csv"
    path.write_text(delimiter.join(_HEADER.split(",")) + '\nR2;P-GROUP;2024-01-01;"yes"\n'.replace(";", delimiter))
    frame = read_file(path)["participants"]
    assert frame["took_up"].tolist() == ["yes"] and _problems(frame, "unclosed_quote") == []


@pytest.mark.parametrize("ragged", [False, True], ids=["even rows", "a row with an extra cell"])
def test_rows_after_a_swallowing_cell_keep_their_line_numbers(tmp_path: Path, ragged: bool) -> None:
    """The lines a stray quote swallowed are counted as the rows they are, so every later message names the
    line the provider finds in a text editor (and in the spreadsheet once the quote is fixed)."""
    path = tmp_path / "participants.csv"
    extra = ",extra" if ragged else ""
    path.write_text(f'{_HEADER}\nR2,P-GROUP,2024-01-01,yes\nR3,"P-GROUP,2024-01-02,yes\nR4,P-GROUP,2024-02-01,yes\n'
                    'R5,P-GROUP",2024-02-02,yes\nR6,P-GROUP,2024-13-03,no\n'
                    f'R7,P-GROUP,2024-02-03,maybe{extra}\nR8,P-GROUP,2024-02-04,yes\n')
    frame = read_file(path)["participants"]
    assert dict(zip(frame["participant_id"], frame["source_row"], strict=True)) == {
        "R2": 2, "R3": 3, "R6": 6, "R7": 7, "R8": 8}
    (found,) = _problems(frame, "unclosed_quote")
    assert found["source_row"] == 3 and "is not closed until line 5, so the 2 lines 4–5" in found["message"]
    report = validate({"participants": frame}, today=pd.Timestamp("2025-06-01").date()).report
    by_column = dict(zip(report["column"], report["message"], strict=False))
    assert by_column["referral_date"].startswith("Row 6, column 'referral_date': '2024-13-03'")
    assert by_column["took_up"].startswith("Row 7, column 'took_up': 'maybe'")
    assert (report.loc[report["rule"] == "unclosed_quote", "source_row"] == 3).all()
    if ragged:
        (cells,) = _problems(frame, "extra_cells")
        assert cells["source_row"] == 7 and cells["message"].startswith("Row 7 has 5 cells")


def test_two_swallowing_cells_and_a_multi_line_note_number_the_rows_after_them(tmp_path: Path) -> None:
    """A note typed over two lines stays one row (as a spreadsheet shows it); swallowed lines count as rows."""
    path = tmp_path / "participants.csv"
    path.write_text(f'{_HEADER},notes\nR2,P-GROUP,2024-01-01,yes,"first line\nsecond line"\n'
                    'R3,"P-GROUP,2024-01-02,yes,\nR4,P-GROUP,2024-02-01,yes,",2024-02-02,yes,\n'
                    'R5,P-GROUP,2024-02-03,yes,\n'
                    'R6,P-GROUP,"2024-02-04,yes,\nR7,P-GROUP,2024-02-05,yes,\nR8,P-GROUP",no,\n'
                    'R9,P-GROUP,2024-02-06,maybe,\n')
    frame = read_file(path)["participants"]
    assert dict(zip(frame["participant_id"], frame["source_row"], strict=True)) == {
        "R2": 2, "R3": 3, "R5": 5, "R6": 6, "R9": 9}
    assert [p["source_row"] for p in _problems(frame, "unclosed_quote")] == [3, 6]


def _read_with_stray_quotes(tmp_path: Path, n_rows: int, quotes: list[tuple[int, int]]) -> pd.DataFrame:
    """Participants rows R0, R1, ... read back after a quote mark was put before the cells ``quotes`` name
    (row, column; one a row at most)."""
    rows = [[f"R{i}", "P-GROUP", f"2024-01-{i % 28 + 1:02d}", "yes"] for i in range(n_rows)]
    for at, column in {at % n_rows: column for at, column in quotes}.items():
        rows[at][column] = '"' + rows[at][column]
    path = tmp_path / "participants.csv"
    path.write_text(_HEADER + "\n" + "".join(",".join(r) + "\n" for r in rows))
    return read_file(path)["participants"]


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_rows=st.integers(3, 25), quotes=st.lists(st.tuples(st.integers(0, 24), st.integers(1, 3)), max_size=4))
def test_every_row_read_is_numbered_by_the_line_it_is_on(tmp_path: Path, n_rows: int,
                                                          quotes: list[tuple[int, int]]) -> None:
    """Whatever stray quotes swallow (one a row at most), each row read keeps the number of its line."""
    frame = _read_with_stray_quotes(tmp_path, n_rows, quotes)
    line_of = {f"R{i}": 2 + i for i in range(n_rows)}
    for pid, row in zip(frame["participant_id"], frame["source_row"], strict=True):
        assert row == line_of[pid]
    for found in _problems(frame, "unclosed_quote"):
        assert f"Row {found['source_row']}, " in found["message"]


def _lines_named(found: dict) -> set[int]:
    """The file's lines an ``unclosed_quote`` message says were read into its cell."""
    import re

    span = re.search(r"so the [\d,]+ lines ([\d,]+)–([\d,]+)", found["message"])
    if span:
        return set(range(int(span[1].replace(",", "")), int(span[2].replace(",", "")) + 1))
    one = re.search(r"so line ([\d,]+)", found["message"])
    return {int(one[1].replace(",", ""))} if one else set()


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n_rows=st.integers(2, 12), quotes=st.lists(st.tuples(st.integers(0, 11), st.integers(1, 3)), max_size=5))
def test_no_line_of_the_file_is_lost_without_a_word(tmp_path: Path, n_rows: int, quotes: list[tuple[int, int]]) -> None:
    """Every data line is a row read, or a line a reported cell swallowed - a stray quote on any rows, next
    to each other included (one per row)."""
    frame = _read_with_stray_quotes(tmp_path, n_rows, quotes)
    accounted = set(frame["source_row"].astype(int))
    for found in _problems(frame, "unclosed_quote"):
        accounted |= {found["source_row"]} | _lines_named(found)
    assert accounted >= set(range(2, n_rows + 2))


_NOTE_WORDS = st.sampled_from(["called", "no answer", "twice", "2", "left message", "Mon", "then", "OK", "GP", "week 3"])
_NOTE_LINES = st.lists(st.lists(_NOTE_WORDS, min_size=1, max_size=2).map(", ".join), min_size=2, max_size=4)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(notes=st.lists(_NOTE_LINES, min_size=1, max_size=3), column=st.integers(1, 4))
def test_notes_over_several_lines_with_commas_are_read(tmp_path: Path, notes: list[list[str]], column: int) -> None:
    """Quoted notes typed over several lines, with commas, in any column of a narrow table: read as they are.

    (A line of a note holding three quarters of a row's delimiters - here 3 commas - is taken for swallowed
    rows: the rule's known limit, not generated here.)
    """
    people = pd.DataFrame({"participant_id": [f"R{i}" for i in range(len(notes))], "programme_id": "P-GROUP",
                           "referral_date": "2024-01-02", "took_up": "yes"})
    people.insert(column, "decline_reason", ["\n".join(lines) for lines in notes])
    path = tmp_path / "participants.csv"
    people.to_csv(path, index=False)
    frame = read_file(path)["participants"]
    assert _problems(frame, "unclosed_quote") == [] and _problems(frame, "extra_cells") == []
    assert frame["decline_reason"].tolist() == people["decline_reason"].tolist()


def test_stray_quotes_on_two_rows_next_to_each_other(tmp_path: Path) -> None:
    """The second quote closes the first early on the next line: that line was lost and the first row's cell
    (holding half of each row) was stored as a valid programme id."""
    path = tmp_path / "participants.csv"
    path.write_text(f'{_HEADER}\nR0,"P-GROUP,2024-01-01,yes\nR1,"P-GROUP,2024-01-02,yes\nR2,P-GROUP,2024-01-03,yes\n')
    frame = read_file(path)["participants"]
    (found,) = _problems(frame, "unclosed_quote")
    assert found["source_row"] == 2
    assert ("is not closed until line 3, so line 3 was read into this one cell ('P-GROUP,2024-01-01,yes ↵ "
            "R1,P-GROUP') instead of being a row of its own, and was not read.") in found["message"]
    result = validate({"participants": frame}, today=pd.Timestamp("2025-06-01").date())
    assert result.tables["participants"]["participant_id"].tolist() == ["R2"]
    assert frame.set_index("participant_id").loc["R2", "source_row"] == 4
