"""Summaries from the database: same comparison as from the CSV files; researchers get aggregates only."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.access import Scope
from evalkit.cli import main
from evalkit.compare import compare_summaries
from evalkit.data_source import example_tables
from evalkit.errors import AccessDenied
from evalkit.summary import build_summary, read_summary, summary_from_store


@pytest.fixture(scope="module")
def example_db(tmp_path_factory) -> str:
    from conftest import TEST_SECRET

    from evalkit.cli.cmd_dashboard import load_example

    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'evalkit.sqlite'}"
    # module scope runs before the autouse test-secret fixture: never touch the real key
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_SECRET", TEST_SECRET)
        mp.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
        mp.delenv("EVALKIT_SECRET_FILE", raising=False)
        load_example(url)
    return url


def test_database_summary_compares_like_the_csv_files(example_db, tmp_path):
    from evalkit.store import open_store

    store = open_store(example_db)
    researcher = summary_from_store(store, Scope("researcher"))
    from_csv = build_summary(example_tables())
    # identifiers are pseudonymised in the database, so the data hash differs; every figure is the same
    assert researcher.data_hash != from_csv.data_hash
    keys = ["programme_id", "instrument"]
    a = researcher.results.sort_values(keys).reset_index(drop=True)
    b = from_csv.results.sort_values(keys).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(researcher.programmes.sort_values("programme_id").reset_index(drop=True),
                                  from_csv.programmes.sort_values("programme_id").reset_index(drop=True))
    for measure in ("smcr", "reliable_improvement", "take_up"):
        x = compare_summaries([researcher], instrument="epds", measure=measure).pooled.iloc[0]
        y = compare_summaries([from_csv], instrument="epds", measure=measure).pooled.iloc[0]
        for c in ("estimate", "ci_low", "ci_high", "tau2", "i2"):
            assert x[c] == pytest.approx(y[c], rel=1e-9, abs=1e-12)
    # the researcher scope itself may not load rows; the summary was built inside the library
    from evalkit.store import load_tables

    with pytest.raises(AccessDenied):
        load_tables(store, Scope("researcher"))
    # a provider's summary holds only its own programmes
    own = summary_from_store(store, Scope.for_provider("Northside Mums Charity"))
    assert own.programmes["programme_id"].tolist() == ["P-GROUP"]


def test_cli_summary_from_database(example_db, tmp_path, capsys):
    out = tmp_path / "db.json"
    assert main(["summary", "--db", example_db, "--programme", "P-PHONE", "-o", str(out)]) == 0
    s = read_summary(out)
    assert s.programmes["programme_id"].tolist() == ["P-PHONE"]
    assert "wrote" in capsys.readouterr().out
