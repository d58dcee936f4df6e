"""Welch's t-test from sample summaries, many pairs at once: SciPy's very digits, one call."""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from evalkit.stats.welch import sample_mean_variance, welch_t_test

# scores as instruments give them (whole points, often tied) and as real numbers
_score = st.one_of(st.integers(0, 80).map(float), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False))
_sample = st.lists(_score, min_size=2, max_size=60)


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(st.tuples(_sample, _sample), min_size=1, max_size=6))
def test_welch_t_test_gives_scipys_digits(pairs) -> None:
    summaries = [(*sample_mean_variance(x), len(x), *sample_mean_variance(y), len(y)) for x, y in pairs]
    t, p = welch_t_test(*(np.array(c) for c in zip(*summaries, strict=True)))
    for i, (x, y) in enumerate(pairs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's precision note on (nearly) equal values
            want = stats.ttest_ind(np.array(x), np.array(y), equal_var=False)
        # exactly equal, or both missing (two constant samples of one value)
        assert t[i] == want.statistic or (np.isnan(t[i]) and np.isnan(want.statistic))
        assert p[i] == want.pvalue or (np.isnan(p[i]) and np.isnan(want.pvalue))


def test_integer_scores_whose_degrees_of_freedom_round_differently_as_an_array() -> None:
    """Two samples of whole-point scores (found in a seeded search) whose Welch degrees of freedom, squared as
    an array, come out one unit in the last place from SciPy's scalar steps, and so the p-value too."""
    x = [2, 2, 15, 24, 26, 2, 19, 20, 19, 10, 3, 19, 22, 5, 17, 14, 10, 25, 22, 26, 6, 26, 6, 19, 22, 13, 23, 6, 15,
         4, 4]
    y = [16, 11, 9, 0, 18, 23, 3, 7, 25, 6, 10, 3, 0, 21, 25, 5, 20, 21, 24, 17, 22, 2, 22, 12, 21, 26, 20, 13, 23, 5,
         18, 19, 24, 21, 26, 13, 25, 3, 23, 23, 22, 7, 15, 3, 3, 25, 24, 0, 23, 9, 25]
    t, p = welch_t_test(*(np.array([c]) for c in (*sample_mean_variance(x), len(x), *sample_mean_variance(y), len(y))))
    want = stats.ttest_ind(np.array(x, dtype=float), np.array(y, dtype=float), equal_var=False)
    assert t[0] == want.statistic
    assert p[0] == want.pvalue  # 0.6348357102627752
