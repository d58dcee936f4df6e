"""A summary worked out programme block by programme block lets go of each block's contacts once read.

Each block's tables are its own copies of the programmes' rows; ``prepare_episodes(release_contacts=True)``
takes the contacts out once the attended contacts are read (at a million participants a programme's are about
0.3 GB), and the summary is the same.
"""

from __future__ import annotations

import pandas as pd
import pytest

import evalkit.episodes as episodes
import evalkit.summary as summary_module
from evalkit.data_source import example_tables
from evalkit.summary import build_summary


def _spied(monkeypatch: pytest.MonkeyPatch, force: bool | None) -> list[tuple[bool, bool]]:
    """Calls of prepare_episodes: (release_contacts asked, contacts still in the dict after the call)."""
    calls: list[tuple[bool, bool]] = []
    real = episodes.prepare_episodes

    def spy(tables, **kwargs):  # noqa: ANN001, ANN202
        if force is not None:
            kwargs["release_contacts"] = force
        out = real(tables, **kwargs)
        calls.append((bool(kwargs.get("release_contacts")), "contacts" in tables))
        return out

    monkeypatch.setattr(episodes, "prepare_episodes", spy)
    return calls


@pytest.mark.parametrize("block_rows", [1, summary_module.BLOCK_ROWS])
def test_blocks_let_go_of_their_contacts_and_the_summary_is_the_same(monkeypatch: pytest.MonkeyPatch,
                                                                     block_rows: int) -> None:
    monkeypatch.setattr(summary_module, "BLOCK_ROWS", block_rows)
    with monkeypatch.context() as m:
        held_calls = _spied(m, force=False)
        held = build_summary(example_tables(), created_at="2026-01-01T00:00:00Z")
    released_calls = _spied(monkeypatch, force=None)
    released = build_summary(example_tables(), created_at="2026-01-01T00:00:00Z")
    assert released_calls and all(asked and not left for asked, left in released_calls)
    assert all(left for _, left in held_calls)
    if block_rows == 1:
        assert len(released_calls) > 1  # one block per programme
    pd.testing.assert_frame_equal(released.programmes, held.programmes)
    pd.testing.assert_frame_equal(released.results, held.results)
    assert released.data_hash == held.data_hash
