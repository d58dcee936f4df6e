"""Collect problems as rows of a report, vectorised, and build the report and quarantine reasons.

Each check hands over *which rows* (positions), the column, the rule, the
severity and the explanation (one text or one per row). The log adds where
the row is as the provider sees it (file, sheet, row number, their header) and
remembers which rows have errors, so the rows can be set aside.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.canonical import REPORT_COLUMNS, SOURCE_FILE, SOURCE_ROW, SOURCE_SHEET, empty_report
from evalkit.column_mapping import normalise_header
from evalkit.readers.raw_frame import distinct_categories, text_categorical
from evalkit.schemas import TABLE_NAMES
from evalkit.text_dtype import is_arrow_text

__all__ = ["ProblemLog", "TableRows", "quoted", "row_list"]


@dataclass
class TableRows:
    """Where the rows of one uploaded table came from, and which of them have errors.

    ``file``, ``sheet``, ``source_row`` and ``group`` are read only: :meth:`from_frame` may give a read-only view
    (one name repeated for every row, or the frame's own ``source_row`` column) instead of a copy per row.
    ``error`` is the one array the checks write to.
    """

    table: str
    file: np.ndarray
    sheet: np.ndarray
    source_row: np.ndarray
    group: np.ndarray
    headers: dict[str, dict[str, str]]
    header_rows: dict[str, int]
    group_keys: list[str]
    error: np.ndarray = field(init=False)
    file_codes: np.ndarray | None = None
    file_names: np.ndarray | None = None
    sheet_codes: np.ndarray | None = None
    sheet_names: np.ndarray | None = None
    group_ids: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.error = np.zeros(len(self.file), dtype=bool)

    def provenance(self, mask: np.ndarray, *, text: bool = False) -> dict[str, pd.api.extensions.ExtensionArray]:
        """``source_file``, ``source_sheet`` (missing for "") and ``source_row`` (Int64) of the rows in ``mask``.

        ``source_file`` and ``source_sheet`` are categoricals whose categories are the names those rows hold
        (canonical ``"string"`` text, one per file / sheet), made from the rows' codes: no name is written out
        per row. With ``text``, they are ``"string"`` columns instead (the form of the quarantined rows).
        """
        if self.file_codes is None or self.sheet_codes is None or self.file_names is None or self.sheet_names is None:
            out = {
                SOURCE_FILE: pd.array(self.file[mask], dtype="string"),
                SOURCE_SHEET: pd.array(np.where(self.sheet[mask] == "", None, self.sheet[mask]), dtype="string"),
                SOURCE_ROW: pd.array(self.source_row[mask], dtype="Int64"),
            }
            return out if text else {c: text_categorical(v, _CATEGORY_TEXT) if c != SOURCE_ROW else v
                                     for c, v in out.items()}
        every = len(mask) == len(self.file) and bool(mask.all())
        source_row = np.asarray(self.source_row if every else self.source_row[mask], dtype=np.int64)
        one_group = self.group_ids is not None and len(self.group_ids) == 1
        files = _named_by_code(self.file_names, self.file_codes, mask, every, one_group, blank_missing=False)
        sheets = _named_by_code(self.sheet_names, self.sheet_codes, mask, every, one_group, blank_missing=True)
        return {
            SOURCE_FILE: files.astype("string") if text else files,
            SOURCE_SHEET: sheets.astype("string") if text else sheets,
            # whole numbers without missing: the masked array made directly (pd.array would test every value)
            SOURCE_ROW: pd.arrays.IntegerArray(source_row.copy() if every else source_row,
                                               np.zeros(len(source_row), dtype=bool)),
        }

    @classmethod
    def from_frame(cls, table: str, frame: pd.DataFrame, sources: dict[str, dict]) -> TableRows:
        """Provenance of ``frame``'s rows (made up for a frame built in memory without it)."""
        n = len(frame)
        file_codes, file_names = _shared_text(frame[SOURCE_FILE] if SOURCE_FILE in frame.columns else None, n,
                                              f"({table} table)")
        sheet_codes, sheet_names = _shared_text(frame[SOURCE_SHEET] if SOURCE_SHEET in frame.columns else None, n, "")
        one_file = bool(n) and file_codes.min() == file_codes.max()
        one_sheet = bool(n) and sheet_codes.min() == sheet_codes.max()
        # a name on every row is one read-only view of it (no array of n references to fill)
        file = np.broadcast_to(file_names[file_codes[:1]], (n,)) if one_file else file_names[file_codes]
        sheet = np.broadcast_to(sheet_names[sheet_codes[:1]], (n,)) if one_sheet else sheet_names[sheet_codes]
        rows = None
        if SOURCE_ROW in frame.columns:
            column = frame[SOURCE_ROW]
            if pd.api.types.is_integer_dtype(column.dtype) and not column.hasnans:
                rows = column.to_numpy(dtype=np.int64)  # whole numbers already: no float copy, no NaN to test
            elif pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_float_dtype(column.dtype):
                rows = column.to_numpy(dtype="float64", na_value=np.nan)
            else:
                rows = pd.to_numeric(column.astype(object), errors="coerce").to_numpy(dtype="float64")
            if rows.dtype.kind == "f" and np.isnan(rows).any():
                rows = None
        source_row = rows.astype(np.int64, copy=False) if rows is not None else np.arange(2, n + 2, dtype=np.int64)
        # a group per (file, sheet) pair, numbered in order of first appearance
        width = len(sheet_names) + 1
        if one_file and one_sheet:
            # one file (and sheet): one group, without hashing (or combining) every row's codes
            group, pairs = np.zeros(n, dtype=np.int64), np.array([int(file_codes[0]) * width + int(sheet_codes[0])])
        else:
            group, pairs = pd.factorize(file_codes.astype(np.int64) * width + sheet_codes)
        group_keys = [f"{file_names[p // (len(sheet_names) + 1)]}|{sheet_names[p % (len(sheet_names) + 1)]}"
                      for p in np.asarray(pairs)]
        headers = {k: dict(v.get("headers", {})) for k, v in sources.items()}
        header_rows = {k: int(v.get("header_row", 1)) for k, v in sources.items()}
        out = cls(table, file, sheet, source_row, np.asarray(group, dtype=np.int64), headers, header_rows, group_keys)
        out.file_codes, out.file_names, out.sheet_codes, out.sheet_names = file_codes, file_names, sheet_codes, \
            sheet_names
        out.group_ids = np.arange(len(group_keys), dtype=np.int64)  # factorize numbers the groups 0, 1, ...
        return out

    def distinct_groups(self) -> np.ndarray:
        """The group numbers present, ascending (as ``np.unique(self.group)``; known without a pass over the rows
        when the groups were numbered by :meth:`from_frame`, which gives every group at least one row)."""
        if self.group_ids is not None:
            return self.group_ids
        return np.unique(self.group)

    def header_row(self, group: int) -> int:
        """Row of the header of one file (and sheet)."""
        return self.header_rows.get(self.group_keys[group], 1)

    def shown_column(self, column: str, groups: np.ndarray) -> np.ndarray:
        """How to name ``column`` in a message for rows of ``groups``: ``'Client ID' (participant_id)``."""
        out = np.empty(len(groups), dtype=object)
        for g in np.unique(groups):
            written = self.headers.get(self.group_keys[g], {}).get(column)
            if written and normalise_header(written) != normalise_header(column):
                out[groups == g] = f"'{written}' ({column})"
            else:
                out[groups == g] = f"'{column}'"
        return out


class _Pending:
    """One :meth:`ProblemLog.add`, its messages made later together with every other add's."""

    __slots__ = ("rows", "positions", "column", "rule", "detail", "values", "severity", "message")

    def __init__(self, rows: TableRows, positions: np.ndarray, column: str, rule: str, detail: np.ndarray,
                 values: np.ndarray, severity: str) -> None:
        self.rows, self.positions, self.column, self.rule = rows, positions, column, rule
        self.detail, self.values, self.severity = detail, values, severity
        self.message: np.ndarray | None = None


class ProblemLog:
    """Problems of every table, kept as they are added until the report is built.

    :meth:`add` only records which rows, the column, the rule and the explanation (and marks error rows);
    the messages of all adds are written together when the report or the reasons are first asked for, with
    one string operation over every problem instead of one per check.
    """

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame | _Pending] = []
        self._reasons: dict[str, list[tuple[np.ndarray, np.ndarray | _Pending]]] = {}

    def add(
        self,
        rows: TableRows,
        positions: np.ndarray,
        *,
        column: str,
        rule: str,
        detail: str | np.ndarray | pd.Series,
        values: np.ndarray | pd.Series | None = None,
        severity: str = "error",
    ) -> None:
        """Report one problem for each row in ``positions``.

        ``detail`` says what was found and what was expected; the message gets
        ``Row N, column 'X': `` in front of it.
        """
        positions = np.asarray(positions)
        if positions.dtype == bool:
            positions = np.flatnonzero(positions)
        if len(positions) == 0:
            return
        detail_arr = np.asarray(detail, dtype=object) if not isinstance(detail, str) else np.full(
            len(positions), detail, dtype=object)
        shown_values = (np.full(len(positions), "", dtype=object) if values is None
                        else np.asarray(values, dtype=object))
        pending = _Pending(rows, positions, column, rule, detail_arr, shown_values, severity)
        self._parts.append(pending)
        if severity == "error":
            rows.error[positions] = True
            self._reasons.setdefault(rows.table, []).append((positions, pending))

    def _write_messages(self) -> None:
        """Write the messages and shown values of every add not written yet, all in one go."""
        todo = [p for p in self._parts if isinstance(p, _Pending) and p.message is None]
        if not todo:
            return
        source_row = np.concatenate([p.rows.source_row[p.positions] for p in todo])
        shown = np.concatenate([p.rows.shown_column(p.column, p.rows.group[p.positions]) for p in todo])
        detail = np.concatenate([p.detail for p in todo])
        values = np.concatenate([p.values for p in todo])
        prefix = "Row " + pd.Series(source_row).astype(str) + ", column " + pd.Series(shown) + ": "
        message = (prefix + pd.Series(detail, dtype=object).astype(str)).to_numpy(dtype=object)
        values = pd.Series(values).fillna("").astype(str).to_numpy(dtype=object)
        start = 0
        for p in todo:
            end = start + len(p.positions)
            p.message, p.values = message[start:end], values[start:end]
            start = end

    def add_file_level(
        self, rows: TableRows, group: int, positions: np.ndarray, *, column: str, rule: str, message: str,
        severity: str = "error", value: str = "",
    ) -> None:
        """One report row about a whole file (e.g. a missing column), at its header row.

        Every row in ``positions`` gets ``message`` as its reason (and is set aside for an error).
        """
        file_, sheet = rows.group_keys[group].split("|", 1)
        self._parts.append(pd.DataFrame({
            "file": [file_], "sheet": [sheet], "table": [rows.table], "source_row": [rows.header_row(group)],
            "column": [column], "value": [value], "rule": [rule], "message": [message], "severity": [severity],
        }))
        positions = np.asarray(positions)
        if severity == "error" and len(positions):
            rows.error[positions] = True
            self._reasons.setdefault(rows.table, []).append((positions, np.full(len(positions), message,
                                                                                 dtype=object)))

    def add_reader_problems(self, rows: TableRows, problems: list[dict]) -> None:
        """Reader problems (from the frame's notes); errors on data rows set those rows aside."""
        if not problems:
            return
        frame = pd.DataFrame(problems, columns=list(REPORT_COLUMNS))
        self._parts.append(frame)
        errors = frame[frame["severity"] == "error"]
        if errors.empty:
            return
        keys = pd.Series(rows.file, dtype=object) + "|" + pd.Series(rows.sheet, dtype=object) + "|" + \
            pd.Series(rows.source_row).astype(str)
        err_keys = errors["file"].astype(str) + "|" + errors["sheet"].fillna("").astype(str) + "|" + \
            errors["source_row"].astype(str)
        lookup = pd.Series(errors["message"].to_numpy(), index=err_keys.to_numpy())
        hit = keys.isin(lookup.index).to_numpy()
        if hit.any():
            positions = np.flatnonzero(hit)
            rows.error[positions] = True
            reason = lookup.groupby(level=0).agg("; ".join)
            self._reasons.setdefault(rows.table, []).append(
                (positions, reason.reindex(keys[hit].to_numpy()).to_numpy()))

    def reasons(self, table: str, positions: np.ndarray) -> np.ndarray:
        """The error messages of each row in ``positions``, joined with ``; ``."""
        parts = self._reasons.get(table)
        if not parts or len(positions) == 0:
            return np.full(len(positions), "", dtype=object)
        self._write_messages()
        rows = np.concatenate([where for where, _ in parts])
        texts = np.concatenate([np.asarray(text.message if isinstance(text, _Pending) else text, dtype=object)
                                for _, text in parts])
        frame = pd.DataFrame({"_row": rows, "reason": texts}).drop_duplicates()
        frame = frame.iloc[np.argsort(frame["_row"].to_numpy(), kind="stable")]  # a row's reasons in their order
        row = frame["_row"].to_numpy()
        many = np.r_[row[1:] == row[:-1], False] | np.r_[False, row[1:] == row[:-1]]
        joined = pd.Series(frame["reason"].to_numpy(dtype=object)[~many], index=row[~many])  # one reason: as is
        if many.any():  # two or more: joined with "; " (few rows)
            joined = pd.concat([joined, frame[many].groupby("_row", sort=False)["reason"].agg("; ".join)])
        return joined.reindex(positions).fillna("").to_numpy(dtype=object)

    def report(self) -> pd.DataFrame:
        """Every problem, one row each, in a stable order (table, file, sheet, row, column, rule)."""
        if not self._parts:
            return empty_report()
        self._write_messages()
        columns: dict[str, list[np.ndarray]] = {c: [] for c in REPORT_COLUMNS}
        for part in self._parts:
            if isinstance(part, _Pending):
                p, n = part.positions, len(part.positions)
                got = {"file": part.rows.file[p], "sheet": part.rows.sheet[p], "source_row": part.rows.source_row[p],
                       "value": part.values, "message": part.message}
                for c in REPORT_COLUMNS:
                    columns[c].append(np.asarray(got[c], dtype=object) if c in got else np.full(
                        n, {"table": part.rows.table, "column": part.column, "rule": part.rule,
                            "severity": part.severity}[c], dtype=object))
            elif len(part):
                for c in REPORT_COLUMNS:
                    columns[c].append(part[c].to_numpy(dtype=object) if c in part.columns
                                      else np.full(len(part), np.nan, dtype=object))
        if not columns["file"]:
            return empty_report()
        frame = pd.DataFrame({c: np.concatenate(v) for c, v in columns.items()})
        for column in REPORT_COLUMNS:
            if column != "source_row":
                frame[column] = frame[column].fillna("").astype(str)
        frame["source_row"] = pd.to_numeric(frame["source_row"], errors="coerce").fillna(0).astype("int64")
        order = {t: i for i, t in enumerate(TABLE_NAMES)}
        frame["_t"] = frame["table"].map(order).fillna(len(order))
        frame = frame.sort_values(["_t", "file", "sheet", "source_row", "column", "rule", "message"],
                                  kind="stable").drop(columns="_t").drop_duplicates()
        frame = frame.reset_index(drop=True)
        out = pd.DataFrame({c: frame[c].astype("Int64" if c == "source_row" else "string") for c in REPORT_COLUMNS})
        return out


