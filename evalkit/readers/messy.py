"""Find the table in a messy provider sheet: title rows, merged cells, notes, spacer columns, several blocks.

Small charities keep their data in sheets made for people to read, not for
programs: a merged title row or two above the header, a header split over two
rows under merged group cells ("EPDS" over "start" and "end"), blank spacer
columns, a "Total" row and "Notes: ..." under the data, sometimes a second
small table further down. This module turns such a sheet into one clean
:class:`SheetTable` - the header, the data cells and each row's number as the
provider sees it - and says what it left out and why.

The rules (documented for providers in ``docs/WIDE_LAYOUT.md``):

* **Header row**: among the first 30 non-blank rows, the first whose non-blank
  cells mostly (at least half, and at least two) match headers evalkit knows
  (the caller's ``header_score``). A row with horizontally merged cells over a
  second row ("EPDS" over "start" / "end") is read as a two-row header, the
  merged cell's text is repeated over its columns and joined with the text
  below ("EPDS start"). If no row qualifies, the row with most known headers
  is used, else the first row with two or more filled cells.
* **Title rows** above the header are not read (merged title cells included).
* **Merged cells in the data** (a programme name merged down several rows) give
  their value to every cell they cover.
* **Blank spacer columns** (no header and no data) are dropped; blank rows
  inside the data are skipped.
* **Notes and totals**: a row whose only filled cell starts with a note word
  ("Notes:", "NB", "Source", "Key", ...) or is long free text, and a row whose
  first filled cell is "Total", "Average", ... are not data; they are reported.
* **Several tables on one sheet**: after a blank row, a row that looks like
  another header starts another block; that block (to the next blank row) is
  not read and is reported with its row numbers.
* **Missing-value words**: :data:`MISSING_TOKENS` (``n/a``, ``-``, ``not done``,
  ``N/K``, ``?``, ...) mean a blank cell (see :func:`is_missing`).

Reading a workbook uses openpyxl's full (not read-only) mode, which is needed
for merged ranges; the size limits of :class:`~evalkit.readers.limits.ReadLimits`
and the zip checks of :func:`~evalkit.readers.excel.check_workbook_archive`
are applied first.
"""

from __future__ import annotations

import csv as std_csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.column_mapping import PUNCTUATION_RUNS, normalise_value
from evalkit.errors import InputFileError
from evalkit.readers.limits import ReadLimits, check_file_size

__all__ = [
    "MISSING_TOKENS",
    "Grid",
    "SheetTable",
    "extract_table",
    "grid_from_frame",
    "is_missing",
    "is_summary_label",
    "missing_cells",
    "summary_row_message",
    "summary_word_pattern",
    "read_grids",
    "wide_aliases",
]

HeaderScore = Callable[[list[str]], int]
"""Number of cells of a candidate header row that are headers the caller knows."""

_SCAN_ROWS = 30


@cache
def wide_aliases() -> dict[str, Any]:
    """The word lists in ``wide_aliases.json`` beside this module (read once)."""
    return json.loads(Path(__file__).with_name("wide_aliases.json").read_text(encoding="utf-8"))


def _folded_set(words: Iterable[str]) -> frozenset[str]:
    return frozenset(normalise_value(w) if normalise_value(w) else w.strip().casefold() for w in words)


@cache
def _missing() -> frozenset[str]:
    return _folded_set(wide_aliases()["missing_tokens"])


MISSING_TOKENS: tuple[str, ...] = tuple(wide_aliases()["missing_tokens"])
"""Cell texts read as a blank cell (case and punctuation ignored): ``n/a``, ``-``, ``not done``, ``N/K``, ``?`` ..."""


def is_missing(text: object) -> bool:
    """Whether a cell is blank or one of :data:`MISSING_TOKENS` (``"n/a"``, ``" - "``, ``"Not done"``, ``"?"``)."""
    if text is None or (isinstance(text, float) and text != text):
        return True
    return _missing_text(str(text))


