"""Load the canonical tables for analysis: a folder of CSV files, or the evalkit database.

This is a *typed loader*, not a validator: it reads each CSV and converts its
columns to the canonical dtypes of :mod:`evalkit.canonical` using the table
schemas (``evalkit.schemas.table_schema``). Cells that do not parse become
missing. Uploads that need checking go through validation and the store;
this module is for analysing data that are already clean (an export, the
shipped example data, a test fixture).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.canonical import DTYPES
from evalkit.errors import InputFileError, StoreError
from evalkit.schemas import TABLE_NAMES, TableSchema, table_schema

__all__ = ["coerce_table", "coerce_tables", "load_tables", "read_csv_folder", "example_tables"]

_ISO = "%Y-%m-%d"


def _parse_dates(s: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        out = s
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_localize(None)
        return out.dt.normalize().astype("datetime64[ns]")
    text = s.astype("string").str.strip()
    iso = pd.to_datetime(text, format=_ISO, errors="coerce")
    rest = iso.isna() & text.notna() & (text != "")
    if rest.any():
        # Accept ISO date-times and the UK day-first form the contract allows on upload.
        iso_dt = pd.to_datetime(text[rest], format="ISO8601", errors="coerce")
        uk = pd.to_datetime(text[rest], format="%d/%m/%Y", errors="coerce")
        iso.loc[rest] = iso_dt.fillna(uk)
    return iso.dt.normalize().astype("datetime64[ns]")


def _parse_bool(s: pd.Series, true_values: tuple[str, ...], false_values: tuple[str, ...]) -> pd.Series:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    if pd.api.types.is_numeric_dtype(s.dtype):
        return s.map({1: True, 0: False}).astype("boolean")
    text = s.astype("string").str.strip()
    tv = set(true_values or ("true", "True", "TRUE", "yes", "Yes", "1"))
    fv = set(false_values or ("false", "False", "FALSE", "no", "No", "0"))
    out = pd.array(np.full(len(text), None, dtype=object), dtype="boolean")
    arr = text.to_numpy(dtype=object, na_value=None)
    out[np.isin(arr, list(tv))] = True
    out[np.isin(arr, list(fv))] = False
    return pd.Series(out, index=s.index)


def _convert(s: pd.Series, ftype: str, spec: Any = None) -> pd.Series:
    if ftype == "string":
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.na_value is pd.NA:
            return s  # canonical already
        # text as read (object, or pandas' NaN-marked "str" dtype): the canonical "string", cells trimmed
        return s.astype("string").str.strip().replace("", pd.NA)
    if ftype == "integer":
        num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s.dtype) else s
        num = num.astype("Float64")
        whole = num.round() == num
        return num.where(whole.fillna(False)).round().astype("Int64")
    if ftype == "number":
        num = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_numeric_dtype(s.dtype) else s
        return num.astype("float64")
    if ftype == "date":
        return _parse_dates(s)
    if ftype == "boolean":
        return _parse_bool(s, spec.true_values if spec else (), spec.false_values if spec else ())
    raise ValueError(f"unknown field type {ftype!r}")


def coerce_table(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Give one table the canonical dtypes of its schema (idempotent on canonical frames).

    Parameters
    ----------
    frame
        The table, as read from a CSV (text) or already typed.
    name
        Table name, one of :data:`evalkit.schemas.TABLE_NAMES`.

    Returns
    -------
    pandas.DataFrame
        A copy with every schema column that is present converted
        (string -> ``string``, integer -> ``Int64``, number -> ``float64``,
        date -> ``datetime64[ns]`` at midnight, boolean -> ``boolean``). Item
        columns beyond those listed (``item_21`` ...) are numbers. Other
        columns are kept unchanged. Unparsable cells become missing.
    """
    schema: TableSchema = table_schema(name)
    out = frame.copy(deep=False)  # copy-on-write (pandas 3): converted columns never reach the caller's frame
    for col in out.columns:
        if not isinstance(col, str):
            continue
        try:
            spec = schema.field(col)
        except KeyError:
            continue
        dtype = out[col].dtype
        if spec.type == "string":  # canonical text: the pd.NA-marked string dtype (not pandas' NaN-marked "str")
            if isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA:
                continue
        elif str(dtype) == DTYPES[spec.type]:
            continue
        out[col] = _convert(out[col], spec.type, spec)
    return out


