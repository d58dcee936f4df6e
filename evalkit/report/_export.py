"""The report's tables as a workbook (one sheet per table) or a zip of CSV files, hidden cells as the marker."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from evalkit.disclosure import SUPPRESSED_MARKER
from evalkit.safe_export import safe_frame

_BAD_SHEET_CHARS = re.compile(r"[\[\]:*?/\\]")


def readable(frame: pd.DataFrame) -> pd.DataFrame:
    """A table for a spreadsheet: hidden cells become the marker; numbers stay numbers; text is formula-safe.

    Uses the ``suppressed`` column (names of the hidden columns per row,
    written by :func:`evalkit.disclosure.apply_disclosure`), which is kept.
    """
    out = frame.copy()
    for c in out.columns:
        s = out[c]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[c] = s.dt.tz_localize(None)
        elif isinstance(s.dtype, pd.CategoricalDtype):
            out[c] = s.astype(object).where(s.notna(), None)
    if "suppressed" in out.columns:
        hidden = out["suppressed"].fillna("").astype(str).map(lambda t: {p.strip() for p in t.split(";") if p.strip()})
        for c in out.columns:
            if c == "suppressed":
                continue
            mask = hidden.map(lambda h, c=c: str(c) in h).to_numpy(dtype=bool)
            if mask.any():
                col = out[c].astype(object)
                col[mask] = SUPPRESSED_MARKER
                out[c] = col
    out.attrs = {}
    return safe_frame(out)


def sheet_names(names: list[str]) -> dict[str, str]:
    """Table name -> a valid, unique Excel sheet name (at most 31 characters)."""
    used: set[str] = set()
    out: dict[str, str] = {}
    for name in names:
        base = _BAD_SHEET_CHARS.sub("_", name).strip("'")[:31] or "table"
        candidate, k = base, 1
        while candidate.lower() in used:
            k += 1
            suffix = f"~{k}"
            candidate = base[: 31 - len(suffix)] + suffix
        used.add(candidate.lower())
        out[name] = candidate
    return out


def write_xlsx(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One sheet per table, in order."""
    path = Path(path)
    names = sheet_names(list(tables))
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        for name, frame in tables.items():
            readable(frame).to_excel(xl, index=False, sheet_name=names[name])
    return path


def write_csv_zip(tables: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """One ``<table>.csv`` (UTF-8 with BOM, so spreadsheet programs read it right) per table, in a zip file."""
    path = Path(path)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, frame in tables.items():
            buf = io.StringIO()
            readable(frame).to_csv(buf, index=False)
            z.writestr(f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', name)}.csv", buf.getvalue().encode("utf-8-sig"))
    return path
