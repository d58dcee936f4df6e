"""Compare programmes page: forest and funnel figures are evalkit.compare's, from the database or summary files."""

from __future__ import annotations

import json

from evalkit.compare import compare_from_tables
from evalkit.rules import PairingRules
from evalkit.summary import build_summary

from .conftest import assert_clean, frame_with
from .helpers import library_tables, same_values


def test_compare_from_the_database_and_from_summary_files(app, example_db) -> None:  # noqa: ANN001
    at = app("views/compare.py")
    assert_clean(at)
    assert at.title[0].value == "Compare programmes"
    tables = library_tables(example_db)
    lib = compare_from_tables(tables, rules=PairingRules(), instrument="epds", measure="smcr")
    per = frame_with(at, "estimate", "weight", "included")
    same_values(per, lib.per_programme, ["programme_id", "n", "estimate", "ci_low", "ci_high", "weight"],
                key=["programme_id"])
    pooled = frame_with(at, "estimate", "i2", "tau2")
    same_values(pooled, lib.pooled, ["k", "estimate", "ci_low", "ci_high", "i2"], key=["k"])
    assert len(at.get("vega_lite_chart")) >= 2  # forest and funnel

    # the same comparison from a summary file (aggregates only), as a provider would share it
    summary = build_summary(tables, rules=PairingRules())
    files = [("summary.json", json.dumps(summary.to_dict()).encode(), "application/json")]
    at.radio(key="ek_cp_source").set_value("Summary files")
    at.run()
    at.file_uploader(key="ek_cp_files").set_value(files)
    at.run()
    assert_clean(at)
    per_files = frame_with(at, "estimate", "weight", "included")
    same_values(per_files, lib.per_programme, ["programme_id", "estimate", "ci_low", "weight"], key=["programme_id"])
