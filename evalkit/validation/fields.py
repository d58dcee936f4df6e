"""Per-field checks from the Table Schema, one boolean mask per rule over a whole column.

==========  ==========================================================================
rule        what it checks (severity error unless stated)
==========  ==========================================================================
required    ``constraints.required``: the cell is not blank (a column missing from a
            whole file, or blank in every row of it, is one report row at its header)
type        the cell reads as the field's ``type``: integer (a whole number), number
            (finite), date (:mod:`evalkit.validation.dates`), boolean (the schema's
            ``trueValues``/``falseValues``, case ignored)
ambiguous_date  a date that reads as two different dates (``03/04/2025``) in a column
            where nothing shows the day/month order
date_order_from_file  (warning) such a date read in the order the file's other date
            columns show (``15/02/2026`` in ``referral_date``)
excel_date_number  (warning) numbers in a date column read as Excel date numbers
            (``45720`` as 2025-03-04; ``45720.5`` too, its time of day dropped): one
            report row per column and file, listing them
enum        the cell is one of the codes (``x-codes``/``enum``) or a code's label,
            ignoring case and punctuation; it is stored as the code
minimum / maximum  ``constraints.minimum`` / ``maximum``
pattern     ``constraints.pattern`` (whole-cell match)
future_date a date after ``today``
==========  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.schemas import FieldSpec, TableSchema
from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import (
    CellPicker,
    distinct_numbers,
    full_match,
    parse_booleans,
    parse_codes,
    spread,
    text_series,
)
from evalkit.validation.dates import (
    EXCEL_SERIAL_RANGE,
    DateReading,
    date_order_votes,
    describe_date,
    excel_serial_dates,
    format_to_state,
    not_a_date,
    not_in_stated_format,
    read_dates,
    wrong_weekday,
)
from evalkit.validation.problems import ProblemLog, TableRows, quoted

__all__ = ["check_fields", "codes_text"]


def codes_text(spec: FieldSpec) -> str:
    """The allowed codes of a field for a message: ``self, midwife, health visitor (health_visitor), ...``."""
    return ", ".join(f"{code.replace('_', ' ')} ({code})" if "_" in code else code for code in (spec.codes or {}))


def _fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _missing_column_summary(
    name: str, spec: FieldSpec, cells: pd.Series, present: bool, rows: TableRows, log: ProblemLog,
    missing: np.ndarray | None = None,
) -> np.ndarray:
    """Report a required column absent from a file (or blank in all its rows) once; return the rows covered."""
    covered = np.zeros(len(cells), dtype=bool)
    if missing is None:
        missing = cells.isna().to_numpy()
    groups = rows.distinct_groups()
    if present and len(groups) == 1 and not (len(cells) >= 2 and missing.all()):
        return covered  # one file, the column there and not blank throughout: nothing to report
    for g in groups:
        in_group = rows.group == g
        n_group = int(in_group.sum())
        if present and not (n_group >= 2 and missing[in_group].all()):
            continue
        file_, sheet = rows.group_keys[g].split("|", 1)
        where = f"'{file_}'" + (f", sheet '{sheet}'" if sheet else "")
        state = "is missing from" if not present else "is blank in every row of"
        log.add_file_level(
            rows, g, np.flatnonzero(in_group), column=name, rule="required",
            message=(f"Column '{name}' {state} {where}, but the {rows.table} table requires it "
                     f"(for example '{spec.example}'). All {n_group} row(s) were set aside; add the column "
                     "(or name it in your column mapping) and upload again."),
        )
        covered |= in_group
    return covered


def _read_in_file_order(
    schema: TableSchema, cells: Mapping[str, pd.Series], rows: TableRows, name: str, column: pd.Series,
    date_formats: Mapping[str, str], reading: DateReading, row_formats: np.ndarray | None = None,
) -> tuple[DateReading, np.ndarray, dict[int, str]]:
    """Re-read a date column whose own values leave some dates ambiguous, in the order the same file's other
    date columns decide (``referral_date`` holding 15/02/2026 shows the file writes day/month).

    Only called when a column has ambiguous cells, so the other columns are parsed again only then. Returns
    the new reading, the order used on each row (1 day/month, -1 month/day, 0 none: files checked together may
    differ) and, for each order, the columns that decided it ("column 'a'" or "columns 'a', 'b'"), for the
    warning. ``row_formats``: the formats stated for single cells (:func:`read_dates`), which keep them.
    """
    groups = rows.group
    others = {f"'{other.name}'": cells[other.name] for other in schema.fields
              if other.type == "date" and other.name != name and other.name in cells and other.name not in date_formats}
    votes, said = date_order_votes(others, groups)
    deciding = {o: ("column " if len(names) == 1 else "columns ") + ", ".join(names) for o, names in said.items()}
    if not votes.any():
        return reading, votes, deciding
    return read_dates(column, groups, None, votes, row_formats=row_formats), votes, deciding


def _refusal_detail(stated: str | None) -> str:
    """What a date cell refused is told after its value: the format stated for it, or what a date looks like."""
    if stated:
        return " " + not_in_stated_format(stated) + "."
    return " " + not_a_date() + "."


def _refusal_details(stated: str | None, row_formats: np.ndarray | None, bad: np.ndarray) -> str | np.ndarray:
    """:func:`_refusal_detail` of each refused cell: its own stated format where it has one (``row_formats``),
    else the column's (worked out once per format)."""
    if row_formats is None:
        return _refusal_detail(stated)
    codes, formats = pd.factorize(pd.Series(row_formats[bad], dtype=object).fillna(stated or ""))
    return np.array([_refusal_detail(f) for f in formats], dtype=object)[codes] if len(codes) else \
        np.zeros(0, dtype=object)


