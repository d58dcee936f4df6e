"""Value synonyms on a categorical column: a few categories are first looked at as Python text.

``_category_synonyms`` returns the column unchanged when no category folds to a synonym; for a few
categories it decides so without pandas' string methods (``_any_synonym``). The result must be the one
the pandas path gives, whatever the categories (case, punctuation, letters beyond ASCII, spaces).
"""

from __future__ import annotations

from unittest import mock

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.readers import raw_frame

_TEXTS = ["yes", "Yes", "YES ", " y", "Y", "no", "No.", "n", "post-natal", "Post_natal", "postnatal", "ÉTÉ", "été",
          "Straße", "strasse", "a\u00a0b", "a b", "", " ", "_", "-", "x"]
_SYNONYMS = st.dictionaries(st.sampled_from(["yes", "y", "no", "n", "post natal", "été", "strasse", "a b", "", "x"]),
                            st.sampled_from(["yes", "no", "postnatal", "été", "x", "a b"]), max_size=6)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_TEXTS), st.text(max_size=4)), min_size=1, max_size=12, unique=True),
       st.lists(st.integers(-1, 11), min_size=1, max_size=20), _SYNONYMS)
def test_few_categories_give_the_pandas_result(categories: list[str], codes: list[int],
                                               synonyms: dict[str, str]) -> None:
    values = pd.Series(pd.Categorical.from_codes([c if c < len(categories) else -1 for c in codes],
                                                 dtype=pd.CategoricalDtype(pd.Index(categories, dtype="str"))))
    found = raw_frame._category_synonyms(values, synonyms)
    with mock.patch.object(raw_frame, "_FEW_CATEGORIES", 0):
        expected = raw_frame._category_synonyms(values, synonyms)
    pd.testing.assert_series_equal(found, expected)
    assert found.cat.categories.tolist() == expected.cat.categories.tolist()
    assert (found is values) == (expected is values)


def test_a_folded_synonym_is_found() -> None:
    assert raw_frame._any_synonym(["Post-Natal "], {"post natal": "postnatal"})
    assert raw_frame._any_synonym(["ÉTÉ"], {"été": "été"})
    assert not raw_frame._any_synonym(["yes", "no"], {"yes": "yes", "y": "yes"})
