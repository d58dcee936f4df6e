"""Match a provider's headers to canonical column names.

The words come from ``aliases.json`` beside this module (data, not code), the
provider's own :class:`~evalkit.column_mapping.ColumnMapping`, and the table
schemas. A header resolves, in this order, to:

1. the column the provider's mapping names for it (or "skip on purpose");
2. a canonical column of the table (``participant_id``, ``Participant ID``);
3. an alias of a column for this table only (``Date`` -> ``contact_date`` in contacts);
4. an alias of a column of this table (``Client ID`` -> ``participant_id``);
5. an item column, for measures (``Q3``, ``EPDS 3``, ``item 3`` -> ``item_3``);
6. otherwise it is an identifying column (names, addresses, NHS numbers:
   rule ``identifier_column``) or an unknown one (rule ``unknown_column``),
   reported as a warning and never stored.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

from evalkit.column_mapping import ColumnMapping, normalise_header, normalise_value
from evalkit.schemas import TABLE_NAMES, table_schema

__all__ = ["HeaderMatch", "aliases", "column_letter", "match_headers", "table_for_name", "builtin_value_synonyms"]

HeaderKind = Literal["column", "skipped", "identifier", "unknown", "duplicate", "blank"]


@cache
def aliases() -> dict[str, Any]:
    """The alias data in ``aliases.json`` (read once)."""
    return json.loads((Path(__file__).with_name("aliases.json")).read_text(encoding="utf-8"))


@cache
def _column_lookup(table: str) -> dict[str, str]:
    """Normalised header -> canonical column for ``table`` (rules 2-4 above)."""
    schema = table_schema(table)
    names = set(schema.field_names)
    data = aliases()
    lookup: dict[str, str] = {}
    for column, words in data["columns"].items():
        if column in names:
            for word in words:
                lookup.setdefault(normalise_header(word), column)
    for column, words in data["table_columns"].get(table, {}).items():
        for word in words:
            lookup[normalise_header(word)] = column
    for column in names:
        lookup[normalise_header(column)] = column
    return lookup


@cache
def _item_patterns() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in aliases()["item_patterns"])


@cache
def _identifier_words() -> frozenset[str]:
    """The normalised exact-match identifier headers (folded once, not per header)."""
    return frozenset(normalise_header(w) for w in aliases()["identifier_columns"]["exact"])


def _is_identifier(key: str) -> bool:
    if key in _identifier_words():
        return True
    return any(part in key for part in aliases()["identifier_columns"]["contains"])


def builtin_value_synonyms(column: str) -> dict[str, str]:
    """Value synonyms evalkit knows for ``column`` (e.g. ``DNA`` -> ``did_not_attend``), keyed normalised."""
    return {normalise_value(k): v for k, v in aliases()["value_synonyms"].get(column, {}).items()}


def column_letter(position: int) -> str:
    """Spreadsheet letter of a 0-based column position (0 -> A, 26 -> AA)."""
    letters = ""
    n = position + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@dataclass(frozen=True)
class HeaderMatch:
    """What one header of a provider's file was matched to."""

    position: int
    header: str
    kind: HeaderKind
    column: str | None = None


def _match_one(header: str, table: str, mapping: ColumnMapping | None) -> tuple[HeaderKind, str | None]:
    if not header.strip():
        return "blank", None
    if mapping is not None:
        found, target = mapping.column_for(header)
        if found:
            if target is None:
                return "skipped", None
            schema = table_schema(table)
            if target in schema.field_names or schema.is_item_column(target):
                return "column", target
            # a mapping written for another table of the same upload: fall through to the aliases
    return _match_words(header, table)


@lru_cache(maxsize=4096)
def _match_words(header: str, table: str) -> tuple[HeaderKind, str | None]:
    """What ``header`` (not blank) names in ``table`` through the schema and ``aliases.json`` (rules 2-6 above).

    Kept for headers seen before: a file's headers are matched against every table to find its table, then
    again for its own (the words are data read once, so the answer never changes).
    """
    key = normalise_header(header)
    column = _column_lookup(table).get(key)
    if column is not None:
        return "column", column
    if table == "measures":
        folded = re.sub(r"\s+", " ", header.strip().casefold())
        for pattern in _item_patterns():
            m = pattern.match(folded)
            if m:
                return "column", f"item_{int(m.group(1))}"
    if _is_identifier(key):
        return "identifier", None
    return "unknown", None


def match_headers(headers: list[str], table: str, mapping: ColumnMapping | None = None) -> list[HeaderMatch]:
    """Match every header of one file to a canonical column of ``table``.

    A second header that maps to a column already taken is ``duplicate`` (the
    first one wins).
    """
    taken: set[str] = set()
    out: list[HeaderMatch] = []
    for position, header in enumerate(headers):
        kind, column = _match_one(header, table, mapping)
        if kind == "column" and column in taken:
            kind = "duplicate"
        if kind == "column" and column is not None:
            taken.add(column)
        out.append(HeaderMatch(position, header, kind, column))
    return out


def table_for_name(name: str) -> str | None:
    """Table named by a sheet name or file stem (``Participants``, ``mums_2025``, ``measures``), if clear.

    The whole name is tried first; then each word of it. ``None`` when no table
    or more than one table is named.
    """
    key = normalise_header(name)
    if not key:
        return None
    words = {t: {normalise_header(w) for w in [t, *aliases()["tables"].get(t, [])]} for t in TABLE_NAMES}
    exact = [t for t in TABLE_NAMES if key in words[t]]
    if len(exact) == 1:
        return exact[0]
    tokens = {normalise_header(tok) for tok in re.split(r"[\W_]+", name) if tok}
    # also try adjacent word pairs ("group sessions", "drop ins")
    parts = [tok for tok in re.split(r"[\W_]+", name) if tok]
    tokens |= {normalise_header(a + b) for a, b in zip(parts, parts[1:], strict=False)}
    hits = [t for t in TABLE_NAMES if tokens & words[t]]
    if "group_sessions" in hits and "contacts" in hits and normalise_header("groupsessions") in tokens:
        hits.remove("contacts")
    return hits[0] if len(hits) == 1 else None
