"""Vectorised scoring of questionnaires into totals, subscales, caseness and safety flags.

One call scores a frame that may mix instruments. Work is done per instrument
on a column-major numpy matrix of that instrument's item columns, gathered by
row position and checked one item column at a time; there is no per-row
Python code, so a million questionnaires score in well under a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

import evalkit.memory  # noqa: F401 - Arrow allocates from the C library's malloc (evalkit.memory.use_c_allocator)
from evalkit.instruments import _OPERATORS, Instrument, builtin_instruments

ItemCoding = Literal["keyed", "response_position"]

SCORE_STATUSES: tuple[str, ...] = ("complete", "prorated", "insufficient_items", "total_only", "invalid")
"""Allowed values of ``score_status``."""
_STATUS = {name: np.int8(i) for i, name in enumerate(SCORE_STATUSES)}  # status held as codes while scoring

SCORE_COLUMNS: tuple[str, ...] = ("score", "raw_score", "items_answered", "score_status", "score_reason", "caseness")
"""Columns :func:`score` always adds (plus ``flag_<name>`` and ``subscale_<code>`` columns)."""


def keyed_scores(inst: Instrument, item: int, values: np.ndarray, item_coding: ItemCoding, *,
                 out: np.ndarray | None = None) -> np.ndarray:
    """One item's cells as keyed scores (the scale of the instrument's scoring sheet).

    Keyed cells are kept. With ``item_coding="response_position"`` (the cells
    hold the position of the chosen option on the printed form), an item the
    instrument file lists in ``reverse_keyed`` scores
    ``item_min + item_max - position``; other items score their position.

    Parameters
    ----------
    inst
        The instrument.
    item
        1-based item number.
    values
        The item's cells as floats (NaN where missing).
    item_coding
        ``"keyed"`` or ``"response_position"``.
    out
        Where to write the result (may be ``values`` itself); a new array when not given.

    Examples
    --------
    >>> from evalkit.instruments import get_instrument
    >>> keyed_scores(get_instrument("epds"), 10, np.array([0.0, 3.0]), "response_position").tolist()
    [3.0, 0.0]
    """
    if out is None:
        out = np.array(values, dtype=float)
    elif out is not values:
        np.copyto(out, values)
    if item_coding == "response_position" and item in inst.reverse_keyed:
        np.subtract(inst.item_min[item - 1] + inst.item_max[item - 1], out, out=out)
    return out


def _float_values(column: pd.Series) -> np.ndarray | None:
    """Return a numeric (or boolean) column as float64 values with NaN where missing; None for text columns.

    A float64 column is returned as a read-only view of its data, not a copy.
    """
    if pd.api.types.is_bool_dtype(column.dtype):
        column = column.astype("float64")
    if pd.api.types.is_numeric_dtype(column.dtype):
        return column.to_numpy(dtype="float64", na_value=np.nan)
    return None


def _text_numbers(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Return (values, text_mask) of a text column: the numbers it holds, and where a cell held non-numeric text."""
    stripped = column.astype("string").str.strip()
    num = pd.to_numeric(stripped, errors="coerce")
    text = (stripped.notna() & (stripped != "") & num.isna()).to_numpy(dtype=bool)
    return num.to_numpy(dtype="float64", na_value=np.nan), text


def _append(reason: np.ndarray, mask: np.ndarray, text: Callable[[np.ndarray], np.ndarray] | str) -> None:
    """Append a message to ``reason`` where ``mask`` holds, separated by '; '.

    ``text`` is a fixed string or a function of the selected row positions that
    returns one string per row; it is only evaluated for the rows that need it.
    """
    if not mask.any():
        return
    rows = np.flatnonzero(mask)
    piece = text(rows) if callable(text) else text
    current = reason[rows]
    has = np.not_equal(current, None)
    if not has.any():
        reason[rows] = piece
        return
    new = np.empty(len(rows), dtype=object)
    new[:] = piece
    new[has] = current[has] + "; " + (piece[has] if isinstance(piece, np.ndarray) else piece)
    reason[rows] = new