_CATEGORY_TEXT = pd.StringDtype("pyarrow")
"""The categories' dtype of the valid tables' provenance: the canonical ``"string"``, so that
``astype(categories.dtype)`` gives the column as it was before it was held as a categorical."""

_COUNT_BLOCK = 1 << 20
"""Rows of codes counted at a time by :func:`_codes_in_use` (its ``bincount`` widens each block to 8 bytes a code)."""


def _codes_in_use(codes: np.ndarray, k: int) -> np.ndarray:
    """Which of the codes ``0..k-1`` some row of ``codes`` holds (counted a block of rows at a time)."""
    seen = np.zeros(k, dtype=bool)
    for start in range(0, len(codes), _COUNT_BLOCK):
        seen |= np.bincount(codes[start:start + _COUNT_BLOCK], minlength=k).astype(bool)
    return seen


def _named_by_code(names: np.ndarray, codes: np.ndarray, mask: np.ndarray, every: bool, one_group: bool, *,
                   blank_missing: bool) -> pd.Categorical:
    """``names[codes]`` of the rows in ``mask`` as a categorical of text (:data:`_CATEGORY_TEXT`) whose categories
    are the distinct names those rows hold (an empty name missing with ``blank_missing``), in the order of the
    names; its codes taken from ``codes``, never a name per row.

    ``one_group``: every row has the same code (one file and sheet), known without a look at the rows.
    """
    n = int(len(mask) if every else np.count_nonzero(mask))
    texts = [str(t) for t in names]
    if one_group or n == 0:
        picked = None
        used = np.zeros(len(names), dtype=bool)
        if n:
            used[int(codes[0])] = True
    else:
        picked = codes if every else codes[mask]
        used = _codes_in_use(picked, len(names))
    categories: dict[str, int] = {}
    new_of_old = np.full(len(names), -1, dtype=np.int64)
    for i in np.flatnonzero(used):
        if not (blank_missing and texts[i] == ""):
            new_of_old[i] = categories.setdefault(texts[i], len(categories))
    dtype = distinct_categories(pd.Index(pd.array(list(categories), dtype=_CATEGORY_TEXT)))
    code_type = np.int8 if len(categories) < 127 else np.int16 if len(categories) < 32_767 else np.int32
    if picked is None:  # one name (or none) on every row: zeroed codes take no memory until read
        code = int(new_of_old[int(codes[0])]) if n else -1
        values = np.zeros(n, dtype=code_type) if code == 0 else np.full(n, code, dtype=code_type)
    else:
        values = new_of_old.astype(code_type).take(picked)
    return pd.Categorical.from_codes(values, dtype=dtype, validate=False)


