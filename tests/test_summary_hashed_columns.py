"""A summary lets go of the columns it reads only for its data hash (the contacts' peer supporter ids) once it has
hashed the tables, and is the same.

At a million participants of issue #8's volume the peer supporter ids are 264 MB, held beside every programme
block when ``evalkit summary`` hands its tables over. A caller that keeps its tables keeps them whole.
"""

from __future__ import annotations

import pandas as pd
import pytest

import evalkit.episodes as episodes
import evalkit.summary as summary_module
from evalkit.data_source import example_tables
from evalkit.summary import build_summary, data_hash

CREATED = "2026-01-01T00:00:00Z"


def _contacts_columns_prepared(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    real = episodes.prepare_episodes

    def spy(tables, **kwargs):  # noqa: ANN001, ANN202
        seen.append(list(tables["contacts"].columns))
        return real(tables, **kwargs)

    monkeypatch.setattr(episodes, "prepare_episodes", spy)
    return seen


@pytest.mark.parametrize("block_rows", [1, summary_module.BLOCK_ROWS])
def test_peer_supporter_ids_hashed_then_let_go(monkeypatch: pytest.MonkeyPatch, block_rows: int) -> None:
    monkeypatch.setattr(summary_module, "BLOCK_ROWS", block_rows)
    assert "peer_supporter_id" in example_tables()["contacts"].columns
    seen = _contacts_columns_prepared(monkeypatch)
    got = build_summary(example_tables(), created_at=CREATED)
    assert seen and all("peer_supporter_id" not in cols for cols in seen)
    assert got.data_hash == data_hash(example_tables())


def test_the_summary_is_the_same_as_with_the_ids() -> None:
    got = build_summary(example_tables(), created_at=CREATED)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(summary_module, "_HASHED_ONLY", {})
        want = build_summary(example_tables(), created_at=CREATED)
    pd.testing.assert_frame_equal(got.programmes, want.programmes)
    pd.testing.assert_frame_equal(got.results, want.results)
    assert got.data_hash == want.data_hash


def test_a_caller_that_keeps_its_tables_keeps_them_whole() -> None:
    tables = example_tables()
    before = {k: v.copy() for k, v in tables.items()}
    build_summary(tables, created_at=CREATED)
    assert list(tables) == list(before)
    for k, v in before.items():
        pd.testing.assert_frame_equal(tables[k], v)


def test_the_command_hands_its_tables_over(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # noqa: ANN001
    """``evalkit summary`` keeps no reference to the tables it loaded, so what the summary lets go of is freed."""
    import gc
    import weakref

    import evalkit.data_source as data_source
    from evalkit.cli import main

    refs: list[weakref.ref] = []
    alive: list[bool] = []

    def load(**kwargs):  # noqa: ANN003, ANN202
        tables = example_tables()
        refs.append(weakref.ref(tables["contacts"]))
        return tables

    real = summary_module._figures

    def figures(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        gc.collect()
        alive.append(refs[0]() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(data_source, "load_tables", load)
    monkeypatch.setattr(summary_module, "_figures", figures)
    assert main(["summary", "--db", str(tmp_path / "unused.sqlite"), "-o", str(tmp_path / "s.json")]) == 0
    assert alive == [False]
