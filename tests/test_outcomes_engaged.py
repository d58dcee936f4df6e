"""'Engaged' (the completeness denominator) and 'paired' under the rules: every paired mother is engaged.

With ``min_dose=0`` a pair needs no dose between the two scores, but it still needs support to have started
(an attended contact, or for a programme recording only ``sessions_attended`` at least one session, or the
count not recorded and a first contact date): a mother with two scores who never attended is not paired, and
'engaged' counts every mother who is, so ``n_paired <= n_engaged`` and ``n_engaged = n_paired + unpaired
reasons + n_engaged_no_score``.
"""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.change import episode_change
from evalkit.engagement import participant_path
from evalkit.episodes import UNPAIRED_REASONS, prepare_episodes
from evalkit.outcomes import change_statistics
from evalkit.rules import PairingRules

D = pd.Timestamp


def _tables() -> dict[str, pd.DataFrame]:
    """P1 keeps contact rows, P2 records only sessions_attended.

    A: P1, two attended contacts; B: P1, a first contact date and no attended contact row; C: P2, sessions
    not recorded, a first contact date; E: P2, sessions_attended = 0 recorded, a first contact date; F: P2, three
    sessions. Everyone has an EPDS at the start and eight weeks later.
    """
    ids = ["A", "B", "C", "E", "F"]
    participants = pd.DataFrame({
        "participant_id": ids,
        "programme_id": ["P1", "P1", "P2", "P2", "P2"],
        "referral_date": [D("2025-01-01")] * 5,
        "took_up": [True] * 5,
        "offered_date": [D("2025-01-02")] * 5,
        "first_contact_date": [pd.NaT, D("2025-01-06"), D("2025-01-06"), D("2025-01-06"), D("2025-01-06")],
        "sessions_attended": pd.array([pd.NA, pd.NA, pd.NA, 0, 3], dtype="Int64"),
    })
    contacts = pd.DataFrame({
        "participant_id": ["A", "A", "B"], "programme_id": ["P1"] * 3,
        "contact_date": pd.to_datetime(["2025-01-06", "2025-01-20", "2025-01-13"]),
        "kind": ["telephone"] * 3, "status": ["attended", "attended", "did_not_attend"],
        "duration_minutes": [30.0, 30.0, None], "group_session_id": pd.array([None] * 3, dtype="string"),
    })
    measures = pd.DataFrame({
        "participant_id": [p for p in ids for _ in (0, 1)],
        "instrument": ["epds"] * 10,
        "completed_on": pd.to_datetime(["2025-01-06", "2025-03-03"] * 5),
        "total": [18.0, 10.0] * 5,
    })
    measures["programme_id"] = measures["participant_id"].map(participants.set_index("participant_id")["programme_id"])
    return {"participants": participants, "contacts": contacts, "measures": measures,
            "programmes": pd.DataFrame({"programme_id": ["P1", "P2"]})}


@pytest.mark.parametrize("min_dose", [0, 1, 2])
def test_paired_mothers_are_engaged_and_the_counts_partition(min_dose: int) -> None:
    rules = PairingRules(min_dose=min_dose)
    ed = prepare_episodes(_tables(), rules=rules)
    st = change_statistics(episode_change(ed.episodes, rules=rules), rules=rules,
                           participants=ed.participants).set_index("programme_id")
    reasons = [f"n_unpaired_{r}" for r in UNPAIRED_REASONS]
    for prog, row in st.iterrows():
        assert row["n_paired"] <= row["n_engaged"], (prog, min_dose)
        assert row["completeness"] <= 100, (prog, min_dose)
        assert row["n_engaged"] == row["n_paired"] + row[reasons].sum() + row["n_engaged_no_score"], (prog, min_dose)
    # the take-up funnel's 'reached the minimum dose' step is the outcome summary's 'engaged'
    path = participant_path(ed, rules=rules)
    funnel = path.groupby("programme_id")["reached_min_dose"].sum()
    assert funnel.to_dict() == st["n_engaged"].to_dict()
    assert path.groupby("programme_id")["paired"].sum().to_dict() == st["n_paired"].to_dict()


def test_min_dose_zero_pairs_those_who_started_support_only() -> None:
    rules = PairingRules(min_dose=0)
    ep = prepare_episodes(_tables(), rules=rules).episodes.set_index("participant_id")
    # A attended; C's sessions were not recorded but she had a first contact; F attended three sessions
    assert ep.loc[["A", "C", "F"], "paired"].tolist() == [True, True, True]
    # B (a contact-row programme with no attended contact) and E (0 sessions recorded) never attended
    assert ep.loc[["B", "E"], "paired"].tolist() == [False, False]
    assert ep.loc[["B", "E"], "unpaired_reason"].tolist() == ["no_attended_contact"] * 2
