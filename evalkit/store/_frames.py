"""Moving canonical frames in and out of the database, column-wise (no per-row Python on the data path)."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.canonical import DTYPES, PROVENANCE_COLUMNS, SOURCE_ROW
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.store._tables import CREATED_UPLOAD_ID, ROW_HASH, ROW_ID, UPLOAD_ID
from evalkit.text_dtype import is_text_categorical

_INTERNAL_TYPES = {ROW_ID: "integer", UPLOAD_ID: "integer", CREATED_UPLOAD_ID: "integer", ROW_HASH: "integer",
                   PROVENANCE_COLUMNS[0]: "string", PROVENANCE_COLUMNS[1]: "string", SOURCE_ROW: "integer"}
_PROVENANCE_TEXT = frozenset(PROVENANCE_COLUMNS[:2])
"""``source_file`` and ``source_sheet``: kept as categoricals of text by :func:`to_canonical`."""


def column_types(table: str, frame: pd.DataFrame | None = None) -> dict[str, str]:
    """Schema type of every stored column of ``table`` (data, provenance and internal columns).

    For a bookkeeping table (not canonical), types are read from ``frame``'s dtypes.
    """
    if table not in TABLE_NAMES:
        if frame is None:
            return {}
        kinds = {"i": "integer", "u": "integer", "f": "number", "M": "date", "b": "boolean"}
        return {c: kinds.get(frame[c].dtype.kind, "string") for c in frame.columns}
    types = {f.name: f.type for f in table_schema(table).fields}
    types.update(_INTERNAL_TYPES)
    return types


def coerce(series: pd.Series, kind: str) -> pd.Series:
    """Give ``series`` (as read from a database, JSON or a frame) the canonical dtype of schema type ``kind``."""
    if str(series.dtype) == DTYPES[kind]:  # str(): pandas' NaN-backed "str" dtype equals "string" otherwise
        return series
    if kind == "string":
        out = series.astype("string")
    elif kind == "integer":
        out = pd.to_numeric(series.astype(object).where(series.notna(), np.nan)).astype("Int64")
    elif kind == "number":
        out = pd.to_numeric(series.astype(object).where(series.notna(), np.nan)).astype("float64")
    elif kind == "date":
        out = pd.to_datetime(series.astype(object).where(series.notna(), None)).astype("datetime64[ns]")
    elif kind == "boolean":
        out = series.astype(object).where(series.notna(), None).astype("boolean")
    else:  # pragma: no cover - schema loader only allows the five types
        raise ValueError(f"unknown schema type {kind!r}")
    return out.rename(series.name)


def to_canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Coerce every known column of ``frame`` to its canonical dtype (unknown columns untouched).

    The provenance columns ``source_file`` and ``source_sheet`` held as categoricals of text (as validation
    gives them: one category per file / sheet) stay so; they are written to the database as their text
    (:func:`driver_batches`), and ``astype("string")`` gives the canonical column.
    """
    types = column_types(table)
    out = frame.copy(deep=False)  # copy-on-write: assigning a column below never changes ``frame``
    for col in out.columns:
        if col in types:
            if col in _PROVENANCE_TEXT and is_text_categorical(out[col].dtype):
                continue  # not written out per row (at 10.6M contacts, 200 MB for a file's name)
            out[col] = coerce(out[col], types[col])
    return out


_FIRST_NS_DAY = np.datetime64("1677-09-22", "D")
_LAST_NS_DAY = np.datetime64("2262-04-11", "D")
"""The first and last days whose midnight ``datetime64[ns]`` can hold (``pandas.Timestamp.min`` / ``max``)."""


def _arrow_values(values: np.ndarray, kind: str) -> Any:
    """One column of driver values (an object array, ``None`` missing) as an Arrow array for :func:`_from_arrow`.

    Text as ``large_string``, integers ``int64``, reals ``float64``; dates and booleans as
    Arrow infers them from the values (ISO text or ``date``, 0/1 or ``bool``).
    """
    import pyarrow as pa

    types = {"string": pa.large_string(), "integer": pa.int64(), "number": pa.float64()}
    return pa.array(values, type=types.get(kind), from_pandas=True)


