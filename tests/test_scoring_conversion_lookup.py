"""A conversion table (SWEMWBS's raw sum -> metric score) is looked up by value in a small table indexed by the raw
sum; the positions found and the values not found are those a search of the sorted keys gives."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.instruments import builtin_instruments
from evalkit.scoring import _table_positions, score


def _searched(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pos = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
    return pos, keys[pos] == values


@settings(max_examples=300, deadline=None)
@given(keys=st.sets(st.integers(-60, 60), min_size=1, max_size=30) | st.sets(st.integers(-2**40, 2**40), min_size=1),
       values=st.lists(st.integers(-2**62, 2**62) | st.integers(-70, 70), max_size=40))
def test_positions_found_are_those_a_search_finds(keys: set[int], values: list[int]) -> None:
    """Keys with gaps, negative keys, one key, keys too far apart for a table; values inside, outside, far off."""
    k = np.array(sorted(keys), dtype=np.int64)
    v = np.array(values, dtype=np.int64)
    pos, found = _table_positions(k, v)
    want_pos, want_found = _searched(k, v)
    np.testing.assert_array_equal(found, want_found)
    np.testing.assert_array_equal(pos[found], want_pos[want_found])
    assert ((pos >= 0) & (pos < len(k))).all()  # a valid position everywhere, found or not


def test_swemwbs_every_raw_sum_and_ones_outside_the_table() -> None:
    """Every whole raw sum 7..35 gets its table entry; a prorated sum (a user's rule allowing a missing item) is
    rounded half up first, and one with no entry is invalid with its reason."""
    inst = builtin_instruments()["swemwbs"]
    table = inst.conversion_table
    rows = []
    for raw in range(7, 36):  # item scores summing to raw, each 1..5
        items = [1] * 7
        left = raw - 7
        for i in range(7):
            step = min(4, left)
            items[i] += step
            left -= step
        rows.append({"instrument": "swemwbs", **{f"item_{i + 1}": v for i, v in enumerate(items)}})
    s = score(pd.DataFrame(rows))
    np.testing.assert_array_equal(s["score"].to_numpy(), [table[r] for r in range(7, 36)])
    assert (s["score_status"] == "complete").all()
    # a registry whose SWEMWBS table lacks 20: that sum is invalid, its neighbours converted
    from dataclasses import replace
    gap = replace(inst, conversion_table={k: v for k, v in table.items() if k != 20})
    s = score(pd.DataFrame(rows), instruments={"swemwbs": gap})
    assert s["score_status"].iloc[13] == "invalid" and np.isnan(s["score"].iloc[13])
    assert s["score_reason"].iloc[13] == "raw total has no entry in the conversion table"
    assert s["score"].iloc[12] == table[19] and s["score"].iloc[14] == table[21]