def missing_cells(values: pd.Series) -> np.ndarray:
    """Per cell, whether it is blank or one of :data:`MISSING_TOKENS`, as :func:`is_missing` says of one cell.

    The one vectorised home of that test (the one-row-per-mother reader's cleaning and date columns, and the
    mapping proposal's number columns, ask it): worked out once per distinct cell with pandas string methods,
    then spread to the rows.
    """
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype(str).astype(object).str.strip()
    key = text.str.casefold().str.replace(PUNCTUATION_RUNS, " ", regex=True).str.strip()  # normalise_value
    missing = ((text == "") | key.where(key != "", text.str.casefold()).isin(_missing())).to_numpy(dtype=bool)
    return np.concatenate([np.ones(1, dtype=bool), missing]).take(np.add(codes, 1, dtype=np.int64))


@lru_cache(maxsize=65536)
def _missing_text(text: str) -> bool:
    s = text.strip()
    if not s:
        return True
    key = normalise_value(s)
    return (key or s.casefold()) in _missing()


# --------------------------------------------------------------------------- grids


@dataclass(frozen=True)
class Grid:
    """Every cell of one sheet (or CSV file) as text, with the sheet's merged ranges.

    Attributes
    ----------
    file, sheet
        Where the cells came from (``sheet`` is ``None`` for a CSV file).
    rows
        Cell texts row by row (``None`` for an empty cell); ``rows[i]`` is row ``i + 1``.
    merged
        Merged ranges as ``(min_row, min_col, max_row, max_col)``, 1-based and inclusive.
    delimiter
        For a delimited text file, its delimiter (``None`` for a workbook or a frame). Each of ``rows`` then
        holds every cell the row was split into, so a row with more cells than the header's can be told
        (:func:`extract_table` reports it).
    hidden
        A workbook sheet hidden from view, read without being chosen by name (:func:`extract_table`
        reports it).
    """

    file: str
    sheet: str | None
    rows: list[list[str | None]]
    merged: tuple[tuple[int, int, int, int], ...] = ()
    delimiter: str | None = None
    hidden: bool = False


def _cell_text(value: Any) -> str | None:
    from evalkit.readers.excel import cell_text

    text = cell_text(value)
    if text is None:
        return None
    text = str(text)
    return text if text.strip() else None


_MERGE_RE = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*\bref="([A-Z]+[0-9]+:[A-Z]+[0-9]+)"')


def _merged_ranges(path: Path, part: str | None) -> tuple[tuple[int, int, int, int], ...]:
    """Merged ranges of one worksheet part, read from its XML (openpyxl's read-only mode does not give them)."""
    import zipfile

    from openpyxl.utils.cell import range_boundaries

    if not part:
        return ()
    with zipfile.ZipFile(path) as archive:
        try:
            xml = archive.read(part.lstrip("/"))
        except KeyError:
            return ()
    out = []
    for ref in _MERGE_RE.findall(xml):
        c0, r0, c1, r1 = range_boundaries(ref.decode("ascii"))
        out.append((int(r0), int(c0), int(r1), int(c1)))  # type: ignore[arg-type]
    return tuple(out)


def _xlsx_grids(path: Path, sheet: str | None, limits: ReadLimits) -> list[Grid]:
    import openpyxl

    from evalkit.readers.excel import check_workbook_archive, sheet_cells

    check_workbook_archive(path, limits)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for damaged files
        raise InputFileError(
            f"the workbook cannot be opened ({type(exc).__name__}: {exc}). Save it again from Excel as .xlsx.",
            file=path.name,
        ) from None
    try:
        names = list(workbook.sheetnames)
        if sheet is not None:
            match = [n for n in names if n.strip().casefold() == sheet.strip().casefold()]
            if not match:
                raise InputFileError(
                    f"there is no sheet called '{sheet}'. The workbook has: {', '.join(repr(n) for n in names)}.",
                    file=path.name,
                )
            names = match[:1]
        grids = []
        for name in names:
            ws = workbook[name]
            rows: list[list[str | None]] = []
            # only cells holding a value are read (a formatted cell far down or to the right costs nothing);
            # blank rows are made only up to the last row with a value
            for number, columns, texts in sheet_cells(ws, label=path.name, limits=limits):
                if number > limits.max_rows + _SCAN_ROWS:
                    raise InputFileError(
                        f"the sheet '{name}' has more than {limits.max_rows:,} rows, more than evalkit reads from "
                        "one sheet. Split it into smaller files.",
                        file=path.name,
                    )
                rows.extend([] for _ in range(number - 1 - len(rows)))
                row: list[str | None] = [None] * columns[-1]
                for column, text in zip(columns, texts, strict=True):
                    row[column - 1] = text
                rows.append(row)
            if rows:
                merged = _merged_ranges(path, getattr(ws, "_worksheet_path", None))
                hidden = sheet is None and getattr(ws, "sheet_state", "visible") in ("hidden", "veryHidden")
                grids.append(Grid(path.name, name, rows, merged, hidden=hidden))
        return grids
    except InputFileError:
        raise
    except (KeyError, ValueError, TypeError, OSError, EOFError, zipfile.BadZipFile, SyntaxError) as exc:
        # BadZipFile: a damaged part (bad CRC); SyntaxError: xml.etree's ParseError for malformed or hostile
        # sheet XML (entity expansion, XXE)
        raise InputFileError(
            f"the workbook is damaged and cannot be read ({type(exc).__name__}: {exc}).", file=path.name
        ) from None
    finally:
        workbook.close()


