"""``prepare_episodes(keep_attended=False)``: everything but the attended contacts, as with them.

evalkit's own analyses prepare episodes without the attended contacts (about 400 MB at a million participants of
issue #8's volume, read by none of them); their results must be those of the episodes prepared with them.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest

from evalkit.episodes import build_episodes, prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes
from evalkit.rules import PairingRules

_FRAMES = ("episodes", "scores", "scored_measures", "participants")


def _tables(n: int, seed: int) -> dict[str, pd.DataFrame]:
    return dict(generate_programmes(n, seed=seed).tables)


def _no_group_session_ids(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {**t, "contacts": t["contacts"].drop(columns="group_session_id")}


def _contacts_at_times_of_day(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every third contact at 10:30 (a score's day finds no group session then)."""
    c = t["contacts"].copy()
    c.loc[c.index[::3], "contact_date"] = c["contact_date"].iloc[::3] + pd.Timedelta(hours=10, minutes=30)
    return {**t, "contacts": c}


def _no_contacts(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {k: v for k, v in t.items() if k != "contacts"}


def _assert_same_but_attended(lean, kept) -> None:  # noqa: ANN001 - two EpisodeData
    assert lean.attended is None
    assert isinstance(kept.attended, pd.DataFrame)
    for name in _FRAMES:
        got, want = getattr(lean, name), getattr(kept, name)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert got.attrs == want.attrs, name
    assert lean.rules == kept.rules and lean.instruments is kept.instruments


@pytest.mark.parametrize("variant", [lambda t: t, _no_group_session_ids, _contacts_at_times_of_day, _no_contacts],
                         ids=["generated", "no_group_session_ids", "times_of_day", "no_contacts"])
@pytest.mark.parametrize(("n", "seed"), [(150, 0), (300, 7), (600, 21)])
def test_episode_data_without_attended_is_the_same(n: int, seed: int,
                                                   variant: Callable[[dict], dict]) -> None:
    tables = variant(_tables(n, seed))
    kept = prepare_episodes(tables)
    _assert_same_but_attended(prepare_episodes(tables, keep_attended=False), kept)
    if variant.__name__ == "<lambda>":  # the group-session look-up of the score series is exercised
        assert kept.scores["group_session_id"].notna().any()


@pytest.mark.parametrize("rules", [PairingRules(min_dose=0), PairingRules(endpoint_rule="window", min_dose=4)])
def test_episode_data_without_attended_is_the_same_under_other_rules(rules: PairingRules) -> None:
    tables = _tables(400, 3)
    _assert_same_but_attended(prepare_episodes(tables, rules=rules, keep_attended=False),
                              prepare_episodes(tables, rules=rules))


def test_the_library_prepares_without_attended_and_gives_the_same_results() -> None:
    tables = _tables(300, 5)
    kept = prepare_episodes(tables)
    mine = evaluate_outcomes(tables, models=False)
    assert mine.data.attended is None
    theirs = evaluate_outcomes(kept, models=False)
    for name in ("changes", "summary", "dose_sensitivity", "talking_therapies", "recovery", "parameters"):
        pd.testing.assert_frame_equal(getattr(mine, name), getattr(theirs, name), check_exact=True)
    pd.testing.assert_frame_equal(build_episodes(tables), kept.episodes, check_exact=True)
