"""Text columns of stored rows held as categoricals of their distinct texts (dictionary-encoded in Arrow).

:func:`evalkit.ingest.stored_rows_for_upload` reads the stored rows a re-upload is compared with a chunk at a time;
each chunk's text is coded as it is read (:func:`dictionary_text`) and the chunks joined into one categorical per
column whose categories are sorted (:func:`coded_frame`), so that its codes order the rows as their texts do. At a
million participants (issue #8's volume) the stored contacts a re-upload reads took 803 MB with their ids, kind and
status as text, and 200 MB coded.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.readers.raw_frame import distinct_categories
from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import category_text

__all__ = ["CODED_TEXT_DTYPE", "coded_frame", "dictionary_text", "sorted_categories"]


CODED_TEXT_DTYPE = pd.StringDtype("pyarrow")
"""The categories' dtype in :func:`evalkit.ingest.stored_rows_for_upload`'s categoricals: the canonical ``"string"``
dtype, so that ``astype(categories.dtype)`` gives the canonical column itself."""


def dictionary_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each Arrow text column dictionary-encoded (Arrow) into a categorical of its distinct texts.

    Categories in order of first appearance; :func:`coded_frame` sorts them when it combines the parts.
    """
    out = frame.copy(deep=False)
    for column in out.columns:
        if is_arrow_text(out[column].dtype):
            encoded = pc.dictionary_encode(pa.array(out[column].array))
            if isinstance(encoded, pa.ChunkedArray):
                encoded = encoded.unify_dictionaries().combine_chunks() if encoded.num_chunks != 1 else encoded.chunk(0)
            codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
            dtype = distinct_categories(pd.Index(pd.array(encoded.dictionary, dtype=CODED_TEXT_DTYPE)))
            out[column] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return out


def sorted_categories(columns: list[pd.Series]) -> pd.Categorical:
    """Categoricals of text (Arrow text categories, each part its own) as one categorical whose categories are
    every part's distinct texts, sorted (byte order, as Arrow and pandas sort Arrow text): its codes then order
    the rows as their texts do, so sorting a frame by it gives the order of sorting by the text."""
    texts = [category_text(c) for c in columns]
    every = pa.chunked_array(texts, type=pa.large_string()).combine_chunks()
    distinct = pc.unique(every)
    distinct = distinct.take(pc.sort_indices(distinct))
    new_of_old = pc.index_in(every, value_set=distinct).to_numpy(zero_copy_only=False).astype(np.int64)
    codes = np.empty(sum(len(c) for c in columns), dtype=np.int32 if len(distinct) < 2**31 - 1 else np.int64)
    start = done = 0
    for column, text in zip(columns, texts, strict=True):
        table = np.append(new_of_old[start : start + len(text)], -1).astype(codes.dtype)
        codes[done : done + len(column)] = table.take(column.array.codes)  # code -1 takes the last entry, -1
        start, done = start + len(text), done + len(column)
    dtype = distinct_categories(pd.Index(pd.array(distinct, dtype=CODED_TEXT_DTYPE)))
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def coded_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """Frames of the same columns, one under the other (a new index), the categorical text columns as one
    categorical of sorted categories (:func:`sorted_categories`), the other columns concatenated."""
    first = parts[0]
    out: dict[str, Any] = {}
    for column in first.columns:
        pieces = [part[column] for part in parts]
        if all(isinstance(p.dtype, pd.CategoricalDtype) for p in pieces):
            out[column] = sorted_categories(pieces)
        else:
            out[column] = pd.concat(pieces, ignore_index=True).array if len(pieces) > 1 else pieces[0].array
    return pd.DataFrame(out, index=pd.RangeIndex(sum(len(p) for p in parts)), copy=False)
