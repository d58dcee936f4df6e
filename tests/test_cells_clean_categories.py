"""Cleaning a categorical column on its categories gives the cells that cleaning the text itself gives.

Categories with nothing to strip whose only change is that some become missing (a blank category, ``NA``) are
dropped in place (:func:`evalkit.validation.cells._without_missing`) instead of being dictionary-encoded again;
categories that strip take the encoding. Both are compared with the same cells cleaned as plain text.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.cells import _without_missing, clean_cells

_MISSING = ["NA", "n/a"]
_CELL = st.one_of(st.none(), st.sampled_from(["", "NA", "n/a", "2", "10", "épds", "x", "NA "]),
                  st.text(alphabet="ab1 é\t", max_size=4))


@settings(max_examples=200, deadline=None)
@given(cells=st.lists(_CELL, max_size=30))
def test_categories_clean_to_the_cells_text_cleaned(cells: list[str | None]) -> None:
    text = pd.Series(cells, dtype="str")
    got = clean_cells(text.astype("category"), _MISSING)
    expected = clean_cells(text, _MISSING)
    assert isinstance(got.dtype, pd.CategoricalDtype)
    assert got.astype(object).where(got.notna(), None).tolist() \
        == expected.astype(object).where(expected.notna(), None).tolist()
    assert got.cat.categories.is_unique and not got.cat.categories.isin(["", *_MISSING]).any()


@settings(max_examples=200, deadline=None)
@given(categories=st.lists(st.text(alphabet="ab1é", max_size=3), unique=True, max_size=12), data=st.data())
def test_dropping_missing_categories_is_their_dictionary_encoding(categories: list[str], data: st.DataObject) -> None:
    missing = data.draw(st.lists(st.booleans(), min_size=len(categories), max_size=len(categories)))
    arrow, blank = pa.array(categories, type=pa.large_string()), pa.array(missing, type=pa.bool_())
    new_of_old, kept = _without_missing(arrow, blank)
    encoded = pc.dictionary_encode(pc.if_else(blank, pa.scalar(None, type=arrow.type), arrow))
    assert new_of_old.tolist() == pc.fill_null(encoded.indices, -1).to_pylist()
    assert kept.equals(encoded.dictionary)
