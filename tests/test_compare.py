"""compare_summaries on hand-built summaries: reference values, direction, proportions, exclusions, messages."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from evalkit.compare import compare_summaries
from evalkit.instruments import builtin_instruments
from evalkit.rules import PairingRules
from evalkit.stats import meta_analysis, meta_regression, proportion_effect, subgroup_analysis, wilson_ci
from evalkit.summary import Summary

# metafor tests/testthat/test_analysis_example_morris2008.r: escalc("SMCR", m1i=m_post, m2i=m_pre, sd1i=sd_pre,
# ni, ri) on the treatment groups of Morris (2008), and test_misc_rma_uni.r: rma(yi, vi) gives tau2 = 0.3164
MORRIS_TREATMENT = pd.DataFrame({
    "study": [1, 2, 3, 4, 5], "m_pre": [30.6, 23.5, 0.5, 53.4, 35.6], "m_post": [38.5, 26.8, 0.7, 75.9, 36.0],
    "sd_pre": [15.0, 3.1, 0.1, 14.5, 4.7], "sd_post": [11.6, 4.1, 0.1, 4.4, 4.6], "ni": [20, 50, 9, 10, 14],
    "ri": [0.47, 0.64, 0.77, 0.89, 0.44],
})  # shared/reference/datasets/prepost_morris2008.csv (group == "treatment")
METAFOR_YI = [0.5056, 1.0481, 1.8054, 1.4181, 0.0801]
METAFOR_VI = [0.0594, 0.0254, 0.2322, 0.1225, 0.0802]
METAFOR_TAU2_REML = 0.3164

IMPROVED = [10, 30, 9, 5, 5]
FORMATS = ["group", "one_to_one", "group", "one_to_one", "mixed"]
MODES = ["in_person", "telephone", "in_person", "telephone", "in_person"]


# Morris's means run from 0.5 to 75.9, outside any instrument's totals, so the fixture RESCALES them (it does not
# just relabel them): x -> low + STRETCH * x on a higher-is-better scale, high - STRETCH * x on a lower-is-better
# one, with STRETCH = (high - low) / MORRIS_SPAN for the instrument's totals [low, high], and SDs times STRETCH.
# A standardised mean change and its variance do not change under such a map (a change over the baseline SD, and
# the correlation), so metafor's yi, vi and tau2 above are still the known answers; a raw mean change is
# STRETCH times Morris's. On WEMWBS (14 to 70) the means become 14.35 to 67.13, on EPDS (0 to 30) 29.81 to 1.54.
MORRIS_SPAN = 80.0


def stretch(instrument: str) -> float:
    low, high = builtin_instruments()[instrument].score_range
    return (high - low) / MORRIS_SPAN


def morris_summary(higher_is_better: bool = True, instrument: str = "wemwbs", rules=None, **prog_cols) -> Summary:
    d = MORRIS_TREATMENT
    ids = [f"S{i}" for i in d["study"]]
    prog = pd.DataFrame({"programme_id": ids, "format": FORMATS, "mode": MODES,
                         "delivered_by": "volunteer_peers", "referred": [100, 200, 40, 50, 60],
                         "took_up": [50, 120, 20, 30, 14], **prog_cols})
    low, high = builtin_instruments()[instrument].score_range
    b = stretch(instrument)
    m_pre, m_post = ((low + b * d["m_pre"], low + b * d["m_post"]) if higher_is_better
                     else (high - b * d["m_pre"], high - b * d["m_post"]))
    res = pd.DataFrame({"programme_id": ids, "instrument": instrument, "higher_is_better": higher_is_better,
                        "n_baseline": d["ni"], "n_paired": d["ni"], "baseline_mean": m_pre, "endpoint_mean": m_post,
                        "baseline_sd": b * d["sd_pre"], "endpoint_sd": b * d["sd_post"], "r_pre_post": d["ri"],
                        # counts chosen so that every difference of nested counts is 0 or >= 5 (publishable)
                        "n_reliable_improvement": IMPROVED, "n_caseness_baseline": [12, 25, 9, 5, 7],
                        "n_reliable_recovery": [5, 10, 9, 5, 0]})
    return Summary.from_frames(prog, res, rules=rules)


def test_smcr_pooling_reproduces_metafor_morris2008():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", method="REML")
    per = comp.per_programme
    np.testing.assert_array_equal(per["yi"].round(4).tolist(), METAFOR_YI)
    np.testing.assert_array_equal(per["vi"].round(4).tolist(), METAFOR_VI)
    assert round(comp.pooled.loc[0, "tau2"], 4) == METAFOR_TAU2_REML
    ma = meta_analysis(per["yi"], per["vi"], method="REML")
    assert comp.pooled.loc[0, "estimate"] == ma.estimate and comp.pooled.loc[0, "pi_high"] == ma.pi_high
    assert per["weight"].sum() == pytest.approx(100)


def test_direction_improvement_positive_for_symptom_measures():
    up = compare_summaries([morris_summary(True)], instrument="wemwbs", measure="smcr")
    # the same numbers on a lower-is-better scale (scores reversed): still an improvement, same effect
    down = compare_summaries([morris_summary(False, instrument="epds")], instrument="epds", measure="smcr")
    np.testing.assert_allclose(down.per_programme["yi"], up.per_programme["yi"], rtol=1e-12)
    np.testing.assert_allclose(down.per_programme["vi"], up.per_programme["vi"], rtol=1e-12)
    mc = compare_summaries([morris_summary(False, instrument="epds")], instrument="epds", measure="mean_change")
    # raw mean change: post - pre = 7.9 points up on Morris's scale, 7.9 x 30 / 80 = 2.9625 EPDS points down,
    # reported as +2.9625 (an improvement)
    assert mc.per_programme.loc[0, "yi"] == pytest.approx(7.9 * stretch("epds")) == pytest.approx(2.9625)
    assert "positive value is an improvement" in mc.direction


@pytest.mark.parametrize("scale", ["logit", "raw"])
def test_proportions_logit_or_raw_with_wilson_intervals(scale):
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="reliable_improvement",
                             proportion_scale=scale, method="DL")
    x = np.array(IMPROVED, dtype=float)
    n = MORRIS_TREATMENT["ni"].to_numpy(float)
    yi, vi = proportion_effect(x, n, measure="PLO" if scale == "logit" else "PR")
    np.testing.assert_allclose(comp.per_programme["yi"], yi)
    np.testing.assert_allclose(comp.per_programme["vi"], vi)
    lo, hi = wilson_ci(x, n)
    np.testing.assert_allclose(comp.per_programme["ci_low"], lo)
    np.testing.assert_allclose(comp.per_programme["estimate"], x / n)
    ma = meta_analysis(yi, vi, method="DL")
    back = (lambda v: 1 / (1 + math.exp(-v))) if scale == "logit" else (lambda v: v)
    assert comp.pooled.loc[0, "estimate"] == pytest.approx(back(ma.estimate))
    assert comp.pooled.loc[0, "ci_low"] == pytest.approx(back(ma.ci_low))
    assert comp.pooled.loc[0, "scale"] == ("logit" if scale == "logit" else "proportion")


def test_take_up_and_recovery_use_their_own_denominators():
    s = morris_summary()
    take = compare_summaries([s], measure="take_up")
    np.testing.assert_allclose(take.per_programme["estimate"], np.array([50, 120, 20, 30, 14]) / [100, 200, 40, 50, 60])
    assert take.per_programme["instrument"].isna().all() and take.instrument == ()
    rec = compare_summaries([s], instrument="wemwbs", measure="recovery")
    # S5: 0 of 7 recovered -> included with the 1/2 correction on the logit scale
    row = rec.per_programme.set_index("programme_id").loc["S5"]
    assert row["estimate"] == 0 and row["included"]
    assert row["yi"] == pytest.approx(proportion_effect(0, 7, measure="PLO")[0])


def test_suppressed_programme_is_listed_with_the_reason_and_left_out():
    d = MORRIS_TREATMENT.copy()
    s = morris_summary()
    res = s.results.copy()
    res.loc[2, "n_paired"] = 3  # below the threshold: hidden on export
    res.loc[2, "n_baseline"] = 9
    prog = s.programmes.copy()
    s2 = Summary.from_frames(prog, res)
    comp = compare_summaries([s2], instrument="wemwbs", measure="smcr")
    row = comp.per_programme.set_index("programme_id").loc["S3"]
    assert not row["included"] and "suppressed" in row["reason"] and "n_paired" in row["reason"]
    assert comp.pooled.loc[0, "k"] == len(d) - 1
    assert any(n.startswith("S3 left out") for n in comp.notes)
    assert "S3" not in comp.funnel["programme_id"].tolist()


def test_subgroups_and_moderator_test_with_too_few_programmes_per_level():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", by="format")
    sub = comp.subgroups
    assert set(sub["level"]) == {"group", "one_to_one", "mixed"}
    assert sub.set_index("level").loc["mixed", "k"] == 1
    sg = subgroup_analysis(comp.per_programme["yi"], comp.per_programme["vi"], FORMATS, method="REML")
    np.testing.assert_allclose(sub.sort_values("level")["estimate"], sg.table.sort_values("group")["estimate"])
    mt = comp.moderator_test.iloc[0]
    assert not mt["tested"] and "too few programmes per level of format" in mt["message"]
    assert "'mixed' has 1" in mt["message"] and "at least 3" in mt["message"]
    text = comp.to_text()
    assert "not tested" in text


def test_moderator_test_equals_meta_regression_when_allowed():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", by="mode", min_per_level=2,
                             knha=True)
    mt = comp.moderator_test.iloc[0]
    assert mt["tested"] and mt["test"] == "F"
    reg = meta_regression(comp.per_programme["yi"], comp.per_programme["vi"],
                          pd.DataFrame({"mode": MODES}), method="REML", knha=True)
    assert mt["statistic"] == pytest.approx(reg.qm) and mt["pvalue"] == pytest.approx(reg.qm_pvalue)
    assert (mt["df1"], mt["df2"]) == (1, 3)


def test_more_parameters_than_programmes_is_explained():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", by=["format", "mode"],
                             min_per_level=1)
    joint = comp.moderator_test.set_index("moderators").loc["format + mode"]
    assert not joint["tested"]
    assert "collinear" in joint["message"] or "more parameters" in joint["message"]


def test_one_programme():
    one = morris_summary().programmes.iloc[:1]
    res = morris_summary().results.iloc[:1]
    s = Summary.from_frames(one, res)
    comp = compare_summaries([s], instrument="wemwbs", measure="smcr")
    assert comp.pooled.loc[0, "k"] == 1 and "at least 2" in comp.pooled.loc[0, "message"]
    assert np.isnan(comp.pooled.loc[0, "estimate"])
    fe = compare_summaries([s], instrument="wemwbs", measure="smcr", method="FE")
    assert fe.pooled.loc[0, "estimate"] == pytest.approx(comp.per_programme.loc[0, "yi"])


def test_instrument_preference_and_mean_change_needs_one_scale():
    a = morris_summary(instrument="epds", higher_is_better=False)
    res = a.results.copy()
    res.loc[res["programme_id"] == "S2", "instrument"] = "phq9"
    s = Summary.from_frames(a.programmes, res)
    comp = compare_summaries([s], instrument=["epds", "phq9"], measure="smcr")
    assert comp.per_programme.set_index("programme_id").loc["S2", "instrument"] == "phq9"
    assert comp.per_programme["included"].all()
    assert any("different instruments" in n for n in comp.notes)
    only_epds = compare_summaries([s], instrument="epds", measure="smcr")
    assert only_epds.pooled.loc[0, "k"] == 4
    with pytest.raises(ValueError, match="single instrument"):
        compare_summaries([s], instrument=["epds", "phq9"], measure="mean_change")


def test_several_summaries_duplicates_and_rules():
    s = morris_summary()
    first = Summary.from_frames(s.programmes.iloc[:2], s.results.iloc[:2])
    rest = Summary.from_frames(s.programmes.iloc[2:], s.results.iloc[2:])
    together = compare_summaries([s], instrument="wemwbs")
    apart = compare_summaries([first, rest], instrument="wemwbs")
    pd.testing.assert_frame_equal(together.pooled, apart.pooled)
    with pytest.raises(ValueError, match="appears in more than one summary"):
        compare_summaries([s, first], instrument="wemwbs")
    other = Summary.from_frames(s.programmes.iloc[2:], s.results.iloc[2:], rules=PairingRules(min_dose=4))
    with pytest.raises(ValueError, match="different pairing rules.*min_dose: 2 vs 4"):
        compare_summaries([first, other], instrument="wemwbs")
    mixed = compare_summaries([first, other], instrument="wemwbs", allow_mixed_rules=True)
    assert any("different pairing rules" in n for n in mixed.notes)
    # suppression settings may differ
    strict = Summary.from_frames(s.programmes.iloc[2:], s.results.iloc[2:], rules=PairingRules(suppression_threshold=8))
    compare_summaries([first, strict], instrument="wemwbs")


@pytest.mark.parametrize("kwargs, match", [
    ({"measure": "odds"}, "measure must be one of"),
    ({"method": "XX"}, "method must be one of"),
    ({"by": "colour"}, "by must be among"),
    ({"knha": "yes"}, "knha must be True or False"),
    ({"instrument": "gad7"}, "no programme has the figures needed for smcr on gad7"),
    ({"proportion_scale": "probit"}, "proportion_scale must be one of"),
    ({"overdispersion": "both"}, "overdispersion must be one of"),
])
def test_argument_errors_name_the_argument(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare_summaries([morris_summary()], **{"instrument": "wemwbs", **kwargs})


def test_funnel_flags_and_overdispersion():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr")
    f = comp.funnel.set_index("programme_id")
    assert f.loc["S5", "flag"] == "below_0.95" and f.loc["S2", "flag"] == "within"
    # limits are target +/- z * sqrt(vi): each programme's own standard error
    vi = comp.per_programme.set_index("programme_id")["vi"]
    assert f.loc["S1", "upper_0.95"] == pytest.approx(f.loc["S1", "target"] + 1.959964 * math.sqrt(vi["S1"]), 1e-6)
    wide = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", overdispersion="additive")
    assert (wide.funnel["flag"] == "within").all()
    assert any("over-dispersion (additive)" in n for n in wide.notes)
    prop = compare_summaries([morris_summary()], instrument="wemwbs", measure="take_up")
    assert prop.funnel.loc[0, "target"] == pytest.approx(234 / 450)


def test_to_dict_is_json_and_text_has_the_forest():
    comp = compare_summaries([morris_summary()], instrument="wemwbs", measure="smcr", by="format")
    d = json.loads(json.dumps(comp.to_dict(), allow_nan=False))
    assert d["pooled"][0]["k"] == 5 and len(d["per_programme"]) == 5
    assert set(d) >= {"per_programme", "pooled", "subgroups", "moderator_test", "funnel", "rules_text"}
    text = comp.to_text()
    for needle in ("pooled", "prediction interval", "tau^2", "I^2", "Subgroups", "Funnel", "Rules:"):
        assert needle in text


def test_continuous_overdispersion_is_estimate_overdispersion_on_z_scores():
    from evalkit.compare import _continuous_overdispersion
    from evalkit.stats import estimate_overdispersion

    x = np.array([10, 30, 12, 50, 21, 8, 40.0])
    n = np.array([100, 120, 90, 150, 100, 80, 110.0])
    t = x.sum() / n.sum()
    for model in ("multiplicative", "additive"):
        ref = estimate_overdispersion(x, n, t, model=model)
        got = _continuous_overdispersion(x / n, t * (1 - t) / n, t, model)
        assert got.phi == pytest.approx(ref.phi, rel=1e-12) and got.tau2 == pytest.approx(ref.tau2, rel=1e-12)
        assert got.p_value == pytest.approx(ref.p_value, rel=1e-12)