_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def _text_grid(path: Path, limits: ReadLimits) -> Grid:
    """The cells of a delimited text file, one grid row per record.

    A cell that a quote mark left open, so that it holds the lines of later rows
    (:func:`evalkit.readers.csv.swallows_rows`), refuses the file with the row, column and lines: those rows
    would otherwise be lost without a word.
    """
    from evalkit.readers.csv import decode_text, sniff_delimiter

    text = decode_text(path.read_bytes(), file_label=path.name)
    if not text.strip():
        raise InputFileError(
            "the file has no text in it. Expected a header row naming the columns, then one row per mother.",
            file=path.name,
        )
    delimiter = sniff_delimiter(text)
    std_csv.field_size_limit(10 * 1024 * 1024)
    rows: list[list[str | None]] = []
    reader = std_csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    line = 0  # the file's last line read
    widest = 0
    lines = len(_LINE_BREAK.findall(text.rstrip("\r\n"))) + 1  # the last line that is not blank
    try:
        for record in reader:
            opens, line = line + 1, reader.line_num
            widest = max(widest, len(record))
            if line > opens:  # a cell holds a line break
                _check_quotes(record, rows, delimiter, widest, opens=opens, lines=lines, file=path.name)
            rows.append([c if c.strip() else None for c in record])
            if len(rows) > limits.max_rows + _SCAN_ROWS:
                raise InputFileError(
                    f"it has more than {limits.max_rows:,} rows, more than evalkit reads from one file.",
                    file=path.name,
                )
    except std_csv.Error as exc:
        raise InputFileError(
            f"the CSV text cannot be split into cells ({exc}). Check for a quote mark (\") that is opened but "
            "never closed, then save the sheet as CSV again.",
            file=path.name,
        ) from None
    if rows and max(len(r) for r in rows) > limits.max_columns:
        raise InputFileError(
            f"it has more than {limits.max_columns:,} columns. Expected one column per field.", file=path.name
        )
    return Grid(path.name, None, rows, delimiter=delimiter)


def _check_quotes(record: list[str], rows: list[list[str | None]], delimiter: str, width: int, *, opens: int,
                  lines: int, file: str) -> None:
    """Refuse the file when a cell of ``record`` (starting on line ``opens``) swallowed the lines of other rows.

    The column is named by its letter and by its header: the cell above it in the first earlier row with two
    or more filled cells. ``lines`` is the number of the file's last line that is not blank.
    """
    from evalkit.readers.csv import swallows_rows, unclosed_quote_message
    from evalkit.readers.headers import column_letter

    start = opens
    for p, cell in enumerate(record):
        breaks = len(_LINE_BREAK.findall(cell))
        if breaks and swallows_rows(cell, delimiter, width, position=p, first_cell=record[0], after=record[p + 1:]):
            header = next((r[p] for r in rows if len(_nonblank(r)) >= 2 and p < len(r) and r[p]), None)
            column = f"{column_letter(p)} ('{header.strip()}')" if header else column_letter(p)
            closes = start + len(_LINE_BREAK.findall(cell.rstrip("\r\n")))
            at_end = closes >= lines and not any(c.strip() for c in record[p + 1:])
            raise InputFileError(
                unclosed_quote_message(row=len(rows) + 1, column=column, opens=start, closes=closes,
                                       last=at_end, value=cell, file_refused=True),
                file=file,
            )
        start += breaks


