"""Database tables, generated from the Table Schemas plus evalkit's own bookkeeping tables.

Canonical tables (``programmes``, ``participants``, ``group_sessions``,
``contacts``, ``measures``) get one column per schema field, typed from the
schema, a unique constraint on the natural key (the schema's ``primaryKey``),
the schema's foreign keys, and internal columns:

=================== ===========================================================
``row_id``          surrogate primary key (never shown to users)
``upload_id``       upload that last set the row
``created_upload_id`` upload that first inserted the row
``source_file``, ``source_sheet``, ``source_row``  provenance of the stored value
``row_hash``        64-bit hash of the row's data values (re-uploads find unchanged
                    rows by it; ``NULL`` = not known, compare the values)
=================== ===========================================================
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from evalkit.canonical import PROVENANCE_COLUMNS
from evalkit.schemas import TABLE_NAMES, TableSchema, table_schema

ROW_ID: Final = "row_id"
UPLOAD_ID: Final = "upload_id"
CREATED_UPLOAD_ID: Final = "created_upload_id"
ROW_HASH: Final = "row_hash"
INTERNAL_COLUMNS: Final = (ROW_ID, UPLOAD_ID, CREATED_UPLOAD_ID, ROW_HASH)
GROUP_SESSION_INDEX: Final = "ix_contacts_group_session_id"
"""Partial index of the contacts that name a group session (others have none)."""
"""Bookkeeping columns of canonical tables that readers never see."""

_SA_TYPES: Final = {
    "string": sa.Text,
    "integer": sa.BigInteger,
    "number": sa.Double,
    "date": sa.Date,
    "boolean": sa.Boolean,
}

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

metadata = sa.MetaData()

schema_version = sa.Table(
    "schema_version",
    metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)

uploads = sa.Table(
    "uploads",
    metadata,
    sa.Column("upload_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("provider", sa.Text, nullable=False),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("user_name", sa.Text),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rows_accepted", sa.Integer, nullable=False, default=0),
    sa.Column("rows_inserted", sa.Integer, nullable=False, default=0),
    sa.Column("rows_updated", sa.Integer, nullable=False, default=0),
    sa.Column("rows_unchanged", sa.Integer, nullable=False, default=0),
    sa.Column("rows_quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("rows_resolved", sa.Integer, nullable=False, default=0),
    sa.Column("resubmits_upload_id", sa.BigInteger),
    sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
)

UPLOAD_COUNTS: Final = ("rows_accepted", "rows_inserted", "rows_updated", "rows_unchanged", "rows_quarantined",
                        "rows_resolved")
"""The row counts of an upload, kept in total (``uploads``) and per programme (``upload_programmes``)."""

upload_programmes = sa.Table(
    "upload_programmes",
    metadata,
    sa.Column("upload_id", sa.BigInteger, sa.ForeignKey("uploads.upload_id"), primary_key=True),
    sa.Column("programme_id", sa.Text, primary_key=True),
    # NULL: not known (uploads stored before the counts were kept per programme)
    *[sa.Column(c, sa.Integer) for c in UPLOAD_COUNTS],
)
"""The programmes an upload's rows concern, with the upload's counts for each (rows with no programme id are
counted in ``uploads`` only), so that a user granted some programmes sees only their part of an upload."""


def _canonical_table(schema: TableSchema) -> sa.Table:
    cols: list[sa.SchemaItem] = [sa.Column(ROW_ID, _ID, primary_key=True, autoincrement=True)]
    for f in schema.fields:
        cols.append(sa.Column(f.name, _SA_TYPES[f.type](), nullable=not f.required))
    cols += [
        sa.Column(UPLOAD_ID, sa.BigInteger, sa.ForeignKey("uploads.upload_id"), nullable=False, index=True),
        sa.Column(CREATED_UPLOAD_ID, sa.BigInteger, sa.ForeignKey("uploads.upload_id"), nullable=False,
                  index=True),
        sa.Column(PROVENANCE_COLUMNS[0], sa.Text),
        sa.Column(PROVENANCE_COLUMNS[1], sa.Text),
        sa.Column(PROVENANCE_COLUMNS[2], sa.BigInteger),
        sa.Column(ROW_HASH, sa.BigInteger),
        sa.UniqueConstraint(*schema.primary_key, name=f"uq_{schema.name}_natural_key"),
    ]
    for fk in schema.foreign_keys:
        ref = fk["reference"]
        cols.append(
            sa.ForeignKeyConstraint(
                list(fk["fields"]),
                [f"{ref['resource']}.{c}" for c in ref["fields"]],
                name=f"fk_{schema.name}_{'_'.join(fk['fields'])}",
            )
        )
    if "programme_id" in schema.field_names and schema.name != "programmes":
        cols.append(sa.Index(f"ix_{schema.name}_programme_id", "programme_id"))
    if schema.name == "contacts":  # a re-upload's group sessions find their stored attendance by it
        cols.append(sa.Index(GROUP_SESSION_INDEX, "group_session_id",
                             sqlite_where=sa.text("group_session_id IS NOT NULL"),
                             postgresql_where=sa.text("group_session_id IS NOT NULL")))
    return sa.Table(schema.name, metadata, *cols)


canonical: dict[str, sa.Table] = {name: _canonical_table(table_schema(name)) for name in TABLE_NAMES}

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("quarantine_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("upload_id", sa.BigInteger, sa.ForeignKey("uploads.upload_id"), nullable=False, index=True),
    sa.Column("table_name", sa.Text, nullable=False),
    sa.Column("source_file", sa.Text),
    sa.Column("source_sheet", sa.Text),
    sa.Column("source_row", sa.BigInteger),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("row_json", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("resolved_upload_id", sa.BigInteger, sa.ForeignKey("uploads.upload_id")),
)

audit_history = sa.Table(
    "audit_history",
    metadata,
    sa.Column("audit_id", _ID, primary_key=True, autoincrement=True),
    sa.Column("table_name", sa.Text, nullable=False),
    sa.Column("row_id", sa.BigInteger, nullable=False),
    sa.Column("row_key", sa.Text, nullable=False),
    sa.Column("old_row", sa.Text, nullable=False),
    sa.Column("new_upload_id", sa.BigInteger, sa.ForeignKey("uploads.upload_id"), nullable=False, index=True),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
)

store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
