"""Zero rows: disclosure control and the outputs built on it work on an empty store (audit finding 4)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from evalkit.disclosure import Across, Partition, apply_disclosure


def test_apply_disclosure_zero_rows_multi_key_across() -> None:
    f = pd.DataFrame({"programme_id": pd.Series(dtype="string"), "step": pd.Series(dtype="string"),
                      "n": pd.Series(dtype="int64"), "n_left": pd.Series(dtype="int64"),
                      "is_total": pd.Series(dtype=bool), "pct": pd.Series(dtype=float)})
    out = apply_disclosure(f, counts=["n", "n_left"], partitions=[Partition(("n",), total="n_left", remainder=True)],
                           across=[Across("n", ("programme_id", "step"), total_rows="is_total"),
                                   Across("n_left", ("programme_id", "step"))],
                           derived={"pct": ["n"]}, threshold=5)
    assert len(out) == 0
    assert "suppressed" in out.columns
    assert str(out["n"].dtype) == "Int64"


def test_apply_disclosure_multi_key_across_groups_rows_by_every_key() -> None:
    # two groups (a, x) and (a, y) of two rows each: each has one small cell, so its other cell goes too,
    # and a group is never merged with another that shares one key only
    f = pd.DataFrame({"p": ["a", "a", "a", "a", "b"], "s": ["x", "x", "y", "y", "x"],
                      "n": [3, 10, 20, 30, 2]})
    out = apply_disclosure(f, counts=["n"], across=[Across("n", ("p", "s"))], threshold=5)
    assert out["n"].isna().tolist() == [True, True, False, False, True]


def _empty_store_tables(tmp_path: Path) -> dict:
    """The canonical tables of a database with the tables made and no rows."""
    from evalkit import open_store
    from evalkit.access import Scope
    from evalkit.store import load_tables

    store = open_store("sqlite:///" + str(tmp_path / "empty.sqlite"))
    try:
        return load_tables(store, Scope.admin())
    finally:
        store.close()


def test_engagement_tables_of_an_empty_store(tmp_path: Path) -> None:
    from evalkit import engagement as e

    path = e.participant_path(_empty_store_tables(tmp_path))
    assert len(e.funnel_exits(path)) == 0
    assert len(e.take_up_funnel(path)) == 0


@pytest.mark.parametrize("what", ["funnel", "take_up", "endings", "recovery", "talking_therapies", "outcomes"])
def test_for_whom_breakdowns_of_an_empty_store(tmp_path: Path, what: str) -> None:
    from evalkit.for_whom import for_whom

    assert len(for_whom(_empty_store_tables(tmp_path), "referral_source", what=what)) == 0


@pytest.mark.parametrize("suffix", [".html"])
def test_report_cli_on_an_empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, suffix: str) -> None:
    from evalkit import open_store
    from evalkit.cli import main

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    url = "sqlite:///" + str(tmp_path / "empty.sqlite")
    open_store(url).close()
    out = tmp_path / f"r{suffix}"
    assert main(["report", "--db", url, "-o", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "internal error" not in html.lower()
    assert "could not be produced" not in html.lower()
