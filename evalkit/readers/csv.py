"""Read a CSV file: encoding and delimiter found for the provider, rows numbered as they see them.

* Encodings: UTF-8 (with or without a byte-order mark), UTF-16 with a BOM
  (Excel's "Unicode text"), otherwise Windows-1252 (a superset of Latin-1 for
  the characters charities type: é, £, curly quotes) - byte by byte, so a file
  mixing UTF-8 and Windows-1252 rows keeps both.
* Delimiters: comma, semicolon, tab or bar, chosen from the first lines.
* Row numbers: the header is row 1 and the first data row is row 2, as in a
  spreadsheet program (a cell with a line break inside quotes stays one row).
* A row with more cells than the header is reported (rule ``extra_cells``,
  error) and set aside; trailing empty cells are ignored.
"""

from __future__ import annotations

import codecs
import csv as std_csv
import io
import mmap
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.memory import release_freed_memory
from evalkit.readers.detect import (
    HEADER_SCAN_ROWS,
    detect_table,
    find_header_row,
    names_columns,
    rows_above_header,
)
from evalkit.readers.limits import ReadLimits, check_file_size, check_shape
from evalkit.readers.notes import problem
from evalkit.readers.raw_frame import (
    build_raw_frame,
    distinct_categories,
    settle_parsed_categories,
)
from evalkit.text_dtype import TEXT_DTYPE

if TYPE_CHECKING:  # pyarrow itself is imported where a file is parsed
    import pyarrow as pa

__all__ = ["TextTable", "decode_text", "extra_cells_message", "read_csv", "read_text_table", "sniff_delimiter",
           "swallows_rows", "unclosed_quote_message"]

_DELIMITERS = (",", ";", "\t", "|")
_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}


def _cp1252_for_bad_bytes(err: UnicodeError) -> tuple[str, int]:
    """Decoding error handler: bytes that are not UTF-8 are read as Windows-1252 (else Latin-1)."""
    assert isinstance(err, UnicodeDecodeError)
    bad = err.object[err.start:err.end]
    return "".join(bytes([b]).decode("cp1252", errors="strict") if b not in _CP1252_UNDEFINED else chr(b)
                   for b in bad), err.end


_CP1252_UNDEFINED = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
_CP1252_FALLBACK = "evalkit-cp1252-fallback"
codecs.register_error(_CP1252_FALLBACK, _cp1252_for_bad_bytes)


_CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters (Unicode category Cc: U+0000-U+001F, U+007F-U+009F) other than tab, CR and LF."""


def decode_text(data: bytes, *, file_label: str) -> str:
    """Decode the bytes of a text file, or raise :class:`InputFileError` if they are not text."""
    if data.startswith(b"PK\x03\x04"):
        raise InputFileError(
            "this is a zip archive or an Excel workbook, not a CSV text file. If it is a workbook, "
            "give it the .xlsx extension; otherwise save the sheet as 'CSV UTF-8'.",
            file=file_label,
        )
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputFileError(
            "this is an old-style Excel (.xls) or Word file, not a CSV text file. "
            "Open it in Excel and save it as .xlsx or as 'CSV UTF-8'.",
            file=file_label,
        )
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            pass
    if b"\x00" in data[:65536]:
        raise InputFileError(
            "the file holds binary data, not text, so it is not a CSV file. "
            "Expected a spreadsheet saved as CSV (comma- or semicolon-separated text).",
            file=file_label,
        )
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    # UTF-8, with any byte that is not UTF-8 read as Windows-1252: a file typed partly in each (rows pasted
    # from two systems) keeps both "Café" and "crèche" instead of turning the UTF-8 part into "CafÃ©".
    text = body.decode("utf-8", errors=_CP1252_FALLBACK)
    sample = text[:65536]
    controls = len(_CONTROLS.findall(sample))
    if sample and controls > max(2, len(sample) // 100):
        raise InputFileError(
            "the file holds binary data, not text, so it is not a CSV file. "
            "Expected a spreadsheet saved as CSV (comma- or semicolon-separated text).",
            file=file_label,
        )
    return text


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first lines into the same number of cells most consistently."""
    lines = [line for line in text[:100_000].splitlines() if line.strip()][:50]
    if not lines:
        return ","
    best, best_score = ",", (-1.0, -1, 0)
    for delimiter in _DELIMITERS:
        rows = list(std_csv.reader(lines, delimiter=delimiter))
        width = len(rows[0])
        same = sum(1 for r in rows if len(r) == width) / len(rows)
        score = (1.0 if width > 1 else 0.0, same if width > 1 else 0.0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _records_slow(text: str, delimiter: str, file_label: str) -> list[list[str]]:
    std_csv.field_size_limit(10 * 1024 * 1024)
    try:
        return list(std_csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except std_csv.Error as exc:
        raise InputFileError(
            f"the CSV text cannot be split into cells ({exc}). Check for a quote mark (\") that is "
            "opened but never closed, then save the sheet as CSV again.",
            file=file_label,
        ) from None


def _grid(text: str, delimiter: str, file_label: str) -> pd.DataFrame | list[list[str]]:
    """Parse ``text``: a frame of strings when every row fits, else the list of records."""
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=delimiter, header=None, dtype=str, keep_default_na=False,
            na_filter=False, skip_blank_lines=False, engine="c", quoting=std_csv.QUOTE_MINIMAL,
        )
        return frame
    except pd.errors.EmptyDataError:
        # pandas takes the width from the first line: a blank first line (above the header) gives "no columns"
        return _records_slow(text, delimiter, file_label) if text.strip() else pd.DataFrame()
    except (pd.errors.ParserError, ValueError, OverflowError):
        return _records_slow(text, delimiter, file_label)


_PREFIX = 1_000_000  # bytes decoded up front for the checks and the delimiter (at least 250,000 characters)


def _arrow_grid(data: bytes | Path, delimiter: str, *, combine: bool = True,
                width: int | None = None, quoted: bool | None = None,
                one_byte: frozenset[int] = frozenset()) -> pd.DataFrame | None:
    """Split UTF-8 ``data`` with Arrow's multi-threaded CSV reader, every cell as text.

    Gives the same cells as :func:`_grid` (quotes, doubled quotes, quoted line breaks, CR/LF/CRLF line ends,
    blank lines as rows of empty cells), as Arrow-backed ``"str"`` columns without making Python strings.
    Returns ``None`` where Arrow will not read the file exactly so - bytes that are not UTF-8 (read as
    Windows-1252 by :func:`decode_text`), rows of different lengths, an unclosed quote - and the
    caller falls back to :func:`_grid`. With ``combine=False`` each column is left in the parser's blocks
    (for :func:`evalkit.readers.raw_frame.compact_text_columns`, which encodes them block by block and joins
    only the columns it leaves as text).

    With ``width`` (the number of cells of a first line :func:`_plain_header` split itself) that line is
    skipped and every column is dictionary-encoded by the parser as it reads (see
    :func:`_encoded_columns`): the columns come back as categoricals of their text, categories in order of
    first appearance, as :func:`evalkit.readers.raw_frame.compact_text_columns` would make them, without a
    pass of its own over the text. ``quoted`` is whether the file holds a quote mark, when the caller knows.
    The columns at the positions ``one_byte`` (with ``width``: those :func:`_one_byte_columns` expects to hold
    only empty or one-character cells) are read as plain text and encoded the same way afterwards
    (:func:`_one_byte_codes`), which takes less time than the parser's encoding of such a column.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if isinstance(data, Path):
        source = pa.memory_map(str(data))  # Arrow skips a UTF-8 byte-order mark itself
    else:
        source = pa.py_buffer(data[3:] if data.startswith(codecs.BOM_UTF8) else data)
    # a line break inside a quoted cell needs Arrow's slower, quote-aware splitting of the file into blocks; a
    # file without a quote mark cannot have one (about 0.05 s of the 0.27 s Arrow took for the five 100k files)
    if quoted is None:
        quoted = _has_quote_mark(data)
    # the parser's threads allocate from the C library's malloc: with Arrow's default pool (mimalloc) they
    # were seen to spend 0.1-0.4 s of system time per 100k-row file faulting and purging its pages
    pool = pa.system_memory_pool()
    if width is None:
        read_options = pacsv.ReadOptions(autogenerate_column_names=True)
        cell_type: pa.DataType = pa.large_string()
        names = _ARROW_NAMES
    else:
        names = _ARROW_NAMES[:width]  # the type of each column there is, not of the most there may be
        read_options = pacsv.ReadOptions(skip_rows=1, column_names=names)
        cell_type = pa.dictionary(pa.int32(), pa.large_string())
    try:
        table = pacsv.read_csv(
            source, memory_pool=pool,
            read_options=read_options,
            parse_options=pacsv.ParseOptions(delimiter=delimiter, quote_char='"', double_quote=True,
                                             escape_char=False, newlines_in_values=quoted,
                                             ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() if i in one_byte else cell_type for i, name in enumerate(names)},
                strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if table.num_columns > _MAX_ARROW_COLUMNS or table.num_rows == 0:
        return None
    n = table.num_rows
    columns: dict[int, pd.Categorical | pd.api.extensions.ExtensionArray] = {}
    if width is not None:
        columns.update(_encoded_columns(table))
    else:
        for i in range(table.num_columns):
            # one contiguous array per column (later Arrow kernels then never copy it), the blocks freed as we go
            column = table.column(0)
            table = table.remove_column(0)
            if combine or column.num_chunks == 1:
                column = column.combine_chunks(memory_pool=pool) if column.num_chunks != 1 else column.chunk(0)
            columns[i] = pd.array(column, dtype=TEXT_DTYPE)
            del column
    del table
    release_freed_memory()  # the parser threads' blocks back to the system (every glibc heap), not kept for reuse
    return pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)  # arrays made here: not copied again


_MAX_ARROW_COLUMNS = 2_000
_ARROW_NAMES = [f"f{i}" for i in range(_MAX_ARROW_COLUMNS)]
"""The names Arrow gives (``autogenerate_column_names``) or is given for the columns, in order."""


def _has_quote_mark(data: bytes | Path) -> bool:
    """Whether the file's bytes hold a double quote (``"``), searched in a read-only memory map of a file."""
    if not isinstance(data, Path):
        return b'"' in data
    with data.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return mapped.find(b'"') >= 0


def _encoded_columns(table: pa.Table) -> dict[int, pd.Categorical]:
    """The columns of a table the parser dictionary-encoded block by block, each as one categorical of its text.

    Each block has its own dictionary (the block's distinct texts in order of first appearance); unifying
    them keeps the first block's and appends each later block's new texts in turn, so the categories are
    the column's distinct texts in order of first appearance, and the codes those of
    :func:`pyarrow.compute.dictionary_encode` of the whole column (as
    :func:`evalkit.readers.raw_frame.compact_text_columns` makes them).

    Arrow unifies without holding the GIL, so two columns are unified at a time (at 100k participants the
    five benchmark files' columns take 0.043 s instead of 0.068 s). The parser's blocks are freed with the
    table, after the last column (the caller holds it).

    Parameters
    ----------
    table
        ``dictionary<int32, large_string>`` columns from :func:`pyarrow.csv.read_csv`.

    Returns
    -------
    dict
        Column position -> :class:`pandas.Categorical` whose categories are an Arrow-backed ``"str"`` index;
        no missing cells (the parser gives empty text).
    """
    import pyarrow as pa

    n = table.num_columns
    workers = max(1, min(2, pa.cpu_count(), n))
    out: dict[int, pd.Categorical] = {}
    with ThreadPoolExecutor(workers) as pool:
        # the columns are unified in turn by the pool while this thread makes the categoricals of those done
        for position, (codes, dictionary) in enumerate(pool.map(_unified_codes, table.itercolumns())):
            categories = pd.Index(pd.array(dictionary, dtype=TEXT_DTYPE))
            # codes from Arrow point into the dictionary: no need to check each one
            out[position] = pd.Categorical.from_codes(codes, dtype=distinct_categories(categories), validate=False)
    return out


def _unified_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array]:
    """Codes into one dictionary, and that dictionary, of a block-by-block encoded column (in the pool's
    thread): the codes already in the integer type pandas keeps them in (:func:`_code_type`).

    A column read as plain text (expected to hold one-character cells, see :func:`_arrow_grid`) is encoded
    here: by :func:`_one_byte_codes`, or by Arrow when a longer cell turns up (same codes and dictionary).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):
        found = _one_byte_codes(column)
        if found is not None:
            return found
        codes, dictionary = _unified_codes(pc.dictionary_encode(column))
        return codes, dictionary.cast(pa.large_string())
    unified = column.unify_dictionaries() if column.num_chunks > 1 else column
    if unified.num_chunks == 0:
        return np.zeros(0, dtype=np.int8), pa.array([], type=pa.large_string())
    dictionary = unified.chunk(0).dictionary
    # the blocks' indices as they are (no copy when none is missing), joined and narrowed in one pass
    codes = np.concatenate([b.indices.to_numpy() if b.null_count == 0
                            else pc.fill_null(b.indices, -1).to_numpy() for b in unified.chunks],
                           dtype=_code_type(len(dictionary)))
    return codes, dictionary


def _one_byte_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, pa.Array] | None:
    """Categorical codes and categories of a text column whose cells are empty or one byte long, or ``None``
    when some cell is longer.

    The same as :func:`pyarrow.compute.dictionary_encode` of the whole column (categories in order of first
    appearance, codes in :func:`_code_type`) without hashing every cell: the text of a block of such cells
    is their bytes one after the other, so the non-empty cells' values are read straight from it and mapped
    through a table of the (at most 128) distinct characters; a cell is empty where its offset does not
    move.
    A block of empty cells only (an unused item column) is not looked at beyond its offsets.

    Parameters
    ----------
    column
        ``string`` blocks from :func:`pyarrow.csv.read_csv` (no missing cells: the parser gives empty text).

    Returns
    -------
    tuple or None
        The codes (one per row) and the categories (``large_string``), or ``None``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(column)
    filled = np.empty(n, dtype=bool)  # per row: whether the cell holds its one byte
    texts: list[np.ndarray] = []
    at = 0
    for block in column.chunks:
        m = len(block)
        if m == 0:
            continue
        _, offsets_buffer, data_buffer = block.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=np.int32, count=m + 1, offset=block.offset * 4)
        size = int(offsets[m]) - int(offsets[0])
        rows = filled[at:at + m]
        at += m
        if size == 0:
            rows[:] = False
            continue
        np.not_equal(offsets[1:], offsets[:-1], out=rows)
        if int(np.count_nonzero(rows)) != size:  # a cell of two bytes or more
            return None
        texts.append(np.frombuffer(data_buffer, dtype=np.uint8, count=size, offset=int(offsets[0])))
    values = np.concatenate(texts) if texts else np.zeros(0, dtype=np.uint8)  # the filled cells' bytes
    held = pa.array(values)  # the same memory, for Arrow's look-up
    empty_from = int(np.argmin(filled)) if len(values) < n else -1  # the first empty cell's row
    # the empty text's place among the categories: after the bytes the rows above it hold
    place = -1 if empty_from < 0 else len(pd.unique(values[:empty_from]))
    # the distinct bytes in order of first appearance, looked for in the first cells (all of them, usually):
    # a byte not found there has no code (-1) in the table, and then they are looked for further down
    head = 4096
    while True:
        order = pd.unique(values[:head])
        code_type = _code_type(len(order) + (empty_from >= 0))
        ranks = np.arange(len(order))
        if place >= 0:
            ranks += ranks >= place
        code_of = np.full(256, -1, dtype=code_type)
        code_of[order] = ranks
        taken = np.asarray(pc.take(pa.array(code_of), held))  # a table look-up per cell (Arrow's is the faster)
        if head >= len(values) or int(taken.min()) >= 0:
            break
        head *= 8
    if empty_from < 0:
        codes = taken.copy()  # writable, as the parser's codes are
    else:
        codes = np.full(n, place, dtype=code_type)
        codes[filled] = taken
    texts_in_order = [bytes([b]).decode("ascii") for b in order.tolist()]  # a valid one-byte cell is ASCII
    if empty_from >= 0:
        texts_in_order.insert(place, "")
    return codes, pa.array(texts_in_order, type=pa.large_string())


