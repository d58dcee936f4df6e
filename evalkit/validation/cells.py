"""Cell-level parsing, vectorised over the *distinct* values of a column.

Provider columns repeat the same few values (codes, dates, scores) many times,
so each parser works on ``pd.factorize``'d uniques and spreads the answer back
with one ``take``: a million-row column costs a few distinct parses.
"""

from __future__ import annotations

import functools
import types
import weakref
from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.column_mapping import PUNCTUATION_RUNS, normalise_value
from evalkit.readers.raw_frame import distinct_categories
from evalkit.text_dtype import TEXT_DTYPE, is_arrow_text

__all__ = ["CellPicker", "arrow_text", "category_text", "clean_cells", "codes_in", "dictionary_codes",
           "distinct_cells", "distinct_numbers", "encode", "encoded_text", "full_match", "has_text_categories",
           "known_codes", "look_up", "number_values", "on_uniques", "parse_booleans", "parse_codes", "parse_numbers",
           "spread", "text_series"]

def text_series(values: pa.Array | pa.ChunkedArray) -> pd.Series:
    """An Arrow string array as a ``"str"`` Series (no copy of the strings)."""
    return pd.Series(pd.array(values, dtype=TEXT_DTYPE))


def arrow_text(values: pd.Series | np.ndarray, *, keep_chunks: bool = False,
               rows: np.ndarray | None = None) -> pa.Array | pa.ChunkedArray:
    """The values as an Arrow string array (no copy for an Arrow-backed string Series; categories are
    taken by code; other values through their text, missing as null).

    An Arrow-backed Series held in several chunks is combined into one array, unless ``keep_chunks``:
    its chunks are then returned as held (a ``ChunkedArray``), for kernels that work chunk by chunk.

    ``rows`` (a boolean mask as long as ``values``) keeps only the rows where it is True. The mask is applied
    to the codes of a categorical and to the Arrow array of Arrow text (Arrow's ``filter``), not to the
    Series: pandas' boolean indexing of an Arrow-backed Series costs several times Arrow's filter.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.array.codes  # the categorical's own codes (read only): no Series of them, no copy
        return _take_text(category_text(values), codes if rows is None else codes[rows])
    if isinstance(values, pd.Series) and is_arrow_text(values.dtype):
        held_text = pa.array(values.array)
        if rows is not None:
            held_text = held_text.filter(pa.array(rows, type=pa.bool_()))
        return held_text if keep_chunks else _one_array(held_text)
    cells = np.asarray(values, dtype=object)
    # object dtype said outright: pandas 3 would otherwise read text-and-None cells as "str", None as NaN
    obj = pd.Series(cells if rows is None else cells[rows], dtype=object)
    text = obj.map(lambda v: v if isinstance(v, str) else str(v), na_action="ignore")
    return pa.array(text.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)


def has_text_categories(values: object) -> bool:
    """Whether ``values`` is a categorical Series whose categories are Arrow text (as the readers' raw frames and
    :func:`evalkit.ingest.stored_rows_for_upload` hold text): its codes and categories can then be read instead of
    a text per row."""
    return (isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype)
            and is_arrow_text(values.dtype.categories.dtype))


def codes_in(values: pd.Series, distinct: pa.Array, *, out: np.ndarray | None = None) -> np.ndarray:
    """The position in ``distinct`` (distinct Arrow text) of each row of a categorical of text (``int64``; -1 where
    missing or not there): each category is looked up once (:func:`pyarrow.compute.index_in`) and the answers
    taken by the codes, so no text is made per row. ``out``: an ``int64`` array of the rows' length to write
    them into."""
    categories = large_text(category_text(values))
    found = pc.index_in(categories, value_set=large_text(distinct))
    per_category = np.append(pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64), -1)
    return per_category.take(values.array.codes, out=out)  # code -1 (missing) takes the last entry, -1


def category_text(values: pd.Series) -> pa.Array:
    """The categories of a categorical Series of text as an Arrow ``large_string`` array (no copy of Arrow text)."""
    held = values.cat.categories
    if is_arrow_text(held.dtype):
        return _one_array(pa.array(held.array)).cast(pa.large_string())
    return pa.array(np.asarray(held, dtype=object), type=pa.large_string())


_ENCODED: dict[int, tuple[weakref.ref, np.ndarray, pa.Array]] = {}
"""Codes and distinct texts of the Arrow text arrays made by :func:`encoded_text`, by ``id`` of the array
(each entry dropped when its array is freed)."""


def encoded_text(cells: pd.Series) -> pd.Series:
    """A cleaned categorical column of text (distinct categories) as an Arrow-backed ``"str"`` Series.

    The categories are taken by code (no Python string per row), and the codes and categories are
    remembered with the new array (:func:`known_codes`), so checks that compare the values (keys,
    links, patterns) can work on the distinct texts and the codes instead of hashing every row's text.

    Parameters
    ----------
    cells
        A categorical Series whose categories are distinct texts (as :func:`clean_cells` leaves them).

    Returns
    -------
    pandas.Series
        The same cells as ``"str"`` (missing where the code is -1), on ``cells``' index.
    """
    categories = category_text(cells)
    codes = cells.array.codes  # the categorical's own codes (read only): no Series of them, no copy
    out = pd.Series(text_series(_take_text(categories, codes)).array, index=cells.index)
    array = out.array
    key = id(array)
    _ENCODED[key] = (weakref.ref(array, lambda _, key=key: _ENCODED.pop(key, None)), codes, categories)
    return out


def known_codes(values: object) -> tuple[np.ndarray, pa.Array] | None:
    """The codes (-1 missing) and distinct texts behind a Series made by :func:`encoded_text`, else ``None``.

    Only the Series' own array counts (a slice or copy is a new array, not known).
    """
    if not isinstance(values, pd.Series):
        return None
    array = values.array
    entry = _ENCODED.get(id(array))
    if entry is None or entry[0]() is not array:
        return None
    return entry[1], entry[2]


def dictionary_codes(text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Dictionary codes (``int64``, -1 where missing) of Arrow text, and its distinct texts.

    A chunked array is encoded chunk by chunk onto one dictionary (``unify_dictionaries``), without
    first copying its chunks into one array; the distinct texts are in order of first appearance.
    """
    chunked = text if isinstance(text, pa.ChunkedArray) else pa.chunked_array([text])
    if chunked.num_chunks == 0:
        return np.empty(0, dtype=np.int64), pa.array([], type=pa.large_string())
    encoded = pa.chunked_array([pc.dictionary_encode(c) for c in chunked.chunks]).unify_dictionaries()
    codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
                            for c in encoded.chunks])
    return codes, encoded.chunk(0).dictionary


