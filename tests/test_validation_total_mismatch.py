"""A recorded total that contradicts a fully answered questionnaire's items is a warning at upload time.

Scoring (:func:`evalkit.scoring.score`) uses the item sum and ignores such a total, so the provider should hear
at upload, not only from ``evalkit score``, that one of the two is wrong. The row is kept.
"""

from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import score, validate


def _measures(rows: list[dict[str, object]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows).astype(object)
    frame = frame.where(frame.notna(), "")
    base = {"programme_id": "P", "completed_on": "2025-01-15"}
    frame = frame.assign(**{k: v for k, v in base.items() if k not in frame.columns})
    frame["participant_id"] = [f"M{i}" for i in range(len(frame))]
    return frame.astype(str)


def _mismatch_rows(report: pd.DataFrame) -> list[int]:
    hit = report[report["rule"] == "total_mismatch"]
    assert (hit["severity"] == "warning").all() and (hit["column"] == "total").all()
    return sorted(int(r) - 2 for r in hit["source_row"])  # source_row: header is row 1


def test_known_answers() -> None:
    epds = {f"item_{i}": 1 for i in range(1, 11)}
    rows = [
        {"instrument": "epds", **epds, "total": 25},  # 0: items sum to 10: warned
        {"instrument": "epds", **epds, "total": 10},  # 1: agrees
        {"instrument": "epds", **{**epds, "item_10": ""}, "total": 25},  # 2: an item unanswered: not judged
        {"instrument": "epds", **epds},  # 3: no total
        {"instrument": "swemwbs", **{f"item_{i}": 3 for i in range(1, 8)}, "total": "20.73"},  # 4: a metric score
        {"instrument": "swemwbs", **{f"item_{i}": 3 for i in range(1, 8)}, "total": 21},  # 5: the raw sum
        {"instrument": "core10", **{f"item_{i}": 1 for i in range(1, 11)}, "total": 12},  # 6: not scored by sum
    ]
    result = validate({"measures": _measures(rows)})
    assert _mismatch_rows(result.report) == [0, 4]
    messages = result.report.loc[result.report["rule"] == "total_mismatch", "message"].tolist()
    assert messages[0] == ("Row 2, column 'total': '25' differs from the sum of the item scores (10); the item "
                           "scores are used when scoring. Check the total and the items.")
    assert "(21) (for swemwbs the total is the raw sum of the items, before the conversion to a metric score)" \
        in messages[1]
    assert len(result.tables["measures"]) == len(rows)  # a warning: every row kept
    # and scoring does use the items there, as the warning says
    scored = score(result.tables["measures"])
    assert scored["score"].iloc[0] == 10


@settings(max_examples=40, deadline=None)
@given(items=st.lists(st.lists(st.integers(0, 3), min_size=7, max_size=7), min_size=1, max_size=12),
       deltas=st.lists(st.integers(-3, 3), min_size=12, max_size=12),
       blanks=st.lists(st.booleans(), min_size=12, max_size=12))
def test_warned_exactly_where_a_complete_questionnaire_disagrees(items: list[list[int]], deltas: list[int],
                                                                 blanks: list[bool]) -> None:
    rows, expected = [], []
    for i, answers in enumerate(items):
        total = sum(answers) + deltas[i]
        cells: dict[str, object] = {f"item_{k}": v for k, v in enumerate(answers, start=1)}
        if blanks[i]:
            cells["item_3"] = ""
        rows.append({"instrument": "gad7", **cells, "total": total if 0 <= total <= 21 else ""})
        if not blanks[i] and deltas[i] != 0 and 0 <= total <= 21:
            expected.append(i)
    result = validate({"measures": _measures(rows)})
    assert _mismatch_rows(result.report) == expected
