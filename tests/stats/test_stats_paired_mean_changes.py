"""paired_mean_changes: many samples' mean changes, the t quantiles in one call, as paired_mean_change gives each."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.stats import paired_mean_change, paired_mean_changes

_score = st.one_of(st.integers(0, 80).map(float), st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False),
                   st.just(float("nan")))
_sample = st.integers(2, 40).flatmap(lambda n: st.tuples(st.lists(_score, min_size=n, max_size=n),
                                                         st.lists(_score, min_size=n, max_size=n)))


def _complete(sample: tuple[list[float], list[float]]) -> bool:
    pre, post = np.array(sample[0]), np.array(sample[1])
    return int((~(np.isnan(pre) | np.isnan(post))).sum()) >= 2


@settings(max_examples=200, deadline=None)
@given(samples=st.lists(_sample.filter(_complete), min_size=1, max_size=8),
       level=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_each_is_paired_mean_change(samples, level) -> None:
    got = paired_mean_changes(samples, level=level)
    assert got == [paired_mean_change(pre, post, level=level) for pre, post in samples]


def test_too_few_pairs_refused() -> None:
    with pytest.raises(ValueError, match="at least 2 complete pairs"):
        paired_mean_changes([([1.0, 2.0], [2.0, 3.0]), ([1.0], [2.0])])
    assert paired_mean_changes([]) == []
