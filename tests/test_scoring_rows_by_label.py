"""Scoring finds each instrument's rows with one stable sort of the labels: the same rows, in row order, as a
comparison of every label with each instrument's."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.scoring import _rows_by_label


@settings(max_examples=200, deadline=None)
@given(count=st.sampled_from([0, 1, 3, 127, 128, 200, 256, 300, 2**15, 2**15 + 3]), data=st.data())
def test_rows_of_each_label_are_those_a_comparison_finds(count: int, data: st.DataObject) -> None:
    """Any labels from -1 (blank) to ``count - 1``, with as many distinct labels as fit 8 bits, 16 bits or
    neither: each label's rows are ``flatnonzero(labels == k)``, ascending."""
    labels = np.array(data.draw(st.lists(st.integers(-1, count - 1), max_size=60)), dtype=np.int64)
    got = _rows_by_label(labels, count)
    assert len(got) == count
    for k in sorted({*labels.tolist(), 0, count - 1} - {-1}):
        if 0 <= k < count:
            np.testing.assert_array_equal(got[k], np.flatnonzero(labels == k))
    # every labelled row is in its own label's rows, so a label that does not occur gets none
    assert sum(len(rows) for rows in got) == int((labels >= 0).sum())


def test_rows_of_many_rows_keep_their_order() -> None:
    """Long runs of a few labels in mixed order (where an unstable sort would shuffle the rows of a label)."""
    rng = np.random.default_rng(5)
    labels = rng.integers(-1, 12, 50_000)
    got = _rows_by_label(labels, 12)
    for k in range(12):
        np.testing.assert_array_equal(got[k], np.flatnonzero(labels == k))
