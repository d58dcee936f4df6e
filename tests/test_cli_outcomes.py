"""``evalkit outcomes``: the CLI over outcome_summary."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.generator import generate_programmes


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("data")
    generate_programmes(700, seed=8).write(out)
    return out


def test_table_output(folder, capsys) -> None:
    assert main(["outcomes", "--data", str(folder), "--no-models"]) == 0
    out = capsys.readouterr().out
    assert "programme" in out and "P-PHONE" in out and "phq9" in out
    assert "Rules:" in out and "Baseline: the first valid score" in out
    assert "[c] = hidden" in out


def test_json_output_filters_and_rules(folder, capsys) -> None:
    assert main(["outcomes", "--data", str(folder), "--format", "json", "--programme", "P-HOME",
                 "--instrument", "EPDS", "--min-dose", "3", "--no-models"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["rules"]["min_dose"] == 3
    assert "at least 3 attended contacts" in payload["rules_text"]
    assert [(r["programme_id"], r["instrument"]) for r in payload["rows"]] == [("P-HOME", "epds")]
    row = payload["rows"][0]
    assert row["n_paired"] is None or row["n_paired"] >= 5


def test_csv_output(folder, capsys) -> None:
    assert main(["outcomes", "--data", str(folder), "--format", "csv", "--instrument", "gad7", "--no-models"]) == 0
    from io import StringIO

    frame = pd.read_csv(StringIO(capsys.readouterr().out))
    assert frame["instrument"].unique().tolist() == ["gad7"]
    assert {"n_paired", "mean_change", "ci_low", "ci_high", "rules", "suppressed"} <= set(frame.columns)


def test_example_data(capsys) -> None:
    assert main(["outcomes", "--example", "--no-models", "--format", "csv"]) == 0
    assert "P-GROUP" in capsys.readouterr().out


def test_errors_are_messages_not_tracebacks(folder, capsys, tmp_path) -> None:
    assert main(["outcomes", "--data", str(tmp_path / "missing")]) == 2
    assert "folder not found" in " ".join(capsys.readouterr().err.split())
    assert main(["outcomes", "--data", str(folder), "--instrument", "nope"]) == 2
    assert "unknown instrument" in " ".join(capsys.readouterr().err.split())
    assert main(["outcomes", "--data", str(folder), "--min-dose", "-1"]) == 2
    with pytest.raises(SystemExit):
        main(["outcomes", "--data", str(folder), "--db", "x.sqlite"])


@pytest.mark.parametrize("args", [[], ["--instrument", "phq9", "--min-dose", "3"], ["--endpoint", "window"]])
def test_csv_output_is_outcome_summary_of_the_tables(folder, capsys, args: list[str]) -> None:
    """The command prepares the episodes itself (to let the tables go before the statistics): its rows are
    ``outcome_summary`` of the tables, as they were when it passed the tables through."""
    from io import StringIO

    from evalkit.data_source import load_tables
    from evalkit.outcomes import outcome_summary
    from evalkit.rules import PairingRules

    assert main(["outcomes", "--data", str(folder), "--format", "csv", "--no-models", *args]) == 0
    got = pd.read_csv(StringIO(capsys.readouterr().out))
    tables = load_tables(data=folder)
    rules = PairingRules()
    if "--min-dose" in args:
        rules = rules.replace(min_dose=3)
    if "--endpoint" in args:
        rules = rules.replace(endpoint_rule="window")
    if "--instrument" in args:
        m = tables["measures"]
        tables = {**tables, "measures": m[m["instrument"].astype("string").str.lower().eq("phq9").fillna(False)]}
    buffer = StringIO()
    outcome_summary(tables, rules=rules, models=False).to_csv(buffer, index=False)
    pd.testing.assert_frame_equal(got, pd.read_csv(StringIO(buffer.getvalue())))
