"""Read an Excel workbook (``.xlsx``/``.xlsm``): one sheet per table, or one chosen sheet.

Sheets are matched to tables by name (``Participants``, ``Mums``, ``Questionnaires``
through the aliases; or the mapping's ``sheets``), then by their headers. A
sheet that matches no table is reported (``unknown_sheet``, warning) and
skipped. Row numbers are the sheet's own (the header is usually row 1).

Before openpyxl opens anything the zip directory is checked: the parts must
look like a workbook and their uncompressed size and compression ratio must be
within :class:`~evalkit.readers.limits.ReadLimits` (a guard against zip bombs).
"""

from __future__ import annotations

import datetime as dt
import itertools
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.readers.detect import (
    HEADER_SCAN_ROWS,
    check_table_name,
    detect_table,
    find_header_row,
    rows_above_header,
)
from evalkit.readers.headers import table_for_name
from evalkit.readers.limits import ReadLimits, check_file_size
from evalkit.readers.notes import frame_notes, merge_notes, problem, with_notes
from evalkit.readers.raw_frame import build_raw_frame, concat_raw_frames

__all__ = ["cell_text", "check_workbook_archive", "hidden_sheet_message", "read_excel", "sheet_cells"]

_MB = 1024 * 1024


def cell_text(value: Any) -> str | None:
    """An Excel cell value as the text a provider would read in the cell.

    Dates become ISO ``YYYY-MM-DD`` (with the time only when it is not midnight),
    whole numbers lose their ``.0``, booleans become ``TRUE``/``FALSE``.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            return str(value)
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    return str(value)


def hidden_sheet_message(name: str, n_rows: int) -> str:
    """The warning for a hidden sheet whose rows were read (rule ``hidden_sheet``)."""
    rows = f"{n_rows:,} data row{' was' if n_rows == 1 else 's were'}"
    return (f"Sheet '{name}' is hidden in the workbook; its {rows} read like those of the other sheets. If it "
            "holds old or scrap data, delete the sheet, or choose the sheet to read (--sheet).")


def check_workbook_archive(path: Path, limits: ReadLimits) -> None:
    """Check the zip directory of a workbook before opening it.

    Raises
    ------
    InputFileError
        Not a zip, a zip that is not a workbook, or parts that would expand past the limits.
    """
    label = path.name
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            "this is an old-style Excel file (.xls) or a password-protected workbook, which evalkit cannot "
            "read. Open it in Excel, remove any password, and save it as an Excel Workbook (.xlsx).",
            file=label,
        )
    if not zipfile.is_zipfile(path):
        raise InputFileError(
            "this is not an Excel workbook: an .xlsx file is a zip archive and this one is not. "
            "If it is a CSV file, give it the .csv extension; otherwise save it from Excel as .xlsx.",
            file=label,
        )
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise InputFileError(f"the workbook is damaged and cannot be opened ({exc}).", file=label) from None
    names = {info.filename.lower() for info in infos}
    if "xl/workbook.xml" not in names:
        raise InputFileError(
            "this is a zip archive but not an Excel workbook (it has no workbook part). "
            "Expected an .xlsx file saved by Excel, LibreOffice or Google Sheets.",
            file=label,
        )
    total = sum(info.file_size for info in infos)
    if total > limits.max_uncompressed_bytes:
        raise InputFileError(
            f"the workbook would expand to {total / _MB:,.0f} MB when opened, more than the "
            f"{limits.max_uncompressed_bytes / _MB:,.0f} MB evalkit allows. Split it into smaller files.",
            file=label,
        )
    for info in infos:
        if info.file_size > _MB and info.file_size > limits.max_compression_ratio * max(info.compress_size, 1):
            raise InputFileError(
                f"the workbook part {info.filename} is compressed {info.file_size / max(info.compress_size, 1):,.0f} "
                "times, far more than a real spreadsheet; evalkit does not open it. Save the data again from Excel.",
                file=label,
            )


def _xml_rows(ws: Any) -> Iterator[tuple[int, list[tuple[int, Any]]]]:
    """The rows a worksheet's XML holds: each row's number and its cells' ``(column, value)`` that have a value.

    A read-only worksheet is parsed directly (openpyxl's own parser, as its ``iter_rows`` uses it), so rows
    absent from the XML are never produced and a row's cells are not widened to the sheet's used range: the
    work is that of the cells written in the file. Other worksheets (or an openpyxl without the parser) go
    through ``iter_rows``.
    """
    source = getattr(ws, "_get_source", None)
    try:
        from openpyxl.worksheet._reader import WorkSheetParser
    except ImportError:  # pragma: no cover - an openpyxl without the parser
        source = None
    book = getattr(ws, "parent", None)
    if source is not None and hasattr(ws, "_shared_strings") and hasattr(book, "_date_formats"):
        with source() as src:
            try:
                parser = WorkSheetParser(src, ws._shared_strings, data_only=book.data_only, epoch=book.epoch,
                                         date_formats=book._date_formats,
                                         timedelta_formats=book._timedelta_formats)
            except TypeError:  # a private interface another openpyxl release changed: the public one below
                parser = None
            if parser is not None:
                for number, cells in parser.parse():
                    yield number, [(c["column"], c["value"]) for c in cells if c["value"] is not None]
                return
    if hasattr(ws, "reset_dimensions"):  # read-only: rows as wide as their own last cell, missing rows empty
        ws.reset_dimensions()
    for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
        yield number, [(column, v) for column, v in enumerate(values, start=1) if v is not None]


def sheet_cells(ws: Any, *, label: str, limits: ReadLimits) -> Iterator[tuple[int, list[int], list[str]]]:
    """The rows of a sheet that hold a value, each with the columns and texts of its non-blank cells.

    A cell is blank when it has no value or its text is only white space; formatting alone (a fill, a
    border, a number format) does not make a cell or a row count, so a formatted cell far below or to the
    right of the data costs nothing. Blank rows are not produced: the row numbers say where each row is.

    Parameters
    ----------
    ws
        An openpyxl worksheet (read-only or not).
    label
        The file's name, for messages.
    limits
        Size limits: a cell holding a value beyond ``limits.max_columns`` is refused.

    Yields
    ------
    tuple[int, list[int], list[str]]
        The row's number as the provider sees it (1-based), the 1-based columns of its non-blank cells in
        increasing order, and their texts (:func:`cell_text`).

    Raises
    ------
    InputFileError
        A value in a column past the limit, or rows out of order (a damaged sheet).
    """
    last = 0
    for number, cells in _xml_rows(ws):
        if number <= last:
            raise InputFileError(
                f"the sheet '{ws.title}' is damaged: its row {number:,} comes after row {last:,}. "
                "Open the workbook in Excel and save it again.",
                file=label,
            )
        last = number
        found: dict[int, str] = {}
        for column, value in cells:
            text = cell_text(value)
            if text is not None and text.strip():
                found[column] = text
        if not found:
            continue
        columns = sorted(found)
        if columns[-1] > limits.max_columns:
            from openpyxl.utils import get_column_letter

            raise InputFileError(
                f"the sheet '{ws.title}' has more than {limits.max_columns:,} columns: cell "
                f"{get_column_letter(columns[-1])}{number} holds a value. Expected one column per field of a "
                "table; delete what is in the far columns (or move it to another sheet).",
                file=label,
            )
        yield number, columns, [found[c] for c in columns]


_SheetGrid = tuple[list[str], pd.DataFrame, np.ndarray, int, list[tuple[int, list[str]]]]


def _row_texts(cols: list[int], values: list[str]) -> list[str]:
    """A row's cells as text, ``""`` for a blank cell, up to its last cell with a value."""
    out = [""] * cols[-1]
    for column, text in zip(cols, values, strict=True):
        out[column - 1] = text
    return out


def _fill_merged_down(grid: np.ndarray, numbers: list[int], merged: tuple[tuple[int, int, int, int], ...],
                      header_row: int) -> None:
    """Give a value merged down several rows of one column (below the header) to each of those rows (in place).

    The sheet shows the value on every row the merged cell covers, and the one-row-per-mother reader reads it
    so (:mod:`evalkit.readers.messy`); the file holds it in the top cell only. Rows without any other value
    are not made, and a cell merged across columns is left as it is.
    """
    rows = np.asarray(numbers)
    at = {number: i for i, number in enumerate(numbers)}
    for r0, c0, r1, c1 in merged:  # one step per merged range, not per row it covers
        if c0 != c1 or r1 == r0 or r0 <= header_row or c0 > grid.shape[1] or r0 not in at:
            continue
        value = grid[at[r0], c0 - 1]
        if value is None:
            continue
        covered = np.flatnonzero((rows > r0) & (rows <= r1))
        grid[covered[pd.isna(grid[covered, c0 - 1])], c0 - 1] = value


def _sheet_grid(ws: Any, *, label: str, limits: ReadLimits, mapping: ColumnMapping | None = None,
                merged: tuple[tuple[int, int, int, int], ...] = ()) -> _SheetGrid | None:
    """Header, data cells, their rows' numbers, the header's row number and the rows above it; ``None`` for
    an empty sheet.

    The header is the first row with a value unless that row is a title (:func:`find_header_row`); the rows
    above the header are returned as ``(row number, cells)`` to be reported. A value merged down a column
    (``merged``: the sheet's merged ranges) is every covered row's (:func:`_fill_merged_down`). Only cells holding a value are
    read (:func:`sheet_cells`): the data frame is as wide as the header or the last column with a value, and
    has one line per row with a value (blank rows would be dropped by
    :func:`~evalkit.readers.raw_frame.build_raw_frame` anyway), each with its exact row number.
    """
    found = sheet_cells(ws, label=label, limits=limits)
    head = list(itertools.islice(found, HEADER_SCAN_ROWS))
    if not head:
        return None
    at = find_header_row([_row_texts(cols, values) for _, cols, values in head], mapping)
    above = [(number, _row_texts(cols, values)) for number, cols, values in head[:at]]
    header_row, cols, values = head[at]
    header = [text.strip() for text in _row_texts(cols, values)]
    width = len(header)
    numbers: list[int] = []
    lines: list[int] = []  # for each data cell: its line in the frame, column (0-based) and text
    columns: list[int] = []
    texts: list[str] = []
    for number, cols, values in itertools.chain(head[at + 1:], found):
        if len(numbers) >= limits.max_rows:
            raise InputFileError(
                f"the sheet '{ws.title}' has more than {limits.max_rows:,} rows, more than evalkit reads "
                "from one sheet. Split it into smaller files.",
                file=label,
            )
        lines.extend([len(numbers)] * len(cols))
        columns.extend(cols)
        texts.extend(values)
        numbers.append(number)
        width = max(width, cols[-1])
    grid = np.full((len(numbers), width), None, dtype=object)
    if texts:
        held = np.empty(len(texts), dtype=object)
        held[:] = texts
        grid[np.asarray(lines, dtype=np.int64), np.asarray(columns, dtype=np.int64) - 1] = held
    if merged and numbers:
        _fill_merged_down(grid, numbers, merged, header_row)
    cells = pd.DataFrame(grid, columns=range(width), dtype=object)
    return header, cells, np.asarray(numbers, dtype=np.int64), header_row, above


def read_excel(
    path: str | Path,
    *,
    table: str | None = None,
    sheet: str | None = None,
    mapping: ColumnMapping | None = None,
    limits: ReadLimits | None = None,
) -> dict[str, pd.DataFrame]:
    """Read the sheets of a workbook into raw frames by table.

    Parameters
    ----------
    path
        The ``.xlsx`` file.
    table
        Table of the sheet read (with ``sheet``), or of the only sheet.
    sheet
        Read only this sheet (name matched ignoring case).
    mapping
        The provider's column mapping (its ``sheets`` name sheets' tables).
    limits
        Size limits.

    Raises
    ------
    InputFileError
        Not a workbook, damaged, too large, no sheet with data, the sheet asked
        for is missing, or no sheet can be matched to a table.
    """
    import openpyxl  # heavy; only when a workbook is read

    path = Path(path)
    limits = limits or ReadLimits()
    label = path.name
    check_file_size(path, limits)
    check_workbook_archive(path, limits)
    handle = path.open("rb")  # ours, closed below: openpyxl leaves its file open when a damaged workbook fails
    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damaged files
        handle.close()
        raise InputFileError(
            f"the workbook cannot be opened ({type(exc).__name__}: {exc}). Save it again from Excel as .xlsx.",
            file=label,
        ) from None
    try:
        return _read_workbook(workbook, path, table=table, sheet=sheet, mapping=mapping, limits=limits)
    except InputFileError:
        raise
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError, SyntaxError) as exc:
        # SyntaxError: xml.etree's ParseError for malformed or hostile sheet XML (entity expansion, XXE)
        raise InputFileError(
            f"the workbook is damaged and cannot be read ({type(exc).__name__}: {exc}).", file=label
        ) from None
    finally:
        workbook.close()
        handle.close()


