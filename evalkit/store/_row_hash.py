"""A 64-bit hash of each stored row's data values, so a re-upload finds its unchanged rows by key and hash.

The hash is a filter, never the last word: a row whose stored hash equals the
upload's is taken as unchanged; any other row (hash different, or missing for
rows stored before the column existed) is compared value by value with the
full stored row, as before. A hash computed differently one day (another
pandas) therefore costs time once, never a wrong answer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.schemas import table_schema
from evalkit.store._frames import column_types

_MISSING_TEXT = np.uint64(0x9E3779B97F4A7C15)
"""Hash of a missing text value (a fixed odd constant, distinct from any text's SipHash in practice)."""


def hashed_columns(table: str) -> list[str]:
    """The columns a row hash covers: every schema field of ``table`` that is not part of its natural key."""
    schema = table_schema(table)
    key = set(schema.primary_key)
    return [f for f in schema.field_names if f not in key]


def _column_values(s: pd.Series, kind: str) -> np.ndarray:
    """One column as numbers with one representation per value, whatever its pandas dtype.

    Text (``string``, ``str``, categorical): the SipHash of each distinct value
    (:func:`pandas.util.hash_array`), spread by factorised codes; missing ->
    a fixed constant. Dates: nanoseconds since 1970 (missing -> the NaT
    integer). Numbers, integers and booleans: ``float64`` (missing -> NaN;
    exact for the integers stored here).
    """
    if kind == "string":
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        table = pd.util.hash_array(pd.Series(uniques, dtype=object).astype(str).to_numpy(dtype=object), categorize=False)
        out = np.full(len(s), _MISSING_TEXT, dtype=np.uint64)
        have = codes >= 0
        out[have] = table[codes[have]]
        return out
    if kind == "date":
        return pd.to_datetime(s).to_numpy(dtype="datetime64[ns]").view(np.int64)
    if kind == "boolean":
        s = s.astype("boolean")
    return s.astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan)


HASH_CHUNK_ROWS = 1_000_000
"""Rows hashed at a time by :func:`row_hashes`. A row's hash depends on that row alone, so the chunks give the
same hashes as one pass; the working arrays (codes, values, hashes: about eight arrays of eight bytes a row)
then follow the chunk, not the table: at 10.6M contacts one pass held about 0.5 GB of them."""


def row_hashes(frame: pd.DataFrame, table: str) -> np.ndarray | None:
    """The row hash of every row of a canonical ``frame`` (``int64``, as the database stores it).

    Parameters
    ----------
    frame
        Rows of ``table`` with canonical values (validation's output, or rows
        read back from the store).
    table
        The canonical table.

    Returns
    -------
    numpy.ndarray or None
        One signed 64-bit hash per row: each of the :func:`hashed_columns`,
        given one representation per value (:func:`_column_values`), hashed by
        :func:`pandas.util.hash_array` and combined in order as
        :func:`pandas.util.hash_pandas_object` combines columns (multiply and
        xor, modulo 2**64), one column at a time, :data:`HASH_CHUNK_ROWS` rows
        at a time. ``None`` when
        ``frame`` lacks one of those columns (its hash would not describe the
        stored row).
    """
    cols = hashed_columns(table)
    if any(c not in frame.columns for c in cols):
        return None
    types = column_types(table)
    # dates not yet datetime64 are parsed by pandas, which may infer one format for the whole column: one chunk
    step = HASH_CHUNK_ROWS if all(frame[c].dtype.kind == "M" for c in cols if types[c] == "date") else len(frame)
    out = np.empty(len(frame), dtype=np.int64)
    for start in range(0, len(frame), max(step, 1)):
        out[start:start + step] = _chunk_hashes(frame.iloc[start:start + step], cols, types)
    return out


def _chunk_hashes(frame: pd.DataFrame, cols: list[str], types: dict[str, str]) -> np.ndarray:
    """The row hashes of ``frame`` (one chunk of :func:`row_hashes`), as ``int64``."""
    # pandas' combine_hash_arrays, column by column: one column's arrays in memory at a time
    acc = np.full(len(frame), 0x345678, dtype=np.uint64)
    mult = np.uint64(1000003)
    for i, c in enumerate(cols):
        hashed = pd.util.hash_array(_column_values(frame[c], types[c]), categorize=False)
        acc ^= hashed
        acc *= mult
        mult += np.uint64(82520 + 2 * (len(cols) - i))
        del hashed
    acc += np.uint64(97531)
    return acc.view(np.int64)
