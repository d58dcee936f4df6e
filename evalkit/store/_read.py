"""The store's read API: every query is filtered by an access :class:`~evalkit.access.Scope` in SQL."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from evalkit.access import Scope
from evalkit.canonical import PROVENANCE_COLUMNS
from evalkit.errors import AccessDenied
from evalkit.memory import release_freed_memory
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.store import _tables as T
from evalkit.store._engine import Store
from evalkit.store._frames import frame_from_rows, stacked_frames

DATE_COLUMNS = {"participants": "referral_date", "group_sessions": "session_date"}
"""Column a ``date_range`` filters on; contacts and measures follow their participants."""


def _visible_programmes(scope: Scope, programmes: Iterable[str] | None) -> sa.ColumnElement[bool] | None:
    """A condition on ``programmes.programme_id`` for the scope (``None`` = no restriction).

    The programmes of the scope's providers (a provider), within :attr:`Scope.granted_programmes` when it has
    them, the rule every door of the store shares.
    """
    scope.require_individual_rows()
    p = T.canonical["programmes"]
    conds: list[sa.ColumnElement[bool]] = []
    if scope.role == "provider":
        conds.append(p.c.provider.in_(sorted(scope.providers)))
    granted = scope.granted_programmes
    if granted is not None:
        conds.append(p.c.programme_id.in_(sorted(granted)))
    if programmes is not None:
        if isinstance(programmes, str):
            programmes = [programmes]
        conds.append(p.c.programme_id.in_(sorted(set(programmes))))
    return sa.and_(*conds) if conds else None


def _programme_subquery(cond: sa.ColumnElement[bool] | None) -> sa.Select:
    p = T.canonical["programmes"]
    q = sa.select(p.c.programme_id)
    return q.where(cond) if cond is not None else q


def _as_date(value: object, name: str) -> dt.date | None:
    if value is None:
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"date_range {name} must be a date; got {value!r}") from exc


def table_query(
    table: str,
    scope: Scope,
    *,
    programmes: Iterable[str] | None = None,
    date_range: tuple[object, object] | None = None,
    provenance: bool = True,
) -> sa.Select:
    """The scoped SELECT of one canonical table (public data columns, and the provenance columns unless
    ``provenance`` is false)."""
    t = T.canonical[table]
    schema = table_schema(table)
    cols = [t.c[c] for c in (*schema.field_names, *(PROVENANCE_COLUMNS if provenance else ()))]
    q = sa.select(*cols)
    cond = _visible_programmes(scope, programmes)
    if cond is not None:
        q = q.where(t.c.programme_id.in_(_programme_subquery(cond)))
    if date_range is not None:
        if not (isinstance(date_range, tuple | list) and len(date_range) == 2):
            raise ValueError(f"date_range must be (start, end) with None for an open end; got {date_range!r}")
        start, end = _as_date(date_range[0], "start"), _as_date(date_range[1], "end")
        part = T.canonical["participants"]
        if table in DATE_COLUMNS:
            col = t.c[DATE_COLUMNS[table]]
            q = q.where(col >= start) if start else q
            q = q.where(col <= end) if end else q
        elif table in ("contacts", "measures"):
            sub = sa.select(part.c.participant_id)
            sub = sub.where(part.c.referral_date >= start) if start else sub
            sub = sub.where(part.c.referral_date <= end) if end else sub
            q = q.where(t.c.participant_id.in_(sub))
    return q


def read_frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """Run ``query`` and return its rows as a frame with the query's column names."""
    result = conn.execute(query)
    return pd.DataFrame(result.fetchall(), columns=list(result.keys()))


READ_ROWS = 200_000
"""Rows :func:`read_canonical` fetches from the driver, as Python tuples, at a time."""


def read_canonical(conn: sa.Connection, query: sa.Select, table: str) -> pd.DataFrame:
    """Run ``query`` on columns of canonical ``table`` and return its rows in canonical dtypes.

    The rows come from the DBAPI cursor as the driver returns them, without SQLAlchemy's per-row result
    processing (on SQLite a ``Date`` is then its ISO text and a ``Boolean`` 0/1), :data:`READ_ROWS` at a
    time, and each batch is typed by :func:`~evalkit.store._frames.frame_from_rows` (told the dialect, for the
    types its driver returns) before the next is fetched: the same frame as
    ``to_canonical(read_frame(conn, query), table)``, without pandas inferring each column's dtype from its
    Python objects first. Fetched at once as Python tuples, a million participants' tables (issue #8's volume,
    10.6M contacts) took :func:`load_tables` to 8,276 MiB, and 3,793 MiB in batches; the batches are joined
    column by column (:func:`~evalkit.store._frames.stacked_frames`).
    """
    parts = list(canonical_batches(conn, query, table))
    return parts[0] if len(parts) == 1 else stacked_frames(parts)


