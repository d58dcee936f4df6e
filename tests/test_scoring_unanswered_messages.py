"""The reasons that count unanswered items name each row's own count (messages written once per count and taken
for each row)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.scoring import score


def _rows(instrument: str, n_items: int, unanswered: list[int]) -> pd.DataFrame:
    """One questionnaire per entry of ``unanswered``, answering 1 to the first items and leaving that many blank."""
    grid = np.ones((len(unanswered), n_items))
    for row, count in enumerate(unanswered):
        grid[row, n_items - count:] = np.nan
    frame = pd.DataFrame(grid, columns=[f"item_{k}" for k in range(1, n_items + 1)])
    frame.insert(0, "instrument", instrument)
    return frame


def test_each_row_names_its_own_count() -> None:
    counts = [1, 2, 3, 8, 0, 5, 2, 1]  # PHQ-9 prorates up to 2 unanswered items
    s = score(_rows("phq9", 9, counts))
    expected = [None if c == 0 else f"{c} item(s) unanswered; prorated from the answered items" if c <= 2
                else f"{c} of 9 items unanswered; the rule allows at most 2" for c in counts]
    assert s["score_reason"].astype(object).where(s["score_reason"].notna(), None).tolist() == expected
    counts = [10, 4, 1, 7]  # all 10 blank: a reason of its own
    s = score(_rows("epds", 10, counts))
    assert s["score_reason"].tolist() == [
        "no items answered and no total recorded" if c == 10 else f"{c} of 10 items unanswered; the rule allows at most 0"
        for c in counts]
    counts = [3, 1, 2, 0]  # ONS4 is reported item by item
    s = score(_rows("ons4", 4, counts))
    expected = [None if c == 0 else f"{c} item(s) unanswered; reported item by item" for c in counts]
    assert s["score_reason"].astype(object).where(s["score_reason"].notna(), None).tolist() == expected