def read_grids(path: str | Path, *, sheet: str | None = None, limits: ReadLimits | None = None) -> list[Grid]:
    """Every cell of a workbook's sheets (``.xlsx``/``.xlsm``) or of a CSV file, as text.

    Parameters
    ----------
    path
        The provider's file.
    sheet
        For a workbook, only this sheet (name matched ignoring case).
    limits
        Size limits (default :class:`ReadLimits`).

    Returns
    -------
    list[Grid]
        One grid per non-empty sheet (one for a CSV file).

    Raises
    ------
    InputFileError
        The file is missing, empty, too large, not a workbook or CSV, damaged,
        has no data, or has no sheet of that name.
    """
    path = Path(path)
    limits = limits or ReadLimits()
    if not path.exists():
        raise InputFileError("the file does not exist (check the name and folder).", file=str(path))
    check_file_size(path, limits)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        grids = _xlsx_grids(path, sheet, limits)
    elif suffix in (".csv", ".txt", ".tsv", ""):
        grids = [_text_grid(path, limits)]
    elif suffix in (".xls", ".ods", ".numbers"):
        raise InputFileError(
            f"evalkit cannot read {suffix} files. Save the spreadsheet as an Excel Workbook (.xlsx) or as CSV.",
            file=path.name,
        )
    else:
        raise InputFileError(
            f"evalkit does not know how to read '{suffix}' files here. Expected .xlsx or .csv.", file=path.name
        )
    if not grids:
        raise InputFileError(
            "the workbook has no sheet with any data. Expected a sheet with a header row naming the columns.",
            file=path.name,
        )
    return grids


def grid_from_frame(frame: pd.DataFrame, *, file: str = "(table)", sheet: str | None = None) -> Grid:
    """A :class:`Grid` from a DataFrame.

    Column names are the header row (row 1) -- unless they are the default
    ``0, 1, 2, ...`` (e.g. ``pandas.read_excel(..., header=None)``), in which
    case every row of the frame is a row of the sheet and the header is found
    as in a file.
    """
    body = frame.astype(object).where(frame.notna(), None).to_numpy().tolist()
    rows: list[list[str | None]] = []
    if not isinstance(frame.columns, pd.RangeIndex):
        rows.append([None if str(c).strip() == "" else str(c) for c in frame.columns])
    for row in body:
        rows.append([None if v is None or not str(v).strip() else _cell_text(v) for v in row])
    return Grid(file, sheet, rows)


# --------------------------------------------------------------------------- the table in a grid


@dataclass(frozen=True)
class SheetTable:
    """The table found in one sheet: headers, data cells and where everything was.

    Attributes
    ----------
    file, sheet
        Where the table came from.
    headers
        Header of each kept column as read (two-row headers joined: ``"EPDS start"``).
    columns
        Spreadsheet column number (1-based) of each kept column.
    cells
        Data cells as text (``None`` = empty), one column per header, columns ``0..k-1``.
    source_rows
        Row number of each data row as the provider sees it (1-based).
    header_row
        Row number of the header (the lower row of a two-row header).
    layout
        Plain sentences about the layout (title rows, two-row header, spacer
        columns skipped), for the mapping summary.
    problems
        What was found and not read (note and total rows, other tables), as
        dicts with ``source_row``, ``rule``, ``value`` and ``message``; and, with
        ``"severity": "error"``, data rows read but not to be trusted (a delimited
        text row split into more cells than the header has: ``extra_cells``).
    """

    file: str
    sheet: str | None
    headers: list[str]
    columns: list[int]
    cells: pd.DataFrame
    source_rows: np.ndarray
    header_row: int
    layout: tuple[str, ...] = ()
    problems: tuple[dict[str, Any], ...] = ()

    @property
    def where(self) -> str:
        """``"file.xlsx, sheet 'Mums'"`` for messages."""
        return self.file + (f", sheet '{self.sheet}'" if self.sheet else "")

    def head(self, n: int) -> SheetTable:
        """The same table with only its first ``n`` data rows."""
        return replace(self, cells=self.cells.iloc[:n].reset_index(drop=True), source_rows=self.source_rows[:n])


