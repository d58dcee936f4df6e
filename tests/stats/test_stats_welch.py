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