def _one_byte_columns(head: str, delimiter: str, width: int, lines: int = 256) -> frozenset[int]:
    """The columns whose cells on the first ``lines`` lines below the header are all empty or one character
    of ASCII (item scores, flags): read as plain text and encoded by :func:`_one_byte_codes`.

    Only a guess from the start of the file (``head``, its decoded text from the header on): a longer cell
    further down is encoded by Arrow instead (same result). None when those lines hold a quote mark or a line
    that does not split into ``width`` cells.
    """
    found = _LINE_BREAK.split(head[:65_536], lines + 1)[1:-1]
    rows = [line.split(delimiter) for line in found]
    if not rows or any('"' in line for line in found) or any(len(r) != width for r in rows):
        return frozenset()
    return frozenset(p for p in range(width)
                     if all(len(r[p]) <= 1 and r[p] <= "\x7f" for r in rows))


def _code_type(n_categories: int) -> type[np.signedinteger]:
    """The integer type pandas holds the codes of ``n_categories`` categories in (the smallest that holds them
    and -1), so that :meth:`pandas.Categorical.from_codes` keeps codes made so as they are, without a copy."""
    for kind in (np.int8, np.int16, np.int32):
        if n_categories < np.iinfo(kind).max:
            return kind
    return np.int64


def _plain_header(data: bytes, head: str, delimiter: str) -> list[str] | None:
    """The cells of the file's first line when it is the header and splits without a parser, else ``None``.

    That is when the line ends within ``head``, its bytes are UTF-8, it holds no quote mark (so neither a
    quoted delimiter nor a quoted line break) and at least one of its cells is not empty (a line of empty
    cells is blank: the header is then further down).
    """
    end = len(head)
    for line_end in ("\n", "\r"):
        found = head.find(line_end)
        if found >= 0:
            end = min(end, found)
    if end == len(head):
        return None
    line = head[:end]
    if '"' in line:
        return None
    body = data[3:] if data.startswith(codecs.BOM_UTF8) else data
    try:
        if body[:len(line.encode("utf-8"))].decode("utf-8") != line:
            return None
    except UnicodeDecodeError:
        return None
    cells = line.split(delimiter)
    return cells if any(cells) and len(cells) <= _MAX_ARROW_COLUMNS else None


