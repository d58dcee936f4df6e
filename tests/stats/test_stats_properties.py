"""Property-based tests (hypothesis) for evalkit.stats."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from evalkit.stats import (
    funnel_limits,
    jacobson_truax,
    meta_analysis,
    paired_effect_size,
    wilson_ci,
)
from evalkit.stats.meta_analysis import METHODS

# derandomize: the same examples on every run, so CI is reproducible
FAST = settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)

scores = arrays(
    np.float64, st.integers(2, 30), elements=st.floats(0, 60, allow_nan=False).map(lambda v: round(v, 1))
)


@st.composite
def pre_post(draw):
    pre = draw(scores)
    post = draw(arrays(np.float64, len(pre), elements=st.floats(0, 60).map(lambda v: round(v, 1))))
    return pre, post


SWAP = {
    "recovered": "harmed",
    "harmed": "recovered",
    "improved": "deteriorated",
    "deteriorated": "improved",
    "unchanged": "unchanged",
}


@FAST
@given(pre_post(), st.floats(0.0, 0.95), st.booleans(), st.one_of(st.none(), st.floats(5, 55)))
def test_jt_swapping_pre_and_post_mirrors_categories(data, r, higher, cutoff):
    pre, post = data
    if cutoff is not None:
        cutoff = round(cutoff, 2) + 0.005  # keep scores (1 decimal) off the cut-off
    a = jacobson_truax(pre, post, reliability=r, sd=10.0, cutoff=cutoff, higher_is_better=higher)
    b = jacobson_truax(post, pre, reliability=r, sd=10.0, cutoff=cutoff, higher_is_better=higher)
    assert (a["reliable_improvement"] == b["reliable_deterioration"]).all()
    assert (a["reliable_deterioration"] == b["reliable_improvement"]).all()
    assert [SWAP[c] for c in a["category"]] == list(b["category"])
    np.testing.assert_allclose(a["rci"], -b["rci"])


@FAST
@given(st.integers(0, 500), st.integers(1, 500), st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_bounds_in_unit_interval_and_contain_estimate(x, n, level):
    x = min(x, n)
    lo, hi = wilson_ci(x, n, level=level)
    assert 0.0 <= lo <= x / n <= hi <= 1.0


study_sets = st.integers(2, 12).flatmap(
    lambda k: st.tuples(
        arrays(np.float64, k, elements=st.floats(-2, 2, allow_nan=False)),
        arrays(np.float64, k, elements=st.floats(0.005, 1.0, allow_nan=False)),
    )
)


@FAST
@given(study_sets, st.sampled_from(METHODS))
def test_tau2_never_negative_and_intervals_finite(data, method):
    y, v = data
    res = meta_analysis(y, v, method=method)
    assert res.tau2 >= 0.0
    assert res.ci_low <= res.estimate <= res.ci_high
    assert res.pi_low <= res.ci_low + 1e-12 and res.pi_high >= res.ci_high - 1e-12
    assert math.isfinite(res.ci_low) and math.isfinite(res.pi_high)
    assert abs(res.weights.sum() - 100.0) < 1e-9


@FAST
@given(study_sets, st.sampled_from(["FE", "DL", "REML", "PM"]), st.randoms(use_true_random=False))
def test_meta_analysis_invariant_to_study_order(data, method, rnd):
    y, v = data
    order = list(range(len(y)))
    rnd.shuffle(order)
    a = meta_analysis(y, v, method=method)
    b = meta_analysis(y[order], v[order], method=method)
    # iterative estimators agree to their convergence tolerance (summation order differs)
    assert abs(b.estimate - a.estimate) < 1e-6
    assert abs(b.tau2 - a.tau2) < 1e-6
    assert abs(b.se - a.se) < 1e-6
    np.testing.assert_allclose(b.weights, a.weights[order], atol=1e-5)


@FAST
@given(study_sets)
def test_fixed_effect_is_inverse_variance_weighted_mean(data):
    y, v = data
    res = meta_analysis(y, v, method="FE")
    w = 1 / v
    assert abs(res.estimate - np.sum(w * y) / np.sum(w)) < 1e-9 * (1 + np.max(np.abs(y)))
    assert abs(res.se - 1 / math.sqrt(np.sum(w))) < 1e-12


@FAST
@given(st.floats(0.01, 0.99), st.lists(st.integers(1, 5000), min_size=2, max_size=20, unique=True))
def test_normal_funnel_limits_monotone_and_contain_target(target, ns):
    ns = sorted(ns)
    lim = funnel_limits(target, ns, method="normal")
    for lv in ("0.95", "0.998"):
        lo, hi = lim[f"lower_{lv}"].to_numpy(), lim[f"upper_{lv}"].to_numpy()
        assert np.all(lo <= target) and np.all(hi >= target)
        assert np.all(np.diff(lo) >= -1e-15) and np.all(np.diff(hi) <= 1e-15)
    assert np.all(lim["lower_0.998"] <= lim["lower_0.95"]) and np.all(lim["upper_0.998"] >= lim["upper_0.95"])


@FAST
@given(st.floats(0.01, 0.99), st.lists(st.integers(1, 3000), min_size=2, max_size=20, unique=True))
def test_exact_funnel_limits_nearly_monotone_and_contain_target(target, ns):
    # Exact (interpolated binomial) limits wiggle because the binomial is discrete: a later
    # limit is never more than 1/n outside an earlier one (documented in funnel_limits).
    ns = np.array(sorted(ns))
    lim = funnel_limits(target, ns)
    for lv in ("0.95", "0.998"):
        lo, hi = lim[f"lower_{lv}"].to_numpy(), lim[f"upper_{lv}"].to_numpy()
        later_max_hi = np.maximum.accumulate(hi[::-1])[::-1]
        later_min_lo = np.minimum.accumulate(lo[::-1])[::-1]
        assert np.all(later_max_hi - hi <= 1.0 / ns + 1e-12)
        assert np.all(lo - later_min_lo <= 1.0 / ns + 1e-12)
        big = ns * min(target, 1 - target) >= 1
        assert np.all(lo[big] <= target) and np.all(hi[big] >= target)


@FAST
@given(pre_post())
def test_effect_size_sign_follows_post_minus_pre(data):
    pre, post = data
    diff = post - pre
    if len(pre) < 3 or np.std(diff) < 1e-6:
        return
    es = paired_effect_size(pre, post)
    assert np.sign(es.estimate) == np.sign(diff.mean()) or abs(diff.mean()) < 1e-12
    assert es.ci_low <= es.estimate <= es.ci_high


def test_reml_falls_back_when_fisher_scoring_stalls():
    # Found by hypothesis: Fisher scoring needs more than metafor's 100 steps here; the bounded
    # optimiser then finds the REML maximum (checked against a fine grid).
    from evalkit.stats._rma import _loglik

    y = np.array([2.0, 0, 0, 0, 0, 0, 0, 0, 0])
    v = np.array([0.125, 0.625, 0.625, 0.625, 0.5, 0.625, 0.625, 0.625, 0.625])
    res = meta_analysis(y, v, method="REML")
    assert res.iterations > 100
    grid = np.linspace(0, 3, 30001)
    ll = np.array([_loglik(y, v, np.ones((9, 1)), t, reml=True) for t in grid])
    assert abs(res.tau2 - grid[np.argmax(ll)]) < 2e-4
    assert res.loglik >= ll.max() - 1e-9
