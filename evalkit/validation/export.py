"""Write a validation report for a person to open: CSV or Excel, safe from formula injection."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from evalkit.canonical import REPORT_COLUMNS
from evalkit.safe_export import safe_frame

__all__ = ["report_to_csv", "report_to_xlsx"]


def _checked(report: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in REPORT_COLUMNS if c not in report.columns]
    if missing:
        raise ValueError(f"report must have the columns {list(REPORT_COLUMNS)}; missing {missing}")
    return safe_frame(report[list(REPORT_COLUMNS)])


def report_to_csv(report: pd.DataFrame, path: str | Path) -> Path:
    """Write ``report`` as CSV (UTF-8 with a byte-order mark, so Excel shows é and £ correctly).

    Cells that a spreadsheet could run as formulas get a leading ``'``
    (:func:`evalkit.safe_export.safe_cell_text`).
    """
    path = Path(path)
    _checked(report).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def report_to_xlsx(report: pd.DataFrame, path: str | Path, *, sheet: str = "problems") -> Path:
    """Write ``report`` as an Excel workbook, cells made formula-safe, columns sized to read."""
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    path = Path(path)
    frame = _checked(report)
    workbook = Workbook()
    ws = workbook.active
    ws.title = sheet
    ws.append(list(frame.columns))
    for record in frame.astype(object).where(frame.notna(), None).itertuples(index=False, name=None):
        ws.append([int(v) if isinstance(v, (int,)) else v for v in record])
    widths = {"file": 24, "sheet": 14, "table": 14, "source_row": 10, "column": 20, "value": 20, "rule": 22,
              "message": 100, "severity": 10}
    for i, column in enumerate(frame.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(str(column), 16)
    ws.freeze_panes = "A2"
    workbook.save(path)
    return path
