"""The leaner paths of episode building (session 25, issue #8's memory) give what the whole-array code gave.

The day index answers range look-ups a chunk at a time (``_DayIndex.counts_in``, ``_DayIndex.sums_in``), and the
participants' columns are taken at the episodes' rows one at a time (``_at_rows``). Each is compared here with the
expressions it replaced (copied from commit f042824), on many inputs and chunk sizes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.episodes import _at_rows, _DayIndex


def _old_sums(dix: _DayIndex, pcode: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, ...]:
    """The dose look-ups as ``_prepare`` made them at commit f042824 (whole arrays)."""
    lo, hi = dix.bounds(pcode, start, end)
    n_att = dix.count(lo, hi)
    n_grp = (dix.cum_group[hi] - dix.cum_group[lo]).astype(float)
    minutes = dix.cum_min[hi] - dix.cum_min[lo]
    known = dix.cum_min_known[hi] - dix.cum_min_known[lo]
    first_in = np.where(hi > lo, dix.day[np.minimum(lo, max(len(dix.day) - 1, 0))] if len(dix.day) else 0, -1)
    last_in = np.where(hi > lo, dix.day[np.maximum(hi - 1, 0)] if len(dix.day) else 0, -1)
    weeks_eng = np.where(hi > lo, (last_in - first_in) / 7.0, 0.0)
    return n_att, n_grp, minutes, known, weeks_eng


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(0, 40), q=st.integers(0, 25), chunk=st.integers(1, 30))
def test_chunked_look_ups_as_whole_arrays(data: st.DataObject, n: int, q: int, chunk: int) -> None:
    pcode = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    day = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), dtype=np.int64)
    is_group = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    minutes = np.array(data.draw(st.lists(st.sampled_from([np.nan, 15.0, 60.0, 7.5]), min_size=n, max_size=n)))
    dix = _DayIndex(pcode, day, is_group, minutes)
    q_pc = np.array(data.draw(st.lists(st.integers(0, 4), min_size=q, max_size=q)), dtype=np.int64)
    q_start = np.array(data.draw(st.lists(st.integers(-1, 30), min_size=q, max_size=q)), dtype=np.int64)
    q_end = np.array(data.draw(st.lists(st.integers(-1, 30), min_size=q, max_size=q)), dtype=np.int64)
    want = _old_sums(dix, q_pc, q_start, q_end)
    got = dix.sums_in(q_pc, q_start, q_end, chunk=chunk)
    for name, g, w in zip(("n_att", "n_grp", "minutes", "known", "weeks"), got, want, strict=True):
        assert g.dtype == w.dtype, name
        np.testing.assert_array_equal(g, w, err_msg=name)
    counts = dix.counts_in(q_pc, q_start, q_end, chunk=chunk)
    assert counts.dtype == want[0].dtype
    np.testing.assert_array_equal(counts, dix.count(*dix.bounds(q_pc, q_start, q_end)))
    # the default chunk gives the same
    np.testing.assert_array_equal(dix.counts_in(q_pc, q_start, q_end), counts)


def test_at_rows_is_the_column_of_the_taken_frame() -> None:
    frame = pd.DataFrame({
        "id": pd.array(["a", None, "c"], dtype="string"),
        "n": pd.array([1, None, 3], dtype="Int64"),
        "x": [0.5, np.nan, 2.0],
        "when": pd.to_datetime(["2025-01-01", None, "2025-03-01"]),
        "cat": pd.Categorical(["u", "v", None]),
    }, index=[10, 11, 12])
    rows = np.array([2, 0, 0, 1], dtype=np.int64)
    taken = frame[list(frame.columns)].iloc[rows].reset_index(drop=True)
    for c in frame.columns:
        pd.testing.assert_series_equal(_at_rows(frame, rows, c), taken[c])
    assert _at_rows(frame, np.zeros(0, dtype=np.int64), "id").empty
