"""Baseline: frictionless-py validating the same CSV files against the same Table Schemas, with seeded errors.

The participants, contacts and measures files of one size are copied with
errors seeded into distinct rows (about 0.1% of rows per kind, at least 3):

=============  =====================================================================
kind           seeded as
=============  =====================================================================
type           a date that is not a date, text in an integer / number column
required       a required cell left blank
enum           a code that is not in the list
minimum        below the minimum (``deprivation_decile`` 0, ``duration_minutes`` -5)
maximum        above the maximum (``weeks_pregnant`` 45, ``duration_minutes`` 700)
pattern        ``main_language`` ``e1``, ``practical_barriers`` ``time,cost``
unique         a ``participant_id`` copied from another row
primary_key    a measures / contacts row whose key columns repeat another row's
=============  =====================================================================

Both tools then validate the seeded files (evalkit: :func:`evalkit.readers.read_file`
+ :func:`evalkit.validation.validate`, one table at a time so foreign keys to
absent parents are not checked; frictionless: ``Resource(path, schema).validate``).
The errors are compared as sets of (table, row number, column, kind), for
these kinds only. Row numbers are as a spreadsheet shows them (header = 1) in
both tools.

The schemas are given to frictionless as they are in ``schemas/tables``
(frictionless 5.21 accepts the ``x-`` properties and the schemas' own
``trueValues``/``falseValues``), except ``foreignKeys``, which need the other
tables and are dropped (benchmark only; the files are untouched). For ``unique``/``primary_key`` frictionless reports
the second and later copies of a key; evalkit reports every copy, so the
comparison leaves out evalkit's rows that hold the first copy of their key.

Seeds are independent: a key copy is not placed next to another seeded row.
(Where they meet, the tools differ by design: evalkit checks a composite key
only when every key cell is valid - a blank or unparseable date is reported
as ``required``/``type`` and the key is not compared - while frictionless
compares the cells' text and also reports ``primary-key``.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import (
    ROOT,
    csv_paths,
    data_dir,
    data_info,
    ensure_data,
    import_reading_modules,
    measure,
    stage_main,
)

STAGE = "frictionless"
KINDS = ("type", "required", "enum", "minimum", "maximum", "pattern", "unique", "primary_key")
TABLES = ("participants", "contacts", "measures")

# (table, column, kind, bad value) - the value may be a callable(row frame, i) for key copies
SEEDS: tuple[tuple[str, str, str, str], ...] = (
    ("participants", "referral_date", "type", "not a date"),
    ("participants", "weeks_pregnant", "type", "twelve"),
    ("participants", "baby_age_weeks", "type", "x"),
    ("participants", "programme_id", "required", ""),
    ("participants", "referral_source", "enum", "postman"),
    ("participants", "ethnicity", "enum", "unknown_code"),
    ("participants", "deprivation_decile", "minimum", "0"),
    ("participants", "weeks_pregnant", "maximum", "45"),
    ("participants", "main_language", "pattern", "e1"),
    ("participants", "practical_barriers", "pattern", "time,cost"),
    ("participants", "participant_id", "unique", "<copy>"),
    ("contacts", "kind", "enum", "teleport"),
    ("contacts", "status", "required", ""),
    ("contacts", "duration_minutes", "maximum", "700"),
    ("contacts", "duration_minutes", "minimum", "-5"),
    ("contacts", "contact_date", "primary_key", "<copy>"),
    ("measures", "item_3", "type", "two"),
    ("measures", "completed_on", "type", "31/02/2024x"),
    ("measures", "instrument", "required", ""),
    ("measures", "completed_on", "primary_key", "<copy>"),
)

# evalkit rules that are one of the shared kinds under a more specific name
SAME_KIND = {
    "item_type": "type",  # text in a measures item column (evalkit checks items per instrument)
    "participant_in_two_programmes": "unique",  # a repeated participant_id whose rows name different programmes
}

PK = {"contacts": ["participant_id", "contact_date", "kind"], "measures": ["participant_id", "instrument", "completed_on"]}


def seed_errors(src: Path, dst: Path, rate: float = 0.001, seed: int = 7) -> dict[str, list[tuple[int, str, str]]]:
    """Write seeded copies of the three tables into ``dst``; returns what was seeded per table."""
    rng = np.random.default_rng(seed)
    dst.mkdir(parents=True, exist_ok=True)
    seeded: dict[str, list[tuple[int, str, str]]] = {}
    for table in TABLES:
        frame = pd.read_csv(src / f"{table}.csv", dtype=str, keep_default_na=False)
        mine = [s for s in SEEDS if s[0] == table]
        k = max(3, int(len(frame) * rate))
        # distinct rows for every seed, never the first row (a copy needs a row before it)
        rows = rng.choice(np.arange(1, len(frame)), size=min(len(frame) - 1, k * len(mine)), replace=False)
        chosen = set(rows.tolist())
        seeded[table] = []
        for j, (_, column, kind, value) in enumerate(mine):
            picks = np.sort(rows[j * k:(j + 1) * k])
            for i in picks:
                if value == "<copy>" and (i - 1 in chosen or i + 1 in chosen):
                    continue  # keep seeds independent: a copied key never carries (or gets) another seeded error
                if value == "<copy>":
                    cols = PK.get(table, [column])
                    frame.loc[i, cols] = frame.loc[i - 1, cols].to_numpy()
                else:
                    frame.loc[i, column] = value
                seeded[table].append((int(i) + 2, column, kind))
        frame.to_csv(dst / f"{table}.csv", index=False, lineterminator="\n")
    return seeded


def frictionless_schema(table: str) -> dict:
    """The project's Table Schema as frictionless reads it: only ``foreignKeys`` removed (see the module docstring)."""
    d = json.loads((ROOT / "schemas" / "tables" / f"{table}.json").read_text())
    d.pop("foreignKeys", None)
    return d


