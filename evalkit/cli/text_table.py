"""Plain-text tables for the terminal: every column as wide as its widest entry, two spaces apart.

Counts are written with thousands separators and right-aligned, so that a national network's seven- and
eight-digit counts ("4,755,822") stay under their titles instead of running into the next column, as fixed
widths let them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["Column", "count_cells", "counts_by_table", "text_table"]


@dataclass(frozen=True)
class Column:
    """One column of a :func:`text_table`: its title, its cells as text, and ``"left"`` or ``"right"``."""

    title: str
    cells: Sequence[str]
    align: str = "right"


def count_cells(values: Iterable[object]) -> list[str]:
    """Whole counts as text with thousands separators (``1234567`` -> ``"1,234,567"``); a missing count is
    left blank."""
    return ["" if pd.isna(v) else f"{int(v):,}" for v in values]


def text_table(columns: Sequence[Column]) -> str:
    """The columns as lines of text (title line first), each column padded to its widest entry, two spaces
    between columns; trailing spaces are trimmed from each line.

    Raises
    ------
    ValueError
        If the columns hold different numbers of cells.
    """
    if len({len(c.cells) for c in columns}) > 1:
        raise ValueError("every column of a text table needs the same number of cells")
    widths = [max([len(c.title), *(len(cell) for cell in c.cells)]) for c in columns]
    rows = zip(*([c.title, *c.cells] for c in columns), strict=True)
    lines = ["  ".join(cell.ljust(w) if c.align == "left" else cell.rjust(w)
                       for cell, c, w in zip(row, columns, widths, strict=True)).rstrip()
             for row in rows]
    return "".join(line + "\n" for line in lines)


def counts_by_table(frame: pd.DataFrame, counts: Mapping[str, str]) -> str:
    """A :func:`text_table` of one row per table: ``frame``'s ``table`` column, then each column of ``counts``
    (column name -> title) as counts."""
    return text_table([Column("table", list(frame["table"].astype(str)), "left"),
                       *(Column(title, count_cells(frame[name])) for name, title in counts.items())])