def _width(grid: Grid) -> int:
    return max((len(r) for r in grid.rows), default=0)


def _dense(grid: Grid) -> list[list[str | None]]:
    w = _width(grid)
    return [list(r) + [None] * (w - len(r)) for r in grid.rows]


def _nonblank(row: list[str | None]) -> list[int]:
    return [i for i, c in enumerate(row) if c is not None and str(c).strip()]


def _fill_horizontal(row: list[str | None], r: int, merged: tuple[tuple[int, int, int, int], ...],
                     width: int) -> tuple[list[str | None], bool]:
    """Row ``r`` (1-based) with each horizontal merge's text repeated over its columns; and whether it had one."""
    out = list(row)
    had = False
    for (r0, c0, r1, c1) in merged:
        if r0 <= r <= r1 and c1 > c0:
            covers = c1 - c0 + 1
            if covers >= max(3, int(0.8 * width)) and r0 == r:
                continue  # a title merged across the sheet
            top = row[c0 - 1] if r0 == r else None
            if top is None:
                continue
            had = True
            for c in range(c0, min(c1, width) + 1):
                if out[c - 1] is None:
                    out[c - 1] = top
    return out, had


def _join_header(upper: str | None, lower: str | None) -> str:
    u = (upper or "").strip()
    lo = (lower or "").strip()
    if u and lo and normalise_value(u) != normalise_value(lo):
        return f"{u} {lo}"
    return u or lo


@cache
def _word_patterns(key: str) -> re.Pattern[str]:
    words = sorted((normalise_value(w) for w in wide_aliases()[key]), key=len, reverse=True)
    return re.compile(r"^(?:" + "|".join(re.escape(w) for w in words if w) + r")\b")


def _is_note(text: str) -> bool:
    folded = normalise_value(text)
    if _word_patterns("note_words").match(folded):
        return True
    return text.strip().startswith(("*", "†")) or (len(text.strip()) > 40 and " " in text.strip())


def summary_row_message(row: int, label: str) -> str:
    """The message for a total or summary row that was not read (:func:`is_summary_label`)."""
    return (f"Row {row} starts with '{label[:30]}', a total or summary row, not a mother's data; it was not read "
            "(evalkit computes its own totals).")


def summary_word_pattern() -> str:
    """A regular expression (case-insensitive) matching the start of every text :func:`is_summary_label` accepts
    (for a quick first test in Arrow)."""
    words = sorted((normalise_value(w) for w in wide_aliases()["summary_words"]), key=len, reverse=True)
    return r"^[\W_]*(?:" + "|".join(r"[\W_]+".join(re.escape(part) for part in w.split()) for w in words if w) + ")"


def is_summary_label(text: str) -> bool:
    """Whether a row's first cell names a total or summary row ("Total", "Grand total", "Average", ...: the
    ``summary_words`` of ``wide_aliases.json``), not a mother's data; a number never does."""
    return bool(_word_patterns("summary_words").match(normalise_value(text))) and not _looks_numeric(text)


def _looks_numeric(text: str) -> bool:
    return bool(re.fullmatch(r"\s*[-+]?\d+(?:[.,]\d+)?\s*", text))


_DATE_LIKE = re.compile(r"^\s*(\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4})")


def _is_value(text: str) -> bool:
    """A number or a date (what a header cell never is)."""
    return _looks_numeric(text) or bool(_DATE_LIKE.match(text))


def _starts_other_table(row: list[str | None], following: list[str | None] | None, header_score: HeaderScore) -> bool:
    """Whether a row after a blank row is the header of another table.

    It is when it holds only text (no numbers or dates) in two or more cells,
    and either it names two or more headers evalkit knows, or the row under it
    has a number or a date in a column where this row has text (a header over
    its values: "Month | Referrals" over "Jan | 12").
    """
    cells = _nonblank(row)
    if len(cells) < 2 or any(_is_value(str(row[c])) for c in cells):
        return False
    if header_score([(c or "").strip() for c in row]) >= 2:
        return True
    if following is None:
        return False
    return any(c < len(following) and following[c] is not None and _is_value(str(following[c])) for c in cells)


