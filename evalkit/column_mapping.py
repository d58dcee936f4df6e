"""A provider's saved column mapping: how their spreadsheet's words map to evalkit's.

A small charity names its columns and codes its values in its own way
("Client ID", "HV", dates written 03/04/2025). A :class:`ColumnMapping` records
those choices once so every later upload is read the same way. It is plain
JSON so it can be kept next to the spreadsheet and edited by hand::

    {
      "kind": "columns",
      "table": "participants",
      "columns": {"Client ID": "participant_id", "Date referred": "referral_date", "Notes": null},
      "values": {"referral_source": {"HV": "health_visitor", "MW": "midwife"}},
      "date_formats": {"referral_date": "DD/MM/YYYY"},
      "constants": {"programme_id": "P-GROUP"},
      "sheets": {"Mums 2025": "participants"}
    }

``null`` as a column target means "this column is deliberately not read" (no
``unknown_column`` warning). Headers and value synonyms are matched ignoring
case, spaces and punctuation.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["PUNCTUATION_RUNS", "ColumnMapping", "normalise_header", "normalise_value", "strftime_format"]

_KNOWN_KEYS = frozenset({"kind", "table", "columns", "values", "date_formats", "constants", "sheets", "description"})

_DATE_TOKENS = (("YYYY", "%Y"), ("YY", "%y"), ("MM", "%m"), ("DD", "%d"), ("M", "%m"), ("D", "%d"))


def normalise_header(text: str) -> str:
    """Fold a header for matching: accents removed, lower case, only letters and digits kept.

    ``"Mum's ID"`` and ``"mums_id"`` both become ``"mumsid"``.
    """
    decomposed = unicodedata.normalize("NFKD", str(text))
    ascii_ish = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return re.sub(r"[\W_]+", "", ascii_ish.casefold())


PUNCTUATION_RUNS = r"[\W_]+"
"""A run of punctuation, spaces or underscores: one space in a cell value folded by :func:`normalise_value` (and by
the vectorised folds of whole columns, which use this same pattern)."""


def normalise_value(text: str) -> str:
    """Fold a cell value for matching codes and labels: lower case, punctuation runs become one space."""
    return re.sub(PUNCTUATION_RUNS, " ", str(text).casefold()).strip()


def strftime_format(date_format: str) -> str:
    """Turn a date format as a person writes it (``DD/MM/YYYY``) into a ``strftime`` format.

    A format that already contains ``%`` is returned unchanged.

    Raises
    ------
    ValueError
        If the format does not contain a day, a month and a year.
    """
    if "%" in date_format:
        out = date_format
    else:
        out, rest = "", date_format.upper()
        while rest:
            for token, code in _DATE_TOKENS:
                if rest.startswith(token):
                    out, rest = out + code, rest[len(token):]
                    break
            else:
                if rest[0].isalpha():
                    raise ValueError(
                        f"date format {date_format!r}: unknown letter {rest[0]!r}; "
                        "use DD for day, MM for month and YYYY (or YY) for year, e.g. DD/MM/YYYY"
                    )
                out, rest = out + rest[0], rest[1:]
    if not all(code in out for code in ("%d", "%m")) or not ("%Y" in out or "%y" in out):
        raise ValueError(
            f"date format {date_format!r} must have a day, a month and a year (e.g. DD/MM/YYYY or YYYY-MM-DD)"
        )
    return out


def _str_dict(raw: Any, what: str, *, allow_none: bool = False) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"column mapping: {what!r} must be an object of name: value pairs; got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None and allow_none:
            out[str(key)] = None
        elif isinstance(value, (str, int, float)) and not isinstance(value, bool):
            out[str(key)] = str(value)
        else:
            raise ValueError(f"column mapping: {what}[{key!r}] must be text; got {value!r}")
    return out


def _check_targets(columns: Mapping[str, str | None], table: str | None) -> None:
    """Refuse a mapping file naming a table, or a column target, that no evalkit table has.

    A mistyped target ("programme") would otherwise be passed over when the file is read: the column
    reported as one to name in the mapping, which it is. The nearest column names are suggested.
    """
    import difflib

    from evalkit.schemas import TABLE_NAMES, table_schema

    if table is not None and table not in TABLE_NAMES:
        raise ValueError(f"column mapping: 'table' is {table!r}; expected one of {', '.join(TABLE_NAMES)}")
    schemas = [table_schema(t) for t in TABLE_NAMES]
    known = sorted({name for schema in schemas for name in schema.field_names})
    for header, target in columns.items():
        if target is None or target in known or any(schema.is_item_column(target) for schema in schemas):
            continue
        near = difflib.get_close_matches(target, known, n=2, cutoff=0.6)
        hint = f"; did you mean {' or '.join(repr(n) for n in near)}?" if near else (
            "; expected a column name such as participant_id or referral_date, or null to leave it out")
        raise ValueError(f"column mapping: columns[{header!r}] is {target!r}, which is not a column of any "
                         f"evalkit table{hint}")


@dataclass(frozen=True)
class ColumnMapping:
    """How one provider's files map to the canonical tables.

    Attributes
    ----------
    columns
        Header as written in the provider's file -> canonical column name, or
        ``None`` to skip that column on purpose.
    values
        Canonical column -> {provider's value -> canonical code}, e.g.
        ``{"referral_source": {"HV": "health_visitor"}}``.
    date_formats
        Canonical date column -> the format the provider writes dates in
        (``"DD/MM/YYYY"``, ``"MM/DD/YYYY"`` or a ``strftime`` format). Stating it
        removes ``ambiguous_date`` problems for that column.
    constants
        Canonical column -> value given to every row (e.g. a ``programme_id``
        for a file that holds one programme only).
    table
        Table every file read with this mapping holds, if fixed.
    sheets
        Worksheet name -> table, for workbooks whose sheet names are not table names.
    """

    columns: Mapping[str, str | None] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    date_formats: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    table: str | None = None
    sheets: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for column, fmt in self.date_formats.items():
            try:
                strftime_format(fmt)
            except ValueError as exc:
                raise ValueError(f"column mapping: date_formats[{column!r}]: {exc}") from None

    # -- lookups -----------------------------------------------------------------
    def column_for(self, header: str) -> tuple[bool, str | None]:
        """Look up a header: ``(found, canonical name or None)``; matching ignores case and punctuation."""
        key = normalise_header(header)
        for written, target in self.columns.items():
            if normalise_header(written) == key:
                return True, target
        return False, None

    def value_synonyms(self, column: str) -> dict[str, str]:
        """The provider's value synonyms for ``column``, keyed by :func:`normalise_value`."""
        return {normalise_value(k): v for k, v in self.values.get(column, {}).items()}

    def strftime_formats(self) -> dict[str, str]:
        """Stated date formats as ``strftime`` formats, by canonical column."""
        return {column: strftime_format(fmt) for column, fmt in self.date_formats.items()}

    def table_for_sheet(self, sheet: str) -> str | None:
        """Table named for ``sheet`` in :attr:`sheets`, if any (case and punctuation ignored)."""
        key = normalise_header(sheet)
        for name, table in self.sheets.items():
            if normalise_header(name) == key:
                return table
        return None

    # -- JSON round trip -----------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The mapping as a JSON-ready dict (the file format described in the module docstring)."""
        out: dict[str, Any] = {"kind": "columns"}
        if self.table:
            out["table"] = self.table
        out["columns"] = dict(self.columns)
        out["values"] = {k: dict(v) for k, v in self.values.items()}
        out["date_formats"] = dict(self.date_formats)
        out["constants"] = dict(self.constants)
        if self.sheets:
            out["sheets"] = dict(self.sheets)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ColumnMapping:
        """Build a mapping from its dict form.

        Raises
        ------
        ValueError
            If a key is unknown or a value has the wrong shape (the message names it).
        """
        if not isinstance(raw, Mapping):
            raise ValueError(f"a column mapping must be a JSON object; got {type(raw).__name__}")
        unknown = sorted(set(raw) - _KNOWN_KEYS)
        if unknown:
            raise ValueError(
                f"column mapping: unknown key(s) {unknown}; allowed keys are {sorted(_KNOWN_KEYS)}"
            )
        kind = raw.get("kind", "columns")
        if kind != "columns":
            raise ValueError(f"column mapping: 'kind' must be 'columns'; got {kind!r}")
        values_raw = raw.get("values") or {}
        if not isinstance(values_raw, Mapping):
            raise ValueError("column mapping: 'values' must be an object of column: {value: code}")
        table = raw.get("table")
        if table is not None and not isinstance(table, str):
            raise ValueError(f"column mapping: 'table' must be a table name; got {table!r}")
        columns = _str_dict(raw.get("columns"), "columns", allow_none=True)
        _check_targets(columns, table)
        return cls(
            columns=columns,
            values={str(col): _str_dict(syn, f"values[{col!r}]") for col, syn in values_raw.items()},
            date_formats=_str_dict(raw.get("date_formats"), "date_formats"),
            constants=_str_dict(raw.get("constants"), "constants"),
            table=table,
            sheets=_str_dict(raw.get("sheets"), "sheets"),
        )

    def to_json(self, path: str | Path) -> None:
        """Save the mapping as a JSON file (UTF-8, indented, stable key order)."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def from_json(cls, path: str | Path) -> ColumnMapping:
        """Read a mapping saved by :meth:`to_json` (or written by hand).

        Raises
        ------
        ValueError
            If the file is not valid JSON or not a column mapping (the message names the file).
        """
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read column mapping {path.name}: {exc}") from None
        try:
            return cls.from_dict(raw)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None
