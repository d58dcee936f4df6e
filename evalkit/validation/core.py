"""``validate``: raw frames in, a :class:`~evalkit.canonical.ValidationResult` out.

Tables are checked parents first (:data:`evalkit.schemas.TABLE_NAMES`), so a
child row can be checked against the parent rows that passed. Every check is a
boolean mask over whole columns; no Python loop runs per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

import evalkit.memory  # noqa: F401 - Arrow allocates from the C library's malloc (evalkit.memory.use_c_allocator)
from evalkit.canonical import (
    DTYPES,
    PROVENANCE_COLUMNS,
    ValidationResult,
)
from evalkit.memory import release_freed_memory
from evalkit.readers.notes import cell_keys, frame_notes
from evalkit.readers.raw_frame import distinct_categories
from evalkit.schemas import TABLE_NAMES, TableSchema, table_schema
from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import (
    TEXT_DTYPE,
    CellPicker,
    arrow_text,
    category_text,
    clean_cells,
    dictionary_codes,
    encoded_text,
    has_text_categories,
    known_codes,
    large_text,
)
from evalkit.validation.fields import check_fields
from evalkit.validation.keys import check_keys
from evalkit.validation.links import (
    ParentIndex,
    check_child_dates,
    check_foreign_key,
    check_head_counts,
    check_participant_dates,
    check_programme_of_participant,
    note_not_checked,
)
from evalkit.validation.measures import check_measures, item_columns
from evalkit.validation.problems import ProblemLog, TableRows

__all__ = ["validate", "default_instruments"]


def default_instruments() -> Mapping[str, Any] | None:
    """The instrument registry (:func:`evalkit.instruments.load_instruments`), or ``None`` if unavailable.

    Reading and checking every definition file against its JSON Schema takes about 50 ms, so the
    registry is kept between calls while its files are unchanged: the same folders
    (``EVALKIT_INSTRUMENTS_DIR`` included) holding the same ``*.json`` files with the same sizes and
    modification times. Any change, or a folder that cannot be listed, loads the files again.

    Returns
    -------
    Mapping or None
        A new dict of the instruments by code on every call (the instruments themselves are frozen).
    """
    try:
        import evalkit.instruments as registry  # type: ignore[import-not-found]
    except ImportError:
        return None
    key = _registry_key(registry)
    cached = _REGISTRY_CACHE.get("registry")
    if key is not None and cached is not None and cached[0] == key:
        return dict(cached[1])
    loaded = registry.load_instruments()
    if key is not None:
        _REGISTRY_CACHE["registry"] = (key, dict(loaded))
    return loaded


_REGISTRY_CACHE: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {}


def _registry_key(registry: Any) -> tuple[Any, ...] | None:
    """What the registry is read from: the loader, and each definition file's path, size and modification time
    (``None`` when a folder cannot be listed: the files are then always read)."""
    import os

    try:
        folders = registry._folders(())
        files = []
        for folder in folders:
            for path in sorted(folder.glob("*.json")):
                stat = path.stat()
                files.append((str(path), stat.st_size, stat.st_mtime_ns))
    except Exception:  # noqa: BLE001 - load_instruments reports the problem itself
        return None
    return (registry.load_instruments, os.environ.get("EVALKIT_INSTRUMENTS_DIR", ""), tuple(folders), tuple(files))


class _Checked:
    """One table after its checks: raw rows, provenance, cleaned cells and typed values."""

    def __init__(self, schema: TableSchema, frame: pd.DataFrame, rows: TableRows,
                 cells: dict[str, pd.Series], typed: dict[str, np.ndarray], items: list[str]) -> None:
        self.schema, self.frame, self.rows, self.cells, self.typed, self.items = schema, frame, rows, cells, typed, items

    def raw_values(self, column: str) -> np.ndarray | CellPicker:
        """The cleaned cells of ``column``, turned into Python strings only for the rows picked."""
        cells = self.cells.get(column)
        if cells is None:
            return np.full(len(self.frame), None, dtype=object)
        return CellPicker(cells)


def _prepare(name: str, frame: pd.DataFrame, log: ProblemLog
             ) -> tuple[pd.DataFrame, TableRows, dict[str, pd.Series], list[str], dict[str, str], dict[str, np.ndarray]]:
    schema = table_schema(name)
    notes = frame_notes(frame)
    frame = frame.reset_index(drop=True)
    frame.attrs = {}
    frame.columns = [str(c) for c in frame.columns]
    rows = TableRows.from_frame(name, frame, notes["sources"])
    log.add_reader_problems(rows, notes["problems"])
    names = set(schema.field_names)
    items = item_columns(list(frame.columns), schema.item_pattern) if name == "measures" else []
    cells: dict[str, pd.Series] = {}
    for column in frame.columns:
        if column in names or column in items:
            series = frame[column]
            if isinstance(series, pd.DataFrame):  # duplicated column names: first wins
                series = series.iloc[:, 0]
            cleaned = clean_cells(series, schema.missing_values)
            spec = schema.field(column) if column in names else None
            if (isinstance(cleaned.dtype, pd.CategoricalDtype) and spec is not None and spec.type == "string"
                    and spec.codes is None):
                # ids and free text are compared as Arrow text (keys, links): the categories taken by code
                cleaned = encoded_text(cleaned)
            cells[column] = cleaned
        elif column not in PROVENANCE_COLUMNS:
            for g in rows.distinct_groups():
                log.add_file_level(
                    rows, int(g), np.array([], dtype=np.int64), column=column, rule="unknown_column",
                    severity="warning", value=column,
                    message=(f"Column '{column}' is not a column of the {name} table, so it was not stored."),
                )
    return frame, rows, cells, items, dict(notes["date_formats"]), _cell_formats(notes, rows, cells)


def _cell_formats(notes: Mapping[str, Any], rows: TableRows, cells: Mapping[str, pd.Series]
                  ) -> dict[str, np.ndarray]:
    """By date column, per row the format the reader noted for that cell alone (``notes["cell_date_formats"]``,
    matched by file, sheet, row, the row's instrument and time point, and cleaned text), ``None`` where it noted
    none."""
    out: dict[str, np.ndarray] = {}
    for column, by_cell in notes["cell_date_formats"].items():
        if column not in cells or not by_cell:
            continue
        text = cells[column]
        instrument, timepoint = (cells[c].astype(object).to_numpy() if c in cells else ""
                                 for c in ("instrument", "timepoint"))
        keys = cell_keys(np.asarray(rows.group_keys, dtype=object)[rows.group], rows.source_row, instrument,
                         timepoint, pd.Series(text.astype(object).to_numpy(), dtype=object))
        formats = keys.map(by_cell).to_numpy(dtype=object)
        formats[pd.isna(formats) | text.isna().to_numpy()] = None
        out[column] = formats
    return out


def validate(
    raw: Mapping[str, pd.DataFrame],
    *,
    instruments: Mapping[str, Any] | None = None,
    today: dt.date | str | pd.Timestamp | None = None,
    existing: Mapping[str, pd.DataFrame] | None = None,
) -> ValidationResult:
    """Check raw frames against the schemas, and split their rows into valid and set aside.

    Parameters
    ----------
    raw
        Raw frames by table name, as :func:`evalkit.readers.read_file` returns
        them (frames built in memory work too: cells of any type, provenance
        columns optional).
    instruments
        Instrument definitions by code (objects with ``code``, ``n_items``,
        ``item_min``, ``item_max``, ``total_range``). Default: the registry of
        :mod:`evalkit.instruments` when it can be imported; without one, item
        ranges and instrument codes are not checked (a ``not_checked`` warning says so).
    today
        Dates after this are ``future_date`` errors (default: today's date).
    existing
        Already stored canonical tables by name, for links to stored parents
        and ``already_stored`` warnings. ``None`` means "not known": a link to
        a parent table that is not in the upload is then not checked.

    Returns
    -------
    ValidationResult
        ``tables``: the rows without errors, typed (every schema column present;
        extra item columns kept for measures); ``quarantine``: the rows with
        errors as uploaded, with a ``reasons`` column; ``report``: one row per
        problem (:data:`evalkit.canonical.REPORT_COLUMNS`).

    Raises
    ------
    ValueError
        If ``raw`` has a key that is not a table name.

    Notes
    -----
    Rules and where they are implemented: per-field (``required``, ``type``,
    ``ambiguous_date``, ``enum``, ``minimum``, ``maximum``, ``pattern``,
    ``future_date``, and the warnings ``date_order_from_file`` and ``excel_date_number``) in
    :mod:`evalkit.validation.fields`; instruments and items
    (``unknown_instrument``, ``item_type``, ``item_range``, ``total_range``,
    ``no_responses``) in :mod:`evalkit.validation.measures`; keys (``unique``,
    ``primary_key``, ``participant_in_two_programmes``, ``already_stored``) in
    :mod:`evalkit.validation.keys`; links between tables (``foreign_key``,
    ``before_referral``, ``after_ending``, ``head_count_below_named``,
    ``not_checked``) in :mod:`evalkit.validation.links`; reader problems
    (``unknown_column``, ``identifier_column``, ``duplicate_column``,
    ``extra_cells``, ``unknown_sheet``, ``not_read``) come from the readers.
    """
    unknown = [k for k in raw if k not in TABLE_NAMES]
    if unknown:
        raise ValueError(f"raw has unknown table name(s) {unknown}; expected some of {list(TABLE_NAMES)}")
    today_ts = pd.Timestamp(today if today is not None else dt.date.today()).normalize()
    if instruments is None:
        instruments = default_instruments()
    log = ProblemLog()
    checked: dict[str, _Checked] = {}
    parents: dict[str, ParentIndex] = {}

    def stored(name: str) -> pd.DataFrame | None:
        return existing.get(name) if existing is not None else None

    # against stored rows (a re-upload), hand freed heap pages back between steps, as the stored rows sit
    # under every step's peak; a first upload does not (its peak is lower, and each trim costs time)
    release = release_freed_memory if existing is not None and any(len(f) for f in existing.values()) \
        else (lambda: None)

    for name in TABLE_NAMES:
        if name not in raw:
            continue
        schema = table_schema(name)
        frame, rows, cells, items, date_formats, cell_formats = _prepare(name, raw[name], log)
        typed = check_fields(schema, cells, rows, log, date_formats=date_formats, today=today_ts,
                             skip=frozenset(f.name for f in schema.fields if schema.is_item_column(f.name)),
                             cell_formats=cell_formats)
        if name == "measures":
            check_measures(cells, typed, rows, log, items=items, instruments=instruments)
        release()  # what reading the cells freed, before the keys are compared (at 1M, 0.25 GB)
        if name == "participants":
            check_participant_dates(rows, log, typed, {c: _raw(cells, c, len(frame)) for c in schema.field_names
                                                       if schema.field(c).type == "date"})
        check_keys(schema, typed, rows, log, existing=stored(name))
        release()
        for fk in schema.foreign_keys:
            column, parent_table = fk["fields"][0], fk["reference"]["resource"]
            parent_key = fk["reference"]["fields"][0]
            if parent_table not in parents:
                if existing is None or parent_table in raw:
                    note_not_checked(rows, log, column, parent_table)
                    continue
                parents[parent_table] = ParentIndex.build(parent_table, parent_key, None, None, stored(parent_table))
            check_foreign_key(rows, log, typed[column], column=column, parent=parents[parent_table])
        if name in ("contacts", "measures") and "participants" in parents:
            parent = parents["participants"]
            where = parent.locate(typed["participant_id"])
            check_programme_of_participant(rows, log, typed["participant_id"], typed["programme_id"], parent,
                                           where=where)
            date_column = "contact_date" if name == "contacts" else "completed_on"
            check_child_dates(rows, log, typed["participant_id"], typed[date_column], _raw(cells, date_column,
                              len(frame)), column=date_column, parent=parent, after_ending=name == "contacts",
                              where=where)
        checked[name] = _Checked(schema, frame, rows, cells, typed, items)
        release()
        key = schema.primary_key[0]
        if len(schema.primary_key) == 1:
            # a unique key: check_keys above has set aside every row of a repeated one
            parents[name] = ParentIndex.build(name, key, typed, rows, stored(name),
                                              distinct_keys=schema.field(key).unique)

    if "group_sessions" in checked:
        sessions = checked["group_sessions"]
        check_head_counts(sessions.rows, log, sessions.typed["group_session_id"], sessions.typed["head_count"],
                          sessions.raw_values("head_count"), _attendance(checked.get("contacts"), stored("contacts")))
    # the stored rows and the parents' keys are read no more: let them go before the valid tables are built on top
    # (when the caller holds no other reference to them, as :func:`evalkit.ingest.check_upload` does not; the
    # stored rows of a million participants' re-upload are 0.3 GB)
    existing = None
    parents.clear()

    tables: dict[str, pd.DataFrame] = {}
    quarantine: dict[str, pd.DataFrame] = {}
    absent: dict[str, tuple[str, ...]] = {}
    for name, table in checked.items():
        bad = table.rows.error
        absent[name] = tuple(f for f in table.schema.field_names if f not in table.frame.columns)
        tables[name] = _canonical(table, ~bad)
        quarantine[name] = _set_aside(table.frame, bad, {**table.rows.provenance(bad, text=True),
                                                         "reasons": log.reasons(name, np.flatnonzero(bad))})
        table.typed, table.cells = {}, {}  # done with this table: free its typed columns before the next
        # and give the freed blocks back to the system: at a million participants, not for the smaller uploads
        # (below the threshold a trim costs more in the next table's page faults than it saves)
        release_freed_memory()
    return ValidationResult(tables=tables, quarantine=quarantine, report=log.report(), absent_columns=absent)


def _set_aside(frame: pd.DataFrame, bad: np.ndarray, added: Mapping[str, Any]) -> pd.DataFrame:
    """The rows of ``frame`` in ``bad`` as uploaded (categorical cells as their text, ``"str"``), then ``added``
    (columns of as many rows: each replaces the column of its name, or is put at the end), on a new index.

    The frame is built once from its columns: categorical text is taken by code in Arrow for the rows set aside
    (no Python string per row, no pandas conversion per column), the other columns are picked together.
    """
    if not frame.columns.is_unique:  # duplicated names (a hand-built frame): column by column, as pandas does it
        aside = frame.loc[bad].copy()
        for column in aside.columns[[isinstance(t, pd.CategoricalDtype) for t in aside.dtypes]]:
            aside[column] = aside[column].astype("str")  # the cells as read, as text
        for column, values in added.items():
            aside[column] = values
        return aside.reset_index(drop=True)
    dtypes = list(frame.dtypes)
    text = [isinstance(t, pd.CategoricalDtype) for t in dtypes]
    out: dict[str, Any] = {}
    if not bad.any():  # no row set aside (a clean upload): empty columns of the same dtypes, nothing picked
        for column, dtype, is_text in zip(frame.columns, dtypes, text, strict=True):
            out[column] = pd.array([], dtype=TEXT_DTYPE if is_text else dtype)
        out.update(added)
        return pd.DataFrame(out, index=pd.RangeIndex(0), copy=False)
    plain = frame.loc[bad, [c for c, is_text in zip(frame.columns, text, strict=True) if not is_text]]
    plain = plain.reset_index(drop=True)
    for column, is_text in zip(frame.columns, text, strict=True):
        out[column] = _cells_as_text(frame[column], bad) if is_text else plain[column]
    out.update(added)
    return pd.DataFrame(out, index=plain.index, copy=False)


def _cells_as_text(cells: pd.Series, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """The ``rows`` of a categorical column as ``"str"`` (``Series.astype("str")``): Arrow text categories are
    taken by code, other categories converted by pandas."""
    categories = cells.cat.categories
    if is_arrow_text(categories.dtype):
        return pd.array(arrow_text(cells, rows=rows), dtype=TEXT_DTYPE)
    return pd.Series(cells.array[rows]).astype("str").array


def _raw(cells: Mapping[str, pd.Series], column: str, n: int) -> np.ndarray | CellPicker:
    """The cleaned cells of ``column`` for messages (converted only for the rows picked)."""
    series = cells.get(column)
    return CellPicker(series) if series is not None else np.full(n, None, dtype=object)


def _attendance(contacts: _Checked | None, stored: pd.DataFrame | None) -> pd.DataFrame:
    """``group_session_id`` and ``participant_id`` of the attended contacts (upload rows without errors, then
    stored rows) that name a group session.

    With stored contacts, as categoricals of one dictionary of both sides' texts (:func:`_attendance_with_stored`);
    of the upload alone, as categoricals of the codes the ids already have (:func:`_coded_attendance`) or else as
    Arrow text (no Python string per row).
    """
    if stored is not None and {"group_session_id", "participant_id", "status"} <= set(stored.columns):
        return _attendance_with_stored(contacts, stored)
    coded = _coded_attendance(contacts) if contacts is not None else None
    if coded is not None:
        return coded
    if contacts is None:
        return pd.DataFrame(columns=["group_session_id", "participant_id"])
    t = contacts.typed
    ok = ~contacts.rows.error & (pd.Series(t["status"]) == "attended").fillna(False).to_numpy(dtype=bool)
    session = large_text(arrow_text(t["group_session_id"], rows=ok))
    person = large_text(arrow_text(t["participant_id"], rows=ok))
    named = pc.is_valid(session)
    if named.false_count:
        session, person = session.filter(named), person.filter(named)
    return pd.DataFrame({"group_session_id": pd.arrays.ArrowStringArray(pa.chunked_array([session])),
                         "participant_id": pd.arrays.ArrowStringArray(pa.chunked_array([person]))})


_ATTENDANCE_COLUMNS = ("group_session_id", "participant_id")


def _attendance_with_stored(contacts: _Checked | None, stored: pd.DataFrame) -> pd.DataFrame:
    """:func:`_attendance` of the upload's contacts and the stored ones, as categoricals of one dictionary.

    Each side's ids are codes of its own distinct texts (:func:`_attended_codes`: codes the upload's ids have
    already, a stored categorical's codes, or else the column's text dictionary-encoded); the second side's
    distinct texts are looked up among the first's, the new ones added after them (:func:`_one_dictionary`). No
    text is made per row: at a million participants the stored attended contacts' two id columns as text were
    0.7 GB, at the top of a re-upload's validation. Equal texts have equal codes, so the counts of named
    participants (:func:`~evalkit.validation.links.check_head_counts`) are those of the text.
    """
    parts: list[dict[str, tuple[np.ndarray, pa.Array]]] = []
    if contacts is not None:
        t = contacts.typed
        ok = ~contacts.rows.error & (pd.Series(t["status"]) == "attended").fillna(False).to_numpy(dtype=bool)
        parts.append({c: _attended_codes(t[c], ok) for c in _ATTENDANCE_COLUMNS})
    attended = _is_attended(stored["status"])
    parts.append({c: _attended_codes(stored[c], attended) for c in _ATTENDANCE_COLUMNS})
    for part in parts:  # rows that name no session are not attendance of one
        named = part["group_session_id"][0] >= 0
        if not named.all():
            for column, (codes, texts) in part.items():
                part[column] = (codes[named], texts)
    out: dict[str, pd.Categorical] = {}
    for column in _ATTENDANCE_COLUMNS:
        codes, texts = _one_dictionary([part.pop(column) for part in parts])
        dtype = distinct_categories(pd.Index(pd.array(texts, dtype=TEXT_DTYPE)))  # distinct (_one_dictionary)
        out[column] = pd.Categorical.from_codes(codes, dtype=dtype, validate=False)
    return pd.DataFrame(out, copy=False)


def _is_attended(status: pd.Series) -> np.ndarray:
    """Where a stored contact's status is ``attended`` (a categorical's categories compared, not its rows' text)."""
    if has_text_categories(status):  # one flag per category, taken by code (no integer per row)
        flags = pc.fill_null(pc.equal(category_text(status), "attended"), False).to_numpy(zero_copy_only=False)
        return np.append(flags, False).take(status.array.codes)  # code -1 (missing) takes the last, False
    return pc.fill_null(pc.equal(arrow_text(status), "attended"), False).to_numpy(zero_copy_only=False)


def _attended_codes(values: pd.Series | np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """Codes (-1 where missing; integers of the width they are held in) of the ``rows`` of an id column, and the
    distinct texts they point to (``large_string``): the codes the column has already (text made from categories,
    a categorical of Arrow text), or else the column's text dictionary-encoded (by Arrow, chunk by chunk: no copy
    of the rows' text)."""
    known = known_codes(values)
    if known is not None:
        return np.asarray(known[0])[rows], large_text(known[1])
    if has_text_categories(values):
        return values.array.codes[rows], category_text(values)
    codes, texts = dictionary_codes(arrow_text(values, keep_chunks=True))
    return codes[rows], large_text(texts)


def _one_dictionary(parts: list[tuple[np.ndarray, pa.Array]]) -> tuple[np.ndarray, pa.Array]:
    """Codes of several parts (each of its own distinct texts) as codes of one dictionary, one part after another:
    the first part's texts, then each later part's texts not among them (distinct texts stay distinct). The codes
    are ``int32`` (``int64`` beyond its range)."""
    dictionary = parts[0][1]
    tables = [np.arange(len(dictionary), dtype=np.int64)]
    for _, texts in parts[1:]:
        at = pc.fill_null(pc.index_in(texts, value_set=dictionary), -1).to_numpy(zero_copy_only=False).astype(
            np.int64)
        new = at < 0
        at[new] = len(dictionary) + np.arange(int(new.sum()))
        dictionary = pa.concat_arrays([dictionary, texts.filter(pa.array(new))])
        tables.append(at)
    width = np.int32 if len(dictionary) < np.iinfo(np.int32).max else np.int64
    out = np.empty(sum(len(codes) for codes, _ in parts), dtype=width)
    done = 0
    for (codes, _), table in zip(parts, tables, strict=True):
        # code -1 (missing) takes the table's last entry, -1
        out[done : done + len(codes)] = np.append(table, -1).astype(width).take(codes)
        done += len(codes)
    return out, dictionary


def _coded_attendance(contacts: _Checked) -> pd.DataFrame | None:
    """:func:`_attendance` of the upload's contacts alone, as categoricals of the codes their ids already have
    (:func:`~evalkit.validation.cells.known_codes`): no text taken per row, and the counts of named participants
    (:func:`~evalkit.validation.links.check_head_counts`) read the codes instead of encoding the text again.

    ``None`` when either id column has no known codes (the text is then handed on as it is).
    """
    t = contacts.typed
    known = {column: known_codes(t[column]) for column in ("group_session_id", "participant_id")}
    if any(k is None for k in known.values()):
        return None
    session_codes = known["group_session_id"][0]
    ok = ~contacts.rows.error & (pd.Series(t["status"]) == "attended").fillna(False).to_numpy(dtype=bool) \
        & (session_codes >= 0)
    out: dict[str, pd.Categorical] = {}
    for column, (codes, texts) in known.items():
        dtype = distinct_categories(pd.Index(pd.array(texts, dtype=TEXT_DTYPE)))  # distinct texts (encoded_text)
        out[column] = pd.Categorical.from_codes(codes[ok], dtype=dtype, validate=False)
    return pd.DataFrame(out, copy=False)


def _any_present(cells: pd.api.extensions.ExtensionArray) -> bool:
    """Whether any cell is not missing (for Arrow text, read off its null count: no mask per row)."""
    if is_arrow_text(cells.dtype):
        arrow = pa.array(cells)
        return arrow.null_count < len(arrow)
    return bool(pd.notna(cells).any())


def _text_column(values: pd.Series, keep: np.ndarray | None, dtype: str) -> pd.api.extensions.ExtensionArray:
    """Kept rows (``None``: every row) of a categorical or Arrow text column as ``dtype`` (``"string"``),
    through Arrow (the codes or the Arrow array are filtered, not the Series)."""
    return pd.array(arrow_text(values, rows=keep), dtype=dtype)


def _canonical(table: _Checked, keep: np.ndarray) -> pd.DataFrame:
    """The rows in ``keep`` with canonical dtypes (:data:`evalkit.canonical.DTYPES`)."""
    schema = table.schema
    out: dict[str, pd.Series | np.ndarray] = {}
    extra_items = [c for c in table.items if c not in schema.field_names]
    n_keep = int(keep.sum())
    every = n_keep == len(keep)
    scratch: np.ndarray | None = None  # float64 per kept row, reused by every integer column
    for spec in [*schema.fields, *(schema.field(c) for c in extra_items)]:
        dtype = DTYPES[spec.type]
        typed = table.typed.get(spec.name)
        if spec.type == "string" and n_keep and isinstance(typed, pd.Series):
            cells = table.cells.get(spec.name)
            # the cells as read, unless a check put its own reading in their place (the instrument's registry
            # code for 'EPDS' or 'phq-9': stored so, the same questionnaire keeps one key however it is typed)
            if spec.codes is None and cells is not None and typed is cells:
                if every:
                    kept = cells.reset_index(drop=True).array  # a new array: codes known for cells stay theirs
                elif is_arrow_text(cells.dtype):
                    kept = pd.array(arrow_text(cells, rows=keep), dtype=cells.dtype)  # Arrow's filter
                else:
                    kept = cells[keep].array
                if _any_present(kept):
                    # Arrow text as it was read, no Python strings made: only the missing-value marker changes
                    # (pandas' default "str" dtype has NaN; the canonical "string" has pd.NA; no copy is made)
                    out[spec.name] = pd.array(kept, dtype=dtype)
                    continue
            else:
                out[spec.name] = _text_column(typed, None if every else keep, dtype)
                continue
        if isinstance(typed, pd.Series):
            typed = typed.astype(object).where(typed.notna(), None).to_numpy(dtype=object)
        values = np.asarray(typed if typed is not None else np.full(len(keep), np.nan))
        values = values if every else values[keep]
        if spec.type == "integer":
            x = values.astype("float64", copy=False)
            nan = np.isnan(x)
            # rounded, 0 where missing, then int64: one scratch array shared by the columns instead of two
            # temporaries per column
            if scratch is None:
                scratch = np.empty(len(x), dtype=np.float64)
            np.round(x, out=scratch)
            np.copyto(scratch, 0.0, where=nan)
            out[spec.name] = pd.arrays.IntegerArray(scratch.astype(np.int64), nan)
        elif spec.type == "boolean":
            x = values.astype("float64", copy=False)
            nan = np.isnan(x)
            out[spec.name] = pd.arrays.BooleanArray(np.where(nan, False, x != 0), nan)
        elif spec.type == "number":
            out[spec.name] = values.astype("float64", copy=False)
        elif spec.type == "date":
            out[spec.name] = values.astype("datetime64[ns]", copy=False)
        elif spec.codes is None and spec.name in table.cells:
            out[spec.name] = table.cells[spec.name].loc[keep].astype(dtype).to_numpy()
        else:
            codes, uniques = pd.factorize(pd.Series(values, dtype=object))
            out[spec.name] = pd.Categorical.from_codes(codes, categories=uniques).astype(object)
            out[spec.name] = pd.array(np.asarray(out[spec.name], dtype=object), dtype=dtype)
    out.update(table.rows.provenance(keep))
    # copy=False: the columns are not stacked into one block (a copy of every numeric column at once)
    frame = pd.DataFrame(out, copy=False)
    return frame
