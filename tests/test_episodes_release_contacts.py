"""``prepare_episodes(release_contacts=True)`` lets go of the contacts once read, and prepares the same episodes.

At a million participants of issue #8's volume the contacts hold about 1.3 GB; ``evalkit outcomes`` and
``evalkit report`` hand their tables over so that the contacts are not held while the scores and episodes are
built.
"""

from __future__ import annotations

import gc

import pandas as pd
import pytest
from conftest import buffer_ref

import evalkit.episodes as episodes
from evalkit.data_source import example_tables
from evalkit.episodes import prepare_episodes

FRAMES = ("episodes", "scores", "scored_measures", "participants")



@pytest.mark.parametrize("keep_attended", [False, True])
def test_same_episodes_and_the_contacts_taken_out(keep_attended: bool) -> None:
    kept = prepare_episodes(example_tables(), keep_attended=keep_attended)
    given = example_tables()
    released = prepare_episodes(given, keep_attended=keep_attended, release_contacts=True)
    assert "contacts" not in given and {"participants", "measures"} <= set(given)
    for name in FRAMES:
        pd.testing.assert_frame_equal(getattr(released, name), getattr(kept, name), check_exact=True, obj=name)
    if keep_attended:
        pd.testing.assert_frame_equal(released.attended, kept.attended, check_exact=True)
    else:
        assert released.attended is None


def _contacts_alive_at_the_scores(monkeypatch: pytest.MonkeyPatch, **kwargs: bool) -> bool:
    """Whether the handed-over contacts' numbers are still referenced when the scores are built."""
    box = [example_tables()]
    ref = buffer_ref(box[0]["contacts"]["duration_minutes"])
    seen: dict[str, bool] = {}
    real = episodes._scored

    def spy(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        gc.collect()
        seen.setdefault("alive", ref() is not None)
        return real(*args, **kw)

    monkeypatch.setattr(episodes, "_scored", spy)
    prepare_episodes(box.pop(), keep_attended=False, **kwargs)
    return seen["alive"]


def test_the_contacts_are_let_go_before_the_scores(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _contacts_alive_at_the_scores(monkeypatch, release_contacts=True)


def test_the_contacts_are_held_without_release(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _contacts_alive_at_the_scores(monkeypatch)


def test_release_needs_a_dict() -> None:
    from types import MappingProxyType

    with pytest.raises(ValueError, match="release_contacts needs the tables as a dict"):
        prepare_episodes(MappingProxyType(example_tables()), release_contacts=True)
