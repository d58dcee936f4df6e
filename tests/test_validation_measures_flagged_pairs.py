"""check_measures looks at each row's flags only in an item column where some row holds a flagged (instrument,
value) pair (one that is out of range, beyond the instrument's items or not a whole number); every such cell is
still reported, however few rows hold it, and a flagged pair that only a category names (no row) reports none."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import Phase, given, settings
from hypothesis import strategies as st

from evalkit.validation.core import default_instruments
from evalkit.validation.measures import check_measures
from evalkit.validation.problems import ProblemLog, TableRows

_ITEMS = [f"item_{k}" for k in range(1, 13)]
_VALUES = ["0", "1", "3", "4", "2.5", "x"]


def _expected(instrument: str | None, k: int, value: str | None) -> list[str]:
    """The rules a cell breaks, worked out cell by cell: EPDS has 10 items and GAD-7 7, each scored 0-3. A cell
    beyond the instrument's items breaks item_range also when it is not a whole number."""
    if value is None:
        return []
    try:
        number = float(value)
    except ValueError:
        number = np.nan
    whole = bool(np.isfinite(number)) and number == int(number)
    n_items = {"epds": 10, "gad7": 7}.get(instrument or "")
    rules = [] if whole else ["item_type"]
    if n_items is not None and (k > n_items or (whole and not 0 <= number <= 3)):
        rules.append("item_range")
    return rules


@settings(max_examples=150, deadline=None, phases=[Phase.explicit, Phase.generate])
@given(instruments=st.lists(st.sampled_from(["epds", "gad7", "nope", None]), min_size=1, max_size=40),
       data=st.data())
def test_every_flagged_cell_is_reported_and_no_other(instruments: list[str | None], data: st.DataObject) -> None:
    n = len(instruments)
    # mostly valid cells, so that a column often holds a flagged pair in one row or none
    cells: dict[str, pd.Series] = {"instrument": pd.Series(instruments, dtype="str")}
    grid: dict[str, list[str | None]] = {}
    for column in _ITEMS:
        values = [None if instrument is None else "1" for instrument in instruments]
        for row in data.draw(st.lists(st.integers(0, n - 1), max_size=3), label=column):
            values[row] = data.draw(st.sampled_from([None, *_VALUES]))
        grid[column] = values
        # every value a category, whether a row holds it or not (the table then has flagged pairs no row holds)
        cells[column] = pd.Series(pd.Categorical(values, categories=_VALUES))
    frame = pd.DataFrame({"instrument": instruments})
    rows = TableRows.from_frame("measures", frame, {})
    log = ProblemLog()
    typed: dict[str, np.ndarray] = {"total": np.full(n, np.nan)}
    check_measures(cells, typed, rows, log, items=_ITEMS, instruments=default_instruments())
    report = log.report()
    got = sorted((int(r), c, rule) for r, c, rule in zip(report["source_row"], report["column"], report["rule"],
                                                          strict=True) if rule in ("item_type", "item_range"))
    want = sorted((i + 2, column, rule) for column, values in grid.items() for i, (instrument, value)
                  in enumerate(zip(instruments, values, strict=True))
                  for rule in _expected(instrument, int(column[5:]), value))
    assert got == want
