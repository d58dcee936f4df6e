"""hidden_masks (the ``suppressed`` column read once for many columns) says what the regular expression of
hidden_mask's definition says, column by column: a name listed between semicolons, white space around it
ignored."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.disclosure import carried_hidden, hidden_mask, hidden_masks

_NAMES = ["n", "n_paired", "pct", "pct_ci_low", "n_x", "x"]


def _by_pattern(frame: pd.DataFrame, column: str) -> np.ndarray:
    """The definition: the column's name as one of the ``;``-separated names, white space around it ignored."""
    if "suppressed" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    named = frame["suppressed"].astype("string").fillna("")
    found = named.str.contains(rf"(?:^|;)\s*{re.escape(column)}\s*(?:;|$)", regex=True)
    return found.to_numpy(dtype=bool, na_value=False)


_piece = st.one_of(st.sampled_from(_NAMES), st.sampled_from([";", "; ", " ", "\t", "\n", "\xa0", "\u2003", "_", "n"]))
_text = st.one_of(st.none(), st.lists(_piece, max_size=8).map("".join))


@settings(max_examples=300, deadline=None)
@given(st.lists(_text, max_size=6), st.lists(st.sampled_from(_NAMES), min_size=1, max_size=4))
def test_hidden_masks_agrees_with_the_pattern(texts: list[str | None], columns: list[str]) -> None:
    frame = pd.DataFrame({"suppressed": pd.array(texts, dtype="string")})
    masks = hidden_masks(frame, columns)
    assert set(masks) == set(columns)
    for c in columns:
        want = _by_pattern(frame, c)
        assert masks[c].tolist() == want.tolist(), (texts, c)
        assert hidden_mask(frame, c).tolist() == want.tolist(), (texts, c)


def test_hidden_masks_of_a_frame_without_suppressed_column_or_rows() -> None:
    assert hidden_masks(pd.DataFrame({"n": [1, 2]}), ["n"])["n"].tolist() == [False, False]
    assert hidden_masks(pd.DataFrame({"suppressed": pd.array([], dtype="string")}), ["n"])["n"].tolist() == []


def test_carried_hidden_names_each_new_column_whose_source_is_hidden() -> None:
    rows = pd.DataFrame({"a": [None, 7, 9, None], "b": [5, None, 8, None],
                         "suppressed": ["a", " b ;x", "", "a;b"]})
    assert carried_hidden(rows, {"n_a": "a", "pct": ("a", "b"), "n_b": "b"}).tolist() == [
        "n_a; pct", "pct; n_b", "", "n_a; pct; n_b"]


@settings(max_examples=200, deadline=None)
@given(st.lists(_text, max_size=6), st.lists(st.sampled_from(_NAMES), max_size=4),
       st.dictionaries(st.sampled_from(["n", "pct", "estimate"]),
                       st.one_of(st.sampled_from(_NAMES), st.lists(st.sampled_from(_NAMES), min_size=1, max_size=2)),
                       min_size=1, max_size=3))
def test_carried_hidden_from_masks_read_before_is_carried_hidden_reading_them(
        texts: list[str | None], read: list[str], renamed: dict[str, str | list[str]]) -> None:
    """Given the rows' masks read before (for some or all of the source columns, or more), the names carried
    are those carried_hidden gives reading the ``suppressed`` column itself; the masks given are not changed."""
    rows = pd.DataFrame({"suppressed": pd.array(texts, dtype="string")})
    masks = hidden_masks(rows, read)
    before = {c: m.copy() for c, m in masks.items()}
    assert carried_hidden(rows, renamed, masks=masks).tolist() == carried_hidden(rows, renamed).tolist()
    assert set(masks) == set(before) and all(np.array_equal(masks[c], before[c]) for c in before)
