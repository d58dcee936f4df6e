"""talking_therapies_outcomes person by person: each row as the module docstring defines it, worked out here one
mother at a time from her episodes (the joint PHQ-9 + GAD-7 set of those with both, the single-measure sets)."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.change import episode_change
from evalkit.talking_therapies import talking_therapies_outcomes

_MAX = {"phq9": 27, "gad7": 21, "epds": 30}
_episode = st.one_of(st.none(), st.tuples(st.booleans(), st.integers(0, 30), st.integers(0, 30)))


@st.composite
def _people(draw):
    rows = []
    for i in range(draw(st.integers(1, 12))):
        prog = draw(st.sampled_from(["A", "B"]))
        for inst in ("phq9", "gad7", "epds"):
            e = draw(_episode) if rows or inst != "epds" else draw(_episode.filter(lambda e: e is not None))
            if e is None:
                continue
            paired, pre, post = e
            rows.append({"programme_id": prog, "participant_id": f"p{i}", "instrument": inst, "role": "symptom",
                         "higher_is_better": False, "paired": paired,
                         "unpaired_reason": pd.NA if paired else draw(st.sampled_from(["no_endpoint", "too_soon"])),
                         "baseline_score": float(min(pre, _MAX[inst])),
                         "endpoint_score": float(min(post, _MAX[inst])) if paired else float("nan"),
                         "baseline_date": pd.Timestamp("2025-01-01")})
    return pd.DataFrame(rows)


def _expected(ch: pd.DataFrame) -> dict[tuple[str, str, str], dict[str, object]]:
    want = {}
    for (prog, pid), own in ch.groupby(["programme_id", "participant_id"], sort=False):
        ep = {r["instrument"]: r for r in own.to_dict("records")}
        sets = [("epds", [ep["epds"]])] if "epds" in ep else []
        if "phq9" in ep and "gad7" in ep:
            sets.append(("phq9+gad7", [ep["phq9"], ep["gad7"]]))
        else:
            sets += [(c, [ep[c]]) for c in ("phq9", "gad7") if c in ep]
        for name, eps in sets:
            fin = all(e["paired"] for e in eps)
            reasons = [e["unpaired_reason"] for e in eps if not pd.isna(e["unpaired_reason"])]
            row: dict[str, object] = {"finished": fin, "not_finished_reason": None if fin or not reasons
                                      else reasons[0]}
            if fin:
                cs = any(bool(e["caseness_baseline"]) for e in eps)
                ce = any(bool(e["caseness_endpoint"]) for e in eps)
                up = any(bool(e["reliable_improvement"]) for e in eps)
                down = any(bool(e["reliable_deterioration"]) for e in eps)
                ri = up and not down
                row.update(caseness_start=cs, caseness_end=ce, recovery=cs and not ce, reliable_improvement=ri,
                           reliable_deterioration=down, no_reliable_change=not ri and not down,
                           reliable_recovery=cs and not ce and ri)
            want[(prog, pid, name)] = row
    return want


@settings(max_examples=150, deadline=None)
@given(_people())
def test_each_mother_row_as_defined(episodes: pd.DataFrame) -> None:
    ch = episode_change(episodes)
    got = talking_therapies_outcomes(ch)
    want = _expected(ch)
    assert len(got) == len(want)
    flags = ("caseness_start", "caseness_end", "recovery", "reliable_improvement", "reliable_deterioration",
             "no_reliable_change", "reliable_recovery")
    for r in got.to_dict("records"):
        w = want[(r["programme_id"], r["participant_id"], r["measure_set"])]
        assert r["finished"] == w["finished"]
        assert (None if pd.isna(r["not_finished_reason"]) else r["not_finished_reason"]) == w["not_finished_reason"]
        for f in flags:
            if w["finished"]:
                assert not pd.isna(r[f]) and bool(r[f]) == w[f], (f, r, w)
            else:
                assert pd.isna(r[f]), (f, r)
    keys = list(zip(got["programme_id"], got["measure_set"], got["participant_id"], strict=True))
    assert keys == sorted(keys)


def test_two_rows_of_one_measure_for_a_mother_are_refused_by_name() -> None:
    """The joint set pairs each mother's one PHQ-9 episode with her one GAD-7 episode: changes with two GAD-7
    rows for her (not what prepare_episodes makes) are refused with her ids named, whichever row comes first."""
    base = pd.DataFrame({
        "programme_id": "P", "participant_id": ["x", "x", "x"], "instrument": ["phq9", "gad7", "gad7"],
        "role": "symptom", "higher_is_better": False, "paired": [True, True, False],
        "unpaired_reason": [pd.NA, pd.NA, "too_soon"], "baseline_score": [15.0, 12.0, 12.0],
        "endpoint_score": [5.0, 4.0, None], "baseline_date": pd.Timestamp("2025-01-01")})
    for order in ([0, 1, 2], [0, 2, 1]):
        with pytest.raises(ValueError, match=r"participant 'x' of programme 'P' has 2 GAD-7"):
            talking_therapies_outcomes(episode_change(base.iloc[order].reset_index(drop=True)))
