"""``already_stored`` rows listed per file: the files taken one by one give what ranking every row by a sort gave."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation import keys


class _Rows:
    """What ``_listed_per_file`` reads of :class:`evalkit.validation.problems.TableRows`: the file of each row."""

    def __init__(self, group: np.ndarray) -> None:
        self.group = group

    def distinct_groups(self) -> np.ndarray:
        return np.unique(self.group)


def _by_hand(group: np.ndarray, mask: np.ndarray, limit: int) -> tuple[np.ndarray, dict[int, int]]:
    """The first ``limit`` masked rows of each file, walked row by row."""
    seen: dict[int, int] = {}
    listed = np.zeros(len(mask), dtype=bool)
    for i in np.flatnonzero(mask):
        g = int(group[i])
        seen[g] = seen.get(g, 0) + 1
        listed[i] = seen[g] <= limit
    return listed, {g: n - limit for g, n in sorted(seen.items()) if n > limit}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans()), max_size=60), st.integers(0, 6),
       st.sampled_from([0, 1, 64]))
def test_files_one_by_one_and_by_sort_agree_with_a_walk_over_the_rows(cells, limit, one_by_one):
    group = np.array([g for g, _ in cells], dtype=np.int64)
    mask = np.array([m for _, m in cells], dtype=bool)
    want_listed, want_more = _by_hand(group, mask, limit)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(keys, "_FILES_ONE_BY_ONE", one_by_one)  # 0: always the sort; 64: always one by one
        listed, more = keys._listed_per_file(_Rows(group), mask, limit)
    np.testing.assert_array_equal(listed, want_listed)
    assert more == want_more
    assert list(more) == sorted(more)  # files in order, as the report lists them


def test_one_file_lists_its_first_rows_and_counts_the_rest():
    mask = np.array([True, False, True, True, True, False, True])
    listed, more = keys._listed_per_file(_Rows(np.zeros(7, dtype=np.int64)), mask, 2)
    assert np.flatnonzero(listed).tolist() == [0, 2]
    assert more == {0: 3}
