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
total_mismatch      (warning) a recorded ``total`` differs from the sum of
                    the row's item scores when every item is answered (for
                    instruments scored by summing; scoring uses the items)
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
import pyarrow as pa

from evalkit.column_mapping import normalise_header
from evalkit.validation.cells import CellPicker, distinct_cells, number_values, on_uniques, text_series
from evalkit.validation.problems import ProblemLog, TableRows, quoted

__all__ = ["check_measures", "instrument_codes", "item_columns"]


def item_columns(columns: list[str], pattern: str | None) -> list[str]:
    """Item columns among ``columns``, in item order."""
    if not pattern:
        return []
    found = [c for c in columns if re.fullmatch(pattern, c)]
    return sorted(found, key=lambda c: int(re.search(r"(\d+)$", c).group(1)))  # type: ignore[union-attr]


def _fold(values: pd.Series) -> np.ndarray:
    """An instrument as typed, folded for matching: case, spaces and punctuation ignored (``PHQ-9`` -> ``phq9``)."""
    return values.str.casefold().str.replace(r"[\W_]+", "", regex=True).to_numpy(dtype=object, na_value=None)


def _lookup(registry: Mapping[str, Any]) -> dict[str, int]:
    """Folded spelling -> position of its instrument in ``registry``: each instrument's code, name and aliases."""
    lookup: dict[str, int] = {}
    for i, (code, inst) in enumerate(registry.items()):
        for word in [code, getattr(inst, "code", code), getattr(inst, "name", None), *getattr(inst, "aliases", ())]:
            if word:
                lookup.setdefault(normalise_header(str(word)), i)
    return lookup


