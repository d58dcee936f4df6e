"""Known-answer tests for evalkit.stats.funnel.

* PHEindicatormethods (UKHSA, GitHub ukhsa-collaboration/PHEindicatormethods):
  expected control limits ``tests/testthat/testdata_funnel_prop_outputs*.csv``
  and significance labels, copied to shared/reference/datasets/
  funnel_phe_prop_limits_expected.csv, funnel_phe_prop_limits_axisvar_expected.csv
  and funnel_phe_prop_inputs.csv (README.md there).  Its ``testFunnels.R``
  computes the first from all 303 areas and the "axis variation" file from the
  areas with ``denominator < 31000``; the target is ``sum(numerator) /
  sum(denominator)``.  Its ``R/Funnels.R`` (``sigma_adjustment``) is the normal
  approximation written as the root of a quadratic, in percent, clipped to
  [0, 100].
* funnelR (CRAN funnelR, vignette "introduction"): physicians data, benchmark
  0.5, ``funscore(method="approximate")`` at alpha 0.80 / 0.95; expected
  z-scores and classes in shared/reference/datasets/funnel_funnelR_physicians.csv.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.stats import (
    Overdispersion,
    estimate_overdispersion,
    funnel_flags,
    funnel_limits,
    funnel_limits_continuous,
)

PHE_LABELS = {
    "below_0.998": "Low (0.001)",
    "below_0.95": "Low (0.025)",
    "above_0.998": "High (0.001)",
    "above_0.95": "High (0.025)",
    "within": "Not significant",
}


@pytest.fixture(scope="module")
def phe_inputs(reference_dir) -> pd.DataFrame:
    return pd.read_csv(reference_dir / "funnel_phe_prop_inputs.csv")


@pytest.mark.parametrize(
    "filename, subset",
    [("funnel_phe_prop_limits_expected.csv", None), ("funnel_phe_prop_limits_axisvar_expected.csv", 31000)],
)
def test_limits_match_phe_indicator_methods(reference_dir, phe_inputs, filename, subset):
    data = phe_inputs if subset is None else phe_inputs[phe_inputs["denominator"] < subset]
    target = data["numerator"].sum() / data["denominator"].sum()
    expected = pd.read_csv(reference_dir / filename)
    assert expected["Baseline"].iloc[0] == pytest.approx(100 * target, abs=1e-6)
    got = funnel_limits(target, expected["Population"], method="normal")
    assert got["n"].tolist() == expected["Population"].tolist()
    pairs = [
        ("lower_0.95", "Lower2s0025limit"),
        ("upper_0.95", "Upper2s0025limit"),
        ("lower_0.998", "Lower3s0001limit"),
        ("upper_0.998", "Upper3s0001limit"),
    ]
    for ours, theirs in pairs:
        # the expected file has 6 (or 8) decimals in percent
        np.testing.assert_allclose(100 * got[ours], expected[theirs], rtol=0, atol=1e-6)


def test_flags_match_phe_significance(phe_inputs):
    out = funnel_flags(phe_inputs["numerator"], phe_inputs["denominator"], method="normal")
    labels = out["flag"].map(PHE_LABELS)
    assert labels.tolist() == phe_inputs["expected_significance"].tolist()
    assert set(out["flag"]) == set(PHE_LABELS)  # every category occurs in this data


def test_flags_and_z_match_funnelr_vignette(reference_dir):
    d = pd.read_csv(reference_dir / "funnel_funnelR_physicians.csv")
    out = funnel_flags(d["n"], d["d"], target=0.5, levels=(0.80, 0.95), method="normal")
    np.testing.assert_allclose(out["proportion"], d["expected_r"], atol=5e-8)
    np.testing.assert_allclose(out["z"].abs(), d["expected_abs_z"], atol=5e-8)
    flag80 = np.where(out["z"].abs() > stats.norm.ppf(0.9), "Extreme", "In Control")
    assert flag80.tolist() == d["expected_score_80pct"].tolist()
    extreme95 = out["flag"].isin(["above_0.95", "below_0.95"])
    assert np.where(extreme95, "Extreme", "In Control").tolist() == d["expected_score_95pct"].tolist()
    # unit 5 is outside the 80% limits only
    assert out.loc[4, "flag"] == "below_0.8"


# --------------------------------------------------------------------------- exact limits


def test_exact_limits_hand_worked_binomial_10_half():
    # Binomial(10, 0.5): F(1) = 11/1024, F(2) = 56/1024, F(7) = 968/1024, F(8) = 1013/1024.
    # lower (p = 0.025): r = 2, alpha = (56/1024 - 0.025) / (45/1024)   -> (2 - alpha) / 10
    # upper (p = 0.975): r = 8, alpha = (1013/1024 - 0.975) / (45/1024) -> (8 - alpha) / 10
    lo = (2 - (56 / 1024 - 0.025) / (45 / 1024)) / 10
    hi = (8 - (1013 / 1024 - 0.975) / (45 / 1024)) / 10
    got = funnel_limits(0.5, [10], levels=(0.95,))
    assert got.loc[0, "lower_0.95"] == pytest.approx(lo, abs=1e-12)
    assert got.loc[0, "upper_0.95"] == pytest.approx(hi, abs=1e-12)
    assert round(lo, 4) == 0.1324 and round(hi, 4) == 0.7676


def test_exact_limits_bracketed_by_funnelr_quantiles():
    # funnelR fundata(method="exact"): qbinom(p, n, target) / n, no interpolation.
    n = np.arange(1, 400)
    for target in (0.05, 0.3, 0.62):
        got = funnel_limits(target, n)
        for lv in (0.95, 0.998):
            for side, p in (("lower", (1 - lv) / 2), ("upper", (1 + lv) / 2)):
                q = stats.binom.ppf(p, n, target)
                col = got[f"{side}_{lv:g}"].to_numpy()
                assert np.all(col <= q / n + 1e-12)
                assert np.all(col >= np.clip((q - 1) / n, 0, 1) - 1e-12)


def test_exact_limits_approach_normal_for_large_n():
    n = np.array([20000, 100000])
    ex = funnel_limits(0.3, n)
    no = funnel_limits(0.3, n, method="normal")
    for col in ex.columns[1:]:
        # they differ by O(1/n): the interpolation and the skewness of the binomial
        assert np.all(np.abs(ex[col] - no[col]) <= 1.0 / n)


def test_limits_shape_columns_and_errors():
    out = funnel_limits(0.2, [10, 50], levels=(0.9, 0.99, 0.999))
    assert out.columns.tolist() == [
        "n",
        "lower_0.9",
        "upper_0.9",
        "lower_0.99",
        "upper_0.99",
        "lower_0.999",
        "upper_0.999",
    ]
    assert out["n"].dtype == "int64"
    with pytest.raises(ValueError, match="target must be a proportion"):
        funnel_limits(1.2, [10])
    with pytest.raises(ValueError, match="whole numbers"):
        funnel_limits(0.2, [10.5])
    with pytest.raises(ValueError, match="n must contain sample sizes > 0"):
        funnel_limits(0.2, [0, 10])
    with pytest.raises(ValueError, match="method must be one of"):
        funnel_limits(0.2, [10], method="wilson")
    with pytest.raises(ValueError, match="levels"):
        funnel_limits(0.2, [10], levels=(0.95, 1.5))
    with pytest.raises(ValueError, match="requires method='normal'"):
        funnel_limits(0.2, [10], overdispersion=2.0)
    with pytest.raises(ValueError, match="overdispersion must be"):
        funnel_limits(0.2, [10], method="normal", overdispersion=-1)


# --------------------------------------------------------------------------- over-dispersion


def test_overdispersion_hand_worked():
    x = np.array([10, 30, 12, 50, 21])
    n = np.array([100, 120, 90, 150, 100])
    od = estimate_overdispersion(x, n, winsorize=0)
    t = x.sum() / n.sum()
    s2 = t * (1 - t) / n
    z = (x / n - t) / np.sqrt(s2)
    assert od.phi == pytest.approx(np.mean(z**2))
    w = 1 / s2
    assert od.tau2 == pytest.approx((5 * od.phi - 4) / (w.sum() - (w**2).sum() / w.sum()))
    assert od.p_value == pytest.approx(stats.chi2.sf(5 * od.phi, 4))
    assert od.to_frame().shape == (1, 7)


def test_overdispersion_winsorising():
    rng = np.random.default_rng(1)
    n = rng.integers(50, 400, 30)
    x = rng.binomial(n, 0.3)
    x[0] = n[0]  # a wild outlier
    raw = estimate_overdispersion(x, n, target=0.3, winsorize=0)
    win = estimate_overdispersion(x, n, target=0.3, winsorize=0.1)
    z = (x / n - 0.3) / np.sqrt(0.21 / n)
    lo, hi = np.quantile(z, [0.1, 0.9])
    assert win.phi == pytest.approx(np.mean(np.clip(z, lo, hi) ** 2))
    assert win.phi < raw.phi
    with pytest.raises(ValueError, match="winsorize"):
        estimate_overdispersion(x, n, winsorize=0.6)


def test_overdispersed_limits_and_flags():
    t = 0.3
    n = np.array([50, 200])
    phi_lim = funnel_limits(t, n, method="normal", overdispersion=2.0)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(phi_lim["upper_0.95"], t + z * np.sqrt(2 * t * (1 - t) / n))
    od = Overdispersion(
        phi=2.0, tau2=0.004, model="additive", k=10, statistic=20.0, p_value=0.02, winsorize=0.1
    )
    add_lim = funnel_limits(t, n, method="normal", overdispersion=od)
    np.testing.assert_allclose(add_lim["lower_0.95"], t - z * np.sqrt(t * (1 - t) / n + 0.004))
    flags = funnel_flags([25, 80], [50, 200], target=t, overdispersion=od)
    np.testing.assert_allclose(flags["z"], (np.array([0.5, 0.4]) - t) / np.sqrt(t * (1 - t) / n + 0.004))
    plain = funnel_flags([25, 80], [50, 200], target=t)
    assert (flags["z"].abs() < plain["z"].abs()).all()


def test_flags_exact_method_and_index():
    x = pd.Series([0, 5, 19], index=["u1", "u2", "u3"])
    n = pd.Series([20, 20, 20], index=["u1", "u2", "u3"])
    out = funnel_flags(x, n, target=0.3, method="exact")
    assert out.index.tolist() == ["u1", "u2", "u3"]
    lim = funnel_limits(0.3, [20])
    assert out.loc["u1", "flag"] == ("below_0.998" if 0 < lim.loc[0, "lower_0.998"] else "below_0.95")
    assert out.loc["u2", "flag"] == "within"
    assert out.loc["u3", "flag"] == "above_0.998"
    with pytest.raises(ValueError, match="whole numbers"):
        funnel_flags([1.5], [20], target=0.3, method="exact")
    with pytest.raises(ValueError, match="between 0 and n"):
        funnel_flags([25], [20])


def test_continuous_limits():
    out = funnel_limits_continuous(-4.0, 6.0, [10, 40, 160], levels=(0.95, 0.998))
    z = stats.norm.ppf(0.999)
    np.testing.assert_allclose(out["upper_0.998"], -4.0 + z * 6.0 / np.sqrt([10, 40, 160]))
    wider = funnel_limits_continuous(-4.0, 6.0, [10], overdispersion=1.5)
    assert wider.loc[0, "upper_0.95"] - (-4.0) == pytest.approx(stats.norm.ppf(0.975) * math.sqrt(1.5 * 3.6))
    with pytest.raises(ValueError, match="sd must be"):
        funnel_limits_continuous(0.0, 0.0, [10])