def _take_text(categories: pa.Array, codes: np.ndarray) -> pa.Array:
    """``categories`` taken by ``codes``, null where the code is -1 (a mask of the indices only when one is)."""
    if len(codes) and codes.min() < 0:
        return categories.take(pa.array(codes, mask=codes < 0))
    return categories.take(pa.array(codes))


def large_text(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Arrow text as ``large_string`` (cast only if it is not one already), so that two texts can be looked up in
    each other or joined into one column."""
    return values if values.type == pa.large_string() else values.cast(pa.large_string())


def _one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.chunk(0) if values.num_chunks == 1 else values.combine_chunks()
    return values


def _text_bytes(values: pa.Array) -> int:
    """Total bytes of text in a string array, read off its offsets (stripping can only make it smaller)."""
    if len(values) == 0:
        return 0
    width = np.int64 if pa.types.is_large_string(values.type) or pa.types.is_large_binary(values.type) else np.int32
    offsets = np.frombuffer(values.buffers()[1], dtype=width)
    return int(offsets[values.offset + len(values)]) - int(offsets[values.offset])


def encode(values: pd.Series | np.ndarray) -> np.ndarray:
    """Integer code of each value (equal values, equal codes; -1 where missing), for keys compared as values.

    Arrow strings are dictionary-encoded by Arrow, categories use their codes, dates their nanoseconds.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64)
    if isinstance(values, pd.Series) and is_arrow_text(values.dtype):
        known = known_codes(values)
        if known is not None:  # distinct categories: their codes are such codes
            return known[0].astype(np.int64)
        encoded = pc.dictionary_encode(_one_array(pa.array(values.array)))
        return pc.fill_null(encoded.indices, -1).to_numpy().astype(np.int64)
    arr = np.asarray(values)
    if arr.dtype.kind == "M":
        return np.where(np.isnat(arr), -1, arr.view(np.int64))
    return pd.factorize(pd.Series(arr, dtype=object), use_na_sentinel=True)[0].astype(np.int64)


