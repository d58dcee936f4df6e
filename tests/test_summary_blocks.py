"""build_summary works one programme at a time when that gives the figures of all programmes at once.

:func:`evalkit.summary._figures` splits the tables by programme (:func:`evalkit.summary._programme_blocks`)
to keep memory low at national scale; the summary must equal the one worked out from all the rows at once
(``_programme_blocks`` returning None), and unvalidated tables where a row carries another programme than its
participant's must not be split.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

import evalkit.summary as summary_module
from evalkit.data_source import example_tables
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules
from evalkit.summary import _programme_blocks, build_summary


def _text(tables: dict[str, pd.DataFrame], rules: PairingRules) -> str:
    s = build_summary(tables, rules=rules, created_at="2026-01-01T00:00:00Z")
    return json.dumps(s.to_dict(), sort_keys=True, default=str)


def _all_at_once(tables: dict[str, pd.DataFrame], rules: PairingRules, monkeypatch: pytest.MonkeyPatch) -> str:
    with monkeypatch.context() as m:
        m.setattr(summary_module, "_programme_blocks", lambda tables, ids: None)
        return _text(tables, rules)


def _generated() -> dict[str, pd.DataFrame]:
    return dict(generate_programmes(2_000, seed=3).tables)


def _without(tables: dict[str, pd.DataFrame], name: str, which: int) -> dict[str, pd.DataFrame]:
    """The tables with the ``name`` rows of the ``which``-th programme (in id order) removed."""
    pid = sorted(tables["programmes"]["programme_id"].astype(str))[which]
    out = dict(tables)
    out[name] = tables[name][(tables[name]["programme_id"].astype(str) != pid).to_numpy()]
    return out


@pytest.mark.parametrize("case", ["example", "generated", "no_measures", "no_contacts", "no_participants"])
@pytest.mark.parametrize("rules", [PairingRules(), PairingRules(reliability_source="sample", endpoint_rule="window",
                                                                min_dose=3)], ids=["default", "sample_window"])
def test_per_programme_equals_all_at_once(case: str, rules: PairingRules, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(summary_module, "BLOCK_ROWS", 1)  # every programme a block of its own
    if case == "example":
        tables = example_tables()
    else:
        tables = _generated()
        if case != "generated":
            tables = _without(tables, {"no_measures": "measures", "no_contacts": "contacts",
                                       "no_participants": "participants"}[case], 1)
    ids = tables["programmes"]["programme_id"].astype(str).tolist()
    blocks = _programme_blocks(tables, ids)
    assert blocks is not None and len(blocks) >= 2 and all(len(b) == 1 for b in blocks)  # the split is used
    assert _text(tables, rules) == _all_at_once(tables, rules, monkeypatch)


@pytest.mark.parametrize("budget", [1, 10_000, 10**9])
def test_blocks_of_several_programmes_equal_all_at_once(budget: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Programmes packed into blocks by row count (BLOCK_ROWS): any packing gives the same summary."""
    tables = _generated()
    ids = tables["programmes"]["programme_id"].astype(str).tolist()
    monkeypatch.setattr(summary_module, "BLOCK_ROWS", budget)
    blocks = _programme_blocks(tables, ids)
    with_participants = set(tables["participants"]["programme_id"].astype(str))
    assert blocks is not None and sum(blocks, []) == sorted(p for p in ids if p in with_participants)
    if budget == 1:
        assert all(len(b) == 1 for b in blocks)
    if budget == 10**9:
        assert len(blocks) == 1  # small tables: one pass
    assert _text(tables, PairingRules()) == _all_at_once(tables, PairingRules(), monkeypatch)


def test_rows_of_another_programme_are_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    tables = _generated()
    ids = sorted(tables["programmes"]["programme_id"].astype(str))
    m = tables["measures"].copy()
    first = str(m["programme_id"].iloc[0])
    m.loc[m.index[0], "programme_id"] = ids[1] if first == ids[0] else ids[0]
    tables["measures"] = m
    assert _programme_blocks(tables, ids) is None
    p = tables["participants"].copy()
    tables = {**tables, "measures": _generated()["measures"],
              "participants": pd.concat([p, p.iloc[:1].assign(programme_id=ids[1] if str(p["programme_id"].iloc[0])
                                                                 == ids[0] else ids[0])], ignore_index=True)}
    assert _programme_blocks(tables, ids) is None  # a participant id in two programmes
    assert _text(tables, PairingRules()) == _all_at_once(tables, PairingRules(), monkeypatch)
