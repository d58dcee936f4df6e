"""An item column blank on every row is read without its table of (instrument, value) cells, and gives what the
general reading gives: the same item values (all missing), the same other columns and the same problems."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.core import default_instruments
from evalkit.validation.measures import check_measures
from evalkit.validation.problems import ProblemLog, TableRows

_ITEMS = [f"item_{k}" for k in range(1, 13)]


def _check(frame: pd.DataFrame, cells: dict[str, pd.Series]) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    rows = TableRows.from_frame("measures", frame, {})
    log = ProblemLog()
    typed: dict[str, np.ndarray] = {"total": np.full(len(frame), np.nan)}
    check_measures(cells, typed, rows, log, items=_ITEMS, instruments=default_instruments())
    return typed, log.report()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["epds", "phq9", "gad7", "nope", None]),
                          st.lists(st.sampled_from([None, "0", "1", "3", "9", "x"]), min_size=11, max_size=11)),
                min_size=1, max_size=12),
       st.integers(1, 12))
def test_an_item_blank_throughout_reads_as_in_the_general_path(rows: list[tuple[str | None, list[str | None]]],
                                                                blank_item: int) -> None:
    frame = pd.DataFrame({"instrument": [i for i, _ in rows]})
    cells: dict[str, pd.Series] = {"instrument": pd.Series([i for i, _ in rows], dtype="str")}
    others = iter(range(11))
    for k in range(1, 13):
        if k == blank_item:
            continue
        j = next(others)
        cells[f"item_{k}"] = pd.Series(pd.Categorical([v[j] for _, v in rows]))
    n = len(rows)
    quick = dict(cells, **{f"item_{blank_item}": pd.Series(pd.Categorical([None] * n))})  # no distinct value
    # a category no row holds: the general path reads the same blank column through its table
    general = dict(cells, **{f"item_{blank_item}": pd.Series(pd.Categorical([None] * n, categories=["2"]))})
    typed_quick, report_quick = _check(frame, quick)
    typed_general, report_general = _check(frame, general)
    assert typed_quick.keys() == typed_general.keys()
    for column in typed_quick:
        got, expected = typed_quick[column], typed_general[column]
        if isinstance(got, pd.Series):
            pd.testing.assert_series_equal(got, expected)
        else:
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype
    pd.testing.assert_frame_equal(report_quick, report_general)
