"""A breakdown joined to its published table never 'hides' a total that table publishes.

with_published_total_rows joins the table by programme, as published, to a breakdown as its total rows.
Before, secondary suppression could still take a total row's published count: as the total of an
equation with no member left to hide (the fallback), or as a complement. Hidden only inside the
breakdown's computation, it stayed public where it is published, so the levels it was meant to protect
were not (level = published total - the other levels). Generator seed 2, outcomes by ethnicity group:
P-PHONE's GAD-7 'engaged, no score' total of 5 was taken (there harmlessly: its levels add up to 4, one
engaged mother having no level row). Now such a count is never hidden there: another cell is, and when none
is left apply_disclosure says so (DisclosureWarning) where subtraction would give the hidden count.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.disclosure import (
    TOTAL_ROW,
    Partition,
    apply_disclosure,
    hidden_mask,
    with_published_total_rows,
    without_published_total_rows,
)
from evalkit.errors import DisclosureWarning

RULE = Partition(("n_x",), total="n_total", remainder=True)


def _joined(levels: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    frame, hidden, across = with_published_total_rows(levels, published, keys=["p"], counts=["n_x", "n_total"],
                                                      breakdown=["lvl"], totals=published)
    return apply_disclosure(frame, counts=["n_x", "n_total"], partitions=[RULE], across=across,
                            hidden_elsewhere=hidden)


def test_a_published_total_is_not_hidden_when_no_level_is_left() -> None:
    # level a: 7 of 10 (its rest of 3 is small, so 7 is hidden with it); level b has no count of x (missing);
    # the programme table publishes x = 7 of 16. Before, the equation a + b = 7 with nothing left to hide had
    # its total hidden here, while it is published there
    levels = pd.DataFrame({"p": ["P", "P"], "lvl": ["a", "b"], "n_x": [7.0, np.nan], "n_total": [10, 6]})
    published = pd.DataFrame({"p": ["P"], "n_x": [7], "n_total": [16]})
    out = _joined(levels, published)
    assert hidden_mask(out, "n_x").tolist() == [True, False, False]
    assert out.loc[out[TOTAL_ROW], "n_x"].tolist() == [7]


def test_levels_short_of_the_published_total_leave_it_published() -> None:
    # the shape of seed 2 (levels of 'engaged, no score' 4, 0, 0 under a published 5, one mother being in no
    # level): the hidden 4 and the zeros hidden with it (their rests of 1 are small) add up to a small count;
    # before, the published total was 'hidden' to settle that. It stays published now, and there is nothing
    # to warn about: 5 - 0 - 0 is not the hidden 4
    levels = pd.DataFrame({"p": ["P"] * 3, "lvl": ["a", "b", "c"], "n_x": [4, 0, 0], "n_total": [18, 1, 1]})
    published = pd.DataFrame({"p": ["P"], "n_x": [5], "n_total": [21]})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DisclosureWarning)
        out = _joined(levels, published)
    assert hidden_mask(out, "n_x").tolist() == [True, True, True, False]
    assert out["n_x"].tolist()[-1] == 5


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 12)), st.integers(0, 12)), min_size=1, max_size=4),
       st.booleans(), st.booleans(), st.integers(0, 3))
def test_the_total_rows_come_out_as_published(cells: list[tuple[int | None, int]], hide_x: bool, hide_total: bool,
                                               extra: int) -> None:
    # any levels (x missing or at most its total) and a programme table that hides x and/or the total or
    # publishes them (never a small count; totals may exceed the levels' sum: people in no level): after
    # disclosure control the total rows show exactly what the programme table shows
    n_x = [np.nan if x is None else float(min(x, t)) for x, t in cells]
    n_total = [t for _, t in cells]
    levels = pd.DataFrame({"p": "P", "lvl": [f"l{i}" for i in range(len(cells))], "n_x": n_x, "n_total": n_total})
    x_sum = float(np.nansum(n_x)) + extra if not np.isnan(n_x).all() else np.nan
    t_sum = sum(n_total) + 2 * extra
    totals = pd.DataFrame({"p": ["P"], "n_x": [x_sum], "n_total": [t_sum]})
    published = pd.DataFrame({"p": ["P"], "n_x": [pd.NA if hide_x or 0 < x_sum < 5 else x_sum],  # never small
                              "n_total": [pd.NA if hide_total or 0 < t_sum < 5 else t_sum]})
    frame, hidden, across = with_published_total_rows(levels, published, keys=["p"], counts=["n_x", "n_total"],
                                                      breakdown=["lvl"], totals=totals)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DisclosureWarning)
        out = apply_disclosure(frame, counts=["n_x", "n_total"], partitions=[RULE], across=across,
                               hidden_elsewhere=hidden)
    top = out[out[TOTAL_ROW]]
    for c in ("n_x", "n_total"):
        want = hidden[c][len(levels):] & ~np.isnan(frame[c].to_numpy(dtype=float)[len(levels):])
        assert hidden_mask(top, c).tolist() == want.tolist(), (levels, published, top)


def test_without_the_total_rows_the_levels_come_back_as_they_were() -> None:
    # the breakdown's own rows of a joined frame after disclosure control: the first len(levels) rows, no helper
    # column, a fresh index, and the named columns in the levels' dtypes (the totals' level marker made the
    # categorical level text, and the boolean key an object column); a column the frame lacks is passed over
    levels = pd.DataFrame({"p": ["P", "P", "Q"], "lvl": pd.Categorical(["a", "b", "a"]),
                           "flag": [True, False, True], "n_x": [3, 8, 9], "n_total": [10, 15, 20]})
    published = pd.DataFrame({"p": ["P", "Q"], "n_x": [11, 9], "n_total": [25, 20]})
    frame, hidden, across = with_published_total_rows(levels, published, keys=["p"], counts=["n_x", "n_total"],
                                                      breakdown=["lvl", "flag"])
    assert not isinstance(frame["lvl"].dtype, pd.CategoricalDtype) and frame["flag"].dtype != bool
    out = apply_disclosure(frame, counts=["n_x", "n_total"], partitions=[RULE], across=across,
                           hidden_elsewhere=hidden)
    out.index = out.index + 100
    back = without_published_total_rows(out, levels, columns=["p", "lvl", "flag", "not_a_column"])
    assert back.columns.tolist() == [*levels.columns, "suppressed"]
    assert back.index.tolist() == [0, 1, 2]
    assert back["lvl"].dtype == levels["lvl"].dtype and back["flag"].dtype == bool
    assert back["lvl"].tolist() == ["a", "b", "a"] and back["flag"].tolist() == [True, False, True]
    # P's 3 of x is small; its other level's 8 goes with it (P's 11 is published); Q's only level is its total
    assert back["n_x"].isna().tolist() == [True, True, False] and back["n_x"].iloc[2] == 9
    assert back["n_total"].tolist() == [10, 15, 20]
    # without naming them, the columns keep the frame's dtypes
    assert without_published_total_rows(out, levels, columns=[])["flag"].dtype == frame["flag"].dtype
