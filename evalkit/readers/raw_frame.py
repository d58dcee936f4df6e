"""Turn a grid of cells read from a file into a raw frame of one canonical table.

Every reader (CSV, Excel, REDCap, FHIR) ends here, so headers, unknown and
identifying columns, value synonyms, constants and provenance are handled the
same way whatever the file type.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from evalkit.canonical import SOURCE_FILE, SOURCE_ROW, SOURCE_SHEET
from evalkit.column_mapping import PUNCTUATION_RUNS, ColumnMapping, normalise_value
from evalkit.readers.headers import builtin_value_synonyms, column_letter, match_headers
from evalkit.readers.notes import empty_notes, notes_set_aside, problem, source_key, with_notes
from evalkit.schemas import table_schema
from evalkit.text_dtype import TEXT_DTYPE, is_arrow_text, is_text_categorical

__all__ = ["build_raw_frame", "apply_value_synonyms", "compact_text_columns", "concat_raw_frames", "distinct_categories",
           "joined_categoricals", "missing_text", "provenance_categorical", "repeated_text", "settle_parsed_categories",
           "text_categorical"]



def distinct_categories(categories: pd.Index) -> pd.CategoricalDtype:
    """The categorical dtype of ``categories`` known to be distinct and not missing (an Arrow dictionary).

    pandas checks a new dtype's categories for repeats by hashing every one of them; Arrow's dictionaries are
    distinct by construction, so the check is skipped where pandas allows it (same dtype either way).

    Parameters
    ----------
    categories
        Distinct, non-missing values.

    Returns
    -------
    pandas.CategoricalDtype
        Unordered, with ``categories`` as they are.
    """
    fast = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    if fast is None:  # pragma: no cover - pandas without the fast path
        return pd.CategoricalDtype(categories)
    return fast(categories, False)


def compact_text_columns(frame: pd.DataFrame, *, max_share: float = 0.5) -> pd.DataFrame:
    """Hold each text column that repeats its values as a categorical of the same text (in place).

    A column whose distinct values number at most ``max_share`` of its rows
    (codes, dates, scores, ids repeated over contacts) is dictionary-encoded
    by Arrow: each cell becomes a 1-4 byte code into one copy of each distinct
    text, instead of an 8-byte offset plus its characters. Every cell keeps its
    text exactly (missing stays missing); validation then parses each distinct
    value once from the categories. Columns with mostly distinct values
    (free text, the participants' own ids) stay ``"str"``; the provenance columns are left as they are
    (``source_file`` and ``source_sheet`` are categoricals already: :func:`provenance_categorical`).

    Parameters
    ----------
    frame
        A raw frame (:func:`build_raw_frame`).
    max_share
        Largest share of distinct values for which a column is encoded.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself, its repetitive text columns replaced.
    """
    with notes_set_aside(frame):  # the columns are read one by one
        return _compact_text_columns(frame, max_share)


def _cell_columns(frame: pd.DataFrame) -> list[tuple[str, Any]]:
    """Name and dtype of each column of ``frame`` but the provenance columns and names given twice (read from
    the frame's dtypes at once, not column by column)."""
    repeated = frame.columns.duplicated(keep=False)
    return [(c, dtype) for c, dtype, twice in zip(frame.columns, frame.dtypes, repeated, strict=True)
            if not twice and c not in (SOURCE_FILE, SOURCE_SHEET, SOURCE_ROW)]


def _compact_text_columns(frame: pd.DataFrame, max_share: float, skip: frozenset[str] = frozenset()) -> pd.DataFrame:
    """The work of :func:`compact_text_columns` (the frame's notes already set aside); the columns in ``skip``
    are known to hold more distinct values than it encodes."""
    n = len(frame)
    if n < 2:
        return frame
    columns = [c for c, dtype in _cell_columns(frame) if c not in skip and is_arrow_text(dtype)]
    # Arrow encodes without holding the GIL: a few columns at a time on the machine's cores (only that many
    # columns' codes are held at once), each column's result put in the frame in column order
    workers = max(1, min(4, pa.cpu_count(), len(columns)))
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    limit = max_share * n
    try:
        for start in range(0, len(columns), workers):
            batch = columns[start:start + workers]
            texts = [pa.array(frame[c].array) for c in batch]
            done = (pool.map(lambda v: _encode(v, limit), texts) if pool is not None
                    else (_encode(v, limit) for v in texts))
            for column, (codes, dictionary, joined) in zip(batch, done, strict=True):
                if codes is not None:
                    categories = pd.Index(pd.array(dictionary, dtype=TEXT_DTYPE))
                    frame[column] = pd.Series(pd.Categorical.from_codes(codes, dtype=distinct_categories(categories)),
                                              index=frame.index)
                elif joined is not None:  # left as text: one contiguous array, as the reader gives
                    frame[column] = pd.Series(pd.array(joined, dtype=TEXT_DTYPE), index=frame.index)
    finally:
        if pool is not None:
            pool.shutdown()
    return frame


def settle_parsed_categories(frame: pd.DataFrame, *, renumber: bool, max_share: float = 0.5,
                             compact: bool = False) -> pd.DataFrame:
    """Make the categorical text columns a parser encoded what :func:`compact_text_columns` would (in place).

    The reader (:func:`evalkit.readers.csv.read_csv`) may have the CSV parser dictionary-encode every column
    (categories in order of first appearance) instead of encoding the text afterwards. This function then
    gives each categorical column of ``frame`` (provenance columns aside) the form
    :func:`compact_text_columns` would give the same cells as text: a column with more distinct values
    than ``max_share`` of the rows (or any column of a frame under two rows) becomes ``"str"`` again, and
    with ``renumber`` (rows were dropped after parsing: blank lines) the categories still used are
    renumbered in order of first appearance over the rows left.

    Parameters
    ----------
    frame
        A raw frame (:func:`build_raw_frame`) whose categorical columns came from the parser.
    renumber
        Whether rows were dropped since the parser encoded the columns.
    max_share
        Largest share of distinct values for which a column stays categorical.
    compact
        Then compact the frame's other text columns (:func:`compact_text_columns` with ``max_share``); a
        column made text again here is not encoded a second time only to find as many distinct values.

    Returns
    -------
    pandas.DataFrame
        ``frame`` itself.
    """
    with notes_set_aside(frame):  # the columns are read one by one
        too_varied = _settle_parsed_categories(frame, renumber, max_share)
        if compact:
            _compact_text_columns(frame, max_share, skip=too_varied)
    return frame


def _settle_parsed_categories(frame: pd.DataFrame, renumber: bool, max_share: float) -> frozenset[str]:
    """The work of :func:`settle_parsed_categories` (the frame's notes already set aside).

    Returns the columns made text whose cells hold more than ``max_share`` of the rows distinct values
    (every category left in use), which :func:`compact_text_columns` would leave as text.
    """
    n = len(frame)
    too_varied: set[str] = set()
    columns = [c for c, dtype in _cell_columns(frame) if isinstance(dtype, pd.CategoricalDtype)]
    for column in columns:
        values = frame[column].array
        codes = np.asarray(values.codes)
        categories = values.categories
        if renumber:
            # the codes still used, in order of first appearance (pd.unique keeps that order)
            used = pd.unique(codes[codes >= 0])
            new_of_old = np.full(len(categories) + 1, -1, dtype=np.int64)
            new_of_old[used] = np.arange(len(used))
            codes = new_of_old[codes]
            categories = categories[used]
            values = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(
                pd.Index(pd.array(categories.array, dtype=TEXT_DTYPE))))
        if n < 2 or len(categories) > max_share * n:
            held = pa.array(categories.array).cast(pa.large_string())
            if isinstance(held, pa.ChunkedArray):
                held = held.combine_chunks()
            text = held.take(pa.array(codes, mask=codes < 0))
            frame[column] = pd.Series(pd.array(text, dtype=TEXT_DTYPE), index=frame.index)
            # renumbered categories are all in use; else counted (a category no row holds is not a value)
            in_use = len(categories) if renumber else int(np.count_nonzero(
                np.bincount(codes[codes >= 0], minlength=len(categories))))
            if n >= 2 and in_use > max_share * n:
                too_varied.add(column)
        elif renumber:
            frame[column] = pd.Series(values, index=frame.index)
    return frozenset(too_varied)


def _encode(values: pa.Array | pa.ChunkedArray, limit: float) -> tuple[np.ndarray | None, pa.Array | None,
                                                                         pa.Array | None]:
    """Dictionary-encode one text column: its codes (-1 missing) and distinct texts if there are at most
    ``limit`` of them; otherwise ``None`` and, for a column still in the reader's blocks, the joined text.

    A column in blocks is encoded block by block: Arrow gives every block the same dictionary (in order of
    first appearance, as for the joined column; checked) and the codes are joined.
    """
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray) and values.num_chunks == 1:
        values = values.chunk(0)
    encoded = pc.dictionary_encode(values)
    blocks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not blocks:
        return None, None, None
    dictionary = blocks[-1].dictionary
    if not all(b.dictionary.equals(dictionary) for b in blocks[:-1]):  # not seen: then as one array
        values = values.combine_chunks()
        blocks = [pc.dictionary_encode(values)]
        dictionary = blocks[0].dictionary
    if len(dictionary) > limit:
        return None, None, values.combine_chunks() if isinstance(values, pa.ChunkedArray) else None
    codes = np.concatenate([pc.fill_null(b.indices, -1).to_numpy(zero_copy_only=False) for b in blocks])
    return codes, dictionary, None


