"""Vectorised scoring of questionnaires into totals, subscales, caseness and safety flags.

One call scores a frame that may mix instruments. Work is done per instrument
on a numpy matrix of that instrument's item columns; there is no per-row
Python code, so a million questionnaires score in about a second.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import pandas as pd

import evalkit.memory  # noqa: F401 - Arrow allocates from the C library's malloc (evalkit.memory.use_c_allocator)
from evalkit.instruments import Instrument, builtin_instruments

ItemCoding = Literal["keyed", "response_position"]

SCORE_STATUSES: tuple[str, ...] = ("complete", "prorated", "insufficient_items", "total_only", "invalid")
"""Allowed values of ``score_status``."""
_STATUS = {name: np.int8(i) for i, name in enumerate(SCORE_STATUSES)}  # status held as codes while scoring

SCORE_COLUMNS: tuple[str, ...] = ("score", "raw_score", "items_answered", "score_status", "score_reason", "caseness")
"""Columns :func:`score` always adds (plus ``flag_<name>`` and ``subscale_<code>`` columns)."""


def _numeric_items(frame: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Return (values, text_mask): item values as floats and where a cell held non-numeric text."""
    n = len(frame)
    values = np.full((n, len(columns)), np.nan)
    text = np.zeros((n, len(columns)), dtype=bool)
    for j, col in enumerate(columns):
        if col not in frame.columns:
            continue
        s = frame[col]
        if pd.api.types.is_bool_dtype(s.dtype):
            s = s.astype("float64")
        if pd.api.types.is_numeric_dtype(s.dtype):
            values[:, j] = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            stripped = s.astype("string").str.strip()
            num = pd.to_numeric(stripped, errors="coerce")
            values[:, j] = num.to_numpy(dtype="float64", na_value=np.nan)
            text[:, j] = (stripped.notna() & (stripped != "") & num.isna()).to_numpy(dtype=bool)
    return values, text


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


