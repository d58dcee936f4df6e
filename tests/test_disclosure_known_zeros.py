"""Complementary suppression never hides a zero anyone can work out ('[c] of 0' protects nothing).

Before, a needed complement was the cheapest published cell, zeros last but zeros all the same: a level's
count out of a published total of 0 could be chosen ('[c] of 0'), leaving the cell it was meant to protect
as exposed as before (generator seed 12, outcomes by ethnicity group: P-HOME's QPR-15 'mixed' level, n
paired 0, had its reliable improvement and deterioration hidden). Where no other cell is left, the
secondary suppression says so (DisclosureWarning) instead of hiding the zero.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.disclosure import Across, Partition, apply_disclosure, hidden_mask
from evalkit.errors import DisclosureWarning, EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes

RULE = Partition(("n_x",), total="n_total", remainder=True)


def test_a_count_out_of_zero_is_not_taken_as_a_complement() -> None:
    # levels a (8 of 10: hidden, its rest of 2 is small), b (0 of 0: known to be 0) and c (0 of 6: not
    # known); the levels add up to a total published elsewhere, so a second level must be hidden with a:
    # c, never b
    f = pd.DataFrame({"level": ["a", "b", "c"], "n_x": [8, 0, 0], "n_total": [10, 0, 6]})
    out = apply_disclosure(f, counts=["n_x", "n_total"], partitions=[RULE], across=[Across("n_x")])
    assert hidden_mask(out, "n_x").tolist() == [True, False, True]
    assert out["n_x"].tolist()[1] == 0


def test_when_only_known_zeros_are_left_it_says_it_could_not_protect() -> None:
    f = pd.DataFrame({"level": ["a", "b"], "n_x": [8, 0], "n_total": [10, 0]})
    with pytest.warns(DisclosureWarning, match="n_x"):
        out = apply_disclosure(f, counts=["n_x", "n_total"], partitions=[RULE], across=[Across("n_x")])
    assert hidden_mask(out, "n_x").tolist() == [True, False]


def test_breakdown_hides_no_count_out_of_a_published_zero() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(generate_programmes(150, seed=12).tables, models=False)
    by = for_whom(res, "ethnicity_group", what="outcomes")
    zero = (by["n_paired"] == 0).fillna(False).to_numpy(dtype=bool)
    assert zero.sum() >= 5
    for c in ("n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change", "n_caseness_baseline",
              "n_jt_reliable_improvement"):
        bad = zero & hidden_mask(by, c)
        assert not bad.any(), by.loc[bad, ["programme_id", "instrument", "ethnicity_group", "n_paired", c]]
    # and nothing small was published instead
    counts = [c for c in by.columns if c.startswith("n_")]
    vals = by[counts].to_numpy(dtype=float, na_value=np.nan)
    assert not ((vals > 0) & (vals < 5)).any()
