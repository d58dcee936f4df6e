"""Read dates the way a UK provider writes them, and never guess an ambiguous one.

Accepted (rule ``type`` otherwise):

* ISO ``YYYY-MM-DD`` (a time after it, as Excel and FHIR write, is ignored) - always fine;
* day/month/year with ``/``, ``.`` or ``-`` and a 2- or 4-digit year (``25`` = 2025);
* the format stated for the column in the provider's mapping.

Day or month first? Within one file (and sheet) and column:

* a value whose first number is over 12 (``13/04/2025``) can only be day/month/year;
  one whose second number is over 12 can only be month/day/year;
* if the column has only the first kind, every value is read day/month/year
  (the column is "clearly UK"), and likewise for month/day/year;
* if the column's own values decide nothing, the same file's other date columns
  decide (``referral_date`` holding ``15/02/2026`` makes ``first_contact_date``
  ``10/02/2026`` day/month), with a ``date_order_from_file`` warning on each
  cell so read, provided those columns agree;
* otherwise a value that reads as two different dates (``03/04/2025``) is an
  ``ambiguous_date`` error for that row; a value that reads the same both ways
  (``05/05/2025``) is fine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.validation.cells import distinct_cells

__all__ = ["DateReading", "read_dates", "describe_date"]

_ISO = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?$"
_DMY = r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4}|\d{2})$"


@dataclass(frozen=True)
class DateReading:
    """The dates of one column, row by row.

    Attributes
    ----------
    values
        ``datetime64[ns]``; NaT where missing, not a date, or ambiguous.
    bad
        Non-missing cells that are not a date (rule ``type``).
    ambiguous
        Cells that read as two different dates (rule ``ambiguous_date``).
    first_reading, second_reading
        For ambiguous cells: the day/month and month/day readings (NaT elsewhere). Read only: when no cell
        is ambiguous both are one read-only view of NaT, not an array per row.
    order
        Per row, the day/month order this column's own values decide for the row's group: 1 day/month,
        -1 month/day, 0 undecided (``None`` when a format was stated).
    by_file_order
        Cells that would be ambiguous but were read in the order ``file_order`` gave (``None``: none).
    """

    values: np.ndarray
    bad: np.ndarray
    ambiguous: np.ndarray
    first_reading: np.ndarray
    second_reading: np.ndarray
    order: np.ndarray | None = None
    by_file_order: np.ndarray | None = None


def _to_ns(parsed: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """``datetime64[ns]`` values; a date outside that type's range (before 1677-09-22 or after 2262-04-11)
    becomes NaT (so rule ``type``) instead of silently wrapping round to a wrong date (2600-01-01 -> 2015-06-13)."""
    s = pd.Series(parsed)
    inside = s.notna() & (s >= pd.Timestamp.min) & (s <= pd.Timestamp.max)
    return s.where(inside).to_numpy(dtype="datetime64[ns]")


_FIRST_DAY = np.datetime64("1677-09-22", "D")  # the whole days datetime64[ns] can hold (see _to_ns)
_LAST_DAY = np.datetime64("2262-04-11", "D")


def _build(year: pd.Series, month: pd.Series, day: pd.Series) -> np.ndarray:
    """``datetime64[ns]`` dates from year, month and day numbers; NaT where they are not a calendar date
    (31 April, 29 February 2023), a part is missing or out of range, or the date is outside ``datetime64[ns]``
    (parts are whole numbers read from the text; a fraction would be cut off, as ``astype("int64")`` does).

    Worked out in numpy: the first of the month plus ``day - 1`` days must still fall in that month.
    """
    y, m, d = (np.asarray(part, dtype="float64") for part in (year, month, day))
    with np.errstate(invalid="ignore"):
        ok = (~np.isnan(y) & ~np.isnan(m) & ~np.isnan(d) & (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31)
              & (y >= 1000) & (y <= 9999))
    out = np.full(len(y), np.datetime64("NaT"), dtype="datetime64[ns]")
    if ok.any():
        yi, mi, di = (part[ok].astype(np.int64) for part in (y, m, d))
        months = ((yi - 1970) * 12 + (mi - 1)).astype("datetime64[M]")
        days = months.astype("datetime64[D]") + (di - 1)
        real = (days.astype("datetime64[M]") == months) & (days >= _FIRST_DAY) & (days <= _LAST_DAY)
        out[np.flatnonzero(ok)[real]] = days[real].astype("datetime64[ns]")
    return out


def describe_date(values: np.ndarray) -> pd.Series:
    """Dates written out for a person: ``3 April 2025``."""
    stamps = pd.Series(pd.to_datetime(values))
    return stamps.dt.day.astype("Int64").astype(str) + " " + stamps.dt.month_name() + " " + \
        stamps.dt.year.astype("Int64").astype(str)


def read_dates(cells: pd.Series, groups: np.ndarray, stated_format: str | None = None,
               file_order: np.ndarray | None = None) -> DateReading:
    """Parse a date column.

    Parameters
    ----------
    cells
        Cleaned cells (stripped strings, missing as NA).
    groups
        Integer code of each row's file (and sheet): day/month order is decided per group.
    stated_format
        ``strftime`` format stated in the provider's mapping, if any.
    file_order
        Per row, the order the file's *other* date columns decide (1 day/month, -1 month/day, 0 undecided).
        Used only for a group whose own values decide nothing: it is read day/month when some row of the
        group says 1 and none says -1 (and month/day the other way round); the cells that would otherwise be
        ambiguous are flagged in :attr:`DateReading.by_file_order`.
    """
    n = len(cells)
    codes, uniques = distinct_cells(cells)
    uniques = pd.Series(np.asarray(uniques, dtype=object), dtype="str")
    none = np.broadcast_to(np.datetime64("NaT", "ns"), (n,))  # no second reading of any cell
    if len(uniques) == 0 or not (codes >= 0).any():
        nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        return DateReading(nat, np.zeros(n, bool), np.zeros(n, bool), none, none)

    iso_parts = uniques.str.extract(_ISO)
    iso = _build(iso_parts[0], iso_parts[1], iso_parts[2])
    if stated_format is not None:
        stated = pd.to_datetime(uniques.astype(object), format=stated_format, errors="coerce")
        stated = _to_ns(stated)
        blank = np.full(1, np.datetime64("NaT"), dtype="datetime64[ns]")
        chosen = np.concatenate([blank, np.where(np.isnat(iso), stated, iso)])  # a blank cell first
        # code + 1 in int64: a categorical's codes may be int8 and must not wrap
        values = chosen.take(np.add(codes, 1, dtype=np.int64))
        return DateReading(values, (codes >= 0) & np.isnat(values), np.zeros(n, bool), none, none)
    dmy_text = uniques.str.extract(_DMY)
    dmy_parts = dmy_text.astype("float64")
    a, b, y = dmy_parts[0], dmy_parts[1], dmy_parts[2]
    two_digit_year = (dmy_text[2].str.len() == 2).fillna(False).astype(bool)  # '25' is 2025; '0025' is not
    y = y.where(~two_digit_year, y + 2000)
    is_dmy_form = a.notna().to_numpy()
    as_dmy = _build(y, b, a)
    as_mdy = _build(y, a, b)
    day_first_only = (is_dmy_form & (a > 12).to_numpy() & (b <= 12).to_numpy())
    month_first_only = (is_dmy_form & (b > 12).to_numpy() & (a <= 12).to_numpy())
    same_both_ways = is_dmy_form & (a == b).to_numpy()

    # the day/month order is decided per group from the values its rows hold: which (group, value) pairs occur
    group_of, n_groups = _group_numbers(np.asarray(groups), n)
    m = len(uniques)
    # each row's place in a (group, blank + distinct value) table (column 0: a blank cell), worked out once
    # for the counts here and every table spread per row below; in int64, as a categorical's codes may be
    # int8 (code + 1 must not wrap), without an int64 copy of the codes themselves
    at = np.add(codes, 1, dtype=np.int64) if group_of is None else group_of * (m + 1) + codes + 1
    used = (np.bincount(at, minlength=n_groups * (m + 1)) > 0).reshape(n_groups, m + 1)[:, 1:]
    group_day = (used & day_first_only).any(axis=1)[:, None]
    group_month = (used & month_first_only).any(axis=1)[:, None]
    order_dmy = group_day & ~group_month
    order_mdy = group_month & ~group_day
    own_order = np.where(order_dmy, 1, np.where(order_mdy, -1, 0)).astype(np.int8)  # (n_groups, 1)
    hinted_groups = np.zeros((n_groups, 1), dtype=bool)
    if file_order is not None:
        fo = np.asarray(file_order)
        g = np.zeros(n, dtype=np.int64) if group_of is None else group_of
        says_dmy = (np.bincount(g, weights=(fo == 1), minlength=n_groups) > 0)[:, None]
        says_mdy = (np.bincount(g, weights=(fo == -1), minlength=n_groups) > 0)[:, None]
        undecided = ~group_day & ~group_month
        hinted_groups = undecided & (says_dmy ^ says_mdy)
        order_dmy = order_dmy | (hinted_groups & says_dmy)
        order_mdy = order_mdy | (hinted_groups & says_mdy)

    # every (group, distinct value) read once; column 0 of each group's row is a blank cell
    slash = np.broadcast_to(is_dmy_form, (n_groups, m))
    use_dmy = slash & (order_dmy | (~order_mdy & (day_first_only | same_both_ways)))
    use_mdy = slash & ~use_dmy & (order_mdy | month_first_only)
    table = np.where(use_dmy, as_dmy, np.where(use_mdy, as_mdy, iso))
    ambiguous = slash & ~use_dmy & ~use_mdy & ~np.isnat(as_dmy) & ~np.isnat(as_mdy)
    bad = np.isnat(table) & ~ambiguous

    def per_row(values: np.ndarray, blank: object) -> np.ndarray:
        full = np.concatenate([np.full((n_groups, 1), blank, dtype=values.dtype), values], axis=1).ravel()
        return full.take(at)

    values = per_row(table, np.datetime64("NaT"))
    row_ambiguous = per_row(ambiguous, False)
    order = own_order.ravel()[np.zeros(n, dtype=np.int64) if group_of is None else group_of]
    by_file = None
    if hinted_groups.any():
        two_ways = slash & hinted_groups & ~np.isnat(as_dmy) & ~np.isnat(as_mdy) & (as_dmy != as_mdy)
        by_file = per_row(two_ways, False)
    if not row_ambiguous.any():
        return DateReading(values, per_row(bad, False), row_ambiguous, none, none, order, by_file)
    first = per_row(np.where(ambiguous, as_dmy, np.datetime64("NaT")), np.datetime64("NaT"))
    second = per_row(np.where(ambiguous, as_mdy, np.datetime64("NaT")), np.datetime64("NaT"))
    return DateReading(values, per_row(bad, False), row_ambiguous, first, second, order, by_file)


def _group_numbers(groups: np.ndarray, n: int) -> tuple[np.ndarray | None, int]:
    """Each row's group as 0, 1, ... and how many groups there are (``None``: every row in one group)."""
    if n == 0 or (groups.dtype.kind in "iu" and groups.min() == groups.max()):
        return None, 1
    numbers, distinct = pd.factorize(groups)
    return numbers.astype(np.int64), len(distinct)
