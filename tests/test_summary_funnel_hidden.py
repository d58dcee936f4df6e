"""The summary's shortcut to the funnel's hidden steps (``_funnel_steps_hidden``) marks exactly the step counts
that ``take_up_funnel`` lists as ``n`` in ``suppressed``, group by group."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import funnel_path, funnel_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.data_source import example_tables
from evalkit.engagement import FUNNEL_STEPS, _funnel_steps_hidden, participant_path, take_up_funnel
from evalkit.rules import PairingRules

STEPS = list(FUNNEL_STEPS)
RULES = [PairingRules(), PairingRules(suppression_threshold=1), PairingRules(suppression_threshold=5),
         PairingRules(rounding_base=5), PairingRules(show_zero=False)]


def _hidden_in_funnel_table(path: pd.DataFrame, by: list[str], rules: PairingRules) -> pd.DataFrame:
    """The general path: take_up_funnel's table, its 'n' in suppressed, one row per group and a column per step."""
    f = take_up_funnel(path, by=by, rules=rules)
    hidden = ("; " + f["suppressed"].astype("string").fillna("") + "; ").str.contains("; n; ", regex=False)
    f = f.assign(_n=hidden.to_numpy(dtype=bool), _g=0 if not by else None)
    keys = by if by else ["_g"]
    wide = f.pivot_table(index=keys, columns="step", values="_n", aggfunc="first", sort=False)
    wide = wide[STEPS].astype(bool).reset_index()
    if not by:
        wide = wide.drop(columns="_g")
    wide.columns.name = None
    return wide


def _check(path: pd.DataFrame, by: list[str], rules: PairingRules) -> None:
    got = _funnel_steps_hidden(path, by=by, rules=rules)
    want = _hidden_in_funnel_table(path, by, rules)
    got = got.assign(**{k: got[k].astype(str) for k in by})
    want = want.assign(**{k: want[k].astype(str) for k in by})
    pd.testing.assert_frame_equal(got, want, check_dtype=False)


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("by", [["programme_id"], []])
def test_hidden_steps_are_the_funnels_on_the_example_data(by: list[str], rules: PairingRules) -> None:
    _check(participant_path(example_tables(), rules=rules), by, rules)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["A", "B", "C", "D"]), funnel_people(30), min_size=1, max_size=4),
       st.sampled_from(RULES), st.sampled_from([["programme_id"], []]))
def test_hidden_steps_are_the_funnels_on_any_path(groups: dict, rules: PairingRules, by: list[str]) -> None:
    _check(funnel_path(groups), by, rules)
