"""For whom: every engaged mother is counted in her level, so the levels' n_engaged add up to the programme's.

Before, change_statistics made a row only for the groups that had episodes, and joined the engaged counts to
them: an engaged mother with no episode on an instrument, in a level where no one else had one either, was in
no level. Generator seed 2 (150 participants), P-PHONE GAD-7 by ethnicity group: the programme has 21 engaged
mothers, its levels added up to 20 (the one engaged mother of ethnic group 'other' has no GAD-7 episode and
her level had no row).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.categorical_text import categories_as_text
from evalkit.change import episode_change
from evalkit.disclosure import hidden_mask
from evalkit.episodes import engaged_mask, prepare_episodes
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import BREAKDOWN_FIELDS, outcomes_by
from evalkit.generator import generate_programmes
from evalkit.instruments import builtin_instruments
from evalkit.outcomes import change_statistics, evaluate_outcomes
from evalkit.rules import PairingRules

RULES = PairingRules()
KEYS = ["programme_id", "instrument"]


@pytest.fixture(scope="module")
def seed2():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        tables = generate_programmes(150, seed=2).tables
        data = prepare_episodes(tables, rules=RULES, instruments=builtin_instruments())
        changes = episode_change(data.episodes, rules=RULES, instruments=builtin_instruments(),
                                 scored_measures=data.scored_measures)
        result = evaluate_outcomes(data, models=False)
    return data, changes, result


def _engaged_by_level(participants: pd.DataFrame, programme: str, field: str) -> pd.Series:
    """Engaged mothers of one programme per level of a field, counted from the participants themselves."""
    p = participants[engaged_mask(participants, RULES.min_dose) & (participants["programme_id"] == programme)]
    return categories_as_text(p, [field])[field].value_counts()


def test_seed2_phone_gad7_levels_count_every_engaged_mother(seed2) -> None:
    data, changes, _ = seed2
    top = change_statistics(changes, by=KEYS, rules=RULES, participants=data.participants)
    top = top.set_index(KEYS).loc[("P-PHONE", "gad7")]
    levels = change_statistics(changes, by=[*KEYS, "ethnicity_group"], rules=RULES, participants=data.participants)
    lv = levels[(levels["programme_id"] == "P-PHONE") & (levels["instrument"] == "gad7")].set_index("ethnicity_group")
    assert top["n_engaged"] == 21
    assert lv["n_engaged"].sum() == 21  # was 20: the 'other' level had no row
    assert lv["n_engaged_no_score"].sum() == top["n_engaged_no_score"]
    # each level counts its engaged mothers, as counted from the participants
    want = _engaged_by_level(data.participants, "P-PHONE", "ethnicity_group")
    assert lv["n_engaged"].to_dict() == want[want > 0].to_dict()
    # the level with no GAD-7 episode: its engaged mother, nothing paired, as a programme row would show it
    other = lv.loc["other"]
    assert (other["n_engaged"], other["n_engaged_no_score"], other["n_episodes"], other["n_paired"]) == (1, 1, 0, 0)
    assert other["completeness"] == 0 and np.isnan(other["mean_change"])
    assert other["role"] == top["role"] and other["rc_threshold"] == top["rc_threshold"]
    assert other["n_caseness_baseline"] == 0  # GAD-7 has a caseness cut-off: none of none paired


def test_seed2_new_level_row_is_disclosure_controlled(seed2) -> None:
    _, _, result = seed2
    brk = outcomes_by(result, "ethnicity_group")
    g = brk[(brk["programme_id"] == "P-PHONE") & (brk["instrument"] == "gad7")].set_index("ethnicity_group")
    assert "other" in g.index
    assert hidden_mask(g.loc[["other"]].reset_index(), "n_engaged").all()  # 1 mother: a small count
    # the programme's published totals cannot give back a hidden level by subtraction: where the summary
    # publishes a count, its levels are either all published or at least two of them hidden
    summary = result.summary.set_index(KEYS).loc[("P-PHONE", "gad7")]
    counts = [c for c in ("n_engaged", "n_engaged_no_score", "n_paired", "n_episodes") if c in g.columns]
    for c in counts:
        if pd.notna(summary[c]):
            assert hidden_mask(g.reset_index(), c).sum() != 1, (c, g[c])
    # with nothing suppressed the levels add up to the summary's engaged count
    open_brk = outcomes_by(result, "ethnicity_group", rules=PairingRules(suppression_threshold=1))
    total = open_brk.groupby(KEYS)["n_engaged"].sum()
    want = result.summary.set_index(KEYS)["n_engaged"].reindex(total.index)
    assert (total == want).all(), pd.concat([total, want], axis=1)[total != want]


@settings(max_examples=30, deadline=None)
@given(field=st.sampled_from(BREAKDOWN_FIELDS), drop_seed=st.integers(0, 2**32 - 1),
       drop_share=st.floats(0, 0.9), pooled=st.booleans())
def test_levels_engaged_add_up_to_the_programme(seed2, field: str, drop_seed: int, drop_share: float,
                                                 pooled: bool) -> None:
    # any breakdown field, with any share of the episodes taken away (so that engaged mothers are left with
    # no episode on an instrument, whole levels among them): before suppression, the levels' n_engaged and
    # n_engaged_no_score add up, per instrument, to the table above them
    data, changes, _ = seed2
    keep = np.random.default_rng(drop_seed).random(len(changes)) >= drop_share
    ch = changes[keep]
    if ch.empty:
        return
    keys = ["instrument"] if pooled else KEYS
    top = change_statistics(ch, by=keys, rules=RULES, participants=data.participants).set_index(keys)
    levels = change_statistics(ch, by=[*keys, field], rules=RULES, participants=data.participants)
    for c in ("n_engaged", "n_engaged_no_score"):
        summed = levels.groupby(keys)[c].sum().reindex(top.index)
        assert summed.tolist() == top[c].tolist(), (c, field)
    # every count of a level row is a whole number of people, the partition of the engaged holds
    parts = levels[["n_paired", *[c for c in levels.columns if c.startswith("n_unpaired_") and
                                  c != "n_unpaired_with_baseline"], "n_engaged_no_score"]].sum(axis=1)
    assert (parts == levels["n_engaged"]).all()