def _fmt(values: np.ndarray) -> np.ndarray:
    """Format numbers for messages: 3 not 3.0, keep 2.5 and inf."""
    out = np.array([""] * len(values), dtype=object)
    finite = np.isfinite(values) & (np.abs(values) < 1e15)  # larger values overflow int64: shown as floats
    whole = finite & (values == np.floor(np.where(finite, values, 0)))
    out[whole] = values[whole].astype(np.int64).astype(str)
    out[~whole] = values[~whole].astype(str)
    return out


def _item_matrix(measures: pd.DataFrame, rows: np.ndarray, numeric: Mapping[str, np.ndarray],
                 columns: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
    """Return (values, text_mask) of ``columns`` at row positions ``rows``.

    ``values`` is a new column-major (n_rows x n_columns) float matrix, NaN where
    missing; ``text_mask`` marks cells that held non-numeric text, or is None when
    no column holds text. ``numeric`` holds the float values of the numeric
    columns (see :func:`_float_values`); other columns present in ``measures``
    are read as text, and absent columns are all missing.
    """
    x = np.empty((len(rows), len(columns)), order="F")
    text: np.ndarray | None = None
    for j, col in enumerate(columns):
        if col in numeric:
            np.take(numeric[col], rows, out=x[:, j], mode="clip")  # rows are valid positions; clip skips a buffer
        elif col in measures.columns:
            values, cell_text = _text_numbers(measures[col].iloc[rows])
            x[:, j] = values
            if text is None:
                text = np.zeros(x.shape, dtype=bool, order="F")
            text[:, j] = cell_text
        else:
            x[:, j] = np.nan
    return x, text


def _score_one(measures: pd.DataFrame, rows: np.ndarray, numeric: Mapping[str, np.ndarray], inst: Instrument,
               item_coding: ItemCoding, extra: np.ndarray) -> dict[str, np.ndarray]:
    """Score the rows of one instrument; returns output arrays aligned with ``rows``.

    ``rows`` are the row positions of this instrument's questionnaires in
    ``measures``; ``numeric`` holds the float values of its numeric columns (see
    :func:`_item_matrix`). ``extra`` marks the rows with a value in an item
    column beyond the instrument's items.
    """
    n = len(rows)
    cols = inst.item_columns
    x, text = _item_matrix(measures, rows, numeric, cols)
    lo = np.asarray(inst.item_min)
    hi = np.asarray(inst.item_max)
    reason = np.empty(n, dtype=object)  # None = no reason yet

    # One item column at a time (contiguous in x): whether each cell is a valid answer, the
    # reasons for the invalid ones; then the invalid and missing cells of x are set to 0 so
    # that x holds the valid answers only, and the row counts and sums are accumulated.
    valid = np.empty(x.shape, dtype=bool, order="F")  # a valid answer: a whole number in the item's range
    bad_row = np.zeros(n, dtype=bool)  # some item holds an invalid value or text
    answered = np.zeros(n, dtype=np.int64)
    ok = np.empty(n, dtype=bool)  # scratch
    scratch = np.empty(n)
    for j, col in enumerate(cols):
        xj, vj = x[:, j], valid[:, j]
        keyed_scores(inst, j + 1, xj, item_coding, out=xj)
        if text is None and _whole_within(xj, lo[j], hi[j], scratch):
            # every answer is valid (the usual column, as validation passes it on): valid = answered
            np.isnan(xj, out=ok)
            np.logical_not(ok, out=vj)
            np.copyto(xj, 0.0, where=ok)
            answered += vj
            continue
        with np.errstate(invalid="ignore"):
            np.greater_equal(xj, lo[j], out=vj)
            vj &= np.less_equal(xj, hi[j], out=ok)
            vj &= np.equal(np.floor(xj, out=scratch), xj, out=ok)  # NaN fails every test
        np.isnan(xj, out=ok)
        ok |= vj  # missing or valid (a text cell is missing in x)
        if text is not None:
            ok &= ~text[:, j]
        if not ok.all():
            bad_row |= ~ok
            present = ~np.isnan(xj)
            with np.errstate(invalid="ignore"):
                out_of_range = present & ((xj < lo[j]) | (xj > hi[j]))
                fractional = present & ~out_of_range & (xj != np.floor(xj))
            rng_text = f"{_fmt(lo[j:j+1])[0]}-{_fmt(hi[j:j+1])[0]}"
            if text is not None:
                _append(reason, text[:, j], f"{col} is not a number")
            _append(reason, out_of_range, lambda r, xj=xj, col=col, t=rng_text: col + "=" + _fmt(xj[r]) + f" is outside {t}")
            _append(reason, fractional, lambda r, xj=xj, col=col: col + "=" + _fmt(xj[r]) + " is not a whole number")
        np.copyto(xj, 0.0, where=np.logical_not(vj, out=ok))
        answered += vj
    item_sum = _row_sum(x, range(len(cols)))

    # Values in item columns this instrument does not have.
    _append(reason, extra, f"values in item columns beyond item_{inst.n_items} ({inst.code} has {inst.n_items} items)")

    invalid = bad_row | extra
    missing = inst.n_items - answered
    with np.errstate(invalid="ignore", divide="ignore"):
        item_mean = item_sum / answered

    if "total" in numeric:
        total = np.take(numeric["total"], rows)
        total_text = np.zeros(n, dtype=bool)
    elif "total" in measures.columns:
        total, total_text = _text_numbers(measures["total"].iloc[rows])
    else:
        total = np.full(n, np.nan)
        total_text = np.zeros(n, dtype=bool)

    score = np.full(n, np.nan)
    raw = np.where(answered > 0, item_sum, np.nan)
    status = np.full(n, _STATUS["complete"], dtype=np.int8)

    complete = (~invalid) & (missing == 0)
    allowed_missing = (~invalid) & (missing > 0) & (missing <= inst.max_missing) & (answered > 0)
    too_many_missing = (~invalid) & (answered > 0) & (missing > inst.max_missing)
    no_items = (~invalid) & (answered == 0)

    method = inst.method
    if method in ("sum", "sum_then_convert"):
        score[complete] = item_sum[complete]
        if inst.prorate:
            score[allowed_missing] = item_mean[allowed_missing] * inst.n_items
    elif method == "mean":
        score[complete | (allowed_missing & inst.prorate)] = item_mean[complete | (allowed_missing & inst.prorate)]
    elif method == "mean_times_10":
        ok = complete | (allowed_missing & inst.prorate)
        score[ok] = item_mean[ok] * 10.0

    prorated = allowed_missing & inst.prorate & (method not in ("none", "any_positive"))
    status[prorated] = _STATUS["prorated"]
    # messages that differ only in the number of unanswered items (0 .. n_items): written once per number, taken
    # for each row (no string built per row)
    counts = np.arange(inst.n_items + 1).astype(str).astype(object)
    _append(reason, prorated, lambda r: (counts + " item(s) unanswered; prorated from the answered items")[missing[r]])
    unscored_partial = allowed_missing & ~prorated & (method not in ("none", "any_positive"))
    status[unscored_partial | too_many_missing] = _STATUS["insufficient_items"]
    _append(
        reason,
        too_many_missing | unscored_partial,
        lambda r: (counts + f" of {inst.n_items} items unanswered; the rule allows at most "
                   f"{inst.max_missing if inst.prorate else 0}")[missing[r]],
    )
    if method == "none":
        _append(reason, allowed_missing, lambda r: (counts + " item(s) unanswered; reported item by item")[missing[r]])

    # Totals only.
    if method in ("none", "any_positive"):
        total_only_rows = no_items & (~np.isnan(total) | total_text)
        status[total_only_rows] = _STATUS["invalid"]
        invalid = invalid | total_only_rows
        _append(reason, total_only_rows, f"{inst.code} has no total score; record the items")
    else:
        tmin = float(lo.sum()) if method != "mean_times_10" else float(lo.mean() * 10)
        tmax = float(hi.sum()) if method != "mean_times_10" else float(hi.mean() * 10)
        if method == "mean":
            tmin, tmax = float(lo.min()), float(hi.max())
        with np.errstate(invalid="ignore"):
            total_bad = (~np.isnan(total)) & ((total < tmin) | (total > tmax))
            total_frac = (~np.isnan(total)) & ~total_bad & (total != np.floor(total)) & (method in ("sum", "sum_then_convert"))
        t_only = no_items & (~np.isnan(total) | total_text)
        t_invalid = t_only & (total_bad | total_frac | total_text)
        _append(reason, t_only & total_text, "total is not a number")
        _append(reason, t_only & total_bad, lambda r: "total=" + _fmt(total[r]) + f" is outside {_fmt(np.array([tmin]))[0]}-{_fmt(np.array([tmax]))[0]}")
        converted = " (the raw sum of the items, which is converted to the metric score)" \
            if method == "sum_then_convert" else ""
        _append(reason, t_only & total_frac, lambda r: "total=" + _fmt(total[r]) + " is not a whole number" + converted)
        t_ok = t_only & ~t_invalid
        status[t_ok] = _STATUS["total_only"]
        score[t_ok] = total[t_ok]
        raw[t_ok] = total[t_ok]
        invalid = invalid | t_invalid
        # A recorded total that disagrees with complete items: items win, say so.
        with np.errstate(invalid="ignore"):
            mismatch = complete & ~np.isnan(total) & (np.abs(total - item_sum) > 1e-9) & (method != "mean_times_10")
        _append(reason, mismatch, lambda r: "recorded total=" + _fmt(total[r]) + " differs from the item sum " + _fmt(item_sum[r]) + "; the item sum is used")

    if method == "sum_then_convert" and inst.conversion_table:
        keys = np.array(sorted(inst.conversion_table))
        vals = np.array([inst.conversion_table[k] for k in keys])
        has = ~np.isnan(score)
        rounded = np.floor(score[has] + 0.5).astype(np.int64)
        pos, found = _table_positions(keys, rounded)
        converted = np.where(found, vals[pos], np.nan)
        score[has] = converted
        lost = np.zeros(n, dtype=bool)
        lost[np.flatnonzero(has)[~found]] = True
        status[lost] = _STATUS["invalid"]
        invalid = invalid | lost
        _append(reason, lost, "raw total has no entry in the conversion table")

    no_data = no_items & (status == _STATUS["complete"]) & ~invalid  # an invalid total has its own reason
    status[no_data] = _STATUS["insufficient_items"]
    _append(reason, no_data, "no items answered and no total recorded")
    status[invalid] = _STATUS["invalid"]
    score[invalid] = np.nan
    raw[invalid] = np.nan

    result: dict[str, np.ndarray] = {}
    if method == "any_positive":
        positive = (valid & (x == hi)).any(axis=1) & ~invalid
        negative = (answered == inst.n_items) & ~positive & ~invalid
        caseness = np.where(positive, 1.0, np.where(negative, 0.0, np.nan))
        status[~invalid & ~positive & ~negative] = _STATUS["insufficient_items"]
        _append(reason, ~invalid & ~positive & ~negative & (answered > 0), "a negative screen needs every question answered")
        raw = np.where(answered > 0, (valid & (x == hi)).sum(axis=1), np.nan)
        raw[invalid] = np.nan
    else:
        cut = inst.default_cutoff
        caseness = np.full(n, np.nan)
        if cut is not None:
            has = ~np.isnan(score)
            caseness[has] = cut.applies(score[has]).astype(float)

    for sub in inst.subscales:
        idx = [i - 1 for i in sub.items]
        sub_ok = ~invalid
        for i in idx:
            sub_ok &= valid[:, i]
        vals_sub = _row_sum(x, idx)
        if sub.method == "mean":
            vals_sub = vals_sub / len(idx)
        result[f"subscale_{sub.code}"] = np.where(sub_ok, vals_sub, np.nan)

    for safety in inst.safety_items:
        j = safety.item - 1
        flagged = _OPERATORS[safety.operator](x[:, j], safety.value)  # x is 0 where the item is not valid
        result[f"flag_{safety.flag}"] = np.where(valid[:, j], flagged.astype(float), np.nan)

    result.update(score=score, raw_score=raw, items_answered=answered, score_status=status,
                  score_reason=reason, caseness=caseness)
    return result


def score(
    measures: pd.DataFrame,
    *,
    instruments: Mapping[str, Instrument] | None = None,
    item_coding: ItemCoding = "keyed",
    instrument_column: str = "instrument",
) -> pd.DataFrame:
    """Score questionnaires: totals, subscales, completeness, caseness and safety flags.

    Parameters
    ----------
    measures
        One row per completed questionnaire with an ``instrument`` code, item
        columns ``item_1`` ... and optionally ``total`` (the ``measures`` table
        of the data contract). Item cells may be numbers or text (as read from
        a CSV); text that is not a number makes the row invalid.
    instruments
        Registry to use (default: the shipped instruments plus
        ``EVALKIT_INSTRUMENTS_DIR``); see :func:`evalkit.instruments.load_instruments`.
    item_coding
        ``"keyed"`` (default): item columns hold keyed scores as on the
        instrument's scoring sheet. ``"response_position"``: they hold the
        position of the chosen option on the printed form (e.g. an online form
        that stores 0 for the first option); reverse-keyed items are then
        converted as ``keyed = item_min + item_max - position``.
    instrument_column
        Name of the column holding the instrument code.

    Returns
    -------
    pandas.DataFrame
        The input with every original column, in the same row order and index,
        plus:

        * ``score`` - total on the instrument's reporting metric (sum; mean x 10
          for CORE-10; the Rasch metric for SWEMWBS); NaN when not scorable,
          and for instruments reported item by item (ONS4) or screens (Whooley);
        * ``raw_score`` - the sum of the answered keyed items (the recorded
          total for ``total_only`` rows; the number of 'yes' answers for screens);
        * ``items_answered`` - answered items with a valid value;
        * ``score_status`` - ``complete``, ``prorated``, ``insufficient_items``,
          ``total_only`` or ``invalid``;
        * ``score_reason`` - why a row is not simply complete (empty otherwise);
        * ``caseness`` - score at or beyond the instrument's default cut-off
          (nullable boolean; NA without a cut-off or a score);
        * ``flag_<name>`` - safety flags, e.g. ``flag_self_harm`` (EPDS item 10
          > 0, PHQ-9 item 9 > 0), computed from the safety item whenever it is
          validly answered, even when the rest of the row is not scorable;
        * ``subscale_<code>`` - subscale scores for the instruments present
          (complete subscale items only, never prorated).

    Notes
    -----
    * Missing items follow each instrument file's rule (``missing_items``):
      with ``prorate`` and at most ``max_missing`` unanswered items the total is
      ``mean(answered items) x n_items`` (PHQ-9: at most 2 missing, Arrieta et
      al. 2017 via qscorer; CORE-10: at most 1, CORE System Trust). Otherwise a
      questionnaire with unanswered items is ``insufficient_items``.
    * Out-of-range, fractional or non-numeric item values, and values in item
      columns the instrument does not have, make the row ``invalid`` with a
      reason; nothing is clipped or guessed.
    * SWEMWBS: the raw sum (7-35) is converted with the table in its file
      (Stewart-Brown et al. 2009); a prorated raw sum, if a user allows one, is
      rounded half up before conversion.
    * ``total`` is used only when no item is answered (``total_only``); it
      holds the raw total as on the scoring sheet.
    * Unknown instrument codes give ``invalid`` rows.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.scoring import score
    >>> m = pd.DataFrame({"instrument": ["epds", "epds"],
    ...                   **{f"item_{i}": [1, 0] for i in range(1, 11)}})
    >>> m.loc[1, "item_10"] = 2
    >>> score(m)[["score", "score_status", "caseness", "flag_self_harm"]]
       score score_status  caseness  flag_self_harm
    0   10.0     complete     False            True
    1    2.0     complete     False            True
    """
    if item_coding not in ("keyed", "response_position"):
        raise ValueError(f"item_coding must be 'keyed' or 'response_position'; got {item_coding!r}")
    if instrument_column not in measures.columns:
        raise ValueError(f"measures has no {instrument_column!r} column (columns: {', '.join(map(str, measures.columns))})")
    registry = builtin_instruments() if instruments is None else instruments
    n = len(measures)
    # Instrument codes as integer labels (-1 = blank): no per-row Python objects.
    labels, uniques = _instrument_labels(measures[instrument_column])
    item_cols_all = sorted(
        (c for c in measures.columns if isinstance(c, str) and c.startswith("item_") and c[5:].isdigit()),
        key=lambda c: int(c[5:]),
    )
    present_codes = sorted(c for c in uniques if c in registry)

    out: dict[str, np.ndarray] = {
        "score": np.full(n, np.nan),
        "raw_score": np.full(n, np.nan),
        "items_answered": np.zeros(n, dtype=np.int64),
        "score_status": np.full(n, _STATUS["invalid"], dtype=np.int8),
        "score_reason": np.empty(n, dtype=object),  # None = no reason
        "caseness": np.full(n, np.nan),
    }
    flags = sorted({s.flag for inst in registry.values() for s in inst.safety_items})
    for fl in flags:
        out[f"flag_{fl}"] = np.full(n, np.nan)
    for code in present_codes:
        for sub in registry[code].subscales:
            out[f"subscale_{sub.code}"] = np.full(n, np.nan)

    known = np.zeros(n, dtype=bool)
    # Numeric item columns (and total) as float values, once: a view when already float64.
    numeric: dict[str, np.ndarray] = {}
    for c in (*item_cols_all, "total"):
        if c in measures.columns:
            values = _float_values(measures[c])
            if values is not None:
                numeric[c] = values
    # Values (a number or any text) in item columns beyond an instrument's last item make its rows
    # invalid. For each item count k of the instruments present, blank_beyond[k] marks the rows with
    # no value in any item column numbered above k; columns are read from the highest down.
    blank_beyond: dict[int, np.ndarray] = {}
    blank = np.ones(n, dtype=bool)
    cell_blank = np.empty(n, dtype=bool)
    descending = sorted(item_cols_all, key=lambda c: int(c[5:]), reverse=True)
    i = 0
    for k in sorted({registry[code].n_items for code in present_codes}, reverse=True):
        while i < len(descending) and int(descending[i][5:]) > k:
            c = descending[i]
            if c in numeric:
                np.isnan(numeric[c], out=cell_blank)
            else:
                v, t = _text_numbers(measures[c])
                np.logical_and(np.isnan(v), ~t, out=cell_blank)
            blank &= cell_blank
            i += 1
        blank_beyond[k] = blank.copy()
    rows_of = _rows_by_label(labels, len(uniques))
    for code in present_codes:
        inst = registry[code]
        rows = rows_of[uniques.index(code)]
        known[rows] = True
        extra = ~blank_beyond[inst.n_items][rows]
        res = _score_one(measures, rows, numeric, inst, item_coding, extra)
        for key, arr in res.items():
            out[key][rows] = arr
    unknown_rows = ~known
    if unknown_rows.any():
        text = np.array([f"unknown instrument '{u}'" for u in uniques] + ["unknown instrument '(blank)'"], dtype=object)
        out["score_reason"][unknown_rows] = text[labels[unknown_rows]]

    result = measures.copy(deep=False)
    for key, arr in out.items():
        column: np.ndarray | pd.api.extensions.ExtensionArray
        if key == "score_status":
            column = _status_array(arr)
        elif key == "score_reason":
            column = _string_array(arr)
        elif key == "items_answered":
            column = pd.arrays.IntegerArray(arr, np.zeros(n, dtype=bool))
        elif key == "caseness" or key.startswith("flag_"):
            column = pd.arrays.BooleanArray(arr == 1.0, np.isnan(arr))
        else:
            column = arr
        # As a Series on the same index, the new array is stored as it is (an array would be copied).
        result[key] = pd.Series(column, index=result.index, copy=False)
    result.attrs["item_coding"] = item_coding  # how the item cells are read (the safety list shows both)
    return result


def _instrument_labels(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Instrument codes (stripped, lower case) as integer labels into a list of codes; -1 = blank.

    A string column is factorised first and only its distinct values are
    normalised; other columns are converted to strings first.
    """
    if isinstance(column.dtype, pd.StringDtype):
        raw_labels, raw_uniques = pd.factorize(column, use_na_sentinel=True)
        normalised = pd.Series(np.asarray(raw_uniques, dtype=object), dtype=object).astype("string").str.strip().str.lower()
        unique_labels, uniques = pd.factorize(normalised, use_na_sentinel=True)
        labels = np.append(unique_labels, -1)[raw_labels]  # raw label -1 (blank) picks the appended -1
    else:
        codes = column.astype("string").str.strip().str.lower()
        labels, uniques = pd.factorize(codes, use_na_sentinel=True)
    return labels, [str(u) for u in uniques]


def _rows_by_label(labels: np.ndarray, count: int) -> list[np.ndarray]:
    """Row positions of each label ``0 .. count - 1``, each in row order (``numpy.flatnonzero(labels == k)``).

    One stable sort of the labels (a radix sort when they fit in 8 or 16 bits) serves every label, instead of a
    comparison of every row per label; label -1 (blank) sorts first and is left out.
    """
    small = labels.astype(np.int8) if count < 2**7 else labels.astype(np.int16) if count < 2**15 else labels
    order = np.argsort(small, kind="stable")
    ends = np.cumsum(np.bincount(labels + 1, minlength=count + 1))
    return [order[ends[k]:ends[k + 1]] for k in range(count)]


def _whole_within(values: np.ndarray, low: float, high: float, scratch: np.ndarray) -> bool:
    """Whether every value that is not NaN is a whole number from ``low`` to ``high`` (False when all are NaN).

    Three reductions and two passes into ``scratch`` (as long as ``values``), where checking each cell takes
    about twice as many: a column that passes needs no per-cell check of its answers.
    """
    if len(values) == 0:
        return False
    smallest, largest = np.fmin.reduce(values), np.fmax.reduce(values)  # NaN only when every value is NaN
    if not (smallest >= low and largest <= high):
        return False
    # every value is now finite: x - floor(x) is 0 for a whole number and in (0, 1) otherwise; NaN stays NaN
    np.floor(values, out=scratch)
    np.subtract(values, scratch, out=scratch)
    return bool(np.fmax.reduce(scratch) == 0)


def _table_positions(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Position of each of ``values`` in the sorted integer ``keys`` (some valid position where it is not there),
    and whether it is there.

    Keys spanning at most 4,096 integers (a conversion table) are looked up in a table indexed by value; others
    are searched (``numpy.searchsorted``). Both give the same positions for the values found.
    """
    low, high = int(keys[0]), int(keys[-1])
    if high - low > 4096:
        pos = np.clip(np.searchsorted(keys, values), 0, len(keys) - 1)
        return pos, keys[pos] == values
    slot = np.zeros(high - low + 1, dtype=np.intp)  # a value between keys gets position 0, which is not it
    slot[keys - low] = np.arange(len(keys))
    inside = (values >= low) & (values <= high)
    pos = slot[np.where(inside, values - low, 0)]
    return pos, inside & (keys[pos] == values)


def _row_sum(x: np.ndarray, columns: Sequence[int]) -> np.ndarray:
    """Sum of ``columns`` of ``x`` per row, added column by column (contiguous in a column-major ``x``).

    Used on matrices of valid answers (whole numbers) and zeros, whose sums are
    exact in any order; starting from +0.0 as ``numpy.sum`` does, the result
    equals ``x[:, columns].sum(axis=1)`` (also in the sign of a zero).
    """
    total = np.zeros(len(x))
    for j in columns:
        total += x[:, j]
    return total


def _string_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """An object array of str or None as a pandas ``"string"`` array, without a per-row loop in Python."""
    import pyarrow as pa

    return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype="string")


def _status_array(codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Status codes (:data:`_STATUS`) as a pandas ``"string"`` array of their names."""
    import pyarrow as pa

    names = pa.array(list(SCORE_STATUSES), type=pa.large_string())
    return pd.array(names.take(pa.array(codes, type=pa.int8())), dtype="string")
