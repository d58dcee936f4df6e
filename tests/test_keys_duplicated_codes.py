"""Repeated composite key codes: the shortcuts for codes in order (neighbours, stable sort) against a plain count."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.text_dtype import TEXT_DTYPE
from evalkit.validation import keys
from evalkit.validation.cells import encode
from evalkit.validation.keys import _duplicated_codes

# sparse codes (above twice the row count), as a composite key's; -1 is a key with a missing part
_SPARSE = st.lists(st.one_of(st.just(-1), st.integers(10**6, 10**6 + 40)), max_size=300)


def _expected(codes: np.ndarray) -> np.ndarray:
    """Rows whose code is present and on another row too, counted by pandas."""
    return (pd.Series(codes).duplicated(keep=False) & (codes >= 0)).to_numpy()


def _in_order(codes: list[int], missing_at: list[int]) -> np.ndarray:
    """``codes`` sorted, with -1 put at the positions ``missing_at`` (missing parts sit anywhere in a file)."""
    ordered = sorted(c for c in codes if c >= 0)
    for at in missing_at:
        ordered.insert(min(at, len(ordered)), -1)
    return np.asarray(ordered, dtype=np.int64)


@given(codes=_SPARSE)
def test_any_order(codes: list[int]) -> None:
    arr = np.asarray(codes, dtype=np.int64)
    np.testing.assert_array_equal(_duplicated_codes(arr), _expected(arr))


@given(codes=_SPARSE, missing_at=st.lists(st.integers(0, 300), max_size=5))
def test_codes_in_order_found_by_neighbours(codes: list[int], missing_at: list[int]) -> None:
    arr = _in_order(codes, missing_at)
    np.testing.assert_array_equal(_duplicated_codes(arr), _expected(arr))


@settings(max_examples=50)
@given(groups=st.lists(st.lists(st.integers(0, 6), min_size=1, max_size=8), min_size=1, max_size=60),
       missing=st.lists(st.integers(0, 400), max_size=5), stable=st.booleans())
def test_codes_in_order_by_group_sorted_either_way(groups: list[list[int]], missing: list[int], stable: bool) -> None:
    # a file sorted by participant but not within one (the measures table): the stable sort or the default one
    arr = np.concatenate([10**6 + 8 * g + np.asarray(group) for g, group in enumerate(groups)]).astype(np.int64)
    arr[[m for m in missing if m < len(arr)]] = -1
    original = keys._roughly_ordered
    keys._roughly_ordered = lambda values: stable  # both sorts must agree
    try:
        np.testing.assert_array_equal(_duplicated_codes(arr), _expected(arr))
    finally:
        keys._roughly_ordered = original


def test_roughly_ordered_tells_grouped_from_shuffled() -> None:
    rng = np.random.default_rng(0)
    grouped = np.repeat(np.arange(5000), 4) * 100 + rng.integers(0, 50, 20000)
    assert keys._roughly_ordered(grouped)
    assert not keys._roughly_ordered(rng.permutation(grouped))


_ID = st.one_of(st.none(), st.text(alphabet="M0129é ß-", max_size=4))


@given(ids=st.lists(_ID, max_size=40), in_order=st.booleans(), chunks=st.integers(1, 3))
def test_ids_rising_in_file_order_have_no_repeats(ids: list[str | None], in_order: bool, chunks: int) -> None:
    # unique-column shortcut: text ids rising strictly byte by byte are each once (ties and repeats are not rising)
    if in_order:
        present = sorted((i for i in ids if i is not None), key=lambda i: i.encode())
        ids = [present.pop(0) if i is not None else None for i in ids]
    parts = np.array_split(np.asarray(ids, dtype=object), chunks)
    text = pa.chunked_array([pa.array(list(p), type=pa.large_string()) for p in parts], type=pa.large_string())
    values = pd.Series(pd.array(text, dtype=TEXT_DTYPE))
    present = [i.encode() for i in ids if i is not None]
    rising = all(a < b for a, b in zip(present, present[1:], strict=False))
    assert keys._distinct_in_order(values) == rising
    if rising:
        assert not _duplicated_codes(encode(values)).any()
