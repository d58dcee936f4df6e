"""The safety list: self-harm items above zero and reliable deteriorations, individual level."""

from __future__ import annotations

import warnings

import pandas as pd

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