def _from_arrow(values: Any, kind: str) -> pd.Series | np.ndarray:
    """One column as an Arrow array of the driver's values, in the canonical dtype of ``kind``.

    ``values`` is ``large_string`` text, ``int64`` integers or ``float64`` reals; dates the
    driver's ISO text on SQLite (cast to ``date32``) or ``date32`` on PostgreSQL, booleans
    0/1 (``int64``) on SQLite or ``bool`` on PostgreSQL. Raises ``pyarrow.ArrowException``,
    ``TypeError`` or ``ValueError`` when a value does not fit; the caller then uses :func:`coerce`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "string":
        return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow")), copy=False)
    if kind == "integer":
        return values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    if kind == "number":
        return values.to_numpy(zero_copy_only=False)
    if kind == "date":
        days = values
        if not pa.types.is_date32(days.type):
            if not (pa.types.is_string(days.type) or pa.types.is_large_string(days.type)
                    or pa.types.is_null(days.type)):
                raise TypeError(f"dates read as {days.type}")
            days = days.cast(pa.date32())
        day = days.to_numpy(zero_copy_only=False)
        known = day[~np.isnat(day)]
        if len(known) and (known.min() < _FIRST_NS_DAY or known.max() > _LAST_NS_DAY):
            raise ValueError("a date outside datetime64[ns]")  # numpy's cast would wrap it silently
        return day.astype("datetime64[ns]")
    if kind == "boolean":
        flags = values
        if pa.types.is_integer(flags.type):  # SQLite's 0/1
            in_01 = pc.is_in(flags.drop_null(), value_set=pa.array([0, 1], type=flags.type))
            if not pc.all(in_01, min_count=0).as_py():  # min_count=0: true when every value is missing
                raise ValueError("integers other than 0 and 1 in a boolean column")
            flags = flags.cast(pa.bool_())
        elif not (pa.types.is_boolean(flags.type) or pa.types.is_null(flags.type)):
            raise TypeError(f"booleans read as {flags.type}")
        return flags.cast(pa.bool_()).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get)
    raise TypeError(f"no Arrow conversion for schema type {kind!r}")


def _typed_column(values: np.ndarray, kind: str) -> pd.Series | np.ndarray:
    """One column of driver values (an object array, ``None`` missing) in the canonical dtype of ``kind``.

    Converted by Arrow in one call per column (:func:`_arrow_values`, then :func:`_from_arrow`).
    Raises ``pyarrow.ArrowException`` (or ``TypeError``) when a value does not fit; the caller
    then uses :func:`coerce`.
    """
    return _from_arrow(_arrow_values(values, kind), kind)


def _driver_arrow_type(kind: str, dialect: str) -> Any:
    """The Arrow type in which the ``dialect``'s driver returns values of schema type ``kind``.

    Dates are ISO text and booleans 0/1 on SQLite (as SQLAlchemy stores them there), ``date``
    and ``bool`` on PostgreSQL, whose canonical date columns are ``DATE``: a ``datetime`` in a
    date field (a column of another type) would be cut to its day here, where the column-by-column
    road keeps its time of day.
    """
    import pyarrow as pa

    if kind == "date":
        return pa.large_string() if dialect == "sqlite" else pa.date32()
    if kind == "boolean":
        return pa.int64() if dialect == "sqlite" else pa.bool_()
    return {"string": pa.large_string(), "integer": pa.int64(), "number": pa.float64()}[kind]


def _frame_from_records(rows: Sequence[tuple[Any, ...]], columns: Sequence[str], kinds: Sequence[str],
                        dialect: str) -> pd.DataFrame:
    """The rows as a frame in canonical dtypes, converted by Arrow in one pass over the rows.

    Arrow reads the tuples as records of one struct array whose fields have the types the
    ``dialect``'s driver returns (:func:`_driver_arrow_type`), so each value is read once,
    not laid out in an object array and then read again; each field then goes to its
    canonical dtype (:func:`_from_arrow`). Raises ``pyarrow.ArrowException``, ``TypeError``,
    ``ValueError`` or ``OverflowError`` when a value does not fit its field, for the caller
    to take the rows column by column.
    """
    import pyarrow as pa

    record = pa.struct([pa.field(name, _driver_arrow_type(kind, dialect))
                        for name, kind in zip(columns, kinds, strict=True)])
    table = pa.array(rows, type=record, from_pandas=True)
    if isinstance(table, pa.ChunkedArray):
        table = table.combine_chunks()
    fields = table.flatten()
    out = {name: _from_arrow(fields[j], kind) for j, (name, kind) in enumerate(zip(columns, kinds, strict=True))}
    return pd.DataFrame(out, index=pd.RangeIndex(len(rows)))


def frame_from_rows(rows: Sequence[tuple[Any, ...]], columns: Sequence[str], table: str, *,
                    dialect: str | None = None) -> pd.DataFrame:
    """The rows a DBAPI driver returned for ``columns`` of ``table``, as a frame in canonical dtypes.

    The same frame as ``to_canonical(pandas.DataFrame(rows, columns=columns), table)``,
    built by Arrow instead of pandas inferring a dtype from each column's Python objects and
    :func:`coerce` then converting them again. With the ``dialect`` named, Arrow reads the
    rows once as records of that driver's types (:func:`_frame_from_records`); without it,
    or when a value does not fit its column's type (odd values stored), the rows are laid
    out as a two-dimensional object array and each column is converted on its own
    (:func:`_typed_column`), a column whose values do not convert that way by :func:`coerce`.

    Parameters
    ----------
    rows
        Tuples as the driver returns them (``cursor.fetchall()``): on SQLite a
        date is its ISO text and a boolean 0/1.
    columns
        The names of the tuples' fields.
    table
        The canonical table whose schema types the columns.
    dialect
        The database the rows come from (SQLAlchemy's dialect name, ``"sqlite"`` or
        ``"postgresql"``), for the types its driver returns.

    Returns
    -------
    pandas.DataFrame
        Index ``0..n-1``; every column of ``table`` in its canonical dtype.
    """
    import pyarrow as pa

    types = column_types(table)
    if any(c not in types for c in columns) or len(set(columns)) != len(columns):
        return to_canonical(pd.DataFrame(list(rows), columns=list(columns)), table)
    if dialect is not None and len(rows):
        try:
            return _frame_from_records(rows, columns, [types[c] for c in columns], dialect)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            pass  # a value that does not fit its column's type: column by column below
    grid = np.empty((len(rows), len(columns)), dtype=object)
    if len(rows):
        grid[:] = rows  # one C loop over the tuples (``zip(*rows)`` took about twice as long at 10k)
    out: dict[str, Any] = {}
    for j, name in enumerate(columns):
        kind = types[name]
        values = grid[:, j]
        try:
            out[name] = _typed_column(values, kind)
        except (pa.ArrowException, TypeError, ValueError, OverflowError):
            out[name] = coerce(pd.Series(values, dtype=object, name=name), kind)
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(rows)))
    return frame[list(columns)] if list(frame.columns) != list(columns) else frame


def stacked_frames(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The rows of ``parts`` (frames of the same columns) one after another, index ``0..n-1``.

    The same frame as ``pandas.concat(parts, ignore_index=True)``, joined a column at a time: each column is
    taken out of the parts as it is joined, so the parts' copies of a column are let go before the next column
    is joined rather than all held until the end. Arrow text is joined as chunks (no copy). ``parts`` is emptied
    of its columns.
    """
    n = sum(len(p) for p in parts)
    out: dict[str, pd.Series] = {}
    for name in list(parts[0].columns):
        pieces = [p.pop(name) for p in parts]
        out[name] = pd.concat(pieces, ignore_index=True) if len(pieces) > 1 else pieces[0].reset_index(drop=True)
        del pieces
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False)


