"""Excel sheets whose used range is far larger than their data (formatting far away), and exact row numbers."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.styles import PatternFill

import evalkit.readers.excel as excel
from evalkit.errors import InputFileError
from evalkit.readers import NOTES_ATTR, ReadLimits, read_file
from evalkit.readers.messy import read_grids

_HEADER = ["participant_id", "programme_id", "referral_date", "took_up"]
_ROWS = [[f"P{i}", "G1", f"2024-01-{i + 1:02d}", "yes"] for i in range(6)]
_FILL = PatternFill("solid", fgColor="FFFF00")


def _workbook(path: Path, *, formatted: list[tuple[int, int]] = (), values: dict[tuple[int, int], str] | None = None,
              start_row: int = 1, start_col: int = 1) -> Path:
    """A participants sheet (header and six rows from ``start_row``/``start_col``), formatted-only cells, values."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "participants"
    for i, row in enumerate([_HEADER, *_ROWS]):
        for j, value in enumerate(row):
            ws.cell(row=start_row + i, column=start_col + j, value=value)
    for row, column in formatted:
        ws.cell(row=row, column=column).fill = _FILL
    for (row, column), value in (values or {}).items():
        ws.cell(row=row, column=column, value=value)
    wb.save(path)
    return path


@pytest.fixture
def cells_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the cells the reader turns into text; fail fast when it reads far more than the sheet holds."""
    calls = [0]
    real = excel.cell_text

    def counted(value: object) -> str | None:
        calls[0] += 1
        if calls[0] > 10_000:
            raise AssertionError("the reader is materialising blank cells of the used range")
        return real(value)

    monkeypatch.setattr(excel, "cell_text", counted)
    return calls


@pytest.mark.parametrize("formatted", [[(1_048_000, 60)], [(2, 16_000)], [(1_048_000, 60), (2, 16_000)]],
                         ids=["far-row", "far-column", "both"])
def test_formatted_cells_far_away_are_not_read(tmp_path: Path, cells_read: list[int],
                                               formatted: list[tuple[int, int]]) -> None:
    path = _workbook(tmp_path / "farrow.xlsx", formatted=formatted)
    frame = read_file(path)["participants"]
    assert frame["participant_id"].tolist() == [r[0] for r in _ROWS]
    assert frame["source_row"].tolist() == [2, 3, 4, 5, 6, 7]
    assert not frame.attrs.get(NOTES_ATTR, {}).get("problems")  # no unknown column for the far cells
    assert cells_read[0] <= 7 * len(_HEADER)


def test_messy_reader_does_not_read_formatted_cells_far_away(tmp_path: Path, cells_read: list[int]) -> None:
    path = _workbook(tmp_path / "farrow.xlsx", formatted=[(1_048_000, 60), (2, 16_000)])
    (grid,) = read_grids(path)
    assert len(grid.rows) == 7
    assert max(len(r) for r in grid.rows) == len(_HEADER)
    assert cells_read[0] <= 7 * len(_HEADER)


def test_limits_are_judged_on_cells_holding_values(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "formatted.xlsx", formatted=[(500, 3), (2, 40)])
    frame = read_file(path, limits=ReadLimits(max_rows=10, max_columns=10))["participants"]
    assert len(frame) == 6
    with pytest.raises(InputFileError, match="more than 5 rows"):
        read_file(path, limits=ReadLimits(max_rows=5, max_columns=10))


def test_a_value_beyond_the_column_limit_is_refused_not_dropped(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "far.xlsx", values={(3, 8): "stray"})
    with pytest.raises(InputFileError, match=r"more than 5 columns: cell H3 holds a value"):
        read_file(path, limits=ReadLimits(max_columns=5))
    with pytest.raises(InputFileError, match=r"cell H3"):
        read_grids(path, limits=ReadLimits(max_columns=5))


def test_row_numbers_are_the_sheets_when_the_data_does_not_start_at_a1(tmp_path: Path) -> None:
    # Excel (and openpyxl) write the used range "B3:E9" as the sheet's dimension; the rows must still be 4..9
    path = _workbook(tmp_path / "b3.xlsx", start_row=3, start_col=2, values={(20, 2): "P9", (20, 3): "G1"})
    frame = read_file(path)["participants"]
    assert frame["source_row"].tolist() == [4, 5, 6, 7, 8, 9, 20]
    assert frame["participant_id"].tolist() == [r[0] for r in _ROWS] + ["P9"]
    notes = frame.attrs[NOTES_ATTR]
    assert next(iter(notes["sources"].values()))["header_row"] == 3


def test_a_worksheet_not_opened_read_only_gives_the_same_cells(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "b3.xlsx", start_row=3, start_col=2, formatted=[(40, 30)], values={(12, 3): "x"})
    limits = ReadLimits()
    fast = openpyxl.load_workbook(path, read_only=True)["participants"]
    full = openpyxl.load_workbook(path)["participants"]  # no XML parser of its own: through iter_rows
    assert list(excel.sheet_cells(full, label="b3.xlsx", limits=limits)) == list(
        excel.sheet_cells(fast, label="b3.xlsx", limits=limits))


_cell = st.tuples(st.integers(2, 30), st.integers(1, 8))
_text = st.one_of(st.text("ab1 ", min_size=0, max_size=3), st.integers(-5, 5), st.none())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.dictionaries(_cell, _text, max_size=25), formatted=st.lists(_cell, max_size=5),
       top=st.integers(1, 4))
def test_every_row_holding_a_value_is_read_with_its_number(tmp_path: Path, values: dict[tuple[int, int], object],
                                                           formatted: list[tuple[int, int]], top: int) -> None:
    """Known answer from openpyxl's full (not read-only) mode: each row with a non-blank cell, its cells, its number."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "participants"
    header = ["participant_id", "programme_id", "referral_date", "consent", "ethnicity", "age_band", "main_language",
              "interpreter"]
    for j, name in enumerate(header, start=1):
        ws.cell(row=top, column=j, value=name)  # blank rows above the header: the used range starts there
    for row, column in formatted:
        ws.cell(row=row, column=column).fill = _FILL
    for (row, column), value in values.items():
        ws.cell(row=top + row - 1, column=column, value=value)
    path = tmp_path / "sparse.xlsx"
    wb.save(path)
    full = openpyxl.load_workbook(path)["participants"]
    expected: dict[int, dict[int, str]] = {}
    for row in full.iter_rows(min_row=top + 1):
        for cell in row:
            text = excel.cell_text(cell.value)
            if text is not None and text.strip():
                expected.setdefault(cell.row, {})[cell.column] = text
    frame = read_file(path, compact=False)["participants"]
    assert frame["source_row"].tolist() == sorted(expected)
    kept = {1: "participant_id", 2: "programme_id", 3: "referral_date"}  # read as written (no value synonyms)
    read = {j: frame[name].tolist() for j, name in kept.items()}
    for i, number in enumerate(frame["source_row"].tolist()):
        assert {j: read[j][i] for j in kept if isinstance(read[j][i], str)} == {
            j: t for j, t in expected[number].items() if j in kept}


def test_another_openpyxl_whose_private_parser_differs_falls_back_to_its_public_reader(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _workbook(tmp_path / "start.xlsx", start_row=3, start_col=2, formatted=[(2, 40)])
    expected = read_file(path)["participants"]
    import openpyxl.worksheet._reader as reader

    def changed(*args: object, **kwargs: object) -> None:
        raise TypeError("WorkSheetParser() got an unexpected keyword argument 'epoch'")

    monkeypatch.setattr(reader, "WorkSheetParser", changed)
    got = read_file(path)["participants"]
    assert got.equals(expected) and got["source_row"].tolist() == list(range(4, 10))