def apply_value_synonyms(values: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """Replace values whose folded form is a synonym by its code; other values unchanged.

    Works on the distinct values only, so it is fast on long columns.
    """
    if not synonyms or values.empty:
        return values
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _category_synonyms(values, synonyms)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    if len(uniques) == 0:
        return values
    folded = (pd.Series(uniques, dtype="str").str.casefold()
              .str.replace(PUNCTUATION_RUNS, " ", regex=True).str.strip())
    mapped = folded.map(synonyms)
    new_uniques = mapped.where(mapped.notna(), pd.Series(uniques, dtype="str")).to_numpy(dtype=object)
    if (new_uniques == np.asarray(uniques, dtype=object)).all() and isinstance(values.dtype, pd.StringDtype):
        return values.astype("str")  # no cell is a synonym
    # the distinct values taken by code in Arrow: no Python string per row
    taken = pa.array(list(new_uniques), type=pa.large_string()).take(pa.array(codes, mask=codes < 0))
    return pd.Series(pd.array(taken, dtype=TEXT_DTYPE), index=values.index)


_FEW_CATEGORIES = 256
"""Categories up to which :func:`_category_synonyms` first looks for a synonym among them as Python text."""


def _any_synonym(texts: list[str], synonyms: dict[str, str]) -> bool:
    """Whether some text folds (:func:`~evalkit.column_mapping.normalise_value`, as :func:`apply_value_synonyms`
    folds a whole column) to a synonym of another text."""
    return any(synonyms.get(normalise_value(text), text) != text for text in texts)


def _category_synonyms(values: pd.Series, synonyms: dict[str, str]) -> pd.Series:
    """:func:`apply_value_synonyms` of a categorical column of text, on its categories.

    Categories that become the same code are merged; the new categories are numbered in the order of the
    old ones (so categories in order of first appearance stay so).
    """
    categories = values.cat.categories
    if len(categories) == 0:
        return values
    if len(categories) <= _FEW_CATEGORIES and not _any_synonym(categories.tolist(), synonyms):
        return values  # no category is a synonym (most columns): seen without building Series of a few texts
    text = pd.Series(categories, dtype="str")
    folded = text.str.casefold().str.replace(PUNCTUATION_RUNS, " ", regex=True).str.strip()
    mapped = folded.map(synonyms)
    new = mapped.where(mapped.notna(), text)
    if (new.to_numpy(dtype=object) == text.to_numpy(dtype=object)).all():
        return values  # no category is a synonym
    new_of_old, uniques = pd.factorize(new, use_na_sentinel=True)
    codes = np.append(new_of_old, -1).astype(np.int64)[values.cat.codes.to_numpy()]
    dtype = pd.CategoricalDtype(pd.Index(pd.array(np.asarray(uniques, dtype=object), dtype=TEXT_DTYPE)))
    return pd.Series(pd.Categorical.from_codes(codes, dtype=dtype), index=values.index)


def _blank(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.CategoricalDtype):  # tested on the categories, spread by code
        categories = series.cat.categories
        if is_arrow_text(categories.dtype):
            import pyarrow.compute as pc  # stripped in Arrow, as .str.strip() does

            held = pa.array(categories.array)
            blank = pc.fill_null(pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(held)), 0), False).to_numpy(
                zero_copy_only=False)
            blank = np.asarray(blank, dtype=bool)
        else:
            blank = (pd.Series(categories, dtype="str").str.strip() == "").to_numpy(dtype=bool)
        return pd.Series(np.append(blank, True)[series.cat.codes.to_numpy()], index=series.index)
    return series.isna() | (series.str.strip() == "")