def _split(path: Path, label: str, *, combine: bool = True,
           encode: bool = False) -> tuple[pd.DataFrame | list[list[str]], str, list[str] | None, bool]:
    """Decode and split a text file: the grid (see :func:`_grid`), the delimiter, the header's cells
    when they were split off the grid, and whether the file holds a quote mark.

    The checks of :func:`decode_text` and the delimiter use the first megabyte; a UTF-8 file is then split
    by Arrow (:func:`_arrow_grid`, reading the file itself), anything else read, decoded in full and split
    by :func:`_grid`. With ``encode``, a file whose first line is a plain header (:func:`_plain_header`) is
    split below it with every column dictionary-encoded by the parser (categoricals of the cells' text).
    """
    with path.open("rb") as handle:
        data = handle.read(_PREFIX + 1)
    whole = len(data) <= _PREFIX
    utf16 = data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    if utf16 and not whole:
        data, whole = path.read_bytes(), True
    head = decode_text(data if whole else data[:_PREFIX], file_label=label)
    if not head.strip() and whole:
        raise InputFileError(
            "the file has no text in it. Expected a header row naming the columns, then one row per record.",
            file=label,
        )
    if not utf16 and head.strip():
        delimiter = sniff_delimiter(head)
        header = _plain_header(data, head, delimiter) if encode else None
        quoted = _has_quote_mark(data if whole else path)
        if header is not None:
            grid = _arrow_grid(data if whole else path, delimiter, width=len(header), quoted=quoted,
                               one_byte=_one_byte_columns(head, delimiter, len(header)))
            if grid is not None:
                return grid, delimiter, header, quoted
        grid = _arrow_grid(data if whole else path, delimiter, combine=combine, quoted=quoted)
        if grid is not None:
            return grid, delimiter, None, quoted
    text = head if whole else decode_text(path.read_bytes(), file_label=label)
    if not text.strip():
        raise InputFileError(
            "the file has no text in it. Expected a header row naming the columns, then one row per record.",
            file=label,
        )
    delimiter = sniff_delimiter(text)
    return _grid(text, delimiter, label), delimiter, None, '"' in text


