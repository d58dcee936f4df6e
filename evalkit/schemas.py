"""The shared data contract: Frictionless Table Schemas in ``schemas/tables/``.

Library, CLI and dashboard all read the tables' columns, types, codes and keys
from these files; nothing here hard-codes a column list.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from evalkit._resources import resource_dir
from evalkit.errors import SchemaError

TABLE_NAMES: tuple[str, ...] = ("programmes", "participants", "group_sessions", "contacts", "measures")
"""Canonical tables, in the order they must be loaded (parents before children)."""

FieldType = Literal["string", "integer", "number", "date", "boolean"]


@dataclass(frozen=True)
class FieldSpec:
    """One column of a canonical table, as its Table Schema describes it."""

    name: str
    type: FieldType
    description: str
    required: bool = False
    unique: bool = False
    codes: Mapping[str, str] | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    example: str = ""


@dataclass(frozen=True)
class TableSchema:
    """A canonical table: its fields, primary key and foreign keys."""

    name: str
    description: str
    fields: tuple[FieldSpec, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[Mapping[str, Any], ...] = ()
    missing_values: tuple[str, ...] = ("",)
    item_pattern: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def field_names(self) -> list[str]:
        """Column names in schema order."""
        return [f.name for f in self.fields]

    @property
    def required(self) -> list[str]:
        """Names of the columns that must be present and non-blank."""
        return [f.name for f in self.fields if f.required]

    def field(self, name: str) -> FieldSpec:
        """Return the field called ``name`` (item columns beyond the listed ones included)."""
        for f in self.fields:
            if f.name == name:
                return f
        if self.item_pattern and re.fullmatch(self.item_pattern, name):
            return FieldSpec(name=name, type="number", description=f"Keyed score of {name.replace('_', ' ')}.")
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    def is_item_column(self, name: str) -> bool:
        """Whether ``name`` is an item column (``item_1``, ``item_2``, ...)."""
        return bool(self.item_pattern and re.fullmatch(self.item_pattern, name))


def _parse_field(raw: Mapping[str, Any], table: str) -> FieldSpec:
    try:
        cons = raw.get("constraints", {})
        return FieldSpec(
            name=raw["name"],
            type=raw["type"],
            description=raw.get("description", ""),
            required=bool(cons.get("required", False)),
            unique=bool(cons.get("unique", False)),
            codes=MappingProxyType(dict(raw["x-codes"])) if "x-codes" in raw else (
                MappingProxyType({c: c for c in cons["enum"]}) if "enum" in cons else None
            ),
            minimum=cons.get("minimum"),
            maximum=cons.get("maximum"),
            pattern=cons.get("pattern"),
            true_values=tuple(raw.get("trueValues", ())),
            false_values=tuple(raw.get("falseValues", ())),
            example=str(raw.get("x-example", "")),
        )
    except (KeyError, TypeError) as exc:
        raise SchemaError(f"table schema {table!r}: malformed field {raw!r} ({exc})") from exc


def read_table_schema(path: str | Path) -> TableSchema:
    """Read one Frictionless Table Schema file into a :class:`TableSchema`."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise SchemaError(f"cannot read table schema {path}: {exc}") from exc
    name = raw.get("name", path.stem)
    item_cols = raw.get("x-itemColumns", {})
    return TableSchema(
        name=name,
        description=raw.get("description", ""),
        fields=tuple(_parse_field(f, name) for f in raw.get("fields", [])),
        primary_key=tuple(raw.get("primaryKey", ()) if isinstance(raw.get("primaryKey"), list) else [raw["primaryKey"]]),
        foreign_keys=tuple(raw.get("foreignKeys", ())),
        missing_values=tuple(raw.get("missingValues", ("",))),
        item_pattern=item_cols.get("pattern"),
        raw=MappingProxyType(raw),
    )


@cache
def table_schemas() -> Mapping[str, TableSchema]:
    """All canonical table schemas, keyed by table name, in load order."""
    folder = resource_dir("schemas") / "tables"
    found = {p.stem: read_table_schema(p) for p in sorted(folder.glob("*.json"))}
    missing = [t for t in TABLE_NAMES if t not in found]
    if missing:
        raise SchemaError(f"schemas/tables is missing {missing} (found {sorted(found)})")
    return MappingProxyType({t: found[t] for t in TABLE_NAMES})


def table_schema(name: str) -> TableSchema:
    """Return the schema of one canonical table.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`TABLE_NAMES`.
    """
    if name not in TABLE_NAMES:
        raise ValueError(f"table must be one of {list(TABLE_NAMES)}; got {name!r}")
    return table_schemas()[name]