_NUMBER_CELL = re.compile(r"\s*[-+]?\d[\d,]*(?:\.\d+)?\s*%?\s*")


def _summary_rows(cells: pd.DataFrame) -> np.ndarray:
    """Per row: whether it is a total or summary row under the data: its first cell is a summary label
    (:func:`evalkit.readers.messy.is_summary_label`: "Total", "Average", ...) and every other cell is blank or a
    number. A mother's row always holds some text (a programme code, a date), so an id that happens to start
    with such a word ("Count-01") is still read.

    One regular expression in Arrow finds the candidate rows (on the categories of a categorical column, spread
    by code); only those few are looked at one by one.
    """
    import pyarrow.compute as pc

    from evalkit.readers.messy import is_summary_label, summary_word_pattern

    first = cells[0]
    codes = None
    if isinstance(first.dtype, pd.CategoricalDtype):
        categories = first.cat.categories
        if is_arrow_text(categories.dtype):
            held = pa.array(categories.array)  # the categories' own Arrow text, not Python strings
        else:
            held = pa.array(np.asarray(categories, dtype=object), type=pa.large_string())
        codes = first.cat.codes.to_numpy()
    else:
        held = pa.array(first.astype("str").array, type=pa.large_string())
    found = pc.fill_null(pc.match_substring_regex(held, summary_word_pattern(), ignore_case=True), False)
    candidates = np.flatnonzero(np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool))
    if codes is not None:  # the rows holding those categories (none to look for in most files)
        candidates = np.flatnonzero(np.isin(codes, candidates)) if len(candidates) else candidates
    out = np.zeros(len(cells), dtype=bool)
    for r in candidates:  # few: a totals row or two
        others = [cells[p].iloc[r] for p in range(1, cells.shape[1])]
        out[r] = is_summary_label(str(first.iloc[r])) and all(
            v is None or (isinstance(v, float) and v != v) or not str(v).strip()
            or _NUMBER_CELL.fullmatch(str(v)) is not None for v in others)
    return out