def canonical_batches(conn: sa.Connection, query: sa.Select, table: str) -> Iterator[pd.DataFrame]:
    """The rows of ``query`` (columns of canonical ``table``) as frames of up to :data:`READ_ROWS` rows each.

    Each batch is fetched from the driver and typed as :func:`read_canonical` types the rows, and the next
    is fetched only when the caller asks for it, so the caller can shrink a batch (code its text, drop rows)
    before the next batch's Python objects are made. A query without rows gives one empty frame of its columns.
    An error of the driver is raised as SQLAlchemy's ``DBAPIError`` (``OperationalError``, ...), as for every
    other statement.
    """
    dialect = conn.dialect.name
    driver_error = conn.dialect.loaded_dbapi.Error
    try:
        with _driver_cursor(conn, query) as (cursor, columns):
            first = True
            while (rows := cursor.fetchmany(READ_ROWS)) or first:
                first = False
                yield frame_from_rows(rows, columns, table, dialect=dialect)
                del rows  # the batch's Python objects, before the next batch is fetched
    except driver_error as err:
        # the driver's own error (the server-side cursor is psycopg's, not SQLAlchemy's) as SQLAlchemy wraps it,
        # for the store's transaction to retry or to report as its clear message
        raise sa.exc.DBAPIError.instance(str(query), None, err, driver_error, dialect=conn.dialect) from err


@contextmanager
def _driver_cursor(conn: sa.Connection, query: sa.Select) -> Iterator[tuple[Any, list[str]]]:
    """The DBAPI cursor of ``query``'s rows, not yet fetched, and the names of its columns.

    On PostgreSQL (psycopg) a server-side cursor, whose rows stay in the server until fetched (a client-side
    cursor receives every row of the result at once); the statement and its parameters are SQLAlchemy's,
    each parameter through its type's bind processor as SQLAlchemy would send it. Elsewhere the cursor of
    SQLAlchemy's own execution (SQLite's steps through the rows as they are fetched).
    """
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        for name, bind in compiled.binds.items():
            process = bind.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
            if process is not None and name in params:
                params[name] = process(params[name])
        names = [c.name for c in query.selected_columns]
        with conn.connection.driver_connection.cursor(name=f"evalkit_read_{uuid.uuid4().hex}") as cursor:
            cursor.execute(str(compiled), params)
            yield cursor, names
        return
    result = conn.execute(query)
    try:
        yield result.cursor, list(result.keys())
    finally:
        result.close()