def instrument_codes(values: pd.Series, instruments: Mapping[str, Any] | None) -> pd.Series:
    """The registry code of each instrument as typed, as validation stores it (``EPDS``, ``e.p.d.s`` -> ``epds``).

    Parameters
    ----------
    values
        Instruments as typed (text; missing allowed).
    instruments
        The instrument registry by code; ``None``: none available, each value is folded as validation then
        stores it.

    Returns
    -------
    pandas.Series
        Object dtype, same index: the code, or ``None`` for a missing value or one no instrument is known by.
    """
    text = values.astype("string")
    if instruments is None:
        return pd.Series(_fold(text), index=values.index, dtype=object)
    codes = np.asarray([*instruments, None], dtype=object)
    position = pd.Series(_fold(text), dtype=object).map(_lookup(instruments)).fillna(-1).to_numpy(dtype=np.int64)
    return pd.Series(codes[position], index=values.index, dtype=object)


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
    # an absent column is all missing: Arrow nulls (one bitmap), as check_fields stands in for one
    raw_instrument = cells["instrument"] if "instrument" in cells else text_series(pa.nulls(n, type=pa.large_string()))
    instrument_values = CellPicker(raw_instrument)
    missing_instrument = raw_instrument.isna().to_numpy()
    registry = dict(instruments) if instruments is not None else None
    codes = list(registry) if registry is not None else []
    lookup = _lookup(registry) if registry is not None else {}

    if registry is None:
        folded = on_uniques(raw_instrument, _fold, None)
        typed["instrument"] = folded
        index = np.full(n, -1)
        for g in rows.distinct_groups():
            log.add_file_level(
                rows, int(g), np.array([], dtype=np.int64), column="instrument", rule="not_checked", severity="warning",
                message=("Instrument codes, item scores and totals were not checked against the instrument "
                         "definitions, because none were available to this check."),
            )
    else:
        def position(u: pd.Series) -> np.ndarray:
            return pd.Series(_fold(u), dtype=object).map(lookup).fillna(-1).to_numpy(dtype=np.int64)

        index = on_uniques(raw_instrument, position, -1).astype(np.int64, copy=False)
        unknown = ~missing_instrument & (index < 0)
        log.add(rows, unknown, column="instrument", rule="unknown_instrument",
                detail=quoted(instrument_values[unknown])
                + f" is not an instrument evalkit knows; expected one of: {', '.join(codes)}.",
                values=instrument_values[unknown])
        typed["instrument"] = pd.Series(pd.Categorical.from_codes(index, categories=pd.Index(codes, dtype=object)))
    known = index >= 0
    check_ranges = registry is not None and bool(known.any())
    # by instrument position (the last for none): its code and number of items, taken for the rows reported
    names = np.asarray(codes + [""], dtype=object)
    per_inst_n = np.array(([float(registry[c].n_items) for c in codes] if check_ranges else [])  # type: ignore[index]
                          + [np.nan])
    item_cells = {column: distinct_cells(cells[column]) for column in items if cells.get(column) is not None}
    numbers = _item_numbers({column: uniques for column, (_, uniques) in item_cells.items()})
    # every item cell is looked up in a small table of (instrument, distinct value): row (index + 1) of the
    # table is the row's instrument (0: none known), column (code + 1) its value (0: blank)
    stride = 1 + max((len(u) for _, u in item_cells.values()), default=0)
    table_row = (index + 1) * stride + 1 if check_ranges else np.ones(n, dtype=np.intp)
    table_row = table_row.astype(np.intp, copy=False)
    inst_n = np.roll(per_inst_n, 1)
    answered_any = np.zeros(n, dtype=bool)
    # buffers of one row each, reused by every item column: a fresh array per column costs its page faults
    # again at a million rows (the indices are in range, so ``take`` needs no bounds check: mode="clip")
    where = np.empty(n, dtype=np.intp)
    answered = np.empty(n, dtype=bool)
    row_flags = np.empty(n, dtype=np.uint8)
    for column in items:
        k = int(re.search(r"(\d+)$", column).group(1))  # type: ignore[union-attr]
        if column not in item_cells:
            typed[column] = np.full(n, np.nan)
            continue
        value_codes, uniques = item_cells[column]
        if len(uniques) == 0:  # blank on every row (an item no instrument of the file has): nothing to read or flag
            typed[column] = np.full(n, np.nan)
            continue
        np.greater_equal(value_codes, 0, out=answered)
        np.logical_or(answered_any, answered, out=answered_any)
        x, flags = _item_table(numbers[column], stride, k, inst_n,
                               [registry[c] for c in codes] if check_ranges else [])  # type: ignore[index]
        np.add(table_row, value_codes, out=where)
        typed[column] = x.take(where, mode="clip")
        # each row's flags (into the reused buffer), searched only when some row has one: a column with no flagged
        # (instrument, value) pair has no row to report
        if not flags.any():
            continue
        flags.take(where, out=row_flags, mode="clip")
        if not np.count_nonzero(row_flags):
            continue
        hit = np.flatnonzero(row_flags)
        texts = np.asarray(uniques, dtype=object)
        hit_flags = row_flags[hit]
        bad_type = hit[(hit_flags & _BAD_TYPE) != 0]
        values = texts[value_codes[bad_type]]
        log.add(rows, bad_type, column=column, rule="item_type",
                detail=quoted(values) + " is not an item score; expected a whole number"
                + np.where(known[bad_type], " for " + names[index[bad_type]] + " item " + str(k), "") + ".",
                values=values)
        if check_ranges:
            beyond = hit[(hit_flags & _BEYOND) != 0]
            values = texts[value_codes[beyond]]
            log.add(rows, beyond, column=column, rule="item_range",
                    detail=quoted(values) + " is a score for item " + str(k) + ", but "
                    + names[index[beyond]] + " has only "
                    + pd.Series(per_inst_n[index[beyond]]).map(_fmt).to_numpy(dtype=object)
                    + " items; expected this cell to be blank for " + names[index[beyond]] + ".",
                    values=values)
            out = hit[(hit_flags & _OUT) != 0]
            values = texts[value_codes[out]]
            lo = np.array([_bound(registry[c], "item_min", k) for c in codes] + [np.nan])[index[out]]  # type: ignore[index]
            hi = np.array([_bound(registry[c], "item_max", k) for c in codes] + [np.nan])[index[out]]  # type: ignore[index]
            log.add(rows, out, column=column, rule="item_range",
                    detail=quoted(values) + " is outside the range of " + names[index[out]] + " item " + str(k)
                    + "; expected a whole number from " + pd.Series(lo).map(_fmt).to_numpy(dtype=object)
                    + " to " + pd.Series(hi).map(_fmt).to_numpy(dtype=object) + ".",
                    values=values)

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
                detail=quoted(values[out]) + " is outside the range of a " + names[index[out]] + " total; expected "
                + pd.Series(lo[out]).map(_fmt).to_numpy(dtype=object) + " to "
                + pd.Series(hi[out]).map(_fmt).to_numpy(dtype=object) + ".", values=values[out])
        typed["total"] = np.where(out, np.nan, total)
        _check_total_against_items(rows, log, typed, items, index, codes, registry, per_inst_n, values)
    if total_cells is not None:
        answered_any |= total_cells.notna().to_numpy()
    empty = ~answered_any
    log.add(rows, empty, column="total", rule="no_responses", severity="warning",
            detail="this questionnaire has no item answers and no total, so it cannot be scored; "
                   "expected item scores (item_1, item_2, ...) or a total.")


