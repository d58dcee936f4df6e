"""An item column whose every answer is a whole number within the item's range is scored without checking each
cell (scoring._whole_within); the scores, statuses, reasons, flags and subscales are those the cell-by-cell check
gives, also for columns that only just fail (one cell out of range, fractional, infinite, -0.0, all blank)."""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.scoring as scoring
from evalkit.scoring import score

_ODD = [np.nan, -1.0, 4.0, 5.0, 0.5, 2.5, -0.0, np.inf, -np.inf, 1e300, 7.0, 36.0]


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    for column in got.columns:
        if got[column].dtype == "float64":  # and the sign of every zero
            np.testing.assert_array_equal(np.signbit(got[column].to_numpy()), np.signbit(want[column].to_numpy()))


@settings(max_examples=150, deadline=None)
@given(instruments=st.lists(st.sampled_from(["epds", "phq9", "gad7", "swemwbs", "core10", "whooley", "ons4"]),
                            min_size=1, max_size=25),
       coding=st.sampled_from(["keyed", "response_position"]), data=st.data())
def test_valid_columns_score_as_checked_cell_by_cell(instruments: list[str], coding: str,
                                                     data: st.DataObject) -> None:
    n = len(instruments)
    frame: dict[str, object] = {"instrument": instruments}
    for k in range(1, 15):
        # mostly answers 0..4 and blanks (valid for many items); now and then one odd cell in the column
        column = [data.draw(st.sampled_from([np.nan, 0.0, 1.0, 2.0, 3.0, 4.0]), label=f"item_{k}") for _ in range(n)]
        if data.draw(st.booleans(), label=f"odd item_{k}"):
            column[data.draw(st.integers(0, n - 1))] = data.draw(st.sampled_from(_ODD))
        frame[f"item_{k}"] = column
    frame["total"] = [data.draw(st.sampled_from([np.nan, 5.0, 12.0])) for _ in range(n)]
    measures = pd.DataFrame(frame)
    quick = score(measures, item_coding=coding)
    with mock.patch.object(scoring, "_whole_within", lambda *args: False):  # every column checked cell by cell
        checked = score(measures, item_coding=coding)
    _same(quick, checked)


@pytest.mark.parametrize(("values", "expected"), [
    ([0.0, 3.0, np.nan, 1.0], True), ([np.nan, np.nan], False), ([], False), ([0.0, 3.5], False),
    ([0.0, 4.0], False), ([-1.0, 0.0], False), ([np.inf, 1.0], False), ([-np.inf], False), ([-0.0, 2.0], True),
    ([2.9999999999999996], False), ([1e300], False),
])
def test_whole_within_known_answers(values: list[float], expected: bool) -> None:
    x = np.array(values, dtype=float)
    assert scoring._whole_within(x, 0.0, 3.0, np.empty(len(x))) is expected