def load_tables(
    store: Store,
    scope: Scope,
    *,
    programmes: Iterable[str] | None = None,
    date_range: tuple[object, object] | None = None,
    tables: Iterable[str] | None = None,
    provenance: bool = True,
) -> dict[str, pd.DataFrame]:
    """Load the canonical tables a scope may see.

    Parameters
    ----------
    store
        An open store (:func:`~evalkit.store.open_store`).
    scope
        Who is asking; filtering happens in the SQL query.
    programmes
        Further restrict to these programme ids (intersected with the scope).
    date_range
        ``(start, end)``, inclusive, either end ``None`` for open: participants
        by ``referral_date``, group sessions by ``session_date``, contacts and
        measures of the participants referred in the range (whole journeys of a
        referral cohort); programmes are not filtered by date.
    tables
        Which tables (default: all, in load order).
    provenance
        Whether to load the provenance columns (``source_file``, ``source_sheet``, ``source_row``: where
        each row came from). The analyses do not use them; leaving them out spares the database driver a
        file name per stored row (the dashboard's tables at 10k participants load about a fifth faster).

    Returns
    -------
    dict[str, pandas.DataFrame]
        Per table, the schema's columns then (with ``provenance``) the provenance columns, with the
        canonical dtypes of :mod:`evalkit.canonical` (as ``ValidationResult.tables``),
        sorted by natural key, index 0..n-1. No internal columns.

    Raises
    ------
    AccessDenied
        For the researcher role (aggregate data only).
    """
    names = list(TABLE_NAMES if tables is None else tables)
    unknown = [t for t in names if t not in TABLE_NAMES]
    if unknown:
        raise ValueError(f"tables must be among {list(TABLE_NAMES)}; got {unknown}")
    queries = {t: table_query(t, scope, programmes=programmes, date_range=date_range, provenance=provenance)
               for t in names}

    def _load(conn: sa.Connection) -> dict[str, pd.DataFrame]:
        if conn.dialect.name == "postgresql":
            # rows in key order from the server (its heap holds them in the order written, which is not key
            # order): loading 10.6M contacts and sorting them here peaked at 3,776 MiB, 2,044 MiB without the
            # sort; SQLite's rows come back in key order as stored
            return {t: read_canonical(conn, q.order_by(*(T.canonical[t].c[c] for c in table_schema(t).primary_key)),
                                      t) for t, q in queries.items()}
        return {t: read_canonical(conn, q, t) for t, q in queries.items()}

    raw = store.transaction(_load, write=False)
    release_freed_memory()  # the batches' Python objects, freed: their heap pages back to the system
    return {t: sorted_by_key(raw.pop(t), list(table_schema(t).primary_key), consume=True) for t in list(raw)}


