"""Programme-level statistics: the outcome summary and its building blocks, against independent implementations."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from evalkit.change import episode_change
from evalkit.episodes import UNPAIRED_REASONS, prepare_episodes
from evalkit.errors import EvalkitWarning
from evalkit.generator import generate_programmes
from evalkit.outcomes import (
    SUMMARY_COLUMNS,
    adjusted_change,
    attrition_check,
    change_statistics,
    dose_sensitivity,
    evaluate_outcomes,
    outcome_summary,
)
from evalkit.rules import PairingRules


@pytest.fixture(scope="module")
def data():
    return generate_programmes(1200, seed=7)


@pytest.fixture(scope="module")
def prepared(data):
    rules = PairingRules()
    ed = prepare_episodes(data.tables, rules=rules)
    return ed, episode_change(ed.episodes, rules=rules)


def test_summary_columns_rules_and_counts(data, prepared) -> None:
    ed, ch = prepared
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)  # small groups may not get a mixed model
        s = outcome_summary(ed)
    assert list(s.columns[: len(SUMMARY_COLUMNS) - 2]) == [c for c in SUMMARY_COLUMNS if c in s.columns][:-2]
    assert {"rules", "suppressed"} <= set(s.columns)
    assert s.attrs["rules"] == PairingRules().describe()
    assert (s["rules"].astype(str) == PairingRules().describe()).all()
    assert len(s) == ch.groupby(["programme_id", "instrument"]).ngroups
    # counts agree with the episodes (where published)
    paired = ch[ch["paired"]].groupby(["programme_id", "instrument"]).size()
    got = s.set_index(["programme_id", "instrument"])["n_paired"]
    assert (got.dropna() == paired.reindex(got.dropna().index)).all()
    # completeness partition: paired + unpaired reasons (engaged) + no score = engaged
    raw = change_statistics(ch, rules=PairingRules(), participants=ed.participants)
    parts = raw[["n_paired", *[f"n_unpaired_{r}" for r in UNPAIRED_REASONS], "n_engaged_no_score"]].sum(axis=1)
    assert (parts == raw["n_engaged"]).all()
    assert (raw["n_reliable_improvement"] + raw["n_reliable_deterioration"] + raw["n_no_reliable_change"]
            == raw["n_paired"]).all()


def test_mean_change_and_effect_sizes_match_scipy(prepared) -> None:
    _, ch = prepared
    raw = change_statistics(ch, rules=PairingRules()).set_index(["programme_id", "instrument"])
    g = ch[ch["paired"] & (ch["programme_id"] == "P-PHONE") & (ch["instrument"] == "phq9")]
    d = g["endpoint_score"] - g["baseline_score"]
    r = raw.loc[("P-PHONE", "phq9")]
    t = stats.ttest_rel(g["endpoint_score"], g["baseline_score"])
    ci = t.confidence_interval(0.95)
    assert r["mean_change"] == pytest.approx(d.mean())
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert r["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert r["d_av"] == pytest.approx(d.mean() / ((g["baseline_score"].std() + g["endpoint_score"].std()) / 2))
    assert r["pre_post_r"] == pytest.approx(np.corrcoef(g["baseline_score"], g["endpoint_score"])[0, 1])
    assert abs(r["g_z"]) < abs(r["d_z"])


def test_adjusted_change_matches_statsmodels_ols(prepared) -> None:
    _, ch = prepared
    adj = adjusted_change(ch).set_index(["programme_id", "instrument"])
    p = ch[ch["paired"] & (ch["instrument"] == "epds")]
    ref = p["baseline_score"].mean()
    for prog in ("P-GROUP", "P-PAID"):
        g = p[p["programme_id"] == prog]
        y = g["endpoint_score"] - g["baseline_score"]
        X = sm.add_constant(g["baseline_score"] - ref)
        fit = sm.OLS(y.to_numpy(), X.to_numpy()).fit()
        row = adj.loc[(prog, "epds")]
        assert row["adj_mean_change"] == pytest.approx(fit.params[0])
        assert row["adj_slope"] == pytest.approx(fit.params[1])
        lo, hi = fit.conf_int()[0]
        assert (row["adj_ci_low"], row["adj_ci_high"]) == pytest.approx((lo, hi))
        assert row["adj_reference_baseline"] == pytest.approx(ref)


def test_attrition_matches_welch(prepared) -> None:
    _, ch = prepared
    att = attrition_check(ch).set_index(["programme_id", "instrument"])
    g = ch[(ch["programme_id"] == "P-HOME") & (ch["instrument"] == "epds") & ch["baseline_score"].notna()]
    a = g.loc[g["paired"], "baseline_score"]
    u = g.loc[~g["paired"], "baseline_score"]
    t = stats.ttest_ind(u, a, equal_var=False)
    row = att.loc[("P-HOME", "epds")]
    assert row["attrition_p"] == pytest.approx(t.pvalue)
    assert row["attrition_diff"] == pytest.approx(u.mean() - a.mean())


def test_dose_sensitivity(prepared) -> None:
    _, ch = prepared
    ds = dose_sensitivity(ch, disclose=False)
    assert ds.groupby(["programme_id", "instrument"])["min_dose"].apply(list).iloc[0] == [1, 2, 3, 4, 6, 8]
    # n cannot grow with the threshold
    assert (ds.groupby(["programme_id", "instrument"])["n"].diff().dropna() <= 0).all()
    g = ch[(ch["programme_id"] == "P-GROUP") & (ch["instrument"] == "epds") & ch["endpoint_score"].notna()
           & (ch["dose"] >= 4)]
    row = ds[(ds["programme_id"] == "P-GROUP") & (ds["instrument"] == "epds") & (ds["min_dose"] == 4)].iloc[0]
    assert row["n"] == len(g)
    assert row["mean_change"] == pytest.approx((g["endpoint_score"] - g["baseline_score"]).mean())
    # thresholds below the rules' minimum dose use the kept candidate endpoints
    assert ds.loc[ds["min_dose"] == 1, "n"].sum() >= ch["paired"].sum()
    shown = dose_sensitivity(ch)
    assert "suppressed" in shown.columns and shown.attrs["rules"]


def test_suppression_in_summary() -> None:
    # a tiny programme: every count below 5 is hidden, and so is everything computed from it
    d = generate_programmes(60, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        s = outcome_summary(d.tables, models=False)
    small = s["n_paired"].isna()
    assert small.any()
    assert s.loc[small, "mean_change"].isna().all() and s.loc[small, "d_z"].isna().all()
    for col in [c for c in s.columns if c.startswith("n_")]:
        v = s[col].dropna()
        assert not ((v > 0) & (v < 5)).any(), col


def test_evaluate_outcomes_bundle(data) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(data.tables, models=False)
    assert res.rules == PairingRules()
    assert {"mm_change", "mi_mean_change"}.isdisjoint(res.summary.columns)
    assert set(res.talking_therapies["measure_set"]) == {"epds", "phq9+gad7"}
    assert set(res.recovery["category"]) >= {"both", "recovered_from", "recovery_within", "neither",
                                            "reliably_worse", "total"}
    assert list(res.parameters["instrument"]) == sorted(res.changes["instrument"].unique())
    for frame in (res.summary, res.talking_therapies, res.recovery, res.dose_sensitivity):
        assert "suppressed" in frame.columns and frame.attrs["rules"] == res.describe_rules()


def test_large_effects_keep_their_effect_size() -> None:
    # t = d_z sqrt(n) is large here; if evalkit.stats cannot find the noncentral-t interval the estimate is kept
    # and the missing interval is explained
    rng = np.random.default_rng(0)
    pre = rng.normal(18, 3, 120)
    ep = pd.DataFrame({"programme_id": "P", "participant_id": [f"p{i}" for i in range(120)], "instrument": "epds",
                       "role": "symptom", "higher_is_better": False, "paired": True, "unpaired_reason": pd.NA,
                       "baseline_score": pre, "endpoint_score": pre - 6 + rng.normal(0, 2, 120),
                       "baseline_date": pd.Timestamp("2025-01-01"), "attended_total": 5.0, "dose": 5.0})
    ch = episode_change(ep)
    row = change_statistics(ch).iloc[0]
    d = ch["endpoint_score"] - ch["baseline_score"]
    assert row["d_z"] == pytest.approx(d.mean() / d.std(ddof=1))
    assert (np.isfinite(row["d_z_ci_low"]) and row["d_z_ci_low"] < row["d_z"] < row["d_z_ci_high"]) \
        or "intervals unavailable" in row["es_note"]


def test_trajectories(data) -> None:
    from evalkit.outcomes import trajectories

    tr = trajectories(data.tables, rules=PairingRules(suppression_threshold=1))
    base = tr[tr["week"] == 0].set_index(["programme_id", "instrument"])
    ed = prepare_episodes(data.tables)
    b = ed.episodes[ed.episodes["baseline_score"].notna() & ed.episodes["anchor_date"].notna()]
    means = b.groupby(["programme_id", "instrument"])["baseline_score"].mean()
    assert np.allclose(base["mean"], means.reindex(base.index))
    assert set(np.unique(tr["week"])) <= {0.0, *[1.0 + 2 * k for k in range(14)]}
    shown = trajectories(data.tables)
    v = shown["n"].dropna()
    assert not ((v > 0) & (v < 5)).any() and shown.attrs["rules"]


def test_summary_with_models_equals_outcome_summary_with_models(prepared) -> None:  # noqa: ANN001
    """What the dashboard shows: the models added to an evaluate_outcomes result, without pairing again."""
    import warnings

    from evalkit.outcomes import evaluate_outcomes, outcome_summary

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate_outcomes(prepared[0], models=False)
        before = result.statistics.copy()
        got = result.summary_with_models()
        expected = outcome_summary(prepared[0], models=True)
    pd.testing.assert_frame_equal(got, expected)
    assert got["mm_change"].notna().any() and got["mi_mean_change"].notna().any()
    pd.testing.assert_frame_equal(result.statistics, before)  # the kept statistics are not changed
    assert "mm_change" not in result.summary.columns


def test_summary_with_models_for_some_instruments_gives_the_whole_summarys_rows(prepared) -> None:  # noqa: ANN001
    """The dashboard fits only the questionnaire on screen: its rows must be those of the whole summary."""
    from evalkit.outcomes import evaluate_outcomes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate_outcomes(prepared[0], models=False)
        whole = result.summary_with_models()
        codes = sorted(whole["instrument"].dropna().unique())
        assert len(codes) >= 3
        for wanted in ([codes[0]], codes[1:3]):
            some = result.summary_with_models(instruments=wanted)
            expected = whole[whole["instrument"].isin(wanted)].reset_index(drop=True)
            assert some["mi_mean_change"].notna().any()
            pd.testing.assert_frame_equal(some.reset_index(drop=True), expected)
        assert result.summary_with_models(instruments=[]).empty
