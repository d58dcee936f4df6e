"""``talking_therapies_outcomes`` sorts its rows by taking one column at a time in the order of the keys' integer
codes (session 22, issue #8's memory): the frame ``frame[columns].sort_values(keys).reset_index(drop=True)``
gave (commit ec127bc), values, order of tied rows and dtypes, on many inputs."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.talking_therapies import _sort_order, _sorted


@st.composite
def _frame(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str], list[str]]:
    n = draw(st.integers(0, 30))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    text = st.sampled_from(["P1", "P10", "P2", "b", "B", "é", "", None])
    frame = pd.DataFrame({
        "programme_id": pd.array(col(text), dtype="string"),
        "measure_set": pd.array(col(st.sampled_from(["phq9_gad7", "epds", "phq9"])), dtype="string"),
        "participant_id": pd.array(col(text), dtype="string"),
        "finished": np.array(col(st.booleans()), dtype=bool),
        "recovery": pd.array(col(st.sampled_from([True, False, None])), dtype="boolean"),
        "row": np.arange(n),  # tells tied rows apart: their order must be kept
    })
    keys = draw(st.lists(st.sampled_from(["programme_id", "measure_set", "participant_id", "finished"]),
                         unique=True, min_size=1, max_size=3))
    columns = draw(st.permutations(list(frame.columns)))
    return frame, list(columns), keys


@settings(max_examples=300, deadline=None)
@given(_frame())
def test_sorted_is_sort_values(case) -> None:
    frame, columns, keys = case
    want = frame[columns].sort_values(keys).reset_index(drop=True)
    got = _sorted(frame.copy(), columns, keys)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_sort_order_puts_missing_last_and_keeps_ties() -> None:
    frame = pd.DataFrame({"a": pd.array(["b", None, "a", "b", None], dtype="string"),
                          "b": pd.array(["x", "y", None, "x", "x"], dtype="string")})
    assert _sort_order(frame, ["a", "b"]).tolist() == [2, 0, 3, 4, 1]
