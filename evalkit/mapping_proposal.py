"""Propose how a provider's spreadsheet maps to evalkit's tables, show it, and save it for next month.

``evalkit map FILE`` and the dashboard's Upload page call :func:`propose_mapping`:

* **headers** are matched to the schema with evalkit's word lists
  (``readers/aliases.json`` and ``readers/wide_aliases.json``): participants
  columns by their usual names, and for one-row-per-mother sheets instrument +
  time point columns ("EPDS at start", "WEMWBS last", "PHQ-9 T2") and their
  date columns ("EPDS start date");
* **values** of coded columns are matched deterministically
  (:func:`match_value`): the provider's saved synonyms, evalkit's synonyms
  ("HV" -> ``health_visitor``), codes and labels, known abbreviations,
  singular/plural, the words of one label, a label inside the value
  ("community midwife" -> ``midwife``) or a one-letter typo. Values that match
  none, or more than one code, are listed, never guessed;
* **date formats** are found per column (day/month/year, month/day/year or
  ISO) and written as the column's cells are (``DD.MM.YY``, ``MM-DD-YYYY``):
  a stated format is strict. A column whose every date reads both ways is
  reported, and takes the order of the sheet's other date columns only when
  they all agree (said so); a column whose dates are written in more than one
  way gets no format (said so), and its dates are read in the order they show;
* **identifying columns** (names, postcodes, dates of birth, NHS numbers,
  phone numbers, emails, addresses; by header and by value with
  :func:`evalkit.pseudonymise.find_identifiers`) are left out; dates of birth
  and due dates first give safe derived fields;
* **sheet layout** problems (title rows, two-row headers, notes, totals,
  other tables, spacer columns) are handled by :mod:`evalkit.readers.messy`.

The result, a :class:`MappingProposal`, holds the mapping (a
:class:`~evalkit.readers.wide.WideMapping`, or a
:class:`~evalkit.column_mapping.ColumnMapping` for an ordinary one-table
sheet), what could not be mapped, a preview of the rows as they will be
stored, and a text summary. Everything is a pure function of the file: the same
file gives the same proposal.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from evalkit.column_mapping import ColumnMapping, normalise_header, normalise_value, strftime_format
from evalkit.errors import InputFileError
from evalkit.readers.limits import ReadLimits
from evalkit.readers.messy import (
    SheetTable,
    extract_table,
    grid_from_frame,
    is_missing,
    missing_cells,
    read_grids,
    wide_aliases,
)
from evalkit.readers.wide import (
    DateFormat,
    HeaderRole,
    MeasureColumn,
    WideMapping,
    WideReadResult,
    _abbr,
    classify_header,
    code_variants,
    could_identify,
    detect_date_format,
    header_is_known,
    read_wide_tables,
    suggest_instrument,
    value_lookup,
)
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.typing_slips import one_slip_apart
from evalkit.validation.dates import written_date_format

__all__ = ["MappingProposal", "ValueMatch", "match_value", "propose_mapping", "WideMapping"]

WIDE_REQUIRED: tuple[str, ...] = ("participant_id", "programme_id", "referral_date")
"""Participants columns a one-row-per-mother sheet must give (``programme_id`` may come from ``--programme``)."""

_CODED_TYPES = ("string", "boolean")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ValueMatch:
    """How one provider value was matched: ``code`` (``None`` = not matched) and ``how``.

    ``how`` is one of ``code``, ``label`` (accepted as written; no mapping entry
    needed), ``your mapping``, ``synonym``, ``abbreviation``, ``plural``,
    ``label words``, ``contains label``, ``typo``, ``missing`` (a missing-value
    word), ``not matched`` or ``several codes`` (with ``candidates``).
    """

    value: str
    code: str | None
    how: str
    candidates: tuple[str, ...] = ()


@cache
def _stop() -> frozenset[str]:
    return frozenset(wide_aliases()["stop_words"])


def _words(text: str) -> frozenset[str]:
    return frozenset(w for w in normalise_value(text).split() if w not in _stop())


def _singular(text: str) -> str:
    """Words made singular the simple English way (midwives -> midwife, therapies -> therapy, visitors -> visitor)."""
    def one(w: str) -> str:
        if len(w) > 4 and w.endswith("ives"):
            return w[:-3] + "fe"
        if len(w) > 4 and w.endswith("ies"):
            return w[:-3] + "y"
        if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us")):
            return w[:-1]
        return w

    return " ".join(one(w) for w in text.split())


def match_value(column: str, value: str, mapping: ColumnMapping | None = None) -> ValueMatch:
    """Match one provider value of a coded ``participants`` column to its code, deterministically.

    See the module docstring for the order of the rules. Booleans match the
    schema's yes/no words (and evalkit's synonyms such as ``declined`` -> no
    for ``took_up``).

    Examples
    --------
    >>> match_value("referral_source", "HV").code
    'health_visitor'
    >>> match_value("referral_source", "Community Midwife").how
    'synonym'
    >>> match_value("referral_source", "Facebook").code is None
    True
    """
    spec = table_schema("participants").field(column)
    text = str(value).strip()
    key = normalise_value(text)
    lookup = value_lookup(column, mapping)
    own = mapping.value_synonyms(column) if mapping is not None else {}
    if key in own:
        return ValueMatch(text, own[key], "your mapping")
    if spec.type == "boolean":
        folded = text.casefold()
        if folded in {v.casefold() for v in spec.true_values} or folded in {v.casefold() for v in spec.false_values}:
            return ValueMatch(text, text, "code")
        if key in lookup:
            return ValueMatch(text, lookup[key], "synonym")
        if is_missing(text):
            return ValueMatch(text, None, "missing")
        return ValueMatch(text, None, "not matched")
    if not spec.codes:
        if column == "main_language":
            import re

            if key in lookup:
                return ValueMatch(text, lookup[key], "synonym")
            if re.fullmatch(r"[a-z]{2,3}", text):
                return ValueMatch(text, text, "code")
            if re.fullmatch(r"[A-Za-z]{2,3}", text):
                return ValueMatch(text, text.lower(), "code in capitals")
            if is_missing(text):
                return ValueMatch(text, None, "missing")
            return ValueMatch(text, None, "not matched")
        return ValueMatch(text, text, "code")
    variants = code_variants(spec)
    if key in {normalise_value(c) for c in spec.codes}:
        return ValueMatch(text, next(c for c in spec.codes if normalise_value(c) == key), "code")
    hits = sorted(c for c, vs in variants.items() if key in vs)
    if len(hits) == 1:
        return ValueMatch(text, hits[0], "label")
    if key in lookup:
        return ValueMatch(text, lookup[key], "synonym")
    if is_missing(text):
        if "unknown" in spec.codes and normalise_value(text) in {normalise_value(w) or w
                                                                  for w in wide_aliases()["unknown_tokens"]}:
            return ValueMatch(text, "unknown", "synonym")
        return ValueMatch(text, None, "missing")
    words = key.split()
    if len(words) > 1 and all(len(w) == 1 for w in words):  # "H.V." -> "hv"
        joined = "".join(words)
        if joined in lookup:
            return ValueMatch(text, lookup[joined], "abbreviation")
        key = joined
    abbr = {normalise_value(k): normalise_value(v) for k, v in wide_aliases()["abbreviations"].items()}
    expanded = " ".join(abbr.get(w, w) for w in key.split())
    for how, cand in (("abbreviation", expanded), ("plural", _singular(key)), ("plural", _singular(expanded))):
        if cand == key and how != "plural":
            continue
        if cand in lookup:
            return ValueMatch(text, lookup[cand], how)
        hits = sorted(c for c, vs in variants.items() if cand in vs or _singular(cand) in {_singular(v) for v in vs})
        if len(hits) == 1:
            return ValueMatch(text, hits[0], how)
    # the value's words are the words of one label (fewest extra words wins)
    vw = _words(_singular(expanded))
    if vw:
        scored = []
        for code, label in spec.codes.items():
            full = _words(_singular(normalise_value(label + " " + code.replace("_", " "))))
            specific = _words(_singular(normalise_value(label.split(":", 1)[-1])))
            if vw <= full and (vw & specific or specific == full):
                scored.append((len(specific - vw), code))
        if scored:
            best = min(s for s, _ in scored)
            winners = sorted(c for s, c in scored if s == best)
            if len(winners) == 1:
                return ValueMatch(text, winners[0], "label words")
            return ValueMatch(text, None, "several codes", tuple(winners))
    # a label (or synonym) written inside the value
    phrases: dict[str, set[str]] = {}
    for code, vs in variants.items():
        for v in vs:
            phrases.setdefault(v, set()).add(code)
    for syn, code in lookup.items():
        phrases.setdefault(syn, set()).add(code)
    padded = f" {expanded} "
    inside = {c for p, cs in phrases.items() if len(p) >= 4 and p != expanded and f" {p} " in padded for c in cs}
    if len(inside) == 1:
        return ValueMatch(text, inside.pop(), "contains label")
    if len(inside) > 1:
        return ValueMatch(text, None, "several codes", tuple(sorted(inside)))
    typo = {c for p, cs in phrases.items() if len(p) >= 5 and len(key) >= 5 and one_slip_apart(key, p) for c in cs}
    if len(typo) == 1:
        return ValueMatch(text, typo.pop(), "typo")
    return ValueMatch(text, None, "not matched" if not typo else "several codes", tuple(sorted(typo)))


# --------------------------------------------------------------------------- the proposal


@dataclass(frozen=True)
class MappingProposal:
    """A proposed mapping of one file, with everything a provider needs to check it.

    Attributes
    ----------
    file
        The file's name (``"(table)"`` for a DataFrame).
    layout
        ``"wide"`` (one row per mother, scores side by side) or ``"table"``
        (one evalkit table, read by the ordinary readers).
    mapping
        A :class:`WideMapping` (wide) or a :class:`ColumnMapping` (table).
    table
        For ``"table"`` layout: the table the sheet holds.
    columns
        One row per header: ``sheet``, ``column`` (letter), ``header``,
        ``role`` (participant / score / score_date / derive / identifier /
        derived_score / unknown / skip), ``target`` (what it maps to) and ``note``.
    unmapped_headers
        Headers with data that are not read (identifying columns excluded).
    unmapped_values
        Coded column -> values that match no code (or several): add them to
        the mapping's ``values``.
    value_matches
        Coded column -> every distinct value's :class:`ValueMatch`.
    identifying_columns
        Header -> why it is identifying and what happens to it.
    date_formats
        Header -> :class:`~evalkit.readers.wide.DateFormat` of every date column.
    missing_required
        Required columns that could not be mapped (``evalkit map`` exits 1).
    assumptions
        Sentences about the date assumptions the mapping will use on this file.
    notes
        Sentences about the layout and the problems found (notes rows, other
        tables, questionnaires without dates ...).
    programme_source
        Where the programme id comes from (``--programme``, a column, sheet names...).
    """

    file: str
    layout: Literal["wide", "table"]
    mapping: ColumnMapping
    table: str | None
    columns: pd.DataFrame
    unmapped_headers: tuple[str, ...]
    unmapped_values: dict[str, list[str]]
    value_matches: dict[str, list[ValueMatch]]
    identifying_columns: dict[str, str]
    date_formats: dict[str, DateFormat]
    missing_required: tuple[str, ...]
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    programme_source: str = ""
    tables: tuple[SheetTable, ...] = field(default=(), repr=False, compare=False)
    read_result: WideReadResult | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when every required column is mapped."""
        return not self.missing_required

    @property
    def ambiguous_dates(self) -> list[str]:
        """Headers of date columns whose format cannot be told from the values."""
        return [h for h, f in self.date_formats.items() if f.status in ("ambiguous", "mixed")]

    # -- preview ------------------------------------------------------------------
    def preview(self, n: int = 10, *, secret: bytes | None = None, provider: str = "") -> dict[str, pd.DataFrame]:
        """The first ``n`` data rows of each sheet as they will be stored, by table.

        Canonical columns only (plus ``source_row``), after value mapping,
        derivations and dropping identifying columns. ``participant_id`` is
        replaced by the real keyed pseudonym when ``secret`` (and the
        uploading ``provider``) are given, else by placeholders
        ``(pseudonym 1)``, ``(pseudonym 2)``, ... Nothing is validated or stored.
        """
        if n < 0:
            raise ValueError(f"n must be 0 or more; got {n}")
        heads = [t.head(n) for t in self.tables]
        if self.layout == "wide" and isinstance(self.mapping, WideMapping):
            raw = read_wide_tables(heads, self.mapping).raw
        else:
            from evalkit.readers.raw_frame import build_raw_frame

            parts = [build_raw_frame(t.cells, t.headers, t.source_rows, table=self.table or "participants",
                                     file=t.file, sheet=t.sheet, header_row=t.header_row, mapping=self.mapping)
                     for t in heads]
            raw = {self.table or "participants": pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()}
        out: dict[str, pd.DataFrame] = {}
        codes: dict[str, str] = {}
        for name, frame in raw.items():
            f = frame.copy()
            f.attrs.clear()
            f = f.drop(columns=["source_file", "source_sheet"], errors="ignore")
            for col in ("participant_id", "peer_supporter_id"):
                if col not in f.columns:
                    continue
                if secret is not None:
                    from evalkit.pseudonymise import pseudonymise_ids

                    f[col] = pseudonymise_ids(f[col], secret=secret, namespace=provider)
                else:
                    vals = f[col].astype("string")
                    for v in vals.dropna().unique():
                        codes.setdefault(f"{col}|{v}", f"(pseudonym {sum(k.startswith(col) for k in codes) + 1})")
                    f[col] = vals.map(lambda v, c=col: codes.get(f"{c}|{v}") if pd.notna(v) else None
                                      ).astype("string")
            out[name] = f.reset_index(drop=True)
        return out

    # -- output -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the CLI's ``--format json``): the mapping and what could not be mapped."""
        return {
            "file": self.file,
            "layout": self.layout,
            "table": self.table,
            "ok": self.ok,
            "missing_required": list(self.missing_required),
            "programme_source": self.programme_source,
            "columns": self.columns.astype(object).where(self.columns.notna(), None).to_dict(orient="records"),
            "unmapped_headers": list(self.unmapped_headers),
            "unmapped_values": {k: list(v) for k, v in self.unmapped_values.items()},
            "identifying_columns": dict(self.identifying_columns),
            "date_formats": {h: {"format": f.format, "status": f.status, "evidence": f.evidence}
                             for h, f in self.date_formats.items()},
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "mapping": self.mapping.to_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Save the mapping as JSON (reuse it with ``read_file(..., mapping=load_mapping(path))``,
        ``evalkit validate --mapping`` or ``evalkit ingest --mapping``)."""
        path = Path(path)
        self.mapping.to_json(path)
        return path

    def to_text(self, saved_to: str | Path | None = None, file_path: str | Path | None = None) -> str:
        """The summary ``evalkit map`` prints.

        Parameters
        ----------
        saved_to
            Where the mapping was saved, if it was: the last line then names the
            ``evalkit validate`` command to run next with it.
        file_path
            The file as the user named it (for that command); default :attr:`file`.
        """
        lines: list[str] = []
        w = lines.append
        sheets = sorted({str(t.sheet) for t in self.tables if t.sheet})
        w(f"evalkit map: {self.file}" + (f" (sheet{'s' if len(sheets) > 1 else ''} "
                                          f"{', '.join(repr(s) for s in sheets)})" if sheets else ""))
        if self.layout == "wide":
            w("Layout: one row per mother, questionnaire totals side by side (wide).")
        else:
            w(f"Layout: one row per record of the {self.table} table.")
        if self.programme_source:
            w(f"Programme: {self.programme_source}")
        for s in self.notes:
            if s.startswith("layout: "):
                w(f"  {s[len('layout: '):]}")
        taken = self.columns[self.columns["role"].isin(["participant", "score", "score_date", "column"])]
        if len(taken):
            w("")
            w(f"Columns taken ({len(taken)}):")
            for r in taken.itertuples(index=False):
                extra = f"  [{r.note}]" if r.note else ""
                w(f"  {r.column:>3} {_quote(r.header):<34} -> {r.target}{extra}")
        derived = self.columns[self.columns["role"] == "derive"]
        ids = self.columns[self.columns["role"] == "identifier"]
        if len(derived) or len(ids):
            w("")
            w("Identifying columns left out (never stored):")
            for r in pd.concat([derived, ids]).itertuples(index=False):
                w(f"  {r.column:>3} {_quote(r.header):<34} {r.note}")
        skipped = self.columns[self.columns["role"].isin(["unknown", "derived_score", "skip"])]
        if len(skipped):
            w("")
            w("Not read:")
            for r in skipped.itertuples(index=False):
                w(f"  {r.column:>3} {_quote(r.header):<34} {r.note or 'not a column evalkit knows'}")
        mapped = {c: [m for m in ms if m.code and m.how not in ("code", "label", "missing")]
                  for c, ms in self.value_matches.items()}
        mapped = {c: ms for c, ms in mapped.items() if ms}
        if mapped:
            w("")
            w("Values mapped:")
            for c, ms in mapped.items():
                shown = ", ".join(f"{_quote(m.value)} -> {m.code}" + (f" ({m.how})" if m.how not in
                                  ("synonym", "your mapping") else "") for m in ms[:12])
                more = f" and {len(ms) - 12} more" if len(ms) > 12 else ""
                w(f"  {c}: {shown}{more}")
        if self.unmapped_values:
            w("")
            w("Values not recognised (not guessed; add them to \"values\" in the mapping file, or they will be "
              "reported as errors):")
            for c, vs in self.unmapped_values.items():
                w(f"  {c}: {', '.join(_quote(v) for v in vs[:15])}{' ...' if len(vs) > 15 else ''}")
        if self.date_formats:
            w("")
            w("Dates:")
            for h, f in self.date_formats.items():
                fmt = f.format or "cannot tell"
                w(f"  {_quote(h):<36} {fmt:<12} {f.status}: {f.evidence}")
        if self.assumptions:
            w("")
            w("Assumptions (printed with every report that uses these data):")
            for s in self.assumptions:
                w(f"  - {s}")
        problems = [s for s in self.notes if not s.startswith("layout: ")]
        if problems:
            w("")
            w("Also found:")
            for s in problems[:25]:
                w(f"  - {s}")
            if len(problems) > 25:
                w(f"  ... and {len(problems) - 25} more")
        w("")
        if self.missing_required:
            w("NOT READY: required column(s) not mapped: " + ", ".join(self.missing_required)
              + (". Give the programme with --programme ID." if "programme_id" in self.missing_required else ".")
              + " Edit the saved mapping to name the columns, or fix the file.")
        else:
            w("Ready: check the mapping above, save it (-o mapping.json) and use it with "
              "'evalkit validate FILE --mapping mapping.json'." if saved_to is None else
              "Ready: check the mapping above. Next: "
              + shlex.join(["evalkit", "validate", str(file_path or self.file), "--mapping", str(saved_to)]))
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return "'" + str(text) + "'"


# --------------------------------------------------------------------------- building


def _tables_from(source: str | Path | pd.DataFrame, sheet: str | None, header_row: int | None,
                 limits: ReadLimits | None, existing: WideMapping | None) -> tuple[str, list[SheetTable]]:
    if isinstance(source, pd.DataFrame):
        grids = [grid_from_frame(source)]
        label = "(table)"
    else:
        grids = read_grids(source, sheet=sheet, limits=limits)
        label = Path(source).name

    def score(headers: list[str]) -> int:
        return sum(1 for h in headers if h and ((existing is not None and existing.role_for(h) is not None)
                                                 or header_is_known(h)))

    tables = []
    for g in grids:
        try:
            tables.append(extract_table(g, header_score=score, header_row=header_row))
        except InputFileError:
            continue
    if not tables:
        raise InputFileError("no sheet has any data. Expected a header row naming the columns.", file=label)
    return label, tables


def _letter(table: SheetTable, pos: int) -> str:
    from evalkit.readers.headers import column_letter

    return column_letter(table.columns[pos] - 1)


def propose_mapping(
    path_or_frame: str | Path | pd.DataFrame,
    *,
    sheet: str | None = None,
    programme_id: str | None = None,
    mapping: ColumnMapping | None = None,
    limits: ReadLimits | None = None,
) -> MappingProposal:
    """Propose a mapping of a provider's file (or DataFrame) to evalkit's tables.

    Parameters
    ----------
    path_or_frame
        An ``.xlsx`` or ``.csv`` file, or a DataFrame (column names = headers;
        default ``0..k`` names mean the header is one of the rows).
    sheet
        Only this sheet of a workbook (default: every sheet with
        questionnaire score columns, else the first sheet with data).
    programme_id
        The programme every row belongs to (``--programme``).
    mapping
        An existing mapping (e.g. last month's): its choices are kept and only
        new headers and values are proposed.
    limits
        Size limits.

    Returns
    -------
    MappingProposal

    Raises
    ------
    InputFileError
        The file cannot be read at all.
    """
    existing = mapping if isinstance(mapping, WideMapping) else None
    label, tables = _tables_from(path_or_frame, sheet or (existing.sheet if existing else None),
                                 existing.header_row if existing else None, limits, existing)

    def role(h: str) -> HeaderRole:
        if existing is not None:
            r = existing.role_for(h)
            if r is not None:
                return r
        if mapping is not None and not isinstance(mapping, WideMapping):
            found, target = mapping.column_for(h)
            if found:
                return HeaderRole("participant", target) if target else HeaderRole("skip")
        return classify_header(h)

    wide = [t for t in tables if any(role(h).kind == "score" for h in t.headers)]
    if wide:
        return _propose_wide(label, wide, tables, role, programme_id, existing or mapping)
    if mapping is not None and isinstance(mapping, WideMapping):
        raise InputFileError("none of the score columns of the mapping is in this file. Run 'evalkit map' on it "
                             "without --mapping to start a new mapping.", file=label)
    return _propose_table(label, tables[:1], programme_id, mapping)


def _value_report(columns: dict[str, list[pd.Series]], mapping: ColumnMapping | None
                  ) -> tuple[dict[str, list[ValueMatch]], dict[str, list[str]], dict[str, dict[str, str]]]:
    matches: dict[str, list[ValueMatch]] = {}
    unmapped: dict[str, list[str]] = {}
    values: dict[str, dict[str, str]] = {}
    schema = table_schema("participants")
    for column, parts in columns.items():
        spec = schema.field(column)
        series = pd.concat(parts, ignore_index=True).dropna().astype(str).str.strip()
        series = series[series != ""]
        if spec.type in ("integer", "number"):
            nums = pd.to_numeric(series.str.replace(r"^\s*([-+]?\d+)\.0+\s*$", r"\1", regex=True), errors="coerce")
            bad = sorted(set(series[nums.isna().to_numpy() & ~missing_cells(series)]))
            if bad:
                unmapped[column] = bad
            continue
        if spec.type not in _CODED_TYPES or column in ("participant_id", "programme_id", "practical_barriers"):
            continue
        if not spec.codes and spec.type != "boolean" and column != "main_language":
            continue
        seen = sorted(set(series), key=lambda v: (normalise_value(v), v))
        ms = [match_value(column, v, mapping) for v in seen]
        matches[column] = ms
        bad = [m.value for m in ms if m.code is None and m.how not in ("missing",)]
        if bad:
            unmapped[column] = bad
        good = {m.value: m.code for m in ms if m.code and m.how not in ("code", "label")}
        if good:
            values[column] = good
    return matches, unmapped, values


def _stated_day_first(stated: str) -> bool | None:
    """The day/month order a stated day/month/year format gives (``None``: none, e.g. ``YYYY-MM-DD``); ``stated``
    is a format of a mapping, checked when the mapping was made."""
    fmt = strftime_format(stated)
    day, month, year = fmt.find("%d"), fmt.find("%m"), max(fmt.find("%Y"), fmt.find("%y"))
    return day < month if year > max(day, month) else None


def _date_report(headers_values: dict[str, list[pd.Series]], given: Mapping[str, str]
                 ) -> tuple[dict[str, DateFormat], dict[str, str], list[str]]:
    """Each date column's format as its cells are written, the formats to put in the mapping, and notes.

    A column whose dates all read both ways takes the day/month order of the sheet's other date columns when
    they agree, written in its own pattern. No format is proposed for a column whose dates are written in
    more than one way (a stated format is strict and would refuse some): its dates are then read in the order
    the file's dates show, as without a mapping.
    """
    found: dict[str, DateFormat] = {}
    formats: dict[str, str] = {}
    notes: list[str] = []
    cells: dict[str, pd.Series] = {}
    for header, parts in headers_values.items():
        stated = next((f for h, f in given.items() if normalise_header(h) == normalise_header(header)), None)
        if stated is not None:
            found[header] = DateFormat(header, stated, "clear", "stated in your mapping",
                                       day_first=_stated_day_first(stated))
            formats[header] = stated
            continue
        cells[header] = pd.concat(parts, ignore_index=True)
        found[header] = detect_date_format(header, cells[header])
    orders = {f.day_first for f in found.values() if f.status == "clear" and f.day_first is not None}
    for header, f in found.items():
        if header in formats:
            continue
        if f.format and f.status in ("clear", "iso"):
            formats[header] = f.format
        elif f.status == "clear":  # written in more than one way: said in its evidence
            notes.append(f"'{header}': {f.evidence}.")
        elif f.status == "ambiguous" and len(orders) == 1:
            day_first = next(iter(orders))
            fmt, why = written_date_format(cells[header], day_first)
            order = "day/month/year" if day_first else "month/day/year"
            if fmt is not None:
                formats[header] = fmt
                found[header] = replace(f, format=fmt, evidence=f.evidence + f"; taken as {fmt} like the sheet's "
                                                                             "other date columns - check it")
            else:
                found[header] = replace(f, evidence=f.evidence + f"; the sheet's other date columns are {order}, "
                                                                 f"but {why}: no date format is proposed")
                notes.append(f"'{header}': {why}, so no date format is proposed for it; a date of it that reads two "
                             "ways is reported: write those as ISO dates (YYYY-MM-DD), or all in one way.")
        if f.not_dates:
            notes.append(f"'{header}' holds values that are not dates: {', '.join(repr(v) for v in f.not_dates)}.")
    return found, formats, notes


def _propose_wide(label: str, wide: list[SheetTable], all_tables: list[SheetTable], role: Any,
                  programme_id: str | None, existing: ColumnMapping | None) -> MappingProposal:
    schema = table_schema("participants")
    columns: dict[str, str | None] = {}
    scores: dict[str, MeasureColumn] = {}
    score_dates: dict[str, MeasureColumn] = {}
    derive: dict[str, str] = {}
    drop: dict[str, str] = {}
    identifying: dict[str, str] = {}
    rows: list[dict[str, Any]] = []
    code_values: dict[str, list[pd.Series]] = {}
    date_values: dict[str, list[pd.Series]] = {}
    unmapped_headers: list[str] = []
    taken: dict[str, str] = {}
    from evalkit.pseudonymise import find_identifiers

    for t in wide:
        roles = {pos: role(h) for pos, h in enumerate(t.headers)}
        probe_pos = [p for p, r in roles.items() if r.kind in ("participant", "unknown")
                     and could_identify(t.cells[p])]
        if probe_pos and len(t.cells):
            probe = pd.DataFrame({f"__{p}": t.cells[p].astype("string") for p in probe_pos})
            for f in find_identifiers(probe).itertuples(index=False):
                pos = int(str(f.column)[2:])
                roles[pos] = HeaderRole("identifier", why=f"{f.kind} ({f.matches} of {f.checked} values)")
        for pos, r in roles.items():
            header = t.headers[pos]
            values = t.cells[pos] if pos in t.cells.columns else pd.Series([], dtype=object)
            has_data = bool(values.notna().any())
            note = ""
            target = ""
            kind = r.kind
            if kind == "participant" and r.column:
                if r.column in taken and normalise_header(taken[r.column]) != normalise_header(header):
                    kind, note = "unknown", f"same as '{taken[r.column]}' ({r.column}); only that one is read"
                    columns[header] = None
                else:
                    taken[r.column] = header
                    columns[header] = r.column
                    target = r.column
                    spec = schema.field(r.column)
                    if spec.type == "date":
                        date_values.setdefault(header, []).append(values)
                    else:
                        code_values.setdefault(r.column, []).append(values)
            elif kind == "score" and r.instrument and r.timepoint:
                scores[header] = MeasureColumn(r.instrument, r.timepoint)
                target = f"{r.instrument} total, {r.timepoint}"
            elif kind == "score_date" and r.timepoint:
                score_dates[header] = MeasureColumn(r.instrument, r.timepoint)
                target = f"date of {r.instrument or 'every questionnaire'} at {r.timepoint}"
                date_values.setdefault(header, []).append(values)
            elif kind == "derive" and r.column:
                derive[header] = r.column
                note = r.why
                identifying[header] = r.why
                if r.column != "mother_age":
                    date_values.setdefault(header, []).append(values)
            elif kind == "identifier":
                drop[header] = r.why
                note = r.why + (" - derive the deprivation decile (IMD) before upload; the postcode is dropped"
                                if "postcode" in r.why else "")
                identifying[header] = note
            elif kind == "skip":
                columns[header] = None
                note = "not read (your mapping)"
            elif kind == "derived_score":
                note = f"not read: {r.why}"
                columns[header] = None
            elif kind == "blank":
                if not has_data:
                    continue
                note = "data without a header"
                unmapped_headers.append(f"column {_letter(t, pos)} (no header)")
            else:
                note = r.why or "not a column evalkit knows"
                typo = suggest_instrument(header)
                if typo is not None:
                    note += f" - did you mean {_abbr(typo[1])}? ('{typo[0]}' is one letter from it)"
                if has_data:
                    unmapped_headers.append(header)
                    columns.setdefault(header, None)  # saved as "not read", so next month it is not reported again
                kind = "unknown"
            rows.append({"sheet": t.sheet or "", "column": _letter(t, pos), "header": header, "role": kind,
                         "target": target, "note": note})
    frame = pd.DataFrame(rows, columns=["sheet", "column", "header", "role", "target", "note"])
    frame = frame.drop_duplicates(["header", "role", "target"]).reset_index(drop=True)

    # scores of one instrument at one time point must be unique; a score date needs a score
    by_key: dict[tuple[str, str], str] = {}
    notes: list[str] = []
    for h, mc in list(scores.items()):
        key = (mc.instrument or "", mc.timepoint)
        if key in by_key and normalise_header(by_key[key]) != normalise_header(h):
            notes.append(f"'{h}' and '{by_key[key]}' are both {mc.instrument} at {mc.timepoint}; only "
                         f"'{by_key[key]}' is read.")
            del scores[h]
            columns[h] = None
        else:
            by_key[key] = h

    # values, dates
    base_mapping = existing if existing is not None else None
    matches, unmapped_values, values = _value_report(code_values, base_mapping)
    if base_mapping is not None:
        for col, syn in base_mapping.values.items():
            values.setdefault(col, {}).update({k: v for k, v in syn.items() if k not in values.get(col, {})})
    given = base_mapping.date_formats if isinstance(base_mapping, WideMapping) else {}
    date_formats, formats, date_notes = _date_report(date_values, given)
    notes.extend(date_notes)

    # programme
    constants = dict(base_mapping.constants) if base_mapping is not None else {}
    sheet_programmes: dict[str, str] = dict(base_mapping.sheet_programmes) if isinstance(base_mapping, WideMapping) \
        else {}
    if programme_id:
        constants["programme_id"] = programme_id
        source = f"{programme_id} (from --programme)"
    elif constants.get("programme_id"):
        source = f"{constants['programme_id']} (from the mapping)"
    elif "programme_id" in columns.values():
        source = f"from the column '{taken['programme_id']}'"
    elif sheet_programmes and all(t.sheet and _sheet_prog(sheet_programmes, str(t.sheet)) for t in wide):
        source = "by sheet: " + ", ".join(f"'{t.sheet}' -> {_sheet_prog(sheet_programmes, str(t.sheet))}"
                                          for t in wide)
    elif len(wide) > 1 and all(t.sheet for t in wide):
        sheet_programmes = {str(t.sheet): str(t.sheet).strip() for t in wide}
        source = ("taken from the sheet names (" + ", ".join(sorted(sheet_programmes.values()))
                  + "); edit \"sheet_programmes\" in the mapping if your programme ids differ")
    else:
        source = ""
    missing = [c for c in WIDE_REQUIRED if c not in columns.values()
               and not (c == "programme_id" and (constants.get(c) or source))]
    if not scores:
        missing.append("a score column (instrument and time point)")

    wide_mapping = WideMapping(
        columns=columns, values=values, date_formats=formats, constants=constants,
        scores=scores, score_dates=score_dates, derive=derive, drop=drop, sheet_programmes=sheet_programmes,
        sheet=base_mapping.sheet if isinstance(base_mapping, WideMapping) else None,
        header_row=base_mapping.header_row if isinstance(base_mapping, WideMapping) else None,
        description=(base_mapping.description if isinstance(base_mapping, WideMapping) and base_mapping.description
                     else f"Mapping proposed by 'evalkit map' for {label}; reuse it for later files of the same "
                          "layout."),
    )
    if isinstance(base_mapping, WideMapping):
        wide_mapping = replace(wide_mapping, assumptions=base_mapping.assumptions)
    result = read_wide_tables(wide, wide_mapping, programme_id=programme_id)
    layout_notes = [f"layout: {s}" for s in result.layout]
    others = [t for t in all_tables if t not in wide]
    for t in others:
        layout_notes.append(f"layout: {t.where}: no questionnaire score columns, so it was not read.")
    for p in result.problems.itertuples(index=False):
        if p.rule in ("note_row", "summary_row", "other_table", "hidden_sheet", "no_date", "same_date", "derived_value",
                      "converted_total"):
            notes.append(f"{p.file}{', sheet ' + repr(p.sheet) if p.sheet else ''}: {p.message}")
    # date notes for the score columns
    for h, mc in scores.items():
        has_date = any(d.timepoint == mc.timepoint and d.instrument in (mc.instrument, None)
                       for d in score_dates.values())
        if has_date:
            frame.loc[frame["header"] == h, "note"] = "dated by its date column"
    return MappingProposal(
        file=label, layout="wide", mapping=wide_mapping, table=None, columns=frame,
        unmapped_headers=tuple(dict.fromkeys(unmapped_headers)), unmapped_values=unmapped_values,
        value_matches=matches, identifying_columns=identifying, date_formats=date_formats,
        missing_required=tuple(missing), assumptions=tuple(dict.fromkeys(result.assumptions["sentence"])),
        notes=tuple(layout_notes + notes), programme_source=source, tables=tuple(wide), read_result=result,
    )


def _sheet_prog(sheet_programmes: Mapping[str, str], sheet: str) -> str | None:
    key = normalise_header(sheet)
    return next((p for s, p in sheet_programmes.items() if normalise_header(s) == key), None)


def _propose_table(label: str, tables: list[SheetTable], programme_id: str | None,
                   existing: ColumnMapping | None) -> MappingProposal:
    """An ordinary one-table sheet: headers to one table's columns (the readers' rules)."""
    from evalkit.pseudonymise import find_identifiers
    from evalkit.readers.detect import detect_table, header_overlap
    from evalkit.readers.headers import match_headers

    t = tables[0]
    try:
        table = (existing.table if existing is not None and existing.table else None) or detect_table(
            t.headers, file_label=t.where, names=(t.sheet or "", Path(label).stem), mapping=existing)
    except InputFileError:
        overlap = header_overlap(t.headers, existing)
        table = max(TABLE_NAMES, key=lambda n: len(overlap[n]))
    schema = table_schema(table)
    matches = match_headers(t.headers, table, existing)
    columns: dict[str, str | None] = {}
    rows = []
    identifying: dict[str, str] = {}
    unmapped: list[str] = []
    date_values: dict[str, list[pd.Series]] = {}
    code_values: dict[str, list[pd.Series]] = {}
    value_ids = find_identifiers(pd.DataFrame({f"__{p}": t.cells[p].astype("string") for p in t.cells.columns
                                               if could_identify(t.cells[p])}))
    flagged = {int(str(c)[2:]): f"{k} ({m} of {n} values)" for c, k, m, n in
               zip(value_ids["column"], value_ids["kind"], value_ids["matches"], value_ids["checked"], strict=True)}
    for m in matches:
        has_data = m.position in t.cells.columns and bool(t.cells[m.position].notna().any())
        role, target, note = "unknown", "", ""
        guess = classify_header(m.header)
        if m.position in flagged or m.kind == "identifier" or guess.kind in ("identifier", "derive"):
            why = flagged.get(m.position) or guess.why or "personal details"
            role, note = "identifier", why
            identifying[m.header] = why
            columns.setdefault(m.header, None)  # a repeated header keeps its first meaning (the reader reads one)
        elif m.kind == "column" and m.column:
            role, target = "column", m.column
            columns[m.header] = m.column
            spec = schema.field(m.column)
            if spec.type == "date":
                date_values.setdefault(m.header, []).append(t.cells[m.position])
            elif table == "participants":
                code_values.setdefault(m.column, []).append(t.cells[m.position])
        elif m.kind == "skipped":
            role, note = "skip", "not read (your mapping)"
        elif m.kind == "blank" and not has_data:
            continue
        else:
            note = "same meaning as an earlier column" if m.kind == "duplicate" else "not a column evalkit knows"
            if has_data:
                unmapped.append(m.header or f"column {_letter(t, m.position)} (no header)")
        rows.append({"sheet": t.sheet or "", "column": _letter(t, m.position), "header": m.header, "role": role,
                     "target": target, "note": note})
    frame = pd.DataFrame(rows, columns=["sheet", "column", "header", "role", "target", "note"])
    matches_v, unmapped_values, values = (_value_report(code_values, existing) if table == "participants"
                                          else ({}, {}, {}))
    date_formats, formats_by_header, notes = _date_report(date_values, {})
    formats = {str(columns[h]): f for h, f in formats_by_header.items() if columns.get(h)}
    constants = dict(existing.constants) if existing is not None else {}
    source = ""
    if programme_id and "programme_id" in schema.field_names:
        constants["programme_id"] = programme_id
        source = f"{programme_id} (from --programme)"
    missing = [c for c in schema.required if c not in columns.values() and c not in constants]
    mapping = ColumnMapping(columns=columns, values=values, date_formats=formats, constants=constants, table=table)
    return MappingProposal(
        file=label, layout="table", mapping=mapping, table=table, columns=frame,
        unmapped_headers=tuple(unmapped), unmapped_values=unmapped_values, value_matches=matches_v,
        identifying_columns=identifying, date_formats=date_formats, missing_required=tuple(missing),
        notes=tuple([f"layout: {t.where}: {s}" for s in t.layout] + notes), programme_source=source,
        tables=(t,),
    )


def load_proposal_mapping(path: str | Path) -> ColumnMapping:
    """Read a saved mapping (wide or column) - :func:`evalkit.readers.load_mapping` without REDCap."""
    raw = json.loads(Path(path).read_text(encoding="utf-8-sig"))
    if isinstance(raw, Mapping) and raw.get("kind") == "wide":
        return WideMapping.from_dict(raw)
    return ColumnMapping.from_dict(raw)
