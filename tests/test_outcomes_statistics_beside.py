"""change_statistics puts each group's paired statistics, adjusted change and attrition test beside its counts
by group number; the frame is the one the left joins on the group keys give (values, order and dtypes)."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from evalkit import outcomes
from evalkit.categorical_text import categories_as_text
from evalkit.change import episode_change
from evalkit.episodes import prepare_episodes
from evalkit.errors import EvalkitWarning
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules

RULES = PairingRules()


@pytest.fixture(scope="module")
def prepared():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        data = prepare_episodes(generate_programmes(150, seed=2).tables, rules=RULES)
    return data, episode_change(data.episodes, rules=RULES)


@pytest.mark.parametrize("by", [["programme_id", "instrument"], ["instrument"],
                                ["programme_id", "instrument", "ethnicity_group"],
                                ["programme_id", "instrument", "perinatal_stage"]])
@pytest.mark.parametrize("with_participants", [True, False])
def test_statistics_by_position_are_the_left_joins(prepared, monkeypatch, by, with_participants) -> None:
    data, changes = prepared
    participants = data.participants if with_participants else None
    if any(k not in changes.columns for k in by):
        pytest.skip(f"no {by} in the episodes")
    got = outcomes.change_statistics(changes, by=by, rules=RULES, participants=participants)
    monkeypatch.setattr(outcomes, "_beside_groups", outcomes._left_joins)
    want = outcomes.change_statistics(changes, by=by, rules=RULES, participants=participants)
    assert got["n_paired"].sum() > 0 and got["adj_mean_change"].notna().any() and got["attrition_t"].notna().any()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs


@pytest.mark.parametrize("by", [["programme_id", "instrument"], ["instrument"],
                                ["programme_id", "instrument", "ethnicity_group"],
                                ["programme_id", "instrument", "perinatal_stage"]])
def test_adjusted_change_and_attrition_are_those_of_their_functions(prepared, by) -> None:
    """change_statistics numbers the paired episodes and those with a baseline by its own groups: each group's
    adjusted change and attrition test are the ones adjusted_change and attrition_check give for it."""
    _, changes = prepared
    if any(k not in changes.columns for k in by):
        pytest.skip(f"no {by} in the episodes")
    got = outcomes.change_statistics(changes, by=by, rules=RULES)
    ch = categories_as_text(changes, by)
    adj = outcomes.adjusted_change(ch, by=by, level=RULES.level).drop(columns=["adj_n"])
    att = outcomes.attrition_check(ch, by=by)[[*by, "baseline_mean_unpaired", "attrition_diff", "attrition_t",
                                               "attrition_p"]]
    for table in (adj, att):
        cols = [c for c in table.columns if c not in by]
        want = got[by].astype(object).merge(table.astype({k: object for k in by}), on=by, how="left")
        assert want[cols].notna().any().all()
        pd.testing.assert_frame_equal(got[cols], want[cols], check_exact=True)


@pytest.mark.parametrize("by", [["programme_id", "instrument"], ["instrument"],
                                ["programme_id", "instrument", "ethnicity_group"],
                                ["programme_id", "instrument", "perinatal_stage"]])
def test_engaged_counts_by_position_are_the_merge(prepared, monkeypatch, by) -> None:
    """The engaged counts are put beside their groups by the keys' codes: the frame the merge gives."""
    data, changes = prepared
    if any(k not in changes.columns for k in by):
        pytest.skip(f"no {by} in the episodes")
    placed = []
    real = outcomes._with_engaged
    monkeypatch.setattr(outcomes, "_with_engaged", lambda out, eng, by_: placed.append(
        all(out[k].dtype == eng[k].dtype for k in by_)) or real(out, eng, by_))
    got = outcomes.change_statistics(changes, by=by, rules=RULES, participants=data.participants)
    assert placed == [True]  # by position, not by the merge
    monkeypatch.setattr(outcomes, "_with_engaged", outcomes._with_engaged_merged)
    want = outcomes.change_statistics(changes, by=by, rules=RULES, participants=data.participants)
    assert (got["n_engaged"] > got["n_engaged_no_score"]).any() and (got["n_engaged_no_score"] > 0).any()
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.attrs == want.attrs