def _one_text(values: pa.Array) -> bool:
    """Whether every cell of a ``large_string`` array (offset 0) is the same non-missing text (Arrow compares
    each cell with the first: no hashing of the rows, one bit per row for the answer)."""
    n = len(values)
    if n == 0 or values.null_count or values.offset or not pa.types.is_large_string(values.type):
        return False
    return bool(pc.all(pc.equal(values, values[0])).as_py())


def _shared_text(column: pd.Series | None, n: int, fill: str) -> tuple[np.ndarray, np.ndarray]:
    """Codes and distinct texts of a provenance column (missing -> ``fill``): rows share one string object each.

    A categorical (as the readers give ``source_file`` and ``source_sheet``) is read from its codes and
    categories: its codes are the rows' codes (missing -> the last name, ``fill``), no text per row is read.
    """
    if column is None:
        return np.zeros(n, dtype=np.int64), np.array([fill], dtype=object)
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories
        names = np.array([*(str(c) for c in categories), fill], dtype=object)
        if len(categories) == 0:  # missing throughout (a CSV file's sheet): ``fill`` on every row, zeroed codes
            return np.zeros(n, dtype=np.int64), names
        codes = column.cat.codes.to_numpy()
        if n and codes.min() < 0:
            codes = np.where(codes < 0, len(categories), codes).astype(np.int64)
        return codes, names
    if is_arrow_text(column.dtype):
        # Arrow's dictionary encoding (codes in order of first appearance, as pd.factorize): no Python string per row
        values = pa.array(column.array)
        values = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if values.null_count == len(values):  # missing throughout (a CSV file's sheet): ``fill`` on every row
            return np.zeros(n, dtype=np.int64), np.array([fill], dtype=object)
        if _one_text(values):  # one file's name on every row: code 0 throughout
            return np.zeros(n, dtype=np.int64), np.array([values[0].as_py(), fill], dtype=object)
        encoded = pc.dictionary_encode(values)
        names = np.array([*encoded.dictionary.to_pylist(), fill], dtype=object)
        codes = pc.fill_null(encoded.indices, len(names) - 1).to_numpy(zero_copy_only=False).astype(np.int64)
        return codes, names
    codes, uniques = pd.factorize(column.astype("str"), use_na_sentinel=True)
    names = np.array([str(u) for u in uniques] + [fill], dtype=object)
    return np.where(codes < 0, len(uniques), codes).astype(np.int64), names


def row_list(source_rows: np.ndarray, limit: int = 5) -> str:
    """``2, 5, 9`` (and how many more)."""
    shown = ", ".join(str(int(r)) for r in source_rows[:limit])
    more = len(source_rows) - limit
    return shown + (f" and {more} more" if more > 0 else "")




QUOTED_CHARACTERS = 60
"""Longest cell value a message quotes whole; a longer one is cut there and ends with "…"."""


def quoted(values: np.ndarray) -> np.ndarray:
    """Cell values in quotes for a message: ``'HV2'``; a value over :data:`QUOTED_CHARACTERS` is cut short."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    text = pd.Series(values, dtype=object).fillna("").astype(str)
    long = text.str.len().to_numpy() > QUOTED_CHARACTERS
    if long.any():
        text = text.where(~long, text.str.slice(0, QUOTED_CHARACTERS) + "…")
    return ("'" + text + "'").to_numpy(dtype=object)
