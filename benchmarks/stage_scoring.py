"""Scoring: :func:`evalkit.scoring.score` against a row-by-row pandas ``apply`` (the naive baseline).

The valid measures of one size (typed, as validation leaves them) are scored
by evalkit; the naive scorer applies a plain Python function to each row
(``DataFrame.apply(axis=1)``) with the same rules for the generated data:
sum of items, prorating where the instrument allows, the SWEMWBS conversion
table, caseness at the default cut-off. It runs on at most ``naive_rows``
rows (default 100,000); beyond that its time is scaled linearly (the record
says so). The two agree on every score of the rows both scored (checked).

At 1M participants and more, ``score 1,000,000 rows`` scores exactly the first
million rows: the target is under 1 s.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.common import load_tables, measure, stage_main

STAGE = "scoring"


def naive_score(measures: pd.DataFrame, registry) -> pd.Series:  # noqa: ANN001
    """Row-by-row scoring, as a straightforward script would do it."""
    def one(row: pd.Series) -> float:
        inst = registry.get(str(row["instrument"]).strip().lower())
        if inst is None:
            return math.nan
        values = []
        for j in range(inst.n_items):
            v = row[f"item_{j + 1}"]
            if pd.isna(v):
                continue
            if v < inst.item_min[j] or v > inst.item_max[j] or v != int(v):
                return math.nan
            values.append(float(v))
        missing = inst.n_items - len(values)
        if not values:
            return math.nan
        if missing and not (inst.prorate and missing <= inst.max_missing):
            return math.nan
        if inst.method == "mean":
            return sum(values) / len(values)
        if inst.method == "mean_times_10":
            return sum(values) / len(values) * 10
        total = sum(values) / len(values) * inst.n_items if missing else sum(values)
        if inst.method == "sum_then_convert" and inst.conversion_table:
            return float(inst.conversion_table.get(int(math.floor(total + 0.5)), math.nan))
        if inst.method not in ("sum", "sum_then_convert"):
            return math.nan
        return total

    return measures.apply(one, axis=1)


def run(size: int, *, root: Path, pg: str | None = None, naive_rows: str = "100000", **_: str) -> None:
    from evalkit.instruments import builtin_instruments
    from evalkit.scoring import score

    measures = load_tables(size, ("measures",), root)["measures"]
    registry = builtin_instruments()
    score(measures.head(100))  # warm
    n = len(measures)
    with measure(STAGE, size, "evalkit score", rows=n) as rec:
        scored = score(measures)
    rec["rows_per_s"] = round(n / rec["seconds"])
    if n >= 1_000_000:
        first = measures.iloc[:1_000_000]
        with measure(STAGE, size, "evalkit score 1,000,000 rows", rows=1_000_000, note="target < 1 s"):
            score(first)
        del first
    m = min(n, int(naive_rows))
    part = measures.iloc[:m]
    with measure(STAGE, size, "naive apply score", rows=m, baseline_of="evalkit score") as base:
        naive = naive_score(part, registry)
    if m < n:
        base["measured_rows"] = m
        base["seconds"] *= n / m
        base["cpu_s"] = round(base["cpu_s"] * n / m, 3)
        base["rows"] = n
        base["note"] = f"measured on the first {m:,} rows and scaled by {n / m:.1f} (linear)"
    ours = scored["score"].iloc[:m].to_numpy(dtype=float)
    theirs = naive.to_numpy(dtype=float)
    same = np.isclose(ours, theirs, equal_nan=True)
    base["agree"] = f"{int(same.sum()):,} of {m:,}"


if __name__ == "__main__":
    stage_main(run)
