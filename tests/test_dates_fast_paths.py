"""The shortcuts of :func:`evalkit.validation.dates.read_dates` read every text as the general parsing does.

Plainly written ISO dates (``2025-03-04``) are cut up by Arrow instead of a Python regular expression per value,
and only the values that are not ISO dates are read as day/month/year: both are compared here with the general
parsing on generated texts (plain and timed ISO dates, impossible days, one-digit months, day/month/year in every
separator, non-ASCII digits, trailing newlines, other text).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.dates import (
    _day_month_year,
    _day_month_year_of,
    _iso_dates,
    _iso_dates_by_regex,
    read_dates,
)

_digits = st.sampled_from("0123456789")
_part = st.text(_digits, min_size=1, max_size=4)
_iso_like = st.builds(lambda y, m, d, rest: f"{y}-{m}-{d}{rest}", st.text(_digits, min_size=3, max_size=5),
                      st.text(_digits, min_size=1, max_size=3), st.text(_digits, min_size=1, max_size=3),
                      st.sampled_from(["", "", "", "T10:30", " 09:15:00Z", "\n", " ", "x"]))
_valid_iso = st.dates().map(lambda d: d.isoformat())
_day_month = st.builds(lambda a, s1, b, s2, y: f"{a}{s1}{b}{s2}{y}", _part, st.sampled_from("/.- "), _part,
                       st.sampled_from("/.- "), _part)
_texts = st.one_of(_valid_iso, _valid_iso, _iso_like, _day_month, st.sampled_from(
    ["٢٠٢٥-٠٣-٠٤", "2025-03-04", "2025-3-4", "2025-02-29", "2024-02-29", "45720", "4 March 2025", ""]),
    st.text(max_size=12))


def _uniques(texts: list[str]) -> pd.Series:
    return pd.Series(list(dict.fromkeys(texts)), dtype="str")


@settings(max_examples=300, deadline=None)
@given(st.lists(_texts, max_size=25))
def test_iso_dates_read_as_by_the_regular_expression(texts: list[str]) -> None:
    uniques = _uniques(texts)
    np.testing.assert_array_equal(_iso_dates(uniques), _iso_dates_by_regex(uniques))
    assert _iso_dates(uniques).dtype == np.dtype("datetime64[ns]")


@settings(max_examples=300, deadline=None)
@given(st.lists(_texts, max_size=25))
def test_day_month_year_of_the_values_iso_does_not_read_is_that_of_every_value(texts: list[str]) -> None:
    uniques = _uniques(texts)
    among = np.isnat(_iso_dates_by_regex(uniques))
    for got, expected in zip(_day_month_year_of(uniques, among), _day_month_year(uniques), strict=True):
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.one_of(_valid_iso, _iso_like, st.none()), st.integers(0, 2)), min_size=1, max_size=30))
def test_a_column_of_iso_dates_is_read_row_by_row_as_each_text_alone(rows: list[tuple[str | None, int]]) -> None:
    texts = [t for t, _ in rows]
    cells = pd.Series(texts, dtype="str")
    reading = read_dates(cells, np.array([g for _, g in rows]))
    alone = np.array([_iso_dates_by_regex(pd.Series([t], dtype="str"))[0] if t is not None else np.datetime64("NaT")
                      for t in texts], dtype="datetime64[ns]")
    np.testing.assert_array_equal(reading.values, alone)
    np.testing.assert_array_equal(reading.bad, cells.notna().to_numpy() & np.isnat(alone))
    assert not reading.ambiguous.any()
    if reading.order is not None:  # None: every cell blank
        np.testing.assert_array_equal(reading.order, np.zeros(len(rows), dtype=np.int8))
        assert reading.order.dtype == np.int8
