"""HTML building blocks for the report: escaping, number formatting, hidden cells and accessible tables.

Everything that came from data goes through :func:`esc` (``html.escape`` with
quotes), so a programme called ``<script>`` is printed, never run. A cell whose
column is listed in its row's ``suppressed`` column (see
:func:`evalkit.disclosure.apply_disclosure`) is printed as the disclosure
marker, never as a number; a value that is missing for another reason (not
estimable, not applicable) is printed as an en dash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from evalkit.disclosure import (  # noqa: F401 - re-exported for the report
    NOT_COMPUTED_MARKER,
    SUPPRESSED_MARKER,
    hidden_columns,
    scrub_small_counts,
)

MINUS = "\u2212"
DASH = NOT_COMPUTED_MARKER
HIDDEN_HTML = (f'<span class="c" title="hidden: a small number, or a figure that would reveal one">'
               f"{html.escape(SUPPRESSED_MARKER)}</span>")
NA_HTML = f'<span class="na" title="not available or not estimable">{DASH}</span>'
NOT_COMPUTED_NOTE = (f"{DASH} (a dash) marks a figure that was not computed: no mothers to compute it from, or too "
                     "few for the method (the table's notes say which); it never hides a number.")

Row = Mapping[str, Any]


def esc(value: object) -> str:
    """``value`` as HTML text (``None`` and missing values become empty)."""
    if is_missing(value):
        return ""
    return html.escape(str(value), quote=True)


def is_missing(value: object) -> bool:
    """Whether a cell is missing (``None``, ``pd.NA``, ``NaT`` or a NaN float)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, (float, np.floating)):
        return bool(math.isnan(value))
    return False


def number(value: object, digits: int = 1) -> str:
    """A number for people: fixed decimals, thousands separators, a true minus sign."""
    v = float(value)  # type: ignore[arg-type]
    text = f"{v:,.{digits}f}"
    if text.lstrip("-").strip("0.,") == "":  # -0.0 -> 0.0
        text = text.lstrip("-")
    return text.replace("-", MINUS)


def count_text(value: object) -> str:
    """A count as text (whole number with thousands separators)."""
    return f"{int(round(float(value))):,}"  # type: ignore[arg-type]


def fig(row: Row, col: str, digits: int = 1, unit: str = "") -> str:
    """One figure as HTML: the marker when hidden, a dash when missing."""
    if col in hidden_columns(row):
        return HIDDEN_HTML
    v = row.get(col)
    if is_missing(v):
        return NA_HTML
    if isinstance(v, (bool, np.bool_)):
        return "yes" if v else "no"
    if not isinstance(v, (int, float, np.integer, np.floating)):
        return esc(v)
    return esc(number(v, digits) + unit)


def cnt(row: Row, col: str) -> str:
    """One count as HTML: the marker when hidden, a dash when missing."""
    if col in hidden_columns(row):
        return HIDDEN_HTML
    v = row.get(col)
    if is_missing(v):
        return NA_HTML
    return esc(count_text(v))


def est_ci(row: Row, est: str, lo: str, hi: str, digits: int = 1, unit: str = "") -> str:
    """An estimate with its interval, ``−5.8 (−8.2 to −3.3)``; hidden when any part is hidden."""
    h = hidden_columns(row)
    if est in h or lo in h or hi in h:
        return HIDDEN_HTML
    v = row.get(est)
    if is_missing(v):
        return NA_HTML
    out = f'<span class="v">{esc(number(v, digits) + unit)}</span>'
    a, b = row.get(lo), row.get(hi)
    if not is_missing(a) and not is_missing(b):
        out += f' <span class="ci">({esc(number(a, digits))} to {esc(number(b, digits) + unit)})</span>'
    return out


def pct_of(row: Row, pct: str, num: str, den: str | None = None, digits: int = 0) -> str:
    """A percentage with its Wilson interval and, beneath, the count it rests on (``11 of 17``)."""
    main = est_ci(row, pct, f"{pct}_ci_low", f"{pct}_ci_high", digits, "%")
    parts = [cnt(row, num)]
    if den is not None:
        parts.append(cnt(row, den))
    sub = " of ".join(parts)
    return f'{main}<br><small>n = {sub}</small>'


def words(value: object) -> str:
    """A code such as ``health_visitor`` as words (escaped); missing becomes 'not recorded'."""
    if is_missing(value):
        return "not recorded"
    return esc(str(value).replace("_", " "))


