"""Known-answer tests for evalkit.stats.meta_analysis against metafor.

Data: shared/reference/datasets/meta_dat_bcg.csv, the BCG vaccine trials
(Colditz et al., 1994), metafor's standard example ``dat.bcg``; log risk
ratios as ``escalc(measure="RR")`` (fixture ``bcg`` in conftest.py).

Sources of the expected numbers (GitHub wviechtb/metafor unless stated):

* FE and DL: ``tests/testthat/test_misc_metan_vs_rma.uni_with_dat.bcg.r``
  (metafor vs Stata's metan);
* DL I^2 / H^2: ``tests/testthat/test_misc_confint.r``;
* REML: metafor's printed ``rma(yi, vi, data=dat)`` output for dat.bcg
  ("tau^2 0.3132 (SE = 0.1664), I^2 92.22%, H^2 12.86, Q(df = 12) = 152.2330,
  estimate -0.7145 se 0.1798 zval -3.9744 ci -1.0669 -0.3622"), as reproduced
  in the cttir.github.io course lab (week 4 session 2) and in the task brief;
* ML log-likelihood: ``tests/testthat/test_misc_fitstats.r``;
* REML log-likelihood: AIC 28.40474 in the easystats ``performance``
  package's tests of ``model_performance(rma(...))`` (AIC = -2 logLik + 4);
* PM: metafor ``tests/testthat/test_misc_rma_uni.r`` gives tau^2 = 0.3181 for
  the iterated DL and SJ estimators ("DLIT", "SJIT"), whose fixed point is the
  Paule-Mandel estimate (DerSimonian & Kacker, 2007);
* Knapp-Hartung: ``statsmodels.stats.meta_analysis.combine_effects`` (an
  independent implementation; its "random effect wls" rows).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.meta_analysis import combine_effects

from evalkit.stats import MetaAnalysisResult, meta_analysis


def r4(x: float) -> float:
    return round(float(x), 4)


def test_fixed_effect_matches_metafor(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"], method="FE")
    assert isinstance(res, MetaAnalysisResult)
    assert (r4(res.estimate), r4(res.ci_low), r4(res.ci_high)) == (-0.4303, -0.5097, -0.3509)
    assert r4(res.zval) == -10.6247
    assert r4(res.q) == 152.2330 and res.q_df == 12
    assert r4(res.se) == 0.0405
    assert res.tau2 == 0.0
    # the prediction interval of a fixed-effect model is the CI
    assert (res.pi_low, res.pi_high) == pytest.approx((res.ci_low, res.ci_high))


def test_dersimonian_laird_matches_metafor(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"], method="DL")
    assert (r4(res.estimate), r4(res.ci_low), r4(res.ci_high)) == (-0.7141, -1.0644, -0.3638)
    assert r4(res.zval) == -3.9952
    assert r4(res.tau2) == 0.3088
    assert r4(res.i2) == 92.1173
    assert r4(res.h2) == 12.6861


def test_reml_matches_metafor(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"], method="REML")
    assert (r4(res.estimate), r4(res.se), r4(res.zval)) == (-0.7145, 0.1798, -3.9744)
    assert (r4(res.ci_low), r4(res.ci_high)) == (-1.0669, -0.3622)
    assert (r4(res.tau2), r4(res.tau2_se)) == (0.3132, 0.1664)
    assert round(res.i2, 2) == 92.22 and round(res.h2, 2) == 12.86
    assert r4(res.q) == 152.2330 and res.q_df == 12 and res.q_pvalue < 1e-4
    # AIC 28.40474 reported for this model (performance package tests) -> logLik -12.20237
    assert -2 * res.loglik + 2 * 2 == pytest.approx(28.40474, abs=1e-4)
    assert res.iterations > 0
    assert res.weights.sum() == pytest.approx(100.0)


def test_reml_prediction_interval_formula(bcg):
    # metafor predict(): pred +/- z * sqrt(se^2 + tau^2).  With metafor's printed values
    # (-0.7145, se 0.1798, tau2 0.3132) this gives -1.8668 to 0.4378 (to rounding of the inputs).
    res = meta_analysis(bcg["yi"], bcg["vi"])
    z = stats.norm.ppf(0.975)
    assert res.pi_low == pytest.approx(res.estimate - z * math.sqrt(res.se**2 + res.tau2))
    assert res.pi_low == pytest.approx(-0.7145 - z * math.sqrt(0.1798**2 + 0.3132), abs=5e-4)
    assert res.pi_high == pytest.approx(-0.7145 + z * math.sqrt(0.1798**2 + 0.3132), abs=5e-4)


def test_ml_matches_metafor_loglik(bcg):
    # metafor test_misc_fitstats.r: logLik(rma(yi, vi, method="ML")) = -12.6651
    res = meta_analysis(bcg["yi"], bcg["vi"], method="ML")
    assert r4(res.loglik) == -12.6651


def test_paule_mandel_fixed_point(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"], method="PM")
    assert r4(res.tau2) == 0.3181
    # PM solves the generalised Q equation Q(tau2) = k - 1
    w = 1 / (bcg["vi"] + res.tau2)
    mu = np.sum(w * bcg["yi"]) / np.sum(w)
    assert np.sum(w * (bcg["yi"] - mu) ** 2) == pytest.approx(12.0, abs=1e-6)


def test_knapp_hartung_matches_statsmodels(bcg):
    yi, vi = bcg["yi"].to_numpy(), bcg["vi"].to_numpy()
    for method, sm_method in (("DL", "chi2"), ("PM", "iterated")):
        with warnings.catch_warnings():
            # statsmodels warns about per-study t intervals it cannot compute; not used here
            warnings.simplefilter("ignore")
            sm = combine_effects(yi, vi, method_re=sm_method, use_t=True)
        res = meta_analysis(yi, vi, method=method, knha=True)
        assert res.tau2 == pytest.approx(sm.tau2, rel=1e-6)
        assert res.estimate == pytest.approx(sm.mean_effect_re)
        assert res.se == pytest.approx(sm.sd_eff_w_re_hksj, rel=1e-6)
        crit = stats.t.ppf(0.975, 12)
        assert res.ci_low == pytest.approx(sm.mean_effect_re - crit * sm.sd_eff_w_re_hksj, rel=1e-6)
        assert res.df == 12.0


def test_knapp_hartung_is_not_truncated_and_pi_uses_t(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"], method="REML", knha=True)
    base = meta_analysis(bcg["yi"], bcg["vi"], method="REML")
    w = 1 / (bcg["vi"] + res.tau2)
    s2 = np.sum(w * (bcg["yi"] - res.estimate) ** 2) / 12
    assert res.se == pytest.approx(base.se * math.sqrt(s2))
    crit = stats.t.ppf(0.975, 12)
    assert res.pi_high == pytest.approx(res.estimate + crit * math.sqrt(res.se**2 + res.tau2))
    # a homogeneous set where the KH factor is < 1: metafor's default does not truncate it
    y = np.array([0.10, 0.11, 0.09, 0.10, 0.105])
    v = np.array([0.01, 0.02, 0.015, 0.01, 0.012])
    fe = meta_analysis(y, v, method="FE")
    kh = meta_analysis(y, v, method="FE", knha=True)
    assert kh.se < fe.se


def test_homogeneous_data_gives_zero_tau2_and_finite_intervals():
    # Q < df: the DL moment estimate is negative before truncation
    y = np.array([0.20, 0.22, 0.18, 0.21, 0.19, 0.20])
    v = np.array([0.04, 0.05, 0.03, 0.06, 0.04, 0.05])
    fe = meta_analysis(y, v, method="FE")
    assert fe.q < fe.q_df
    for method in ("DL", "REML", "ML", "PM", "HE", "SJ"):
        res = meta_analysis(y, v, method=method)
        assert res.tau2 >= 0.0
        assert all(math.isfinite(x) for x in (res.ci_low, res.ci_high, res.pi_low, res.pi_high))
    dl = meta_analysis(y, v, method="DL")
    assert dl.tau2 == 0.0
    assert dl.i2 == 0.0 and dl.h2 == 1.0
    assert dl.estimate == pytest.approx(fe.estimate)
    assert meta_analysis(y, v, method="REML").tau2 == 0.0
    assert fe.i2 == 0.0  # Q-based I^2 truncated at 0


def test_fixed_effect_is_inverse_variance_mean():
    y = np.array([0.5, -0.1, 0.3])
    v = np.array([0.1, 0.2, 0.05])
    res = meta_analysis(y, v, method="FE")
    w = 1 / v
    assert res.estimate == pytest.approx(np.sum(w * y) / np.sum(w))
    assert res.se == pytest.approx(1 / math.sqrt(np.sum(w)))
    np.testing.assert_allclose(res.weights, 100 * w / w.sum())


def test_single_study_fixed_effect_and_errors():
    res = meta_analysis([0.3], [0.04], method="FE")
    assert res.estimate == 0.3 and res.se == pytest.approx(0.2)
    assert math.isnan(res.i2) and math.isnan(res.q_pvalue)
    with pytest.raises(ValueError, match="at least 2 studies"):
        meta_analysis([0.3], [0.04])
    with pytest.raises(ValueError, match="method must be one of"):
        meta_analysis([0.3, 0.4], [0.04, 0.05], method="BAYES")
    with pytest.raises(ValueError, match="vi must be > 0"):
        meta_analysis([0.3, 0.4], [0.04, 0.0])
    with pytest.raises(ValueError, match="missing values"):
        meta_analysis([0.3, np.nan], [0.04, 0.05])
    with pytest.raises(ValueError, match="same length"):
        meta_analysis([0.3, 0.4], [0.04])
    with pytest.raises(ValueError, match="level"):
        meta_analysis([0.3, 0.4], [0.04, 0.05], level=95)
    with pytest.raises(ValueError, match="knha"):
        meta_analysis([0.3, 0.4], [0.04, 0.05], knha="yes")


def test_to_frame_and_summary(bcg):
    res = meta_analysis(bcg["yi"], bcg["vi"])
    frame = res.to_frame()
    assert frame.shape[0] == 1 and "weights" not in frame.columns
    for col in (
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pi_low",
        "pi_high",
        "tau2",
        "i2",
        "h2",
        "q",
        "q_df",
        "q_pvalue",
        "k",
        "method",
        "knha",
    ):
        assert col in frame.columns
    text = str(res)
    assert "Random-Effects Model (k = 13; tau^2 estimator: REML)" in text
    assert "0.3132 (SE = 0.1664)" in text and "92.22%" in text and "-0.7145" in text
    assert "Fixed-Effect Model" in meta_analysis(bcg["yi"], bcg["vi"], method="FE").summary()
    with pytest.raises(AttributeError):
        res.estimate = 0.0  # frozen


def test_p_matrix_shortcuts_match_explicit_matrix():
    from evalkit.stats._rma import _p_stats

    rng = np.random.default_rng(7)
    X = np.column_stack([np.ones(9), rng.normal(size=9), rng.normal(size=9)])
    w = rng.uniform(0.5, 5, 9)
    y = rng.normal(size=9)
    W = np.diag(w)
    P = W - W @ X @ np.linalg.inv(X.T @ W @ X) @ X.T @ W
    ps = _p_stats(X, w, y)
    np.testing.assert_allclose(ps.Py, P @ y)
    assert ps.yPy == pytest.approx(y @ P @ y)
    assert ps.trP == pytest.approx(np.trace(P))
    assert ps.trPP == pytest.approx(np.trace(P @ P))


def test_many_studies_is_fast_and_memory_light():
    # no k x k matrices: 50,000 studies would need 20 GB for P
    rng = np.random.default_rng(11)
    k = 50_000
    v = rng.uniform(0.01, 0.2, k)
    y = rng.normal(0.3, np.sqrt(v + 0.05))
    res = meta_analysis(y, v, method="REML")
    assert res.tau2 == pytest.approx(0.05, abs=0.01)