def _template_helper(ws: Any) -> bool:
    """Whether ``ws`` is the 'instructions' or hidden 'codes' sheet of evalkit's xlsx template
    (:func:`evalkit.templates.is_template_helper_sheet`; only its first rows are read)."""
    from evalkit.templates import CODES_SHEET, INSTRUCTIONS_SHEET, is_template_helper_sheet

    if str(ws.title).strip().casefold() not in (CODES_SHEET, INSTRUCTIONS_SHEET):
        return False
    return is_template_helper_sheet(ws.title, list(ws.iter_rows(min_row=1, max_row=5, values_only=True)))


def _read_workbook(
    workbook: Any, path: Path, *, table: str | None, sheet: str | None, mapping: ColumnMapping | None,
    limits: ReadLimits,
) -> dict[str, pd.DataFrame]:
    label = path.name
    if table is not None:
        check_table_name(table)
    names = list(workbook.sheetnames)
    if sheet is not None:
        match = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
        if not match:
            raise InputFileError(
                f"there is no sheet called '{sheet}'. The workbook has: {', '.join(repr(n) for n in names)}.",
                file=label,
            )
        names = match[:1]
    if sheet is None:  # the xlsx template's own instructions and code lists are not data
        names = [n for n in names if not _template_helper(workbook[n])]
    from evalkit.readers.messy import _merged_ranges  # the merged ranges, from the sheet's XML

    grids = {}
    for name in names:
        ws = workbook[name]
        grid = _sheet_grid(ws, label=label, limits=limits, mapping=mapping,
                           merged=_merged_ranges(path, getattr(ws, "_worksheet_path", None)))
        if grid is not None:
            grids[name] = grid
    if not grids:
        raise InputFileError(
            "the workbook has no sheet with any data. Expected a sheet with a header row naming the columns.",
            file=label,
        )
    only_one = len(grids) == 1
    chosen: dict[str, str] = {}
    skipped: list[str] = []
    for name, (header, _cells, _numbers, _hr, _above) in grids.items():
        where = f"{label}, sheet '{name}'"
        named = (mapping.table_for_sheet(name) if mapping is not None else None) or table_for_name(name)
        if table is not None and (only_one or sheet is not None or named == table):
            chosen[name] = detect_table(header, file_label=where, table=table, mapping=mapping)
        elif table is not None:
            continue
        elif sheet is not None or only_one:
            chosen[name] = detect_table(header, file_label=where, names=(name, path.stem), mapping=mapping)
        elif named is not None:
            chosen[name] = named
        else:
            try:
                chosen[name] = detect_table(header, file_label=where, names=(), mapping=mapping)
            except InputFileError:
                skipped.append(name)
    if not chosen:
        if table is not None:
            raise InputFileError(
                f"no sheet is named for the {table} table and the workbook has several sheets "
                f"({', '.join(repr(n) for n in grids)}); choose one (--sheet).",
                file=label,
            )
        raise InputFileError(
            f"none of the sheets ({', '.join(repr(n) for n in grids)}) can be matched to a table. "
            "Name each sheet after its table (programmes, participants, group_sessions, contacts, measures) "
            "or choose the sheet and table.",
            file=label,
        )
    frames: dict[str, list[pd.DataFrame]] = {}
    for name, chosen_table in chosen.items():
        header, cells, numbers, header_row, above = grids[name]
        title = [problem(file=label, sheet=name, table=chosen_table, source_row=above[0][0], column="",
                         value=" ".join(c.strip() for c in above[0][1] if c.strip())[:80], rule="not_read",
                         severity="warning", message=rows_above_header(above, header_row))] if above else []
        state = getattr(workbook[name], "sheet_state", "visible")
        if sheet is None and state in ("hidden", "veryHidden"):
            title.append(problem(file=label, sheet=name, table=chosen_table, source_row=header_row, column="",
                                 value=name, rule="hidden_sheet", severity="warning",
                                 message=hidden_sheet_message(name, len(numbers))))
        frames.setdefault(chosen_table, []).append(build_raw_frame(
            cells, header, numbers, table=chosen_table, file=label, sheet=name, header_row=header_row,
            mapping=mapping, problems=title,
        ))
    out: dict[str, pd.DataFrame] = {}
    for chosen_table, parts in frames.items():
        notes = merge_notes(frame_notes(p) for p in parts)
        merged = concat_raw_frames(parts)  # the sheets' names joined as one categorical
        out[chosen_table] = with_notes(merged, notes)
    first = next(iter(out))
    if skipped:
        notes = frame_notes(out[first])
        for name in skipped:
            n_rows = len(grids[name][2])
            held = f"{n_rows:,} data row{'s' if n_rows != 1 else ''}" if n_rows else "a header but no data rows"
            notes["problems"].append(problem(
                file=label, sheet=name, table=first, source_row=grids[name][3], column="", value=name,
                rule="unknown_sheet", severity="warning",
                message=(f"Sheet '{name}' ({held}) could not be matched to a table, so it was not read and "
                         "none of its rows were stored. Name it after its table (e.g. 'participants') or list it "
                         "in your column mapping's 'sheets', then upload it again."),
            ))
        with_notes(out[first], notes)
    return out
