"""The in-memory form of canonical tables, shared by readers, validation, store and analyses.

A *raw frame* is what a reader returns: every cell a string (or missing), the
columns already mapped to canonical names, plus provenance columns.
A *canonical frame* holds only rows that passed validation, typed from the
Table Schema:

======== ===========================================
schema   pandas dtype
======== ===========================================
string   ``"string"`` (missing = ``pd.NA``)
integer  ``"Int64"``
number   ``"float64"`` (missing = NaN)
date     ``"datetime64[ns]"`` at midnight (missing = NaT)
boolean  ``"boolean"``
======== ===========================================

Both kinds carry the provenance columns below, so every problem and every
stored row can be traced to the provider's file and row as they see it.
``source_file`` and ``source_sheet`` are categoricals of text, one category per
file / sheet (the names as pandas text: ``"str"`` in a raw frame, ``"string"`` in
a canonical frame; a CSV file's missing sheet is a row without a category, code
-1), and ``source_row`` is ``"Int64"``. Held so, the file's name costs a byte a row
instead of being written out on every row (at a million participants of issue #8's
volume, the valid tables' ``source_file`` and ``source_sheet`` took 443 MB as text
and take 31 MB as categoricals). This is a deliberate change of these
columns' dtype (they were text before): ``frame["source_file"].astype("string")``
gives the old column. The database stores them as text, and frames read back
from it (:func:`evalkit.store.load_tables` with ``provenance=True``, quarantined
rows) hold them as ``"string"``, as do the quarantine frames of a
:class:`ValidationResult`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

import pandas as pd

SOURCE_FILE: Final = "source_file"
"""Name of the provider's file a row came from (a categorical of text: one category per file)."""
SOURCE_SHEET: Final = "source_sheet"
"""Worksheet name for Excel files (missing for CSV; a categorical of text: one category per sheet)."""
SOURCE_ROW: Final = "source_row"
"""Row number as the provider sees it in a spreadsheet: the header is row 1, the first data row is 2."""
PROVENANCE_COLUMNS: Final = (SOURCE_FILE, SOURCE_SHEET, SOURCE_ROW)

DTYPES: Final = {
    "string": "string",
    "integer": "Int64",
    "number": "float64",
    "date": "datetime64[ns]",
    "boolean": "boolean",
}

REPORT_COLUMNS: Final = ("file", "sheet", "table", "source_row", "column", "value", "rule", "message", "severity")
"""Columns of a validation report, one row per problem.

``severity`` is ``"error"`` (the row is quarantined) or ``"warning"`` (the row is
kept; the provider should check it). ``rule`` is a machine-readable reason code
such as ``required``, ``type``, ``enum``, ``minimum``, ``maximum``, ``pattern``,
``unique``, ``foreign_key``, ``ambiguous_date``, ``future_date``,
``before_referral``, ``unknown_instrument``, ``item_range``, ``total_mismatch``, ``identifier_column``.
"""


def empty_report() -> pd.DataFrame:
    """A validation report with no rows and the standard columns."""
    return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "source_row" else "string") for c in REPORT_COLUMNS})


@dataclass(frozen=True)
class ValidationResult:
    """What validating a set of raw frames produced.

    Attributes
    ----------
    tables
        Canonical, typed frames of the rows that passed (keyed by table name),
        each with the provenance columns (``source_file`` and ``source_sheet``
        categoricals of ``"string"`` text, ``source_row`` ``"Int64"``).
    quarantine
        Per table, the raw rows that failed (strings as uploaded, provenance
        columns as ``"string"`` text, and a ``reasons`` column joining that row's error messages).
    report
        Every problem found, one row each, with :data:`REPORT_COLUMNS`.
    absent_columns
        Per table, the data-contract columns the uploaded file did not have: blank on every row of ``tables``
        because the file lacks them, not because the provider left the cells blank. Storing the upload
        (:func:`evalkit.ingest.ingest`) keeps the stored values of these columns in the rows it updates.
        Empty (the default, e.g. for a result built by hand): every column was uploaded.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    quarantine: dict[str, pd.DataFrame] = field(default_factory=dict)
    report: pd.DataFrame = field(default_factory=empty_report)
    absent_columns: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def n_errors(self) -> int:
        """Number of error rows in the report."""
        return int((self.report["severity"] == "error").sum())

    @property
    def n_warnings(self) -> int:
        """Number of warning rows in the report."""
        return int((self.report["severity"] == "warning").sum())

    @property
    def ok(self) -> bool:
        """True when no error was found."""
        return self.n_errors == 0
