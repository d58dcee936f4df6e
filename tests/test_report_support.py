"""Shared helpers of the report tests (an HTML structure checker, table extraction, count scans), and their own tests.

Imported by the other ``test_report*`` modules as ``test_report_support`` (``tests/`` is on the path).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import pandas as pd

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Table:
    caption: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


class Checker(HTMLParser):
    """Balanced tags, every attribute, every table (caption, header cells, body cells as text)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.tables: list[Table] = []
        self._table: Table | None = None
        self._cell: list[str] | None = None
        self._in_caption = False
        self._in_head = False
        self._row: list[str] | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "table":
            self._table = Table()
        elif tag == "caption":
            self._in_caption = True
        elif tag == "thead":
            self._in_head = True
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))  # self-closed (SVG): nothing to balance

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else 'nothing'}>")
            if tag in self.stack:
                while self.stack and self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if tag == "table" and self._table is not None:
            self.tables.append(self._table)
            self._table = None
        elif tag == "caption":
            self._in_caption = False
        elif tag == "thead":
            self._in_head = False
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table is not None:
            if self._in_head:
                self._table.headers = self._row
            else:
                self._table.rows.append(self._row)
            self._row = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_caption and self._table is not None:
            self._table.caption += data
        if self._cell is not None:
            self._cell.append(data)


def check(html: str) -> Checker:
    c = Checker()
    c.feed(html)
    c.close()
    return c


def table_frame(t: Table) -> pd.DataFrame:
    return pd.DataFrame(t.rows, columns=t.headers)


def find_table(checker: Checker, caption_start: str) -> Table:
    hits = [t for t in checker.tables if t.caption.strip().startswith(caption_start)]
    assert hits, f"no table captioned {caption_start!r}; captions: {[t.caption[:60] for t in checker.tables]}"
    return hits[0]


COUNT_COLUMNS = re.compile(r"^(n|n_.*|total_head_count|total_named|total_unnamed|mm_n_participants|mi_n|mi_n_imputed)$")
"""Columns of report tables that count people (or things about few people)."""


def small_counts(frame: pd.DataFrame, threshold: int) -> list[tuple[str, object]]:
    """(column, value) of every count in ``frame`` from 1 to ``threshold - 1``."""
    bad = []
    for c in frame.columns:
        if not COUNT_COLUMNS.match(str(c)):
            continue
        v = pd.to_numeric(frame[c], errors="coerce")
        hit = v[(v >= 1) & (v < threshold)]
        bad += [(str(c), x) for x in hit.tolist()]
    return bad


# --------------------------------------------------------------------------- tests of the helpers and the primitives


def test_checker_finds_unbalanced_tags() -> None:
    assert check("<p><b>x</b></p>").errors == []
    assert check("<p><b>x</p>").errors
    assert check("<div><br><svg><path d='M0 0'/></svg></div>").errors == []


def test_scrub_small_counts() -> None:
    from evalkit.report._html import scrub_small_counts

    assert scrub_small_counts("not fitted: 3 participants with a score", 5) == "not fitted: [c] participants with a score"
    assert scrub_small_counts("for 4 score(s) (EPDS); at the end date (4).", 5, brackets=True) == \
        "for [c] score(s) (EPDS); at the end date ([c])."
    assert scrub_small_counts("for 4 score(s) (4).", 5) == "for [c] score(s) (4)."
    assert scrub_small_counts("the alert(1) date (3)", 5, brackets=True) == "the alert(1) date ([c])"
    assert scrub_small_counts("0 mothers, 5 mothers, 12 mothers, EPDS >= 13, z = 1.96", 5) == \
        "0 mothers, 5 mothers, 12 mothers, EPDS >= 13, z = 1.96"
    assert scrub_small_counts("3 mothers", 1) == "3 mothers"


def test_cells_show_the_marker_for_hidden_and_a_dash_for_missing() -> None:
    import numpy as np

    from evalkit.report._html import DASH, cnt, est_ci, fig

    row = {"n": pd.NA, "m": 1.234, "lo": 0.5, "hi": 2.0, "x": np.nan, "suppressed": "n; lo"}
    assert "[c]" in cnt(row, "n") and "[c]" in est_ci(row, "m", "lo", "hi")
    assert DASH in fig(row, "x") and "[c]" not in fig(row, "x")
    assert fig({"m": -0.04, "suppressed": ""}, "m") == "0.0"
    assert "\u22121.2" in est_ci({"m": -1.234, "lo": -2.0, "hi": -0.5, "suppressed": ""}, "m", "lo", "hi")
