"""Codes, yes/no answers and spread values read by Arrow's kernels are what the Python reading gives.

``parse_codes`` and ``parse_booleans`` fold ASCII text with Arrow (lower case, punctuation runs) and fold other
text in Python, where Arrow's lower case and ``\\W`` differ from Python's (``ß``, ``é``). ``spread`` gathers by
narrow codes with Arrow for long columns. ``number_values`` reads plain whole numbers with Arrow's cast.
A categorical column whose every category becomes missing when cleaned has every code -1 without a gather. Each is compared with a plain Python or NumPy reading of the same cells.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import normalise_value
from evalkit.validation.cells import (
    _remapped_codes,
    clean_cells,
    number_values,
    parse_booleans,
    parse_codes,
    spread,
)

CODES = {"health_visitor": "Health visitor", "self": "Self-referral", "gp": "GP / doctor", "strasse": "Straße",
         "cafe_group": "Café group", "other": "other"}
"""Codes whose labels fold differently in Arrow and in Python (``ß`` to ``ss``; ``é`` a word character)."""

_CELL = st.one_of(
    st.none(),
    st.sampled_from(["Health Visitor", "HEALTH_VISITOR", "health-visitor!", "  self ", "SELF-REFERRAL", "gp/doctor",
                     "G.P. / Doctor", "STRASSE", "Straße", "STRAẞE", "café group", "CAFÉ-GROUP", "cafe group", "caf",
                     "Other", "other.", "nope", "", "NA"]),
    st.text(alphabet="abcdefghsSELFé ß_-/.", max_size=8),
)


def _as_column(values: list[str | None], form: str) -> pd.Series:
    """The cells as validation holds them: cleaned categories of Arrow text, Arrow text, or Python objects."""
    if form == "categorical":
        return clean_cells(pd.Series(values, dtype="str").astype("category"), ["NA"])
    if form == "arrow":
        return pd.Series(values, dtype="str")
    return pd.Series(values, dtype=object)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(_CELL, max_size=30), form=st.sampled_from(["categorical", "arrow", "object"]))
def test_codes_are_the_codes_normalise_value_matches(values: list[str | None], form: str) -> None:
    column = _as_column(values, form)
    lookup: dict[str, str] = {}
    for code, label in CODES.items():
        lookup.setdefault(normalise_value(label), code)
    for code in CODES:
        lookup[normalise_value(code)] = code
    cells = column.astype(object).where(column.notna(), None).tolist()
    expected = [None if v is None else lookup.get(normalise_value(v)) for v in cells]
    got = parse_codes(column, CODES)
    assert list(got.cat.categories) == list(CODES)
    assert got.astype(object).where(got.notna(), None).tolist() == expected


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.one_of(st.none(), st.sampled_from(["Yes", "YES", "y", "No", "nO", "N", "JA", "ja", "İ",
                                                             "i̇", "maybe", "1", "0", "TRUE", "Straße", "STRASSE"]),
                                 st.text(alphabet="yesnoYESNOß", max_size=4)), max_size=30),
       form=st.sampled_from(["categorical", "arrow", "object"]))
def test_yes_no_answers_are_the_casefolded_answers(values: list[str | None], form: str) -> None:
    true_values, false_values = ["yes", "Y", "true", "1", "ja", "strasse"], ["no", "N", "false", "0", "İ"]
    column = _as_column(values, form)
    lookup = {v.casefold(): 1.0 for v in true_values}
    lookup.update({v.casefold(): 0.0 for v in false_values})
    cells = column.astype(object).where(column.notna(), None).tolist()
    expected = [np.nan if v is None else lookup.get(v.casefold(), np.nan) for v in cells]
    got = parse_booleans(column, true_values, false_values)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, np.array(expected, dtype=np.float64))


@settings(max_examples=60, deadline=None)
@given(n_values=st.integers(0, 300), pattern=st.lists(st.integers(-1, 299), min_size=1, max_size=20),
       width=st.sampled_from([np.int8, np.int16, np.int32]), kind=st.sampled_from(["float", "int", "object"]),
       length=st.sampled_from([None, 5000]))
def test_spread_is_numpy_take_with_the_fill(n_values: int, pattern: list[int], width: type, kind: str,
                                            length: int | None) -> None:
    limit = min(n_values, np.iinfo(width).max)
    # the pattern as it is, or repeated to 5,000 codes (long columns are gathered by Arrow)
    codes = np.resize(np.array([c if c < limit else -1 for c in pattern], dtype=width), length or len(pattern))
    values = {"float": np.linspace(0.5, 7.5, limit), "int": np.arange(limit, dtype=np.int16) * 3,
              "object": np.array([f"v{i}" for i in range(limit)], dtype=object)}[kind]
    dtype = object if kind == "object" else np.float64
    fill = None if kind == "object" else np.nan
    got = spread(values, codes, fill, dtype)
    if (codes < 0).any():
        expected = np.append(values.astype(dtype), np.array([fill], dtype=dtype)).take(codes.astype(np.int64))
    else:
        expected = values.take(codes.astype(np.int64))
    assert got.dtype == expected.dtype
    assert got.flags.writeable
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.text(alphabet="0123456789", min_size=1, max_size=22),
                                 st.from_regex(r"-?[0-9]{1,16}", fullmatch=True),
                                 st.sampled_from(["007", "-0", "+5", "1e3", "1.5", " 4", "inf", "-inf", "nan", "12 ",
                                                  "٣", "1_000", "0x1f", "", "-", "3."])), min_size=1, max_size=12))
def test_numbers_are_what_to_numeric_reads(values: list[str]) -> None:
    expected = np.array(pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
                        .to_numpy(dtype="float64", na_value=np.nan))
    expected[~np.isfinite(expected)] = np.nan
    got = number_values(pd.Series(values, dtype="str"))
    assert got.dtype == np.float64 and got.flags.writeable
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=60, deadline=None)
@given(n_categories=st.integers(0, 5), pattern=st.lists(st.integers(-1, 4), max_size=20),
       width=st.sampled_from([np.int8, np.int16, np.int32]))
def test_codes_of_categories_all_made_missing_are_all_missing(n_categories: int, pattern: list[int],
                                                               width: type) -> None:
    codes = np.array([c if c < n_categories else -1 for c in pattern], dtype=width)
    new_of_old = np.full(n_categories, -1, dtype=np.int64)
    got = _remapped_codes(codes, new_of_old)
    expected = np.append(new_of_old, -1).astype(width).take(codes.astype(np.int64))
    assert got.dtype == expected.dtype and got.flags.writeable
    np.testing.assert_array_equal(got, expected)


def test_a_column_of_blanks_and_missing_values_cleans_to_all_missing() -> None:
    column = pd.Series(["", " NA ", "", "  "], dtype="str").astype("category")
    cleaned = clean_cells(column, ["NA"])
    assert isinstance(cleaned.dtype, pd.CategoricalDtype) and len(cleaned.cat.categories) == 0
    assert cleaned.cat.codes.tolist() == [-1, -1, -1, -1]