EXCEL_NUMBERS_LISTED = 10
"""How many cells an ``excel_date_number`` warning lists (row, number and date) before "and N more"."""


def _date_refusals(refused: np.ndarray, detail: str | np.ndarray) -> np.ndarray:
    """The message of each cell refused as a date: its ``detail`` after it, or, for a date whose weekday is not its
    own (``Mon, 3 Feb 2024``), what is wrong (worked out once per distinct cell).

    ``detail`` is one text for every cell, or one per cell of ``refused`` (:func:`_refusal_details`: each cell's
    own stated format, where the reader noted one for it)."""
    shown = quoted(refused)
    if not len(refused):
        return shown
    codes, distinct = pd.factorize(pd.Series(refused, dtype=object))
    why = wrong_weekday(pd.Series(distinct, dtype=object))[codes]
    return np.where(pd.isna(why), shown + detail, shown + ": " + why.astype(str)
                    + "; expected the date and its weekday to agree (or the date alone).").astype(object)


_TIME_FRACTION = r"\.\d*[1-9]"
"""An Excel date number with a time of day: a fraction that is not zero (``45720.5``; ``45720.0`` has none)."""


def _report_excel_numbers(rows: TableRows, log: ProblemLog, name: str, serial: np.ndarray, dates: np.ndarray,
                          values: CellPicker) -> None:
    """One ``excel_date_number`` warning per file (and sheet) for the cells of a date column read as Excel date
    numbers: which rows, the number and the date it was read as (``row 2: 45720 read as 2025-03-04``)."""
    low, high = describe_date(excel_serial_dates(pd.Series([str(n) for n in EXCEL_SERIAL_RANGE]))).to_numpy()
    for g in np.unique(rows.group[serial]):
        at = np.flatnonzero(serial & (rows.group == g))
        shown = at[:EXCEL_NUMBERS_LISTED]
        picked = np.zeros(len(serial), dtype=bool)
        picked[shown] = True
        numbers = pd.Series(values[picked], dtype=object).astype(str).to_numpy()
        iso = pd.Series(dates[shown]).dt.strftime("%Y-%m-%d").to_numpy()
        timed = pd.Series(numbers, dtype=object).str.contains(_TIME_FRACTION, regex=True).to_numpy(dtype=bool)
        any_timed = bool(pd.Series(values[serial & (rows.group == g)], dtype=object).astype(str)
                         .str.contains(_TIME_FRACTION, regex=True).any())
        listed = "; ".join(f"row {int(r)}: {v} read as {d}" + (" (time of day dropped)" if t else "")
                           for r, v, d, t in zip(rows.source_row[shown], numbers, iso, timed, strict=True))
        more = len(at) - len(shown)
        where = rows.shown_column(name, np.array([g]))[0]
        cells = f"{len(at)} cell{'s' if len(at) != 1 else ''}"
        log.add_file_level(
            rows, int(g), at, column=name, rule="excel_date_number", severity="warning", value=str(numbers[0]),
            message=(f"Column {where}: {cells} held {'a number' if any_timed else 'a whole number'} where a date "
                     f"was expected and {'were' if len(at) != 1 else 'was'} read as Excel's number for a date (a "
                     "date cell shows this number when its date formatting is lost; numbers from "
                     f"{EXCEL_SERIAL_RANGE[0]} to {EXCEL_SERIAL_RANGE[1]} are read, {low} to {high}"
                     + ("; a number with a fraction is a date and time, of which only the date is kept"
                        if any_timed else "")
                     + f"): {listed}"
                     + (f"; and {more} more" if more > 0 else "")
                     + ". If these are not the dates meant, correct them (or format the column as dates) and "
                     "upload again."))