_BAD_TYPE, _BEYOND, _OUT = 1, 2, 4
"""Flags of an item cell: not a whole number (``item_type``), an item beyond the instrument's last, out of range
(both ``item_range``)."""


def _item_numbers(uniques: Mapping[str, pd.Series]) -> dict[str, np.ndarray]:
    """:func:`~evalkit.validation.cells.number_values` of each item column's distinct cells, read in one call.

    Each text is read on its own, except that a column of whole numbers only is read as integers: ``-0`` is then
    0.0, not -0.0. Where the one call gives a -0.0 (or, as a precaution, a whole number beyond 2**53, which the
    two readings might round apart; none was found to), every column is read on its own, as before.
    """
    parts = [(column, u) for column, u in uniques.items() if len(u)]
    # read together only texts as read from a file ("str"); other cells (a frame built in memory) one by one
    if len(parts) < 2 or not all(isinstance(u, pd.Series) and isinstance(u.dtype, pd.StringDtype) for _, u in parts):
        return {column: number_values(u) if len(u) else np.empty(0) for column, u in uniques.items()}
    together = number_values(pd.concat([u for _, u in parts], ignore_index=True))
    finite = together[np.isfinite(together)]
    if (np.signbit(finite) & (finite == 0)).any() or (np.abs(finite) >= 2.0**53).any():
        return {column: number_values(u) if len(u) else np.empty(0) for column, u in uniques.items()}
    out = {column: np.empty(0) for column in uniques}
    start = 0
    for column, u in parts:
        out[column] = together[start:start + len(u)]
        start += len(u)
    return out


