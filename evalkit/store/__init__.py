"""The evalkit database: an embedded SQLite file by default, PostgreSQL by URL, same code (SQLAlchemy Core).

Public API
----------
:func:`open_store`
    Open, create or migrate a database (``--db`` / ``EVALKIT_DB_URL`` /
    ``./evalkit.sqlite``).
:func:`load_tables`
    Canonical frames a :class:`~evalkit.access.Scope` may see, filtered in SQL.
:func:`data_version`
    Token that changes whenever data change (for dashboard cache keys).
:func:`list_uploads`, :func:`quarantine_rows`
    Upload history and quarantined rows (scoped).

Writing happens through :mod:`evalkit.ingest` (``ingest``, ``resubmit``,
``rollback``). Every table and column stored is listed in ``docs/STORED_DATA.md``.
"""

from evalkit.store._engine import DEFAULT_SQLITE_PATH, Store, open_store, resolve_db_url
from evalkit.store._migrations import CURRENT_VERSION, MIGRATIONS, Migration
from evalkit.store._read import (
    QUARANTINE_COLUMNS,
    UPLOAD_COLUMNS,
    data_version,
    list_uploads,
    load_tables,
    quarantine_rows,
)

__all__ = [
    "CURRENT_VERSION",
    "DEFAULT_SQLITE_PATH",
    "MIGRATIONS",
    "Migration",
    "QUARANTINE_COLUMNS",
    "UPLOAD_COLUMNS",
    "Store",
    "data_version",
    "list_uploads",
    "load_tables",
    "open_store",
    "quarantine_rows",
    "resolve_db_url",
]
