"""TableRows.provenance: where each kept or set-aside row came from, as the provider sees it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from evalkit.canonical import SOURCE_FILE, SOURCE_ROW, SOURCE_SHEET
from evalkit.readers import read_file, read_files
from evalkit.validation import validate
from evalkit.validation.problems import TableRows

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "data"


def _text(values: pd.api.extensions.ExtensionArray) -> list[str | None]:
    return [None if pd.isna(v) else v for v in values]


@given(sources=st.lists(st.tuples(st.sampled_from(["a.csv", "b.xlsx", None]), st.sampled_from(["", "Sheet1", None]),
                                  st.booleans()), min_size=1, max_size=12))
def test_provenance_names_each_row_file_sheet_and_row(sources: list[tuple[str | None, str | None, bool]]) -> None:
    n = len(sources)
    frame = pd.DataFrame({
        "participant_id": ["P"] * n,
        SOURCE_FILE: pd.array([f for f, _, _ in sources], dtype="str"),
        SOURCE_SHEET: pd.array([s for _, s, _ in sources], dtype="str"),
        SOURCE_ROW: np.arange(2, n + 2),
    })
    rows = TableRows.from_frame("participants", frame, {})
    for mask in (np.array([k for _, _, k in sources], dtype=bool), np.ones(n, dtype=bool)):
        got = rows.provenance(mask)
        picked = [s for s, k in zip(sources, mask, strict=True) if k]
        assert _text(got[SOURCE_FILE]) == [f if f is not None else "(participants table)" for f, _, _ in picked]
        assert _text(got[SOURCE_SHEET]) == [s or None for _, s, _ in picked]  # "" and missing: no sheet
        assert got[SOURCE_ROW].tolist() == (np.flatnonzero(mask) + 2).tolist()
        assert str(got[SOURCE_ROW].dtype) == "Int64"
        for column in (SOURCE_FILE, SOURCE_SHEET):  # categoricals of "string" text, only the names the rows hold
            assert isinstance(got[column].dtype, pd.CategoricalDtype)
            assert got[column].categories.dtype == pd.StringDtype("pyarrow")
            assert set(got[column].categories) == {v for v in _text(got[column]) if v is not None}
        text = rows.provenance(mask, text=True)  # the quarantine's form: "string" columns of the same values
        for column in (SOURCE_FILE, SOURCE_SHEET):
            assert str(text[column].dtype) == "string" and _text(text[column]) == _text(got[column])


def test_every_row_kept_holds_the_file_name_once() -> None:
    # a reader gives one file name on every row; the valid table holds it once, as a category (a byte a row)
    path = EXAMPLES / "programmes.csv"
    raw = read_file(path, table="programmes")
    result = validate(raw, today="2026-01-01")
    table = result.tables["programmes"]
    n = len(raw["programmes"])
    assert n > 1 and len(table) == n and table[SOURCE_FILE].tolist() == [path.name] * n
    assert table[SOURCE_ROW].tolist() == list(range(2, n + 2)) and table[SOURCE_SHEET].isna().all()
    assert table[SOURCE_FILE].cat.categories.tolist() == [path.name]
    assert table[SOURCE_FILE].cat.codes.dtype == np.int8 and (table[SOURCE_FILE].cat.codes == 0).all()
    assert len(table[SOURCE_SHEET].cat.categories) == 0


def test_duplicates_across_sheets_and_files_name_where_each_row_is(tmp_path: Path) -> None:
    """Row numbers repeat from sheet to sheet (and file to file): a duplicate's other rows say where they are."""
    import openpyxl

    header = ["participant_id", "programme_id", "referral_date", "took_up"]
    book = openpyxl.Workbook()
    first = book.active
    first.title = "Mums 2024"
    for row in (header, ["M1", "P-GROUP", "2024-01-05", "yes"], ["M2", "P-GROUP", "2024-01-06", "yes"]):
        first.append(row)
    second = book.create_sheet("Mums 2025")
    for row in (header, ["M1", "P-GROUP", "2025-01-05", "yes"]):
        second.append(row)
    book.save(tmp_path / "participants.xlsx")
    report = validate(read_file(tmp_path / "participants.xlsx", table="participants")).report
    unique = report[report["rule"] == "unique"]["message"].tolist()
    assert len(unique) == 2
    assert all("(rows 2 of sheet 'Mums 2024', 2 of sheet 'Mums 2025')" in m for m in unique), unique

    # two CSV files: each row named with its file
    for name in ("north.csv", "south.csv"):
        (tmp_path / name).write_text(",".join(header) + "\nM1,P-GROUP,2024-01-05,yes\n")
    raw = read_files([tmp_path / "north.csv", tmp_path / "south.csv"], table="participants")
    messages = validate(raw).report.query("rule == 'unique'")["message"].tolist()
    assert len(messages) == 2 and all("(rows 2 of 'north.csv', 2 of 'south.csv')" in m for m in messages), messages
    # one file, one sheet: plain row numbers, as before
    single = tmp_path / "one.csv"
    single.write_text(",".join(header) + "\nM1,P-GROUP,2024-01-05,yes\nM1,P-GROUP,2024-01-06,yes\n")
    plain = validate(read_file(single, table="participants")).report.query("rule == 'unique'")["message"].tolist()
    assert plain and all("(rows 2, 3)" in m for m in plain), plain