def repeated_text(text: str | None, n: int) -> pa.Array:
    """``text`` (or missing) on ``n`` rows as an Arrow ``large_string`` array.

    Built from its buffers: the text's bytes ``n`` times and evenly spaced offsets (as ``take`` of one
    value would give, without a gather per row).

    Parameters
    ----------
    text
        The value of every row; ``None`` for missing.
    n
        Number of rows.

    Returns
    -------
    pyarrow.Array
        ``n`` copies of ``text`` (all null for ``None``).
    """
    if text is None:
        return missing_text(n)
    data = text.encode("utf-8")
    # made at their step in one pass (an empty text: every offset 0)
    offsets = np.arange(0, (n + 1) * len(data), len(data), dtype=np.int64) if data else np.zeros(n + 1, np.int64)
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def missing_text(n: int) -> pa.Array:
    """``n`` missing values as an Arrow ``large_string`` array (what ``pa.nulls(n, pa.large_string())`` gives),
    its buffers fresh zeroed memory that is never written.

    ``numpy.zeros`` takes large zeroed blocks from the kernel as they are (``calloc``), and their pages take
    no resident memory until written, which an Arrow array never is; ``pa.nulls`` writes its offsets (8 bytes
    a row). (A CSV table's ``source_sheet`` was such a column, about 250 MB resident in all with ``pa.nulls``
    at a million participants of issue #8's volume; it is now a categorical without categories.)

    Parameters
    ----------
    n
        Number of rows.

    Returns
    -------
    pyarrow.Array
        ``n`` nulls of type ``large_string``.
    """
    offsets = np.zeros(n + 1, dtype=np.int64)  # every value empty
    validity = np.zeros((n + 7) // 8, dtype=np.uint8)  # every value missing
    buffers = [pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(b"")]
    return pa.Array.from_buffers(pa.large_string(), n, buffers, null_count=n)


def _repeated(text: str | None, n: int) -> pd.Series:
    """``text`` (or missing) on ``n`` rows as a ``"str"`` Series, made in Arrow."""
    return pd.Series(pd.array(repeated_text(text, n), dtype=TEXT_DTYPE))


PROVENANCE_TEXT_COLUMNS = (SOURCE_FILE, SOURCE_SHEET)
"""The provenance columns held as categoricals of text (:func:`provenance_categorical`)."""


def _text_categories(texts: pd.Index | pd.api.extensions.ExtensionArray | list[str], dtype: pd.StringDtype = TEXT_DTYPE
                     ) -> pd.CategoricalDtype:
    """The categorical dtype whose categories are ``texts`` (distinct, not missing) as pandas text of ``dtype``."""
    return distinct_categories(pd.Index(pd.array(texts, dtype=dtype)))


def provenance_categorical(text: str | None, n: int) -> pd.Categorical:
    """``text`` (or missing) on ``n`` rows as a categorical of text: one category (``"str"``) and code 0 on every
    row, or no category and code -1 for ``None``.

    A provenance column (``source_file``, ``source_sheet``) names one file (and sheet) on every row a reader
    gives: held so, a row costs one byte (an ``int8`` code) instead of the name written out with an 8-byte
    offset. The codes of a name are fresh zeroed memory, resident only as they are read.

    Parameters
    ----------
    text
        The value of every row; ``None`` for missing (a CSV file's sheet).
    n
        Number of rows.

    Returns
    -------
    pandas.Categorical
        ``n`` rows, ``int8`` codes; ``astype("str")`` gives the text column.
    """
    if text is None:
        return pd.Categorical.from_codes(np.full(n, -1, dtype=np.int8), dtype=_text_categories([]), validate=False)
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), dtype=_text_categories([text]), validate=False)


