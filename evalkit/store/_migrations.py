"""Versioned schema migrations.

The ``schema_version`` table holds one row per applied step. :data:`MIGRATIONS`
is the ordered list of steps this code knows; opening a database applies the
missing ones in **one transaction** (all or nothing). A database whose version
is newer than the code knows is refused with a :class:`~evalkit.errors.StoreError`.

Adding a step: append ``Migration(number, description, apply)`` with the next
number; ``apply(conn)`` must work on a database at the previous version. Step
1 creates the canonical tables from the Table Schemas *as they are when it
runs*, so a step that adds a column the schemas gained later must be
idempotent - use :func:`add_missing_columns`. When the Table Schemas have a
column the database lacks, opening it fails with a message asking for such a
step rather than failing later at insert time.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from evalkit.errors import StoreError
from evalkit.schemas import TABLE_NAMES
from evalkit.store import _tables as T
from evalkit.store._instrument_codes import measures_instruments_as_codes


@dataclass(frozen=True)
class Migration:
    """One step: its number, what it does, and the function that does it."""

    version: int
    description: str
    apply: Callable[[sa.Connection], None]


def _v1(conn: sa.Connection) -> None:
    T.schema_version.create(conn, checkfirst=True)
    T.uploads.create(conn)
    for name in TABLE_NAMES:
        T.canonical[name].create(conn)


def _v2(conn: sa.Connection) -> None:
    T.quarantine.create(conn)
    T.audit_history.create(conn)


def _v3(conn: sa.Connection) -> None:
    T.store_meta.create(conn)
    # plain DDL: an sa.Index on the shared Table objects would attach itself to them
    conn.exec_driver_sql("CREATE INDEX ix_uploads_provider_status ON uploads (provider, status)")
    conn.exec_driver_sql("CREATE INDEX ix_quarantine_status ON quarantine (status)")


def _v4(conn: sa.Connection) -> None:
    add_missing_columns(conn, T.canonical["participants"])


def _v5(conn: sa.Connection) -> None:
    for name in TABLE_NAMES:  # rows stored before get NULL: compared value by value until next stored
        add_missing_columns(conn, T.canonical[name])


def _v6(conn: sa.Connection) -> None:
    # plain DDL, as in _v3; IF NOT EXISTS: a database created at step 1 by this code already has it
    conn.exec_driver_sql(f"CREATE INDEX IF NOT EXISTS {T.GROUP_SESSION_INDEX} ON contacts (group_session_id) "
                         "WHERE group_session_id IS NOT NULL")


def _v7(conn: sa.Connection) -> None:
    T.upload_programmes.create(conn)
    # earlier uploads: the programmes their stored and quarantined rows name, with counts not known (NULL)
    pairs: set[tuple[int, str]] = set()
    for name in TABLE_NAMES:
        t = T.canonical[name]
        for col in (t.c.upload_id, t.c.created_upload_id):
            pairs |= {(int(u), str(p)) for u, p in conn.execute(sa.select(col, t.c.programme_id).distinct())}
    q = T.quarantine
    for u, row in conn.execute(sa.select(q.c.upload_id, q.c.row_json)):
        p = _programme_in(row)
        if p is not None:
            pairs.add((int(u), str(p)))
    # only the uploader's own programmes (a row naming another provider's programme was quarantined)
    uploader = dict(conn.execute(sa.select(T.uploads.c.upload_id, T.uploads.c.provider)).all())
    prog = T.canonical["programmes"]
    owner = dict(conn.execute(sa.select(prog.c.programme_id, prog.c.provider)).all())
    pairs = {(u, p) for u, p in pairs if owner.get(p) is not None and owner.get(p) == uploader.get(u)}
    # an upload no stored row carries the id of any more (every row unchanged, or updated again later) concerned
    # its provider's programmes as far as can be told: as before this step, those granted one of them see it
    found = {u for u, _ in pairs}
    for u, provider in uploader.items():
        if u not in found:
            pairs |= {(int(u), p) for p, o in owner.items() if o == provider}
    if pairs:
        conn.execute(T.upload_programmes.insert(),
                     [{"upload_id": u, "programme_id": p} for u, p in sorted(pairs)])


def _programme_in(row_json: str | None) -> str | None:
    """The ``programme_id`` of a quarantined row's JSON, if it names one (``None`` for text that is not a JSON
    object: such a row names no programme, and must not stop the database from opening)."""
    try:
        row = json.loads(row_json) if row_json else None
    except ValueError:
        return None
    return row.get("programme_id") if isinstance(row, dict) else None


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "canonical tables generated from the Table Schemas, and the uploads register", _v1),
    Migration(2, "quarantine of invalid rows and audit history of changed rows", _v2),
    Migration(3, "store_meta (pseudonymisation key check) and indexes for upload and quarantine look-ups", _v3),
    Migration(4, "participants: professional_experience and community_views_barrier (take-up contexts)", _v4),
    Migration(5, "row_hash on every canonical table (re-uploads find unchanged rows by key and hash)", _v5),
    Migration(6, "index of contacts by group session (a re-upload's group sessions find their attendance)", _v6),
    Migration(7, "upload_programmes: the programmes each upload concerns, with its counts per programme", _v7),
    Migration(8, "measures: instruments stored as typed become their registry codes; a key they then share "
                 "keeps the row stored later, the other kept in audit_history", measures_instruments_as_codes),
)

CURRENT_VERSION: int = MIGRATIONS[-1].version


def add_missing_columns(conn: sa.Connection, table: sa.Table) -> list[str]:
    """Add the columns of ``table`` (current definition) that the database table lacks; return their names.

    Only nullable columns can be added this way (existing rows get NULL).
    """
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    added = []
    for col in table.columns:
        if col.name in have:
            continue
        if not col.nullable:
            raise StoreError(f"cannot add required column {table.name}.{col.name} to existing rows")
        ddl = col.type.compile(dialect=conn.dialect)
        conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN "{col.name}" {ddl}')
        added.append(col.name)
    return added


def current_version(conn: sa.Connection) -> int:
    """The version a database is at (0 for an empty database)."""
    if not sa.inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(T.schema_version.c.version), 0))).scalar_one())


def migrate(conn: sa.Connection, *, target: int | None = None) -> list[int]:
    """Bring the database on ``conn`` (inside a transaction) to ``target`` (default: current).

    Returns the versions applied. Raises :class:`StoreError` if the database is
    newer than this code.
    """
    target = CURRENT_VERSION if target is None else target
    if target not in {m.version for m in MIGRATIONS}:
        raise ValueError(f"target must be one of {[m.version for m in MIGRATIONS]}; got {target!r}")
    have = current_version(conn)
    if have > CURRENT_VERSION:
        raise StoreError(
            f"the database is at schema version {have}, newer than this evalkit knows (up to {CURRENT_VERSION}). "
            "Upgrade evalkit to use this database; nothing was changed."
        )
    applied = []
    for step in MIGRATIONS:
        if have < step.version <= target:
            step.apply(conn)
            conn.execute(
                T.schema_version.insert().values(
                    version=step.version, description=step.description, applied_at=datetime.now(UTC)
                )
            )
            applied.append(step.version)
    return applied


def check_columns(conn: sa.Connection) -> None:
    """Fail clearly when the Table Schemas have columns the database tables lack."""
    insp = sa.inspect(conn)
    missing = []
    for name in TABLE_NAMES:
        have = {c["name"] for c in insp.get_columns(name)}
        missing += [f"{name}.{c.name}" for c in T.canonical[name].columns if c.name not in have]
    if missing:
        raise StoreError(
            f"the Table Schemas have columns the database lacks ({', '.join(missing)}): "
            "a schema migration step is missing in evalkit/store/_migrations.py"
        )