_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SHOWN = 60
"""Characters of a long cell quoted in a reader's message (then "…")."""


def _line_breaks_in_cells(path: Path, n_records: int) -> bool:
    """Whether some cell may hold a line break: the file has more line ends (LF, CR or CRLF) than
    ``n_records`` (one per record, blank lines included); for UTF-16 text (not counted) assumed so.

    One pass over a read-only memory map of the file at the speed of memory (about 0.01 s for 20 MB).
    """
    with path.open("rb") as handle:
        if os.fstat(handle.fileno()).st_size == 0:
            return False
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            if mapped[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return True
            view = np.frombuffer(mapped, dtype=np.uint8)
            try:
                line_ends = int(np.count_nonzero(view == 10))
                if mapped.find(b"\r") >= 0:  # CR and CRLF end a line too (CRLF once)
                    returns = view == 13
                    line_ends += int(np.count_nonzero(returns)) - int(np.count_nonzero(returns[:-1] & (view[1:] == 10)))
                    del returns
                return line_ends > n_records
            finally:
                del view  # the map cannot close while an array still points into it


def _shorten(text: str) -> str:
    """``text`` cut to :data:`_SHOWN` characters and "…" when longer."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "…"


def _line_breaks(column: pd.Series, *, count: bool) -> np.ndarray:
    """Per row: whether each cell of ``column`` holds a line break (``count``: how many), tested in Arrow.

    A categorical column is tested on its categories and spread by code.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def test(values: pa.Array) -> np.ndarray:
        found = (pc.count_substring_regex(values, _LINE_BREAK.pattern) if count
                 else pc.match_substring_regex(values, "[\r\n]"))
        return np.asarray(pc.fill_null(found, 0 if count else False).to_numpy(zero_copy_only=False))

    if isinstance(column.dtype, pd.CategoricalDtype):
        on_categories = test(pa.array(np.asarray(column.cat.categories, dtype=object), type=pa.large_string()))
        return np.append(on_categories, 0 if count else False)[column.cat.codes.to_numpy()]
    values = column.array if isinstance(column.dtype, pd.StringDtype) else column.astype(TEXT_DTYPE).array
    return test(pa.array(values, type=pa.large_string()))


def _shape(text: str) -> str:
    """``text`` with each run of letters as ``A`` and each run of digits as ``9`` (``M0012`` and ``R9``: ``A9``)."""
    return re.sub(r"[^\W\d_]+", "A", re.sub(r"\d+", "9", text.strip()))


def swallows_rows(value: str, delimiter: str, width: int, *, position: int = 0, first_cell: str = "",
                  after: list[str] | None = None) -> bool:
    """Whether a cell's text holds lines of other rows that a quote mark left open read into it.

    The rule of :func:`_unclosed_quotes`, with ``need`` three quarters of the ``width - 1`` delimiters of a
    full row (at least two; ``width`` 3 or more):

    * one of the cell's lines after the first holds ``need`` delimiters (a whole row read into it); or
    * the quote was closed by another one early on the next line (two stray quotes on rows next to each
      other): the cell is in column ``position`` > 0, the line it opens on (``position`` delimiters before
      it, then its first line) and the line it closes on (its last line, then the row's
      rest of the row: the delimiters before and in the cells ``after`` it, up to one holding a line break)
      both hold ``need`` delimiters, and the last line starts
      with a value shaped like the row's first cell ``first_cell`` (``R9`` and ``R10``: letters then
      digits) - which a note typed over several lines does not.

    Parameters
    ----------
    value
        The cell's text as split (the quote marks removed).
    delimiter
        The file's delimiter.
    width
        Cells in a full row (the header's).
    position
        The cell's column (0-based).
    first_cell
        The row's first cell (its id, in most tables).
    after
        The row's cells after this one as split (default: ``width - 1 - position`` cells without delimiters).
    """
    if width < 3:
        return False
    need = max(2, -(-3 * (width - 1) // 4))  # three quarters of a row's delimiters, rounded up
    lines = _LINE_BREAK.split(value)
    if any(line.count(delimiter) >= need for line in lines[1:]):
        return True
    if position == 0 or len(lines) < 2 or not first_cell.strip():
        return False
    last = lines[-1]
    closing = last.count(delimiter)  # the delimiters of the line the cell closes on
    for cell in [""] * (width - 1 - position) if after is None else after:
        first_line = _LINE_BREAK.split(cell, 1)
        closing += 1 + first_line[0].count(delimiter)
        if len(first_line) > 1:
            break
    return (position + lines[0].count(delimiter) >= need and closing >= need
            and _shape(last.split(delimiter, 1)[0]) == _shape(first_cell))


def extra_cells_message(*, row: int, n_cells: int, width: int, extra: list[str], delimiter: str | None) -> tuple[
        str, str]:
    """The shown values and message of a delimited row split into more cells than its header has (rule
    ``extra_cells``): the row, the counts, the extra values (each cut short) and the delimiter to look for.

    Parameters
    ----------
    row
        The row, as the provider sees it.
    n_cells, width
        How many cells the row has, and how many columns the header.
    extra
        The cells beyond the header that hold something.
    delimiter
        The file's delimiter (named in the message; ``None``: "delimiter").
    """
    shown = ", ".join(f"'{_shorten(cell)}'" for cell in extra)
    return shown, (f"Row {row} has {n_cells} cells but the header has {width} columns; the extra value(s) {shown} "
                   "have no column, so the row cannot be read safely (its cells may have moved one column along). "
                   f"Check for a stray {_NAMES.get(delimiter or '', 'delimiter')} in this row (for example inside "
                   "a note).")


def unclosed_quote_message(*, row: int, column: str, opens: int, closes: int, last: bool, value: str,
                           file_refused: bool = False) -> str:
    """The message naming a cell a quote mark left open: its row and column, the lines read into it.

    Parameters
    ----------
    row
        The row the cell is on, as the provider sees it.
    column
        How the column is named to the provider (``"'Notes'"``, ``"D ('Notes')"``).
    opens, closes
        The file's lines the cell starts and ends on.
    last
        Whether the quote runs to the end of the file.
    value
        The cell's text (shown cut short, its line breaks as ``↵``).
    file_refused
        The whole file is refused (the message then ends "Nothing in the file was read.", not that the
        swallowed lines were not read).
    """
    until = "is never closed" if last else f"is not closed until line {closes:,}"
    n_lines = closes - opens
    shown = _shorten(_LINE_BREAK.sub(" ↵ ", value))
    if n_lines == 1:
        lines, were, rows = f"line {closes:,}", "was", "a row of its own"
    else:
        lines, were, rows = f"the {n_lines:,} lines {opens + 1:,}–{closes:,}", "were", "rows of their own"
    unread = " Nothing in the file was read." if file_refused else ""
    return (f"Row {row}, column {column}: a quote mark (\") opens here and {until}, so {lines}"
            f"{', to the end of the file,' if last else ''} {were} read into this one cell "
            f"('{shown}') instead of being {rows}{'' if file_refused else f', and {were} not read'}. Check the "
            f"quote marks on row {row}, then save the file again.{unread}")


def _unclosed_quotes(cells: pd.DataFrame, headers: list[str], source_rows: np.ndarray, delimiter: str, *,
                     header_line: int, file: str, split: dict[int, list[str]] | None = None
                     ) -> tuple[list[dict], np.ndarray]:
    """Cells where a quote mark left open swallowed the lines of later rows: one ``unclosed_quote`` error each.

    The rule (:func:`swallows_rows`): a cell holding line breaks is a swallowing cell when one of its lines
    after the first holds at least three quarters of the delimiters of a full row (the header's columns less
    one; at least two, and tables of fewer than three columns are not looked at), or when a second stray
    quote early on the next line closed it. A note typed over several lines in a spreadsheet rarely has such
    a line; the rows of the file that a stray ``"`` (``"not_ready``) pulls into one cell all do. Only cells
    holding a line break are looked at one by one (none in most files).

    The lines such a cell swallowed are rows of the file as the provider sees them (in a text editor, and in
    a spreadsheet once the quote is fixed), so every row after it is numbered that many rows further on:
    ``row[i] = source_rows[i] + sum(swallowed line breaks of the rows before i)``. A note typed over several
    lines in one quoted cell stays one row, as a spreadsheet program shows it.

    ``split`` gives, for rows split into more cells than the header has, all their cells.

    Returns
    -------
    list[dict]
        Report rows (severity ``error``, so the row is set aside) naming the row, the column, the lines read
        into the cell and the start of its value; the table is filled in by the caller.
    numpy.ndarray
        The row numbers of ``cells``, the swallowed lines counted (``source_rows`` itself when none is).
    """
    width = cells.shape[1]
    if width < 3 or len(cells) == 0:
        return [], source_rows
    candidates = sorted((int(r), p) for p in range(width)
                        for r in np.flatnonzero(_line_breaks(cells[p], count=False)))
    # cells holding line breaks only: few, so one by one
    hits = [(r, p) for r, p in candidates
            if swallows_rows(str(cells.iat[r, p]), delimiter, width, position=p, first_cell=str(cells.iat[r, 0]),
                             after=(split or {}).get(r, [str(c) for c in cells.iloc[r]])[p + 1:])]
    if not hits:
        return [], source_rows
    breaks = np.zeros((len(cells), width), dtype=np.int64)
    for p in range(width):
        breaks[:, p] = _line_breaks(cells[p], count=True)
    per_row = breaks.sum(axis=1)
    # the line each row starts on: the header's line, one per row before it and the breaks inside them
    starts = header_line + 1 + np.arange(len(cells)) + np.concatenate([[0], np.cumsum(per_row)[:-1]])
    swallowed = np.zeros(len(cells), dtype=np.int64)
    for r, p in hits:
        swallowed[r] += breaks[r, p]
    rows = np.asarray(source_rows) + np.concatenate([[0], np.cumsum(swallowed)[:-1]])
    out = []
    for r, p in hits:
        row = int(rows[r])
        value = str(cells.iat[r, p])
        opens = int(starts[r] + breaks[r, :p].sum())
        closes = opens + len(_LINE_BREAK.findall(value.rstrip("\r\n")))  # a last line break ends the file's line
        header = headers[p] if p < len(headers) and headers[p] else f"column {p + 1}"
        last = r == len(cells) - 1 and not any(str(cells.iat[r, q]).strip() for q in range(p + 1, width))
        out.append(problem(
            file=file, sheet=None, table="", source_row=row, column=header,
            value=_shorten(_LINE_BREAK.sub(" ↵ ", value)), rule="unclosed_quote", severity="error",
            message=unclosed_quote_message(row=row, column=f"'{header}'", opens=opens, closes=closes, last=last,
                                           value=value),
        ))
    return out, rows


@dataclass(frozen=True)
class TextTable:
    """A delimited text file split into a header and cells, rows numbered as a spreadsheet shows them."""

    headers: list[str]
    cells: pd.DataFrame
    source_rows: np.ndarray
    header_row: int
    problems: list[dict] = field(default_factory=list)
    rows_dropped: bool = False
    """Whether rows the parser split were left out (a title above the header)."""


def _texts(row: list[object]) -> list[str]:
    """A row's cells as text (``""`` for a missing cell)."""
    return ["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in row]


def _header_below_title(headers: list[str], rows: list[list[str]],
                        mapping: ColumnMapping | None) -> tuple[int, list[int]] | None:
    """Where the header is when the first row is a title (:func:`~evalkit.readers.detect.find_header_row`).

    ``rows`` are the first rows after ``headers`` as text. Returns the header's position in ``rows`` and the
    positions of the rows between (not blank) that are not read, or ``None`` when ``headers`` is the header.
    """
    filled = [i for i, r in enumerate(rows) if any(c.strip() for c in r)][:HEADER_SCAN_ROWS - 1]
    at = find_header_row([headers] + [rows[i] for i in filled], mapping)
    return None if at == 0 else (filled[at - 1], filled[:at - 1])


def read_text_table(path: Path, *, limits: ReadLimits, combine: bool = True, encode: bool = False,
                    find_header: bool = False, mapping: ColumnMapping | None = None) -> TextTable:
    """Decode, sniff and split a delimited text file.

    ``combine=False`` may leave a column of text in Arrow's parser blocks instead of one contiguous array
    (same cells; for a reader that compacts the columns next). ``encode=True`` may give columns as
    categoricals of their text, categories in order of first appearance (same cells; dictionary-encoded
    by the parser, for a reader that compacts the columns next).

    The header is the first row that is not blank; with ``find_header``, unless that row is a title above
    the header (:func:`~evalkit.readers.detect.find_header_row`, columns named through ``mapping``): the rows
    above the header are then not read, and reported (rule ``not_read``, warning), and
    :attr:`TextTable.rows_dropped` is set.

    Raises
    ------
    InputFileError
        Empty file, binary data, no header, or over a size limit.
    """
    check_file_size(path, limits)
    label = path.name
    grid, delimiter, header, quoted = _split(path, label, combine=combine, encode=encode)
    problems: list[dict] = []
    ragged: list[tuple[int, list[str]]] = []  # (position, cells) of rows split into more cells than the header
    above: list[tuple[int, list[str]]] = []  # (row number, cells) of rows above the header, not read
    if header is not None and isinstance(grid, pd.DataFrame):  # the first line, split off by _split
        first = 0
        headers = [h.strip() for h in header]
        cells = grid
        source_rows = np.arange(2, 2 + len(cells))
    elif isinstance(grid, pd.DataFrame):
        frame = grid
        head = frame.iloc[:1000]  # the header is the first row that is not blank: look near the top first
        blank_rows = (head == "").all(axis=1).to_numpy() if frame.shape[1] else np.ones(len(head), bool)
        if blank_rows.all() and len(frame) > len(head):
            blank_rows = (frame == "").all(axis=1).to_numpy() if frame.shape[1] else np.ones(len(frame), bool)
        if not (~blank_rows).any():
            raise InputFileError("the file has no header row (every line is blank).", file=label)
        first = int(np.argmax(~blank_rows))
        headers = [str(h).strip() for h in frame.iloc[first].tolist()]
        cells = frame.iloc[first + 1:]
        source_rows = np.arange(first + 2, first + 2 + len(cells))
    else:
        records = grid
        first_found = next((i for i, r in enumerate(records) if any(c.strip() for c in r)), None)
        if first_found is None:
            raise InputFileError("the file has no header row (every line is blank).", file=label)
        first = first_found
        below = _header_below_title(records[first], records[first + 1:first + 1 + 50], mapping) if find_header \
            else None
        if below is not None:  # before the rows are cut to the header's width
            at, between = below
            above = [(first + 1, records[first])] + [(first + 2 + i, records[first + 1 + i]) for i in between]
            first = first + 1 + at
        headers = [h.strip() for h in records[first]]
        width = len(headers)
        rows: list[list[str]] = []
        for offset, record in enumerate(records[first + 1:]):
            extra = record[width:]
            if any(c.strip() for c in extra):  # reported below, once the rows are numbered
                ragged.append((offset, record))
            rows.append((record + [""] * width)[:width])
        cells = pd.DataFrame(rows, columns=range(width), dtype=object) if rows else pd.DataFrame(columns=range(width))
        source_rows = np.arange(first + 2, first + 2 + len(rows))
    # rows are turned into text to look for a header below a title only when the first row is not a header
    if find_header and isinstance(grid, pd.DataFrame) and len(cells) and not names_columns(headers, mapping):
        head = cells.iloc[:50]
        below = _header_below_title(headers, [_texts(list(r)) for r in head.itertuples(index=False)], mapping)
        if below is not None:
            at, between = below
            above = [(first + 1, headers)] + [(int(source_rows[i]), _texts(list(head.iloc[i]))) for i in between]
            headers = [h.strip() for h in _texts(list(head.iloc[at]))]
            first += at + 1
            cells, source_rows = cells.iloc[at + 1:], source_rows[at + 1:]
    if above:
        problems.append(problem(
            file=label, sheet=None, table="", source_row=above[0][0], column="",
            value=_shorten(" ".join(c.strip() for c in above[0][1] if c.strip())), rule="not_read",
            severity="warning", message=rows_above_header(above, first + 1)))
    check_shape(len(cells), len(headers), file_label=label, limits=limits)
    if not any(headers):
        raise InputFileError("the header row is empty. Expected a first row naming the columns.", file=label)
    # without a quote mark no cell can hold a line break, nor when the file has one line end per record
    if quoted and _line_breaks_in_cells(path, first + 1 + len(cells)):
        swallowing, source_rows = _unclosed_quotes(cells, headers, source_rows, delimiter, header_line=first + 1,
                                                   file=label, split=dict(ragged))
        problems.extend(swallowing)
    for position, record in ragged:
        row_number = int(source_rows[position])
        shown, message = extra_cells_message(row=row_number, n_cells=len(record), width=len(headers),
                                             extra=[c for c in record[len(headers):] if c.strip()],
                                             delimiter=delimiter)
        problems.append(problem(file=label, sheet=None, table="", source_row=row_number, column="", value=shown,
                                rule="extra_cells", severity="error", message=message))
    return TextTable(headers, cells, source_rows, first + 1, problems, rows_dropped=bool(above))


def read_csv(
    path: str | Path,
    *,
    table: str | None = None,
    mapping: ColumnMapping | None = None,
    limits: ReadLimits | None = None,
    compact: bool = False,
) -> dict[str, pd.DataFrame]:
    """Read one CSV file into the raw frame of its table.

    Parameters
    ----------
    path
        The CSV file.
    table
        Table the file holds; found from the file name or the headers when not given.
    mapping
        The provider's column mapping.
    limits
        Size limits (defaults of :class:`ReadLimits`).
    compact
        Hold text columns that repeat their values as categoricals
        (:func:`evalkit.readers.raw_frame.compact_text_columns`), encoding them from the parser's blocks.

    Returns
    -------
    dict
        ``{table: raw frame}`` (see :func:`evalkit.readers.read_file`).

    Raises
    ------
    InputFileError
        Empty file, binary data, a header without any column, or over a size limit.
    """
    path = Path(path)
    parsed = read_text_table(path, limits=limits or ReadLimits(), combine=not compact, encode=compact,
                             find_header=True, mapping=mapping)
    chosen = detect_table(parsed.headers, file_label=path.name, names=(path.stem,), table=table, mapping=mapping)
    for p in parsed.problems:
        p["table"] = chosen
    frame = build_raw_frame(
        parsed.cells, parsed.headers, parsed.source_rows, table=chosen, file=path.name, sheet=None,
        header_row=parsed.header_row, mapping=mapping, problems=parsed.problems,
    )
    if compact:
        settle_parsed_categories(frame, renumber=len(frame) != len(parsed.cells) or parsed.rows_dropped,
                                 compact=True)
    return {chosen: frame}