def text_categorical(values: pd.Series | pd.api.extensions.ExtensionArray | np.ndarray,
                     dtype: pd.StringDtype = TEXT_DTYPE) -> pd.Categorical:
    """Any column of text (or missing) as a categorical whose categories are its distinct texts (of ``dtype``).

    A categorical of text categories is re-labelled (same codes) when its categories are not of ``dtype``;
    other columns are encoded (categories in order of first appearance; missing stays missing).
    """
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.Categorical) and (isinstance(values.categories.dtype, pd.StringDtype)
                                               or len(values.categories) == 0):
        if values.categories.dtype == dtype:
            return values
        return pd.Categorical.from_codes(values.codes, dtype=_text_categories(values.categories.array, dtype),
                                         validate=False)
    if isinstance(values, pd.Categorical):
        values = values.astype(object)
    # Arrow text is cast in Arrow (no Python string per row); anything else goes through Python objects
    text = pd.array(values, dtype=dtype) if is_arrow_text(getattr(values, "dtype", None)) \
        else pd.Series(values, dtype=object).astype(dtype).array
    codes, uniques = pd.factorize(text, use_na_sentinel=True)
    return pd.Categorical.from_codes(codes, dtype=_text_categories(np.asarray(uniques, dtype=object), dtype),
                                     validate=False)