def _frictionless_kind(err) -> str | None:  # noqa: ANN001
    code = err.type
    if code == "type-error":
        return "type"
    if code == "unique-error":
        return "unique"
    if code == "primary-key":
        return "primary_key"
    if code == "constraint-error":
        note = (err.note or "").lower()
        for word, kind in (("required", "required"), ("enum", "enum"), ("minimum", "minimum"),
                           ("maximum", "maximum"), ("pattern", "pattern")):
            if f'"{word}"' in note or f"{word}" in note.split(":")[0] or note.startswith(f'constraint "{word}'):
                return kind
        return "constraint?" + note[:40]
    return None


def frictionless_errors(path: Path, table: str) -> tuple[set, dict[str, int]]:
    from frictionless import Resource, Schema

    resource = Resource(path=path.name, basepath=str(path.parent),
                        schema=Schema.from_descriptor(frictionless_schema(table)))
    report = resource.validate(limit_errors=10_000_000)
    found, other = set(), {}
    for task in report.tasks:
        for err in task.errors:
            kind = _frictionless_kind(err)
            if kind is None or kind.startswith("constraint?"):
                other[kind or err.type] = other.get(kind or err.type, 0) + 1
                continue
            column = getattr(err, "field_name", None)
            if kind in ("unique", "primary_key"):
                column = "*key"
            found.add((table, int(err.row_number), column, kind))
    return found, other


def evalkit_errors(path: Path, table: str) -> tuple[set, pd.DataFrame]:
    from evalkit.readers import read_file
    from evalkit.validation import validate

    raw = read_file(path, table=table)
    result = validate(raw)
    rep = result.report
    rep = rep[rep["rule"].isin(KINDS + tuple(SAME_KIND)) & (rep["severity"] == "error")]
    found = set()
    # plain lists, not itertuples: iterating Arrow-backed report columns row by row cost 0.03-0.05 s of the
    # timed step at 100k, more than frictionless spends walking its own error objects
    for source_row, column, rule in zip(rep["source_row"].tolist(), rep["column"].tolist(), rep["rule"].tolist(),
                                        strict=True):
        rule = SAME_KIND.get(rule, rule)
        found.add((table, int(source_row), "*key" if rule in ("unique", "primary_key") else column, rule))
    return found, result.report


def _key_kind(s: set) -> set:
    """unique and primary_key are the same finding when the key is one column (participants)."""
    return {(t, r, c, "key" if k in ("unique", "primary_key") else k) for t, r, c, k in s}


def run(size: int, *, root: Path, pg: str | None = None, **_: str) -> None:
    ensure_data(size, root)
    src = csv_paths(size, root)["participants"].parent
    dst = data_dir(size, root) / "seeded"
    if dst.exists():
        shutil.rmtree(dst)
    seeded = seed_errors(src, dst)
    rows = sum(data_info(size, root)["rows"][t] for t in TABLES)
    import frictionless  # noqa: F401  - imports are not timed

    import evalkit.validation  # noqa: F401
    from evalkit.validation.core import default_instruments

    import_reading_modules()
    default_instruments()
    ours: set = set()
    theirs: set = set()
    other: dict[str, int] = {}
    with measure(STAGE, size, "frictionless validate (3 tables)", rows=rows, baseline_of="evalkit validate (3 tables)"):
        for t in TABLES:
            f, o = frictionless_errors(dst / f"{t}.csv", t)
            theirs |= f
            for k, v in o.items():
                other[k] = other.get(k, 0) + v
    with measure(STAGE, size, "evalkit validate (3 tables)", rows=rows) as rec:
        reports = {}
        for t in TABLES:
            f, reports[t] = evalkit_errors(dst / f"{t}.csv", t)
            ours |= f
    # evalkit reports every copy of a repeated key; frictionless the later copies: drop evalkit's first copies
    # (the first row of each key in the file).
    firsts = set()
    for t in TABLES:
        keys = pd.read_csv(dst / f"{t}.csv", dtype=str, keep_default_na=False,
                           usecols=PK.get(t, ["participant_id"]))
        first_rows = set((np.flatnonzero(~keys.duplicated(keep="first").to_numpy()) + 2).tolist())
        firsts |= {(t_, r, c, k) for (t_, r, c, k) in ours if t_ == t and k in ("unique", "primary_key")
                   and r in first_rows}
    ours_cmp = _key_kind(ours - firsts)
    theirs_cmp = _key_kind(theirs)
    seeded_set = _key_kind({(t, r, "*key" if k in ("unique", "primary_key") else c, k)
                            for t, items in seeded.items() for r, c, k in items})
    both = ours_cmp & theirs_cmp
    only_ours = sorted(ours_cmp - theirs_cmp)
    only_theirs = sorted(theirs_cmp - ours_cmp)
    rec.update({
        "seeded": len(seeded_set), "evalkit_errors": len(ours_cmp), "frictionless_errors": len(theirs_cmp),
        "agree": len(both), "only_evalkit": len(only_ours), "only_frictionless": len(only_theirs),
        "seeded_found_by_evalkit": len(seeded_set & ours_cmp), "seeded_found_by_frictionless": len(seeded_set & theirs_cmp),
        "only_evalkit_sample": [list(x) for x in only_ours[:8]],
        "only_frictionless_sample": [list(x) for x in only_theirs[:8]],
        "frictionless_other": other,
        "jaccard": round(len(both) / max(1, len(ours_cmp | theirs_cmp)), 4),
    })


if __name__ == "__main__":
    stage_main(run)
