"""Engagement: take-up funnel, exits, take-up rate, attendance, endings and head counts (hand-worked)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.engagement import (
    FUNNEL_STEPS,
    attendance_summary,
    endings_summary,
    funnel_exits,
    head_counts,
    participant_path,
    take_up_funnel,
    take_up_rate,
)
from evalkit.rules import PairingRules
from evalkit.stats import wilson_ci

D = pd.Timestamp
OPEN = PairingRules(suppression_threshold=1)  # no suppression: check the arithmetic


def _tables() -> dict[str, pd.DataFrame]:
    """Ten referrals to P1 (contact rows):

    r1 never offered (could_not_contact); r2 offered, declined (practical_barriers); r3 took up, never came
    (ending stopped_attending); r4 came once (ending moved_away); r5-r10 came 2+ times. Baselines: r5-r9;
    paired: r5, r6, r7 (r8's later score is too soon; r9 has no later score). r10 has no score at all.
    """
    ids = [f"r{i}" for i in range(1, 11)]
    p = pd.DataFrame({
        "participant_id": ids, "programme_id": "P1", "referral_date": D("2025-01-01"),
        "offered_date": [pd.NaT] + [D("2025-01-03")] * 9,
        "took_up": [False, False] + [True] * 8,
        "decline_reason": ["could_not_contact", "practical_barriers"] + [None] * 8,
        "ending": [None, None, "stopped_attending", "moved_away", "planned_ending", "planned_ending",
                   "moved_on_coping", "stopped_attending", "referred_elsewhere", None],
        "perinatal_stage": ["postnatal"] * 5 + ["antenatal"] * 5,
    })
    contacts = []
    for pid, n in [("r4", 1), ("r5", 4), ("r6", 3), ("r7", 2), ("r8", 2), ("r9", 3), ("r10", 2)]:
        for k in range(n):
            contacts.append((pid, D("2025-01-06") + pd.Timedelta(days=7 * k), "telephone", "attended", 60.0, None))
    contacts += [("r3", D("2025-01-06"), "telephone", "did_not_attend", np.nan, None),
                 ("r5", D("2025-02-10"), "telephone", "did_not_attend", np.nan, None),
                 ("r6", D("2025-02-10"), "telephone", "cancelled_by_participant", np.nan, None)]
    c = pd.DataFrame(contacts, columns=["participant_id", "contact_date", "kind", "status", "duration_minutes",
                                        "group_session_id"])
    c["programme_id"] = "P1"
    m = []
    for pid, later in [("r5", "2025-02-20"), ("r6", "2025-02-20"), ("r7", "2025-02-20"), ("r8", "2025-01-10"),
                       ("r9", None)]:
        m.append((pid, "epds", D("2025-01-06"), 15.0))
        if later:
            m.append((pid, "epds", D(later), 10.0))
    measures = pd.DataFrame(m, columns=["participant_id", "instrument", "completed_on", "total"])
    measures["programme_id"] = "P1"
    return {"participants": p, "contacts": c, "measures": measures}


def test_participant_path() -> None:
    path = participant_path(_tables()).set_index("participant_id")
    assert path["last_step"].to_dict() == {
        "r1": "referred", "r2": "offered", "r3": "took_up", "r4": "attended", "r5": "paired", "r6": "paired",
        "r7": "paired", "r8": "baseline_measured", "r9": "baseline_measured", "r10": "reached_min_dose"}
    assert path.loc["r1", "exit_reason"] == "could_not_contact"
    assert path.loc["r2", "exit_reason"] == "practical_barriers"
    assert path.loc["r3", "exit_reason"] == "stopped_attending"
    assert path.loc["r4", "exit_reason"] == "moved_away"
    assert path.loc["r8", "exit_reason"] == "too_soon"
    assert path.loc["r9", "exit_reason"] == "no_score_after_baseline"
    assert path.loc["r10", "exit_reason"] == "no_valid_score"
    assert pd.isna(path.loc["r5", "exit_reason"])
    assert path.attrs["individual_level"]


def test_funnel_counts_and_rates() -> None:
    f = take_up_funnel(_tables(), rules=OPEN).set_index("step")
    assert list(f.index) == list(FUNNEL_STEPS)
    assert f["n"].tolist() == [10, 9, 8, 7, 6, 5, 3]
    assert f["n_left"].tolist() == [0, 1, 1, 1, 1, 1, 2]
    assert f.loc["paired", "pct_of_previous"] == pytest.approx(60.0)
    assert f.loc["paired", "pct_of_referred"] == pytest.approx(30.0)
    lo, hi = wilson_ci(3, 5)
    assert f.loc["paired", ["pct_of_previous_ci_low", "pct_of_previous_ci_high"]].tolist() == pytest.approx(
        [100 * lo, 100 * hi])
    assert f.attrs["rules"] == OPEN.describe()


def test_funnel_is_suppressed_by_default() -> None:
    f = take_up_funnel(_tables()).set_index("step")
    # 1 left at 'offered': its partner (9 went on) must be hidden too, so 10 - 9 cannot give the 1
    assert pd.isna(f.loc["offered", "n_left"]) and pd.isna(f.loc["offered", "n"])
    assert f.loc["referred", "n"] == 10
    assert pd.isna(f.loc["offered", "pct_of_previous"])
    for v in f["n"].dropna().tolist() + f["n_left"].dropna().tolist():
        assert v == 0 or v >= 5


def test_exits() -> None:
    e = funnel_exits(_tables(), rules=OPEN)
    paired = e[e["step"] == "paired"].set_index("reason")
    assert paired.loc["total", "n"] == 2
    assert paired.loc["too_soon", "n"] == 1 and paired.loc["no_score_after_baseline", "n"] == 1
    assert paired.loc["too_soon", "pct"] == pytest.approx(50.0)
    hidden = funnel_exits(_tables())
    assert hidden.loc[~hidden["is_total"], "n"].isna().all()


def test_take_up_rate() -> None:
    r = take_up_rate(_tables(), rules=OPEN).iloc[0]
    assert r["n_referred"] == 10 and r["n_took_up"] == 8 and r["pct_took_up"] == pytest.approx(80.0)
    lo, hi = wilson_ci(8, 10)
    assert (r["pct_took_up_ci_low"], r["pct_took_up_ci_high"]) == pytest.approx((100 * lo, 100 * hi))
    by_stage = take_up_rate(_tables(), by=("programme_id", "perinatal_stage"), rules=OPEN)
    assert by_stage["n_took_up"].tolist() == [5, 3]  # antenatal r6-r10; postnatal r3-r5
    # a participants table alone, as take_up_rate has always accepted, gives the same table
    pd.testing.assert_frame_equal(take_up_rate(_tables()["participants"], rules=OPEN), take_up_rate(_tables(), rules=OPEN))
    # the funnel and its exits take a participants table alone too (they raised KeyError on it)
    pd.testing.assert_frame_equal(take_up_funnel(_tables()["participants"], rules=OPEN),
                                  take_up_funnel({"participants": _tables()["participants"]}, rules=OPEN))
    pd.testing.assert_frame_equal(funnel_exits(_tables()["participants"], rules=OPEN),
                                  funnel_exits({"participants": _tables()["participants"]}, rules=OPEN))


def test_attendance_summary() -> None:
    a = attendance_summary(_tables(), rules=OPEN).iloc[0]
    # attended contacts per participant: r4 1, r5 4, r6 3, r7 2, r8 2, r9 3, r10 2
    assert a["n_attended"] == 7
    assert a["contacts_mean"] == pytest.approx(17 / 7)
    assert a["contacts_median"] == 2
    assert [a["n_dose_1"], a["n_dose_2_3"], a["n_dose_4_7"], a["n_dose_8_plus"]] == [1, 5, 1, 0]
    assert a["gap_days_median"] == 7 and a["n_gaps"] == 10
    assert a["n_contacts_offered"] == 20 and a["n_contacts_dna"] == 2 and a["n_contacts_cancelled"] == 1
    assert a["n_contacts_booked"] == 19  # attended + did not attend: the base of pct_dna
    assert a["pct_dna"] == pytest.approx(100 * 2 / 19)
    assert a["weeks_engaged_median"] == pytest.approx(1.0)


def test_attendance_counts_only_contacts_of_known_participants_in_their_groups() -> None:
    """Contacts are joined to the participants by id (each contact in its participant's group): rows of an id
    not in the participants table count nowhere, however they are ordered among the others."""
    t = _tables()
    c = t["contacts"]
    stray = c.head(5).assign(participant_id="not-a-participant")
    with_stray = dict(t, contacts=pd.concat([stray, c, stray], ignore_index=True).iloc[::-1].reset_index(drop=True))
    for by in (("programme_id",), ("programme_id", "perinatal_stage")):
        pd.testing.assert_frame_equal(attendance_summary(with_stray, by=by, rules=OPEN),
                                      attendance_summary(t, by=by, rules=OPEN), check_exact=True)



def test_dose_source_says_where_each_group_s_doses_were_counted_from() -> None:
    """P1 keeps contact rows; P2 keeps none, so its mothers' doses are the sessions they attended as the provider
    recorded them. By programme each group has one source; by perinatal stage each group spans both."""
    t = _tables()
    p2 = t["participants"].head(4).assign(participant_id=["s1", "s2", "s3", "s4"], programme_id="P2",
                                          perinatal_stage=["postnatal", "antenatal", "antenatal", "postnatal"],
                                          sessions_attended=[3.0, 0.0, 5.0, np.nan])
    t = dict(t, participants=pd.concat([t["participants"], p2], ignore_index=True))
    by_programme = attendance_summary(t, rules=OPEN).set_index("programme_id")
    assert by_programme["dose_source"].to_dict() == {"P1": "contacts", "P2": "sessions_attended"}
    assert by_programme.at["P2", "n_attended"] == 2  # s1 and s3: no dose is not a dose of 0 or more
    by_stage = attendance_summary(t, by=("perinatal_stage",), rules=OPEN).set_index("perinatal_stage")
    assert by_stage["dose_source"].to_dict() == {"antenatal": "contacts+sessions_attended",
                                                 "postnatal": "contacts+sessions_attended"}
    assert str(by_stage["dose_source"].dtype) == "str"


@pytest.mark.parametrize("rules", [PairingRules(), PairingRules(suppression_threshold=1, rounding_base=5),
                                   PairingRules(suppression_threshold=3, rounding_base=5)])
def test_booked_contacts_are_the_published_parts_added_up(rules: PairingRules) -> None:
    # by stage: antenatal 12 attended, 0 missed; postnatal 5 attended, 2 missed
    a = attendance_summary(_tables(), by=("programme_id", "perinatal_stage"), rules=rules)
    parts = a["n_contacts_attended"] + a["n_contacts_dna"]
    assert a["n_contacts_booked"].isna().tolist() == parts.isna().tolist()
    assert (a["n_contacts_booked"] == parts).dropna().all()
    named = a["suppressed"].str.contains("n_contacts_booked").tolist()
    assert named == parts.isna().tolist()  # hidden, and said to be, exactly where a part is hidden


def test_endings_summary() -> None:
    e = endings_summary(_tables(), rules=OPEN).set_index("ending_group")
    # attended: r4 moved_away (other), r5 r6 planned, r7 coping, r8 stopped, r9 referred_elsewhere (other), r10 ongoing
    assert e["n"].to_dict() == {"planned": 2, "moved_on_coping": 1, "stopped_attending": 1, "other": 2,
                                "ongoing": 1, "total": 7}
    assert e.loc["planned", "pct"] == pytest.approx(200 / 7)


def test_head_counts() -> None:
    t = _tables()
    t["group_sessions"] = pd.DataFrame({"group_session_id": ["G1", "G2"], "programme_id": "P1",
                                        "session_date": [D("2025-01-07"), D("2025-01-14")], "head_count": [9, 2]})
    g = pd.DataFrame({"participant_id": ["r5", "r6", "r7", "r5"], "contact_date": [D("2025-01-07")] * 3 +
                      [D("2025-01-14")], "kind": "group_session", "status": "attended", "duration_minutes": 90.0,
                      "group_session_id": ["G1", "G1", "G1", "G2"], "programme_id": "P1"})
    t["contacts"] = pd.concat([t["contacts"], g], ignore_index=True)
    per = head_counts(t, per_session=True, rules=OPEN).set_index("group_session_id")
    assert per.loc["G1", "n_named"] == 3 and per.loc["G1", "n_unnamed"] == 6
    assert per.loc["G2", "n_named"] == 1 and per.loc["G2", "n_unnamed"] == 1
    summ = head_counts(t, rules=OPEN).iloc[0]
    assert summ["n_sessions"] == 2 and summ["total_head_count"] == 11 and summ["total_named"] == 4
    assert summ["pct_named"] == pytest.approx(400 / 11)
    hidden = head_counts(t, per_session=True).set_index("group_session_id")
    assert pd.isna(hidden.loc["G2", "head_count"]) and pd.isna(hidden.loc["G1", "n_named"])


def test_path_reads_endings_and_unpaired_reasons_as_text_whether_categorical_or_not() -> None:
    """participant_path reads the ending and the unpaired reason from a categorical's codes (as prepared episodes
    hold them) or as text: the same path either way, unknown endings 'other' and missing ones 'ongoing'."""
    import dataclasses

    from evalkit.data_source import example_tables
    from evalkit.episodes import prepare_episodes

    t = example_tables()
    parts = t["participants"].copy()
    # an ending no group names, and missing ones, among the recorded ones
    parts.loc[parts.index[:3], "ending"] = "an_ending_nobody_groups"
    parts.loc[parts.index[3:6], "ending"] = pd.NA
    data = prepare_episodes(dict(t, participants=parts), rules=PairingRules())
    p, ep = data.participants, data.episodes
    assert isinstance(p["ending"].dtype, pd.CategoricalDtype)
    as_text = dataclasses.replace(data, participants=p.assign(ending=p["ending"].astype("string")),
                                  episodes=ep.assign(unpaired_reason=ep["unpaired_reason"].astype("category")))
    a, b = participant_path(data), participant_path(as_text)
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    want = p.set_index("participant_id")["ending"].astype("string")
    got = a.set_index("participant_id")["ending_group"]
    none, unknown = want.reindex(got.index).isna().to_numpy(), \
        (want.reindex(got.index) == "an_ending_nobody_groups").fillna(False).to_numpy()
    assert none.sum() >= 3 and unknown.sum() == 3
    assert (got[none] == "ongoing").all() and (got[unknown] == "other").all()
