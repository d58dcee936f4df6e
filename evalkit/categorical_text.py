"""Categorical text columns turned back into text, for grouping and for tables people read.

The episode frame and the prepared participants hold repeated descriptive text
(ethnicity, format, ending...) as categoricals of that text to save memory
(:func:`evalkit.episodes.build_episodes`). Grouped with ``observed=False``, a
categorical key would also give its unused categories; tables built from such
groups group on the text instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

__all__ = ["categories_as_text", "category_text_column"]


def categories_as_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """``frame`` with its categorical ``columns`` turned back into their text (the categories' dtype), for grouping.

    A grouping with ``observed=False`` (every category of one key, e.g. the bins of a count) would give
    the unused categories of the other keys too; on text it gives the values that occur, as it always did.

    Parameters
    ----------
    frame
        Any frame, e.g. episodes or participants (whose descriptive text columns are categoricals).
    columns
        The grouping columns to turn into text (those that are not categorical are left as they are).

    Returns
    -------
    pandas.DataFrame
        A shallow copy (copy-on-write) when a column changed, else ``frame`` itself.
    """
    cats = [c for c in dict.fromkeys(columns) if c in frame.columns and isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not cats:
        return frame
    return frame.assign(**{c: category_text_column(frame[c]) for c in cats})


def category_text_column(column: pd.Series) -> pd.Series:
    """A categorical column as the text of its cells, in its categories' dtype (``column.astype(categories.dtype)``).

    Categories held as Arrow-backed pandas text are taken by code in pyarrow (no Python string per cell);
    others are converted by pandas. Missing cells stay missing.
    """
    cats = column.cat.categories
    if not isinstance(cats.dtype, pd.StringDtype) or cats.dtype.storage != "pyarrow":
        return column.astype(cats.dtype)
    codes = column.cat.codes.to_numpy(dtype=np.int32)
    texts = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), pa.array(list(cats), type=pa.large_string()))
    return pd.Series(pd.array(texts.dictionary_decode(), dtype=cats.dtype), index=column.index, name=column.name)
