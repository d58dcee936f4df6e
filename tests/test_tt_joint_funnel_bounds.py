"""The engagement funnel's 'paired' beside the outcome summary's n paired: no small count by subtraction.

The funnel's step 'paired' counts the mothers paired on any change measure; the outcome summary's
``n_paired`` of an instrument counts those paired on that measure, all of whom are in the funnel's
'paired'. Their difference is the number of mothers paired on some measure but not on that one, a count
neither table publishes; with both cells shown it must not be small (generator seed 12, 150 per programme,
P-PHONE: 'paired' 9, PHQ-9 9, GAD-7 7 gave away 2 mothers paired but not on GAD-7). Every earlier funnel step
holds those mothers too, so the same goes for each step.

It also bounded a hidden Talking Therapies cell from both sides: the joint PHQ-9 + GAD-7 row's n finished J
(hidden to protect those same 2 mothers) lies between the funnel and the summary's cells (Frechet bounds,
from counts never being negative):

* J <= GAD-7 n paired (outcome summary, 7): the joint row's people are paired on GAD-7;
* J >= PHQ-9 n paired + GAD-7 n paired - the funnel's 'paired' (9 + 7 - 9 = 7): the funnel counts the
  mothers paired on any change measure, at least those paired on PHQ-9 or GAD-7.
"""

from __future__ import annotations

import warnings
from functools import cache

import pandas as pd
import pytest

from evalkit.engagement import FUNNEL_STEPS, PAIRED_ON, participant_path, take_up_funnel
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import OutcomeResult, evaluate_outcomes


@cache
def _outcomes(seed: int, n: int = 150) -> OutcomeResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return evaluate_outcomes(generate_programmes(n, seed=seed).tables, models=False)


def test_the_published_tables_do_not_pin_the_joint_finished_count() -> None:
    res = _outcomes(12)
    tt = res.talking_therapies
    joint = tt[(tt["programme_id"] == "P-PHONE") & (tt["measure_set"] == "phq9+gad7")]
    assert len(joint) == 1 and pd.isna(joint["n_finished"].iloc[0])  # hidden
    paired = res.summary[res.summary["programme_id"] == "P-PHONE"].set_index("instrument")["n_paired"]
    funnel = take_up_funnel(participant_path(res.data, rules=res.rules), rules=res.rules)
    any_paired = funnel[(funnel["programme_id"] == "P-PHONE") & (funnel["step"] == "paired")]["n"].iloc[0]
    # PHQ-9 9 and GAD-7 7 are published; 'paired' (9) pinned J = 7 from below, and is hidden now (9 - 7 = 2 paired
    # on another measure only is a small count): J is bounded only by 9 + 7 - 'paired' with 'paired' unknown
    assert (int(paired["phq9"]), int(paired["gad7"])) == (9, 7)
    assert pd.isna(any_paired)


def _small_differences(steps: pd.DataFrame, summary: pd.DataFrame, keys: list[str], threshold: int) -> list[tuple]:
    """(keys, instrument, step, step count, n paired) where a published funnel step less a published n paired
    of the same group is a count from 1 to ``threshold - 1`` (or negative: the funnel missing paired mothers)."""
    s = summary.dropna(subset=["n_paired"])
    m = s[[*keys, "instrument", "n_paired"]].merge(steps, on=keys, how="inner")
    bad = []
    for step in FUNNEL_STEPS:
        shown = m[m[step].notna()]
        diff = shown[step].astype(int) - shown["n_paired"].astype(int)
        wrong = shown[(diff < 0) | ((diff > 0) & (diff < threshold))]
        bad += [(*(r[k] for k in keys), r["instrument"], step, int(r[step]), int(r["n_paired"]))
                for _, r in wrong.iterrows()]
    return bad


@pytest.mark.parametrize("seed", range(1, 13))
def test_a_published_funnel_step_less_a_published_n_paired_is_never_small(seed: int) -> None:
    res = _outcomes(seed)
    funnel = take_up_funnel(participant_path(res.data, rules=res.rules), rules=res.rules)
    steps = funnel.pivot(index="programme_id", columns="step", values="n").reset_index()
    assert len(res.summary) and len(steps)
    bad = _small_differences(steps, res.summary, ["programme_id"], res.rules.suppression_threshold)
    assert not bad, bad


@pytest.mark.parametrize(("seed", "n", "field"), [(3, 150, "referral_source"), (5, 300, "first_time_mother"),
                                                  (2, 300, "ethnicity_group"), (12, 150, "perinatal_stage")])
def test_the_same_holds_for_each_level_of_a_breakdown(seed: int, n: int, field: str) -> None:
    res = _outcomes(seed, n)
    keys = ["programme_id", field]
    funnel = for_whom(res, field, what="funnel")
    steps = funnel.pivot_table(index=keys, columns="step", values="n", dropna=False, aggfunc="first").reset_index()
    outcomes = for_whom(res, field, what="outcomes")
    assert len(outcomes) and len(steps)
    bad = _small_differences(steps, outcomes, keys, res.rules.suppression_threshold)
    assert not bad, bad


@pytest.mark.parametrize("seed", [2, 12])
def test_the_path_pairs_each_measure_as_the_summary_counts_it(seed: int) -> None:
    """participant_path's ``paired_on_<instrument>`` adds up, per programme, to the summary's n paired (unhidden),
    and every mother paired on a measure is in the funnel's 'paired'."""
    res = _outcomes(seed)
    path = participant_path(res.data, rules=res.rules)
    on = [c for c in path.columns if c.startswith(PAIRED_ON)]
    assert on and all(path[c].dtype == bool for c in on)
    sums = path.groupby("programme_id")[on].sum()
    from_path = {(str(p), c[len(PAIRED_ON):]): int(n) for (p, c), n in sums.stack().items() if n}
    st = res.statistics
    from_summary = {(str(p), str(i)): int(n) for p, i, n in zip(st["programme_id"], st["instrument"], st["n_paired"],
                                                                 strict=True) if n}
    assert from_path == from_summary
    for c in on:
        assert not (path[c] & ~path["paired"]).any(), c


def test_paths_of_programmes_joined_together_count_a_missing_measure_as_not_paired_on_it() -> None:
    """Paths made one programme at a time and joined lack the measures only another programme uses (missing,
    not False): the funnel reads those as not paired on it, the same funnel as the path made at once."""
    from evalkit.engagement import paired_on_columns

    res = _outcomes(12)
    path = participant_path(res.data, rules=res.rules)
    column = paired_on_columns(path)[0]
    first = path["programme_id"] == path["programme_id"].iloc[0]
    joined = pd.concat([path[first].drop(columns=column), path[~first]], ignore_index=True)
    assert joined[column].isna().any()
    expected = path.assign(**{column: path[column].where(~first, False)})
    pd.testing.assert_frame_equal(take_up_funnel(joined, rules=res.rules),
                                  take_up_funnel(expected.reset_index(drop=True), rules=res.rules))