def joined_categoricals(columns: list[pd.Series | pd.api.extensions.ExtensionArray]) -> pd.Categorical:
    """Columns of text (or missing) one under the other as one categorical of text: the categories every part's,
    in order of first appearance over the parts.

    ``pandas.concat`` of categoricals whose categories differ gives text (a name written out on every row);
    :func:`pandas.api.types.union_categoricals` joins their codes instead.
    """
    from pandas.api.types import union_categoricals

    parts = [text_categorical(c) for c in columns]
    if len(parts) == 1:
        return parts[0]
    return union_categoricals(parts)


def concat_raw_frames(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Raw frames one under the other (``pandas.concat`` with ``ignore_index``), the provenance columns
    ``source_file`` and ``source_sheet`` joined as categoricals of text (:func:`joined_categoricals`).

    A frame without a provenance column gives missing values in it; a single frame is returned itself. Frames
    with a column name given twice are joined by ``pandas.concat`` alone.
    """
    if len(frames) == 1:
        return frames[0]
    if not all(f.columns.is_unique for f in frames):
        return pd.concat(frames, ignore_index=True)
    order = pd.concat([f.iloc[:0] for f in frames]).columns  # the columns as pandas.concat orders them
    joined = {c: joined_categoricals([f[c] if c in f.columns else provenance_categorical(None, len(f))
                                      for f in frames])
              for c in PROVENANCE_TEXT_COLUMNS if c in order}
    merged = pd.concat([f.drop(columns=[c for c in joined if c in f.columns]) for f in frames], ignore_index=True)
    for column, values in joined.items():
        merged[column] = pd.Series(values, index=merged.index, copy=False)
    return merged[list(order)] if list(merged.columns) != list(order) else merged


def build_raw_frame(
    cells: pd.DataFrame,
    headers: list[str],
    source_rows: np.ndarray,
    *,
    table: str,
    file: str,
    sheet: str | None,
    header_row: int,
    mapping: ColumnMapping | None = None,
    problems: list[dict[str, Any]] | None = None,
) -> pd.DataFrame:
    """Build the raw frame of ``table`` from positional ``cells``.

    Parameters
    ----------
    cells
        Column ``i`` holds the cells under ``headers[i]`` as strings (missing = None/NaN).
    headers
        Header row as written.
    source_rows
        Row number of each line of ``cells`` as the provider sees it.
    table, file, sheet, header_row
        Where the cells came from.
    mapping
        The provider's column mapping, if any.
    problems
        Problems the reader already found (e.g. ragged rows); kept with the frame.

    Returns
    -------
    pandas.DataFrame
        Canonical column names (only those present), every cell a string or
        missing, plus ``source_file``, ``source_sheet`` and ``source_row``.
        ``source_file`` and ``source_sheet`` are categoricals of text
        (:func:`provenance_categorical`: one ``"str"`` category, the file's / sheet's
        name, or none for a missing sheet) and ``source_row`` is ``"Int64"``; the
        two names were ``"str"`` columns before (``astype("str")`` gives them).
        Rows with no value at all are dropped. Reader problems (``unknown_column``,
        ``identifier_column``, ``duplicate_column``) travel in the frame's notes
        (:mod:`evalkit.readers.notes`).
    """
    notes = empty_notes()
    notes["problems"] = list(problems or [])
    cells = cells.copy(deep=False)  # columns below are replaced, never written into: the caller's cells are kept
    cells.columns = range(cells.shape[1])
    for position in range(cells.shape[1]):
        dtype = cells[position].dtype
        if not is_text_categorical(dtype):
            cells[position] = cells[position].astype("str")  # categoricals of text (the CSV parser's) kept
    # a row is dropped when every cell is blank: test column by column only the rows still blank so far
    # (usually none are left after the first column)
    blank = np.ones(len(cells), dtype=bool)
    for p in cells.columns:
        if not blank.any():
            break
        still = np.flatnonzero(blank)
        column = cells[p] if len(still) == len(blank) else cells[p].iloc[still]  # the first: every row, not a copy
        blank[still] = _blank(column).to_numpy(dtype=bool)
    summary = _summary_rows(cells) if cells.shape[1] else np.zeros(len(cells), dtype=bool)
    summary &= ~blank
    if summary.any():
        from evalkit.readers.messy import summary_row_message
    for r in np.flatnonzero(summary):  # few: a totals row or two under the data
        label = str(cells[0].iloc[r]).strip()
        notes["problems"].append(problem(
            file=file, sheet=sheet, table=table, source_row=int(source_rows[r]), column="", value=label[:80],
            rule="summary_row", severity="warning",
            message=summary_row_message(int(source_rows[r]), label)))
    keep = ~(blank | summary)
    if not keep.all():
        cells = cells.loc[keep].reset_index(drop=True)
        source_rows = np.asarray(source_rows)[keep]
    else:
        cells = cells.reset_index(drop=True)
        source_rows = np.asarray(source_rows)

    matches = match_headers(list(headers) + [""] * (cells.shape[1] - len(headers)), table, mapping)
    data: dict[str, pd.Series] = {}
    headers_seen: dict[str, str] = {}
    schema = table_schema(table)

    def note(column: str, value: str, rule: str, message: str) -> None:
        notes["problems"].append(problem(
            file=file, sheet=sheet, table=table, source_row=header_row, column=column, value=value,
            rule=rule, message=message, severity="warning",
        ))

    for m in matches:
        letter = column_letter(m.position)
        where = f"Column {letter} ('{m.header}')" if m.header.strip() else f"Column {letter} (no header)"
        if m.kind == "column" and m.column is not None:
            data[m.column] = cells[m.position] if m.position < cells.shape[1] else _repeated(None, len(cells))
            headers_seen[m.column] = m.header
        elif m.kind == "identifier":
            note(m.header, m.header, "identifier_column",
                 f"{where} looks like it holds identifying details (names, contact details, dates of birth, "
                 "postcodes or NHS numbers). It was not read, and an upload holding it is refused (nothing is "
                 "stored) until the column is removed: evalkit needs only a pseudonymous id. Remove the column "
                 "from the files you upload.")
        elif m.kind == "duplicate":
            note(m.header, m.header, "duplicate_column",
                 f"{where} means the same as the earlier column '{headers_seen.get(m.column or '', m.column)}' "
                 f"({m.column}); only the first one was read.")
        elif m.kind == "unknown" or (m.kind == "blank" and m.position < cells.shape[1]
                                       and not _blank(cells[m.position]).all()):
            note(m.header, m.header, "unknown_column",
                 f"{where} is not a column of the {table} table, so it was not stored. Expected columns such "
                 f"as {', '.join(schema.field_names[:6])}. If it holds one of them, name it in your column "
                 "mapping; otherwise you can ignore this warning.")

    n = len(cells)
    # the frame's columns in order (a column given again keeps its place, as in a frame), the frame made once
    # from them without copying (copy-on-write: a change to the frame never reaches the caller's cells)
    columns: dict[str, pd.Series | pd.api.extensions.ExtensionArray] = dict(data)
    for column in list(columns):
        synonyms = builtin_value_synonyms(column)
        if mapping is not None:
            synonyms = {**synonyms, **mapping.value_synonyms(column)}
        if synonyms:
            columns[column] = apply_value_synonyms(columns[column], synonyms)
    if mapping is not None:
        for column, value in mapping.constants.items():
            if column in schema.field_names:
                if column in columns:
                    values = columns[column]
                    if isinstance(values.dtype, pd.CategoricalDtype):
                        values = values.astype("str")
                    columns[column] = values.where(~_blank(values), value)
                else:
                    columns[column] = pd.Series([value] * n, dtype="str")
        date_columns = {f.name for f in schema.fields if f.type == "date"}
        notes["date_formats"] = {c: f for c, f in mapping.strftime_formats().items() if c in date_columns}
    columns[SOURCE_FILE] = provenance_categorical(file, n)
    columns[SOURCE_SHEET] = provenance_categorical(sheet, n)
    columns[SOURCE_ROW] = pd.array(source_rows, dtype="Int64")
    frame = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    notes["sources"] = {source_key(file, sheet): {"header_row": int(header_row), "headers": headers_seen}}
    return with_notes(frame, notes)
