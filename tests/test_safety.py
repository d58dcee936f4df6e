"""The safety list: self-harm items above zero and reliable deteriorations, individual level."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from evalkit.errors import EvalkitWarning
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes
from evalkit.safety import SAFETY_COLUMNS, safety_list
from evalkit.scoring import score


def _m(instrument: str, items: dict[int, float], pid: str = "A") -> dict[str, object]:
    return {"programme_id": "P", "participant_id": pid, "instrument": instrument,
            "completed_on": pd.Timestamp("2025-02-01"), **{f"item_{k}": v for k, v in items.items()}}


def test_items_above_zero_are_listed_whatever_the_total() -> None:
    rows = [
        _m("epds", {**{i: 0 for i in range(1, 10)}, 10: 1}, "A"),  # total 1, item 10 = 1: listed
        _m("epds", {**{i: 3 for i in range(1, 10)}, 10: 0}, "B"),  # total 27, item 10 = 0: not listed
        _m("phq9", {**{i: 0 for i in range(1, 9)}, 9: 2}, "C"),  # PHQ-9 item 9 = 2: listed
        _m("epds", {1: 1, 10: 3}, "D"),  # incomplete questionnaire, but item 10 answered 3: listed
    ]
    out = safety_list(pd.DataFrame(rows))
    assert list(out.columns) == list(SAFETY_COLUMNS)
    assert out["participant_id"].tolist() == ["A", "C", "D"]
    assert out["item"].tolist() == ["item_10", "item_9", "item_10"]
    assert out["item_value"].tolist() == [1.0, 2.0, 3.0]
    assert out["reason"].str.contains("answered").all()
    assert out.attrs["individual_level"]
    # the scored frame gives the same list
    pd.testing.assert_frame_equal(out, safety_list(score(pd.DataFrame(rows))))


def test_reliable_deteriorations_listed() -> None:
    d = generate_programmes(600, seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(d.tables, models=False)
    out = safety_list(d.tables, res)
    det = out[out["signal"] == "reliable_deterioration"]
    assert len(det) == int(res.changes["reliable_deterioration"].fillna(False).sum())
    assert (det["change"].abs() >= det["threshold"] - 1e-9).all()
    assert det["reason"].str.startswith("reliable deterioration").all()
    # never aggregated: no suppression column, individual rows with participant ids
    assert "suppressed" not in out.columns and out["participant_id"].notna().all()


def test_response_position_items_are_shown_as_scored_and_as_given() -> None:
    # EPDS item 10 is reverse keyed: on the form the first option ('Yes, quite often', position 0)
    # scores 3 and the last ('Never', position 3) scores 0. PHQ-9 item 9 is not reverse keyed.
    rows = [
        _m("epds", {**{i: 3 for i in range(1, 10)}, 10: 0}, "A"),  # position 0 = scored 3: listed
        _m("epds", {**{i: 0 for i in range(1, 10)}, 10: 3}, "B"),  # position 3 = 'Never', scored 0: not listed
        _m("phq9", {**{i: 0 for i in range(1, 9)}, 9: 1}, "C"),  # not reverse keyed: position = score
    ]
    frame = pd.DataFrame(rows)
    for out in (safety_list(score(frame, item_coding="response_position")),
                safety_list(frame, item_coding="response_position")):
        assert out["participant_id"].tolist() == ["A", "C"]
        # the value compared with the threshold is the one shown, the answer as given beside it when it differs
        assert out["item_value"].tolist() == [3.0, 1.0]
        assert out["item_as_given"].iloc[0] == 0.0 and pd.isna(out["item_as_given"].iloc[1])
        assert "scored 3" in out["reason"].iloc[0] and "as given 0" in out["reason"].iloc[0]
        assert "answered 1" in out["reason"].iloc[1] and "as given" not in out["reason"].iloc[1]
    # keyed data: nothing differs, nothing extra is shown
    keyed = safety_list(frame)
    assert keyed["participant_id"].tolist() == ["B", "C"] and keyed["item_as_given"].isna().all()
    # a scored frame says how it was coded; a contradicting item_coding is refused
    with pytest.raises(ValueError, match="response_position"):
        safety_list(score(frame, item_coding="response_position"), item_coding="keyed")
