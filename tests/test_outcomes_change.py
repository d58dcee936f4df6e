"""Change per episode, NHS Talking Therapies metrics and recovery from/within: hand-worked examples and properties."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.change import CHANGE_COLUMNS, cronbach_alpha, episode_change, instrument_parameters
from evalkit.recovery import recovery_classification, recovery_from_within
from evalkit.rules import PairingRules
from evalkit.talking_therapies import rate, talking_therapies_outcomes, talking_therapies_rates

ROLES = {"epds": "symptom", "phq9": "symptom", "gad7": "symptom", "wemwbs": "wellbeing", "swemwbs": "wellbeing",
         "qpr15": "recovery"}
HIB = {"epds": False, "phq9": False, "gad7": False, "wemwbs": True, "swemwbs": True, "qpr15": True}


def _ep(rows: list[tuple[str, str, float, float]], *, paired: list[bool] | None = None) -> pd.DataFrame:
    """Minimal episodes: (participant, instrument, baseline, endpoint)."""
    f = pd.DataFrame(rows, columns=["participant_id", "instrument", "baseline_score", "endpoint_score"])
    f["programme_id"] = "P"
    f["role"] = f["instrument"].map(ROLES)
    f["higher_is_better"] = f["instrument"].map(HIB)
    f["paired"] = True if paired is None else paired
    f.loc[~f["paired"], "endpoint_score"] = np.nan
    f["unpaired_reason"] = pd.array([None if p else "no_score_after_baseline" for p in f["paired"]], dtype="string")
    f["baseline_date"] = pd.Timestamp("2025-01-01")
    f["dose"] = 4.0
    return f


def test_epds_published_threshold_and_categories() -> None:
    # EPDS: published reliable change 4 (Matthey 2004), caseness >= 13.
    # 16 -> 12: -4 -> reliable improvement, crosses the cut-off -> recovered
    # 16 -> 13: -3 -> unchanged (still at caseness)
    # 20 -> 14: -6 -> improved (still at caseness)
    # 10 -> 14: +4 -> reliable deterioration, crosses into caseness -> harmed
    # 14 -> 18: +4 -> deteriorated (already a case)
    # 12 -> 9:  -3 -> unchanged
    ep = _ep([("a", "epds", 16, 12), ("b", "epds", 16, 13), ("c", "epds", 20, 14), ("d", "epds", 10, 14),
              ("e", "epds", 14, 18), ("f", "epds", 12, 9)])
    out = episode_change(ep)
    assert set(CHANGE_COLUMNS) <= set(out.columns)
    assert out["change"].tolist() == [-4, -3, -6, 4, 4, -3]
    assert out["improvement"].tolist() == [4, 3, 6, -4, -4, 3]
    assert out["rc_threshold"].tolist() == [4.0] * 6
    assert out["rc_threshold_source"].astype(str).str.startswith("published").all()
    assert out["reliable_improvement"].tolist() == [True, False, True, False, False, False]
    assert out["reliable_deterioration"].tolist() == [False, False, False, True, True, False]
    assert out["no_reliable_change"].tolist() == [False, True, False, False, False, True]
    assert out["caseness_baseline"].tolist() == [True, True, True, False, True, False]
    assert out["cs_category"].astype(str).tolist() == ["recovered", "unchanged", "improved", "harmed",
                                                       "deteriorated", "unchanged"]
    assert out["meaningful_improvement"].isna().all()  # not a wellbeing measure


def test_computed_rci_by_hand() -> None:
    # EPDS, reliability 0.87 (file), no reference SD -> sample SD of the paired baselines.
    # baselines 16, 16, 20, 10, 14, 12: mean 14.667, SD = sqrt(61.333/5) = 3.50238
    # S_diff = sqrt(2) * 3.50238 * sqrt(0.13) = 1.78589; RCI(16 -> 12) = -4 / 1.78589 = -2.2398
    ep = _ep([("a", "epds", 16, 12), ("b", "epds", 16, 13), ("c", "epds", 20, 14), ("d", "epds", 10, 14),
              ("e", "epds", 14, 18), ("f", "epds", 12, 9)])
    out = episode_change(ep)
    sd = math.sqrt(61.333333333 / 5)
    s_diff = math.sqrt(2) * sd * math.sqrt(1 - 0.87)
    assert out["sd_used"].iloc[0] == pytest.approx(sd)
    assert out["s_diff"].iloc[0] == pytest.approx(s_diff)
    assert out["rci"].iloc[0] == pytest.approx(-4 / s_diff)
    assert out["jt_threshold"].iloc[0] == pytest.approx(1.96 * s_diff)  # 3.500
    # |RCI| > 1.96 <=> |change| > 3.5003: -4, -6, +4, +4 qualify; -3 does not
    assert out["jt_reliable_improvement"].tolist() == [True, False, True, False, False, False]
    assert out["jt_reliable_deterioration"].tolist() == [False, False, False, True, True, False]
    # without the published threshold the headline uses the computed RCI
    out2 = episode_change(ep, rules=PairingRules(use_published_threshold=False))
    assert out2["rc_threshold"].iloc[0] == pytest.approx(1.96 * s_diff)
    assert out2["reliable_improvement"].tolist() == out["jt_reliable_improvement"].tolist()


def test_wellbeing_meaningful_and_reliable_are_separate() -> None:
    # WEMWBS: published (derived) RCI 7.5, authors' meaningful change 3 points, probable depression <= 40
    # 38 -> 42 (+4): meaningful, not reliable; 38 -> 46 (+8): both; 45 -> 41 (-4): meaningfully worse only
    ep = _ep([("a", "wemwbs", 38, 42), ("b", "wemwbs", 38, 46), ("c", "wemwbs", 45, 41)])
    out = episode_change(ep)
    assert out["meaningful_change_threshold"].tolist() == [3.0] * 3
    # 7.5 is worked out in the instrument file (status "derived"), not published: the source says which
    assert out["rc_threshold"].tolist() == [7.5] * 3
    assert out["rc_threshold_source"].astype(str).str.startswith("derived in the instrument file (").all()
    assert out["meaningful_improvement"].tolist() == [True, True, False]
    assert out["meaningful_deterioration"].tolist() == [False, False, True]
    assert out["reliable_improvement"].tolist() == [False, True, False]
    assert out["reliable_deterioration"].tolist() == [False, False, False]
    # higher is better: caseness is the probable-depression band (<= 40); 38 -> 46 leaves it with reliable change
    assert out["caseness_baseline"].tolist() == [True, True, False]
    assert out["cs_category"].astype(str).tolist() == ["unchanged", "recovered", "unchanged"]
    # WEMWBS reference SD 8.96 (SHeS 2018) and alpha 0.91: JT threshold 1.96 sqrt(2) 8.96 sqrt(0.09) = 7.451
    assert out["jt_threshold"].iloc[0] == pytest.approx(1.96 * math.sqrt(2) * 8.96 * 0.3, abs=1e-9)


def test_qpr_uses_sample_sd_and_alpha() -> None:
    # QPR-15: no published threshold, reliability 0.89, SD from the sample's paired baselines (20, 30, 40: SD 10)
    ep = _ep([("a", "qpr15", 20, 30), ("b", "qpr15", 30, 36), ("c", "qpr15", 40, 38)])
    out = episode_change(ep)
    thr = 1.96 * math.sqrt(2) * 10 * math.sqrt(0.11)
    assert out["rc_threshold"].iloc[0] == pytest.approx(thr)  # 9.19
    assert out["rc_threshold_source"].astype(str).iloc[0].startswith("computed")
    assert out["reliable_improvement"].tolist() == [True, False, False]
    assert out["caseness_baseline"].isna().all() and out["cs_category"].astype(str).tolist()[0] == "improved"


def test_cronbach_alpha_reference() -> None:
    # Reference: statsmodels-free formula by hand in the docstring; also equals 1 for perfectly parallel items
    x = np.array([[1, 1], [2, 2], [3, 3], [5, 5]], dtype=float)
    assert cronbach_alpha(x) == pytest.approx(1.0)
    assert np.isnan(cronbach_alpha(x[:2]))


def test_sample_reliability_source_falls_back_with_a_note() -> None:
    ep = _ep([("a", "epds", 16, 12), ("b", "epds", 14, 13), ("c", "epds", 20, 14)])
    params = instrument_parameters(ep, rules=PairingRules(reliability_source="sample"))
    assert params["reliability_used"].iloc[0] == pytest.approx(0.87)
    assert "fewer than 30" in params["reliability_source"].iloc[0]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), min_size=3, max_size=25),
       st.sampled_from(["epds", "phq9", "wemwbs", "qpr15"]), st.booleans())
def test_swapping_pre_and_post_flips_improvement_and_deterioration(pairs, code, published) -> None:
    lo, hi = {"epds": (0, 30), "phq9": (0, 27), "wemwbs": (14, 70), "qpr15": (0, 60)}[code]
    pairs = [(min(max(a + lo, lo), hi), min(max(b + lo, lo), hi)) for a, b in pairs]
    pre = [p[0] for p in pairs]
    if len(set(pre)) < 2:
        pre[0] = lo if pre[0] != lo else hi
        pairs[0] = (pre[0], pairs[0][1])
    rows = [(f"p{i}", code, float(a), float(b)) for i, (a, b) in enumerate(pairs)]
    swapped = [(f"p{i}", code, float(b), float(a)) for i, (a, b) in enumerate(pairs)]
    # fix the SD so both directions use the same threshold (the sample SD is of the baselines)
    inst_sd = 5.0
    from evalkit.instruments import builtin_instruments

    reg = dict(builtin_instruments())
    reg[code] = reg[code].with_overrides(reference_sd=inst_sd)
    rules = PairingRules(use_published_threshold=published)
    f = episode_change(_ep(rows), rules=rules, instruments=reg)
    b = episode_change(_ep(swapped), rules=rules, instruments=reg)
    assert f["reliable_improvement"].tolist() == b["reliable_deterioration"].tolist()
    assert f["reliable_deterioration"].tolist() == b["reliable_improvement"].tolist()
    assert f["jt_reliable_improvement"].tolist() == b["jt_reliable_deterioration"].tolist()
    np.testing.assert_allclose(f["rci"], -b["rci"])
    cats = {"recovered": "harmed", "improved": "deteriorated", "unchanged": "unchanged",
            "deteriorated": "improved", "harmed": "recovered"}
    if reg[code].default_cutoff is not None:
        assert [cats[c] for c in f["cs_category"].astype(str)] == b["cs_category"].astype(str).tolist()


# ---------------------------------------------------------------------------
# NHS Talking Therapies
# ---------------------------------------------------------------------------
def test_published_recovery_rate_example() -> None:
    # instruments.md section 11.1 (NHS Digital 2020): 27,884 / (57,060 - 3,200) = 51.8%; 39,417 / 57,060 = 69.1%
    assert round(100 * rate(27_884, 57_060, 3_200), 1) == 51.8
    assert round(100 * rate(39_417, 57_060), 1) == 69.1
    # the same through talking_therapies_rates on 57,060 finished people
    n, not_case, rec, ri = 57_060, 3_200, 27_884, 39_417
    idx = np.arange(n)
    tt = pd.DataFrame({
        "programme_id": "P", "participant_id": idx.astype(str), "measure_set": "phq9+gad7", "finished": True,
        "caseness_start": pd.array(idx >= not_case, dtype="boolean"),
        "recovery": pd.array((idx >= not_case) & (idx < not_case + rec), dtype="boolean"),
        "reliable_recovery": pd.array(np.zeros(n, bool), dtype="boolean"),
        "reliable_improvement": pd.array(idx < ri, dtype="boolean"),
        "reliable_deterioration": pd.array(np.zeros(n, bool), dtype="boolean"),
        "no_reliable_change": pd.array(idx >= ri, dtype="boolean"),
    })
    out = talking_therapies_rates(tt)
    assert round(out["pct_recovery"].iloc[0], 1) == 51.8
    assert round(out["pct_reliable_improvement"].iloc[0], 1) == 69.1
    assert out["n_not_caseness_start"].iloc[0] == 3_200


def test_joint_rules_phq9_gad7() -> None:
    # a: PHQ 15 -> 8 (-7, reliable fall) but GAD 5 -> 9 (+4, reliable rise): deterioration, not improvement;
    #    caseness at start (PHQ >= 10), at end GAD 9 >= 8 -> not recovered
    # b: PHQ 8 -> 7, GAD 9 -> 4 (-5): case at start on GAD only, below both at end -> recovered, reliable recovery
    # c: PHQ 6 -> 5, GAD 5 -> 3: never a case -> out of the recovery denominator; no reliable change
    # d: PHQ 16 -> 12 (-4, not reliable), GAD 12 -> 9 (-3): no reliable change, still a case
    # e: only PHQ-9 paired (GAD-7 unpaired) -> not finished for the joint set
    ep = _ep([("a", "phq9", 15, 8), ("a", "gad7", 5, 9), ("b", "phq9", 8, 7), ("b", "gad7", 9, 4),
              ("c", "phq9", 6, 5), ("c", "gad7", 5, 3), ("d", "phq9", 16, 12), ("d", "gad7", 12, 9),
              ("e", "phq9", 14, 5), ("e", "gad7", 10, np.nan)],
             paired=[True] * 9 + [False])
    tt = talking_therapies_outcomes(episode_change(ep)).set_index("participant_id")
    assert (tt["measure_set"] == "phq9+gad7").all()
    assert tt.loc["a", "reliable_deterioration"] and not tt.loc["a", "reliable_improvement"]
    assert not tt.loc["a", "recovery"]
    assert tt.loc["b", "recovery"] and tt.loc["b", "reliable_improvement"] and tt.loc["b", "reliable_recovery"]
    assert not tt.loc["c", "caseness_start"] and tt.loc["c", "no_reliable_change"]
    assert tt.loc["d", "no_reliable_change"] and tt.loc["d", "caseness_end"]
    assert not tt.loc["e", "finished"] and pd.isna(tt.loc["e", "recovery"])
    r = talking_therapies_rates(tt.reset_index(), rules=PairingRules(suppression_threshold=1)).iloc[0]
    assert r["n_finished"] == 4 and r["n_caseness_start"] == 3
    assert r["pct_recovery"] == pytest.approx(100 / 3)  # b of (4 - 1)
    assert r["pct_reliable_improvement"] == pytest.approx(25.0)  # b of 4
    assert r["pct_reliable_deterioration"] == pytest.approx(25.0)  # a of 4
    assert r["pct_no_reliable_change"] == pytest.approx(50.0)


def test_epds_iapt_style_and_single_measures() -> None:
    ep = _ep([("a", "epds", 16, 11), ("b", "phq9", 12, 5), ("b", "epds", 14, 14)])
    tt = talking_therapies_outcomes(episode_change(ep))
    sets = tt.groupby("participant_id")["measure_set"].apply(sorted).to_dict()
    assert sets == {"a": ["epds"], "b": ["epds", "phq9"]}
    assert tt["measure_set_label"].str.contains("IAPT-style").all()
    a = tt[(tt["participant_id"] == "a")].iloc[0]
    assert a["recovery"] and a["reliable_recovery"]


# ---------------------------------------------------------------------------
# recovery from / within
# ---------------------------------------------------------------------------
def test_recovery_from_within_hand_worked() -> None:
    # all at EPDS caseness at baseline (>= 13); WEMWBS reliable change 7.5
    # a: EPDS 18 -> 8 (recovered, reliable), WEMWBS 35 -> 45 (better)  -> both
    # b: EPDS 18 -> 10 (recovered),          WEMWBS 35 -> 37            -> recovered_from
    # c: EPDS 18 -> 16 (still a case),       WEMWBS 35 -> 45 (better)  -> recovery_within
    # d: EPDS 18 -> 17,                      WEMWBS 35 -> 36            -> neither
    # e: EPDS 14 -> 19 (reliably worse),     WEMWBS 35 -> 45            -> reliably_worse
    # f: EPDS 15 -> 12 (crossed, -3 not reliable), WEMWBS 35 -> 35     -> neither by default, recovered_from if 'any'
    # g: EPDS 8 -> 6 (not a case at baseline): outside the population
    rows = []
    for pid, e0, e1, w0, w1 in [("a", 18, 8, 35, 45), ("b", 18, 10, 35, 37), ("c", 18, 16, 35, 45),
                                ("d", 18, 17, 35, 36), ("e", 14, 19, 35, 45), ("f", 15, 12, 35, 35),
                                ("g", 8, 6, 50, 52)]:
        rows += [(pid, "epds", e0, e1), (pid, "wemwbs", w0, w1)]
    ch = episode_change(_ep(rows))
    cls = recovery_classification(ch).set_index("participant_id")
    assert cls["category"].astype("string").fillna("-").to_dict() == {
        "a": "both", "b": "recovered_from", "c": "recovery_within", "d": "neither", "e": "reliably_worse",
        "f": "neither", "g": "-"}
    assert not cls.loc["g", "in_population"]
    any_rule = recovery_classification(ch, rules=PairingRules(recovery_from="any")).set_index("participant_id")
    assert any_rule.loc["f", "category"] == "recovered_from"
    out = recovery_from_within(ch, disclose=False).set_index("category")
    assert out.loc["total", "n"] == 6
    assert out.loc["neither", "n"] == 2 and out.loc["neither", "pct"] == pytest.approx(100 * 2 / 6)
    lo, hi = out.loc["neither", ["pct_ci_low", "pct_ci_high"]]
    from evalkit.stats import wilson_ci

    wl, wh = wilson_ci(2, 6)
    assert (lo, hi) == pytest.approx((100 * wl, 100 * wh))
    # with disclosure every category count (1 or 2) is hidden, and so is each percentage
    shown = recovery_from_within(ch)
    body = shown[~shown["is_total"]]
    assert body["n"].isna().all() and body["pct"].isna().all()
    assert shown.attrs["rules"] == PairingRules().describe()