def clean_cells(series: pd.Series, missing_values: Iterable[str]) -> pd.Series:
    """Cells as stripped strings, with blanks and the schema's missing values (``NA``, ``n/a``) as missing.

    Any cell type is accepted (numbers from a hand-built frame become their text). The result is an
    Arrow-backed ``"str"`` Series: stripping (Unicode whitespace) and the missing-value test run in Arrow.
    """
    if isinstance(series.dtype, pd.CategoricalDtype):
        return _clean_categories(series, missing_values)
    text = series if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object else series.astype("str")
    if not is_arrow_text(text.dtype):
        stripped = text.str.strip()
        return stripped.where(~stripped.isin(sorted(set(missing_values) | {""})))
    original = _one_array(pa.array(text.array))
    stripped = pc.utf8_trim_whitespace(original)
    if _text_bytes(stripped) == _text_bytes(original):
        stripped = original  # nothing to strip: keep the cells' own buffers (no copy of the column)
    missing = pc.is_in(stripped, value_set=pa.array(sorted(set(missing_values) | {""}), type=stripped.type))
    if stripped is original and not pc.any(missing).as_py() and text.index.equals(series.index):
        return text
    keep = pc.and_(pc.is_valid(stripped), pc.invert(missing))
    if stripped.offset == 0 and keep.offset == 0 and keep.buffers()[0] is None:
        # the missing cells become nulls through a new validity bitmap over the same offsets and text
        # (one bit per cell instead of a copy of the column)
        masked = pa.Array.from_buffers(stripped.type, len(stripped), [keep.buffers()[1], *stripped.buffers()[1:]])
    else:
        masked = pc.if_else(missing, pa.scalar(None, type=stripped.type), stripped)
    out = text_series(masked)
    out.index = series.index
    return out


def _clean_categories(series: pd.Series, missing_values: Iterable[str]) -> pd.Series:
    """:func:`clean_cells` of a categorical column, done on its categories: the codes are mapped, no text per row.

    Categories that strip to the same text are merged, and those that are missing after stripping become
    missing cells, so equal cleaned cells have equal codes.
    """
    categories = series.cat.categories
    if is_arrow_text(categories.dtype):
        arrow = _one_array(pa.array(categories.array))
        stripped = pc.utf8_trim_whitespace(arrow)
        blank = pc.is_in(stripped, value_set=pa.array(sorted(set(missing_values) | {""}), type=stripped.type))
        clean = _text_bytes(stripped) == _text_bytes(arrow) and arrow.null_count == 0
        if clean and not pc.any(blank).as_py():
            return series  # every category is clean already (and categories are distinct)
        if clean:  # only missing values to drop (the blank category of a column with empty cells)
            new_of_old, uniques = _without_missing(arrow, blank)
        else:
            # cleaned in Arrow (as clean_cells would) and the cleaned texts numbered in order of first appearance
            # (as pd.factorize): no Python string per category
            encoded = pc.dictionary_encode(pc.if_else(blank, pa.scalar(None, type=stripped.type), stripped))
            new_of_old = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
            uniques = encoded.dictionary
    else:
        text = pd.Series(categories.astype(object)).astype("str")
        cleaned = clean_cells(text, missing_values)
        new_of_old, uniques = pd.factorize(cleaned, use_na_sentinel=True)
    mapped = _remapped_codes(series.array.codes, new_of_old)
    held = uniques if isinstance(uniques, pa.Array) else np.asarray(uniques, dtype=object)
    dtype = distinct_categories(pd.Index(pd.array(held, dtype=TEXT_DTYPE)))  # distinct: dictionary or factorize
    return pd.Series(pd.Categorical.from_codes(mapped, dtype=dtype, validate=False), index=series.index)