def _db_column(s: pd.Series, kind: str) -> np.ndarray:
    """One column as an object array of Python scalars, ``None`` for missing, dates as ``date``."""
    if kind == "date":
        s = coerce(s, "date") if s.dtype != "datetime64[ns]" else s
        arr = np.array(s.dt.date, dtype=object)
        arr[s.isna().to_numpy()] = None
    elif kind == "integer":
        arr = coerce(s, "integer").to_numpy(dtype=object, na_value=None)  # Python ints
    elif kind == "number":
        arr = np.array(coerce(s, "number").to_numpy(dtype=object), dtype=object)
        arr[s.isna().to_numpy()] = None
    elif kind == "boolean":
        arr = coerce(s, "boolean").to_numpy(dtype=object, na_value=None)  # Python bools
    else:
        arr = s.astype("string").to_numpy(dtype=object, na_value=None)
    return arr


def db_columns(frame: pd.DataFrame, table: str) -> dict[str, np.ndarray]:
    """Column arrays ready for a DBAPI driver: Python scalars, ``None`` for missing, dates as ``date``."""
    types = column_types(table, frame)
    return {col: _db_column(frame[col], types.get(col, "string")) for col in frame.columns}


def records(frame: pd.DataFrame, table: str, *, rename: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """Rows of ``frame`` as parameter dicts for an ``executemany`` (columns optionally renamed)."""
    cols = db_columns(frame, table)
    names = [rename.get(c, c) if rename else c for c in cols]
    return [dict(zip(names, row, strict=True)) for row in zip(*cols.values(), strict=True)]


DRIVER_BATCH_ROWS = 50_000
"""Rows per ``executemany`` / ``COPY`` batch: the driver's Python tuples exist for one batch at a time."""


def _driver_columns(frame: pd.DataFrame, table: str, dialect: str) -> list[np.ndarray]:
    """Column arrays of Python scalars for the driver: ``None`` for missing; dates ISO text on SQLite.

    Dates go ``datetime64[ns]`` -> ``datetime64[D]`` (the calendar day, as ``Timestamp.date()``
    gives it) and from there to ``YYYY-MM-DD`` text (what SQLAlchemy's ``Date`` stores on SQLite)
    or ``datetime.date`` objects (PostgreSQL), without a Python call per value.
    """
    types = column_types(table, frame)
    out: list[np.ndarray] = []
    for col in frame.columns:
        s = frame[col]
        kind = types.get(col, "string")
        if kind != "date":
            out.append(_db_column(s, kind))
            continue
        s = coerce(s, "date") if s.dtype != "datetime64[ns]" else s
        days = s.to_numpy(dtype="datetime64[ns]").astype("datetime64[D]")
        missing = np.isnat(days)
        arr = np.datetime_as_string(days, unit="D").astype(object) if dialect == "sqlite" else days.astype(object)
        arr[missing] = None
        out.append(arr)
    return out


def driver_batches(
    frame: pd.DataFrame, table: str, dialect: str, *, batch_rows: int | None = None,
    order: np.ndarray | None = None, constants: Mapping[str, Any] | None = None,
) -> Iterator[list[tuple[Any, ...]]]:
    """Rows of ``frame`` as lists of tuples for a raw DBAPI ``executemany``, ``batch_rows`` rows at a time.

    Each batch is converted column-wise (no per-row Python other than the tuple itself), so
    memory holds the Python objects of one batch, not of the whole table. Dates become ISO
    text on SQLite (what SQLAlchemy's ``Date`` stores there) and ``date`` objects on PostgreSQL.
    ``order`` (row positions) sends the rows in that order, taken batch by batch (no sorted copy).
    ``batch_rows`` defaults to :data:`DRIVER_BATCH_ROWS`. ``constants`` (column name -> one value for
    every row) are added to each batch as ``DataFrame.assign`` adds them (:func:`assigned_columns`),
    rather than to the whole frame first: at 10.6M contacts, two integer columns of 85 MB each not made.
    """
    batch_rows = batch_rows or DRIVER_BATCH_ROWS  # read at each call, so a test can make batches tiny
    for start in range(0, len(frame), batch_rows):
        part = frame.iloc[start:start + batch_rows] if order is None else frame.iloc[order[start:start + batch_rows]]
        if constants:
            part = part.assign(**constants)
        cols = _driver_columns(part, table, dialect)
        yield list(zip(*cols, strict=True))


def assigned_columns(frame: pd.DataFrame, constants: Mapping[str, Any] | None) -> list[str]:
    """The columns of ``frame.assign(**constants)``: ``frame``'s, then the constants it does not have."""
    return [*frame.columns, *(c for c in (constants or {}) if c not in frame.columns)]


def driver_rows(frame: pd.DataFrame, table: str, dialect: str) -> list[tuple[Any, ...]]:
    """Rows of ``frame`` as tuples for a raw DBAPI ``executemany`` (all batches of :func:`driver_batches`)."""
    return list(itertools.chain.from_iterable(driver_batches(frame, table, dialect)))


def json_rows(frame: pd.DataFrame, table: str) -> list[str]:
    """Each row of ``frame`` as a JSON object of its stored values (dates ISO, exact floats).

    The text of each row is ``json.dumps(row, separators=(",", ":"))`` of the row as a dict of the Python
    values :func:`db_columns` gives (dates as ISO text, missing as ``null``), columns in ``frame``'s order.
    It is made a column at a time: each column's distinct values are written once (:func:`_json_values`) and
    taken by their codes, and Arrow joins the columns' texts row by row (at 940,503 changed contacts, the
    audit rows of a re-upload, this replaced 1.9M ``json.dumps`` calls).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if len(frame) == 0:
        return []
    if frame.shape[1] == 0:
        return ["{}"] * len(frame)
    types = column_types(table, frame)
    pieces: list[Any] = []
    for i, col in enumerate(frame.columns):
        # the key as json.dumps writes a dict's key (a string key's own JSON text), after "{" or ","
        pieces.append(pa.scalar(("{" if i == 0 else ",") + json.dumps(str(col)) + ":", type=pa.string()))
        pieces.append(_json_values(frame.iloc[:, i], types.get(col, "string")))
    pieces.append(pa.scalar("}", type=pa.string()))
    return pc.binary_join_element_wise(*pieces, "").to_pylist()


def _json_values(s: pd.Series, kind: str) -> Any:
    """The JSON text of each value of one column as :func:`json_rows` writes it, as an Arrow string array.

    Integers are written by Arrow's cast to text (the same digits as Python's ``repr``); other kinds have
    each distinct value written by :func:`json.dumps` once. Floats are told apart by their bits, so ``-0.0``
    and ``0.0`` keep their own texts; every missing value is ``null``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if kind == "integer":
        return pc.fill_null(pa.array(coerce(s, "integer").array).cast(pa.string()), "null")
    if kind == "number":
        x = np.ascontiguousarray(coerce(s, "number").to_numpy(dtype=np.float64))
        bits = x.view(np.int64).copy()
        missing = np.isnan(x)
        bits[missing] = 0
        codes, distinct = pd.factorize(bits)
        codes[missing] = -1
        texts = [json.dumps(float(v)) for v in distinct.view(np.float64)]
    else:
        codes, distinct = pd.factorize(coerce(s, kind) if kind != "string" else s.astype("string"),
                                       use_na_sentinel=True)
        values = _db_column(pd.Series(distinct, dtype=distinct.dtype), kind)
        if kind == "date":
            texts = [json.dumps(v.isoformat()) if v is not None else "null" for v in values]
        else:
            texts = [json.dumps(v) for v in values]
    # code -1 (missing) takes the last text, null
    table = pa.array([*texts, "null"], type=pa.string())
    return table.take(pa.array(np.where(codes < 0, len(texts), codes)))


