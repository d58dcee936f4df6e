"""Simulation: over generated datasets, no hidden count of a programme is a difference of two published counts
of the same people, one set inside the other, across the tables the report publishes side by side.

Nested pairs checked (A contains B; the hidden cell is A - B, or A itself when B is A's complement):
the outcome summary's n_engaged / n_paired / unpaired reasons (every paired mother is engaged); the dose table's
row at the rules' minimum dose and the summary's n_paired (the same mothers); a single-measure Talking Therapies
row's n_finished and the summary's n_paired of that measure (the same mothers); the take-up funnel's steps; and
each breakdown (funnel, outcomes, Talking Therapies, recovery) against its programme-level table, the levels of a
group being nested in its total (total - the other levels = a level; the levels' sum = the total).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from evalkit.engagement import FUNNEL_STEPS, participant_path, take_up_funnel
from evalkit.episodes import UNPAIRED_REASONS
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes

TT = ["n_finished", "n_caseness_start", "n_not_caseness_start", "n_recovery", "n_reliable_recovery",
      "n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change"]
OUT = ["n_episodes", "n_engaged", "n_paired", "n_reliable_improvement", "n_caseness_baseline", "n_recovered"]


def _v(x: object) -> float:
    return float("nan") if pd.isna(x) else float(x)


def _levels_check(brk: pd.DataFrame, top: pd.DataFrame, keys: list[str], cols: list[str], field: str,
                  bad: list[tuple]) -> int:
    """A hidden total must not be the sum of its published levels; a hidden level must not be the published
    total less the other published levels."""
    t = top.set_index(keys)
    n = 0
    for key, g in brk.groupby(keys, dropna=False):
        if key not in t.index:
            continue
        for c in cols:
            if c not in g.columns or c not in t.columns:
                continue
            total = _v(t.loc[key, c])
            levels = pd.to_numeric(g[c], errors="coerce")
            n += 1
            if np.isnan(total) and levels.notna().all():
                bad.append(("total = sum of levels", field, key, c))
            if not np.isnan(total) and levels.isna().sum() == 1:
                # one hidden level would be the published total less the other published levels
                bad.append(("one level = total - other levels", field, key, c))
    return n


@pytest.mark.parametrize("seed", [2, 4, 12])
def test_no_hidden_count_is_a_difference_of_two_published_nested_counts(seed: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(generate_programmes(150, seed=seed).tables, models=False)
    rules = res.rules
    bad: list[tuple] = []
    s = res.summary
    st = res.statistics.set_index(["programme_id", "instrument"])
    # 1. within the summary: engaged contains paired, and its rest is the reasons + no score
    for _, r in s.iterrows():
        key = (r["programme_id"], r["instrument"])
        raw = st.loc[key]
        assert raw["n_paired"] <= raw["n_engaged"], key
        rest = ["n_engaged_no_score", *[f"n_unpaired_{x}" for x in UNPAIRED_REASONS]]
        assert raw["n_engaged"] == raw["n_paired"] + raw[rest].sum(), key
        hidden_rest = [c for c in rest if pd.isna(r[c])]
        if len(hidden_rest) == 1 and not pd.isna(r["n_engaged"]) and not pd.isna(r["n_paired"]):
            bad.append(("summary rest", key, hidden_rest[0]))
    # 2. the dose row at the rules' minimum dose holds the summary's paired mothers
    dose = res.dose_sensitivity
    at = dose[pd.to_numeric(dose["min_dose"]) == rules.min_dose].set_index(["programme_id", "instrument"])
    sk = s.set_index(["programme_id", "instrument"])
    for key in at.index.intersection(sk.index):
        if pd.isna(at.loc[key, "n"]) != pd.isna(sk.loc[key, "n_paired"]):
            bad.append(("dose row vs summary n_paired", key))
    # 3. a single-measure Talking Therapies row finished = the summary's paired on that measure
    tt = res.talking_therapies
    for _, r in tt[~tt["measure_set"].astype(str).str.contains(r"\+")].iterrows():
        key = (r["programme_id"], str(r["measure_set"]))
        if key in sk.index and pd.isna(r["n_finished"]) != pd.isna(sk.loc[key, "n_paired"]):
            bad.append(("TT single row vs summary n_paired", key))
    # 4. the funnel: each step inside the one before, the leavers the difference
    path = participant_path(res.data, rules=rules)
    funnel = take_up_funnel(path, rules=rules)
    steps = list(FUNNEL_STEPS)
    for pid, g in funnel.groupby("programme_id"):
        n = g.set_index("step")["n"]
        left = g.set_index("step")["n_left"] if "n_left" in g.columns else None
        for prev, cur in zip(steps[:-1], steps[1:], strict=True):
            if left is not None and pd.isna(left.get(cur)) and not pd.isna(n.get(prev)) and not pd.isna(n.get(cur)):
                bad.append(("funnel leavers", pid, cur))
    # 5. breakdowns against the programme-level tables (the pairs the earlier fixes and item 2 found)
    checked = 0
    for field in ("perinatal_stage", "first_time_mother", "ethnicity_group"):
        checked += _levels_check(for_whom(res, field, what="funnel"), funnel, ["programme_id", "step"],
                                 ["n", "n_left"], field, bad)
        checked += _levels_check(for_whom(res, field, what="outcomes"), s, ["programme_id", "instrument"], OUT,
                                 field, bad)
        checked += _levels_check(for_whom(res, field, what="talking_therapies"), tt,
                                 ["programme_id", "measure_set"], TT, field, bad)
        checked += _levels_check(for_whom(res, field, what="recovery"), res.recovery,
                                 ["programme_id", "category"], ["n"], field, bad)
    assert checked > 100
    assert not bad, bad