def _ascending_runs(values: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Per pair of neighbouring values: whether the later sorts after, and whether the two are equal.

    ``None`` when the column has missing values or is neither text, a date nor a number (the caller then
    sorts). Text is compared by code point in pyarrow, as pandas sorts it.
    """
    if values.isna().any():
        return None
    if isinstance(values.dtype, pd.StringDtype):
        import pyarrow as pa
        import pyarrow.compute as pc

        text = pa.array(values.array)
        before, after = text[:-1], text[1:]
        return (pc.less(before, after).to_numpy(zero_copy_only=False),
                pc.equal(before, after).to_numpy(zero_copy_only=False))
    if values.dtype.kind in "Mmiuf":
        v = values.to_numpy()
        return v[:-1] < v[1:], v[:-1] == v[1:]
    return None


def sorted_by_key(frame: pd.DataFrame, key: list[str], *, consume: bool = False) -> pd.DataFrame:
    """``frame`` sorted by ``key`` (stable, missing last), index 0..n-1.

    The same frame as ``frame.sort_values(key, kind="stable").reset_index(drop=True)``; rows that already
    stand in key order (as rows stored by one upload come back from the database) are checked, pair by
    neighbouring pair and column by column, and the frame is returned as it is, without a sorted copy.

    With ``consume``, rows out of key order are sorted a column at a time, each column taken out of ``frame``
    once its sorted copy is made (``frame`` is left without columns): the sort holds one column twice instead
    of the whole frame. At a million participants of issue #8's volume, measures of two uploads (the experience
    questionnaires' answers after the rest) come back from SQLite out of key order: 4.4 million rows, 1.0 GB.
    """
    in_order = len(frame) < 2
    if not in_order and isinstance(frame.index, pd.RangeIndex) and frame.index.equals(pd.RangeIndex(len(frame))):
        runs = [_ascending_runs(frame[c]) for c in key]
        if all(r is not None for r in runs):
            later, equal = runs[-1][0], runs[-1][1]  # type: ignore[index]
            ok = later | equal
            for later, equal in reversed(runs[:-1]):  # type: ignore[misc]
                ok = later | (equal & ok)
            in_order = bool(ok.all())
    if in_order and isinstance(frame.index, pd.RangeIndex) and frame.index.equals(pd.RangeIndex(len(frame))):
        return frame
    if not consume or frame.columns.has_duplicates:
        return frame.sort_values(key, kind="stable").reset_index(drop=True)
    # the order sort_values finds from the key columns alone, then every column taken in that order
    order = frame[key].reset_index(drop=True).sort_values(key, kind="stable").index.to_numpy()
    columns: dict[object, pd.Series] = {}
    for name in list(frame.columns):
        columns[name] = frame[name].take(order).reset_index(drop=True)
        del frame[name]
    out = pd.DataFrame(columns, copy=False)
    out.attrs = dict(frame.attrs)
    return out


def load_tables_to_count(
    store: Store,
    scope: Scope,
    *,
    programmes: Iterable[str] | str | None = None,
    date_range: tuple[object, object] | None = None,
) -> dict[str, pd.DataFrame]:
    """Load the canonical tables whose aggregates a scope may count, for the library's aggregate outputs only.

    Providers, evaluators and admins get :func:`load_tables` under their own scope. A researcher, who may not
    load individual rows, gets the rows of the programmes :attr:`Scope.granted_programmes
    <evalkit.access.Scope.granted_programmes>` grants (every programme when none are named): they must not
    leave the library except as disclosure-controlled aggregates (:func:`evalkit.summary.summary_from_store`,
    :func:`evalkit.report.report_from_store`), so a researcher's rows are never to be shown or saved as they
    are. ``programmes`` narrows the grant, never widens it: asking for programmes outside it gives none of them.
    Not part of :mod:`evalkit.store`'s public API for that reason (no door that hands a researcher rows); the
    provenance columns are left out (no aggregate counts them).

    Parameters
    ----------
    store
        An open store (:func:`~evalkit.store.open_store`).
    scope
        The user's :class:`~evalkit.access.Scope`.
    programmes, date_range
        As :func:`load_tables` (one programme id may be given as a string).

    Returns
    -------
    dict[str, pandas.DataFrame]
        As :func:`load_tables` with ``provenance=False``, every table.
    """
    if scope.role != "researcher":
        return load_tables(store, scope, programmes=programmes, date_range=date_range, provenance=False)
    wanted = None if programmes is None else {programmes} if isinstance(programmes, str) else set(programmes)
    granted = scope.granted_programmes
    if granted is not None:
        wanted = set(granted) if wanted is None else wanted & granted
    return load_tables(store, Scope.admin(), programmes=None if wanted is None else sorted(wanted),
                       date_range=date_range, provenance=False)


def data_version(store: Store) -> str:
    """A token that changes whenever stored data change (new upload or rollback), for cache keys.

    Not scoped: it reveals only how many uploads and rollbacks there were.
    """
    u = T.uploads

    def _q(conn: sa.Connection) -> tuple[int, int, int]:
        row = conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.max(u.c.upload_id), 0),
                sa.func.count(),
                sa.func.coalesce(sa.func.sum(sa.case((u.c.status == "rolled_back", 1), else_=0)), 0),
            )
        ).one()
        return int(row[0]), int(row[1]), int(row[2])

    last, n, rolled = store.transaction(_q, write=False)
    return f"{last}.{n}.{rolled}"


def _uploads_condition(scope: Scope) -> sa.ColumnElement[bool] | None:
    """Uploads a scope may see: a provider's own; with :attr:`Scope.granted_programmes`, only those whose rows name at
    least one granted programme (``upload_programmes``), so no one learns of uploads for programmes they are
    not granted."""
    scope.require_individual_rows()
    u = T.uploads
    conds: list[sa.ColumnElement[bool]] = []
    if scope.role == "provider":
        conds.append(u.c.provider.in_(sorted(scope.providers)))
    granted = scope.granted_programmes
    if granted is not None:
        up = T.upload_programmes
        conds.append(u.c.upload_id.in_(sa.select(up.c.upload_id).where(up.c.programme_id.in_(sorted(granted)))))
    return sa.and_(*conds) if conds else None


_STORED_UPLOAD_COLUMNS = (
    "upload_id", "provider", "uploaded_at", "file_name", "sha256", "user_name", "status", "rows_accepted",
    "rows_inserted", "rows_updated", "rows_unchanged", "rows_quarantined", "rows_resolved",
    "resubmits_upload_id", "rolled_back_at",
)
UPLOAD_COLUMNS = (*_STORED_UPLOAD_COLUMNS, "rows_no_programme")
"""Columns of :func:`list_uploads`: the ``uploads`` record, then ``rows_no_programme``."""


def _granted_counts(frame: pd.DataFrame, parts: pd.DataFrame, granted: frozenset[str]) -> pd.DataFrame:
    """``frame`` (uploads) with each count replaced by its part for the ``granted`` programmes.

    ``parts`` holds the ``upload_programmes`` rows of the uploads. The part is the sum over the granted
    programmes when all their counts are known; for an upload stored before counts were kept per programme
    (NULL counts), the upload's total when every programme it names is granted, else missing.
    """
    counts = list(T.UPLOAD_COUNTS)
    mine = parts["programme_id"].isin(sorted(granted)).to_numpy(dtype=bool)
    ids = parts["upload_id"].to_numpy()
    known = parts[counts].notna().all(axis=1).to_numpy(dtype=bool)
    g = pd.DataFrame({"upload_id": ids, "other": ~mine, "unknown": mine & ~known})
    flags = g.groupby("upload_id")[["other", "unknown"]].any()
    sums = parts.loc[mine].assign(**{c: pd.to_numeric(parts.loc[mine, c].astype(object)) for c in counts}) \
        .groupby("upload_id")[counts].sum()
    key = frame["upload_id"].astype("int64").to_numpy()
    unknown = flags["unknown"].reindex(key, fill_value=False).to_numpy(dtype=bool)
    whole = ~flags["other"].reindex(key, fill_value=False).to_numpy(dtype=bool)
    out = frame.copy()
    for c in counts:
        part = pd.array(sums[c].reindex(key).to_numpy(), dtype="Int64")
        total = frame[c].array
        out[c] = pd.array(np.where(unknown, np.where(whole, total, pd.NA), part), dtype="Int64")
    return out


def _named_rows_query(cond: sa.ColumnElement[bool] | None) -> sa.Select:
    """Per upload (of those ``cond`` lets through): the rows its programmes' counts hold (accepted or
    quarantined), how many of its ``upload_programmes`` rows there are and how many have counts."""
    up = T.upload_programmes
    q = sa.select(up.c.upload_id, sa.func.sum(up.c.rows_accepted + up.c.rows_quarantined).label("named"),
                  sa.func.count().label("parts"), sa.func.count(up.c.rows_accepted).label("known")) \
        .group_by(up.c.upload_id)
    return q.where(up.c.upload_id.in_(sa.select(T.uploads.c.upload_id).where(cond))) if cond is not None else q


def _no_programme(frame: pd.DataFrame, named: pd.DataFrame) -> pd.Series:
    """Each upload's rows (accepted or quarantined) counted under none of its provider's programmes.

    Missing for an upload stored before counts were kept per programme (not known).
    """
    named = named.set_index(pd.to_numeric(named["upload_id"].astype(object)).astype("int64"))
    key = frame["upload_id"].astype("int64").to_numpy()
    counted = pd.to_numeric(named["named"].astype(object)).reindex(key).fillna(0).to_numpy(dtype=np.int64)
    unknown = (pd.to_numeric(named["known"]) < pd.to_numeric(named["parts"])).reindex(key, fill_value=False)
    rows = (frame["rows_accepted"] + frame["rows_quarantined"]).to_numpy(dtype=np.int64, na_value=0)
    return pd.Series(pd.array(np.where(unknown.to_numpy(dtype=bool), pd.NA, rows - counted), dtype="Int64"),
                     index=frame.index, name="rows_no_programme")


def list_uploads(store: Store, scope: Scope | None = None) -> pd.DataFrame:
    """Upload history, newest first, with :data:`UPLOAD_COLUMNS` (times in UTC).

    A provider sees its own uploads; an admin (the default scope) all. An
    evaluator (or a provider narrowed to some of its programmes) sees only the
    uploads whose rows concern its programmes, and their counts only for those
    programmes: an upload of several programmes shows the rows of the granted
    ones, an upload of none of them is not listed.

    ``rows_no_programme``: the upload's rows (accepted or quarantined) that name
    none of its provider's programmes (a blank or unknown programme id, or
    another provider's programme; such rows are quarantined). They are in the
    upload's totals but in no programme's part, so only those who see the
    totals (an admin, the provider's users not narrowed to some programmes)
    see how many; for others, and for uploads stored before counts were kept
    per programme, it is missing. An evaluator's counts never include them,
    except for such an older upload whose programmes are all granted, whose
    counts are its totals (its parts are not known).
    """
    scope = scope or Scope.admin()
    u = T.uploads
    q = sa.select(*[u.c[c] for c in _STORED_UPLOAD_COLUMNS]).order_by(u.c.upload_id.desc())
    cond = _uploads_condition(scope)
    if cond is not None:
        q = q.where(cond)
    granted = scope.granted_programmes
    up = T.upload_programmes
    parts_q = sa.select(up).where(up.c.upload_id.in_(sa.select(u.c.upload_id).where(cond))) \
        if granted is not None and cond is not None else None
    named_q = _named_rows_query(cond) if granted is None else None

    def _read(conn: sa.Connection) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame | None]:
        return (read_frame(conn, q), read_frame(conn, parts_q) if parts_q is not None else None,
                read_frame(conn, named_q) if named_q is not None else None)

    frame, parts, named = store.transaction(_read, write=False)
    for c in ("uploaded_at", "rolled_back_at"):
        frame[c] = pd.to_datetime(frame[c].astype(object), utc=True)
    ints = [c for c in _STORED_UPLOAD_COLUMNS if c.startswith("rows_") or c.endswith("upload_id")]
    for c in ints:
        frame[c] = pd.to_numeric(frame[c].astype(object)).astype("Int64")
    for c in ("provider", "file_name", "sha256", "user_name", "status"):
        frame[c] = frame[c].astype("string")
    frame["rows_no_programme"] = _no_programme(frame, named) if named is not None else \
        pd.Series(pd.NA, index=frame.index, dtype="Int64")
    if parts is not None and len(frame):
        frame = _granted_counts(frame, parts, granted)
    return frame


QUARANTINE_COLUMNS = ("quarantine_id", "upload_id", "table", *PROVENANCE_COLUMNS, "reasons", "quarantine_status",
                      "resolved_upload_id")
"""Bookkeeping columns :func:`quarantine_rows` adds after the uploaded columns (no clash with canonical names)."""


def quarantine_rows(
    store: Store,
    scope: Scope | None = None,
    *,
    upload_id: int | None = None,
    status: Literal["open", "resolved", "all"] = "open",
) -> dict[str, pd.DataFrame]:
    """Quarantined rows per table, as uploaded (strings), for correction and re-submission.

    Returns
    -------
    dict[str, pandas.DataFrame]
        Per canonical table with quarantined rows: the raw columns as uploaded
        (participant ids already pseudonymised), then :data:`QUARANTINE_COLUMNS`.
    """
    if status not in ("open", "resolved", "all"):
        raise ValueError(f"status must be one of ['open', 'resolved', 'all']; got {status!r}")
    scope = scope or Scope.admin()
    q_t, u = T.quarantine, T.uploads
    q = sa.select(q_t, u.c.provider).join(u, u.c.upload_id == q_t.c.upload_id).order_by(q_t.c.quarantine_id)
    cond = _uploads_condition(scope)
    if cond is not None:
        q = q.where(cond)
    if upload_id is not None:
        q = q.where(q_t.c.upload_id == int(upload_id))
    if status != "all":
        q = q.where(q_t.c.status == status)
    frame = store.transaction(lambda conn: read_frame(conn, q), write=False)
    granted = scope.granted_programmes
    out: dict[str, pd.DataFrame] = {}
    for table, part in frame.groupby("table_name", sort=False):
        data = pd.DataFrame([json.loads(r) for r in part["row_json"]], index=part.index).astype("string")
        if granted is not None:  # an evaluator (or a provider narrowed to some programmes): those programmes' rows
            ids = data["programme_id"] if "programme_id" in data.columns else pd.Series(pd.NA, index=data.index)
            keep = ids.isin(sorted(granted)).fillna(False).to_numpy(dtype=bool)
            data, part = data.loc[keep], part.loc[keep]
            if part.empty:
                continue
        meta = part.rename(columns={"table_name": "table", "status": "quarantine_status"})
        meta = meta.loc[:, list(QUARANTINE_COLUMNS)]
        data = data.drop(columns=[c for c in data.columns if c in meta.columns])
        combined = pd.concat([data, meta], axis=1).reset_index(drop=True)
        for c in ("quarantine_id", "upload_id", "source_row", "resolved_upload_id"):
            combined[c] = pd.to_numeric(combined[c].astype(object)).astype("Int64")
        for c in ("table", "source_file", "source_sheet", "reasons", "quarantine_status"):
            combined[c] = combined[c].astype("string")
        out[str(table)] = combined
    order = {t: i for i, t in enumerate(TABLE_NAMES)}
    return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], 99)))


__all__ = ["AccessDenied", "data_version", "list_uploads", "load_tables", "quarantine_rows"]
