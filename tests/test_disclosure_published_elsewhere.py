"""apply_disclosure's ``published_elsewhere``: a count another table publishes is never hidden here.

The funnel's 'paired' (9) less the outcome summary's GAD-7 n paired (7) is 2 mothers paired on another
measure only. The summary publishes its 7 on its own, so hiding that cell in the funnel's problem would hide
nothing: 'paired' has to go instead.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.disclosure import Partition, apply_disclosure, hidden_mask

RULE = Partition(("n_summary", "rest"), total="paired")


def _disclosed(paired: int, n_summary: int, threshold: int = 5) -> pd.DataFrame:
    f = pd.DataFrame({"paired": [paired], "n_summary": [n_summary], "rest": [paired - n_summary]})
    return apply_disclosure(f, counts=["paired", "n_summary", "rest"], partitions=[RULE], threshold=threshold,
                            published_elsewhere=["n_summary"])


def test_the_count_published_elsewhere_stays_and_the_other_cell_goes() -> None:
    out = _disclosed(9, 7)
    assert pd.isna(out.loc[0, "paired"]) and out.loc[0, "n_summary"] == 7 and pd.isna(out.loc[0, "rest"])
    # without it, the cheaper cell (the summary's 7) would have been taken
    f = pd.DataFrame({"paired": [9], "n_summary": [7], "rest": [2]})
    plain = apply_disclosure(f, counts=["paired", "n_summary", "rest"], partitions=[RULE], threshold=5)
    assert plain.loc[0, "paired"] == 9 and pd.isna(plain.loc[0, "n_summary"])


def test_a_small_count_published_elsewhere_is_hidden_as_any_small_count() -> None:
    out = _disclosed(9, 3)
    assert pd.isna(out.loc[0, "n_summary"])


def test_an_unknown_column_is_refused() -> None:
    f = pd.DataFrame({"n": [3]})
    with pytest.raises(ValueError, match="published_elsewhere"):
        apply_disclosure(f, counts=["n"], published_elsewhere=["m"], threshold=5)


@settings(max_examples=200, deadline=None)
@given(n_summary=st.integers(0, 30), rest=st.integers(0, 30), threshold=st.integers(2, 10))
def test_what_a_reader_holding_both_tables_learns_is_never_small(n_summary: int, rest: int, threshold: int) -> None:
    out = _disclosed(n_summary + rest, n_summary, threshold)
    summary_shown = not (0 < n_summary < threshold)  # as the other table publishes it
    assert hidden_mask(out, "n_summary")[0] == (not summary_shown)
    if summary_shown and not pd.isna(out.loc[0, "paired"]):
        assert int(out.loc[0, "paired"]) - n_summary == 0 or int(out.loc[0, "paired"]) - n_summary >= threshold
    assert pd.notna(out.loc[0, "n_summary"]) == summary_shown
