"""``prepare_episodes(keep_scored_measures=False)`` lets go of the scored measures, and prepares the same episodes.

The scored measures share their columns with the measures (at a million participants of issue #8's volume about
1.4 GB); of evalkit's analyses only a sample reliability (Cronbach's alpha) reads them once the episodes are
prepared, so the report and the summary prepare without them unless the rules ask for it.
"""

from __future__ import annotations

import gc

import pandas as pd
import pytest
from conftest import buffer_ref

from evalkit.data_source import example_tables
from evalkit.episodes import prepare_episodes
from evalkit.rules import PairingRules

FRAMES = ("episodes", "scores", "participants")



@pytest.mark.parametrize("release_contacts", [False, True])
def test_same_episodes_and_an_empty_frame_of_the_same_columns(release_contacts: bool) -> None:
    kept = prepare_episodes(example_tables(), keep_attended=False)
    without = prepare_episodes(example_tables(), keep_attended=False, keep_scored_measures=False,
                               release_contacts=release_contacts)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(without, name), getattr(kept, name), check_exact=True, obj=name)
    assert len(kept.scored_measures) and not len(without.scored_measures)
    pd.testing.assert_series_equal(without.scored_measures.dtypes, kept.scored_measures.dtypes)
    assert without.rules == kept.rules


def test_kept_by_default() -> None:
    data = prepare_episodes(example_tables(), keep_attended=False, keep_scored_measures=True)
    assert len(data.scored_measures) == len(example_tables()["measures"])


def _measures_alive(**kwargs: bool) -> bool:
    """Whether the handed-over measures' numbers are still referenced by the prepared episodes."""
    box = [example_tables()]
    ref = buffer_ref(box[0]["measures"]["item_1"])
    data = prepare_episodes(box.pop(), keep_attended=False, **kwargs)
    gc.collect()
    alive = ref() is not None
    del data
    return alive


def test_the_measures_are_let_go() -> None:
    assert not _measures_alive(keep_scored_measures=False)


def test_the_measures_are_held_in_the_scored_measures_by_default() -> None:
    assert _measures_alive()


def test_a_sample_reliability_needs_them() -> None:
    with pytest.raises(ValueError, match="sample reliability"):
        prepare_episodes(example_tables(), rules=PairingRules(reliability_source="sample"),
                         keep_scored_measures=False)


def test_the_rules_say_when_a_sample_reliability_reads_them() -> None:
    assert PairingRules(reliability_source="sample").sample_reliability
    assert not PairingRules().sample_reliability


@pytest.mark.parametrize("argv", [["outcomes", "--example", "--no-models", "--format", "json"],
                                  ["mechanisms", "--example", "--what", "cmo", "--format", "json"]])
def test_the_commands_prepare_without_them(argv: list[str], monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """``evalkit outcomes`` and ``evalkit mechanisms --what cmo`` (whose rules never ask for a sample reliability)
    prepare the episodes without the scored measures, as ``evalkit report`` does."""
    import evalkit.episodes
    from evalkit.cli import main

    asked: list[bool] = []

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        asked.append(kwargs.get("keep_scored_measures", True))
        return prepare_episodes(*args, **kwargs)

    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", recording)
    assert main(argv) == 0
    capsys.readouterr()
    assert asked == [False]