def _without_missing(categories: pa.Array, missing: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """New code of each of ``categories`` (distinct texts, nothing to strip, none null) once those where ``missing``
    are dropped (-1 for them), and the categories kept: what the dictionary encoding in :func:`_clean_categories`
    gives for such categories (the kept ones are distinct already, so each keeps its place among them), without
    encoding them."""
    keep = pc.invert(missing)
    kept = keep.to_numpy(zero_copy_only=False)
    return np.where(kept, np.cumsum(kept) - 1, -1).astype(np.int64), categories.filter(keep)


def _remapped_codes(codes: np.ndarray, new_of_old: np.ndarray) -> np.ndarray:
    """``new_of_old[codes]`` in the codes' own width, -1 where the code is -1 (a new, writable array).

    Codes one or two bytes wide are gathered by Arrow from a table of every value the width can hold, read
    through the codes as unsigned (code -1 reads the table's last entry, which is -1): Arrow takes narrow
    indices as they are, where NumPy would first widen each row's code to 8 bytes. Wider codes take NumPy's
    gather (code -1 takes the last entry of ``new_of_old`` followed by -1). When no code maps anywhere (every
    category became missing), every code is -1 without a gather.
    """
    if not len(new_of_old) or new_of_old.max() < 0:  # no category is kept (a column blank throughout): no gather
        return np.full(len(codes), -1, dtype=codes.dtype)
    width = codes.dtype.itemsize
    if codes.dtype.kind == "i" and width <= 2 and len(new_of_old) < (1 << (8 * width)) - 1:
        table = np.full(1 << (8 * width), -1, dtype=codes.dtype)
        table[:len(new_of_old)] = new_of_old
        unsigned = np.ascontiguousarray(codes).view(np.uint8 if width == 1 else np.uint16)
        taken = pa.array(table).take(pa.array(unsigned))
        return taken.to_numpy(zero_copy_only=False, writable=True)
    return np.append(new_of_old, -1).astype(codes.dtype).take(codes)


def distinct_cells(cells: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """The code of each cell (-1 where missing) and the distinct values the codes point to.

    Parameters
    ----------
    cells
        A column of cells: categorical (its codes and categories are used as they are), Arrow text
        (dictionary-encoded by Arrow) or any other values (``pd.factorize``).

    Returns
    -------
    codes : numpy.ndarray
        One integer per cell.
    uniques : pandas.Series
        The distinct values as a ``"str"`` Series (for categoricals and Arrow text) or as factorized.
    """
    if isinstance(cells.dtype, pd.CategoricalDtype):
        held = cells.array
        if is_arrow_text(held.categories.dtype):
            return held.codes, text_series(category_text(cells))  # Arrow text handed on, no Python strings
        return held.codes, pd.Series(held.categories.astype(object)).astype("str")
    known = known_codes(cells)
    if known is not None:  # text made from categories: their codes and texts (a category may have no row)
        return known[0], text_series(known[1])
    if is_arrow_text(cells.dtype):
        # Arrow's dictionary encoding: codes in order of first appearance, missing -1 (as pd.factorize)
        encoded = pc.dictionary_encode(_one_array(pa.array(cells.array)))
        return pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), text_series(encoded.dictionary)
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    return codes, uniques


def on_uniques(cells: pd.Series, parse: Callable[[pd.Series], np.ndarray], fill: object) -> np.ndarray:
    """Apply ``parse`` (distinct values -> array) to ``cells`` and return one value per row (``fill`` if missing)."""
    codes, uniques = distinct_cells(cells)
    if len(uniques) == 0:
        sample = parse(pd.Series(["0"], dtype="str"))
        return np.full(len(cells), fill, dtype=sample.dtype if sample.dtype != object else object)
    parsed = np.asarray(parse(_parser_text(uniques)))
    return spread(parsed, codes, fill, object if parsed.dtype.kind in "OUSb" and fill is None else parsed.dtype)


def _parser_text(uniques: pd.Series | pd.Index | np.ndarray) -> pd.Series:
    """Distinct cells (:func:`distinct_cells`) as ``"str"`` text for a parser: Arrow text as it is held (no Python
    string per value), other values through their text."""
    return uniques if isinstance(uniques, pd.Series) and uniques.dtype == TEXT_DTYPE else pd.Series(uniques, dtype="str")


def spread(values: np.ndarray, codes: np.ndarray, fill: object, dtype: np.dtype | type) -> np.ndarray:
    """``values[codes]``, with ``fill`` where the code is -1, in one ``take``.

    When a code is -1, ``values`` followed by ``fill`` form a table of ``dtype`` (the caller's choice: for
    example ``object`` to hold ``None``) and code -1 takes its last entry; otherwise ``values`` are taken as
    they are (``dtype`` unused).
    """
    if len(codes) == 0 or codes.min() >= 0:
        return _gathered(values, codes)
    table = np.empty(len(values) + 1, dtype=dtype)
    table[:-1] = values
    table[-1] = fill
    return _gathered(table, codes)


_GATHER_BY_ARROW_FROM = 4096
"""Fewer codes than this are gathered by NumPy (:func:`_gathered`): for them a full table costs more than it saves."""


def _gathered(table: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``table.take(codes)`` (code -1 takes the last entry), a new writable array.

    Codes one or two bytes wide into a table of numbers are gathered by Arrow from a table of every code the
    width can hold (the entries after ``table``'s own repeat its last, so code -1, read as unsigned, takes it):
    NumPy's ``take`` would first widen each row's code to 8 bytes, which costs several times the gather.
    """
    width = codes.dtype.itemsize
    if codes.dtype.kind != "i" or width > 2 or table.dtype.kind not in "iuf" or not len(table) \
            or len(table) > (1 << (8 * width)) or len(codes) < _GATHER_BY_ARROW_FROM:
        return table.take(codes)
    full = np.full(1 << (8 * width), table[-1], dtype=table.dtype)
    full[:len(table)] = table
    unsigned = np.ascontiguousarray(codes).view(np.uint8 if width == 1 else np.uint16)
    return pa.array(full).take(pa.array(unsigned)).to_numpy(zero_copy_only=False, writable=True)


def distinct_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The code of each cell (-1 where missing) and the number of each distinct cell (:func:`number_values`, a new
    float64 array): :func:`parse_numbers` is ``spread(numbers, codes, nan, float64)``."""
    codes, uniques = distinct_cells(cells)
    if len(uniques) == 0:
        return codes, np.empty(0, dtype=np.float64)
    return codes, number_values(_parser_text(uniques)).astype("float64", copy=False)


def parse_numbers(cells: pd.Series) -> np.ndarray:
    """Numbers as float64 (a new array); missing cells and text that is not a finite number are NaN."""
    codes, numbers = distinct_numbers(cells)
    return spread(numbers, codes, np.nan, np.float64).astype("float64", copy=False)


def number_values(u: pd.Series) -> np.ndarray:
    """Distinct texts as float64 numbers (NaN for text that is not a finite number).

    Arrow text whose every value is a plain whole number (:data:`_PLAIN_WHOLE_NUMBER`, as scores, counts and
    minutes are written) is read by Arrow's cast; any other is read by ``pandas.to_numeric``.
    """
    if isinstance(u, pd.Series) and is_arrow_text(u.dtype) and len(u):
        text = _one_array(pa.array(u.array))
        if text.null_count == 0 and pc.all(pc.match_substring_regex(text, _PLAIN_WHOLE_NUMBER)).as_py():
            return pc.cast(text, pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    x = np.array(pd.to_numeric(u.astype(object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    x[~np.isfinite(x)] = np.nan
    return x


_PLAIN_WHOLE_NUMBER = r"^-?[0-9]{1,15}$"
"""A whole number written plainly (ASCII digits, an optional minus, at most 15 digits: exact as a float64), which
Arrow's cast to int64 reads as ``pandas.to_numeric`` does (:func:`number_values`)."""


def parse_booleans(cells: pd.Series, true_values: Iterable[str], false_values: Iterable[str]) -> np.ndarray:
    """1.0 for a true value, 0.0 for a false value (case ignored), NaN otherwise (missing or not a yes/no)."""
    keys, answers, lookup = _boolean_table(tuple(str(v) for v in true_values), tuple(str(v) for v in false_values))
    codes, texts = _distinct_text(cells)
    if len(texts) == 0:
        return np.full(len(cells), np.nan)
    folded = _folded_ascii(texts, punctuation=False)
    if folded is not None:
        parsed = _looked_up(folded, keys, answers, np.nan)
    else:  # some text is not ASCII: Python's case folding, through pandas
        parsed = text_series(texts).str.casefold().map(lookup).to_numpy(dtype="float64", na_value=np.nan)
    return spread(parsed, codes, np.nan, np.float64).astype("float64", copy=False)


@functools.lru_cache(maxsize=64)
def _boolean_table(true_values: tuple[str, ...], false_values: tuple[str, ...]
                   ) -> tuple[pa.Array, np.ndarray, Mapping[str, float]]:
    """The case-folded yes/no values (a false value wins over the same true value) as Arrow text, the answer of
    each (1.0 or 0.0), and both as a read-only mapping: worked out once per field's values (and shared by every
    call with them, so nothing returned can be changed)."""
    lookup = {v.casefold(): 1.0 for v in true_values}
    lookup.update({v.casefold(): 0.0 for v in false_values})
    answers = np.array(list(lookup.values()), dtype=np.float64)
    answers.flags.writeable = False  # shared by every call with these values
    return pa.array(list(lookup), type=pa.large_string()), answers, types.MappingProxyType(lookup)


def parse_codes(cells: pd.Series, codes: Mapping[str, str]) -> pd.Series:
    """Canonical code for each cell: matches a code or its label ignoring case and punctuation; else missing.

    Returned as a categorical Series (categories: the codes in schema order), computed on the distinct cells.
    """
    keys, positions, lookup, dtype = _code_table(tuple(codes.items()))
    categories = dtype.categories
    row_codes, texts = _distinct_text(cells)
    # codes in the width pandas gives a categorical of these categories (int8 for a few), spread from a table
    # of the distinct cells' codes with one take (code -1, a missing cell, takes the last entry: -1)
    width = pd.Categorical.from_codes(np.empty(0, dtype=np.int64), dtype=dtype).codes.dtype
    if len(texts):
        folded = _folded_ascii(texts, punctuation=True)
        if folded is not None:
            mapped = _looked_up(folded, keys, positions, -1)
        else:  # some text is not ASCII: Python's case folding and regular expressions, through pandas
            normalised = text_series(texts).str.casefold().str.replace(PUNCTUATION_RUNS, " ", regex=True).str.strip()
            mapped = categories.get_indexer(pd.Index(normalised.map(lookup).to_numpy(dtype=object, na_value=None),
                                                     dtype=object))
        out = _gathered(np.append(mapped, -1).astype(width), row_codes)
    else:
        out = np.full(len(cells), -1, dtype=width)
    return pd.Series(pd.Categorical.from_codes(out, dtype=dtype, validate=False))


@functools.lru_cache(maxsize=256)
def _code_table(codes: tuple[tuple[str, str], ...]
                ) -> tuple[pa.Array, np.ndarray, Mapping[str, str], pd.CategoricalDtype]:
    """A field's codes and labels as :func:`normalise_value` leaves them (Arrow text), the place of each one's code
    among the codes, the same as a read-only mapping (normalised text -> code), and the categorical dtype of the
    codes in schema order: worked out once per field's codes (and shared by every call with them). A code wins
    over another code's label of the same text."""
    lookup: dict[str, str] = {}
    for code, label in codes:
        lookup.setdefault(normalise_value(label), code)
    for code, _ in codes:
        lookup[normalise_value(code)] = code
    dtype = pd.CategoricalDtype(pd.Index([code for code, _ in codes], dtype=object))
    positions = dtype.categories.get_indexer(pd.Index(list(lookup.values()), dtype=object))
    positions.flags.writeable = False  # shared by every call with these codes
    return pa.array(list(lookup), type=pa.large_string()), positions, types.MappingProxyType(lookup), dtype


def _distinct_text(cells: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """:func:`distinct_cells` with the distinct values as one Arrow text array (no nulls)."""
    if isinstance(cells.dtype, pd.CategoricalDtype):
        held = cells.array
        if is_arrow_text(held.categories.dtype):
            return held.codes, _one_array(pa.array(held.categories.array))  # the categories' own Arrow text
    codes, uniques = distinct_cells(cells)
    if not (isinstance(uniques, pd.Series) and is_arrow_text(uniques.dtype)):
        uniques = pd.Series(uniques, dtype="str")
    return codes, _one_array(pa.array(uniques.array))


def _folded_ascii(texts: pa.Array, *, punctuation: bool) -> pa.Array | None:
    """``texts`` case-folded and, with ``punctuation``, each run of punctuation, spaces or ``_`` made one space and
    the ends stripped (as :func:`normalise_value`), by Arrow's kernels; ``None`` when some text is not ASCII.

    On ASCII text Arrow's lower case is Python's ``casefold`` and its ``\\W`` is Python's; on other text they
    differ (``ß`` folds to ``ss``; ``é`` is a word character to Python), so the caller folds such text in Python.
    """
    if not pc.all(pc.string_is_ascii(texts)).as_py():
        return None
    folded = pc.ascii_lower(texts)
    if punctuation:
        folded = pc.ascii_trim_whitespace(pc.replace_substring_regex(folded, PUNCTUATION_RUNS, " "))
    return folded


def _looked_up(folded: pa.Array, keys: pa.Array, values: np.ndarray, fill: object) -> np.ndarray:
    """``values`` at the place of each of ``folded`` among ``keys``, ``fill`` where it is not one of them."""
    at = pc.fill_null(pc.index_in(folded, value_set=keys.cast(folded.type)), -1).to_numpy(zero_copy_only=False)
    return np.append(values, np.array([fill], dtype=values.dtype)).take(at)


def full_match(cells: pd.Series, pattern: str) -> np.ndarray:
    """True where the cell matches ``pattern`` entirely (missing cells count as matching)."""

    def parse(u: pd.Series) -> np.ndarray:
        return u.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)

    return on_uniques(cells, parse, True).astype(bool, copy=False)


def look_up(keys: pd.Series | np.ndarray, table: pd.Series) -> np.ndarray:
    """``table``'s value for each key (missing where the key is not in its index); works when either is empty."""
    table = table[~table.index.duplicated()]
    if isinstance(keys, pd.Series):
        keys = keys.to_numpy(dtype=object, na_value=None)
    return table.reindex(pd.Index(np.asarray(keys, dtype=object))).to_numpy()


class CellPicker:
    """The cells of a column as text, converted only for the rows asked for (``picker[mask]``)."""

    def __init__(self, cells: pd.Series) -> None:
        self._cells = cells

    def __getitem__(self, mask: np.ndarray) -> np.ndarray:
        mask = np.asarray(mask)
        if mask.dtype == bool and not mask.any():
            return np.empty(0, dtype=object)
        return self._cells[mask].to_numpy(dtype=object, na_value=None)
