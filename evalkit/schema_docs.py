"""Human documentation of the data contract, generated from the Table Schemas.

``schemas/README.md`` is rendered by :func:`render_tables_markdown`; a test
checks that the file matches, so the documentation can never drift from the
schemas, and that every worked example row passes validation.
"""

from __future__ import annotations

import pandas as pd

from evalkit.schemas import TABLE_NAMES, table_schema


def example_rows() -> dict[str, pd.DataFrame]:
    """One worked example row per canonical table (all cells as text), from each field's ``x-example``."""
    rows: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        schema = table_schema(name)
        rows[name] = pd.DataFrame([{f.name: f.example for f in schema.fields}], dtype="string")
    return rows


def _allowed(field_codes: object) -> str:
    if not field_codes:
        return ""
    return "; ".join(f"`{code}` {label}" if code != label else f"`{code}`" for code, label in dict(field_codes).items())  # type: ignore[call-overload]


def render_tables_markdown() -> str:
    """Markdown describing every table: purpose, keys, each field (type, required, range, codes) and an example row."""
    out = [
        "# The evalkit data contract",
        "",
        "Five tables, each described by a [Frictionless Table Schema](https://specs.frictionlessdata.io/table-schema/)",
        "in `tables/` so that R, Excel and other tools can read the same contract. Column names are a public contract:",
        "they do not change. Dates are ISO `YYYY-MM-DD` (UK `DD/MM/YYYY` is accepted on upload; a date that could be",
        "read two ways is reported, never guessed). Dates with the month in words (`4 March 2025`, `04-Mar-2025`,",
        "`March 4, 2025`) are accepted too, and so is Excel's number for a date (`45720` is 4 March 2025) from a cell",
        "that lost its date format: it is read as the date and reported as a warning (`excel_date_number`) to check.",
        "Yes/no fields accept yes/no, y/n, true/false, 1/0.",
        "Coded fields take the code (or its label, case-insensitively). Blank means missing.",
        "",
        "Item columns in `measures` hold **keyed** scores as on the instrument's scoring sheet; the instruments themselves",
        "are defined in `instruments/` (scoring metadata only, never item wording).",
        "",
        "This file is generated from the schemas by `evalkit.schema_docs.render_tables_markdown()`; a test checks that",
        "it matches and that every example row validates.",
        "",
    ]
    for name in TABLE_NAMES:
        schema = table_schema(name)
        out += [f"## `{name}`", "", schema.description, "",
                f"Natural key: {', '.join(f'`{k}`' for k in schema.primary_key)}.", ""]
        for fk in schema.foreign_keys:
            ref = fk["reference"]
            out.append(f"- `{', '.join(fk['fields'])}` refers to `{ref['resource']}.{', '.join(ref['fields'])}`.")
        if schema.foreign_keys:
            out.append("")
        out += ["| column | type | required | constraints | description | allowed codes |", "| --- | --- | --- | --- | --- | --- |"]
        for f in schema.fields:
            if name == "measures" and f.name.startswith("item_") and f.name not in ("item_1", "item_2"):
                continue
            cons = []
            if f.unique:
                cons.append("unique")
            if f.minimum is not None:
                cons.append(f"min {f.minimum:g}")
            if f.maximum is not None:
                cons.append(f"max {f.maximum:g}")
            if f.pattern:
                cons.append(f"pattern `{f.pattern}`")
            label = f.name if name != "measures" or f.name != "item_2" else "item_2 ... item_N"
            desc = f.description if f.name != "item_2" else "Further item columns, one per item, up to the instrument's number of items."
            out.append(f"| `{label}` | {f.type} | {'yes' if f.required else ''} | {', '.join(cons)} | {desc} | {_allowed(f.codes)} |")
        example = example_rows()[name].iloc[0]
        shown = {k: v for k, v in example.items() if v != ""}
        out += ["", "Worked example row (blank columns omitted):", "", "| " + " | ".join(shown) + " |",
                "| " + " | ".join("---" for _ in shown) + " |", "| " + " | ".join(str(v) for v in shown.values()) + " |", ""]
    return "\n".join(out)
