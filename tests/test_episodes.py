"""Episodes: baseline/endpoint choice, unpaired reasons, dose and the perinatal time axis (hand-worked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.episodes import (
    _SPAN,
    EPISODE_COLUMNS,
    UNPAIRED_REASONS,
    _day_means,
    build_episodes,
    derive_context,
    prepare_episodes,
)
from evalkit.rules import PairingRules

D = pd.Timestamp


def _tables() -> dict[str, pd.DataFrame]:
    """Eight participants worked by hand (see the comments in each test).

    Programme P1 keeps contact rows; P2 records only sessions_attended.
    """
    participants = pd.DataFrame({
        "participant_id": ["A", "B", "C", "D", "E", "F", "G", "H"],
        "programme_id": ["P1"] * 5 + ["P2", "P2", "P1"],
        "referral_date": [D("2025-01-01")] * 8,
        "perinatal_stage": ["postnatal", "antenatal", "postnatal", "postnatal", "postnatal", "postnatal",
                            "postnatal", "postnatal"],
        "weeks_pregnant": pd.array([pd.NA, 30, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA, pd.NA], dtype="Int64"),
        "baby_age_weeks": [10.0, np.nan, 4.0, 4.0, 4.0, 8.0, 8.0, 2.0],
        "took_up": [True] * 8,
        "first_contact_date": [pd.NaT] * 5 + [D("2025-01-06"), D("2025-01-06"), pd.NaT],
        "sessions_attended": pd.array([pd.NA] * 5 + [5, pd.NA, pd.NA], dtype="Int64"),
        "ethnicity": ["asian_pakistani", "white_british", "not_stated", "black_african", "white_other",
                      "mixed_other", "other_arab", pd.NA],
        "deprivation_decile": pd.array([1, 2, 3, 4, 5, 6, 9, 10], dtype="Int64"),
        "main_language": ["ur", "en", "en", "en", "pl", "en", "ar", "en"],
    })
    c = [  # participant, date, kind, status, minutes, group session
        ("A", "2025-01-10", "telephone", "attended", 60, None),
        ("A", "2025-01-17", "group_session", "attended", 120, "GS1"),
        ("A", "2025-01-24", "telephone", "did_not_attend", None, None),
        ("A", "2025-01-31", "telephone", "attended", 30, None),
        ("B", "2025-01-08", "telephone", "attended", 45, None),
        ("C", "2025-01-08", "telephone", "did_not_attend", None, None),
        ("D", "2025-01-10", "telephone", "attended", 45, None),
        ("E", "2025-01-10", "telephone", "attended", 45, None),
        ("E", "2025-01-17", "telephone", "attended", 45, None),
        ("E", "2025-03-01", "telephone", "attended", 45, None),
    ]
    contacts = pd.DataFrame(c, columns=["participant_id", "contact_date", "kind", "status", "duration_minutes",
                                        "group_session_id"])
    contacts["programme_id"] = "P1"
    contacts["contact_date"] = pd.to_datetime(contacts["contact_date"])
    contacts["group_session_id"] = contacts["group_session_id"].astype("string")
    m = [  # participant, instrument, date, total
        ("A", "epds", "2024-11-20", 22),  # 51 days before the first contact: outside the window
        ("A", "epds", "2025-01-05", 16),  # baseline (5 days before the first contact)
        ("A", "epds", "2025-01-20", 12),
        ("A", "epds", "2025-02-15", 9),  # endpoint (last)
        ("A", "phq9", "2025-01-10", 14),
        ("A", "phq9", "2025-02-15", 99),  # out of range: invalid, not a score
        ("B", "epds", "2025-01-08", 18),
        ("B", "epds", "2025-01-15", 15),  # 7 days later: too soon
        ("C", "epds", "2025-01-03", 20),  # never attended
        ("D", "epds", "2025-03-20", 11),  # 69 days after the first contact: no baseline
        ("E", "epds", "2025-01-10", 20),
        ("E", "epds", "2025-02-20", 18),
        ("F", "epds", "2025-01-06", 14),
        ("F", "epds", "2025-03-01", 8),
        ("G", "epds", "2025-01-06", 14),
        ("G", "epds", "2025-03-01", 10),
        ("H", "whooley", "2025-01-06", np.nan),  # a screen: never an episode
    ]
    measures = pd.DataFrame(m, columns=["participant_id", "instrument", "completed_on", "total"])
    measures["completed_on"] = pd.to_datetime(measures["completed_on"])
    measures["programme_id"] = measures["participant_id"].map(participants.set_index("participant_id")["programme_id"])
    measures["total"] = measures["total"].astype(float)
    programmes = pd.DataFrame({"programme_id": ["P1", "P2"], "format": ["mixed", "group"],
                               "mode": ["telephone", "in_person"]})
    return {"participants": participants, "contacts": contacts, "measures": measures, "programmes": programmes}


@pytest.fixture(scope="module")
def episodes() -> pd.DataFrame:
    return build_episodes(_tables()).set_index(["participant_id", "instrument"])


def test_columns_and_rules(episodes: pd.DataFrame) -> None:
    assert sorted(episodes.reset_index().columns) == sorted(EPISODE_COLUMNS)
    assert list(build_episodes(_tables()).columns) == list(EPISODE_COLUMNS)
    assert episodes.attrs["rules"] == PairingRules().describe()
    assert set(episodes["rules"].astype(str)) == {PairingRules().describe()}
    # screens and invalid scores make no episode; H has none
    assert "H" not in episodes.index.get_level_values(0)
    assert episodes.index.is_unique


def test_baseline_endpoint_and_dose_hand_worked(episodes: pd.DataFrame) -> None:
    a = episodes.loc[("A", "epds")]
    # first attended contact 2025-01-10; window 2024-12-13 .. 2025-01-24; the 2024-11-20 score is outside
    assert a["anchor_date"] == D("2025-01-10") and a["anchor_source"] == "first_attended_contact"
    assert a["baseline_date"] == D("2025-01-05") and a["baseline_score"] == 16
    assert a["endpoint_date"] == D("2025-02-15") and a["endpoint_score"] == 9
    assert a["paired"] and pd.isna(a["unpaired_reason"]) and a["days_between"] == 41
    # attended 01-10 (60 min), 01-17 (group, 120 min), 01-31 (30 min); the DNA on 01-24 does not count
    assert a["dose"] == 3 and a["attended_contacts"] == 3
    assert a["attended_group"] == 1 and a["attended_one_to_one"] == 2
    assert a["contact_hours"] == pytest.approx(3.5)
    assert a["weeks_engaged"] == pytest.approx(3.0)  # 01-10 to 01-31
    assert a["n_valid_scores"] == 4 and a["dose_source"] == "contacts"


def test_perinatal_axis(episodes: pd.DataFrame) -> None:
    a = episodes.loc[("A", "epds")]
    # baby 10 weeks at referral (2025-01-01); baseline 4 days later, endpoint 45 days later
    assert a["weeks_postpartum_baseline"] == pytest.approx(10 + 4 / 7, abs=0.01)
    assert a["weeks_postpartum_endpoint"] == pytest.approx(10 + 45 / 7, abs=0.01)
    assert a["perinatal_stage_baseline"] == "postnatal"
    b = episodes.loc[("B", "epds")]
    # 30 weeks pregnant at referral, baseline a week later: 31 weeks, 9 weeks before an estimated birth
    assert b["weeks_pregnant_baseline"] == pytest.approx(31, abs=0.01)
    assert b["perinatal_week_baseline"] == pytest.approx(-9, abs=0.01)
    assert b["perinatal_stage_baseline"] == "antenatal"
    assert np.isnan(b["weeks_postpartum_baseline"])


def test_unpaired_reasons(episodes: pd.DataFrame) -> None:
    reasons = episodes["unpaired_reason"].to_dict()
    assert reasons[("B", "epds")] == "too_soon"  # 7 days < 14
    assert reasons[("C", "epds")] == "no_attended_contact"
    assert reasons[("D", "epds")] == "no_baseline_in_window"
    assert reasons[("A", "phq9")] == "no_score_after_baseline"  # the later PHQ-9 was invalid
    assert reasons[("G", "epds")] == "dose_not_recorded"
    assert set(r for r in reasons.values() if isinstance(r, str)) <= set(UNPAIRED_REASONS)
    # the baseline is reported even when unpaired; the endpoint is not
    assert episodes.loc[("B", "epds"), "baseline_score"] == 18
    assert np.isnan(episodes.loc[("B", "epds"), "endpoint_score"])


def test_sessions_attended_programme(episodes: pd.DataFrame) -> None:
    f = episodes.loc[("F", "epds")]
    assert f["paired"] and f["dose"] == 5 and f["dose_source"] == "sessions_attended"
    assert f["anchor_source"] == "first_contact_date" and f["anchor_date"] == D("2025-01-06")
    assert np.isnan(f["contact_hours"]) and np.isnan(f["weeks_engaged"]) and np.isnan(f["attended_contacts"])
    assert f["programme_format"] == "group"


def test_minimum_dose_keeps_the_candidate_endpoint() -> None:
    # E: attended 01-10, 01-17 and 03-01; scores 01-10 and 02-20 -> 2 contacts between them (the 03-01 one is after)
    ep2 = build_episodes(_tables(), rules=PairingRules(min_dose=2)).set_index(["participant_id", "instrument"])
    assert ep2.loc[("E", "epds"), "paired"] and ep2.loc[("E", "epds"), "dose"] == 2
    ep3 = build_episodes(_tables(), rules=PairingRules(min_dose=3)).set_index(["participant_id", "instrument"])
    e = ep3.loc[("E", "epds")]
    assert not e["paired"] and e["unpaired_reason"] == "below_minimum_dose"
    assert e["endpoint_score"] == 18  # kept so that dose thresholds can be varied
    assert e["attended_total"] == 3


def test_window_endpoint_rule() -> None:
    t = _tables()
    # A: first contact 01-10; window 12 +/- 4 weeks = 2025-03-07 .. 2025-05-02: no score there
    extra = pd.DataFrame({"participant_id": ["A", "A"], "instrument": ["epds", "epds"],
                          "completed_on": [D("2025-04-01"), D("2025-04-20")], "total": [7.0, 6.0],
                          "programme_id": ["P1", "P1"]})
    t["measures"] = pd.concat([t["measures"], extra], ignore_index=True)
    rules = PairingRules(endpoint_rule="window")
    ep = build_episodes(t, rules=rules).set_index(["participant_id", "instrument"])
    a = ep.loc[("A", "epds")]
    # 84 days after 01-10 is 04-04: 04-01 is 3 days away, 04-20 is 16 days away
    assert a["endpoint_date"] == D("2025-04-01") and a["endpoint_score"] == 7
    assert ep.loc[("E", "epds"), "unpaired_reason"] == "no_score_in_followup_window"  # 02-20 is 5.9 weeks in
    assert "closest to 12 weeks" in ep.attrs["rules"]


def test_window_endpoint_ties_go_to_the_later_score() -> None:
    t = _tables()
    # A: first contact 01-10, 12 weeks on is 04-04: 04-01 and 04-07 are both 3 days away; 04-20 is 16
    extra = pd.DataFrame({"participant_id": ["A"] * 3, "instrument": ["epds"] * 3,
                          "completed_on": [D("2025-04-01"), D("2025-04-07"), D("2025-04-20")],
                          "total": [7.0, 5.0, 6.0], "programme_id": ["P1"] * 3})
    t["measures"] = pd.concat([t["measures"], extra], ignore_index=True)
    ep = build_episodes(t, rules=PairingRules(endpoint_rule="window")).set_index(["participant_id", "instrument"])
    a = ep.loc[("A", "epds")]
    assert a["endpoint_date"] == D("2025-04-07") and a["endpoint_score"] == 5
    assert a["baseline_date"] == D("2025-01-05") and a["paired"]
    # the last rule: the last score after the baseline, whatever the window
    last = build_episodes(t).set_index(["participant_id", "instrument"]).loc[("A", "epds")]
    assert last["endpoint_date"] == D("2025-04-20") and last["endpoint_score"] == 6


def test_derived_context() -> None:
    ep = build_episodes(_tables()).set_index(["participant_id", "instrument"])
    assert ep.loc[("A", "epds"), "ethnicity_group"] == "asian"
    assert ep.loc[("C", "epds"), "ethnicity_group"] == "not_stated"
    assert ep.loc[("G", "epds"), "ethnicity_group"] == "other"
    assert ep.loc[("A", "epds"), "deprivation_quintile"] == 1
    assert ep.loc[("G", "epds"), "deprivation_quintile"] == 5
    assert ep.loc[("E", "epds"), "english_main_language"] == False  # noqa: E712 - nullable boolean
    d = derive_context(pd.DataFrame({"ethnicity": ["white_roma", None], "deprivation_decile": [10, None]}))
    assert d["ethnicity_group"].tolist()[0] == "white" and pd.isna(d["ethnicity_group"].iloc[1])
    assert d["deprivation_quintile"].tolist() == [5, pd.NA]


def test_score_series_for_models() -> None:
    ed = prepare_episodes(_tables())
    s = ed.scores.set_index(["participant_id", "instrument", "date"])
    row = s.loc[("A", "epds", D("2025-01-20"))]
    assert row["weeks_since_baseline"] == pytest.approx(15 / 7)
    assert row["cum_attended"] == 2  # 01-10 and 01-17
    assert s.loc[("A", "epds", D("2025-01-05")), "cum_attended"] == 0  # before the first contact
    assert "group_session_id" in ed.scores.columns


def test_text_tables_are_typed_first() -> None:
    t = _tables()
    text = {k: v.astype(str).replace({"nan": "", "NaT": "", "<NA>": "", "None": ""}) for k, v in t.items()}
    a = build_episodes(t).drop(columns="rules")
    b = build_episodes(text).drop(columns="rules")
    pd.testing.assert_frame_equal(a, b, check_dtype=False)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_row_order_invariance(seed: int) -> None:
    t = _tables()
    rng = np.random.default_rng(seed)
    shuffled = {k: v.iloc[rng.permutation(len(v))].reset_index(drop=True) for k, v in t.items()}
    pd.testing.assert_frame_equal(build_episodes(t), build_episodes(shuffled))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40), repeats=st.booleans())
def test_day_means_as_the_grouped_mean(seed: int, n: int, repeats: bool) -> None:
    # the ordering by one combined key (no repeated day) and the grouped mean (repeats) against pandas'
    # grouped mean; without repeats the keys are drawn distinct, so the combined-key road is the one taken
    rng = np.random.default_rng(seed)
    n_inst = int(rng.integers(1, 4))
    if repeats:
        keys = np.column_stack([rng.integers(0, 3, n), rng.integers(0, n_inst, n), rng.integers(0, 3, n)])
    else:
        cells = rng.choice(5 * n_inst * 4, size=min(n, 5 * n_inst * 4), replace=False)
        keys = np.column_stack([cells // (n_inst * 4), cells // 4 % n_inst, cells % 4])
    keys[:, 2] = np.array([0, 1, _SPAN - 1])[keys[:, 2] % 3] + 200_000 * (keys[:, 2] // 3)
    v = pd.DataFrame({"rank": keys[:, 0], "instrument": keys[:, 1], "day": keys[:, 2],
                      "score": rng.integers(0, 30, len(keys)) + rng.random(len(keys))})
    want = v.groupby(["rank", "instrument", "day"], sort=True, as_index=False)["score"].mean()
    pd.testing.assert_frame_equal(_day_means(v, n_inst), want, check_exact=True)


def test_no_valid_score_gives_no_episodes() -> None:
    # a scope that sees no change measure (only a screen, or no measures at all) still gets the frames
    for measures in (_tables()["measures"].iloc[-1:], _tables()["measures"].iloc[:0]):
        ed = prepare_episodes({**_tables(), "measures": measures})
        assert len(ed.episodes) == 0 and list(ed.episodes.columns) == list(EPISODE_COLUMNS)
        assert len(ed.scores) == 0 and len(ed.participants) == 8


def test_requires_tables() -> None:
    with pytest.raises(ValueError, match="participants"):
        build_episodes({"measures": _tables()["measures"]})
    with pytest.raises(ValueError, match="PairingRules"):
        build_episodes(_tables(), rules={"min_dose": 2})  # type: ignore[arg-type]
