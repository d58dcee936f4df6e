"""Decide which canonical table a file (or sheet) holds.

Order (first that answers wins):

1. the ``table=`` argument (or the mapping's ``table``);
2. the sheet name, then the file stem (``measures.csv``, a ``Participants`` sheet),
   through the table aliases in ``aliases.json``;
3. the headers: the table whose columns the headers match best, if it is a
   clear winner (it has more matched columns than any other table and at
   least one of them is a column only that table has).

Otherwise :class:`~evalkit.errors.InputFileError` says what was tried and how to
name the table.
"""

from __future__ import annotations

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.readers.headers import match_headers, table_for_name
from evalkit.schemas import TABLE_NAMES, table_schema

__all__ = ["HEADER_SCAN_ROWS", "check_table_name", "detect_table", "find_header_row", "header_overlap",
           "names_columns", "rows_above_header"]


def check_table_name(table: str) -> str:
    """Return ``table`` if it is a canonical table name, else raise a ``ValueError`` listing them."""
    if table not in TABLE_NAMES:
        raise ValueError(f"table must be one of {', '.join(TABLE_NAMES)}; got {table!r}")
    return table


def header_overlap(headers: list[str], mapping: ColumnMapping | None = None) -> dict[str, set[str]]:
    """Canonical columns each table would take from ``headers``."""
    return {
        t: {m.column for m in match_headers(headers, t, mapping) if m.kind == "column" and m.column}
        for t in TABLE_NAMES
    }


HEADER_SCAN_ROWS = 10
"""Rows (not blank) from the top of a file or sheet in which :func:`find_header_row` looks for the header."""


_HEADER_NAMES = 2
"""Columns of one table a first row must name to be the header whatever rows follow it."""


def names_columns(cells: list[str], mapping: ColumnMapping | None = None) -> bool:
    """Whether ``cells``, read as the first row, are the header whatever rows follow them.

    That is when they name two or more columns of one table: :func:`find_header_row` then gives 0 without
    looking at later rows, so a reader need not turn those rows into text to ask it.

    Parameters
    ----------
    cells
        The first row that is not blank, as text.
    mapping
        The provider's column mapping.
    """
    return _known(cells, mapping) >= _HEADER_NAMES


def _known(cells: list[str], mapping: ColumnMapping | None) -> int:
    """Most canonical columns one table takes from ``cells`` read as a header."""
    return max(len(columns) for columns in header_overlap(cells, mapping).values())


def find_header_row(rows: list[list[str]], mapping: ColumnMapping | None = None) -> int:
    """Which of a file's first rows that are not blank is its header: 0 unless the first is a title.

    The first row is the header when two or more of its cells name columns of one table (through the
    aliases or ``mapping``). Otherwise (a title such as "Participants referred, Q1 2025", or group words over
    the header) the header is the first later row among ``rows`` in which at least two cells, and more
    than in the first row, name columns of one table; if there is none the first row stays the header (the
    columns it lacks are then reported by validation).

    Parameters
    ----------
    rows
        The cells of the first :data:`HEADER_SCAN_ROWS` (or fewer) rows that are not blank, as text.
    mapping
        The provider's column mapping.

    Returns
    -------
    int
        Position in ``rows`` of the header.
    """
    if not rows:
        return 0
    first = _known(rows[0], mapping)
    if first >= _HEADER_NAMES:
        return 0
    for position, cells in enumerate(rows[1:HEADER_SCAN_ROWS], start=1):
        known = _known(cells, mapping)
        if known >= 2 and known > first:
            return position
    return 0


def rows_above_header(above: list[tuple[int, list[str]]], header_row: int) -> str:
    """The warning for rows above the header that were not read: their numbers and the start of their text.

    Parameters
    ----------
    above
        ``(row number, cells)`` of each row above the header that is not blank.
    header_row
        The header's row number.
    """
    numbers = [n for n, _ in above]
    texts = [" ".join(c.strip() for c in cells if c.strip()) for _, cells in above]
    shown = "; ".join(f"'{t[:60]}{'…' if len(t) > 60 else ''}'" for t in texts[:3])
    span = f"Row {numbers[0]}" if len(numbers) == 1 else f"Rows {numbers[0]}-{numbers[-1]}"
    verb = "is" if len(numbers) == 1 else "are"
    return (f"{span} ({shown}) {verb} above the header on row {header_row}, which is the first row naming two or "
            f"more columns evalkit knows, and {'was' if len(numbers) == 1 else 'were'} not read. If "
            f"{'it holds' if len(numbers) == 1 else 'they hold'} data, put the header on the first row.")


