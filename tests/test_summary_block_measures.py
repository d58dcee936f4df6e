"""A summary worked out programme block by programme block lets go of each block's measures once its episodes are
prepared, and does not keep the scored measures, unless the rules ask for a sample reliability.

The scored measures share their columns with the block's copy of the measures (at a million participants of issue
#8's volume a programme's are about 0.35 GB); once the episodes are prepared only a sample reliability reads them.
The summary is the same.
"""

from __future__ import annotations

import gc
import weakref

import pandas as pd
import pytest
from conftest import buffer_ref

import evalkit.episodes as episodes
import evalkit.summary as summary_module
from evalkit.data_source import example_tables
from evalkit.rules import PairingRules
from evalkit.summary import build_summary

CREATED = "2026-01-01T00:00:00Z"



def _measures_alive_at_the_change(monkeypatch: pytest.MonkeyPatch, rules: PairingRules) -> list[tuple[bool, int]]:
    """For each block: (its measures' numbers still referenced when its change is worked out, rows of the scored
    measures its episodes keep)."""
    refs: list[weakref.ref] = []
    seen: list[tuple[bool, int]] = []
    real_prepare, real_changes = episodes.prepare_episodes, summary_module._changes_by_programme

    def prepare(tables, **kwargs):  # noqa: ANN001, ANN202
        refs.append(buffer_ref(tables["measures"]["item_1"]))
        return real_prepare(tables, **kwargs)

    def changes(data, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        gc.collect()
        seen.append((refs[-1]() is not None, len(data.scored_measures)))
        return real_changes(data, *args, **kwargs)

    monkeypatch.setattr(summary_module, "BLOCK_ROWS", 1)  # a block per programme, each its own copy
    monkeypatch.setattr(episodes, "prepare_episodes", prepare)
    monkeypatch.setattr(summary_module, "_changes_by_programme", changes)
    build_summary(example_tables(), rules=rules, created_at=CREATED)
    return seen


def test_blocks_let_go_of_their_measures() -> None:
    with pytest.MonkeyPatch.context() as m:
        seen = _measures_alive_at_the_change(m, PairingRules())
    assert len(seen) > 1 and all(not alive and rows == 0 for alive, rows in seen)


def test_blocks_keep_them_for_a_sample_reliability() -> None:
    with pytest.MonkeyPatch.context() as m:
        seen = _measures_alive_at_the_change(m, PairingRules(reliability_source="sample"))
    assert len(seen) > 1 and all(alive and rows > 0 for alive, rows in seen)


@pytest.mark.parametrize("rules", [PairingRules(), PairingRules(reliability_source="sample")])
@pytest.mark.parametrize("block_rows", [1, summary_module.BLOCK_ROWS])
def test_the_summary_is_the_same(monkeypatch: pytest.MonkeyPatch, rules: PairingRules, block_rows: int) -> None:
    monkeypatch.setattr(summary_module, "BLOCK_ROWS", block_rows)
    got = build_summary(example_tables(), rules=rules, created_at=CREATED)
    real = episodes.prepare_episodes

    def keeping(tables, **kwargs):  # noqa: ANN001, ANN202
        kwargs.pop("keep_scored_measures", None)
        return real(tables, **kwargs)

    monkeypatch.setattr(episodes, "prepare_episodes", keeping)
    want = build_summary(example_tables(), rules=rules, created_at=CREATED)
    pd.testing.assert_frame_equal(got.programmes, want.programmes)
    pd.testing.assert_frame_equal(got.results, want.results)
    assert got.data_hash == want.data_hash
