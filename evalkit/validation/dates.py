"""Read dates the way a UK provider writes them, and never guess an ambiguous one.

Accepted (rule ``type`` otherwise):

* ISO ``YYYY-MM-DD`` (a time after it, as Excel and FHIR write, is ignored) - always fine;
* day/month/year with ``/``, ``.``, ``-`` or a space (``13 01 2025``) and a 2- or 4-digit year (``25`` = 2025, ``85`` = 2085: a year
  written with two digits is always in the 2000s, see :func:`two_digit_years`);
* a date with the month written as an English word or its abbreviation, in any case: ``4 March 2025``,
  ``4 Mar 2025``, ``04-Mar-2025``, ``4-Mar-25``, ``4th March 2025``, ``March 4, 2025``, ``Mar 4 2025``,
  ``2025-Mar-04``, also after a weekday (``Tuesday, 4 March 2025``, which must be the right weekday). The
  month word settles the day/month order, so these are never ambiguous and do not decide the order of the
  column's other dates;
* an Excel date number (:func:`excel_serial_dates`): a whole number from 36526 to 73050, which Excel shows as
  a date from 1 January 2000 to 31 December 2099, is what a date cell holds once its date formatting is lost
  (saved as CSV, or a cell formatted General); a date-time cell holds the same number with the time of day
  as its fraction (``45720.5``: 4 March 2025 at noon). It is read as that date (the time of day dropped, as
  after an ISO date) and flagged (:attr:`DateReading.excel_serial`) so the report can say so; any other
  number stays rule ``type``;
* the format stated for the column in the provider's mapping; a two-digit year in it (``YY``, ``%y``) is in the
  2000s as everywhere else (Python's ``%y`` alone would put 69-99 in the 1900s).

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

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import distinct_cells

__all__ = ["EXCEL_SERIAL_RANGE", "DateReading", "date_forms", "date_order_votes", "describe_date",
           "excel_serial_dates", "format_to_state", "named_month_dates", "not_a_date", "not_in_stated_format",
           "order_votes", "read_dates",
           "two_digit_years", "written_date_format", "wrong_weekday"]

_ISO = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}:?\d{2})?)?$"
_DMY_SEPARATOR = r"[/.\- ]"
"""What may stand between the day, month and year numbers: ``/``, ``.``, ``-`` or one space (``13 01 2025``)."""
_DMY = r"^(\d{1,2})" + _DMY_SEPARATOR + r"(\d{1,2})" + _DMY_SEPARATOR + r"(\d{4}|\d{2})$"
_SPACE_LIKE = "[\u00a0\u2007\u202f]"
"""Spaces that are not the space bar's: no-break (U+00A0), figure (U+2007) and narrow no-break (U+202F). Word
processors and spreadsheets put them into dates (``4 March 2025`` kept on one line); a date is read with each as
a plain space (:func:`_plain_spaces`)."""

_MONTH_WORD = (r"(jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?"
               r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_WEEKDAY_WORD = (r"(?:(mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?"
                 r"|sun(?:day)?)\.?,?\s+)?")
_DAY_NUMBER = r"(\d{1,2})(?:st|nd|rd|th)?"
_GAP = r"[\s/.-]+"
_NAMED = re.compile(
    "^" + _WEEKDAY_WORD + "(?:"
    + _DAY_NUMBER + r"(?:\s+of)?" + _GAP + _MONTH_WORD + r",?" + _GAP + r"(\d{4}|\d{2})"  # 4 March 2025
    + "|" + _MONTH_WORD + _GAP + _DAY_NUMBER + r",?" + _GAP + r"(\d{4})"  # March 4, 2025
    + "|" + r"(\d{4})" + _GAP + _MONTH_WORD + _GAP + _DAY_NUMBER  # 2025-Mar-04
    + ")$", re.IGNORECASE)
"""A date with its month as a word. Groups: weekday; day, month, year (day first); month, day, year (month
first); year, month, day (year first)."""
_MONTH_NUMBER = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}
_WEEKDAY_NUMBER = {name: number for number, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}

_SERIAL = r"^([1-9]\d{4})(?:\.\d+)?$"
EXCEL_SERIAL_RANGE = (36526, 73050)
"""Whole numbers read as Excel date numbers: 1 January 2000 to 31 December 2099 in Excel's 1900 date system."""
_EXCEL_DAY_ZERO = np.datetime64("1899-12-30", "D")


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
    excel_serial
        Cells read as Excel date numbers (``None``: none); see :func:`excel_serial_dates`.
    """

    values: np.ndarray
    bad: np.ndarray
    ambiguous: np.ndarray
    first_reading: np.ndarray
    second_reading: np.ndarray
    order: np.ndarray | None = None
    by_file_order: np.ndarray | None = None
    excel_serial: np.ndarray | None = None


def _to_ns(parsed: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """``datetime64[ns]`` values; a date outside that type's range (before 1677-09-22 or after 2262-04-11)
    becomes NaT (so rule ``type``) instead of silently wrapping round to a wrong date (2600-01-01 -> 2015-06-13)."""
    s = pd.Series(parsed)
    inside = s.notna() & (s >= pd.Timestamp.min) & (s <= pd.Timestamp.max)
    return s.where(inside).to_numpy(dtype="datetime64[ns]")


_FIRST_DAY = np.datetime64("1677-09-22", "D")  # the whole days datetime64[ns] can hold (see _to_ns)
_LAST_DAY = np.datetime64("2262-04-11", "D")


_TWO_DIGIT_CENTURY = 2000
"""The century of every year written with two digits: ``25`` is 2025, ``85`` 2085 (:func:`two_digit_years`)."""


def two_digit_years(years: pd.Series | np.ndarray) -> np.ndarray:
    """The year each two-digit year (0-99) stands for: evalkit's one rule, in the 2000s (``85`` is 2085).

    Applied to every date read with a two-digit year: day/month/year (``03/04/85``), a month word (``3-Apr-85``) and a
    format the provider states (``DD/MM/YY``), so stating the format never changes which year a cell is read as.
    """
    return _TWO_DIGIT_CENTURY + np.asarray(years, dtype="float64")


def _years(text: pd.Series) -> np.ndarray:
    """The year each year text (digits, or missing) names: four digits as written, two by :func:`two_digit_years`."""
    number = text.astype("float64").to_numpy()
    short = (text.str.len() == 2).fillna(False).to_numpy(dtype=bool)
    return np.where(short, two_digit_years(number), number)


def _stated_two_digit_years(dates: np.ndarray) -> np.ndarray:
    """Dates read by a stated format with a two-digit year (``%y``) moved to the year :func:`two_digit_years` gives.

    ``strptime`` (Python's and pandas') reads ``%y`` 69-99 as 1969-1999 and 00-68 as 2000-2068; the year's last
    two digits are what was written, so they are put in the 2000s; month, day and any time of day are kept.
    """
    stamps = pd.Series(dates)
    read = stamps.notna().to_numpy()
    if not read.any():
        return dates
    day = _build(two_digit_years(stamps.dt.year % 100), stamps.dt.month, stamps.dt.day)
    time = (stamps - stamps.dt.normalize()).to_numpy(dtype="timedelta64[ns]")
    out = dates.copy()
    out[read] = day[read] + time[read]
    return out


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


def named_month_dates(texts: pd.Series) -> np.ndarray:
    """``datetime64[ns]`` dates of texts whose month is an English word or abbreviation, any case
    (``4 March 2025``, ``04-Mar-25``, ``March 4, 2025``, ``2025-Mar-04``, ``Tuesday, 4 March 2025``); NaT for any
    other text, a day the month does not have, or a weekday that is not the date's.

    A two-digit year is in the 2000s (:func:`two_digit_years`), as for ``04/03/25``. Worked out on the texts given
    (call it on distinct values): one regular-expression pass, then numpy.
    """
    dates, weekday = _named_month_parts(texts)
    dates[~np.isnan(weekday) & ~np.isnat(dates) & (_weekday_of(dates) != weekday)] = np.datetime64("NaT")
    return dates


def wrong_weekday(texts: pd.Series) -> np.ndarray:
    """For each text, why a month-word date with a weekday was not read (its weekday is not the date's), in
    words (``3 February 2024 was a Saturday, not a Monday``); ``None`` for any other text.

    Call it on the texts refused as dates, so that the message says what is wrong instead of "not a date".
    """
    dates, weekday = _named_month_parts(texts)
    actual = _weekday_of(dates)
    wrong = ~np.isnan(weekday) & ~np.isnat(dates) & (actual != weekday)
    out = np.full(len(texts), None, dtype=object)
    if wrong.any():
        names = np.array(_WEEKDAY_NAMES, dtype=object)
        out[wrong] = (describe_date(dates[wrong]).to_numpy(dtype=object) + " was a "
                      + names[actual[wrong].astype(np.int64)] + ", not a " + names[weekday[wrong].astype(np.int64)])
    return out


_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _named_month_parts(texts: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The dates of month-word texts whatever weekday they name (NaT for other texts), and the weekday each names
    (0 Monday .. 6 Sunday; NaN for none)."""
    parts = texts.astype(object).str.extract(_NAMED)
    if parts.empty:
        return np.full(len(texts), np.datetime64("NaT"), dtype="datetime64[ns]"), np.full(len(texts), np.nan)
    day = parts[1].fillna(parts[5]).fillna(parts[9])
    month_word = parts[2].fillna(parts[4]).fillna(parts[8])
    year_text = parts[3].fillna(parts[6]).fillna(parts[7])
    month = month_word.str.slice(0, 3).str.lower().map(_MONTH_NUMBER)
    dates = _build(_years(year_text), month, day.astype("float64"))
    weekday = parts[0].str.slice(0, 3).str.lower().map(_WEEKDAY_NUMBER).to_numpy(dtype="float64")
    return dates, weekday


def _weekday_of(dates: np.ndarray) -> np.ndarray:
    """Weekday of each date, 0 Monday .. 6 Sunday (NaN for NaT)."""
    days = dates.astype("datetime64[D]").astype(np.int64)
    out = ((days + 3) % 7).astype("float64")  # 1 January 1970 was a Thursday (3, Monday being 0)
    out[np.isnat(dates)] = np.nan
    return out


def excel_serial_dates(texts: pd.Series) -> np.ndarray:
    """``datetime64[ns]`` dates of texts that are Excel date numbers (1900 date system); NaT for any other text.

    A date cell whose formatting is lost (a workbook saved as CSV, a cell formatted General) shows the number
    Excel keeps for the date: the count of days in its 1900 date system, where 1 is 1 January 1900. Excel
    counts a 29 February 1900 that never was (number 60), copying Lotus 1-2-3 (Microsoft, "Excel incorrectly
    assumes that the year 1900 is a leap year", KB 214326,
    https://learn.microsoft.com/en-us/office/troubleshoot/excel/wrongly-assumes-1900-is-leap-year; ECMA-376
    Part 1, 18.17.4.1), so from 61 (1 March 1900) on, number ``n`` is 30 December 1899 plus ``n`` days:
    45658 is 1 January 2025 and 45720 is 4 March 2025.

    A date-time cell keeps the time of day as the number's fraction (``45720.5`` is 4 March 2025 at noon): its
    date is read and the time dropped, as the time after an ISO date is (evalkit keeps dates only).

    Only numbers whose whole part (``45720`` of ``45720``, ``45720.0`` or ``45720.5``) is in
    :data:`EXCEL_SERIAL_RANGE` (1 January 2000 to 31 December 2099) are read: a number outside it is more
    likely a date typed without separators (``20250304``), a year or a mistake than a lost date. Workbooks in the 1904 date system (old Mac Excel) count from 1 January 1904
    and would be read 1462 days early; the warning the reader gives shows the date read, so such a date shows.
    """
    number = texts.astype(object).str.extract(_SERIAL)[0].astype("float64").to_numpy()
    low, high = EXCEL_SERIAL_RANGE
    with np.errstate(invalid="ignore"):
        inside = (number >= low) & (number <= high)
    out = np.full(len(number), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[inside] = (_EXCEL_DAY_ZERO + number[inside].astype(np.int64)).astype("datetime64[ns]")
    return out


def describe_date(values: np.ndarray) -> pd.Series:
    """Dates written out for a person: ``3 April 2025``."""
    stamps = pd.Series(pd.to_datetime(values))
    return stamps.dt.day.astype("Int64").astype(str) + " " + stamps.dt.month_name() + " " + \
        stamps.dt.year.astype("Int64").astype(str)


def read_dates(cells: pd.Series, groups: np.ndarray, stated_format: str | None = None,
               file_order: np.ndarray | None = None, *, day_first: bool | None = None,
               row_formats: np.ndarray | None = None) -> DateReading:
    """Parse a date column.

    Parameters
    ----------
    cells
        Cleaned cells (stripped strings, missing as NA).
    groups
        Integer code of each row's file (and sheet): day/month order is decided per group.
    stated_format
        ``strftime`` format stated in the provider's mapping, if any. A two-digit year (``%y``) is read by
        :func:`two_digit_years`, as without a stated format (``85`` is 2085, not ``strptime``'s 1985).
    file_order
        Per row, the order the file's *other* date columns decide (1 day/month, -1 month/day, 0 undecided).
        Used only for a group whose own values decide nothing: it is read day/month when some row of the
        group says 1 and none says -1 (and month/day the other way round); the cells that would otherwise be
        ambiguous are flagged in :attr:`DateReading.by_file_order`.
    day_first
        The day/month order stated for the column (``True`` day/month, ``False`` month/day), as a
        one-row-per-mother mapping states it: every day/month/year value is read in that order (a value that
        is no date in that order is rule ``type``); every other form is read as usual. Not used with
        ``stated_format``.
    row_formats
        Per row, a ``strftime`` format stated for that cell alone (``None``: none), for a column whose cells come
        from columns stating different formats (a one-row-per-mother sheet's questionnaire dates): each such cell
        is read as under ``stated_format`` in its own format, and takes no part in the day/month order of the
        other cells, which are read as without ``row_formats``.
    """
    if row_formats is not None and pd.notna(row_formats).any():
        return _read_in_row_formats(cells, groups, stated_format, file_order, day_first,
                                    np.asarray(row_formats, dtype=object))
    n = len(cells)
    codes, uniques = distinct_cells(cells)
    uniques = _plain_spaces(_as_text(uniques))
    none = np.broadcast_to(np.datetime64("NaT", "ns"), (n,))  # no second reading of any cell
    if len(uniques) == 0 or not (codes >= 0).any():
        nat = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        return DateReading(nat, np.zeros(n, bool), np.zeros(n, bool), none, none)

    iso = _iso_dates(uniques)
    if stated_format is not None:
        stated = pd.to_datetime(uniques.astype(object), format=stated_format, errors="coerce")
        stated = _to_ns(stated)
        if "%y" in stated_format:  # a two-digit year means what it means without a stated format
            stated = _stated_two_digit_years(stated)
        fixed, serial = _fixed_dates(uniques, iso, np.isnat(iso) & np.isnat(stated))
        blank = np.full(1, np.datetime64("NaT"), dtype="datetime64[ns]")
        chosen = np.concatenate([blank, np.where(np.isnat(iso) & ~np.isnat(stated), stated, fixed)])  # blank first
        # code + 1 in int64: a categorical's codes may be int8 and must not wrap
        at = np.add(codes, 1, dtype=np.int64)
        values = chosen.take(at)
        by_serial = np.concatenate([[False], serial]).take(at) if serial.any() else None
        return DateReading(values, (codes >= 0) & np.isnat(values), np.zeros(n, bool), none, none,
                           excel_serial=by_serial)
    a, b, as_dmy, as_mdy = _day_month_year_of(uniques, np.isnat(iso))
    is_dmy_form = ~np.isnan(a)
    fixed, serial = _fixed_dates(uniques, iso, np.isnat(iso) & ~is_dmy_form)
    with np.errstate(invalid="ignore"):
        day_first_only = is_dmy_form & (a > 12) & (b <= 12)
        month_first_only = is_dmy_form & (b > 12) & (a <= 12)
        same_both_ways = is_dmy_form & (a == b)

    # the day/month order is decided per group from the values its rows hold: which (group, value) pairs occur
    group_of, n_groups = _group_numbers(np.asarray(groups), n)
    m = len(uniques)
    # each row's place in a (group, blank + distinct value) table (column 0: a blank cell), worked out once
    # for the counts here and every table spread per row below; in int64, as a categorical's codes may be
    # int8 (code + 1 must not wrap), without an int64 copy of the codes themselves
    at = np.add(codes, 1, dtype=np.int64) if group_of is None else group_of * (m + 1) + codes + 1
    if (day_first_only | month_first_only).any():
        used = (np.bincount(at, minlength=n_groups * (m + 1)) > 0).reshape(n_groups, m + 1)[:, 1:]
        group_day = (used & day_first_only).any(axis=1)[:, None]
        group_month = (used & month_first_only).any(axis=1)[:, None]
    else:  # no distinct value decides an order (a column of ISO dates): no group's rows need counting
        group_day = group_month = np.zeros((n_groups, 1), dtype=bool)
    order_dmy = group_day & ~group_month
    order_mdy = group_month & ~group_day
    own_order = np.where(order_dmy, 1, np.where(order_mdy, -1, 0)).astype(np.int8)  # (n_groups, 1)
    if day_first is not None:  # the stated order, whatever the values show
        order_dmy = np.full((n_groups, 1), day_first)
        order_mdy = ~order_dmy
    hinted_groups = np.zeros((n_groups, 1), dtype=bool)
    if file_order is not None and day_first is None:
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
    table = np.where(use_dmy, as_dmy, np.where(use_mdy, as_mdy, fixed))
    ambiguous = slash & ~use_dmy & ~use_mdy & ~np.isnat(as_dmy) & ~np.isnat(as_mdy)
    bad = np.isnat(table) & ~ambiguous

    def per_row(values: np.ndarray, blank: object) -> np.ndarray:
        if values.dtype == bool and not values.any():  # a mask true nowhere is false on every row: no gather
            return np.zeros(n, dtype=bool)
        full = np.concatenate([np.full((n_groups, 1), blank, dtype=values.dtype), values], axis=1).ravel()
        return full.take(at)

    values = per_row(table, np.datetime64("NaT"))
    row_ambiguous = per_row(ambiguous, False)
    order = np.full(n, own_order[0, 0], dtype=np.int8) if group_of is None else own_order.ravel()[group_of]
    by_file = None
    if hinted_groups.any():
        two_ways = slash & hinted_groups & ~np.isnat(as_dmy) & ~np.isnat(as_mdy) & (as_dmy != as_mdy)
        by_file = per_row(two_ways, False)
    by_serial = per_row(np.broadcast_to(serial, (n_groups, m)), False) if serial.any() else None
    if not row_ambiguous.any():
        return DateReading(values, per_row(bad, False), row_ambiguous, none, none, order, by_file, by_serial)
    first = per_row(np.where(ambiguous, as_dmy, np.datetime64("NaT")), np.datetime64("NaT"))
    second = per_row(np.where(ambiguous, as_mdy, np.datetime64("NaT")), np.datetime64("NaT"))
    return DateReading(values, per_row(bad, False), row_ambiguous, first, second, order, by_file, by_serial)


def _read_in_row_formats(cells: pd.Series, groups: np.ndarray, stated_format: str | None,
                         file_order: np.ndarray | None, day_first: bool | None, row_formats: np.ndarray
                         ) -> DateReading:
    """:func:`read_dates` with ``row_formats``: the cells without one read together as usual, then the cells of each
    stated format (a few formats, each read once over its cells)."""
    own = pd.notna(row_formats)
    rest = read_dates(cells.where(~own), groups, stated_format, file_order, day_first=day_first)
    values, bad = rest.values.copy(), rest.bad.copy()
    serial = np.zeros(len(cells), dtype=bool) if rest.excel_serial is None else rest.excel_serial.copy()
    groups = np.asarray(groups)
    for fmt in pd.unique(row_formats[own]):
        at = np.flatnonzero(own & (row_formats == fmt))
        part = read_dates(cells.iloc[at], groups[at], str(fmt))
        values[at], bad[at] = part.values, part.bad
        if part.excel_serial is not None:
            serial[at] = part.excel_serial
    return DateReading(values, bad, rest.ambiguous, rest.first_reading, rest.second_reading, rest.order,
                       rest.by_file_order, serial if serial.any() else None)


def _as_text(uniques: pd.Series | np.ndarray | pd.Index) -> pd.Series:
    """Distinct values (:func:`~evalkit.validation.cells.distinct_cells`) as a ``"str"`` Series on a new range
    index: Arrow text as it is held (no Python string per value), other values through their text."""
    if isinstance(uniques, pd.Series) and is_arrow_text(uniques.dtype) and uniques.dtype.na_value is np.nan:
        return uniques.reset_index(drop=True) if not isinstance(uniques.index, pd.RangeIndex) \
            or uniques.index.start != 0 or uniques.index.step != 1 else uniques
    return pd.Series(np.asarray(uniques, dtype=object), dtype="str")


def _plain_spaces(texts: pd.Series) -> pd.Series:
    """``texts`` with each no-break, figure or narrow no-break space made a plain space (:data:`_SPACE_LIKE`), so
    that ``04\u00a003\u00a02025`` is read as ``04 03 2025`` is. Called on distinct values; ``texts`` itself when
    none holds one."""
    if is_arrow_text(texts.dtype) and \
            not pc.any(pc.match_substring_regex(pa.array(texts.array), _SPACE_LIKE)).as_py():
        return texts  # Arrow finds no such space in any value (the usual case): no mask made
    like = texts.str.contains(_SPACE_LIKE, regex=True, na=False)
    if not like.any():
        return texts
    return texts.where(~like.to_numpy(), texts.str.replace(_SPACE_LIKE, " ", regex=True))


_PLAIN_ISO = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
"""An ISO date as most files write it (``2025-03-04``: ASCII digits, nothing after): read by :func:`_iso_dates`
without a Python regular expression per value. Every text it matches :data:`_ISO` matches, with the same parts."""


def _iso_dates(uniques: pd.Series) -> np.ndarray:
    """``datetime64[ns]`` of the ISO dates among distinct values (NaT for the rest).

    Values written plainly (:data:`_PLAIN_ISO`) are found and cut into year, month and day by Arrow's kernels;
    only the others (a time after the date, a one-digit month, other forms) go through :data:`_ISO`.
    """
    if not is_arrow_text(uniques.dtype) or not len(uniques):
        return _iso_dates_by_regex(uniques)
    text = pa.array(uniques.array)
    plain = pc.fill_null(pc.match_substring_regex(text, _PLAIN_ISO), False)
    if not pc.any(plain).as_py():
        return _iso_dates_by_regex(uniques)
    dates = text.filter(plain)
    year, month, day = (pc.cast(pc.utf8_slice_codeunits(dates, start, stop), pa.int64()).to_numpy()
                        for start, stop in ((0, 4), (5, 7), (8, 10)))
    read = _build(year, month, day)
    if pc.all(plain).as_py():
        return read
    at = plain.to_numpy(zero_copy_only=False)
    out = np.full(len(uniques), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[at] = read
    out[~at] = _iso_dates_by_regex(uniques[~at])
    return out


def _iso_dates_by_regex(uniques: pd.Series) -> np.ndarray:
    """:func:`_iso_dates` by :data:`_ISO`, value by value."""
    parts = uniques.str.extract(_ISO)
    return _build(parts[0], parts[1], parts[2])


def _day_month_year(uniques: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For distinct values written day/month/year or month/day/year (``03/04/2025``, ``3.4.25``): the first and
    second numbers (NaN for other values), and the date read day first and read month first (NaT where that
    reading is no date). A two-digit year is in the 2000s (:func:`two_digit_years`: ``25`` is 2025; ``0025`` is not)."""
    text = uniques.str.extract(_DMY)
    parts = text.astype("float64")
    year = _years(text[2])
    a, b = parts[0].to_numpy(), parts[1].to_numpy()
    return a, b, _build(year, parts[1], parts[0]), _build(year, parts[0], parts[1])


def _day_month_year_of(uniques: pd.Series, among: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_day_month_year` of the values in ``among`` (NaN and NaT for the others, as it gives a value not
    written day/month/year), so that a column of ISO dates is not read a second way: a value :data:`_ISO` reads
    starts with four digits, where :data:`_DMY` wants a separator after one or two."""
    m = len(uniques)
    a, b = np.full(m, np.nan), np.full(m, np.nan)
    as_dmy = np.full(m, np.datetime64("NaT"), dtype="datetime64[ns]")
    as_mdy = as_dmy.copy()
    at = np.flatnonzero(among)
    if len(at) == m:
        return _day_month_year(uniques)
    if len(at):
        a[at], b[at], as_dmy[at], as_mdy[at] = _day_month_year(uniques.iloc[at])
    return a, b, as_dmy, as_mdy


def _fixed_dates(uniques: pd.Series, iso: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The dates of distinct values whatever the day/month order: ISO, else (among ``rest``, the values read no
    other way) a month written as a word, else an Excel date number; and which values were Excel date numbers.

    Only the values in ``rest`` are parsed again, so a column of ISO dates costs nothing more.
    """
    serial = np.zeros(len(uniques), dtype=bool)
    if not rest.any():
        return iso, serial
    fixed = iso.copy()
    at = np.flatnonzero(rest)
    texts = uniques.iloc[at]
    named = named_month_dates(texts)
    numbered = excel_serial_dates(texts)
    fixed[at] = np.where(np.isnat(named), numbered, named)
    serial[at] = np.isnat(named) & ~np.isnat(numbered)
    return fixed, serial


def _group_numbers(groups: np.ndarray, n: int) -> tuple[np.ndarray | None, int]:
    """Each row's group as 0, 1, ... and how many groups there are (``None``: every row in one group)."""
    if n == 0 or (groups.dtype.kind in "iu" and groups.min() == groups.max()):
        return None, 1
    numbers, distinct = pd.factorize(groups)
    return numbers.astype(np.int64), len(distinct)


def date_order_votes(others: dict[str, pd.Series], groups: np.ndarray) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Per row, the day/month order the file's other date columns decide, for :func:`read_dates`'s ``file_order``.

    Parameters
    ----------
    others
        The other date columns of the same rows (cleaned cells) by name; only columns read without a stated
        format should be given.
    groups
        Integer code of each row's file (and sheet), as for :func:`read_dates`.

    Returns
    -------
    votes : numpy.ndarray
        ``int8`` per row: 1 day/month, -1 month/day, 0 when no column decides or the columns disagree.
    said : dict[int, list[str]]
        For 1 and -1, the names of the columns that decided that order somewhere.
    """
    return order_votes({name: read_dates(cells, groups).order for name, cells in others.items()}, len(groups))


def order_votes(orders: dict[str, np.ndarray | None], n: int) -> tuple[np.ndarray, dict[int, list[str]]]:
    """Per row, the day/month order some date columns decide together, from each column's own order.

    Parameters
    ----------
    orders
        By column name, :attr:`DateReading.order` of that column (``None``: it decides nothing), each of length
        ``n``. A column that holds other rows than the rest (a one-row-per-mother sheet's questionnaire dates,
        one per time point, read as one column) gives its order broadcast to ``n``.
    n
        Rows.

    Returns
    -------
    votes, said
        As :func:`date_order_votes`: 1 day/month, -1 month/day, 0 when no column decides or the columns
        disagree; and for 1 and -1 the columns that decided that order somewhere.
    """
    votes = np.zeros(n, dtype=np.int8)
    said: dict[int, list[str]] = {1: [], -1: []}
    conflict = np.zeros(n, dtype=bool)
    for name, order in orders.items():
        if order is None or not order.any():
            continue
        conflict |= (votes != 0) & (order != 0) & (votes != order)
        votes = np.where(votes == 0, order, votes).astype(np.int8)
        for o in (1, -1):
            if (order == o).any():
                said[o].append(name)
    votes[conflict] = 0
    return votes, said


def date_forms(cells: pd.Series) -> pd.Series:
    """How each cell is written, taken on its own (no other cell of the column is looked at).

    Returns
    -------
    pandas.Series
        Per cell: ``"iso"`` (``2025-03-04``), ``"named"`` (a month word: ``4 March 2025``), ``"excel"`` (an Excel
        date number, :func:`excel_serial_dates`), ``"dmy"`` / ``"mdy"`` (day/month/year that can only be read
        day first / month first: ``13/04/2025`` / ``04/13/2025``), ``"both"`` (two different dates:
        ``03/04/2025``), ``"same"`` (the same date both ways: ``05/05/2025``), ``"bad"`` (not a date), or
        missing. Worked out once per distinct value, by the parsing :func:`read_dates` does.
    """
    codes, uniques = distinct_cells(cells)
    uniques = _plain_spaces(_as_text(uniques))
    iso_dates = _iso_dates(uniques)
    iso = ~np.isnat(iso_dates)
    fixed, serial = _fixed_dates(uniques, iso_dates, ~iso)
    _a, _b, as_dmy, as_mdy = _day_month_year(uniques)
    dmy_ok, mdy_ok = ~np.isnat(as_dmy), ~np.isnat(as_mdy)
    form = np.select(
        [iso, ~np.isnat(fixed) & ~serial, serial, dmy_ok & mdy_ok & (as_dmy != as_mdy), dmy_ok & mdy_ok, dmy_ok,
         mdy_ok],
        ["iso", "named", "excel", "both", "same", "dmy", "mdy"], default="bad").astype(object)
    out = np.concatenate([np.array([None], dtype=object), form]).take(np.add(codes, 1, dtype=np.int64))
    return pd.Series(out, index=cells.index, dtype=object)


_WRITTEN = r"^\d{1,2}(" + _DMY_SEPARATOR + r")\d{1,2}(" + _DMY_SEPARATOR + r")(\d{4}|\d{2})$"
"""A day/month/year date as :func:`read_dates` reads one: its two separators and its year."""


def written_date_format(cells: pd.Series, day_first: bool) -> tuple[str | None, str]:
    """The date format of a column's day/month/year dates as they are written, in the order given.

    The separators and the year length are the column's own (``13.01.25`` gives ``DD.MM.YY`` day first,
    ``01-13-2025`` gives ``MM-DD-YYYY`` month first, ``13 01 2025`` gives ``DD MM YYYY``), so a mapping stating it reads every such cell; ISO
    dates, month words and Excel date numbers are read under any stated format. Worked out once per distinct
    value.

    Parameters
    ----------
    cells
        The column's cells (missing as NA; blank text is left out).
    day_first
        ``True`` for day/month/year, ``False`` for month/day/year.

    Returns
    -------
    (format, why)
        ``format`` is ``None`` when the day/month/year dates are written in more than one way (``13.01.25``
        and ``14/01/2025``: any one stated format would refuse some) or there are none; ``why`` then says so
        for the provider (empty otherwise). Cells that are no date are left out: they are refused anyway. A
        two-digit year is read in the 2000s under a stated ``YY`` as without one (:func:`two_digit_years`), so
        ``03.04.85`` gives ``DD.MM.YY``.
    """
    texts = _plain_spaces(cells.dropna().astype(str).str.strip()).drop_duplicates()
    texts = texts[texts != ""].reset_index(drop=True)
    texts = texts[date_forms(texts).isin(["dmy", "mdy", "both", "same"]).to_numpy()].reset_index(drop=True)
    parts = texts.str.extract(_WRITTEN).dropna()
    if parts.empty:
        return None, "it holds no day/month/year dates"
    patterns = parts.assign(year=parts[2].str.len()).drop(columns=[2]).drop_duplicates()
    if len(patterns) > 1:
        examples = ", ".join(f"'{texts.loc[i]}'" for i in patterns.index[:3])
        return None, f"its dates are written in more than one way ({examples}) and one stated format would refuse some"
    first, second, year = patterns.iloc[0]
    order = ("DD", "MM") if day_first else ("MM", "DD")
    return f"{order[0]}{first}{order[1]}{second}{'Y' * int(year)}", ""


def not_a_date(outcome: str = "") -> str:
    """What a cell that is no date is told after its value: that it is not a date, then what a date looks like.

    ``outcome`` goes between the two (``", so nothing was derived from it"``). The one wording of it: the long
    tables' ``type`` refusal of a date cell and the one-row-per-mother reader's note on a date of birth or due date
    end with it.
    """
    return f"is not a date{outcome}; expected a date such as 2025-03-18, 18/03/2025 (day/month/year) or 18 March 2025"


def not_in_stated_format(stated: str, outcome: str = "") -> str:
    """What a cell that does not match the date format stated for its column is told after its value.

    ``stated`` is the format as the message names it; ``outcome`` goes between the two halves (``", so nothing
    was derived from it"``). The one wording of it: the long tables' ``type`` refusal of a date cell under a
    stated format and the one-row-per-mother reader's note on a date of birth or due date end with it.
    """
    return (f"does not match the date format stated in your column mapping ({stated}){outcome}; "
            "expected a date in that format, or an ISO date such as 2025-03-18")


def format_to_state(cells: pd.Series) -> str:
    """What to ask a provider to state in the column mapping for a column whose dates read two ways: its format as
    its dates are written, in both orders (``DD.MM.YY (day/month) or MM.DD.YY (month/day)``: a stated format is
    strict, so ``DD/MM/YYYY`` would refuse ``03.04.25``), or ``DD/MM/YYYY`` when no one format fits them (dates
    written in more than one way; see :func:`written_date_format`).

    The one wording of that advice: the ``ambiguous_date`` message of the long tables and the one-row-per-mother
    reader's message on a date of birth or due date that reads two ways end with it. Worked out once per column,
    over its distinct values.
    """
    day_month, _why = written_date_format(cells, True)
    if day_month is None:
        return "state the column's date format (DD/MM/YYYY) in your column mapping"
    month_day, _why = written_date_format(cells, False)  # the same cells, month first
    return (f"state the column's date format, as its dates are written, in your column mapping: {day_month} "
            f"(day/month) or {month_day} (month/day)")