def extract_table(grid: Grid, *, header_score: HeaderScore, header_row: int | None = None) -> SheetTable:
    """Find the header and the data block of one sheet; see the module docstring for the rules.

    Parameters
    ----------
    grid
        The sheet's cells.
    header_score
        Counts how many cells of a candidate header row are known headers.
    header_row
        Use this row (1-based) as the header instead of detecting it.

    Raises
    ------
    InputFileError
        The sheet has no non-blank row.
    """
    rows = _dense(grid)
    width = _width(grid)
    label = grid.file + (f", sheet '{grid.sheet}'" if grid.sheet else "")
    filled = [i for i, r in enumerate(rows) if _nonblank(r)]
    if not filled:
        raise InputFileError("the sheet has no data. Expected a header row naming the columns.", file=label)
    layout: list[str] = []

    def candidate(i: int) -> tuple[list[str], int, int, int]:
        """(headers, known, nonblank, rows used) for a header starting at 0-based row ``i``."""
        single, had_merge = _fill_horizontal(rows[i], i + 1, grid.merged, width)
        best = ([(c or "").strip() for c in single], 1)
        known = header_score(best[0])
        if had_merge and i + 1 < len(rows) and _nonblank(rows[i + 1]):
            lower, _ = _fill_horizontal(rows[i + 1], i + 2, grid.merged, width)
            if not any(_looks_numeric(c) for c in lower if c):
                two = [_join_header(u, lo) for u, lo in zip(single, lower, strict=True)]
                k2 = header_score(two)
                if k2 > known:
                    best, known = (two, 2), k2
        nonblank = sum(1 for h in best[0] if h)
        return best[0], known, nonblank, best[1]

    if header_row is not None:
        if not 1 <= header_row <= len(rows) or not _nonblank(rows[header_row - 1]):
            raise InputFileError(f"the header row {header_row} given in the mapping is blank or missing.",
                                 file=label)
        start = header_row - 1
        headers, _known, _nb, used = candidate(start)
    else:
        scanned = []
        chosen = None
        for i in filled[:_SCAN_ROWS]:
            h, k, nb, u = candidate(i)
            scanned.append((i, h, k, nb, u))
            if k >= 2 and 2 * k >= nb:
                chosen = (i, h, u)
                break
        if chosen is None:
            best = max(scanned, key=lambda s: (s[2], -s[0]))
            if best[2] >= 1:
                chosen = (best[0], best[1], best[4])
            else:
                first = next((s for s in scanned if s[3] >= 2), scanned[0])
                chosen = (first[0], first[1], first[4])
            layout.append(f"No row clearly looks like a header; row {chosen[0] + 1} was taken as the header.")
        start, headers, used = chosen
    first_data = start + used
    header_line = start + used  # 1-based number of the lower header row
    above = [i + 1 for i in filled if i < start]
    if above:
        span = f"row {above[0]}" if len(above) == 1 else f"rows {above[0]}-{above[-1]}"
        layout.append(f"{span.capitalize()} above the header {'is a title' if len(above) == 1 else 'are titles'} "
                      "and not read.")
    if used == 2:
        upper = [(c or "").strip() for c in _fill_horizontal(rows[start], start + 1, grid.merged, width)[0]]
        lower = [(c or "").strip() for c in rows[start + 1]]
        joined = [h for h, u, lo in zip(headers, upper, lower, strict=False) if u and lo and h != u and h != lo]
        layout.append(f"Rows {start + 1}-{start + 2} are a two-row header (merged group cells over sub-headers); "
                      "their words were joined, e.g. '" + (joined[0] if joined else headers[0]) + "'.")
    else:
        layout.append(f"Header on row {start + 1}.")

    # merged ranges inside the data give their value to every cell they cover
    body = [list(r) for r in rows[first_data:]]
    for (r0, c0, r1, c1) in grid.merged:
        if r0 - 1 >= first_data and (r1 > r0 or c1 > c0):
            value = rows[r0 - 1][c0 - 1]
            if value is None:
                continue
            for r in range(r0, r1 + 1):
                for c in range(c0, c1 + 1):
                    if r - 1 - first_data < len(body) and body[r - 1 - first_data][c - 1] is None:
                        body[r - 1 - first_data][c - 1] = value

    problems: list[dict[str, Any]] = []
    keep_rows: list[int] = []
    header_key = [normalise_value(h) for h in headers]
    # a delimited text file's rows hold every cell they were split into: a data row longer than the header
    # was split at a delimiter typed inside a cell
    split_width = max(len(grid.rows[start + k]) for k in range(used)) if grid.delimiter is not None else None
    i = 0
    after_gap = False
    while i < len(body):
        row = body[i]
        number = first_data + i + 1
        cells = _nonblank(row)
        if not cells:
            after_gap = True
            i += 1
            continue
        texts = [str(row[c]).strip() for c in cells]
        repeats = [normalise_value(str(c or "")) for c in row] == header_key
        if repeats and not after_gap:
            layout.append(f"Row {number} repeats the header and was skipped.")
            i += 1
            continue
        if len(cells) == 1 and _is_note(texts[0]):
            problems.append({"source_row": number, "rule": "note_row", "value": texts[0][:80],
                             "message": f"Row {number} is a note ('{texts[0][:60]}'), not a mother's data; it was "
                                        "not read."})
            i += 1
            continue
        if is_summary_label(texts[0]):
            problems.append({"source_row": number, "rule": "summary_row", "value": texts[0][:80],
                             "message": summary_row_message(number, texts[0])})
            i += 1
            continue
        if after_gap and keep_rows and (repeats or _starts_other_table(
                row, body[i + 1] if i + 1 < len(body) else None, header_score)):
            end = i
            while end < len(body) and _nonblank(body[end]):
                end += 1
            last = first_data + end
            shown = ", ".join(f"'{t}'" for t in texts[:4])
            same = " with the same headers" if repeats else f" (headers {shown}...)"
            problems.append({"source_row": number, "rule": "other_table", "value": "; ".join(texts[:6])[:80],
                             "message": f"Rows {number}-{last} hold another table{same}; only the table with its "
                                        f"header on row {header_line} was read. Put other tables on their own "
                                        "sheet if they should be read (or, if it continues the same table, remove "
                                        "the blank row and the repeated header)."})
            i = end
            after_gap = True
            continue
        after_gap = False
        keep_rows.append(i)
        if split_width is not None and len(grid.rows[first_data + i]) > split_width:
            extra = [str(c).strip() for c in grid.rows[first_data + i][split_width:] if c is not None]
            if extra:  # read, and set aside by its error
                from evalkit.readers.csv import extra_cells_message

                shown, message = extra_cells_message(row=number, n_cells=len(grid.rows[first_data + i]),
                                                     width=split_width, extra=extra, delimiter=grid.delimiter)
                problems.append({"source_row": number, "rule": "extra_cells", "value": shown[:80],
                                 "severity": "error", "message": message})
        i += 1

    data = [body[i] for i in keep_rows]
    numbers = np.asarray([first_data + i + 1 for i in keep_rows], dtype=np.int64)
    if grid.hidden:
        from evalkit.readers.excel import hidden_sheet_message

        problems.append({"source_row": header_line, "rule": "hidden_sheet", "value": str(grid.sheet),
                         "message": hidden_sheet_message(str(grid.sheet), len(keep_rows))})
    keep_cols = []
    spacers = []
    for c in range(width):
        has_header = bool(headers[c].strip()) if c < len(headers) else False
        has_data = any(r[c] is not None and str(r[c]).strip() for r in data)
        if has_header or has_data:
            keep_cols.append(c)
        elif any(k > c for k in range(width) if (k < len(headers) and headers[k].strip())):
            spacers.append(c)
    if spacers:
        from evalkit.readers.headers import column_letter

        letters = ", ".join(column_letter(c) for c in spacers)
        layout.append(f"Blank spacer column{'s' if len(spacers) > 1 else ''} {letters} skipped.")
    cells = pd.DataFrame([[r[c] for c in keep_cols] for r in data], columns=range(len(keep_cols)), dtype=object)
    if not data:
        cells = pd.DataFrame({k: pd.Series([], dtype=object) for k in range(len(keep_cols))})
    return SheetTable(
        file=grid.file, sheet=grid.sheet, headers=[headers[c] if c < len(headers) else "" for c in keep_cols],
        columns=[c + 1 for c in keep_cols], cells=cells, source_rows=numbers, header_row=header_line,
        layout=tuple(layout), problems=tuple(problems),
    )
