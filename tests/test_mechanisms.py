"""Mechanism profiles, quality signals, ending distress and the exploratory C-M-O models recover the generator's truth."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import ApproximationWarning
from evalkit.generator import ExampleData, generate_programmes
from evalkit.mechanisms import (
    ANY_NEGATIVE,
    EXPLORATORY,
    RESULT_COLUMNS,
    cmo_outcomes,
    cmo_take_up,
    ending_distress,
    experience_responses,
    mechanism_profile,
    quality_signals,
)
from evalkit.rules import PairingRules

N = 20_000
SEED = 20261
BASE = ("P-GROUP", "P-PHONE", "P-HOME", "P-PAID")


@pytest.fixture(scope="module")
def big() -> ExampleData:
    return generate_programmes(N, seed=SEED, experience=True)


def _truth(data: ExampleData, quantity: str, programme: str, instrument: str | None) -> float:
    return data.true_value(programme, quantity, instrument)


def test_profile_matches_the_generated_endorsement_probabilities(big: ExampleData) -> None:
    prof = mechanism_profile(big.tables, by="programme_id")
    assert prof["concern"].iloc[0] and set(prof["programme_id"]) == set(BASE)
    checked = 0
    for row in prof.itertuples():
        if row.mechanism == "ending_worry":  # depends on when and how support ended: see the ending test
            continue
        truth = _truth(big, f"endorse_{row.mechanism}", row.programme_id, row.instrument)
        se = np.sqrt(truth * (1 - truth) / row.n_answered)
        assert abs(row.share - truth) < 4 * se, (row.programme_id, row.instrument, row.mechanism, row.share, truth)
        assert row.ci_low <= row.share <= row.ci_high
        checked += 1
    assert checked == 13 * 5  # P-GROUP, P-PHONE, P-HOME with one variant each; P-PAID with both


def test_concerns_come_first_in_every_group(big: ExampleData) -> None:
    prof = mechanism_profile(big.tables, by="format")
    for _, grp in prof.groupby(["format", "instrument"], sort=False):
        concern = grp["concern"].to_numpy()
        assert concern[: concern.sum()].all() and not concern[concern.sum():].any()
    comparison = prof[prof["mechanism"] == "compared_worse"].set_index("format")["share"]
    assert comparison["group"] > 2 * comparison["telephone"]
    assert comparison["group"] > 2 * comparison["one_to_one_in_person"]


def test_quality_signals_per_programme_match_the_truth_and_flag_the_gloomy_group() -> None:
    data = generate_programmes(6000, seed=4, outlier_programme=True, experience=True)
    sig = quality_signals(data.tables, level=0.45, by="programme_id")
    anyneg = sig[sig["measure"] == ANY_NEGATIVE]
    for row in anyneg.itertuples():
        variants = ("pex_group",) if row.programme_id in ("P-GROUP", "P-OUTLIER") else \
            ("pex_one_to_one",) if row.programme_id in ("P-PHONE", "P-HOME") else ()
        for v in variants:
            truth = data.true_value(row.programme_id, "endorse_any_negative", v)
            assert abs(row.share - truth) < 4 * np.sqrt(truth * (1 - truth) / row.n_responses), row
    flagged = anyneg.loc[anyneg["signal"] == "above level", "programme_id"].tolist()
    assert flagged == ["P-OUTLIER"]
    assert sig["signal"].iloc[0] == "above level" and sig["programme_id"].iloc[0] == "P-OUTLIER"
    assert sig.attrs["level"] == 0.45


def test_signals_by_month_and_group_session(big: ExampleData) -> None:
    monthly = quality_signals(big.tables, by=("programme_id", "period"))
    assert monthly["period"].str.fullmatch(r"\d{4}-\d{2}").all()
    assert set(monthly["signal"].dropna()) <= {"above level", "may be above level", ""}
    ranks = monthly["signal"].map({"above level": 0, "may be above level": 1}).fillna(2)
    assert ranks.is_monotonic_increasing
    sessions = quality_signals(big.tables, by=("programme_id", "group_session_id"))
    assert set(sessions["programme_id"]) <= {"P-GROUP", "P-PAID"} and len(sessions) > 0
    resp = experience_responses(big.tables)
    group = resp[resp["instrument"] == "pex_group"]
    at_review = group["timepoint"].str.startswith("T")
    assert group.loc[at_review, "group_session_id"].notna().all()  # reviews happen at a session she attended
    assert group["group_session_id"].notna().mean() > 0.8  # exit calls long after the last session are not linked


def test_ending_distress_is_higher_after_unplanned_endings_as_generated(big: ExampleData) -> None:
    out = ending_distress(big.tables, by=())
    share = out.set_index("ending_class")
    for cls in ("planned", "unplanned"):
        truth = big.true_value("P-GROUP", f"ending_worry_{cls}", "pex_group")
        n = share.loc[cls, "n_responses"]
        assert abs(share.loc[cls, "share"] - truth) < 4 * np.sqrt(truth * (1 - truth) / n), (cls, share.loc[cls])
    assert share.loc["unplanned", "ci_low"] > share.loc["planned", "ci_high"]


def test_take_up_model_recovers_the_true_log_odds(big: ExampleData) -> None:
    fit = cmo_take_up(big.tables).set_index("term")
    assert fit.attrs["exploratory"] == EXPLORATORY and (fit["exploratory"] == EXPLORATORY).all()
    truth = {"trusted_referrer": "trusted", "practical_barrier": "barriers", "wanted_professional_help": "help_wanted",
             "interpreter": "interpreter", "format_mismatch": "format_mismatch", "first_time_mother": "first_time_mother",
             "prior_mh_support": "prior_mh_support", "deprivation_decile": "deprivation_decile"}
    for term, driver in truth.items():
        value = big.true_value("P-GROUP", f"take_up_log_odds_{driver}")
        est, se = fit.loc[term, "estimate"], fit.loc[term, "std_error"]
        assert abs(est - value) < 3.5 * se, (term, est, se, value)
        assert fit.loc[term, "effect"] == pytest.approx(np.exp(est))
    assert fit["status"].str.startswith("estimated").all() and (fit["n"] > 10_000).all()


@pytest.mark.parametrize(("instrument", "variants"), [("epds", ("pex_group", "pex_one_to_one")),
                                                      ("swemwbs", ("pex_one_to_one",))])
def test_outcome_model_recovers_the_true_slopes(big: ExampleData, instrument: str, variants: tuple) -> None:
    fit = cmo_outcomes(big.tables, instrument=instrument, rules=PairingRules(endpoint_rule="window"), contexts=())
    assert fit.attrs["exploratory"] == EXPLORATORY
    for variant in variants:
        programme = "P-PAID" if instrument == "epds" else "P-PHONE"
        rows = fit[fit["experience_instrument"] == variant].set_index("term")
        assert rows["status"].str.startswith("estimated").all() and rows["n"].iloc[0] >= 500
        for part in ("positive", "negative"):
            truth = big.true_value(programme, f"{variant}_{part}_slope", instrument)
            est, se = rows.loc[f"{part}_score", "estimate"], rows.loc[f"{part}_score", "std_error"]
            # sampling error plus up to 10% shrinkage by floor and ceiling effects of the reported scores
            assert abs(est - truth) < 3.5 * se + 0.1 * abs(truth), (variant, part, est, se, truth)
            assert np.sign(est) == np.sign(truth)


def test_outcome_models_with_contexts_keep_the_label_and_the_columns(big: ExampleData) -> None:
    fit = cmo_outcomes(big.tables, instrument="epds")
    assert list(fit.columns[: len(RESULT_COLUMNS)]) == list(RESULT_COLUMNS)
    assert {"positive_score", "negative_score", "first_time_mother"} <= set(fit["term"])
    assert (fit["exploratory"] == EXPLORATORY).all()
    pos = fit[fit["term"] == "positive_score"]
    assert (pos["effect"] < 0).all()  # a better experience goes with a larger fall in EPDS


def test_small_samples_are_not_estimated() -> None:
    small = generate_programmes(80, seed=2, experience=True)
    fit = cmo_take_up(small.tables)
    assert fit["estimate"].isna().all() and fit["status"].str.startswith("not estimated").all()
    assert fit["status"].str.contains("minimum of 50|per parameter").all()
    out = cmo_outcomes(small.tables)
    assert out["estimate"].isna().all() and out["status"].str.startswith("not estimated").all()


def test_separation_is_reported_not_estimated() -> None:
    rng = np.random.default_rng(0)
    n = 400
    took = rng.random(n) < 0.5
    parts = pd.DataFrame({
        "participant_id": [f"M{i:04d}" for i in range(n)], "programme_id": "P1",
        "referral_date": pd.Timestamp("2025-01-01"), "took_up": pd.array(took, dtype="boolean"),
        "first_time_mother": pd.array(took, dtype="boolean"),  # predicts take-up exactly
        "prior_mh_support": pd.array(rng.random(n) < 0.4, dtype="boolean"),
    })
    with pytest.warns(ApproximationWarning, match="separation"):
        fit = cmo_take_up({"participants": parts}, contexts=("first_time_mother", "prior_mh_support"))
    assert fit["estimate"].isna().all() and fit["status"].str.contains("separation").all()


def test_unknown_context_and_outcome_are_clear_errors(big: ExampleData) -> None:
    with pytest.raises(ValueError, match="unknown context"):
        cmo_take_up(big.tables, contexts=("star_sign",))
    with pytest.raises(ValueError, match="outcome must be one of"):
        cmo_outcomes(big.tables, outcome="happiness")
    with pytest.raises(ValueError, match="cannot group by"):
        mechanism_profile(big.tables, by="shoe_size")


def test_no_experience_questionnaires_gives_empty_frames() -> None:
    plain = generate_programmes(300, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert mechanism_profile(plain.tables).empty
        assert quality_signals(plain.tables).empty
        assert ending_distress(plain.tables).empty
        assert cmo_outcomes(plain.tables).empty


@pytest.mark.parametrize("outcome", ["reliable_improvement", "recovery_from"])
def test_logistic_outcome_models_have_the_generated_direction(big: ExampleData, outcome: str) -> None:
    # No exact truth for a logistic slope on these scores: the generator fixes the direction (and the linear slopes).
    fit = cmo_outcomes(big.tables, outcome=outcome, contexts=())
    one = fit[fit["experience_instrument"] == "pex_one_to_one"].set_index("term")
    assert (one["effect_scale"] == "odds ratio").all() and one["n_events"].iloc[0] >= 200
    assert one.loc["positive_score", "effect_ci_low"] > 1.2
    assert one.loc["negative_score", "effect_ci_high"] < 1.0
    group = fit[fit["experience_instrument"] == "pex_group"].set_index("term")
    assert group.loc["positive_score", "effect"] > 1 and group.loc["negative_score", "effect"] < 1


def test_a_questionnaire_on_a_day_of_two_sessions_links_the_same_one_whatever_the_row_order() -> None:
    """Two sessions attended on the day of her questionnaire: the one whose id sorts last, however the contacts
    are ordered (the link was the later of the two in a sort that does not keep ties in order)."""
    data = generate_programmes(300, seed=5, experience=True)
    contacts = data.tables["contacts"]
    linked = experience_responses(data.tables).dropna(subset=["group_session_id"])
    assert len(linked) > 20
    # on each linked day a second attended session of hers, its id sorting before the linked one
    day = contacts.merge(linked[["participant_id", "completed_on", "group_session_id"]]
                         .rename(columns={"completed_on": "contact_date"}),
                         on=["participant_id", "contact_date", "group_session_id"])
    extra = day.assign(group_session_id="GS-000-" + day["group_session_id"].astype("string"))
    both = pd.concat([contacts, extra], ignore_index=True)
    results = [experience_responses({**data.tables, "contacts": order}) for order in
               (both, both.iloc[::-1].reset_index(drop=True), both.sample(frac=1.0, random_state=7))]
    for other in results[1:]:
        pd.testing.assert_series_equal(other["group_session_id"], results[0]["group_session_id"])
    pd.testing.assert_series_equal(results[0]["group_session_id"],
                                   experience_responses(data.tables)["group_session_id"])


def test_the_contexts_read_only_the_columns_named_as_their_sources(big: ExampleData) -> None:
    """experience_responses copies only these columns of the participants: a context reading another would change."""
    from evalkit.mechanisms._data import CONTEXT_SOURCES, derive_contexts

    parts = big.tables["participants"]
    assert set(CONTEXT_SOURCES) <= set(parts.columns)
    pd.testing.assert_frame_equal(derive_contexts(parts[list(CONTEXT_SOURCES)]), derive_contexts(parts))
    for column in CONTEXT_SOURCES:  # each one is read
        assert not derive_contexts(parts.drop(columns=column)).equals(derive_contexts(parts)), column
