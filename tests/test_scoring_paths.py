"""Scoring gives the same answer whichever way the input is held: column dtypes, row order, code spelling."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.instruments import builtin_instruments
from evalkit.scoring import score


def _frame(n: int = 400, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    codes = np.array(["epds", " PHQ9", "gad7 ", "Whooley", "ons4", "swemwbs", "qpr15", "zzz", ""], dtype=object)
    frame = pd.DataFrame({"instrument": pd.Series(codes[rng.integers(0, len(codes), n)], dtype=object)})
    frame.loc[rng.random(n) < 0.05, "instrument"] = None
    for i in range(1, 17):
        v = rng.integers(0, 5, n).astype(float)
        v[rng.random(n) < 0.08] = np.nan
        v[rng.random(n) < 0.01] = 2.5
        frame[f"item_{i}"] = v
    total = rng.integers(0, 30, n).astype(float)
    total[rng.random(n) < 0.7] = np.nan
    frame["total"] = total
    blank = rng.random(n) < 0.1  # total-only and empty questionnaires
    frame.loc[blank, [f"item_{i}" for i in range(1, 17)]] = np.nan
    return frame


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for c in out.columns:
        if c.startswith("item_") or c == "total":
            out[c] = pd.Series([None if pd.isna(v) else (str(int(v)) if v == int(v) else str(v)) for v in out[c]],
                               dtype=object, index=out.index)
    return out


def test_string_and_object_instrument_columns_score_alike() -> None:
    frame = _frame()
    as_string = frame.assign(instrument=frame["instrument"].astype("string"))
    as_str = frame.assign(instrument=frame["instrument"].astype("str"))
    expected = score(frame)
    for other in (as_string, as_str):
        got = score(other)
        new = [c for c in expected.columns if c not in frame.columns]
        pd.testing.assert_frame_equal(got[new], expected[new])


def test_numeric_and_text_item_columns_score_alike() -> None:
    frame = _frame(seed=5)
    expected = score(frame)
    got = score(_as_text(frame))
    new = [c for c in expected.columns if c not in frame.columns]
    pd.testing.assert_frame_equal(got[new], expected[new])


def test_row_order_and_subsets_do_not_change_a_row() -> None:
    frame = _frame(seed=7)
    expected = score(frame)
    shuffled = frame.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(score(shuffled), expected.loc[shuffled.index])
    part = frame.iloc[::3]
    pd.testing.assert_frame_equal(score(part), expected.iloc[::3])


def test_values_beyond_the_last_item_make_a_row_invalid_text_or_number() -> None:
    frame = pd.DataFrame({"instrument": ["ucla3", "ucla3", "ucla3", "epds"],
                          "item_1": [1, 1, 1, 1], "item_2": [1, 1, 1, 1], "item_3": [1, 1, 1, 1],
                          "item_4": [np.nan, 2, np.nan, 1]})
    frame["item_9"] = pd.Series([None, None, "x", "1"], dtype=object)
    for c in ("item_5", "item_6", "item_7", "item_8"):
        frame[c] = 1.0
    frame.loc[:2, ["item_5", "item_6", "item_7", "item_8"]] = np.nan
    frame["item_10"] = [np.nan, np.nan, np.nan, 0]
    out = score(frame)
    assert out["score_status"].tolist() == ["complete", "invalid", "invalid", "complete"]
    assert "beyond item_3" in out["score_reason"].iloc[1] and "beyond item_3" in out["score_reason"].iloc[2]
    assert out["score"].tolist()[::3] == [3, 9]  # text "1" in item_9 is an EPDS answer


def test_a_repeated_reverse_keyed_item_is_reversed_once() -> None:
    epds = builtin_instruments()["epds"]
    once = {"epds": epds.with_overrides(reverse_keyed=(3,))}
    twice = {"epds": epds.with_overrides(reverse_keyed=(3, 3))}
    frame = pd.DataFrame({"instrument": ["epds"], **{f"item_{i}": [1.0] for i in range(1, 11)}})
    frame["item_3"] = 0.0
    a = score(frame, instruments=once, item_coding="response_position")
    b = score(frame, instruments=twice, item_coding="response_position")
    assert a["score"].iloc[0] == b["score"].iloc[0] == 12  # item 3: position 0 -> keyed 3