def check_fields(
    schema: TableSchema,
    cells: Mapping[str, pd.Series],
    rows: TableRows,
    log: ProblemLog,
    *,
    date_formats: Mapping[str, str],
    today: pd.Timestamp,
    skip: frozenset[str] = frozenset(),
    cell_formats: Mapping[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Check every schema field of one table and return its typed values.

    Parameters
    ----------
    schema
        The table's schema.
    cells
        Cleaned cells by column (absent columns are all-missing).
    rows
        Provenance and error flags of the rows.
    log
        Where problems go.
    date_formats
        Date formats stated in the provider's mapping, by column.
    today
        Dates after this are ``future_date`` errors.
    skip
        Columns checked elsewhere (measures items).
    cell_formats
        By date column, per row the format stated for that cell alone (``None``: the column's), as a reader
        notes it for a column whose cells come from columns stating different formats
        (:func:`~evalkit.validation.dates.read_dates`'s ``row_formats``).

    Returns
    -------
    dict
        Column -> typed values (float64 for integer/number/boolean with NaN for
        missing or invalid; datetime64 for dates; for text, a pandas Series: a
        categorical of the codes for coded fields, else the cleaned Arrow-backed cells).
    """
    typed: dict[str, np.ndarray] = {}
    n = len(rows.file)
    for spec in schema.fields:
        name = spec.name
        if name in skip:
            continue
        present = name in cells
        # an absent column is all missing: Arrow nulls (one bitmap), not a Python list of n missing values
        column = cells[name] if present else text_series(pa.nulls(n, type=pa.large_string()))
        missing = _missing_cells(column)
        values = CellPicker(column)
        if spec.required:
            covered = _missing_column_summary(name, spec, column, present, rows, log, missing)
            blank = missing & ~covered
            example = f" (for example '{spec.example}')" if spec.example else ""
            log.add(rows, blank, column=name, rule="required",
                    detail=f"is blank, but every {rows.table} row needs a {name}{example}.", values=values[blank])
        if not present:
            typed[name] = _empty_typed(spec, n)
            continue
        if spec.type in ("integer", "number"):
            # the rules are checked on the distinct cells' numbers (a new array: the numbers that fail a rule are
            # blanked in place), then spread to the rows: a row fails where its distinct cell does
            row_codes, x = distinct_numbers(column)
            bad_distinct = np.isnan(x)
            if spec.type == "integer":
                fractional = ~np.isnan(x) & ((np.floor(x) != x) | (np.abs(x) > 2**53))
                bad_distinct |= fractional
                x[fractional] = np.nan
                kind = "a whole number"
            else:
                kind = "a number"
            bad = _on_rows(bad_distinct, row_codes)
            example = spec.example or "3"
            log.add(rows, bad, column=name, rule="type",
                    detail=quoted(values[bad])
                    + f" is not {kind}; expected {kind} such as {example}.", values=values[bad])
            for bound, rule, compare in ((spec.minimum, "minimum", np.less), (spec.maximum, "maximum", np.greater)):
                if bound is None:
                    continue
                with np.errstate(invalid="ignore"):
                    out_distinct = ~np.isnan(x) & compare(x, bound)
                if not out_distinct.any():  # no distinct cell out of bounds, so no row: no message to build
                    continue
                out = _on_rows(out_distinct, row_codes)
                span = (f"from {_fmt_number(spec.minimum)} to {_fmt_number(spec.maximum)}"
                        if spec.minimum is not None and spec.maximum is not None
                        else f"at {'least' if rule == 'minimum' else 'most'} {_fmt_number(bound)}")
                word = "below the minimum" if rule == "minimum" else "above the maximum"
                log.add(rows, out, column=name, rule=rule,
                        detail=pd.Series(values[out], dtype=object).astype(str).to_numpy(dtype=object)
                        + f" is {word} {_fmt_number(bound)}; expected a value {span}.", values=values[out])
                x[out_distinct] = np.nan
            typed[name] = spread(x, row_codes, np.nan, np.float64).astype("float64", copy=False)
        elif spec.type == "boolean":
            x = parse_booleans(column, spec.true_values, spec.false_values)
            bad = ~missing & np.isnan(x)
            log.add(rows, bad, column=name, rule="type",
                    detail=quoted(values[bad])
                    + " is not a yes/no answer; expected yes or no (also accepted: y/n, true/false, 1/0).",
                    values=values[bad])
            typed[name] = x
        elif spec.type == "date":
            groups = rows.group
            stated = date_formats.get(name)
            row_formats = cell_formats.get(name) if cell_formats else None
            reading = read_dates(column, groups, stated, row_formats=row_formats)
            votes: np.ndarray | None = None
            deciding: dict[int, str] = {}
            if not stated and reading.ambiguous.any():
                reading, votes, deciding = _read_in_file_order(schema, cells, rows, name, column, date_formats,
                                                               reading, row_formats)
            bad = reading.bad
            refused = values[bad]
            log.add(rows, bad, column=name, rule="type",
                    detail=_date_refusals(refused, _refusal_details(stated, row_formats, bad)), values=refused)
            amb = reading.ambiguous
            if amb.any():
                first = describe_date(reading.first_reading[amb]).to_numpy(dtype=object)
                second = describe_date(reading.second_reading[amb]).to_numpy(dtype=object)
                iso_first = pd.Series(reading.first_reading[amb]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
                shown = quoted(values[amb])
                log.add(rows, amb, column=name, rule="ambiguous_date",
                        detail=shown + " could be " + first + " (day/month) or " + second
                        + " (month/day), and no other date in this column shows which; write it as an ISO "
                        "date (e.g. " + iso_first + ") or " + format_to_state(column) + ".", values=values[amb])
            hinted = reading.by_file_order
            if hinted is not None and hinted.any() and votes is not None:
                read_as = describe_date(reading.values[hinted]).to_numpy(dtype=object)
                day_first = votes[hinted] == 1  # each row in its own file's order
                log.add(rows, hinted, column=name, rule="date_order_from_file", severity="warning",
                        detail=quoted(values[hinted]) + " could be read either way; it was read as " + read_as
                        + np.where(day_first, " (day/month), like the dates in " + deciding[1],
                                   " (month/day), like the dates in " + deciding[-1]).astype(object)
                        + " of this file. If that is wrong, write it as an ISO date (YYYY-MM-DD).",
                        values=values[hinted])
            if reading.excel_serial is not None:
                _report_excel_numbers(rows, log, name, reading.excel_serial, reading.values, values)
            x = reading.values
            future = ~np.isnat(x) & (x > np.datetime64(today.normalize().to_datetime64(), "ns"))
            if future.any():
                iso = pd.Series(x[future]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
                log.add(rows, future, column=name, rule="future_date",
                        detail=quoted(values[future])
                        + " (" + iso + f") is after today ({today:%Y-%m-%d}); expected a date that has "
                        "happened. Check the year and the day/month order.", values=values[future])
                x = np.where(future, np.datetime64("NaT"), x)
            typed[name] = x
        else:
            if spec.codes:
                codes = parse_codes(column, spec.codes)
                bad = ~missing & (codes.array.codes < 0)  # not a code: -1 (read off the codes, no isna)
                log.add(rows, bad, column=name, rule="enum",
                        detail=quoted(values[bad])
                        + f" is not an allowed code; expected one of: {codes_text(spec)}.", values=values[bad])
                typed[name] = codes
            else:
                typed[name] = column  # Arrow-backed text, never converted to Python strings
            if spec.pattern:
                ok = full_match(column, spec.pattern)
                bad = ~missing & ~ok
                example = f" (for example '{spec.example}')" if spec.example else ""
                log.add(rows, bad, column=name, rule="pattern",
                        detail=quoted(values[bad])
                        + f" is not in the expected form: {spec.description.rstrip('.')}{example}.",
                        values=values[bad])
    return typed


def _on_rows(distinct: np.ndarray, row_codes: np.ndarray) -> np.ndarray:
    """A mask over distinct cells as a mask over the rows (false where missing; no gather when it is false for all)."""
    if not distinct.any():
        return np.zeros(len(row_codes), dtype=bool)
    return spread(distinct, row_codes, False, bool)


def _missing_cells(column: pd.Series) -> np.ndarray:
    """Where a cell is missing, read off a categorical's codes (-1) or Arrow text's validity, else ``isna``."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.array.codes < 0
    if is_arrow_text(column.dtype):
        arrow = pa.array(column.array)
        if arrow.null_count == 0:
            return np.zeros(len(column), dtype=bool)
        return pc.is_null(arrow).to_numpy(zero_copy_only=False)
    return column.isna().to_numpy()


def _empty_typed(spec: FieldSpec, n: int) -> np.ndarray:
    if spec.type in ("integer", "number", "boolean"):
        return np.full(n, np.nan)
    if spec.type == "date":
        return np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    return np.full(n, None, dtype=object)
