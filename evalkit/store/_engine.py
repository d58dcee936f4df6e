"""Opening a store: URL resolution, engine set-up, retries, clear errors."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypeVar

import sqlalchemy as sa
from sqlalchemy import event, exc

from evalkit.errors import EvalkitError, StoreError, StoreUnavailable
from evalkit.store import _instrument_codes, _migrations

R = TypeVar("R")

DEFAULT_SQLITE_PATH: Final = "evalkit.sqlite"
"""Default database: ``./evalkit.sqlite`` in the working directory (override with ``--db`` or ``EVALKIT_DB_URL``)."""

_RETRIES: Final = 5
_BUSY_TIMEOUT_MS: Final = 10_000
_WRITE_LOCK_KEY: Final = 0x65766B31  # "evk1": PostgreSQL advisory lock serialising writers


def resolve_db_url(db: str | os.PathLike[str] | None = None) -> str:
    """Turn ``--db`` (a URL or a file path), else ``EVALKIT_DB_URL``, else the default path, into a URL.

    A plain path means an SQLite file; ``postgresql://`` means PostgreSQL through
    psycopg 3.
    """
    value = str(db) if db not in (None, "") else os.environ.get("EVALKIT_DB_URL") or DEFAULT_SQLITE_PATH
    if "://" not in value:
        return "sqlite:///" + str(Path(value).expanduser().resolve())
    if value.startswith(("postgresql://", "postgres://")):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def _masked(url: sa.URL) -> str:
    return url.render_as_string(hide_password=True)


def _is_retryable(err: exc.DBAPIError) -> bool:
    if err.connection_invalidated:
        return True
    text = str(err.orig).lower() if err.orig is not None else str(err).lower()
    return any(
        s in text
        for s in (
            "database is locked",
            "database table is locked",
            "busy",
            "connection refused",
            "could not connect",
            "server closed the connection",
            "connection timeout",
            "terminating connection",
            "deadlock detected",
            "could not serialize",
        )
    )


class Store:
    """An open evalkit database (SQLite file or PostgreSQL), at the current schema version.

    Use :func:`open_store` to get one. Thread-safe: threads may share a store.

    Attributes
    ----------
    engine : sqlalchemy.Engine
    url : str
        The database URL with any password hidden.
    dialect : str
        ``"sqlite"`` or ``"postgresql"``.
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.url = _masked(engine.url)
        self.dialect = engine.dialect.name

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release all connections."""
        self.engine.dispose()

    def _describe(self, err: BaseException) -> str:
        orig = getattr(err, "orig", None) or err
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
        return text

    def transaction(self, fn: Callable[[sa.Connection], R], *, write: bool = True) -> R:
        """Run ``fn(conn)`` in one transaction and commit; retry on lock/connection errors.

        Writers are serialised (SQLite ``BEGIN IMMEDIATE`` with a busy timeout;
        a PostgreSQL transaction-level advisory lock), so concurrent uploads
        queue rather than fail. A transient failure before commit (database
        locked, connection lost) re-runs the whole transaction up to 5 times
        with exponential backoff; nothing is half-applied because a failed
        transaction is rolled back.

        Raises
        ------
        StoreError
            The database is locked for too long, cannot be reached, or refused a
            statement; the message says which.
        """
        delay = 0.1
        for attempt in range(1, _RETRIES + 1):
            committing = False
            try:
                with self.engine.connect() as conn:
                    if write and self.dialect == "sqlite":
                        conn = conn.execution_options(evalkit_begin="IMMEDIATE")
                    with conn.begin() as trans:
                        if write and self.dialect == "postgresql":
                            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _WRITE_LOCK_KEY})
                        result = fn(conn)
                        committing = True
                        trans.commit()
                    return result
            except EvalkitError:
                raise
            except exc.DBAPIError as err:
                if not committing and attempt < _RETRIES and _is_retryable(err):
                    time.sleep(delay * (1 + random.random()))
                    delay *= 2
                    continue
                raise self._store_error(err, attempt) from err
        raise AssertionError("unreachable")  # pragma: no cover

    def _store_error(self, err: exc.DBAPIError, attempts: int) -> StoreError:
        what = self._describe(err)
        low = what.lower()
        if "locked" in low or "busy" in low:
            return StoreUnavailable(
                f"the database {self.url} is locked by another program (tried {attempts} times). "
                "Wait for the other upload or program to finish and try again; nothing was changed."
            )
        if isinstance(err, exc.IntegrityError):
            return StoreError(f"the database {self.url} refused the change ({what}); nothing was changed.")
        if isinstance(err, exc.OperationalError | exc.InterfaceError):
            return StoreUnavailable(
                f"cannot use the database {self.url}: {what}. Check that it is running and reachable; "
                "nothing was changed."
            )
        return StoreError(f"database error on {self.url}: {what}; nothing was changed.")


def _make_engine(url: str) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except exc.ArgumentError as err:
        raise StoreError(f"not a database URL or path: {url!r}") from err
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if path and path != ":memory:" and not path.startswith("file:"):
            parent = Path(path).expanduser().resolve().parent
            if not parent.is_dir():
                raise StoreError(f"cannot create the database {path}: folder {parent} does not exist")
        engine = sa.create_engine(parsed, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (see _on_begin)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
            if path and path != ":memory:":
                # WAL: readers never block the writer and a killed upload leaves nothing behind.
                # FULL: the WAL is synced at every commit, so a committed upload survives a power
                # loss too (NORMAL may lose the last commits); one fsync per upload, not per row.
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: sa.Connection) -> None:
            mode = conn.get_execution_options().get("evalkit_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    if backend == "postgresql":
        try:
            return sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 10})
        except ImportError as err:
            raise StoreError(
                "PostgreSQL needs the psycopg driver: pip install 'evalkit[postgres]'"
            ) from err
    raise StoreError(f"unsupported database {backend!r}: use an SQLite path or a postgresql:// URL")


def open_store(db: str | os.PathLike[str] | None = None, *, migrate: bool = True) -> Store:
    """Open (and create or migrate) an evalkit database.

    Parameters
    ----------
    db
        SQLite file path, or a database URL (``sqlite:///...``,
        ``postgresql://user@host/db``). Default: ``EVALKIT_DB_URL``, else
        ``./evalkit.sqlite``.
    migrate
        Apply missing schema migrations (in one transaction). When false, a
        database not at the current version is refused. When true, it also
        finishes schema step 8 for stored instruments it left as stored while
        an instrument file defining them could not be used, once one can.

    Raises
    ------
    StoreError
        Unreachable or locked database, or a schema version newer than this
        code (or older, with ``migrate=False``).
    """
    engine = _make_engine(resolve_db_url(db))
    store = Store(engine)

    def _check(conn: sa.Connection) -> tuple[int, list[str] | None]:
        have = _migrations.current_version(conn)
        if have > _migrations.CURRENT_VERSION:
            _migrations.migrate(conn)  # raises the "newer than this evalkit" StoreError
        if have == _migrations.CURRENT_VERSION:
            _migrations.check_columns(conn)
            return have, _instrument_codes.left_as_stored(conn)
        return have, None

    def _upgrade(conn: sa.Connection) -> None:
        if _check(conn)[0] < _migrations.CURRENT_VERSION:  # re-checked under the write lock
            _migrations.migrate(conn)
            _migrations.check_columns(conn)

    try:
        have, waiting = store.transaction(_check, write=False)
        if have < _migrations.CURRENT_VERSION:
            if not migrate:
                raise StoreError(
                    f"the database {store.url} is at schema version {have}; this evalkit needs "
                    f"{_migrations.CURRENT_VERSION}. Open it with migration enabled."
                )
            store.transaction(_upgrade, write=True)
        elif migrate and waiting is not None and _instrument_codes.can_map_more(waiting):
            # schema step 8 left instruments as stored while a file defining them could not be used: finish it
            store.transaction(_instrument_codes.map_left_as_stored, write=True)
    except BaseException:
        engine.dispose()
        raise
    return store
