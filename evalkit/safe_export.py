"""Make cell text safe to open in a spreadsheet program (no formula injection).

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
can be run as a formula by Excel, LibreOffice or Google Sheets when a file is
opened. Any evalkit export of text that came from a provider (reports,
quarantined rows) passes through :func:`safe_cell_text`, which puts a ``'`` in
front of such cells, as OWASP's CSV-injection guidance recommends.

A carriage return inside a cell is written as a line feed: Python's CSV writer
(and so pandas) quotes a cell holding a line feed but not one holding a lone
carriage return, which a spreadsheet reads as the end of the row - so
a cell "x<carriage return>=HYPERLINK(...)" would start a new row with a live formula.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["FORMULA_PREFIXES", "safe_cell_text", "safe_frame"]

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def safe_cell_text(value: object) -> object:
    """``value`` with a leading ``'`` if it is text a spreadsheet could run as a formula; other values unchanged.

    Examples
    --------
    >>> safe_cell_text("=HYPERLINK(\\"http://x\\")")
    '\\'=HYPERLINK("http://x")'
    >>> safe_cell_text("M0001")
    'M0001'
    >>> safe_cell_text(3)
    3
    """
    if isinstance(value, str):
        if value.startswith(FORMULA_PREFIXES):
            value = "'" + value
        if "\r" in value:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) pass through :func:`safe_cell_text`."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.CategoricalDtype) and (
                pd.api.types.is_string_dtype(series.cat.categories.dtype)):  # text held as categories (raw frames)
            out[column] = series = series.astype(object)
        if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
            text = series.astype("string")
            risky = text.str.startswith(FORMULA_PREFIXES).fillna(False).astype(bool)
            if risky.any():
                out[column] = series = series.astype(object).where(~risky.to_numpy(), "'" + text.astype(object))
            breaks = text.str.contains("\r", regex=False).fillna(False).astype(bool)
            if breaks.any():
                fixed = series.astype("string").str.replace("\r\n?", "\n", regex=True).astype(object)
                out[column] = series.astype(object).where(~breaks.to_numpy(), fixed)
    out.columns = [safe_cell_text(str(c)) for c in out.columns]
    return out