def _item_table(x: np.ndarray, stride: int, k: int, inst_n: np.ndarray,
                instruments: list[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Item ``k``'s value and flags for each (instrument, distinct cell), flattened with ``stride`` per instrument.

    Parameters
    ----------
    x
        The distinct cells of the item column as numbers (:func:`_item_numbers`).
    stride
        Length of one instrument's row of the table (at least ``len(uniques) + 1``).
    k
        Item number.
    inst_n
        Number of items of each instrument, after a leading NaN for "no known instrument".
    instruments
        The instrument definitions, in the order of ``inst_n[1:]`` (empty: ranges are not checked).

    Returns
    -------
    values : numpy.ndarray
        float64: the score kept, NaN for a blank cell, a value that is not a whole number, or out of range.
    flags : numpy.ndarray
        uint8: ``_BAD_TYPE | _BEYOND | _OUT`` bits.
    """
    m = len(x)
    bad = np.isnan(x) | (np.floor(x) != x)
    x = np.where(bad, np.nan, x)
    rows = len(inst_n)
    values = np.full((rows, stride), np.nan)
    flags = np.zeros((rows, stride), dtype=np.uint8)
    values[:, 1:m + 1] = x
    flags[:, 1:m + 1] = np.where(bad, _BAD_TYPE, 0)
    if instruments:
        lo = np.array([np.nan] + [_bound(inst, "item_min", k) for inst in instruments])[:, None]
        hi = np.array([np.nan] + [_bound(inst, "item_max", k) for inst in instruments])[:, None]
        known = np.arange(rows) > 0
        beyond = (known & (k > inst_n))[:, None] & np.ones((1, m), dtype=bool)
        with np.errstate(invalid="ignore"):
            out = ~np.isnan(x)[None, :] & known[:, None] & ~beyond & ((x[None, :] < lo) | (x[None, :] > hi))
        flags[:, 1:m + 1] |= np.where(beyond, _BEYOND, 0).astype(np.uint8) | np.where(out, _OUT, 0).astype(np.uint8)
        values[:, 1:m + 1] = np.where(beyond | out, np.nan, x[None, :])
    return values.ravel(), flags.ravel()


def _bound(instrument: Any, name: str, k: int) -> float:
    values = getattr(instrument, name, None)
    if values is None:
        return np.nan
    if np.isscalar(values):
        return float(values)  # type: ignore[arg-type]
    values = list(values)
    return float(values[k - 1]) if k - 1 < len(values) else np.nan


def _check_total_against_items(rows: TableRows, log: ProblemLog, typed: dict[str, Any], items: list[str],
                               index: np.ndarray, codes: list[str], registry: Mapping[str, Any],
                               per_inst_n: np.ndarray, values: CellPicker) -> None:
    """Warn where a recorded total differs from the sum of a fully answered questionnaire's item scores.

    Only for instruments scored as the sum of their items (``sum``, and ``sum_then_convert`` whose total is
    the raw sum), and only for rows with every item 1..n answered: scoring
    (:func:`evalkit.scoring.score`) then uses the item sum and ignores the total, so the provider should
    know one of them is wrong.
    """
    summed = np.array([getattr(registry[c], "method", "") in ("sum", "sum_then_convert") for c in codes] + [False])
    # only the rows with a total are looked at (files with items seldom also record totals)
    judged = np.flatnonzero(summed[index] & ~np.isnan(typed["total"]))
    if not len(judged):
        return
    n_items = per_inst_n[index[judged]]
    item_sum = np.zeros(len(judged))
    answered = np.zeros(len(judged), dtype=np.int16)
    for column in items:
        x = typed.get(column)
        if x is None:
            continue
        k = int(re.search(r"(\d+)$", column).group(1))  # type: ignore[union-attr]
        values_k = x[judged]
        counted = ~np.isnan(values_k) & (k <= n_items)
        np.add(item_sum, values_k, out=item_sum, where=counted)
        answered += counted
    total = typed["total"][judged]
    hit = (answered == n_items) & (np.abs(total - item_sum) > 1e-9)
    if not hit.any():
        return
    differs = np.zeros(len(index), dtype=bool)
    differs[judged[hit]] = True  # judged is in row order, so the hits' sums below are in row order too
    converted = np.array([getattr(registry[c], "method", "") == "sum_then_convert" for c in codes] + [False])
    raw_sum = np.where(converted[index[differs]], " (for " + np.asarray(codes + [""], dtype=object)[index[differs]]
                       + " the total is the raw sum of the items, before the conversion to a metric score)", "")
    log.add(rows, differs, column="total", rule="total_mismatch", severity="warning",
            detail=quoted(values[differs]) + " differs from the sum of the item scores ("
            + pd.Series(item_sum[hit]).map(_fmt).to_numpy(dtype=object)
            + ")" + raw_sum + "; the item scores are used when scoring. Check the total and the items.",
            values=values[differs])


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
