"""build_summary given the tables' prepared episodes equals build_summary preparing them itself.

The dashboard hands :func:`evalkit.summary.build_summary` the episodes it has already prepared for its other
pages (``episodes=``). The summary must be the same as without them, the episodes must really be used (not
prepared again) when the summary covers every row in one pass, be prepared again when it does not (a programme
chosen, programme by programme), and episodes prepared under other rules, with another instrument registry or
from other tables must be refused.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import evalkit.episodes
import evalkit.summary as summary_module
from evalkit.data_source import example_tables
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.instruments import builtin_instruments
from evalkit.rules import PairingRules
from evalkit.summary import Summary, build_summary

WHEN = "2026-01-01T00:00:00Z"
RULES = [PairingRules(), PairingRules(reliability_source="sample", endpoint_rule="window", min_dose=3)]


def _same(a: Summary, b: Summary) -> None:
    for part in ("programmes", "results"):
        pd.testing.assert_frame_equal(getattr(a, part), getattr(b, part), check_exact=True)
        assert getattr(a, part).attrs == getattr(b, part).attrs
    assert json.dumps(a.to_dict(), sort_keys=True, default=str) == json.dumps(b.to_dict(), sort_keys=True, default=str)


def _tables(case: str) -> dict[str, pd.DataFrame]:
    return dict(example_tables()) if case == "example" else dict(generate_programmes(1_500, seed=11).tables)


@pytest.fixture
def prepared(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of prepare_episodes (the summary imports it when it runs)."""
    calls: list[int] = []
    prepare = evalkit.episodes.prepare_episodes

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return prepare(*args, **kwargs)

    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", counting)
    return calls


@pytest.mark.parametrize("case", ["example", "generated"])
@pytest.mark.parametrize("rules", RULES, ids=["default", "sample_window"])
def test_given_episodes_give_the_same_summary_and_are_not_prepared_again(case: str, rules: PairingRules,
                                                                         prepared: list[int]) -> None:
    tables = _tables(case)
    episodes = prepare_episodes(tables, rules=rules)
    own = build_summary(tables, rules=rules, created_at=WHEN)
    prepared.clear()
    given = build_summary(tables, rules=rules, created_at=WHEN, episodes=episodes)
    assert prepared == []  # the episodes given were used
    _same(given, own)


@pytest.mark.parametrize("split", ["programme", "blocks"])
def test_episodes_of_other_rows_are_prepared_again(split: str, prepared: list[int],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """One programme chosen, or every programme a block of its own: the episodes of all rows do not fit, the
    summary prepares its own and equals the one made without episodes."""
    tables = _tables("generated")
    episodes = prepare_episodes(tables)
    kwargs = {}
    if split == "programme":
        kwargs["programme"] = sorted(tables["programmes"]["programme_id"].astype(str))[1]
    else:
        monkeypatch.setattr(summary_module, "BLOCK_ROWS", 1)
    own = build_summary(tables, created_at=WHEN, **kwargs)
    prepared.clear()
    given = build_summary(tables, created_at=WHEN, episodes=episodes, **kwargs)
    assert prepared  # prepared again from the rows summarised
    _same(given, own)


def test_episodes_with_other_rules_are_refused() -> None:
    tables = _tables("example")
    episodes = prepare_episodes(tables, rules=PairingRules(min_dose=3))
    with pytest.raises(ValueError, match="other rules"):
        build_summary(tables, episodes=episodes)
    with pytest.raises(ValueError, match="other rules"):
        build_summary(tables, rules=PairingRules(min_dose=2), episodes=episodes)


def test_episodes_with_another_instrument_registry_are_refused() -> None:
    tables = _tables("example")
    only_epds = {"epds": builtin_instruments()["epds"]}
    with pytest.raises(ValueError, match="another instrument registry"):
        build_summary(tables, episodes=prepare_episodes(tables, instruments=only_epds))
    with pytest.raises(ValueError, match="another instrument registry"):
        build_summary(tables, instruments=only_epds, episodes=prepare_episodes(tables))
    # the same registry, given or not, is accepted
    same = build_summary(tables, instruments=only_epds, episodes=prepare_episodes(tables, instruments=only_epds),
                         created_at=WHEN)
    _same(same, build_summary(tables, instruments=only_epds, created_at=WHEN))


def test_episodes_of_other_tables_are_refused() -> None:
    tables = _tables("example")
    fewer = dict(tables, participants=tables["participants"].iloc[1:])
    with pytest.raises(ValueError, match="prepared from other tables"):
        build_summary(tables, episodes=prepare_episodes(fewer))
    with pytest.raises(ValueError, match="must be an EpisodeData"):
        build_summary(tables, episodes=tables)
