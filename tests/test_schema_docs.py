"""schemas/README.md matches the schemas, and its worked example rows validate."""

from __future__ import annotations

from pathlib import Path

from evalkit.schema_docs import example_rows, render_tables_markdown
from evalkit.validation import validate

ROOT = Path(__file__).resolve().parents[1]


def test_schemas_readme_is_generated_from_the_schemas() -> None:
    assert (ROOT / "schemas" / "README.md").read_text(encoding="utf-8") == render_tables_markdown() + "\n", (
        "schemas/README.md is stale: regenerate it with evalkit.schema_docs.render_tables_markdown()"
    )


def test_every_worked_example_row_validates() -> None:
    raw = {}
    for name, frame in example_rows().items():
        frame = frame.copy()
        frame["source_file"] = f"{name}.csv"
        frame["source_sheet"] = None
        frame["source_row"] = 2
        raw[name] = frame
    result = validate(raw, today="2026-01-01")
    errors = result.report[result.report["severity"] == "error"]
    assert errors.empty, errors.to_string()
    assert all(len(result.tables[name]) == 1 for name in raw)