def code_label(table: str, fld: str, value: object) -> str:
    """A coded value as the data contract labels it (plain text): ``gp`` -> 'GP', ``one_to_one`` -> 'One-to-one'.

    Values the schema does not list (free text such as a region, or a field
    without codes) are returned with underscores as spaces; missing is
    'not recorded'.
    """
    from evalkit.schemas import table_schema

    if is_missing(value):
        return "not recorded"
    try:
        codes = table_schema(table).field(fld).codes or {}
    except KeyError:
        codes = {}
    return str(codes.get(str(value), str(value).replace("_", " ")))


def coded(table: str, fld: str, value: object) -> str:
    """:func:`code_label` as escaped HTML."""
    return esc(code_label(table, fld, value))


@dataclass(frozen=True)
class Column:
    """One column of a rendered table: its header and how to render a row's cell (HTML)."""

    header: str
    render: Callable[[Row], str]
    numeric: bool = True


def by_programme(frame: pd.DataFrame, pids: Sequence[str], key: str,
                 convert: Callable[[Any], Any] = str) -> list[dict[str, Any]]:
    """One record per programme (in ``pids`` order, programmes without rows left out) holding its rows by ``key``.

    A long table (one row per programme x category) becomes the rows of a wide
    HTML table: ``{"programme_id": pid, convert(row[key]): row, ...}``.
    """
    wide: list[dict[str, Any]] = []
    pid_text = frame["programme_id"].astype(str)
    for pid in pids:  # one pass per programme shown (a handful), not per data row
        rows = frame[pid_text == pid]
        if len(rows):
            wide.append({"programme_id": pid, **{convert(r[key]): r for r in rows.to_dict("records")}})
    return wide


def share_cell(key: Any, *, total: Any = "total") -> Callable[[Row], str]:
    """Cell renderer for :func:`by_programme` records: ``pct`` with its interval and n, or the ``total`` n."""
    def render(w: Row) -> str:
        r = w.get(key)
        if r is None:
            return NA_HTML
        if key == total:
            return cnt(r, "n")
        return f"{est_ci(r, 'pct', 'pct_ci_low', 'pct_ci_high', 0, '%')}<br><small>n = {cnt(r, 'n')}</small>"
    return render


def table(frame: pd.DataFrame | Sequence[Row], columns: Sequence[Column], *, caption: str, name: str | None = None,
          note: str | None = None, empty: str = "No rows.", row_class: Callable[[Row], str] | None = None) -> str:
    """An accessible table: caption, column headers with ``scope``, the first column as row headers.

    ``caption`` and ``note`` are plain text (escaped here); ``name`` is the
    table's name in :attr:`Report.tables` and the workbook.
    """
    rows = frame.to_dict("records") if isinstance(frame, pd.DataFrame) else list(frame)
    cap = esc(caption)
    if name:
        cap += f' <span class="src">(table <code>{esc(name)}</code>)</span>'
    if not rows:
        return f'<p class="empty"><strong>{cap}</strong>: {esc(empty)}</p>'
    head = "".join(f'<th scope="col"{" class=num" if c.numeric and i else ""}>{esc(c.header)}</th>'
                   for i, c in enumerate(columns))
    body = []
    for r in rows:
        cls = row_class(r) if row_class else ""
        cells = []
        for i, c in enumerate(columns):
            content = c.render(r)
            if i == 0:
                cells.append(f'<th scope="row">{content}</th>')
            else:
                cells.append(f'<td{" class=num" if c.numeric else ""}>{content}</td>')
        body.append(f'<tr{f" class={cls}" if cls else ""}>{"".join(cells)}</tr>')
    out = (f'<div class="tbl"><table><caption>{cap}</caption><thead><tr>{head}</tr></thead>'
           f'<tbody>{"".join(body)}</tbody></table></div>')
    if note:
        out += f'<p class="note">{esc(note)}</p>'
    return out


def paragraphs(texts: Iterable[str]) -> str:
    """Plain-text paragraphs, escaped."""
    return "".join(f"<p>{esc(t)}</p>" for t in texts if t)


def bullet_list(texts: Iterable[str], *, ordered: bool = False) -> str:
    """A list of plain-text items, escaped."""
    items = "".join(f"<li>{esc(t)}</li>" for t in texts if t)
    tag = "ol" if ordered else "ul"
    return f"<{tag}>{items}</{tag}>" if items else ""