def _score_one(frame: pd.DataFrame, inst: Instrument, item_coding: ItemCoding, extra: np.ndarray) -> dict[str, np.ndarray]:
    """Score the rows of one instrument; returns output arrays aligned with ``frame``.

    ``extra`` marks the rows with a value in an item column beyond the instrument's items.
    """
    n = len(frame)
    cols = inst.item_columns
    x, text = _numeric_items(frame, cols)
    lo = np.asarray(inst.item_min)
    hi = np.asarray(inst.item_max)
    reason = np.empty(n, dtype=object)  # None = no reason yet

    if item_coding == "response_position" and inst.reverse_keyed:
        rev = np.asarray(inst.reverse_keyed) - 1
        x[:, rev] = lo[rev] + hi[rev] - x[:, rev]

    present = ~np.isnan(x)
    with np.errstate(invalid="ignore"):
        out_of_range = present & ((x < lo) | (x > hi))
        fractional = present & ~out_of_range & (x != np.floor(x))
    bad_item = out_of_range | fractional | text
    for j, col in enumerate(cols):
        rng_text = f"{_fmt(lo[j:j+1])[0]}-{_fmt(hi[j:j+1])[0]}"
        _append(reason, text[:, j], f"{col} is not a number")
        _append(reason, out_of_range[:, j], lambda r, j=j, col=col, t=rng_text: col + "=" + _fmt(x[r, j]) + f" is outside {t}")
        _append(reason, fractional[:, j], lambda r, j=j, col=col: col + "=" + _fmt(x[r, j]) + " is not a whole number")

    # Values in item columns this instrument does not have.
    _append(reason, extra, f"values in item columns beyond item_{inst.n_items} ({inst.code} has {inst.n_items} items)")

    invalid = bad_item.any(axis=1) | extra
    valid_present = present & ~bad_item
    answered = valid_present.sum(axis=1)
    missing = inst.n_items - answered
    xz = np.where(valid_present, x, 0.0)
    item_sum = xz.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        item_mean = item_sum / answered

    total = np.full(n, np.nan)
    total_text = np.zeros(n, dtype=bool)
    if "total" in frame.columns:
        tv, tt = _numeric_items(frame, ["total"])
        total, total_text = tv[:, 0], tt[:, 0]

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
    _append(reason, prorated, lambda r: missing[r].astype(str).astype(object) + " item(s) unanswered; prorated from the answered items")
    unscored_partial = allowed_missing & ~prorated & (method not in ("none", "any_positive"))
    status[unscored_partial | too_many_missing] = _STATUS["insufficient_items"]
    _append(
        reason,
        too_many_missing | unscored_partial,
        lambda r: missing[r].astype(str).astype(object)
        + f" of {inst.n_items} items unanswered; the rule allows at most {inst.max_missing if inst.prorate else 0}",
    )
    if method == "none":
        _append(reason, allowed_missing, lambda r: missing[r].astype(str).astype(object) + " item(s) unanswered; reported item by item")

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
        _append(reason, t_only & total_frac, lambda r: "total=" + _fmt(total[r]) + " is not a whole number")
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
        pos = np.clip(np.searchsorted(keys, rounded), 0, len(keys) - 1)
        found = keys[pos] == rounded
        converted = np.where(found, vals[pos], np.nan)
        score[has] = converted
        lost = np.zeros(n, dtype=bool)
        lost[np.flatnonzero(has)[~found]] = True
        status[lost] = _STATUS["invalid"]
        invalid = invalid | lost
        _append(reason, lost, "raw total has no entry in the conversion table")

    no_data = no_items & (status == _STATUS["complete"])
    status[no_data] = _STATUS["insufficient_items"]
    _append(reason, no_data, "no items answered and no total recorded")
    status[invalid] = _STATUS["invalid"]
    score[invalid] = np.nan
    raw[invalid] = np.nan

    result: dict[str, np.ndarray] = {}
    if method == "any_positive":
        positive = (valid_present & (xz == hi)).any(axis=1) & ~invalid
        negative = (answered == inst.n_items) & ~positive & ~invalid
        caseness = np.where(positive, 1.0, np.where(negative, 0.0, np.nan))
        status[~invalid & ~positive & ~negative] = _STATUS["insufficient_items"]
        _append(reason, ~invalid & ~positive & ~negative & (answered > 0), "a negative screen needs every question answered")
        raw = np.where(answered > 0, (valid_present & (xz == hi)).sum(axis=1), np.nan)
        raw[invalid] = np.nan
    else:
        cut = inst.default_cutoff
        caseness = np.full(n, np.nan)
        if cut is not None:
            has = ~np.isnan(score)
            caseness[has] = cut.applies(score[has]).astype(float)

    for sub in inst.subscales:
        idx = np.asarray(sub.items) - 1
        sub_ok = valid_present[:, idx].all(axis=1) & ~invalid
        vals_sub = xz[:, idx].sum(axis=1)
        if sub.method == "mean":
            vals_sub = vals_sub / len(idx)
        result[f"subscale_{sub.code}"] = np.where(sub_ok, vals_sub, np.nan)

    for safety in inst.safety_items:
        j = safety.item - 1
        ok = valid_present[:, j]
        from evalkit.instruments import _OPERATORS

        flagged = _OPERATORS[safety.operator](np.where(ok, x[:, j], 0.0), safety.value)
        result[f"flag_{safety.flag}"] = np.where(ok, flagged.astype(float), np.nan)

    result.update(score=score, raw_score=raw, items_answered=answered.astype(float), score_status=status,
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
    codes = measures[instrument_column].astype("string").str.strip().str.lower()
    item_cols_all = sorted(
        (c for c in measures.columns if isinstance(c, str) and c.startswith("item_") and c[5:].isdigit()),
        key=lambda c: int(c[5:]),
    )
    present_codes = sorted(c for c in pd.unique(codes.dropna()) if c in registry)

    out: dict[str, np.ndarray] = {
        "score": np.full(n, np.nan),
        "raw_score": np.full(n, np.nan),
        "items_answered": np.zeros(n),
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

    # Instrument codes as integer labels (-1 = blank): no per-row Python objects.
    labels, uniques = pd.factorize(codes, use_na_sentinel=True)
    uniques = [str(u) for u in uniques]
    known = np.zeros(n, dtype=bool)
    # Highest item column holding a value (a number or any text), per row: values beyond an
    # instrument's last item make its rows invalid.
    top_item = np.zeros(n, dtype=np.int64)
    for c in item_cols_all:
        v, t = _numeric_items(measures, [c])
        top_item[~np.isnan(v[:, 0]) | t[:, 0]] = int(c[5:])
    for code in present_codes:
        inst = registry[code]
        rows = np.flatnonzero(labels == uniques.index(code))
        known[rows] = True
        wanted = [c for c in (*inst.item_columns, "total") if c in measures.columns]
        sub = measures[wanted].iloc[rows]  # only the columns this instrument reads
        res = _score_one(sub, inst, item_coding, top_item[rows] > inst.n_items)
        for key, arr in res.items():
            out[key][rows] = arr
    unknown_rows = ~known
    if unknown_rows.any():
        text = np.array([f"unknown instrument '{u}'" for u in uniques] + ["unknown instrument '(blank)'"], dtype=object)
        out["score_reason"][unknown_rows] = text[labels[unknown_rows]]

    result = measures.copy(deep=False)
    for key, arr in out.items():
        if key == "score_status":
            result[key] = _status_array(arr)
        elif key == "score_reason":
            result[key] = _string_array(arr)
        elif key == "items_answered":
            result[key] = pd.array(arr.astype(np.int64), dtype="Int64")
        elif key == "caseness" or key.startswith("flag_"):
            missing = np.isnan(arr)
            result[key] = pd.arrays.BooleanArray(arr == 1.0, missing)
        else:
            result[key] = arr
    return result


def _string_array(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """An object array of str or None as a pandas ``"string"`` array, without a per-row loop in Python."""
    import pyarrow as pa

    return pd.array(pa.array(values, type=pa.large_string(), from_pandas=True), dtype="string")


def _status_array(codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Status codes (:data:`_STATUS`) as a pandas ``"string"`` array of their names."""
    import pyarrow as pa

    names = pa.array(list(SCORE_STATUSES), type=pa.large_string())
    return pd.array(names.take(pa.array(codes, type=pa.int8())), dtype="string")
