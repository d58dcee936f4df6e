"""Known-answer tests for evalkit.stats.effect_sizes and evalkit.stats.proportions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from evalkit.stats import (
    EffectSize,
    hedges_correction,
    meta_analysis,
    paired_effect_size,
    paired_mean_change,
    proportion_effect,
    raw_mean_change,
    standardised_mean_change,
    wilson_ci,
)

# --------------------------------------------------------------------------- SMCR (Morris 2008)

# metafor tests/testthat/test_analysis_example_morris2008.r (GitHub wviechtb/metafor):
#   escalc(measure="SMCR", m1i=m_post, m2i=m_pre, sd1i=sd_pre, ni=ni, ri=ri)
# metafor computes m1i - m2i, i.e. post - pre, the same sign as evalkit.
METAFOR_SMCR = {
    "treatment": {
        "yi": [0.5056, 1.0481, 1.8054, 1.4181, 0.0801],
        "vi": [0.0594, 0.0254, 0.2322, 0.1225, 0.0802],
    },
    "control": {
        "yi": [-0.2365, 0.0958, 0.0000, 0.2667, -0.4250],
        "vi": [0.0544, 0.0173, 0.0511, 0.0232, 0.0864],
    },
}
# same file: difference treatment - control, "compare with results on page 368 (Table 1)" of Morris (2008)
MORRIS_TABLE1_DIFF = [0.74, 0.95, 1.81, 1.15, 0.51]
METAFOR_DIFF_VI = [0.1138, 0.0426, 0.2833, 0.1458, 0.1667]


@pytest.fixture(scope="module")
def morris(reference_dir):
    # shared/reference/datasets/prepost_morris2008.csv: Morris (2008) as coded in metafor's tests
    return pd.read_csv(reference_dir / "prepost_morris2008.csv")


@pytest.mark.parametrize("group", ["treatment", "control"])
def test_smcr_matches_metafor_morris2008(morris, group):
    d = morris[morris["group"] == group]
    yi, vi = standardised_mean_change(d["m_pre"], d["m_post"], d["sd_pre"], d["ni"], d["ri"])
    np.testing.assert_array_equal(np.round(yi, 4) + 0.0, METAFOR_SMCR[group]["yi"])
    np.testing.assert_array_equal(np.round(vi, 4), METAFOR_SMCR[group]["vi"])


def test_smcr_difference_matches_morris_table1(morris):
    t = morris[morris["group"] == "treatment"]
    c = morris[morris["group"] == "control"]
    yt, vt = standardised_mean_change(t["m_pre"], t["m_post"], t["sd_pre"], t["ni"], t["ri"])
    yc, vc = standardised_mean_change(c["m_pre"], c["m_post"], c["sd_pre"], c["ni"], c["ri"])
    np.testing.assert_array_equal(np.round(yt - yc, 2), MORRIS_TABLE1_DIFF)
    np.testing.assert_array_equal(np.round(vt + vc, 4), METAFOR_DIFF_VI)


def test_reml_on_smcr_matches_metafor(morris):
    # metafor tests/testthat/test_misc_rma_uni.r, "rma() works directly with input for measure='SMCR'":
    # rma(yi, vi) on the treatment groups gives tau2 = 0.3164
    t = morris[morris["group"] == "treatment"]
    yi, vi = standardised_mean_change(t["m_pre"], t["m_post"], t["sd_pre"], t["ni"], t["ri"])
    assert round(meta_analysis(yi, vi, method="REML").tau2, 4) == 0.3164


def test_smcr_scalar_and_correction():
    yi, vi = standardised_mean_change(10.0, 8.0, 4.0, 25, 0.6)
    assert isinstance(yi, float) and isinstance(vi, float)
    c = hedges_correction(24)
    assert yi == pytest.approx(c * -2.0 / 4.0)
    assert vi == pytest.approx(2 * 0.4 / 25 + yi**2 / 50)
    # the familiar approximation of the correction
    assert c == pytest.approx(1 - 3 / (4 * 24 - 1), abs=1e-4)


def test_smcr_missing_propagates_and_errors():
    yi, vi = standardised_mean_change([10.0, np.nan], [8.0, 7.0], [4.0, 4.0], [25, 25], [0.6, 0.6])
    assert np.isnan(yi[1]) and np.isnan(vi[1]) and not np.isnan(yi[0])
    with pytest.raises(ValueError, match="sd_pre"):
        standardised_mean_change(1, 2, 0, 10, 0.5)
    with pytest.raises(ValueError, match="n must be >= 3"):
        standardised_mean_change(1, 2, 1, 2, 0.5)
    with pytest.raises(ValueError, match="r must be between"):
        standardised_mean_change(1, 2, 1, 10, 1.5)
    with pytest.raises(ValueError, match="same length"):
        standardised_mean_change([1, 2], [1, 2, 3], 1, 10, 0.5)


def test_raw_mean_change_formula():
    # metafor R/escalc.r, measure "MC": yi = m1i - m2i; vi = (sd1i^2 + sd2i^2 - 2 ri sd1i sd2i) / ni
    yi, vi = raw_mean_change([30.6, 23.5], [38.5, 26.8], [15.0, 3.1], [11.6, 4.1], [20, 50], [0.47, 0.64])
    np.testing.assert_allclose(yi, [7.9, 3.3])
    np.testing.assert_allclose(
        vi, [(15**2 + 11.6**2 - 2 * 0.47 * 15 * 11.6) / 20, (3.1**2 + 4.1**2 - 2 * 0.64 * 3.1 * 4.1) / 50]
    )
    with pytest.raises(ValueError, match="r must be between"):
        raw_mean_change(1, 2, 1, 1, 10, -2)


def test_proportion_effect_measures():
    # metafor R/escalc.r with default add = 1/2, to = "only0" (add = 0 for PAS)
    yi, vi = proportion_effect(12, 40, measure="PLO")
    assert yi == pytest.approx(math.log(12 / 28))
    assert vi == pytest.approx(1 / 12 + 1 / 28)
    yi, vi = proportion_effect(12, 40, measure="PR")
    assert (yi, vi) == pytest.approx((0.3, 0.3 * 0.7 / 40))
    yi, vi = proportion_effect(12, 40, measure="PAS")
    assert (yi, vi) == pytest.approx((math.asin(math.sqrt(0.3)), 1 / 160))
    # zero cell: 1/2 added to events and non-events for PR and PLO, not for PAS
    yi, vi = proportion_effect([0, 20], [20, 20], measure="PLO")
    np.testing.assert_allclose(yi, [math.log(0.5 / 20.5), math.log(20.5 / 0.5)])
    np.testing.assert_allclose(vi, [1 / 0.5 + 1 / 20.5] * 2)
    yi, vi = proportion_effect(0, 20, measure="PR")
    assert yi == pytest.approx(0.5 / 21) and vi == pytest.approx((0.5 / 21) * (20.5 / 21) / 21)
    yi, vi = proportion_effect(0, 20, measure="PAS")
    assert (yi, vi) == pytest.approx((0.0, 1 / 80))
    with pytest.raises(ValueError, match="measure must be one of"):
        proportion_effect(1, 2, measure="PFT")
    with pytest.raises(ValueError, match="x must be between 0 and n"):
        proportion_effect(3, 2)


# --------------------------------------------------------------------------- paired summaries

PRE = np.array([24.0, 18, 21, 30, 15, 27, 22, 19, 25, 17, 28, 20])
POST = np.array([18.0, 16, 14, 25, 15, 20, 19, 12, 22, 16, 19, 18])


def test_paired_mean_change_matches_scipy_ttest_rel():
    res = paired_mean_change(PRE, POST, level=0.9)
    tt = stats.ttest_rel(POST, PRE)  # post - pre
    ci = tt.confidence_interval(confidence_level=0.9)
    assert res.mean_change == pytest.approx(np.mean(POST - PRE))
    assert (res.ci_low, res.ci_high) == pytest.approx((ci.low, ci.high))
    assert res.mean_change / res.se == pytest.approx(tt.statistic)
    assert res.n == 12 and res.to_frame().shape == (1, 7)


def test_paired_effect_size_dz_and_its_exact_interval():
    es = paired_effect_size(PRE, POST, kind="dz")
    d = POST - PRE
    assert isinstance(es, EffectSize)
    assert es.estimate == pytest.approx(d.mean() / d.std(ddof=1))
    assert es.estimate < 0  # symptoms fell: negative, as post - pre
    t = stats.ttest_rel(POST, PRE).statistic
    assert es.estimate * math.sqrt(12) == pytest.approx(t)
    assert es.hedges_g == pytest.approx(hedges_correction(11) * es.estimate)
    # noncentral-t inversion: the bounds are the ncp values where the observed t sits at the
    # 97.5% and 2.5% points (Cumming & Finch 2001)
    assert stats.nct.cdf(t, 11, es.ci_low * math.sqrt(12)) == pytest.approx(0.975, abs=1e-9)
    assert stats.nct.cdf(t, 11, es.ci_high * math.sqrt(12)) == pytest.approx(0.025, abs=1e-9)
    assert es.ci_low < es.estimate < es.ci_high


def test_dz_interval_bound_at_zero_has_p_equal_alpha():
    # If a d_z CI bound is 0 then the paired t test has p = 1 - level exactly:
    # choose a change so that the 95% upper bound is ~0 and compare with the t-test p-value.
    rng = np.random.default_rng(3)
    base = rng.normal(0, 1, 15)
    base = (base - base.mean()) / base.std(ddof=1)
    t_crit = stats.t.ppf(0.975, 14)
    diff = base - t_crit / math.sqrt(15)  # mean/se = -t_crit
    es = paired_effect_size(np.zeros(15), diff, level=0.95)
    assert es.estimate == pytest.approx(-t_crit / math.sqrt(15))
    # the noncentral interval is exact, so the bound closest to 0 is not 0 (the central t
    # test and the noncentral CI agree at ncp = 0):
    assert stats.nct.cdf(-t_crit, 14, 0.0) == pytest.approx(0.025)
    assert es.ci_high == pytest.approx(0.0, abs=1e-7)


def test_paired_effect_size_dav():
    es = paired_effect_size(PRE, POST, kind="dav", level=0.9)
    s_av = (PRE.std(ddof=1) + POST.std(ddof=1)) / 2
    assert es.standardiser == pytest.approx(s_av)
    assert es.estimate == pytest.approx((POST - PRE).mean() / s_av)
    dz = paired_effect_size(PRE, POST, kind="dz", level=0.9)
    # Algina-Keselman-style rescaling of the same noncentral interval
    ratio = dz.standardiser / s_av
    assert (es.ci_low, es.ci_high) == pytest.approx((dz.ci_low * ratio, dz.ci_high * ratio))
    assert es.ci_low < es.estimate < es.ci_high


def test_paired_drops_incomplete_pairs_and_errors():
    es = paired_effect_size([1.0, 2, 3, 4, np.nan], [2.0, 2, 5, 4, 9])
    assert es.n == 4
    with pytest.raises(ValueError, match="kind must be one of"):
        paired_effect_size(PRE, POST, kind="dd")
    with pytest.raises(ValueError, match="at least 3"):
        paired_effect_size([1, 2], [2, 3])
    with pytest.raises(ValueError, match="zero variance"):
        paired_effect_size([1, 2, 3], [2, 3, 4])
    with pytest.raises(ValueError, match="level"):
        paired_mean_change(PRE, POST, level=95)


# --------------------------------------------------------------------------- Wilson


def test_wilson_matches_statsmodels():
    x = np.array([0, 1, 7, 20, 33, 50])
    n = np.array([10, 10, 20, 20, 100, 50])
    for level in (0.9, 0.95, 0.99):
        lo, hi = wilson_ci(x, n, level=level)
        slo, shi = proportion_confint(x, n, alpha=1 - level, method="wilson")
        np.testing.assert_allclose(lo, slo, atol=1e-12)
        np.testing.assert_allclose(hi, shi, atol=1e-12)


def test_wilson_shapes_and_edge_cases():
    lo, hi = wilson_ci(8, 20)
    assert isinstance(lo, float) and isinstance(hi, float)
    lo, hi = wilson_ci([0, 10, 0], [10, 10, 0])
    assert lo[0] == 0.0 and hi[1] == 1.0
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    lo, hi = wilson_ci([2, 3], 10)  # n broadcasts
    assert lo.shape == (2,)
    with pytest.raises(ValueError, match="successes must be between 0 and n"):
        wilson_ci(11, 10)
    with pytest.raises(ValueError, match="n must be >= 0"):
        wilson_ci(0, -1)
    with pytest.raises(ValueError, match="level"):
        wilson_ci(1, 10, level=1.0)
