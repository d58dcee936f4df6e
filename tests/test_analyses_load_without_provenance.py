"""The analysis commands load the database's tables without the provenance columns (no analysis reads them; at
a million participants they are about 0.55 GB): their outputs are what the tables with provenance give."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import example_frames, result_of

import evalkit.store as store_module
from evalkit import data_source
from evalkit.canonical import PROVENANCE_COLUMNS
from evalkit.cli import main
from evalkit.ingest import ingest
from evalkit.outcomes import outcome_summary
from evalkit.summary import data_hash

SHA = "12" * 32


@pytest.fixture
def filled(tmp_path) -> str:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'evalkit.sqlite'}"
    with store_module.open_store(url) as store:
        ingest(result_of(example_frames("North", n=40, seed=2)), store, provider="North", file_name="a.csv",
               sha256=SHA)
    return url


def test_tables_without_provenance_give_the_same_analyses(filled: str) -> None:
    full = data_source.load_tables(db=filled)
    bare = data_source.load_tables(db=filled, provenance=False)
    assert all(c in full["contacts"].columns for c in PROVENANCE_COLUMNS)
    assert not any(c in f.columns for f in bare.values() for c in PROVENANCE_COLUMNS)
    assert data_hash(bare) == data_hash(full)
    pd.testing.assert_frame_equal(outcome_summary(bare, models=False), outcome_summary(full, models=False))


@pytest.mark.parametrize("command", [["outcomes", "--no-models"], ["summary", "-o", "{tmp}/s.json"], ["mechanisms"],
                                     ["report", "--no-models", "--no-figures", "-o", "{tmp}/r.html"]])
def test_analysis_commands_ask_for_no_provenance(filled: str, monkeypatch: pytest.MonkeyPatch, tmp_path,  # noqa: ANN001
                                                 capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    asked: list[bool] = []
    load = store_module.load_tables

    def recording(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        asked.append(kwargs.get("provenance", True))
        return load(*args, **kwargs)

    monkeypatch.setattr(store_module, "load_tables", recording)
    code = main([*(c.format(tmp=tmp_path) for c in command), "--db", filled])
    capsys.readouterr()
    assert code == 0
    assert asked and not any(asked)
