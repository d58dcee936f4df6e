"""What a reader learned about a file that validation needs, carried on the raw frame.

Readers return plain ``dict[str, DataFrame]``; what does not fit in the cells
travels in ``frame.attrs[NOTES_ATTR]`` as a small JSON-like dict:

``problems``
    Reader-level problems (unknown or identifying columns, ragged rows, FHIR
    answers that could not be placed), each a dict with the report columns
    (:data:`evalkit.canonical.REPORT_COLUMNS`). An ``error`` attached to a data
    row sets that row aside during validation.
``date_formats``
    Canonical date column -> ``strftime`` format the provider stated in their
    column mapping (removes ``ambiguous_date`` problems for that column).
``cell_date_formats``
    Canonical date column -> {:func:`cell_keys` key -> ``strftime`` format}: the format stated for one cell,
    for a column whose cells come from columns of the provider's file stating different formats (the
    questionnaire dates of a one-row-per-mother sheet, one column per time point). Validation reads each such
    cell in its own format (it wins over ``date_formats``) and names it when the cell does not match.
``sources``
    ``"file|sheet"`` -> ``{"header_row": int, "headers": {canonical: header as written}}``,
    so messages can name the column and header row as the provider sees them.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import numpy as np
import pandas as pd

from evalkit.canonical import REPORT_COLUMNS

__all__ = ["NOTES_ATTR", "cell_keys", "empty_notes", "frame_notes", "merge_notes", "notes_set_aside", "problem",
           "source_key", "with_notes"]

NOTES_ATTR = "evalkit_reading"


def empty_notes() -> dict[str, Any]:
    """Notes with nothing in them."""
    return {"problems": [], "date_formats": {}, "cell_date_formats": {}, "sources": {}}


def source_key(file: str, sheet: str | None) -> str:
    """Key of one file (and sheet) in ``notes["sources"]``."""
    return f"{file}|{sheet or ''}"


def cell_keys(sources: Any, source_rows: Any, instruments: Any, timepoints: Any, texts: pd.Series) -> pd.Series:
    """Keys of cells in ``notes["cell_date_formats"]``: file and sheet (:func:`source_key`), row, the cell's column
    - the instrument and time point of its ``measures`` row, as the provider's sheet has one questionnaire-date
    column for each (a time point's note in brackets, ``start [date assumed: ...]``, dropped) - and the cell's
    text, ``"mums.csv||4|epds|start|13/04/2025"``. So the same text in two date columns of one row keeps each
    column's own format. ``sources``, ``source_rows``, ``instruments`` and ``timepoints`` are one value each or one
    per text; worked out with pandas string methods (the reader and validation make them alike)."""
    n = len(texts)

    def each(values: Any) -> pd.Series:
        return pd.Series(np.broadcast_to(np.asarray(values, dtype=object), (n,)), index=texts.index,
                         dtype=object).astype(str)

    row = pd.Series(np.broadcast_to(np.asarray(source_rows), (n,)), index=texts.index).astype("int64").astype(str)
    timepoint = each(timepoints).str.replace(r"\s*\[.*$", "", regex=True)
    return (each(sources) + "|" + row + "|" + each(instruments) + "|" + timepoint + "|"
            + texts.astype(object).astype(str))


def problem(
    *,
    file: str,
    sheet: str | None,
    table: str,
    source_row: int,
    column: str,
    value: str,
    rule: str,
    message: str,
    severity: str = "warning",
) -> dict[str, Any]:
    """One report row as a dict with exactly :data:`REPORT_COLUMNS`."""
    row = {
        "file": file,
        "sheet": sheet or "",
        "table": table,
        "source_row": int(source_row),
        "column": column,
        "value": value,
        "rule": rule,
        "message": message,
        "severity": severity,
    }
    return {c: row[c] for c in REPORT_COLUMNS}


def frame_notes(frame: pd.DataFrame) -> dict[str, Any]:
    """The notes attached to ``frame`` (a fresh empty set when it has none)."""
    notes = frame.attrs.get(NOTES_ATTR)
    if not isinstance(notes, Mapping):
        return empty_notes()
    out = empty_notes()
    out["problems"] = list(notes.get("problems", ()))
    out["date_formats"] = dict(notes.get("date_formats", {}))
    out["cell_date_formats"] = {c: dict(f) for c, f in notes.get("cell_date_formats", {}).items()}
    out["sources"] = dict(notes.get("sources", {}))
    return out


def merge_notes(all_notes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Combine notes of frames concatenated into one table."""
    out = empty_notes()
    for notes in all_notes:
        out["problems"].extend(notes.get("problems", ()))
        out["date_formats"].update(notes.get("date_formats", {}))
        for column, formats in notes.get("cell_date_formats", {}).items():
            out["cell_date_formats"].setdefault(column, {}).update(formats)
        out["sources"].update(notes.get("sources", {}))
    return out


def with_notes(frame: pd.DataFrame, notes: Mapping[str, Any]) -> pd.DataFrame:
    """Attach ``notes`` to ``frame`` (in place) and return it."""
    frame.attrs[NOTES_ATTR] = copy.deepcopy(dict(notes))
    return frame


@contextmanager
def notes_set_aside(frame: pd.DataFrame) -> Iterator[pd.DataFrame]:
    """Hold ``frame``'s notes aside while the block works on it column by column, then put them back.

    pandas deep-copies a frame's ``attrs`` into every column it hands out (``frame[c]``), so a function that
    reads each column of a raw frame once or twice copied the notes hundreds of times (0.03 s of the 0.45 s
    the five 100k benchmark files took to read). The notes are put back even when the block raises.
    """
    notes = frame.attrs.pop(NOTES_ATTR, None)
    try:
        yield frame
    finally:
        if notes is not None:
            frame.attrs[NOTES_ATTR] = notes
