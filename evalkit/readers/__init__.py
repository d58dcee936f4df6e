"""Read providers' files into raw frames of the canonical tables.

Public entry points:

* :func:`read_file` - one file (CSV, Excel workbook, REDCap export, FHIR JSON);
* :func:`read_files` - several files merged table by table;
* :func:`load_mapping` - a saved column mapping or REDCap mapping (JSON).

A *raw frame* (see :mod:`evalkit.canonical`) has canonical column names, every
cell a string or missing, and the provenance columns ``source_file``,
``source_sheet`` and ``source_row``. ``source_file`` and ``source_sheet`` are
categoricals of text (``"str"`` categories: one per file, one per sheet; a CSV
file's ``source_sheet`` has no category, every row missing) and ``source_row`` is
``Int64``. This is a deliberate change of dtype (the names were text on every row
before, about 20 bytes a row for the file's name and 8 for a missing sheet, against
1 byte now); ``frame["source_file"].astype("str")`` gives the text column. What the reader noticed (unknown columns,
ragged rows, stated date formats, headers as written) travels with the frame
in ``frame.attrs`` (:mod:`evalkit.readers.notes`) and becomes report rows when
the frames are validated by :func:`evalkit.validation.validate`.

Files that cannot be read at all raise :class:`~evalkit.errors.InputFileError`
with a one-paragraph message naming the file; no pandas or openpyxl error
escapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.memory import release_freed_memory
from evalkit.readers.csv import read_csv
from evalkit.readers.detect import check_table_name
from evalkit.readers.excel import read_excel
from evalkit.readers.fhir import read_fhir
from evalkit.readers.limits import ReadLimits
from evalkit.readers.notes import NOTES_ATTR, frame_notes, merge_notes, with_notes
from evalkit.readers.raw_frame import PROVENANCE_TEXT_COLUMNS, compact_text_columns, concat_raw_frames
from evalkit.readers.redcap import RedcapMapping, read_redcap

__all__ = [
    "NOTES_ATTR",
    "ColumnMapping",
    "ReadLimits",
    "RedcapMapping",
    "compact_text_columns",
    "load_mapping",
    "read_csv",
    "read_excel",
    "read_fhir",
    "read_file",
    "read_files",
    "read_redcap",
]


_EXCEL = {".xlsx", ".xlsm"}
_TEXT = {".csv", ".txt", ".tsv", ""}
_JSON = {".json", ".ndjson"}


def load_mapping(path: str | Path) -> ColumnMapping | RedcapMapping:
    """Read a mapping file: a :class:`ColumnMapping` or (``"kind": "redcap"``) a :class:`RedcapMapping`.

    Raises
    ------
    ValueError
        If the file is not valid JSON or not a mapping (the message names the file and the problem).
    """
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ValueError(f"mapping file {path} does not exist") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read mapping file {path.name}: {exc}") from None
    try:
        if isinstance(raw, Mapping) and raw.get("kind") == "redcap":
            return RedcapMapping.from_dict(raw, base=path.parent)
        if isinstance(raw, Mapping) and raw.get("kind") == "wide":
            from evalkit.readers.wide import WideMapping

            return WideMapping.from_dict(raw)
        return ColumnMapping.from_dict(raw)
    except ValueError as exc:
        raise ValueError(f"{path.name}: {exc}") from None


def _instrument_registry() -> Mapping[str, Any] | None:
    try:
        from evalkit.instruments import load_instruments  # type: ignore[import-not-found]
    except ImportError:
        return None
    try:
        return load_instruments()
    except Exception:  # noqa: BLE001 - a broken registry must not stop reading; validation reports it
        return None


def _is_wide(path: Path, suffix: str, *, table: str | None, sheet: str | None, mapping: object) -> bool:
    """A wide mapping, or (no mapping, no table named) a sheet with instrument x time point score columns."""
    from evalkit.readers.wide import WideMapping, looks_wide

    if isinstance(mapping, WideMapping):
        return True
    return mapping is None and table is None and suffix in _EXCEL | _TEXT and looks_wide(path, sheet=sheet)


def read_file(
    path: str | Path,
    *,
    table: str | None = None,
    sheet: str | None = None,
    mapping: ColumnMapping | RedcapMapping | None = None,
    limits: ReadLimits | None = None,
    compact: bool = True,
) -> dict[str, pd.DataFrame]:
    """Read one provider file into raw frames by table name.

    Parameters
    ----------
    path
        A ``.csv`` (or ``.tsv``/``.txt``), ``.xlsx``, or FHIR ``.json``/``.ndjson`` file;
        with a :class:`RedcapMapping`, a REDCap records export (CSV).
    table
        The table the file (or chosen sheet) holds. When not given: the sheet
        name or file stem, else the headers (see :mod:`evalkit.readers.detect`).
    sheet
        For a workbook, read only this sheet.
    mapping
        A provider's :class:`ColumnMapping`, :class:`RedcapMapping` or
        :class:`~evalkit.readers.wide.WideMapping`. A wide mapping (or, with no
        mapping and no ``table``, a sheet with questionnaire score columns such
        as "EPDS at start") is read by :func:`evalkit.readers.wide.read_wide`.
    limits
        Size limits (default :class:`ReadLimits`: 200 MB, 5 million rows, 1,000 columns).
    compact
        Hold text columns that repeat their values (codes, dates, item scores)
        as categoricals of the same text (:func:`compact_text_columns`): a
        fifth to a half of the memory, and validation parses each distinct
        value once. Every cell keeps its text. Pass ``False`` for plain
        ``"str"`` columns, for example to edit cells in pandas before
        validating (a categorical refuses a value that is not one of its
        categories).

    Returns
    -------
    dict[str, pandas.DataFrame]
        Raw frames keyed by table name: every cell its text as read (or
        missing), plus the provenance columns.

    Raises
    ------
    InputFileError
        The file cannot be read at all (missing, empty, binary, damaged, too
        large, or its table cannot be told).
    ValueError
        ``table`` is not a table name, or a mapping does not fit the file.
    """
    path = Path(path)
    if table is not None:
        check_table_name(table)
    limits = limits or ReadLimits()
    suffix = path.suffix.lower()
    if not path.exists():
        raise InputFileError("the file does not exist (check the name and folder).", file=str(path))
    compacted = False
    if isinstance(mapping, RedcapMapping):
        result = read_redcap(path, mapping, limits=limits)
    elif _is_wide(path, suffix, table=table, sheet=sheet, mapping=mapping):
        from evalkit.readers.wide import read_wide  # one row per mother: see evalkit.readers.wide

        result = read_wide(path, sheet=sheet, mapping=mapping, limits=limits).raw  # type: ignore[arg-type]
    elif suffix in _EXCEL:
        result = read_excel(path, table=table, sheet=sheet, mapping=mapping, limits=limits)
    elif suffix in _JSON:
        if table not in (None, "measures"):
            raise ValueError(f"FHIR QuestionnaireResponse files hold measures, not {table}")
        result = read_fhir(path, mapping=mapping, instruments=_instrument_registry(), limits=limits)
    elif suffix in _TEXT:
        result = read_csv(path, table=table, mapping=mapping, limits=limits, compact=compact)
        compacted = True  # read_csv compacted its frame itself
    elif suffix in {".xls", ".ods", ".numbers"}:
        raise InputFileError(
            f"evalkit cannot read {suffix} files. Save the spreadsheet as an Excel Workbook (.xlsx) or as CSV.",
            file=path.name,
        )
    else:
        raise InputFileError(
            f"evalkit does not know how to read '{suffix}' files. Expected .csv, .xlsx, or FHIR .json.",
            file=path.name,
        )
    if compact:
        if not compacted:
            for frame in result.values():
                compact_text_columns(frame)
        release_freed_memory()  # the reader's text blocks, freed by the encoding, back to the system
    return result


def read_files(
    paths: Iterable[str | Path],
    *,
    table: str | None = None,
    sheet: str | None = None,
    mapping: ColumnMapping | RedcapMapping | None = None,
    limits: ReadLimits | None = None,
    compact: bool = True,
) -> dict[str, pd.DataFrame]:
    """Read several files and merge their raw frames table by table.

    Rows keep their own provenance, so problems still point at the right file.
    Arguments are those of :func:`read_file`, applied to every file. The first
    file that cannot be read raises :class:`InputFileError`.
    """
    parts: dict[str, list[pd.DataFrame]] = {}
    for path in paths:
        for name, frame in read_file(path, table=table, sheet=sheet, mapping=mapping, limits=limits,
                                     compact=compact).items():
            parts.setdefault(name, []).append(frame)
    return {name: merged_frames(frames, compact=compact) for name, frames in parts.items()}


def merged_frames(frames: list[pd.DataFrame], *, compact: bool = True) -> pd.DataFrame:
    """One table's raw frames from several files (as :func:`read_file` made them) as one raw frame.

    The rows keep their order and provenance and the frames' notes are merged. Categories differ from
    file to file, so categorical columns are joined as text and (with ``compact``) encoded again, but for the
    provenance columns ``source_file`` and ``source_sheet``: their codes are joined into one categorical whose
    categories are every file's (and sheet's) name (:func:`~evalkit.readers.raw_frame.concat_raw_frames`). A
    single frame is returned itself, its columns not copied.
    """
    notes = merge_notes(frame_notes(f) for f in frames)
    if len(frames) > 1:
        # the frames are the caller's own (read_file made them): shallow copies whose columns are replaced, not
        # changed in place, are enough
        bare = [f.copy(deep=False) for f in frames]
        for f in bare:
            f.attrs.clear()
            for column in f.columns[[isinstance(t, pd.CategoricalDtype) for t in f.dtypes]]:
                if column not in PROVENANCE_TEXT_COLUMNS:
                    f[column] = f[column].astype("str")
        merged = concat_raw_frames(bare)
        if compact:
            compact_text_columns(merged)
    else:
        merged = frames[0]
        merged.attrs.clear()
    return with_notes(merged, notes)
