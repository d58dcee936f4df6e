"""cells.dictionary_codes: one dictionary over all chunks, codes as pandas.factorize gives them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from evalkit.validation.cells import dictionary_codes

_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "b", "P-01", "é", " a"]), st.text(max_size=4))


@given(chunks=st.lists(st.lists(_TEXT, max_size=12), max_size=5))
def test_codes_are_factorize_codes_across_chunks(chunks: list[list[str | None]]) -> None:
    values = [v for chunk in chunks for v in chunk]
    text = pa.chunked_array([pa.array(c, type=pa.large_string()) for c in chunks], type=pa.large_string())
    codes, distinct = dictionary_codes(text)
    expected_codes, expected_distinct = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    assert codes.dtype == np.int64
    assert codes.tolist() == expected_codes.tolist()
    assert distinct.to_pylist() == list(expected_distinct)
    if len(chunks) == 1:  # a plain array gives the same as a chunked one of one chunk
        single, single_distinct = dictionary_codes(pa.array(chunks[0], type=pa.large_string()))
        assert single.tolist() == codes.tolist() and single_distinct.equals(distinct)