def from_json_rows(rows: Iterable[str], table: str) -> pd.DataFrame:
    """Inverse of :func:`json_rows`: a canonical frame."""
    frame = pd.DataFrame([json.loads(r) for r in rows])
    return to_canonical(frame, table)


def raw_strings(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Typed canonical rows back to upload-like strings (for quarantining rows refused at the store)."""
    types = column_types(table)
    out = pd.DataFrame(index=frame.index)
    for col in frame.columns:
        s = frame[col]
        kind = types.get(col, "string")
        if kind == "date" and s.dtype.kind == "M":
            text = s.dt.strftime("%Y-%m-%d")
        elif kind == "boolean":
            text = s.astype("boolean").map({True: "yes", False: "no"}, na_action="ignore")
        elif kind == "integer":
            text = coerce(s, "integer").astype("string")
        else:
            text = s.astype("string")
        out[col] = text.astype("string")
    return out


def differs(a: pd.Series, b: pd.Series) -> np.ndarray:
    """Element-wise 'not the same value' for two aligned canonical columns (missing equals missing)."""
    both_na = (a.isna() & b.isna()).to_numpy()
    eq = (a == b)
    eq = eq.fillna(False).to_numpy(dtype=bool) if hasattr(eq, "fillna") else np.asarray(eq, dtype=bool)
    return ~(eq | both_na)


def key_frame(frame: pd.DataFrame, key: Sequence[str]) -> pd.DataFrame:
    """The natural-key columns of ``frame``."""
    return frame.loc[:, list(key)]