def _distinctive(table: str) -> set[str]:
    others: set[str] = set()
    for t in TABLE_NAMES:
        if t != table:
            others |= set(table_schema(t).field_names)
    own = set(table_schema(table).field_names)
    return own - others


def _clear_winner(overlap: dict[str, set[str]]) -> str | None:
    """The table the headers fit best, if it matches more columns than any other and one only it has."""
    ranked = sorted(TABLE_NAMES, key=lambda t: len(overlap[t]), reverse=True)
    best, second = ranked[0], ranked[1]
    if overlap[best] and len(overlap[best]) > len(overlap[second]) and overlap[best] & _distinctive(best):
        return best
    return None


def _check_named(named: str, name: str, headers: list[str], overlap: dict[str, set[str]], file_label: str) -> None:
    """Refuse a file whose name says one table while its columns are clearly another's.

    Participants data saved as ``contacts.csv`` would otherwise be read as contacts and every row set
    aside for missing contact columns; the file is refused whole instead, saying what it looks like.
    """
    winner = _clear_winner(overlap)
    if winner is None or winner == named or overlap[named] & _distinctive(named):
        return
    shown = ", ".join(repr(h) for h in headers[:8] if h)
    raise InputFileError(
        f"the name '{name}' says it holds the {named} table, but its columns ({shown}) are those of the "
        f"{winner} table, and none is a column only the {named} table has. Name the file or sheet after the "
        f"table it holds (e.g. '{winner}.csv') or choose the table (--table {winner}).",
        file=file_label,
    )


def detect_table(
    headers: list[str],
    *,
    file_label: str,
    names: tuple[str | None, ...] = (),
    table: str | None = None,
    mapping: ColumnMapping | None = None,
) -> str:
    """Which table ``headers`` belong to.

    Parameters
    ----------
    headers
        The header row as written.
    file_label
        How to name the file (and sheet) in a message.
    names
        Sheet name and file stem, tried in order.
    table
        An explicit choice; checked to match at least one column.
    mapping
        The provider's mapping (its ``table`` counts as an explicit choice).

    Raises
    ------
    InputFileError
        If no table can be told, or an explicit table matches none of the headers.
    """
    explicit = table or (mapping.table if mapping is not None else None)
    overlap = header_overlap(headers, mapping)
    if explicit:
        check_table_name(explicit)
        if headers and not overlap[explicit]:
            best = max(TABLE_NAMES, key=lambda t: len(overlap[t]))
            hint = f" Its columns look like the {best} table." if overlap[best] else ""
            raise InputFileError(
                f"none of the columns ({', '.join(repr(h) for h in headers[:8] if h)}) match the "
                f"{explicit} table, which expects columns such as {', '.join(table_schema(explicit).required)}.{hint} "
                "Check the table chosen for this file.",
                file=file_label,
            )
        return explicit
    for name in names:
        if name:
            named = table_for_name(name)
            if named:
                _check_named(named, name, headers, overlap, file_label)
                return named
    ranked = sorted(TABLE_NAMES, key=lambda t: len(overlap[t]), reverse=True)
    best = ranked[0]
    if _clear_winner(overlap) == best:
        return best
    if overlap[best]:
        tied = [t for t in ranked if len(overlap[t]) == len(overlap[best])]
        reason = f"its columns fit {' and '.join(tied)} equally well" if len(tied) > 1 else (
            f"its columns ({', '.join(sorted(overlap[best]))}) are not enough to tell"
        )
    else:
        reason = "none of its columns is a column evalkit knows"
    raise InputFileError(
        f"cannot tell which table this file holds: {reason}. Name the file or sheet after the table "
        f"({', '.join(TABLE_NAMES)}), e.g. 'participants.csv', or choose the table (--table).",
        file=file_label,
    )
