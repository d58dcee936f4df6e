"""The wide reader's cell cleaning, worked out per distinct value with pandas, gives what the per-value Python loop
it replaced gave (kept here, small, as the oracle)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import normalise_value
from evalkit.readers.messy import is_missing, missing_cells
from evalkit.readers.wide import _clean, _date_texts, _unknown_tokens, value_lookup
from evalkit.schemas import table_schema


def _clean_one_by_one(values: pd.Series, column: str | None, lookup: Mapping[str, str]) -> pd.Series:
    """The loop over distinct values and rows that ``_clean`` was (the oracle)."""
    has_unknown = False
    if column is not None:
        fields = table_schema("participants").field_names
        spec = table_schema("participants").field(column) if column in fields else None
        has_unknown = bool(spec and spec.codes and "unknown" in spec.codes)
    text = values.astype(object).where(values.notna(), None)
    out_u: dict[str, str | None] = {}
    for u in pd.unique(text.dropna().astype(str)):
        s = u.strip()
        key = normalise_value(s)
        if key in lookup:
            out_u[u] = lookup[key]
        elif has_unknown and (key or s) in _unknown_tokens():
            out_u[u] = "unknown"
        elif is_missing(s):
            out_u[u] = None
        else:
            out_u[u] = s
    return pd.Series([out_u[str(v)] if v is not None else None for v in text], index=values.index, dtype=object)


_WORDS = ["HV", " hv ", "Health visitor", "GP", "self", "N/K", "n/k", " n/a ", "-", "?", "Not known", "unknown",
          "Not done", "", "  ", "12", " 12.0 ", "__", "É", "ß", "Ｎ/Ａ", "moved away", "Planned ending", "did not attend"]
cells = st.one_of(st.none(), st.sampled_from(_WORDS), st.text(max_size=8),
                  st.builds(lambda a, b: a + b, st.sampled_from(_WORDS), st.text(" -_/.?!", max_size=3)))


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, max_size=30), st.sampled_from([None, "referral_source", "ending", "decline_reason"]),
       st.booleans())
def test_cleaning_by_distinct_values_gives_what_the_loop_gave(texts, column, with_lookup):
    values = pd.Series(texts, index=pd.RangeIndex(5, 5 + len(texts)), dtype=object)
    lookup = value_lookup(column) if column is not None and with_lookup else {}
    got = _clean(values, column, lookup)
    expected = _clean_one_by_one(values, column, lookup)
    assert got.index.equals(expected.index)
    assert got.tolist() == expected.tolist()


def test_cleaning_reads_synonyms_missing_words_and_unknown():
    values = pd.Series([" HV ", "n/a", "N/K", None, "Planned ending", " text "], dtype=object)
    assert _clean(values, "referral_source", value_lookup("referral_source")).tolist()[:2] == ["health_visitor", None]
    assert _clean(values, "ending", value_lookup("ending")).tolist()[2:4] == ["unknown", None]
    assert _clean(values, None, {}).tolist() == ["HV", None, None, None, "Planned ending", "text"]


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, max_size=30))
def test_the_vectorised_missing_test_says_what_is_missing_says_of_each_cell(texts):
    """One vectorised home for "is this cell blank or a missing-value word" (the wide reader's cleaning and its date
    columns both ask it), agreeing with :func:`is_missing` cell by cell."""
    values = pd.Series(texts, index=pd.RangeIndex(3, 3 + len(texts)), dtype=object)
    assert missing_cells(values).tolist() == [is_missing(t) for t in texts]


def test_the_date_texts_of_a_wide_column_leave_out_what_cleaning_leaves_out():
    values = pd.Series([" 13/01/2025 ", "N/K", " n/a ", None, "", "Not done", "?", "4 March 2025"], dtype=object)
    assert _date_texts(values).tolist() == ["13/01/2025", "4 March 2025"]
    assert _date_texts(values).tolist() == _clean(values, None, {}).dropna().tolist()
