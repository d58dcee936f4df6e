"""Scoring: a hand-worked known answer per instrument, and property tests of the invariants."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.instruments import builtin_instruments, get_instrument
from evalkit.scoring import SCORE_STATUSES, keyed_scores, score


def row(code: str, items: list[float | None], **extra: object) -> dict[str, object]:
    return {"instrument": code, **{f"item_{i}": v for i, v in enumerate(items, start=1)}, **extra}


def score_rows(*rows: dict[str, object], **kwargs: object) -> pd.DataFrame:
    return score(pd.DataFrame(list(rows)), **kwargs)  # type: ignore[arg-type]


# --- hand-worked known answers -------------------------------------------------------------

def test_epds_known_answer() -> None:
    # Keyed items 1,2,1,0,1,2,1,1,0,1: total 10 (< 13, not a case); EPDS-3A = items 3-5 = 1+0+1 = 2;
    # item 10 = 1 > 0 -> self-harm flag.
    s = score_rows(row("epds", [1, 2, 1, 0, 1, 2, 1, 1, 0, 1])).iloc[0]
    assert (s.score, s.subscale_epds_3a, s.caseness, s.flag_self_harm, s.score_status) == (10, 2, False, True, "complete")
    # 13 is at the UK cut-off: a case; item 10 = 0 -> no flag.
    s = score_rows(row("epds", [2, 2, 2, 1, 1, 1, 1, 1, 2, 0])).iloc[0]
    assert (s.score, s.caseness, s.flag_self_harm) == (13, True, False)


def test_epds_response_positions_apply_reverse_keys() -> None:
    # Printed positions (0 = first option). Items 3,5-10 run 3-2-1-0, so keyed = 3 - position there.
    positions = [0, 1, 0, 3, 3, 0, 1, 2, 3, 3]
    keyed = [0, 1, 3, 3, 0, 3, 2, 1, 0, 0]
    s = score_rows(row("epds", positions), item_coding="response_position").iloc[0]
    assert s.score == sum(keyed) == 13
    assert s.flag_self_harm is False or s.flag_self_harm == False  # noqa: E712 - keyed item 10 is 0


def test_phq9_prorating_rule() -> None:
    # Two missing: mean of 7 answered (all 2) x 9 = 18; three missing: not scored. Item 9 = 1 -> flag.
    s = score_rows(
        row("phq9", [2, 2, 2, 2, 2, 2, 2, None, None]),
        row("phq9", [2, 2, 2, 2, 2, 2, None, None, None]),
        row("phq9", [1, 1, 1, 1, 1, 1, 1, 1, 1]),
    )
    assert s.score.iloc[0] == 18 and s.score_status.iloc[0] == "prorated"
    assert np.isnan(s.score.iloc[1]) and s.score_status.iloc[1] == "insufficient_items"
    assert (s.score.iloc[2], s.caseness.iloc[2], s.flag_self_harm.iloc[2], s.subscale_phq2.iloc[2]) == (9, False, True, 2)
    assert pd.isna(s.flag_self_harm.iloc[0])  # item 9 unanswered: unknown, not "no"


def test_gad7_caseness_at_nhs_talking_therapies_threshold() -> None:
    s = score_rows(row("gad7", [1, 1, 1, 1, 1, 1, 2]), row("gad7", [1, 1, 1, 1, 1, 1, 1]))
    assert s.score.tolist() == [8, 7] and s.caseness.tolist() == [True, False]
    assert s.subscale_gad2.tolist() == [2, 2]


def test_wemwbs_and_swemwbs_known_answers() -> None:
    s = score_rows(row("wemwbs", [3] * 14), row("wemwbs", [2] * 13 + [3]))
    assert s.score.tolist() == [42, 29] and s.caseness.tolist() == [False, True]  # <= 40 probable depression
    # SWEMWBS raw 7 x 3 = 21 -> metric 19.25; raw 29 -> 26.02 (the value four of five sources give).
    s = score_rows(row("swemwbs", [3] * 7), row("swemwbs", [5, 5, 5, 5, 3, 3, 3]))
    assert s.raw_score.tolist() == [21, 29] and s.score.tolist() == [19.25, 26.02]
    s = score_rows(row("swemwbs", [3, 3, 3, 3, 3, 3, None]))
    assert s.score_status.iloc[0] == "insufficient_items"  # conversion needs all 7 items


def test_qpr_core10_ucla_ons4_whooley_known_answers() -> None:
    assert score_rows(row("qpr15", [4] * 15)).score.iloc[0] == 60
    # CORE-10: mean x 10; one missing item prorated: nine items of 2 -> 20; two missing -> not scored.
    s = score_rows(row("core10", [2] * 9 + [None]), row("core10", [2] * 8 + [None, None]), row("core10", [1] * 10))
    assert s.score.iloc[0] == 20 and s.score_status.iloc[0] == "prorated"
    assert s.score_status.iloc[1] == "insufficient_items"
    assert (s.score.iloc[2], s.caseness.iloc[2]) == (10, False)  # clinical cut-off 11
    assert score_rows(row("ucla3", [2, 2, 2])).caseness.iloc[0]
    s = score_rows(row("ons4", [7, 8, 6, 3])).iloc[0]
    assert np.isnan(s.score)  # never summed
    assert (s.subscale_ons4_life_satisfaction, s.subscale_ons4_anxiety) == (7, 3)
    s = score_rows(row("whooley", [0, 1]), row("whooley", [0, 0]), row("whooley", [0, None]))
    assert s.caseness.tolist()[:2] == [True, False] and pd.isna(s.caseness.iloc[2])


def test_invalid_values_are_never_clipped_or_guessed() -> None:
    s = score_rows(
        row("epds", [1, 1, 4, 1, 1, 1, 1, 1, 1, 1]),
        row("epds", [1, 1, 1.5, 1, 1, 1, 1, 1, 1, 1]),
        row("epds", [1, 1, "two", 1, 1, 1, 1, 1, 1, 1]),
        row("epds", [1, 1, -1, 1, 1, 1, 1, 1, 1, 1]),
        row("gad7", [1] * 7 + [1]),  # a value in item_8, which the GAD-7 does not have
        row("nope", [1] * 10),
    )
    assert (s.score_status == "invalid").all() and s.score.isna().all()
    reasons = s.score_reason.tolist()
    assert "item_3=4 is outside 0-3" in reasons[0]
    assert "item_3=1.5 is not a whole number" in reasons[1]
    assert "item_3 is not a number" in reasons[2]
    assert "item_3=-1 is outside 0-3" in reasons[3]
    assert "beyond item_7" in reasons[4]
    assert reasons[5] == "unknown instrument 'nope'"
    # Safety is not lost because another item was wrong: item 10 = 1 still flags.
    assert s.flag_self_harm.iloc[:4].tolist() == [True] * 4


def test_totals_only() -> None:
    s = score_rows({"instrument": "epds", "total": 17}, {"instrument": "epds", "total": 31},
                   {"instrument": "epds", "total": 12.5}, {"instrument": "ons4", "total": 20}, {"instrument": "epds"})
    assert s.score_status.tolist() == ["total_only", "invalid", "invalid", "invalid", "insufficient_items"]
    assert s.score.iloc[0] == 17 and bool(s.caseness.iloc[0])
    assert "total=31 is outside 0-30" in s.score_reason.iloc[1]
    # each invalid total gives its own reason only (not also "no items answered and no total recorded")
    assert s.score_reason.iloc[2] == "total=12.5 is not a whole number"
    assert s.score_reason.iloc[1] == "total=31 is outside 0-30"
    assert s.score_reason.iloc[4] == "no items answered and no total recorded"


def test_swemwbs_total_is_the_raw_sum_and_a_metric_score_is_refused_with_why() -> None:
    # SWEMWBS totals are recorded as the raw 7-35 sum and converted (raw 23 -> metric 20.73, raw 29 -> 26.02)
    s = score_rows({"instrument": "swemwbs", "total": 23}, {"instrument": "swemwbs", "total": 29},
                   {"instrument": "swemwbs", "total": 19.25})
    assert s.score.iloc[:2].tolist() == [20.73, 26.02]
    assert s.score_status.tolist() == ["total_only", "total_only", "invalid"]
    assert s.score_reason.iloc[2] == ("total=19.25 is not a whole number (the raw sum of the items, which is "
                                      "converted to the metric score)")


def test_recorded_total_that_disagrees_with_items_is_reported() -> None:
    s = score_rows(row("epds", [1] * 10, total=12)).iloc[0]
    assert s.score == 10 and s.score_status == "complete" and "differs from the item sum" in s.score_reason


def test_keeps_every_input_column_and_index() -> None:
    m = pd.DataFrame([row("epds", [1] * 10, participant_id="a", note="x")], index=[42])
    s = score(m)
    assert list(s.columns[: m.shape[1]]) == list(m.columns) and s.index.tolist() == [42]


def test_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="item_coding must be"):
        score(pd.DataFrame([row("epds", [1] * 10)]), item_coding="positions")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="no 'instrument' column"):
        score(pd.DataFrame({"item_1": [1]}))


# --- properties ------------------------------------------------------------------------------

SCALES = [c for c, i in builtin_instruments().items() if i.method not in ("none", "any_positive")]


@st.composite
def questionnaires(draw: st.DrawFn, max_rows: int = 30) -> pd.DataFrame:
    registry = builtin_instruments()
    n = draw(st.integers(1, max_rows))
    rows = []
    for _ in range(n):
        code = draw(st.sampled_from(SCALES))
        inst = registry[code]
        items = [
            draw(st.one_of(st.none(), st.integers(int(lo), int(hi))) if draw(st.booleans()) else st.integers(int(lo), int(hi)))
            for lo, hi in zip(inst.item_min, inst.item_max, strict=True)
        ]
        rows.append(row(code, items))
    return pd.DataFrame(rows)


@settings(max_examples=60, deadline=None)
@given(questionnaires())
def test_scores_stay_within_the_instrument_range(m: pd.DataFrame) -> None:
    s = score(m)
    registry = builtin_instruments()
    assert set(s.score_status) <= set(SCORE_STATUSES)
    for code, grp in s.groupby("instrument"):
        lo, hi = registry[str(code)].score_range  # type: ignore[misc]
        vals = grp.score.dropna()
        assert ((vals >= lo - 1e-9) & (vals <= hi + 1e-9)).all()
        scored = grp.score_status.isin(["complete", "prorated"])
        assert grp.score[scored].notna().all() and grp.score[~scored].isna().all()


@settings(max_examples=40, deadline=None)
@given(questionnaires(), st.randoms(use_true_random=False))
def test_row_order_invariance(m: pd.DataFrame, rnd) -> None:  # type: ignore[no-untyped-def]
    order = list(range(len(m)))
    rnd.shuffle(order)
    a = score(m)
    b = score(m.iloc[order]).loc[a.index]
    pd.testing.assert_frame_equal(a, b)


@settings(max_examples=40, deadline=None)
@given(questionnaires(), questionnaires())
def test_one_instruments_rows_are_unaffected_by_anothers(a: pd.DataFrame, b: pd.DataFrame) -> None:
    alone = score(a).reset_index(drop=True)
    together = score(pd.concat([a, b], ignore_index=True)).iloc[: len(a)].reset_index(drop=True)
    cols = ["score", "raw_score", "score_status", "caseness", "items_answered", "flag_self_harm"]
    pd.testing.assert_frame_equal(alone[cols], together[cols])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=10, max_size=10))
def test_reverse_keying_is_an_involution_and_preserves_non_reversed_items(items: list[int]) -> None:
    epds = get_instrument("epds")
    keyed = score_rows(row("epds", items)).iloc[0]
    positions = [3 - v if i + 1 in epds.reverse_keyed else v for i, v in enumerate(items)]
    via_positions = score_rows(row("epds", positions), item_coding="response_position").iloc[0]
    assert keyed.score == via_positions.score == sum(items)


def test_keyed_scores_known_answers() -> None:
    epds, phq9 = get_instrument("epds"), get_instrument("phq9")
    given_ = np.array([0.0, 1.0, 3.0, np.nan])
    # EPDS item 10 is reverse keyed (0-3): position p scores 3 - p; item 1 is not; keyed cells are kept
    np.testing.assert_array_equal(keyed_scores(epds, 10, given_, "response_position"), [3.0, 2.0, 0.0, np.nan])
    np.testing.assert_array_equal(keyed_scores(epds, 1, given_, "response_position"), given_)
    np.testing.assert_array_equal(keyed_scores(epds, 10, given_, "keyed"), given_)
    np.testing.assert_array_equal(keyed_scores(phq9, 9, given_, "response_position"), given_)
    # the given array is left as it is, unless it is also where the result goes
    out = keyed_scores(epds, 10, given_, "response_position")
    assert out is not given_ and given_[0] == 0.0
    assert keyed_scores(epds, 10, given_, "response_position", out=given_) is given_ and given_[0] == 3.0


@settings(max_examples=40, deadline=None)
@given(questionnaires())
def test_scoring_response_positions_is_scoring_their_keyed_scores(m: pd.DataFrame) -> None:
    registry = builtin_instruments()
    keyed = m.copy()
    for code, rows in m.groupby("instrument").groups.items():
        inst = registry[str(code)]
        for i in range(1, inst.n_items + 1):
            values = pd.to_numeric(m.loc[rows, f"item_{i}"], errors="coerce").to_numpy(dtype=float)
            keyed.loc[rows, f"item_{i}"] = keyed_scores(inst, i, values, "response_position")
    cols = ["score", "raw_score", "score_status", "caseness", "items_answered", "flag_self_harm"]
    pd.testing.assert_frame_equal(score(m, item_coding="response_position")[cols], score(keyed)[cols])


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 3), min_size=9, max_size=9), st.sets(st.integers(0, 8), max_size=4))
def test_prorated_score_equals_mean_of_answered_times_nine(items: list[int], missing: set[int]) -> None:
    values: list[float | None] = [None if i in missing else v for i, v in enumerate(items)]
    s = score_rows(row("phq9", values)).iloc[0]
    answered = [v for v in values if v is not None]
    if len(missing) == 0:
        assert s.score_status == "complete" and s.score == sum(items)
    elif len(missing) <= 2:
        assert s.score_status == "prorated" and s.score == pytest.approx(np.mean(answered) * 9)
    else:
        assert s.score_status == "insufficient_items" and np.isnan(s.score)