def coerce_tables(tables: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """:func:`coerce_table` for every known table in ``tables`` (other keys are passed through)."""
    return {k: (coerce_table(v, k) if k in TABLE_NAMES and isinstance(v, pd.DataFrame) else v)
            for k, v in tables.items()}


def read_csv_folder(folder: str | Path) -> dict[str, pd.DataFrame]:
    """Read ``<table>.csv`` files from a folder into canonical, typed frames.

    Parameters
    ----------
    folder
        A folder holding some of ``programmes.csv``, ``participants.csv``,
        ``group_sessions.csv``, ``contacts.csv`` and ``measures.csv``.

    Returns
    -------
    dict[str, pandas.DataFrame]
        The tables found, keyed by name, typed as in :mod:`evalkit.canonical`.

    Raises
    ------
    InputFileError
        If the folder does not exist or holds none of the tables.
    """
    path = Path(folder)
    if not path.is_dir():
        raise InputFileError("folder not found (expected a folder of <table>.csv files)", file=str(path))
    out: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        f = path / f"{name}.csv"
        if not f.is_file():
            continue
        schema = table_schema(name)
        try:
            raw = pd.read_csv(f, dtype=str, keep_default_na=False, na_values=list(schema.missing_values),
                              encoding="utf-8-sig")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as exc:
            raise InputFileError(f"cannot be read as CSV ({exc})", file=str(f)) from exc
        out[name] = coerce_table(raw, name)
    if not out:
        raise InputFileError(f"holds none of {', '.join(n + '.csv' for n in TABLE_NAMES)}", file=str(path))
    return out


def example_tables() -> dict[str, pd.DataFrame]:
    """The shipped example data set (``examples/data``), typed."""
    from evalkit._resources import resource_dir

    return read_csv_folder(resource_dir("examples/data"))


def load_tables(
    *,
    data: str | Path | None = None,
    db: str | None = None,
    scope: Any = None,
    programmes: list[str] | None = None,
    provenance: bool = True,
) -> dict[str, pd.DataFrame]:
    """Load the canonical tables from a CSV folder (``data``) or the database (``db``).

    Parameters
    ----------
    data
        Folder of ``<table>.csv`` files (see :func:`read_csv_folder`).
    db
        Database URL or SQLite path, read with :func:`evalkit.store.load_tables`
        (imported only when needed).
    scope
        Access scope for the database (default: ``evalkit.access.Scope.admin()``).
        Ignored for CSV folders (whoever can read the folder sees it all).
    programmes
        Keep only these programme ids.
    provenance
        Whether to load the database's provenance columns (``source_file``, ``source_sheet``, ``source_row``).
        No analysis reads them; without them a million participants' tables take about 0.55 GB less. A CSV
        folder's frames are returned as read either way.

    Returns
    -------
    dict[str, pandas.DataFrame]
        Canonical frames keyed by table name.

    Raises
    ------
    ValueError
        If both or neither of ``data`` and ``db`` are given.
    StoreError
        If the database layer is not available or the database cannot be read.
    """
    if (data is None) == (db is None):
        raise ValueError("give exactly one of data= (a folder of CSV files) or db= (a database URL or path)")
    if data is not None:
        tables = read_csv_folder(data)
        if programmes:
            keep = set(programmes)
            tables = {k: (v[v["programme_id"].isin(keep)].reset_index(drop=True) if "programme_id" in v.columns
                          else v) for k, v in tables.items()}
        return tables
    try:
        from evalkit import store as _store
        from evalkit.access import Scope
    except ImportError as exc:  # pragma: no cover - depends on what is installed
        raise StoreError(f"the database layer (evalkit.store) is not available in this installation ({exc}); "
                         "use --data DIR with a folder of CSV files instead") from exc
    with _store.open_store(db, migrate=False) as opened:
        return coerce_tables(_store.load_tables(opened, scope or Scope.admin(), programmes=programmes,
                                                provenance=provenance))
