"""Blank upload templates generated from the Table Schemas (Excel with drop-downs, or CSV files)."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from evalkit.schemas import TABLE_NAMES, FieldSpec, table_schemas

__all__ = ["CODES_SHEET", "INSTRUCTIONS_SHEET", "instructions_rows", "is_template_helper_sheet", "write_template"]

_MAX_ROWS = 5000
"""Rows of each sheet that carry drop-downs and range checks."""

_INSTRUCTION_COLUMNS = ("table", "column", "description", "type", "required", "allowed values", "example")


WRITING_NOTES: tuple[str, ...] = (
    "Dates: 2026-02-10 (year-month-day) is safest; 10/02/2026 (day/month/year) is accepted too. A date such as "
    "10/02/2026 reads two ways: it is taken the way round the file's other dates show (a day over 12, such as "
    "15/02/2026), and the row is set aside if nothing shows it.",
    "Dates with the month in words are read too (10 February 2026, 10-Feb-26, February 10, 2026). A date cell "
    "that shows a number such as 46063 (Excel's number for 10 February 2026, shown when a cell loses its date "
    "format) is read as that date, and the report lists those rows to check.",
    "Yes/no columns: yes or no (Yes, Y, No, N also work).",
    "Coded columns: the code or its label (one_to_one or One-to-one).",
)
"""How dates, yes/no answers and codes may be written: what the validator accepts
(:mod:`evalkit.validation.dates`, the schemas' ``trueValues``/``falseValues``, codes or their labels)."""


INSTRUCTIONS_SHEET = "instructions"
CODES_SHEET = "codes"


def is_template_helper_sheet(title: str, first_rows: Sequence[Sequence[object]]) -> bool:
    """Whether a worksheet is one of the xlsx template's own helper sheets, not data.

    Recognised by name *and* layout, so that templates downloaded before now are
    recognised too and a provider's own sheet that happens to be called
    'codes' is still read: the ``instructions`` sheet has the instruction column
    headers (``table, column, description, ...``) in one of its first rows; the
    ``codes`` sheet's first row names only ``table.column`` pairs of the schemas.

    Parameters
    ----------
    title
        The sheet's name.
    first_rows
        Its first few rows of cell values (5 are enough).
    """
    name = str(title).strip().casefold()
    rows = [[("" if c is None else str(c).strip()) for c in row] for row in first_rows]
    if name == INSTRUCTIONS_SHEET:
        want = list(_INSTRUCTION_COLUMNS)
        return any(row[:len(want)] == want for row in rows)
    if name == CODES_SHEET and rows:
        cells = [c for c in rows[0] if c]
        known = {f"{t}.{f.name}" for t, sch in table_schemas().items() for f in sch.fields}
        return bool(cells) and all(c in known for c in cells)
    return False


def _allowed(f: FieldSpec) -> str:
    if f.codes:
        return "; ".join(f"{code} = {label}" if label != code else code for code, label in f.codes.items())
    if f.type == "boolean":
        return "yes; no"
    parts = []
    if f.minimum is not None:
        parts.append(f"from {f.minimum:g}")
    if f.maximum is not None:
        parts.append(f"to {f.maximum:g}")
    if f.type == "date":
        parts.append("date as YYYY-MM-DD")
    if f.pattern:
        parts.append(f"pattern {f.pattern}")
    return " ".join(parts)


def instructions_rows() -> list[tuple[str, ...]]:
    """One row per column of every table: table, column, description, type, required, allowed values, example."""
    rows = []
    for name, schema in table_schemas().items():
        for f in schema.fields:
            rows.append((name, f.name, f.description, f.type, "yes" if f.required else "no", _allowed(f), f.example))
    return rows


def _readme() -> str:
    lines = [
        "evalkit upload template",
        "=======================",
        "",
        "One CSV file per table; fill in one row per record under the header row and keep the headers.",
        f"Upload the tables in this order: {', '.join(TABLE_NAMES)}.",
        "Never add names, NHS numbers, addresses, postcodes, phone numbers, email addresses or dates of birth:",
        "uploads holding them are refused. Participant ids are replaced by pseudonyms when stored.",
        *WRITING_NOTES,
        "",
    ]
    for name, schema in table_schemas().items():
        lines += [f"{name}.csv - {schema.description}", f"  key: {', '.join(schema.primary_key)}"]
        for f in schema.fields:
            req = "required" if f.required else "optional"
            lines.append(f"  {f.name} ({f.type}, {req}): {f.description}")
            allowed = _allowed(f)
            if allowed:
                lines.append(f"      allowed: {allowed}")
            if f.example:
                lines.append(f"      example: {f.example}")
        lines.append("")
    return "\n".join(lines)


def _header_csv(name: str) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(table_schemas()[name].field_names)
    return buf.getvalue()


def _write_csv(path: Path) -> Path:
    if path.suffix.lower() == ".zip":
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in TABLE_NAMES:
                zf.writestr(f"{name}.csv", _header_csv(name))
            zf.writestr("README.txt", _readme())
        return path
    if path.exists() and not path.is_dir():
        raise ValueError(f"path must be a folder or a .zip file for the CSV template; {path} is a file")
    path.mkdir(parents=True, exist_ok=True)
    for name in TABLE_NAMES:
        (path / f"{name}.csv").write_text(_header_csv(name), encoding="utf-8")
    (path / "README.txt").write_text(_readme(), encoding="utf-8")
    return path


def _write_xlsx(path: Path) -> Path:
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter, quote_sheetname
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    info = wb.active
    info.title = INSTRUCTIONS_SHEET
    info.append(["How to fill in this workbook: one sheet per table, one row per record, keep the header row. "
                 "Codes come from the drop-down lists. Never enter names, NHS numbers, addresses, postcodes, "
                 "phone numbers, email addresses or dates of birth. " + " ".join(WRITING_NOTES)])
    info.append([])
    info.append(list(_INSTRUCTION_COLUMNS))
    for row in instructions_rows():
        info.append(list(row))
    bold = Font(bold=True)
    for cell in info[3]:
        cell.font = bold
    for col, width in zip("ABCDEFG", (16, 26, 70, 10, 10, 60, 24), strict=True):
        info.column_dimensions[col].width = width
    for row in info.iter_rows(min_row=4):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")

    codes = wb.create_sheet(CODES_SHEET)
    code_col = 0
    required_fill = PatternFill("solid", fgColor="FFF2CC")
    for name, schema in table_schemas().items():
        ws = wb.create_sheet(name)
        ws.append(schema.field_names)
        ws.freeze_panes = "A2"
        for idx, f in enumerate(schema.fields, start=1):
            letter = get_column_letter(idx)
            cell = ws.cell(row=1, column=idx)
            cell.font = bold
            if f.required:
                cell.fill = required_fill
            cell.comment = Comment(f"{f.description}\n{_allowed(f)}".strip(), "evalkit")
            ws.column_dimensions[letter].width = max(12, len(f.name) + 2)
            target = f"{letter}2:{letter}{_MAX_ROWS + 1}"
            dv = None
            values = list(f.codes) if f.codes else (["yes", "no"] if f.type == "boolean" else None)
            if values:
                code_col += 1
                cl = get_column_letter(code_col)
                codes.cell(row=1, column=code_col, value=f"{name}.{f.name}").font = bold
                for r, v in enumerate(values, start=2):
                    codes.cell(row=r, column=code_col, value=v)
                ref = f"{quote_sheetname('codes')}!${cl}$2:${cl}${len(values) + 1}"
                dv = DataValidation(type="list", formula1=ref, allow_blank=not f.required)
                dv.error = f"Choose one of the codes for {f.name} (see the instructions sheet)."
            elif f.type in ("integer", "number") and (f.minimum is not None or f.maximum is not None):
                lo = f.minimum if f.minimum is not None else -1e9
                hi = f.maximum if f.maximum is not None else 1e9
                dv = DataValidation(type="whole" if f.type == "integer" else "decimal", operator="between",
                                    formula1=f"{lo:g}", formula2=f"{hi:g}", allow_blank=True)
                dv.error = f"{f.name} must be between {lo:g} and {hi:g}."
            elif f.type == "date":
                dv = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True)
                dv.error = f"{f.name} must be a date."
            if dv is not None:
                dv.showErrorMessage = True
                dv.errorTitle = f"{name}.{f.name}"
                ws.add_data_validation(dv)
                dv.add(target)
    codes.sheet_state = "hidden"
    wb.move_sheet("codes", offset=len(wb.sheetnames))
    wb.save(path)
    return path


def write_template(path: str | Path, format: Literal["xlsx", "csv"] = "xlsx") -> Path:  # noqa: A002
    """Write a blank upload template generated from the Table Schemas.

    Parameters
    ----------
    path
        For ``"xlsx"``: the workbook file. For ``"csv"``: a folder (created if
        needed) or a ``.zip`` file.
    format
        ``"xlsx"``: an ``instructions`` sheet (each column's description, type,
        whether required, allowed codes with labels, example), one sheet per
        table with its header row, drop-down lists of allowed codes (data
        validations referring to a hidden ``codes`` sheet), and range checks
        for numbers and dates. ``"csv"``: one header-only CSV per table and a
        ``README.txt`` with the same instructions.

    Returns
    -------
    pathlib.Path
        What was written.
    """
    if format not in ("xlsx", "csv"):
        raise ValueError(f"format must be one of ['xlsx', 'csv']; got {format!r}")
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {path.parent} does not exist")
    return _write_xlsx(path) if format == "xlsx" else _write_csv(path)
