"""jacobson_truax chooses each category's code directly; the column is the categorical of the labels the
definitions give (recovered, improved, harmed, deteriorated, else unchanged; missing for an incomplete pair)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats.reliable_change import CATEGORIES, jacobson_truax

_score = st.one_of(st.integers(0, 30).map(float), st.just(float("nan")))


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(_score, _score), min_size=0, max_size=40),
       cutoff=st.one_of(st.none(), st.sampled_from([9.5, 10.0, 13.0])), higher_is_better=st.booleans())
def test_category_is_the_categorical_of_the_labels(pairs, cutoff, higher_is_better) -> None:
    pre = np.array([p for p, _ in pairs], dtype=float)
    post = np.array([q for _, q in pairs], dtype=float)
    jt = jacobson_truax(pre, post, reliability=0.8, sd=5.0, cutoff=cutoff, higher_is_better=higher_is_better)
    better = 1.0 if higher_is_better else -1.0
    improve = jt["reliable_improvement"].fillna(False).to_numpy(dtype=bool)
    deteriorate = jt["reliable_deterioration"].fillna(False).to_numpy(dtype=bool)
    if cutoff is None:
        recovered = harmed = np.zeros(len(pre), dtype=bool)
    else:
        recovered = improve & jt["crossed_cutoff"].fillna(False).to_numpy(dtype=bool)
        harmed = deteriorate & (better * (pre - cutoff) > 0) & ~(better * (post - cutoff) > 0)
    labels = np.select([recovered, improve, harmed, deteriorate], ["recovered", "improved", "harmed", "deteriorated"],
                       default="unchanged").astype(object)
    labels[np.isnan(pre) | np.isnan(post)] = None
    pd.testing.assert_series_equal(jt["category"], pd.Series(pd.Categorical(labels, categories=list(CATEGORIES)),
                                                             name="category", index=jt.index))
