"""Checks that need the instrument definitions: instrument codes, item scores and totals.

==================  ==========================================================
rule                what it checks (severity error unless stated)
==================  ==========================================================
unknown_instrument  ``instrument`` is a registry code (case, spaces and
                    punctuation ignored: ``PHQ-9`` -> ``phq9``)
item_type           a non-blank item cell is a whole, finite number
item_range          items 1..n of the row's instrument lie within that item's
                    ``item_min``..``item_max``; an item beyond n has no value
total_range         ``total`` lies within the instrument's ``total_range``
no_responses        (warning) neither item answers nor a total
not_checked         (warning) no instrument definitions were available, so
                    ranges and codes were not checked
==================  ==========================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from evalkit.column_mapping import normalise_header
from evalkit.validation.cells import CellPicker, on_uniques, parse_numbers
from evalkit.validation.problems import ProblemLog, TableRows, quoted

__all__ = ["check_measures", "item_columns"]


def item_columns(columns: list[str], pattern: str | None) -> list[str]:
    """Item columns among ``columns``, in item order."""
    if not pattern:
        return []
    found = [c for c in columns if re.fullmatch(pattern, c)]
    return sorted(found, key=lambda c: int(re.search(r"(\d+)$", c).group(1)))  # type: ignore[union-attr]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def check_measures(
    cells: Mapping[str, pd.Series],
    typed: dict[str, np.ndarray],
    rows: TableRows,
    log: ProblemLog,
    *,
    items: list[str],
    instruments: Mapping[str, Any] | None,
) -> None:
    """Check instrument, items and total of the measures rows; update ``typed`` in place.

    ``typed["instrument"]`` becomes the registry code (or the folded text when
    no registry is available); each item column becomes float64 with NaN for
    blank or invalid cells.
    """
    n = len(rows.file)
    raw_instrument = cells["instrument"] if "instrument" in cells else pd.Series([pd.NA] * n, dtype="str")
    instrument_values = CellPicker(raw_instrument)
    missing_instrument = raw_instrument.isna().to_numpy()
    registry = dict(instruments) if instruments is not None else None
    codes = list(registry) if registry is not None else []
    lookup: dict[str, int] = {}
    for i, code in enumerate(codes):
        inst = registry[code]  # type: ignore[index]
        for word in [code, getattr(inst, "code", code), getattr(inst, "name", None), *getattr(inst, "aliases", ())]:
            if word:
                lookup.setdefault(normalise_header(str(word)), i)

    def fold(u: pd.Series) -> np.ndarray:
        return u.str.casefold().str.replace(r"[\W_]+", "", regex=True).to_numpy(dtype=object, na_value=None)

    if registry is None:
        folded = on_uniques(raw_instrument, fold, None)
        typed["instrument"] = folded
        index = np.full(n, -1)
        for g in np.unique(rows.group):
            log.add_file_level(
                rows, int(g), np.array([], dtype=np.int64), column="instrument", rule="not_checked", severity="warning",
                message=("Instrument codes, item scores and totals were not checked against the instrument "
                         "definitions, because none were available to this check."),
            )
    else:
        def position(u: pd.Series) -> np.ndarray:
            return pd.Series(fold(u), dtype=object).map(lookup).fillna(-1).to_numpy(dtype=np.int64)

        index = on_uniques(raw_instrument, position, -1).astype(np.int64)
        unknown = ~missing_instrument & (index < 0)
        log.add(rows, unknown, column="instrument", rule="unknown_instrument",
                detail=quoted(instrument_values[unknown])
                + f" is not an instrument evalkit knows; expected one of: {', '.join(codes)}.",
                values=instrument_values[unknown])
        typed["instrument"] = pd.Series(pd.Categorical.from_codes(index, categories=pd.Index(codes, dtype=object)))
    known = index >= 0
    n_items = np.full(n, np.nan)
    inst_names = np.full(n, "", dtype=object)
    if registry is not None and known.any():
        per_inst_n = np.array([float(registry[c].n_items) for c in codes] + [np.nan])
        n_items = per_inst_n[index]
        inst_names = np.asarray(codes + [""], dtype=object)[index]

    answered_any = np.zeros(n, dtype=bool)
    for column in items:
        k = int(re.search(r"(\d+)$", column).group(1))  # type: ignore[union-attr]
        col = cells.get(column)
        if col is None:
            typed[column] = np.full(n, np.nan)
            continue
        missing = col.isna().to_numpy()
        values = CellPicker(col)
        answered_any |= ~missing
        x = parse_numbers(col)
        bad_type = ~missing & (np.isnan(x) | (np.floor(x) != x))
        log.add(rows, bad_type, column=column, rule="item_type",
                detail=quoted(values[bad_type]) + " is not an item score; expected a whole number"
                + np.where(known[bad_type], " for " + inst_names[bad_type] + " item " + str(k), "") + ".",
                values=values[bad_type])
        x = np.where(bad_type, np.nan, x)
        if registry is not None and known.any():
            lo = np.array([_bound(registry[c], "item_min", k) for c in codes] + [np.nan])[index]
            hi = np.array([_bound(registry[c], "item_max", k) for c in codes] + [np.nan])[index]
            beyond = ~missing & known & (k > n_items)
            log.add(rows, beyond, column=column, rule="item_range",
                    detail=quoted(values[beyond]) + " is a score for item " + str(k) + ", but "
                    + inst_names[beyond] + " has only " + pd.Series(n_items[beyond]).map(_fmt).to_numpy(dtype=object)
                    + " items; expected this cell to be blank for " + inst_names[beyond] + ".",
                    values=values[beyond])
            with np.errstate(invalid="ignore"):
                out = ~np.isnan(x) & known & ~beyond & ((x < lo) | (x > hi))
            log.add(rows, out, column=column, rule="item_range",
                    detail=quoted(values[out]) + " is outside the range of " + inst_names[out] + " item " + str(k)
                    + "; expected a whole number from " + pd.Series(lo[out]).map(_fmt).to_numpy(dtype=object)
                    + " to " + pd.Series(hi[out]).map(_fmt).to_numpy(dtype=object) + ".",
                    values=values[out])
            x = np.where(beyond | out, np.nan, x)
        typed[column] = x

    total = typed.get("total")
    total_cells = cells.get("total")
    if total is not None and total_cells is not None and registry is not None and known.any():
        ranges = [_total_range(registry[c]) for c in codes]
        lo = np.array([float(r[0]) if r else np.nan for r in ranges] + [np.nan])[index]
        hi = np.array([float(r[1]) if r else np.nan for r in ranges] + [np.nan])[index]
        values = CellPicker(total_cells)
        with np.errstate(invalid="ignore"):
            out = ~np.isnan(total) & known & ((total < lo) | (total > hi))
        log.add(rows, out, column="total", rule="total_range",
                detail=quoted(values[out]) + " is outside the range of a " + inst_names[out] + " total; expected "
                + pd.Series(lo[out]).map(_fmt).to_numpy(dtype=object) + " to "
                + pd.Series(hi[out]).map(_fmt).to_numpy(dtype=object) + ".", values=values[out])
        typed["total"] = np.where(out, np.nan, total)
    if total_cells is not None:
        answered_any |= total_cells.notna().to_numpy()
    empty = ~answered_any
    log.add(rows, empty, column="total", rule="no_responses", severity="warning",
            detail="this questionnaire has no item answers and no total, so it cannot be scored; "
                   "expected item scores (item_1, item_2, ...) or a total.")


def _bound(instrument: Any, name: str, k: int) -> float:
    values = getattr(instrument, name, None)
    if values is None:
        return np.nan
    if np.isscalar(values):
        return float(values)  # type: ignore[arg-type]
    values = list(values)
    return float(values[k - 1]) if k - 1 < len(values) else np.nan


def _total_range(instrument: Any) -> tuple[float, float] | None:
    """Range a recorded total may take: ``total_range`` if the definition has one, else the widest of the
    item-sum range and the reporting ``score_range`` (a provider may record either)."""
    stated = getattr(instrument, "total_range", None)
    if stated:
        return float(stated[0]), float(stated[1])
    lows, highs = [], []
    item_min, item_max = getattr(instrument, "item_min", None), getattr(instrument, "item_max", None)
    if item_min is not None and item_max is not None and not np.isscalar(item_min):
        lows.append(float(np.sum(item_min)))
        highs.append(float(np.sum(item_max)))
    score = getattr(instrument, "score_range", None)
    if score:
        lows.append(float(score[0]))
        highs.append(float(score[1]))
    return (min(lows), max(highs)) if lows else None
