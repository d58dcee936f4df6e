"""Read one-row-per-mother ("wide") provider sheets into the canonical ``participants`` and ``measures`` tables.

Many small charities keep one row per mother with start and end questionnaire
totals side by side::

    Ref no | Date referred | Referred by | Baby's DOB | EPDS at start | EPDS at end | WEMWBS first | ...

:func:`read_wide` turns such a sheet into raw frames (the conventions of
:func:`evalkit.readers.read_file`: canonical column names, every cell a string,
provenance columns, reader notes in ``frame.attrs``) so that the usual
:func:`evalkit.validation.validate` -> :func:`evalkit.ingest.ingest` path runs
unchanged:

* each *instrument x time point* column ("EPDS at start", "PHQ-9 post",
  "GAD-7 T2") becomes ``measures`` rows holding the ``total`` only, with
  ``timepoint`` ``start``/``end``/``mid``/``T2``...;
* their dates come from a date column for that time point ("EPDS start date",
  "Baseline date") where there is one; otherwise from a **stated assumption**
  (:class:`DateAssumptions`): the first time point is dated at the first
  contact date, else the referral date + 14 days; the last at the end date,
  else the start date + 7 days per session attended. Every assumed date is
  listed in :attr:`WideReadResult.assumptions` and marked in the stored
  ``timepoint`` label (``"end [date assumed: end date]"``), so reports can say
  so (:func:`assumed_dates`, :func:`limitations`);
* an attended-sessions count becomes ``participants.sessions_attended`` (the
  dose for programmes without contact rows);
* identifying columns (names, postcodes, dates of birth, NHS numbers, phone
  numbers, emails, addresses) are **left out** and reported; a baby's date of
  birth first becomes ``baby_age_weeks`` (whole weeks at referral) and
  ``perinatal_stage``, a due date ``weeks_pregnant``, a mother's date of birth
  or age ``age_band``;
* everything else maps to ``participants`` through the provider's
  :class:`WideMapping` (proposed by :func:`evalkit.mapping_proposal.propose_mapping`).

What cannot be computed from totals without contact rows is stated by
:func:`limitations`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from evalkit.canonical import SOURCE_FILE, SOURCE_ROW, SOURCE_SHEET
from evalkit.column_mapping import (
    PUNCTUATION_RUNS,
    ColumnMapping,
    normalise_header,
    normalise_value,
    strftime_format,
)
from evalkit.errors import InputFileError
from evalkit.readers.headers import aliases, builtin_value_synonyms, column_letter, match_headers
from evalkit.readers.limits import ReadLimits
from evalkit.readers.messy import (
    SheetTable,
    _cell_text,
    _fill_horizontal,
    _join_header,
    _merged_ranges,
    extract_table,
    grid_from_frame,
    missing_cells,
    read_grids,
    wide_aliases,
)
from evalkit.readers.notes import cell_keys, empty_notes, problem, source_key, with_notes
from evalkit.readers.raw_frame import text_categorical
from evalkit.schemas import table_schema
from evalkit.typing_slips import one_slip_apart
from evalkit.validation.dates import (
    DateReading,
    date_forms,
    describe_date,
    format_to_state,
    not_a_date,
    not_in_stated_format,
    order_votes,
    read_dates,
    written_date_format,
)

__all__ = [
    "ASSUMPTION_COLUMNS",
    "DROPPED_COLUMNS",
    "DateAssumptions",
    "DateFormat",
    "HeaderRole",
    "MeasureColumn",
    "WideMapping",
    "WideReadResult",
    "assumed_dates",
    "classify_header",
    "detect_date_format",
    "limitations",
    "looks_wide",
    "parse_dates",
    "read_wide",
    "read_wide_tables",
    "timepoint_rank",
    "value_lookup",
]

DeriveKind = Literal["baby_dob", "mother_dob", "due_date", "mother_age"]
DERIVE_KINDS: tuple[str, ...] = ("baby_dob", "mother_dob", "due_date", "mother_age")
"""What an identifying column may be turned into before it is dropped."""

_DERIVE_TEXT = {
    "baby_dob": "baby's date of birth -> baby_age_weeks and perinatal_stage, then dropped",
    "mother_dob": "mother's date of birth -> age_band, then dropped",
    "due_date": "due date -> weeks_pregnant and perinatal_stage, then dropped",
    "mother_age": "mother's age in years -> age_band",
}

ASSUMPTION_COLUMNS: tuple[str, ...] = ("file", "sheet", "table", "column", "instrument", "timepoint", "rule", "rows",
                                       "sentence")
"""Columns of :attr:`WideReadResult.assumptions`: one row per assumption used, with how many rows it dated."""

DROPPED_COLUMNS: tuple[str, ...] = ("file", "sheet", "header", "kind", "evidence", "action")
"""Columns of :attr:`WideReadResult.dropped`: identifying columns left out."""

_MARK = re.compile(r"\[([^\]]+)\]")
_PARTICIPANT_DATES = ("referral_date", "offered_date", "first_contact_date", "end_date")
_NUMERIC_FIELDS = ("sessions_attended", "weeks_pregnant", "baby_age_weeks", "deprivation_decile")


# --------------------------------------------------------------------------- mapping


@dataclass(frozen=True)
class DateAssumptions:
    """How questionnaires are dated when the sheet has no date for them (stated in every report).

    Attributes
    ----------
    start_days_after_referral
        The first time point of an instrument with no date column (or a blank
        date) is dated at the mother's ``first_contact_date``; without one, at
        ``referral_date`` + this many days (default 14). ``None``: no such date.
    end_days_per_session
        The last time point is dated at ``end_date``; without one, at the start
        date + this many days per session attended (default 7: weekly
        sessions, so two sessions give the 14 days the default pairing rules
        need). ``None``: no such date.
    first_contact_from_start
        When ``first_contact_date`` is blank but she attended (sessions > 0)
        and has a start score, take the earliest start questionnaire date as
        her first contact date (default True); episodes of programmes without
        contact rows are anchored on it.
    """

    start_days_after_referral: int | None = 14
    end_days_per_session: int | None = 7
    first_contact_from_start: bool = True

    def __post_init__(self) -> None:
        for name in ("start_days_after_referral", "end_days_per_session"):
            v = getattr(self, name)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0 or v > 365):
                raise ValueError(f"assumptions: {name} must be a whole number of days from 0 to 365, or null; got {v!r}")
        if not isinstance(self.first_contact_from_start, bool):
            raise ValueError(f"assumptions: first_contact_from_start must be true or false; got "
                             f"{self.first_contact_from_start!r}")

    def to_dict(self) -> dict[str, Any]:
        return {"start_days_after_referral": self.start_days_after_referral,
                "end_days_per_session": self.end_days_per_session,
                "first_contact_from_start": self.first_contact_from_start}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any] | None) -> DateAssumptions:
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise ValueError("assumptions must be an object")
        unknown = sorted(set(raw) - {"start_days_after_referral", "end_days_per_session", "first_contact_from_start"})
        if unknown:
            raise ValueError(f"assumptions: unknown key(s) {unknown}")
        return cls(**{k: raw[k] for k in raw})


@dataclass(frozen=True)
class MeasureColumn:
    """What a score or questionnaire-date column holds: an instrument (``None``: every instrument) and a time point."""

    instrument: str | None
    timepoint: str

    def to_dict(self) -> dict[str, Any]:
        return {"instrument": self.instrument, "timepoint": self.timepoint}

    @classmethod
    def from_raw(cls, raw: Any, what: str, *, allow_all: bool) -> MeasureColumn:
        if not isinstance(raw, Mapping) or "timepoint" not in raw:
            raise ValueError(f"wide mapping: {what} must be an object with 'instrument' and 'timepoint'; got {raw!r}")
        inst = raw.get("instrument")
        tp = raw.get("timepoint")
        if not isinstance(tp, str) or not tp.strip():
            raise ValueError(f"wide mapping: {what}: timepoint must be text; got {tp!r}")
        if inst is None and not allow_all:
            raise ValueError(f"wide mapping: {what}: instrument is required for a score column")
        if inst is not None and (not isinstance(inst, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", inst)):
            raise ValueError(f"wide mapping: {what}: instrument must be a registry code such as 'epds'; got {inst!r}")
        return cls(inst, tp.strip())


_WIDE_KEYS = frozenset({"kind", "description", "sheet", "header_row", "columns", "scores", "score_dates", "derive",
                        "drop", "values", "date_formats", "constants", "sheet_programmes", "assumptions"})


@dataclass(frozen=True)
class WideMapping(ColumnMapping):
    """A provider's mapping of a one-row-per-mother sheet (a :class:`ColumnMapping` with more parts).

    Saved as JSON with ``"kind": "wide"`` and reused for every later file::

        {
          "kind": "wide",
          "columns": {"Ref no": "participant_id", "Date referred": "referral_date", "Notes": null},
          "scores": {"EPDS at start": {"instrument": "epds", "timepoint": "start"}},
          "score_dates": {"EPDS start date": {"instrument": "epds", "timepoint": "start"}},
          "derive": {"Baby's DOB": "baby_dob"},
          "drop": {"Mum's name": "name", "Postcode": "postcode"},
          "values": {"referral_source": {"HV": "health_visitor"}},
          "date_formats": {"Date referred": "DD/MM/YYYY", "Baby's DOB": "DD/MM/YYYY"},
          "constants": {"programme_id": "P-GROUP"},
          "sheet_programmes": {"Group": "P-GROUP"},
          "assumptions": {"start_days_after_referral": 14, "end_days_per_session": 7,
                          "first_contact_from_start": true}
        }

    Attributes (beyond :class:`ColumnMapping`'s)
    --------------------------------------------
    columns
        Header -> ``participants`` column (``None``: not read on purpose).
    scores
        Header -> :class:`MeasureColumn` of a total score column.
    score_dates
        Header -> :class:`MeasureColumn` of a questionnaire date column
        (``instrument`` ``None``: the date of every instrument at that time point).
    derive
        Header -> one of :data:`DERIVE_KINDS`: an identifying column used to
        derive a safe field, then dropped.
    drop
        Header -> why it is left out (``"name"``, ``"postcode"``, ``"NHS number"``...).
    date_formats
        **Header as written** -> date format (``DD/MM/YYYY``, ``MM/DD/YYYY``,
        ``YYYY-MM-DD`` or a ``strftime`` format), read as a long file's column mapping states it: a cell is read
        in that format, or as an ISO date, a month name or an Excel date number; any other cell (``3.4.25``
        under ``DD/MM/YYYY``) is refused with the format named. Without a stated format the sheet's values
        decide each column's day/month order (the sheet is one file, its questionnaire dates one column).
    sheet_programmes
        Sheet name -> programme id, for a workbook with one sheet per programme.
    sheet, header_row
        Read only this sheet; take this row (1-based) as the header.
    assumptions
        :class:`DateAssumptions` for questionnaires without dates.
    """

    scores: Mapping[str, MeasureColumn] = field(default_factory=dict)
    score_dates: Mapping[str, MeasureColumn] = field(default_factory=dict)
    derive: Mapping[str, str] = field(default_factory=dict)
    drop: Mapping[str, str] = field(default_factory=dict)
    sheet_programmes: Mapping[str, str] = field(default_factory=dict)
    sheet: str | None = None
    header_row: int | None = None
    assumptions: DateAssumptions = field(default_factory=DateAssumptions)
    description: str = ""

    def __post_init__(self) -> None:
        super().__post_init__()
        for header, kind in self.derive.items():
            if kind not in DERIVE_KINDS:
                raise ValueError(f"wide mapping: derive[{header!r}] must be one of {list(DERIVE_KINDS)}; got {kind!r}")
        if self.header_row is not None and (isinstance(self.header_row, bool) or not isinstance(self.header_row, int)
                                            or self.header_row < 1):
            raise ValueError(f"wide mapping: header_row must be a row number (1 or more); got {self.header_row!r}")
        schema = table_schema("participants")
        for header, column in self.columns.items():
            if column is not None and column not in schema.field_names:
                raise ValueError(f"wide mapping: columns[{header!r}] = {column!r} is not a participants column; "
                                 f"expected one of {', '.join(schema.field_names)} (or null)")

    # -- lookups -----------------------------------------------------------------
    def role_for(self, header: str) -> HeaderRole | None:
        """What this mapping says ``header`` is (``None``: the mapping does not name it)."""
        key = normalise_header(header)
        if not key:
            return None
        for written, column in self.columns.items():
            if normalise_header(written) == key:
                return HeaderRole("participant", column) if column is not None else HeaderRole("skip")
        for written, mc in self.scores.items():
            if normalise_header(written) == key:
                return HeaderRole("score", instrument=mc.instrument, timepoint=mc.timepoint)
        for written, mc in self.score_dates.items():
            if normalise_header(written) == key:
                return HeaderRole("score_date", instrument=mc.instrument, timepoint=mc.timepoint)
        for written, kind in self.derive.items():
            if normalise_header(written) == key:
                return HeaderRole("derive", kind, why=_DERIVE_TEXT[kind])
        for written, why in self.drop.items():
            if normalise_header(written) == key:
                return HeaderRole("identifier", why=why)
        return None

    def date_format_for(self, header: str) -> str | None:
        """The stated date format of ``header`` (matched ignoring case and punctuation)."""
        key = normalise_header(header)
        for written, fmt in self.date_formats.items():
            if normalise_header(written) == key:
                return fmt
        return None

    def programme_for_sheet(self, sheet: str | None) -> str | None:
        """Programme id named for ``sheet`` in :attr:`sheet_programmes`."""
        if sheet is None:
            return None
        key = normalise_header(sheet)
        for name, pid in self.sheet_programmes.items():
            if normalise_header(name) == key:
                return pid
        return None

    # -- JSON --------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The mapping as a JSON-ready dict (``"kind": "wide"``)."""
        out: dict[str, Any] = {"kind": "wide"}
        if self.description:
            out["description"] = self.description
        if self.sheet:
            out["sheet"] = self.sheet
        if self.header_row is not None:
            out["header_row"] = self.header_row
        out["columns"] = dict(self.columns)
        out["scores"] = {h: mc.to_dict() for h, mc in self.scores.items()}
        out["score_dates"] = {h: mc.to_dict() for h, mc in self.score_dates.items()}
        out["derive"] = dict(self.derive)
        out["drop"] = dict(self.drop)
        out["values"] = {k: dict(v) for k, v in self.values.items()}
        out["date_formats"] = dict(self.date_formats)
        out["constants"] = dict(self.constants)
        if self.sheet_programmes:
            out["sheet_programmes"] = dict(self.sheet_programmes)
        out["assumptions"] = self.assumptions.to_dict()
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> WideMapping:
        """Build a wide mapping from its dict form (see the class docstring).

        Raises
        ------
        ValueError
            If a key is unknown or a value has the wrong shape (the message names it).
        """
        from evalkit.column_mapping import _str_dict

        if not isinstance(raw, Mapping):
            raise ValueError(f"a wide mapping must be a JSON object; got {type(raw).__name__}")
        if raw.get("kind", "wide") != "wide":
            raise ValueError(f"wide mapping: 'kind' must be 'wide'; got {raw.get('kind')!r}")
        unknown = sorted(set(raw) - _WIDE_KEYS)
        if unknown:
            raise ValueError(f"wide mapping: unknown key(s) {unknown}; allowed keys are {sorted(_WIDE_KEYS)}")
        values_raw = raw.get("values") or {}
        if not isinstance(values_raw, Mapping):
            raise ValueError("wide mapping: 'values' must be an object of column: {value: code}")

        def measure_cols(key: str, allow_all: bool) -> dict[str, MeasureColumn]:
            part = raw.get(key) or {}
            if not isinstance(part, Mapping):
                raise ValueError(f"wide mapping: {key!r} must be an object of header: {{instrument, timepoint}}")
            return {str(h): MeasureColumn.from_raw(v, f"{key}[{h!r}]", allow_all=allow_all) for h, v in part.items()}

        sheet = raw.get("sheet")
        if sheet is not None and not isinstance(sheet, str):
            raise ValueError(f"wide mapping: 'sheet' must be a sheet name; got {sheet!r}")
        return cls(
            columns=_str_dict(raw.get("columns"), "columns", allow_none=True),
            values={str(col): _str_dict(syn, f"values[{col!r}]") for col, syn in values_raw.items()},
            date_formats=_str_dict(raw.get("date_formats"), "date_formats"),
            constants=_str_dict(raw.get("constants"), "constants"),
            scores=measure_cols("scores", False),
            score_dates=measure_cols("score_dates", True),
            derive=_str_dict(raw.get("derive"), "derive"),
            drop=_str_dict(raw.get("drop"), "drop"),
            sheet_programmes=_str_dict(raw.get("sheet_programmes"), "sheet_programmes"),
            sheet=sheet,
            header_row=raw.get("header_row"),
            assumptions=DateAssumptions.from_dict(raw.get("assumptions")),
            description=str(raw.get("description") or ""),
        )

    @classmethod
    def from_json(cls, path: str | Path) -> WideMapping:  # type: ignore[override]
        """Read a wide mapping saved by :meth:`to_json`."""
        import json

        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read wide mapping {path.name}: {exc}") from None
        try:
            return cls.from_dict(raw)
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from None


# --------------------------------------------------------------------------- header words


@dataclass(frozen=True)
class HeaderRole:
    """What one header of a wide sheet holds.

    ``kind`` is ``participant`` (``column`` names the participants column),
    ``score`` / ``score_date`` (``instrument``, ``timepoint``), ``derive``
    (``column`` is a :data:`DERIVE_KINDS` value), ``identifier`` (``why``),
    ``derived_score`` (a change or difference column: recomputed, not read),
    ``skip`` (not read on purpose), ``unknown`` or ``blank``.
    """

    kind: Literal["participant", "score", "score_date", "derive", "identifier", "derived_score", "skip",
                  "unknown", "blank"]
    column: str | None = None
    instrument: str | None = None
    timepoint: str | None = None
    why: str = ""


_JOIN_PREFIX = {"phq", "gad", "core", "qpr", "ucla", "t", "tp", "time", "wave", "review", "week", "wk", "session"}


def _tokens(text: str) -> list[str]:
    """Folded words of a header, with instrument/timepoint numbers joined (``PHQ-9`` -> ``phq9``, ``T 1`` -> ``t1``)."""
    words = normalise_value(text).split()
    out: list[str] = []
    i = 0
    while i < len(words):
        w = words[i]
        if w in _JOIN_PREFIX and i + 1 < len(words) and words[i + 1].isdigit():
            out.append(w + words[i + 1])
            i += 2
            continue
        out.append(w)
        i += 1
    return out


def _find(tokens: list[str], phrase: list[str]) -> int:
    n = len(phrase)
    for i in range(len(tokens) - n + 1):
        if tokens[i:i + n] == phrase:
            return i
    return -1


@cache
def _instrument_phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    phrases = []
    for code, words in wide_aliases()["instruments"].items():
        for w in words:
            phrases.append((tuple(_tokens(w)), code))
    try:
        from evalkit.instruments import builtin_instruments

        for code, inst in builtin_instruments().items():
            if not inst.is_change_measure:
                continue
            for w in (code, inst.definition.get("abbreviation") or ""):
                if w:
                    phrases.append((tuple(_tokens(w)), code))
    except Exception:  # noqa: BLE001 - the word list alone is enough to read a sheet
        pass
    return tuple(sorted(set(phrases), key=lambda p: (-len(p[0]), p[1])))


@cache
def _timepoint_phrases() -> tuple[tuple[tuple[str, ...], str], ...]:
    phrases = [(tuple(_tokens(w)), label) for label, words in wide_aliases()["timepoints"].items() for w in words]
    return tuple(sorted(set(phrases), key=lambda p: -len(p[0])))


@cache
def _numbered() -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in wide_aliases()["numbered_timepoints"])


def _word_set(key: str) -> frozenset[str]:
    return frozenset(" ".join(_tokens(w)) for w in wide_aliases()[key])


def _take_instrument(tokens: list[str]) -> tuple[str | None, list[str]]:
    for phrase, code in _instrument_phrases():
        i = _find(tokens, list(phrase))
        if i >= 0:
            return code, tokens[:i] + tokens[i + len(phrase):]
    return None, tokens


def _take_timepoints(tokens: list[str]) -> tuple[list[str], list[str]]:
    """Time point labels found in ``tokens`` and the tokens left."""
    found: list[str] = []
    rest = list(tokens)
    for phrase, label in _timepoint_phrases():
        while True:
            i = _find(rest, list(phrase))
            if i < 0:
                break
            found.append(label)
            rest = rest[:i] + rest[i + len(phrase):]
    left = []
    for t in rest:
        for rx in _numbered():
            m = rx.match(t) or rx.match(re.sub(r"(\D)(\d)", r"\1 \2", t))
            if m:
                n = int(m.group(1))
                if t.startswith(("week", "wk")):
                    found.append(f"week {n}")
                elif t.startswith("review"):
                    found.append(f"review {n}")
                else:
                    found.append(f"T{n}")
                break
        else:
            left.append(t)
    return found, left


_STRONG_MEASURE_TIMEPOINTS = frozenset({"baseline", "base line", "follow up", "followup", "fu", "pre", "post", "intake",
                                        "review", "midpoint", "mid point", "interim", "t0"})


def _parse_measure_header(header: str) -> HeaderRole | None:
    tokens = _tokens(header)
    if not tokens:
        return None
    instrument, rest = _take_instrument(tokens)
    timepoints, rest = _take_timepoints(rest)
    text_rest = " " + " ".join(rest) + " "
    is_date = any(f" {w} " in text_rest for w in _word_set("date_words"))
    if instrument is None:
        if not (is_date and timepoints):
            return None
        questionnaire = any(f" {w} " in text_rest for w in _word_set("questionnaire_words"))
        strong = any(" ".join(_tokens(w)) in " ".join(tokens) for w in _STRONG_MEASURE_TIMEPOINTS) or \
            any(tp.startswith(("T", "review")) for tp in timepoints)
        if len(set(timepoints)) == 1 and (questionnaire or strong):
            return HeaderRole("score_date", instrument=None, timepoint=timepoints[0])
        return None
    if any(f" {w} " in text_rest for w in _word_set("derived_score_words")):
        return HeaderRole("derived_score", instrument=instrument,
                          why="a change or difference computed by the provider; evalkit computes change itself")
    blocking = [w for w in _word_set("not_total_words") if f" {w} " in text_rest]
    if blocking:
        return HeaderRole("unknown", instrument=instrument,
                          why=f"mentions '{blocking[0]}', so it is not a total score")
    if len(set(timepoints)) != 1:
        why = ("names the instrument but no time point (start, end, T1 ...)" if not timepoints
               else f"names several time points ({', '.join(dict.fromkeys(timepoints))})")
        return HeaderRole("unknown", instrument=instrument, why=why)
    return HeaderRole("score_date" if is_date else "score", instrument=instrument, timepoint=timepoints[0])


@cache
def _participant_aliases() -> dict[str, str]:
    out: dict[str, str] = {}
    for column, words in wide_aliases()["participant_columns"].items():
        for w in words:
            out.setdefault(normalise_header(w), column)
    return out


def _phrase_in(tokens: list[str], words: Sequence[str]) -> bool:
    return any(_find(tokens, _tokens(w)) >= 0 for w in words)


_HEADER_IDS: dict[str, str | None] = {}


def prefetch_headers(headers: Sequence[str]) -> None:
    """Check many headers against :func:`evalkit.pseudonymise.find_identifiers`'s header patterns in one call."""
    from evalkit.pseudonymise import find_identifiers

    new = list(dict.fromkeys(h for h in headers if h and h not in _HEADER_IDS))
    if not new:
        return
    found = find_identifiers(pd.DataFrame({f"c{i}": pd.Series([], dtype="string") for i in range(len(new))}
                                          ).set_axis(new, axis=1))
    kinds = dict(zip(found["column"].astype(str), found["kind"].astype(str), strict=True))
    for h in new:
        _HEADER_IDS[h] = kinds.get(h)


def _identifier_by_header(header: str, *, deep: bool = True) -> str | None:
    """Kind of identifier a header names (``"name"``, ``"postcode"``...), from evalkit's word lists.

    ``deep`` also applies :func:`evalkit.pseudonymise.find_identifiers`'s header patterns.
    """
    tokens = _tokens(header)
    folded = " ".join(tokens)
    data = wide_aliases()
    if _phrase_in(tokens, data["derive"]["postcode_words"]):
        return "postcode"
    for kind, words in data["identifier_words"].items():
        if kind == "name":
            continue
        if folded in {" ".join(_tokens(w)) for w in words}:
            return kind
    if ("name" in tokens or "names" in tokens or "surname" in tokens or "forename" in tokens) and \
            folded not in {" ".join(_tokens(w)) for w in data["name_exempt"]}:
        return "name"
    if deep:
        if header not in _HEADER_IDS:
            prefetch_headers([header])
        if _HEADER_IDS.get(header):
            return _HEADER_IDS[header]
    ids = aliases()["identifier_columns"]
    key = normalise_header(header)
    if key in {normalise_header(w) for w in ids["exact"]} or any(p in key for p in ids["contains"]):
        return "personal details"
    return None


@lru_cache(maxsize=50_000)
def classify_header(header: str, *, deep: bool = True) -> HeaderRole:
    """What a header of a one-row-per-mother sheet most likely holds (no mapping involved).

    Order: blank; a participants column named exactly; a date of birth, due
    date or age (derivable); another identifying column (names, postcodes,
    NHS numbers, phones, emails, addresses); a participants column by evalkit's
    aliases (``aliases.json``, then ``wide_aliases.json``); an instrument with
    a time point (``EPDS at start``, ``PHQ-9 post``, ``GAD-7 T2``) or its date
    (``EPDS start date``, ``Baseline date``); otherwise unknown.

    Examples
    --------
    >>> classify_header("EPDS at start")
    HeaderRole(kind='score', column=None, instrument='epds', timepoint='start', why='')
    >>> classify_header("No. of sessions attended").column
    'sessions_attended'
    >>> classify_header("Baby's DOB").column
    'baby_dob'
    """
    if not str(header).strip():
        return HeaderRole("blank")
    schema = table_schema("participants")
    key = normalise_header(header)
    if key in {normalise_header(f) for f in schema.field_names}:
        return HeaderRole("participant", next(f for f in schema.field_names if normalise_header(f) == key))
    tokens = _tokens(header)
    data = wide_aliases()["derive"]
    if _phrase_in(tokens, data["dob_words"]):
        if _phrase_in(tokens, data["partner_words"]):
            return HeaderRole("identifier", why="date of birth (partner's)")
        if _phrase_in(tokens, data["baby_words"]):
            return HeaderRole("derive", "baby_dob", why=_DERIVE_TEXT["baby_dob"])
        return HeaderRole("derive", "mother_dob", why=_DERIVE_TEXT["mother_dob"])
    if _phrase_in(tokens, data["due_words"]):
        return HeaderRole("derive", "due_date", why=_DERIVE_TEXT["due_date"])
    if " ".join(tokens) in {" ".join(_tokens(w)) for w in data["age_words"]}:
        return HeaderRole("derive", "mother_age", why=_DERIVE_TEXT["mother_age"])
    kind = _identifier_by_header(header, deep=deep)
    if kind is not None:
        return HeaderRole("identifier", why=kind)
    m = match_headers([header], "participants")[0]
    if m.kind == "column" and m.column:
        return HeaderRole("participant", m.column)
    column = _participant_aliases().get(key)
    if column is not None:
        return HeaderRole("participant", column)
    role = _parse_measure_header(header)
    if role is not None:
        return role
    return HeaderRole("unknown")


def suggest_instrument(header: str) -> tuple[str, str] | None:
    """A word of an unknown header one typing slip from an instrument's name, and that instrument's code.

    The word (4 letters or more) differs from a one-word instrument name of the word lists by one letter
    typed, left out, added or two swapped (``EDPS`` -> EPDS, ``WEMBWS`` -> WEMWBS), not by a number
    (``PHQ-8`` is another questionnaire), and the header with the name put right is a score or score date
    header. Only a suggestion for messages: such a column is never read as the instrument.

    Returns
    -------
    tuple[str, str] or None
        ``(word as folded, instrument code)``.
    """
    tokens = _tokens(header)
    names = {phrase[0]: code for phrase, code in _instrument_phrases() if len(phrase) == 1 and len(phrase[0]) >= 4}
    for i, word in enumerate(tokens):
        if len(word) < 4 or word in names:
            continue
        for name, code in sorted(names.items()):
            if re.sub(r"\d", "", word) == re.sub(r"\d", "", name) or not one_slip_apart(word, name):
                continue
            if classify_header(" ".join([*tokens[:i], name, *tokens[i + 1:]])).kind in ("score", "score_date"):
                return word, code
    return None


def header_is_known(header: str) -> bool:
    """Whether :func:`classify_header` recognises ``header`` (a quick check, for finding the header row)."""
    return classify_header(header, deep=False).kind not in ("unknown", "blank")


def timepoint_rank(label: str) -> float:
    """Order of a time point label: start 0, T1..Tn n, week n n, mid 500, review n 500+n, end 1000."""
    low = label.strip().casefold()
    if low == "start":
        return 0.0
    if low == "end":
        return 1000.0
    if low == "mid":
        return 500.0
    m = re.fullmatch(r"(t|week|review)\s*(\d+)", low)
    if m:
        n = float(m.group(2))
        return 500.0 + n if m.group(1) == "review" else n
    return 500.0


def _is_start_like(label: str) -> bool:
    return timepoint_rank(label) <= 1.0


def _is_end_like(label: str) -> bool:
    return timepoint_rank(label) >= 1000.0


# --------------------------------------------------------------------------- dates


@dataclass(frozen=True)
class DateFormat:
    """The date format found in one column.

    Attributes
    ----------
    header
        The column's header as written.
    format
        The format as the column's cells are written, ready to state in a mapping: the day/month order the
        values show with the column's own separators and year length (``"DD/MM/YYYY"``, ``"DD.MM.YY"``,
        ``"MM-DD-YYYY"`` ...; see :func:`written_date_format`), or ``"YYYY-MM-DD"`` for ISO dates. ``None`` when
        it cannot be told, or when the column's day/month/year dates are written in more than one way (a
        stated format would refuse some of them; ``evidence`` says so).
    status
        ``"clear"`` (the values show it), ``"iso"`` (ISO dates or Excel dates),
        ``"ambiguous"`` (every value reads both ways, e.g. ``03/04/2025``),
        ``"mixed"`` (some values only day-first, others only month-first),
        ``"empty"`` or ``"not_dates"``.
    evidence
        A sentence for the provider (e.g. "13/04/2025 can only be day/month/year").
    not_dates
        Values that are not dates at all (first few).
    day_first
        The day/month order the column's own values show (``True`` day/month, ``False`` month/day), even when
        no format is proposed; ``None`` when they show none (ISO, ambiguous, mixed, day and month the same).
    """

    header: str
    format: str | None
    status: str
    evidence: str
    not_dates: tuple[str, ...] = ()
    day_first: bool | None = None


def stated_format(mapping: WideMapping, header: str) -> str | None:
    """The ``strftime`` format the mapping states for ``header`` (``None``: none stated), as validation reads it."""
    fmt = mapping.date_format_for(header)
    return strftime_format(fmt) if fmt else None


def read_date_column(values: pd.Series, fmt: str | None = None, file_order: np.ndarray | None = None
                     ) -> DateReading:
    """Read one date column of one sheet by the rules of :func:`evalkit.validation.dates.read_dates`.

    The sheet is one file for the day/month order. ``fmt`` is the column's format in the mapping
    (``DD/MM/YYYY`` or a ``strftime`` format): as in a long file's column mapping, a cell is read in that format,
    or as an ISO date, a date with its month as a word or an Excel date number; any other cell is not read.
    ``file_order``: the order the sheet's other date columns decide, for a column whose own values decide
    nothing (:func:`evalkit.validation.dates.order_votes`); not used with ``fmt``.
    """
    return read_dates(values, np.zeros(len(values), dtype=np.int64), strftime_format(fmt) if fmt else None,
                      None if fmt else file_order)


def parse_dates(values: pd.Series, fmt: str | None = None) -> tuple[pd.Series, pd.Series]:
    """Read a column of date texts (see :func:`read_date_column`), and say how each cell is written.

    Parameters
    ----------
    values
        Cell texts (missing = None/NA), all from one sheet.
    fmt
        The column's stated format (read as a long file's column mapping states it). Without one, the order
        is decided by the column's values, as :func:`evalkit.validation.dates.read_dates` decides it, and a
        value that reads two ways in a column that decides nothing is left unread.

    Returns
    -------
    (dates, kinds)
        ``dates``: ``datetime64[ns]`` (NaT where missing or unread); ``kinds``:
        per cell how it is written, taken on its own
        (:func:`evalkit.validation.dates.date_forms`: ``iso``, ``named``,
        ``excel``, ``dmy``, ``mdy``, ``same``, ``both``, ``bad``) or missing. The reader itself needs only
        the dates (:func:`read_date_column`).
    """
    reading = read_date_column(values, fmt)
    return pd.Series(reading.values, index=values.index), date_forms(values)


def _own_order(reading: DateReading) -> int:
    """The day/month order a column of one sheet decides by its own values (1, -1, or 0: none)."""
    return int(reading.order[0]) if reading.order is not None and len(reading.order) else 0


@dataclass(frozen=True)
class _SheetDates:
    """A free date column of one sheet (no format stated) read in the sheet's order."""

    reading: DateReading
    order: int  # the order the sheet's other date columns gave its ambiguous cells (0: none was needed or given)
    deciding: str  # those columns, for the warning: "column 'A'" or "columns 'A', 'B'"


def _read_in_sheet_order(columns: Mapping[str, pd.Series], shown: Mapping[str, list[str]]
                         ) -> dict[str, _SheetDates]:
    """Read the free date columns of one sheet as a long file's date columns are read, the sheet being one file.

    Each column is read in the day/month order its own values decide; a column whose values leave some date
    ambiguous is read again in the order the sheet's other free date columns decide together
    (:func:`evalkit.validation.dates.order_votes`), when they agree. ``columns``: cleaned cells by key (the
    questionnaire dates of every time point are one column, as a long file's ``completed_on``); ``shown``: each
    key's header(s) as written, for the warning.
    """
    readings = {k: read_dates(v, np.zeros(len(v), dtype=np.int64)) for k, v in columns.items()}
    orders = {k: np.array([_own_order(r)], dtype=np.int8) for k, r in readings.items()}
    out: dict[str, _SheetDates] = {}
    for k, reading in readings.items():
        order, deciding = 0, ""
        if reading.ambiguous.any():
            votes, said = order_votes({o: v for o, v in orders.items() if o != k}, 1)
            order = int(votes[0])
            if order:
                cells = columns[k]
                reading = read_dates(cells, np.zeros(len(cells), dtype=np.int64), None,
                                     np.full(len(cells), order, dtype=np.int8))
                headers = [f"'{h}'" for o in said[order] for h in shown[o]]
                deciding = ("column " if len(headers) == 1 else "columns ") + ", ".join(headers)
        out[k] = _SheetDates(reading, order, deciding)
    return out


def _order_from_sheet_detail(values: pd.Series, dates: np.ndarray, read: _SheetDates) -> pd.Series:
    """The warning's words after ``Row N, column X:`` for cells read in the order the sheet's other columns decide
    (as validation words its ``date_order_from_file`` warning)."""
    how = " (day/month), like the dates in " if read.order == 1 else " (month/day), like the dates in "
    return ("'" + values.astype(str) + "' could be read either way; it was read as "
            + describe_date(dates).to_numpy(dtype=object) + how + read.deciding
            + " of this sheet. If that is wrong, write it as an ISO date (YYYY-MM-DD).")


def _date_texts(values: pd.Series) -> pd.Series:
    """The column's non-missing cells as stripped text."""
    texts = values.dropna().astype(str).str.strip()
    return texts[~missing_cells(texts)]


def detect_date_format(header: str, values: pd.Series) -> DateFormat:
    """The date format of one column, from its values (see :class:`DateFormat`).

    A value whose first number is over 12 (``13/04/2025``) can only be
    day/month/year; one whose second number is over 12 only month/day/year.
    ISO dates, month names and Excel date numbers fit any format. Each value is
    taken on its own (:func:`evalkit.validation.dates.date_forms`). The format is
    written as the column's cells are (:func:`written_date_format`).
    """
    texts = _date_texts(values)
    if texts.empty:
        return DateFormat(header, None, "empty", "no dates in this column")
    kinds = date_forms(texts)
    counts = kinds.value_counts()
    bad = tuple(pd.unique(texts[kinds == "bad"]).tolist()[:5])
    n_dmy, n_mdy = int(counts.get("dmy", 0)), int(counts.get("mdy", 0))
    n_both, n_same = int(counts.get("both", 0)), int(counts.get("same", 0))
    n_dates = len(texts) - len(texts[kinds == "bad"])
    if n_dates == 0:
        return DateFormat(header, None, "not_dates", f"none of its {len(texts)} values is a date", bad)
    if n_dmy and n_mdy:
        ex_d = texts[kinds == "dmy"].iloc[0]
        ex_m = texts[kinds == "mdy"].iloc[0]
        return DateFormat(header, None, "mixed",
                          f"'{ex_d}' can only be day/month/year but '{ex_m}' can only be month/day/year", bad)
    if n_dmy or n_mdy:
        day_first = bool(n_dmy)
        example = texts[kinds == ("dmy" if day_first else "mdy")].iloc[0]
        evidence = f"'{example}' can only be {'day/month/year' if day_first else 'month/day/year'}"
        fmt, why = written_date_format(texts, day_first)
        if fmt is None:
            evidence += f", but {why}: no date format is proposed, and its dates are read in the order they show"
        return DateFormat(header, fmt, "clear", evidence, bad, day_first)
    if n_both:
        return DateFormat(header, None, "ambiguous",
                          f"every written date reads two ways (e.g. '{texts[kinds == 'both'].iloc[0]}')", bad)
    if n_same:  # day and month the same in every day/month/year date: either order reads them
        fmt, why = written_date_format(texts, True)
        evidence = "day and month are the same in every day/month/year date"
        if fmt is None:
            evidence += f", but {why}: no date format is proposed"
        return DateFormat(header, fmt, "clear", evidence, bad)
    return DateFormat(header, "YYYY-MM-DD", "iso", "ISO dates (or dates stored as dates by Excel)", bad)


# --------------------------------------------------------------------------- values


@cache
def _wide_synonyms(column: str) -> dict[str, str]:
    return {normalise_value(k): v for k, v in wide_aliases()["value_synonyms"].get(column, {}).items()}


@cache
def _unknown_tokens() -> frozenset[str]:
    return frozenset(normalise_value(w) or w for w in wide_aliases()["unknown_tokens"])


def code_variants(spec: Any) -> dict[str, set[str]]:
    """Folded ways of writing each code of a field: the code, its label, and the label's parts.

    ``"Planned ending (agreed end of support)"`` gives ``planned ending (agreed end
    of support)``, ``planned ending`` and ``agreed end of support``; an ONS
    ethnicity label also gives the part after its colon.
    """
    out: dict[str, set[str]] = {}
    for code, label in (spec.codes or {}).items():
        v = {normalise_value(code), normalise_value(label)}
        head = label.split(" (")[0]
        v.add(normalise_value(head))
        if "(" in label:
            v.add(normalise_value(label.split("(", 1)[1].rstrip(")")))
        if ":" in label:
            v.add(normalise_value(label.split(":", 1)[1]))
        for part in head.replace(";", "/").split("/"):
            v.add(normalise_value(part))
        out[code] = {x for x in v if x}
    return out


@cache
def _label_lookup(column: str) -> dict[str, str]:
    """Folded code or label variant -> code, for variants that name one code only."""
    schema = table_schema("participants")
    if column not in schema.field_names:
        return {}
    owners: dict[str, set[str]] = {}
    for code, vs in code_variants(schema.field(column)).items():
        for v in vs:
            owners.setdefault(v, set()).add(code)
    return {v: next(iter(cs)) for v, cs in owners.items() if len(cs) == 1}


def value_lookup(column: str, mapping: ColumnMapping | None = None) -> dict[str, str]:
    """Folded value -> code for ``column``: codes and labels, evalkit's synonyms, then the provider's (theirs win)."""
    out = {**_label_lookup(column), **builtin_value_synonyms(column), **_wide_synonyms(column)}
    if mapping is not None:
        out.update(mapping.value_synonyms(column))
    return out


def _clean(values: pd.Series, column: str | None, lookup: Mapping[str, str]) -> pd.Series:
    """Stripped texts with synonyms applied, missing-value words blank, 'N/K' as ``unknown`` where that is a code.

    Worked out once per distinct cell, with pandas string methods over those values, then spread to the rows.
    """
    has_unknown = False
    if column is not None:
        spec = table_schema("participants").field(column) if column in table_schema("participants").field_names \
            else None
        has_unknown = bool(spec and spec.codes and "unknown" in spec.codes)
    codes, uniques = pd.factorize(values.astype(object), use_na_sentinel=True)
    text = pd.Series(uniques, dtype=object).astype(str).astype(object).str.strip()
    key = text.str.casefold().str.replace(PUNCTUATION_RUNS, " ", regex=True).str.strip()  # normalise_value
    out = text.where(~missing_cells(text), None)
    if has_unknown:
        out = out.where(~key.where(key != "", text).isin(_unknown_tokens()), "unknown")
    if lookup:
        synonym = key.map(lookup)
        out = out.where(synonym.isna(), synonym)
    chosen = np.concatenate([np.array([None], dtype=object), out.to_numpy(dtype=object)])
    return pd.Series(chosen.take(np.add(codes, 1, dtype=np.int64)), index=values.index, dtype=object)


_WHOLE = re.compile(r"^\s*([-+]?\d+)(?:\.0+)?\s*$")
_DECIMAL = re.compile(r"^\s*([-+]?\d+[.,]\d+)\s*$")


def _number_text(values: pd.Series) -> pd.Series:
    """Numbers typed as text made plain: ``"12 "`` and ``"12.0"`` -> ``"12"``, ``"3,5"`` -> ``"3.5"``."""
    def one(v: Any) -> Any:
        if v is None:
            return None
        m = _WHOLE.match(str(v))
        if m:
            return str(int(m.group(1)))
        m = _DECIMAL.match(str(v))
        if m:
            return m.group(1).replace(",", ".")
        return str(v).strip()

    return values.map(one).astype(object)


@cache
def _swemwbs_inverse() -> dict[float, int]:
    try:
        from evalkit.instruments import builtin_instruments

        table = builtin_instruments()["swemwbs"].conversion_table or {}
    except Exception:  # noqa: BLE001
        return {}
    return {round(float(v), 2): int(k) for k, v in table.items()}


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class WideReadResult:
    """What :func:`read_wide` produced.

    Attributes
    ----------
    raw
        Raw frames by table (``participants``, ``measures``) with the
        conventions of :func:`evalkit.readers.read_file`; pass them to
        :func:`evalkit.validation.validate`.
    mapping
        The mapping used (the proposed one when none was given).
    assumptions
        One row per assumption used to date questionnaires or first contacts
        (:data:`ASSUMPTION_COLUMNS`): ``sentence`` is what a report prints.
    dropped
        Identifying columns left out (:data:`DROPPED_COLUMNS`).
    problems
        Everything the reader reported (the report columns of
        :data:`evalkit.canonical.REPORT_COLUMNS`); also carried in the raw
        frames' notes, so validation reports them.
    layout
        Sentences about each sheet's layout (header row, titles, spacer columns).
    """

    raw: dict[str, pd.DataFrame]
    mapping: WideMapping
    assumptions: pd.DataFrame
    dropped: pd.DataFrame
    problems: pd.DataFrame
    layout: tuple[str, ...] = ()

    def limitations(self) -> list[str]:
        """:func:`limitations` of these frames (as raw text, before validation), with the assumptions."""
        return limitations(self.raw, assumptions=self.assumptions)


@dataclass
class _Part:
    participants: pd.DataFrame
    measures: pd.DataFrame
    problems: list[dict[str, Any]]
    assumptions: list[dict[str, Any]]
    dropped: list[dict[str, Any]]
    p_headers: dict[str, str]
    m_headers: dict[str, str]
    date_formats: dict[str, dict[str, str]] = field(default_factory=dict)
    cell_date_formats: dict[str, dict[str, str]] = field(default_factory=dict)


def _age_band(years: np.ndarray) -> np.ndarray:
    bands = np.array(["under_20", "20_24", "25_29", "30_34", "35_39", "40_plus"], dtype=object)
    idx = np.clip(np.floor((years - 15) / 5).astype(int), 0, 5)
    idx = np.where(years < 20, 0, idx)
    return bands[idx]


def _years_between(born: pd.Series, at: pd.Series) -> np.ndarray:
    b, a = pd.DatetimeIndex(born), pd.DatetimeIndex(at)
    years = a.year - b.year - ((a.month < b.month) | ((a.month == b.month) & (a.day < b.day))).astype(int)
    return np.asarray(years, dtype=float)


def _iso(dates: pd.Series) -> pd.Series:
    return pd.Series(np.where(dates.notna(), dates.dt.strftime("%Y-%m-%d"), None), index=dates.index, dtype=object)


def _read_table(table: SheetTable, mapping: WideMapping, programme_id: str | None) -> _Part:
    n = len(table.cells)
    file, sheet = table.file, table.sheet
    problems: list[dict[str, Any]] = []
    dropped: list[dict[str, Any]] = []
    assumptions: list[dict[str, Any]] = []

    def where(pos: int) -> str:
        h = table.headers[pos]
        letter = column_letter(table.columns[pos] - 1)
        return f"Column {letter} ('{h}')" if h.strip() else f"Column {letter} (no header)"

    def note(tbl: str, row: int, column: str, value: str, rule: str, message: str, severity: str = "warning") -> None:
        problems.append(problem(file=file, sheet=sheet, table=tbl, source_row=row, column=column, value=value,
                                rule=rule, message=message, severity=severity))

    for p in table.problems:  # an error (a row split into too many cells) sets the mother's row aside
        note("participants", p["source_row"], "", p["value"], p["rule"], p["message"], p.get("severity", "warning"))

    cells = {pos: table.cells[pos] if pos in table.cells.columns else pd.Series([None] * n, dtype=object)
             for pos in range(len(table.headers))}
    roles: dict[int, HeaderRole] = {}
    agreed: set[int] = set()  # identifying columns the mapping says to leave out (accepted at the mapping step)
    for pos, header in enumerate(table.headers):
        role = mapping.role_for(header) if header.strip() else None
        if role is not None and role.kind in ("identifier", "derive"):
            agreed.add(pos)
        if role is None:
            guess = classify_header(header)
            if guess.kind == "identifier" or (guess.kind == "derive"):
                role = HeaderRole("identifier", why=guess.why or "personal details")
            elif guess.kind == "blank":
                role = guess
            else:
                role = HeaderRole("unknown", why="not in the mapping")
        roles[pos] = role

    # a column whose values are identifiers is never taken, whatever its header says
    from evalkit.pseudonymise import find_identifiers

    probe_pos = [p for p, r in roles.items() if r.kind in ("participant", "unknown", "skip")
                 and could_identify(cells[p])]
    if probe_pos and n:
        probe = pd.DataFrame({f"__{p}": cells[p].astype("string") for p in probe_pos})
        found = find_identifiers(probe)
        for row in found.itertuples(index=False):
            pos = int(str(row.column)[2:])
            if roles[pos].kind == "identifier":
                continue
            roles[pos] = HeaderRole("identifier", why=f"{row.kind} ({row.matches} of {row.checked} values)")
            agreed.discard(pos)

    for pos, role in roles.items():
        header = table.headers[pos]
        has_data = bool(cells[pos].notna().any())
        if role.kind == "identifier":
            dropped.append({"file": file, "sheet": sheet or "", "header": header, "kind": role.why,
                            "evidence": "values" if " of " in role.why else "header", "action": "dropped"})
            extra = (" Derive the deprivation decile (IMD) from it before upload and give it as "
                     "'IMD decile'; the postcode itself is never stored." if "postcode" in role.why else "")
            if pos in agreed:
                note("participants", table.header_row, header, header, "identifier_dropped",
                     f"{where(pos)} holds identifying details ({role.why}); as the mapping says, it was left out "
                     f"and is never stored. evalkit needs only a reference number.{extra}")
            else:
                note("participants", table.header_row, header, header, "identifier_column",
                     f"{where(pos)} looks like identifying details ({role.why}) but the mapping does not say to "
                     "leave it out (a new column, or values that changed). It was not read, and uploads with it "
                     "are refused until the mapping is updated: run 'evalkit map' on this file with --mapping, "
                     f"check the summary and save it.{extra}")
        elif role.kind == "derived_score":
            note("participants", table.header_row, header, header, "derived_column",
                 f"{where(pos)} is {role.why}; it was not read.")
        elif role.kind == "unknown" and has_data:
            why = f" ({role.why})" if role.why and role.why != "not in the mapping" else ""
            note("participants", table.header_row, header, header, "unknown_column",
                 f"{where(pos)} is not in the column mapping{why}, so it was not read. If it holds something "
                 "evalkit should keep, run 'evalkit map' again or add it to the mapping.")
        elif role.kind == "blank" and has_data:
            note("participants", table.header_row, "", "", "unknown_column",
                 f"{where(pos)} has data but no header, so it was not read.")

    # ---- participants columns ------------------------------------------------------
    schema = table_schema("participants")
    part: dict[str, pd.Series] = {}
    p_headers: dict[str, str] = {}
    for pos, role in roles.items():
        if role.kind != "participant" or role.column is None:
            continue
        column = role.column
        if column in part:
            note("participants", table.header_row, table.headers[pos], table.headers[pos], "duplicate_column",
                 f"{where(pos)} means the same as the earlier column '{p_headers[column]}' ({column}); only the "
                 "first one was read.")
            continue
        spec = schema.field(column)
        values = _clean(cells[pos], column, value_lookup(column, mapping))
        if spec.type in ("integer", "number"):
            values = _number_text(values)
        elif column == "main_language":  # ISO codes are lower case: "EN" -> "en"
            code = values.astype("string").str.fullmatch(r"[A-Za-z]{2,3}").fillna(False).to_numpy(dtype=bool)
            values = values.where(~code, values.astype("string").str.lower().astype(object))
        part[column] = values
        p_headers[column] = table.headers[pos]

    frame = pd.DataFrame(part, index=range(n), dtype=object)
    const = programme_id or mapping.constants.get("programme_id") or mapping.programme_for_sheet(sheet)
    if "programme_id" in frame.columns:
        if const:
            frame["programme_id"] = frame["programme_id"].where(frame["programme_id"].notna(), const)
    elif const:
        frame["programme_id"] = const
    for column, value in mapping.constants.items():
        if column != "programme_id" and column in schema.field_names:
            frame[column] = frame[column].where(frame[column].notna(), value) if column in frame.columns else value

    # ---- dates: the sheet's date columns decide the day/month order together ----------------
    score_cols = [(pos, r) for pos, r in roles.items() if r.kind == "score" and r.instrument and r.timepoint]
    date_cols = {(r.instrument, r.timepoint): pos for pos, r in roles.items() if r.kind == "score_date"}
    ordered = sorted(score_cols, key=lambda pr: (pr[1].instrument or "", timepoint_rank(pr[1].timepoint or "")))
    score_totals = {pos: _number_text(_clean(cells[pos], None, {})) for pos, _ in ordered}
    score_date_pos = {pos: date_cols.get((r.instrument, r.timepoint), date_cols.get((None, r.timepoint)))  # type: ignore[arg-type]
                      for pos, r in ordered}
    # only the dates of a score's rows are questionnaire dates, as the measures table holds them
    score_date_cells = {pos: _clean(cells[dp], None, {}).where(score_totals[pos].notna(), None)
                        for pos, dp in score_date_pos.items() if dp is not None}
    derive_dates = {pos: _clean(cells[pos], None, {}) for pos, r in roles.items()
                    if r.kind == "derive" and r.column in ("baby_dob", "mother_dob", "due_date")}
    sheet_dates = _read_sheet_dates(frame, p_headers, mapping, table, score_date_cells, score_date_pos, derive_dates,
                                    {pos: (r.instrument or "", r.timepoint or "") for pos, r in ordered})
    problems.extend(sheet_dates.problems)
    read = sheet_dates.participants
    referral = read["referral_date"]

    # ---- identifying columns turned into safe fields ---------------------------------
    for pos, role in roles.items():
        if role.kind != "derive" or role.column is None:
            continue
        header = table.headers[pos]
        values = _clean(cells[pos], None, {})
        dropped.append({"file": file, "sheet": sheet or "", "header": header,
                        "kind": "age" if role.column == "mother_age" else "date of birth" if "dob" in role.column
                        else "due date", "evidence": "header", "action": _DERIVE_TEXT[role.column]})
        note("participants", table.header_row, header, header, "identifier_dropped",
             f"{where(pos)} ({_DERIVE_TEXT[role.column].split(' -> ')[0]}) was used to derive "
             f"{_DERIVE_TEXT[role.column].split(' -> ')[1].split(',')[0]} and is never stored.")
        if role.column == "mother_age":
            ages = pd.to_numeric(_number_text(values), errors="coerce").to_numpy(dtype=float)
            ok = (ages >= 12) & (ages <= 60)
            _fill(frame, "age_band", _where(ok, _age_band(np.where(ok, ages, 30)), frame.index))
            _report_bad(note, table, values.notna().to_numpy() & ~ok, header, values,
                        "is not an age in years from 12 to 60, so no age band was derived")
            continue
        reading = sheet_dates.derived[pos]
        dates = pd.Series(reading.values, index=frame.index)
        unread = (values.notna() & dates.isna()).to_numpy()
        _report_unread_dates(note, table, unread, header, values, reading, mapping.date_format_for(header))
        no_ref = dates.notna() & referral.isna()
        _report_bad(note, table, no_ref.to_numpy(), header, values,
                    "cannot be used without a referral date, so nothing was derived from it")
        if role.column == "mother_dob":
            years = _years_between(dates.fillna(pd.Timestamp("2000-01-01")), referral.fillna(pd.Timestamp("2030-01-01")))
            ok = (dates.notna() & referral.notna()).to_numpy() & (years >= 12) & (years <= 60)
            _report_bad(note, table, (dates.notna() & referral.notna()).to_numpy() & ~ok, header, values,
                        "gives an age at referral outside 12-60 years, so no age band was derived (a two-digit "
                        "year is read as 20xx, as in every date column: write the year in full)")
            _fill(frame, "age_band", _where(ok, _age_band(np.where(ok, years, 30)), frame.index))
        elif role.column == "baby_dob":
            days = (referral - dates).dt.days.to_numpy(dtype=float)
            born = np.isfinite(days) & (days >= 0)
            weeks = np.floor(days / 7.0)
            too_old = born & (weeks > 156)
            _report_bad(note, table, too_old, header, values,
                        "is more than three years before the referral date, so no baby age was derived")
            ok = born & ~too_old
            _fill(frame, "baby_age_weeks", _where(ok, np.where(ok, weeks, 0).astype(int).astype(str), frame.index))
            _fill(frame, "perinatal_stage", _where(ok, "postnatal", frame.index))
            unborn = np.isfinite(days) & (days < 0)
            _fill(frame, "perinatal_stage", _where(unborn, "antenatal", frame.index))
            _report_bad(note, table, unborn, header, values,
                        "is after the referral date, so she was pregnant at referral: perinatal_stage was set to "
                        "antenatal, but weeks pregnant cannot be derived from a birth date (add a 'weeks pregnant' "
                        "or 'due date' column)")
        elif role.column == "due_date":
            days = (dates - referral).dt.days.to_numpy(dtype=float)
            ok = np.isfinite(days) & (days >= 0) & (days <= 44 * 7)
            weeks = np.floor(40.0 - days / 7.0)
            ok &= weeks >= 0
            _fill(frame, "weeks_pregnant", _where(ok, np.where(ok, weeks, 0).astype(int).astype(str), frame.index))
            _fill(frame, "perinatal_stage", _where(ok, "antenatal", frame.index))
            _report_bad(note, table, np.isfinite(days) & ~ok, header, values,
                        "is not within 44 weeks after the referral date, so no weeks pregnant were derived")

    # ---- measures ---------------------------------------------------------------------
    ranks: dict[str, list[float]] = {}
    for _pos, r in score_cols:
        ranks.setdefault(r.instrument or "", []).append(timepoint_rank(r.timepoint or ""))
    first_contact, end_date = read["first_contact_date"], read["end_date"]
    sessions = pd.to_numeric(frame["sessions_attended"], errors="coerce") if "sessions_attended" in frame.columns \
        else pd.Series(np.nan, index=frame.index)
    a = mapping.assumptions
    start_default = first_contact.copy()
    start_rule = _where(first_contact.notna(), "first contact date", frame.index)
    if a.start_days_after_referral is not None:
        fallback = referral + pd.Timedelta(days=a.start_days_after_referral)
        use = start_default.isna() & referral.notna()
        start_default = start_default.where(~use, fallback)
        start_rule = start_rule.where(~use, f"referral date + {a.start_days_after_referral} days")

    pid = frame["participant_id"] if "participant_id" in frame.columns else pd.Series([None] * n, dtype=object)
    prog = frame["programme_id"] if "programme_id" in frame.columns else pd.Series([None] * n, dtype=object)
    m_parts: list[pd.DataFrame] = []
    start_dates: dict[str, pd.Series] = {}
    # a measure's total (and date) come from one of several columns, but a message names one header per sheet:
    # every column is named ("EPDS at start or WEMWBS at end"), never only the first
    m_headers: dict[str, str] = {"total": _either([table.headers[pos] for pos, _ in ordered])} if ordered else {}
    date_headers: list[str] = []
    for pos, role in ordered:
        inst, tp = role.instrument or "", role.timepoint or ""
        header = table.headers[pos]
        rks = ranks[inst]
        rank = timepoint_rank(tp)
        is_first = rank == min(rks) and (len(rks) > 1 or _is_start_like(tp))
        is_last = rank == max(rks) and not is_first and (len(rks) > 1 or _is_end_like(tp))
        totals = score_totals[pos]
        if inst == "swemwbs":
            inv = _swemwbs_inverse()
            as_num = pd.to_numeric(totals, errors="coerce")
            metric = as_num.notna() & (as_num != np.floor(as_num)) & as_num.round(2).isin(list(inv))
            if metric.any():
                totals = totals.where(~metric, as_num.round(2).map(inv).astype("Int64").astype(str))
                note("measures", table.header_row, header, header, "converted_total",
                     f"{where(pos)}: {int(metric.sum())} SWEMWBS total(s) were metric scores (with decimals); they "
                     "were turned back into the raw sum of the seven items (7-35), which is what evalkit stores.")
        present = totals.notna()
        date_pos = score_date_pos[pos]
        dates = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        raw_dates = pd.Series([None] * n, index=frame.index, dtype=object)
        if date_pos is not None:
            dates, raw_dates = sheet_dates.measures[pos]
            date_headers.append(table.headers[date_pos])
            m_headers["completed_on"] = _either(date_headers)
        rule = pd.Series([None] * n, index=frame.index, dtype=object)
        need = present & dates.isna() & raw_dates.isna()
        if is_first:
            fill = need & start_default.notna()
            dates = dates.where(~fill, start_default)
            rule = rule.where(~fill, start_rule)
        elif is_last:
            fill = need & end_date.notna()
            dates = dates.where(~fill, end_date)
            rule = rule.where(~fill, "end date")
            if a.end_days_per_session is not None:
                base = start_dates.get(inst, start_default)
                later = base + pd.to_timedelta(sessions * a.end_days_per_session, unit="D")
                fill2 = need & dates.isna() & later.notna()
                dates = dates.where(~fill2, later)
                rule = rule.where(~fill2, f"start date + {a.end_days_per_session} days per session attended")
        if is_first:
            start_dates[inst] = dates
        nodate = present & dates.isna() & raw_dates.isna()
        for i in np.flatnonzero(nodate.to_numpy()):
            reason = ("it is a middle time point, which is only dated from a date column" if not (is_first or is_last)
                      else "the sheet has no date for it and none of the assumptions applies (no first contact or "
                      "referral date for a start score; no end date or sessions count for an end score)")
            note("measures", int(table.source_rows[i]), header, str(totals.iloc[i]), "no_date",
                 f"Row {int(table.source_rows[i])}: {_abbr(inst)} {tp} score {totals.iloc[i]} has no date: {reason}. "
                 f"Add a column '{header} date' or an end date.")
        for r in pd.unique(rule.dropna()):
            k = int((rule == r).sum())
            assumptions.append({"file": file, "sheet": sheet or "", "table": "measures", "column": "completed_on",
                                "instrument": inst, "timepoint": tp, "rule": str(r), "rows": k,
                                "sentence": f"{k} {_abbr(inst)} {tp} score(s) in {table.where} had no date; they "
                                            f"were dated at the {r} (an assumption)."})
        label = pd.Series(tp, index=frame.index, dtype=object)
        label = label.where(rule.isna(), tp + " [date assumed: " + rule.astype(str) + "]")
        completed = raw_dates.where(raw_dates.notna(), _iso(dates))
        keep = present.to_numpy()
        m_parts.append(pd.DataFrame({
            "programme_id": prog[keep].to_numpy(dtype=object), "participant_id": pid[keep].to_numpy(dtype=object),
            "instrument": inst, "completed_on": completed[keep].to_numpy(dtype=object),
            "timepoint": label[keep].to_numpy(dtype=object), "total": totals[keep].to_numpy(dtype=object),
            "_rank": rank, "_row": np.flatnonzero(keep), "_date": dates[keep].to_numpy(),
        }))
    measures = pd.concat(m_parts, ignore_index=True) if m_parts else pd.DataFrame(
        columns=["programme_id", "participant_id", "instrument", "completed_on", "timepoint", "total", "_rank", "_row",
                 "_date"])

    # first contact date from the earliest start questionnaire
    assumed_first_contact = np.zeros(n, dtype=bool)
    if a.first_contact_from_start and len(measures):
        attended = (sessions > 0) | (sessions.isna() & ~_says_no(frame.get("took_up"), frame.index))
        starts = measures[(measures["_rank"] == measures.groupby("instrument")["_rank"].transform("min"))
                          & pd.notna(measures["_date"])]
        earliest = starts.groupby("_row")["_date"].min()
        rows = earliest.index.to_numpy()
        blank = (first_contact.isna() & attended).to_numpy()
        if "first_contact_date" in frame.columns:
            blank = blank & frame["first_contact_date"].isna().to_numpy()
        rows = rows[blank[rows]]
        if len(rows):
            fc = pd.Series([None] * n, index=frame.index, dtype=object)
            fc.iloc[rows] = pd.to_datetime(earliest.loc[rows].to_numpy()).strftime("%Y-%m-%d")
            _fill(frame, "first_contact_date", fc)
            assumed_first_contact[rows] = True
            hit = measures["_row"].isin(rows) & (measures["_date"] == measures["_row"].map(earliest))
            hit &= measures["_rank"] == measures.groupby("instrument")["_rank"].transform("min")
            measures.loc[hit, "timepoint"] = measures.loc[hit, "timepoint"].astype(str) + \
                " [first contact date assumed from this date]"
            assumptions.append({"file": file, "sheet": sheet or "", "table": "participants",
                                "column": "first_contact_date", "instrument": "", "timepoint": "", "rule":
                                "earliest start questionnaire date", "rows": int(len(rows)),
                                "sentence": f"{len(rows)} mother(s) in {table.where} had sessions but no first "
                                            "contact date; it was taken to be the date of her first start "
                                            "questionnaire (an assumption)."})

    # she attended sessions (or has a first contact date), so she took up the offer
    attended_any = (sessions > 0).to_numpy() | first_contact.notna().to_numpy() | assumed_first_contact
    took = frame["took_up"] if "took_up" in frame.columns else pd.Series([None] * n, index=frame.index, dtype=object)
    implied = attended_any & took.isna().to_numpy()
    if implied.any():
        _fill(frame, "took_up", _where(implied, "yes", frame.index))
        assumptions.append({"file": file, "sheet": sheet or "", "table": "participants", "column": "took_up",
                            "instrument": "", "timepoint": "", "rule": "attended sessions imply took up",
                            "rows": int(implied.sum()),
                            "sentence": f"{int(implied.sum())} mother(s) in {table.where} had no 'took up' value "
                                        "but attended sessions (or had a first contact date), so took_up was set "
                                        "to yes."})

    # one questionnaire per participant, instrument and date (the natural key)
    if len(measures):
        # the same date however it was written (an Excel date number stays as written until validation)
        when = pd.Series(pd.to_datetime(measures["_date"]), index=measures.index).dt.strftime("%Y-%m-%d")
        when = when.where(when.notna(), measures["completed_on"])
        dup = (measures.assign(_when=when).duplicated(["_row", "instrument", "_when"], keep="first")
               & measures["completed_on"].notna())
        for r in measures[dup].to_dict("records"):
            row = int(table.source_rows[int(r["_row"])])
            note("measures", row, str(r["instrument"]), str(r["total"]), "same_date",
                 f"Row {row}: two {_abbr(str(r['instrument']))} scores fall on the same date ({r['completed_on']}); "
                 f"only the earlier time point was kept (the {str(r['timepoint']).split(' [')[0]} score "
                 f"{r['total']} was not). Give each time point its own date.")
        measures = measures[~dup]
    measures = measures.assign(**{SOURCE_ROW: table.source_rows[measures["_row"].to_numpy(dtype=int)]
                                  if len(measures) else np.zeros(0, dtype=np.int64)})
    measures = measures.drop(columns=["_rank", "_row", "_date"]).reset_index(drop=True)
    frame[SOURCE_ROW] = table.source_rows
    for f in (frame, measures):
        f[SOURCE_FILE] = file
        f[SOURCE_SHEET] = sheet
    keep_rows = frame.drop(columns=[SOURCE_ROW, SOURCE_FILE, SOURCE_SHEET]).notna().any(axis=1)
    frame = frame[keep_rows.to_numpy()]
    return _Part(frame, measures, problems, assumptions, dropped, p_headers, m_headers, sheet_dates.formats,
                 sheet_dates.cell_formats)


def _flags(mask: np.ndarray | None, n: int) -> np.ndarray:
    """A :class:`DateReading` flag as a boolean array (``None``: no cell flagged)."""
    return np.zeros(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


@dataclass(frozen=True)
class _SheetDateReading:
    """The dates of one sheet's date columns, read with the day/month order decided once for the sheet."""

    participants: dict[str, pd.Series]  # by participants date column: datetime64[ns], NaT where blank or unread
    measures: dict[int, tuple[pd.Series, pd.Series]]  # by score column: its dates, and the cells passed on as written
    derived: dict[int, DateReading]  # by identifying date column: its reading
    problems: list[dict[str, Any]]  # date_order_from_file warnings
    formats: dict[str, dict[str, str]]  # by table, the strftime formats validation is told (as a long file's)
    cell_formats: dict[str, dict[str, str]]  # by measures column, the format of each cell passed on as written


def measures_date_format(mapping: WideMapping) -> str | None:
    """The ``strftime`` format of ``measures.completed_on`` validation is told: the format every questionnaire-date
    column of ``mapping`` states, when they all state the same one (``None`` otherwise)."""
    stated = {stated_format(mapping, h) for h in mapping.score_dates}
    return next(iter(stated)) if len(stated) == 1 else None


def _read_sheet_dates(frame: pd.DataFrame, p_headers: Mapping[str, str], mapping: WideMapping, table: SheetTable,
                      score_date_cells: Mapping[int, pd.Series], score_date_pos: Mapping[int, int | None],
                      derive_dates: Mapping[int, pd.Series],
                      score_measures: Mapping[int, tuple[str, str]]) -> _SheetDateReading:
    """Read every date column of one sheet as validation reads the long file of the same cells.

    A column whose format the mapping states is read in that format (a ``participants`` column, and the
    questionnaire dates when every questionnaire-date column states the same format, stay as written: validation
    is told the format, so it reads and reports them as it does a long file's). When the questionnaire-date
    columns state different formats (or some state none), validation is told the format of each of their cells it
    gets as written (``cell_date_formats``, keyed by the instrument and time point of each score column,
    ``score_measures``), so it reads and reports that cell in its own column's format, never without one, nor
    another column's. The other date columns - each
    ``participants`` date column, the questionnaire dates of every time point together (one column in the
    ``measures`` table), each identifying date column - are read as one file's date columns
    (:func:`_read_in_sheet_order`). A date read in the order other columns decided is passed on as an ISO date
    with a ``date_order_from_file`` warning; a questionnaire date read is passed on as an ISO date; an unread cell
    or an Excel date number stays as written, so validation reports it.
    """
    n = len(frame)
    file, sheet = table.file, table.sheet
    problems: list[dict[str, Any]] = []
    nat = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
    participants = {c: nat for c in _PARTICIPANT_DATES}
    free: dict[str, pd.Series] = {}
    shown: dict[str, list[str]] = {}
    for c in (c for c in _PARTICIPANT_DATES if c in frame.columns):
        fmt = mapping.date_format_for(p_headers[c]) if c in p_headers else None
        if fmt:
            participants[c] = pd.Series(read_date_column(frame[c], fmt).values, index=frame.index)
        else:
            free[c], shown[c] = frame[c], [p_headers.get(c, c)]
    m_format = measures_date_format(mapping)
    on_own = {pos: fmt for pos, dp in score_date_pos.items()
              if dp is not None and (fmt := mapping.date_format_for(table.headers[dp]))}
    together = [pos for pos in score_date_cells if pos not in on_own]
    if together:
        free["completed_on"] = pd.concat([score_date_cells[pos] for pos in together], ignore_index=True)
        shown["completed_on"] = list(dict.fromkeys(table.headers[score_date_pos[pos]] for pos in together))  # type: ignore[index]
    derived: dict[int, DateReading] = {}
    for pos, values in derive_dates.items():
        fmt = mapping.date_format_for(table.headers[pos])
        if fmt:
            derived[pos] = read_date_column(values, fmt)
        else:
            free[f"derive {pos}"], shown[f"derive {pos}"] = values, [table.headers[pos]]
    read = _read_in_sheet_order(free, shown)

    def warn(tbl: str, column: str, header: str, at: np.ndarray, values: pd.Series, r: _SheetDates) -> None:
        if not at.any():
            return
        detail = _order_from_sheet_detail(values[at], r.reading.values[at], r)
        named = f"'{header}' ({column})" if normalise_header(header) != normalise_header(column) else f"'{column}'"
        for row, value, text in zip(table.source_rows[at], values[at], detail, strict=True):
            problems.append(problem(file=file, sheet=sheet, table=tbl, source_row=int(row), column=column,
                                    value=str(value), rule="date_order_from_file", severity="warning",
                                    message=f"Row {int(row)}, column {named}: {text}"))

    for key, r in read.items():
        if key in participants:
            dates = pd.Series(r.reading.values, index=frame.index)
            participants[key] = dates
            by_order = _flags(r.reading.by_file_order, n)
            if by_order.any():  # validation is not told the sheet's other columns: it gets these dates as ISO dates
                warn("participants", key, shown[key][0], by_order, frame[key], r)
                frame[key] = frame[key].where(~by_order, _iso(dates))
        elif key.startswith("derive "):
            derived[int(key.split()[1])] = r.reading

    measures: dict[int, tuple[pd.Series, pd.Series]] = {}
    by_cell: dict[str, str] = {}
    for pos, fmt in on_own.items():
        cells = score_date_cells[pos]
        reading = read_date_column(cells, fmt)
        dates = pd.Series(reading.values, index=frame.index)
        if m_format is not None:  # validation is told the format: every cell goes as written
            measures[pos] = (dates, cells)
        else:
            as_written = dates.isna().to_numpy() | _flags(reading.excel_serial, n)
            measures[pos] = (dates, cells.where(as_written, None))
            # validation reads the questionnaire dates of other formats too: it is told this cell's own
            written = as_written & cells.notna().to_numpy()
            instrument, timepoint = score_measures[pos]
            keys = cell_keys(source_key(file, sheet), table.source_rows[written], instrument, timepoint,
                             cells[written])
            by_cell.update(dict.fromkeys(keys, strftime_format(fmt)))
    if together:
        r = read["completed_on"]
        for i, pos in enumerate(together):
            part = slice(i * n, (i + 1) * n)
            cells = score_date_cells[pos]
            dates = pd.Series(r.reading.values[part], index=frame.index)
            # a date read is passed on as an ISO date; an unread one, or an Excel date number, as written, so
            # validation reads it again by the same rules and reports it (type, ambiguous_date, excel_date_number)
            as_written = dates.isna().to_numpy() | _flags(r.reading.excel_serial, len(free["completed_on"]))[part]
            measures[pos] = (dates, cells.where(as_written, None))
            by_order = _flags(r.reading.by_file_order, len(free["completed_on"]))[part]
            warn("measures", "completed_on", table.headers[score_date_pos[pos]], by_order, cells,  # type: ignore[index]
                 _SheetDates(replace(r.reading, values=r.reading.values[part]), r.order, r.deciding))
    formats = {"participants": {c: strftime_format(f) for c in _PARTICIPANT_DATES if c in frame.columns and c in p_headers
                                and (f := mapping.date_format_for(p_headers[c]))},
               "measures": {"completed_on": m_format} if m_format else {}}
    return _SheetDateReading(participants, measures, derived, problems, formats,
                             {"completed_on": by_cell} if by_cell else {})


def _either(headers: list[str]) -> str:
    """Headers named as one: ``'A'``, ``'A or B'``, ``'A, B or C'`` (the first six, then ``…``)."""
    names = list(dict.fromkeys(headers))
    if len(names) > 6:
        return ", ".join(names[:6]) + " or …"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def could_identify(values: pd.Series) -> bool:
    """Quick pre-check: could any value be an email, phone or NHS number, or postcode (worth a full check)?

    Emails need an ``@``, phone and NHS numbers nine or more digits, postcodes
    letters and digits in at most eight characters; a column with none of
    these (codes, dates, small numbers) cannot be flagged by
    :func:`evalkit.pseudonymise.find_identifiers`'s value patterns.
    """
    for v in pd.unique(values.dropna()):
        text = str(v).strip()
        if "@" in text:
            return True
        digits = sum(ch.isdigit() for ch in text)
        if digits >= 9 or (digits and len(text) <= 8 and any(ch.isalpha() for ch in text)):
            return True
    return False


def _says_no(values: pd.Series | None, index: pd.Index) -> pd.Series:
    if values is None:
        return pd.Series(False, index=index)
    spec = table_schema("participants").field("took_up")
    no = {v.casefold() for v in spec.false_values}
    said = values.astype("string").str.strip().str.casefold().isin(no)
    return pd.Series(said.fillna(False).to_numpy(dtype=bool), index=values.index)


def _where(mask: Any, values: Any, index: pd.Index) -> pd.Series:
    """An object Series holding ``values`` where ``mask`` is true and None elsewhere."""
    out = pd.Series(np.broadcast_to(np.asarray(values, dtype=object), (len(index),)).copy(), index=index, dtype=object)
    return out.where(np.asarray(mask, dtype=bool), None)


def _fill(frame: pd.DataFrame, column: str, values: pd.Series) -> None:
    """Set ``column`` where it is blank (the provider's own values win)."""
    if column in frame.columns:
        frame[column] = frame[column].where(frame[column].notna(), values)
    else:
        frame[column] = values


def _report_bad(note: Any, table: SheetTable, mask: np.ndarray, header: str, values: pd.Series, why: str) -> None:
    """A ``derived_value`` warning on each row of ``mask`` of an identifying column: ``Row N, column 'X': the value``
    and ``why`` (the value itself is withheld: it identifies her)."""
    for i in np.flatnonzero(mask):
        row = int(table.source_rows[i])
        note("participants", row, header, "(withheld)", "derived_value",
             f"Row {row}, column '{header}': the value {why}.")


def _report_unread_dates(note: Any, table: SheetTable, unread: np.ndarray, header: str, values: pd.Series,
                         reading: DateReading, stated: str | None) -> None:
    """Why each unread cell of a date of birth or due date column gave nothing: it does not match the stated
    format (named); it reads two ways, with the formats the column could state (:func:`format_to_state`, the
    long tables' ``ambiguous_date`` advice); or it is no date."""
    if stated:
        _report_bad(note, table, unread, header, values, not_in_stated_format(stated, ", so nothing was derived from it"))
        return
    two_ways = unread & np.asarray(reading.ambiguous, dtype=bool)
    if two_ways.any():
        _report_bad(note, table, two_ways, header, values,
                    "reads two ways (day/month or month/day) and no other date in this column or this sheet shows "
                    "which, so nothing was derived from it; write it as an ISO date (YYYY-MM-DD) or "
                    + format_to_state(values))
    _report_bad(note, table, unread & ~two_ways, header, values, not_a_date(", so nothing was derived from it"))


def _frames(parts: list[_Part], tables: list[SheetTable]) -> dict[str, pd.DataFrame]:
    p_cols = table_schema("participants").field_names
    out: dict[str, pd.DataFrame] = {}
    prov = [SOURCE_FILE, SOURCE_SHEET, SOURCE_ROW]
    for name, attr, headers_attr in (("participants", "participants", "p_headers"),
                                     ("measures", "measures", "m_headers")):
        frames = [getattr(p, attr) for p in parts]
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        schema_cols = p_cols if name == "participants" else table_schema("measures").field_names
        ordered = [c for c in schema_cols if c in frame.columns] + prov
        frame = frame.reindex(columns=ordered)
        for c in frame.columns:
            if c == SOURCE_ROW:
                frame[c] = pd.array(frame[c].astype("float64"), dtype="Float64").astype("Int64")
            elif c in (SOURCE_FILE, SOURCE_SHEET):  # a categorical of text, as every reader gives them
                frame[c] = pd.Series(text_categorical(frame[c].astype(object).where(frame[c].notna(), None)),
                                     index=frame.index)
            else:
                frame[c] = frame[c].astype(object).where(frame[c].notna(), None).astype("str")
        notes = empty_notes()
        notes["problems"] = [pr for p in parts for pr in p.problems if pr["table"] == name]
        notes["date_formats"] = {c: f for p in parts for c, f in p.date_formats.get(name, {}).items()}
        if name == "measures":
            for p in parts:
                for c, by_cell in p.cell_date_formats.items():
                    notes["cell_date_formats"].setdefault(c, {}).update(by_cell)
        notes["sources"] = {source_key(t.file, t.sheet): {"header_row": int(t.header_row),
                                                          "headers": getattr(p, headers_attr)}
                            for t, p in zip(tables, parts, strict=True)}
        out[name] = with_notes(frame, notes)
    return out


def read_wide_tables(tables: Sequence[SheetTable], mapping: WideMapping, *,
                     programme_id: str | None = None) -> WideReadResult:
    """Read already-extracted sheet tables with ``mapping`` (see :func:`read_wide`)."""
    parts = [_read_table(t, mapping, programme_id) for t in tables]
    raw = _frames(parts, list(tables))
    assumptions = pd.DataFrame([a for p in parts for a in p.assumptions], columns=list(ASSUMPTION_COLUMNS))
    dropped = pd.DataFrame([d for p in parts for d in p.dropped], columns=list(DROPPED_COLUMNS))
    from evalkit.canonical import REPORT_COLUMNS

    problems = pd.DataFrame([pr for p in parts for pr in p.problems], columns=list(REPORT_COLUMNS))
    layout = tuple(f"{t.where}: {s}" for t in tables for s in t.layout)
    return WideReadResult(raw=raw, mapping=mapping, assumptions=assumptions, dropped=dropped, problems=problems,
                          layout=layout)


def _with_unread_columns(result: WideReadResult, tables: Sequence[SheetTable], proposed: pd.DataFrame
                         ) -> WideReadResult:
    """``result`` with a warning for each column holding data that a proposed mapping leaves out.

    A saved mapping says "not read" on purpose; a mapping proposed for this read only (no mapping given)
    decides it alone, so each such column is reported: ``unknown_column`` (with :func:`suggest_instrument`'s
    suggestion), or ``derived_column`` for a change score. ``proposed`` is the proposal's ``columns`` frame.
    """
    mapping = result.mapping
    notes_by_header = {(r.sheet, r.header): (r.role, r.note) for r in proposed.itertuples(index=False)}
    by_key = {(m.instrument or "", m.timepoint): h for h, m in mapping.scores.items()}
    problems: list[dict[str, Any]] = []
    for t in tables:
        for pos, header in enumerate(t.headers):
            if not header.strip() or mapping.columns.get(header, "") is not None or header in mapping.scores:
                continue
            if pos not in t.cells.columns or not t.cells[pos].notna().any():
                continue
            role, note = notes_by_header.get((t.sheet or "", header), ("unknown", ""))
            rule = "derived_column" if role == "derived_score" else "unknown_column"
            guess = classify_header(header)
            if role == "score" and guess.instrument and (guess.instrument, guess.timepoint) in by_key:
                why = (f"it is the same questionnaire and time point as '{by_key[(guess.instrument, guess.timepoint)]}'"
                       ", which is read")
            else:
                why = note.removeprefix("not read: ") or "it is not a column evalkit knows"
                typo = suggest_instrument(header)
                if typo is not None:  # the proposal's note already names it for a column it could not place
                    if "did you mean" not in why:
                        why += f" - did you mean {_abbr(typo[1])}? ('{typo[0]}' is one letter from it)"
                    why += "; correct the header to have the column read"
            letter = column_letter(t.columns[pos] - 1)
            problems.append(problem(
                file=t.file, sheet=t.sheet, table="participants", source_row=t.header_row, column=header,
                value=header, rule=rule, severity="warning",
                message=f"Column {letter} ('{header}') was not read: {why}. Run 'evalkit map' on the file to see "
                        "and save how every column is read."))
    if not problems:
        return result
    from evalkit.readers.notes import frame_notes

    raw = dict(result.raw)
    notes = frame_notes(raw["participants"])
    notes["problems"].extend(problems)
    raw["participants"] = with_notes(raw["participants"], notes)
    extra = pd.DataFrame(problems, columns=list(result.problems.columns))
    return replace(result, raw=raw, problems=pd.concat([result.problems, extra], ignore_index=True))


def _mapping_header_score(mapping: WideMapping):  # noqa: ANN202 - small closure
    def score(headers: list[str]) -> int:
        return sum(1 for h in headers if h and (mapping.role_for(h) is not None or header_is_known(h)))
    return score


def read_wide(
    source: str | Path | pd.DataFrame,
    *,
    sheet: str | None = None,
    mapping: WideMapping | None = None,
    programme_id: str | None = None,
    limits: ReadLimits | None = None,
) -> WideReadResult:
    """Read a one-row-per-mother workbook, CSV file or DataFrame into raw ``participants`` and ``measures`` frames.

    Parameters
    ----------
    source
        An ``.xlsx``/``.csv`` file, or a DataFrame whose column names are the headers.
    sheet
        Read only this sheet (default: every sheet with score columns, or the mapping's ``sheet``).
    mapping
        The provider's :class:`WideMapping`. Without one, the mapping
        :func:`evalkit.mapping_proposal.propose_mapping` proposes is used, but not the date formats it found
        (the values decide each date's day/month order, as in a file read without a mapping).
    programme_id
        Programme of every row (overrides the mapping's constant and sheet names).
    limits
        Size limits.

    Returns
    -------
    WideReadResult
        ``raw`` frames for :func:`evalkit.validation.validate`, the mapping,
        the date assumptions used, the identifying columns dropped and the
        problems found.

    Raises
    ------
    InputFileError
        The file cannot be read, or no sheet has a score column of the mapping.
    """
    if mapping is None:
        # imported here, not at the top: evalkit.mapping_proposal imports this module (an import cycle)
        from evalkit.mapping_proposal import propose_mapping

        proposal = propose_mapping(source, sheet=sheet, programme_id=programme_id, limits=limits)
        if not isinstance(proposal.mapping, WideMapping):
            raise InputFileError("no column holds a questionnaire score at a time point (e.g. 'EPDS at start'), so "
                                 "this is not a one-row-per-mother sheet.", file=proposal.file)
        # the proposal's date formats are what it found in these values, not formats the provider stated: the
        # values decide the day/month order, as they do in a long file read without a mapping
        result = read_wide_tables(proposal.tables, replace(proposal.mapping, date_formats={}),
                                  programme_id=programme_id)
        return _with_unread_columns(replace(result, mapping=proposal.mapping), proposal.tables, proposal.columns)
    if isinstance(source, pd.DataFrame):
        grids = [grid_from_frame(source)]
        label = "(table)"
    else:
        grids = read_grids(source, sheet=sheet or mapping.sheet, limits=limits)
        label = Path(source).name
    score = _mapping_header_score(mapping)
    tables = []
    for g in grids:
        try:
            t = extract_table(g, header_score=score, header_row=mapping.header_row)
        except InputFileError:
            continue
        if any((mapping.role_for(h) or HeaderRole("unknown")).kind == "score" for h in t.headers):
            tables.append(t)
    if not tables:
        raise InputFileError(
            "no sheet has the score columns named in the mapping (e.g. "
            f"{', '.join(repr(h) for h in list(mapping.scores)[:3]) or 'none'}). Check the sheet, or run "
            "'evalkit map' on this file to make a new mapping.",
            file=label,
        )
    return read_wide_tables(tables, mapping, programme_id=programme_id)


_LOOK_COLUMNS = 200
"""Columns of each of the first rows that :func:`looks_wide` looks at (a wide sheet's score columns come early)."""


def looks_wide(path: str | Path, *, sheet: str | None = None, limits: ReadLimits | None = None) -> bool:
    """Whether a file's (first matching) sheet has at least one instrument x time point score column.

    Reads only the first rows of each sheet; never raises for an unreadable
    file (the normal readers report that).
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            import openpyxl

            from evalkit.readers.excel import check_workbook_archive

            check_workbook_archive(path, limits or ReadLimits())  # the zip-bomb guard before openpyxl parses a part
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
            try:
                names = [n for n in wb.sheetnames if sheet is None or n.strip().casefold() == sheet.strip().casefold()]
                for name in names:
                    ws = wb[name]
                    rows = [[c for c in r] for r in ws.iter_rows(max_row=40, max_col=200, values_only=True)]
                    if _rows_look_wide(rows) or _merged_header_looks_wide(
                            rows, _merged_ranges(path, getattr(ws, "_worksheet_path", None))):
                        return True
                return False
            finally:
                wb.close()
        if path.suffix.lower() in (".csv", ".txt", ".tsv"):
            with path.open("rb") as fh:
                head = fh.read(65536)
            from evalkit.readers.csv import decode_text, sniff_delimiter

            text = decode_text(head, file_label=path.name)
            import csv as std_csv
            import io

            lines = text.splitlines()[:40]
            rows = list(std_csv.reader(io.StringIO("\n".join(lines)), delimiter=sniff_delimiter(text)))
            return _rows_look_wide(rows)
    except Exception:  # noqa: BLE001 - detection only; the normal reader reports unreadable files
        return False
    return False


def _merged_header_looks_wide(rows: list[list[Any]], merged: tuple[tuple[int, int, int, int], ...]) -> bool:
    """Whether a two-row header - words merged over the cells below them ("EPDS" over "start" and "end"),
    joined as :func:`evalkit.readers.messy.extract_table` joins them - has score columns."""
    if not merged:
        return False
    width = max((len(r) for r in rows), default=0)
    texts = [[_cell_text(c) for c in r] + [None] * (width - len(r)) for r in rows]
    for i in range(len(texts) - 1):
        upper, had_merge = _fill_horizontal(texts[i], i + 1, merged, width)
        if had_merge and _rows_look_wide([[_join_header(u, lo) for u, lo in zip(upper, texts[i + 1], strict=True)]]):
            return True
    return False


@lru_cache(maxsize=50_000)
def _could_be_score_header(text: str) -> bool:
    """Whether :func:`classify_header` could call ``text`` a score column.

    It calls a header a score only from :func:`_parse_measure_header`, so a row none of whose cells parse as a score
    header cannot look wide, and its cells need no identifier check or classifying (data rows, title rows).
    """
    first_words = _instrument_first_words()
    if first_words is not None and first_words.isdisjoint(_tokens(text)):  # a score header names an instrument
        return False
    role = _parse_measure_header(text)
    return role is not None and role.kind == "score"


@cache
def _instrument_first_words() -> frozenset[str] | None:
    """The first word of every instrument name :func:`_take_instrument` looks for (``None`` if a name is empty,
    which it would find in any header)."""
    phrases = [phrase for phrase, _ in _instrument_phrases()]
    return None if not all(phrases) else frozenset(phrase[0] for phrase in phrases)


def _rows_look_wide(rows: list[list[Any]]) -> bool:
    for row in rows:
        texts = [str(c).strip() for c in row[:_LOOK_COLUMNS] if c is not None and str(c).strip()]
        if len(texts) < 2 or not any(_could_be_score_header(t) for t in texts):
            continue
        prefetch_headers(texts)  # one identifier check per row, not one per cell (a 60 KB file took minutes)
        roles = [classify_header(t) for t in texts]
        known = sum(1 for r in roles if r.kind not in ("unknown", "blank"))
        if any(r.kind == "score" for r in roles) and known >= 2 and 2 * known >= len(texts):
            return True
    return False


# --------------------------------------------------------------------------- limitations


def assumed_dates(measures: pd.DataFrame) -> pd.DataFrame:
    """Measures whose date (or the mother's first contact date) was assumed, from their ``timepoint`` marks.

    Returns
    -------
    pandas.DataFrame
        ``programme_id``, ``instrument``, ``timepoint`` (the label without
        marks), ``assumption`` (e.g. ``"date assumed: end date"``) and ``n``.
    """
    cols = ["programme_id", "instrument", "timepoint", "assumption", "n"]
    if measures is None or "timepoint" not in measures.columns or measures.empty:
        return pd.DataFrame(columns=cols)
    tp = measures["timepoint"].astype("string")
    marks = tp.str.findall(_MARK.pattern)
    has = marks.map(lambda m: bool(m) if isinstance(m, list) else False).astype(bool)
    if not has.any():
        return pd.DataFrame(columns=cols)
    sub = measures.loc[has.to_numpy()]
    rows = pd.DataFrame({
        "programme_id": sub["programme_id"].astype("string").to_numpy() if "programme_id" in sub else None,
        "instrument": sub["instrument"].astype("string").to_numpy(),
        "timepoint": tp[has].str.replace(r"\s*\[.*$", "", regex=True).to_numpy(),
        "assumption": marks[has].to_numpy(),
    }).explode("assumption")
    return rows.groupby(cols[:-1], dropna=False).size().rename("n").reset_index()


def _abbr(code: str) -> str:
    """An instrument's abbreviation (``PHQ-9``) for messages; the code in capitals if unknown."""
    try:
        from evalkit.instruments import builtin_instruments

        inst = builtin_instruments().get(code)
    except Exception:  # noqa: BLE001
        inst = None
    return str(inst.definition.get("abbreviation") or code.upper()) if inst is not None else code.upper()


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def limitations(tables: Mapping[str, pd.DataFrame], *, assumptions: pd.DataFrame | None = None) -> list[str]:
    """Plain sentences saying what cannot be computed from these data, for reports to print.

    Looks at what the data hold, programme by programme: questionnaires with
    totals only (no items: no prorating of missed items, no subscales, no
    item flags such as EPDS item 10 or PHQ-9 item 9, no sample reliability);
    programmes without contact rows (dose = sessions attended as counted by
    the provider: no weeks engaged, contact hours, gaps, group vs one-to-one
    split, session effects); and dates that were assumed (from the
    ``timepoint`` marks :func:`read_wide` leaves, or ``assumptions``).

    Parameters
    ----------
    tables
        Canonical (or raw) frames by table name; ``measures`` and
        ``participants`` are used, ``contacts`` if present.
    assumptions
        :attr:`WideReadResult.assumptions`, if at hand (adds its sentences).

    Returns
    -------
    list[str]
        Sentences, most important first; empty when nothing is limited.
    """
    out: list[str] = []
    measures = tables.get("measures")
    participants = tables.get("participants")
    contacts = tables.get("contacts")
    if measures is not None and len(measures):
        from evalkit.instruments import builtin_instruments

        registry = builtin_instruments()
        items = [c for c in measures.columns if re.fullmatch(r"item_\d+", str(c))]
        has_items = measures[items].notna().any(axis=1) if items else pd.Series(False, index=measures.index)
        has_total = measures["total"].notna() if "total" in measures.columns else pd.Series(False, index=measures.index)
        totals_only = has_total & ~has_items
        if totals_only.any():
            codes = measures.loc[totals_only, "instrument"].astype("string").str.lower()
            insts = sorted(c for c in pd.unique(codes.dropna()) if c in registry)
            m_progs = sorted(pd.unique(measures.loc[totals_only, "programme_id"].dropna().astype(str))) \
                if "programme_id" in measures.columns else []
            share = float(totals_only.mean())
            where = (f"programme{'s' if len(m_progs) > 1 else ''} {_join(m_progs)}" if m_progs else "these data")
            lead = ("All questionnaires" if share == 1.0 else f"{int(totals_only.sum())} of {len(measures)} "
                    "questionnaires")
            out.append(f"{lead} ({where}) hold a total score only, not the answers to each question: evalkit cannot "
                       "check or prorate missed questions (a total from a partly completed form looks like a "
                       "complete one), and cannot estimate reliability (Cronbach's alpha) from the sample, so the "
                       "instruments' published reliability is used.")
            subs = [f"{registry[c].definition.get('abbreviation') or c.upper()} "
                    f"({', '.join(s.name for s in registry[c].subscales)})" for c in insts if registry[c].subscales]
            if subs:
                out.append(f"Subscales cannot be computed from totals: {_join(subs)}.")
            flags = [f"{registry[c].definition.get('abbreviation') or c.upper()} item {s.item}"
                     for c in insts for s in registry[c].safety_items]
            if flags:
                out.append(f"Safety items cannot be checked from totals: {_join(flags)} (thoughts of self-harm). "
                           "Follow these up in the programme's own safeguarding records; evalkit cannot list them.")
    if participants is not None and len(participants) and "programme_id" in participants.columns:
        progs: set[str] = set(pd.unique(participants["programme_id"].dropna().astype(str)))
        with_rows: set[str] = set(pd.unique(contacts["programme_id"].dropna().astype(str))) \
            if contacts is not None and len(contacts) and "programme_id" in contacts.columns else set()
        without = sorted(progs - with_rows)
        if without:
            have_sessions = "sessions_attended" in participants.columns and \
                participants.loc[participants["programme_id"].astype(str).isin(without), "sessions_attended"].notna().any()
            dose = ("the dose is the number of sessions attended as the provider counted them, over the whole "
                    "referral (not only between the two questionnaires)" if have_sessions else
                    "no sessions-attended count either, so no dose: pairs cannot be checked against the minimum "
                    "number of sessions")
            out.append(f"Programme{'s' if len(without) > 1 else ''} {_join(without)} "
                       f"{'have' if len(without) > 1 else 'has'} no contact rows: {dose}. Weeks engaged, contact "
                       "hours, gaps between sessions, the split between group and one-to-one support, and "
                       "differences between group sessions cannot be computed.")
            if "first_contact_date" in participants.columns:
                sub = participants[participants["programme_id"].astype(str).isin(without)]
                if sub["first_contact_date"].isna().all():
                    out.append("No first contact dates: for programmes without contact rows evalkit anchors the "
                               "baseline window on the first contact date, so no before/after pairs can be formed.")
    out.extend(_assumption_sentences(measures, assumptions))
    if any("assumed" in s for s in out):
        out.append("Changes between the two scores do not depend on these dates, but anything that does (the "
                   "baseline window, the 14-day minimum gap, follow-up windows, weeks since baseline, perinatal "
                   "stage at the end) rests on them.")
    return out


_START_RULES = ("first contact date", "referral date")


def _assumption_sentences(measures: pd.DataFrame | None, assumptions: pd.DataFrame | None) -> list[str]:
    """One sentence per kind of assumption, with counts (from the read result, else from the stored marks)."""
    dates: list[tuple[str, str, int]] = []  # (rule, instrument, n)
    first_contact = 0
    took_up = 0
    if assumptions is not None and len(assumptions):
        for r in assumptions.itertuples(index=False):
            if r.column == "completed_on":
                dates.append((str(r.rule), str(r.instrument), int(r.rows)))
            elif r.column == "first_contact_date":
                first_contact += int(r.rows)
            elif r.column == "took_up":
                took_up += int(r.rows)
    elif measures is not None:
        for r in assumed_dates(measures).itertuples(index=False):
            what = str(r.assumption)
            if what.startswith("date assumed: "):
                dates.append((what[len("date assumed: "):], str(r.instrument), int(r.n)))
            elif what.startswith("first contact date assumed"):
                first_contact += int(r.n)
    out: list[str] = []
    if dates:
        total = sum(n for _, _, n in dates)
        insts = sorted({_abbr(i) for _, i, _ in dates})
        by_rule: dict[str, int] = {}
        for rule, _i, n in dates:
            by_rule[rule] = by_rule.get(rule, 0) + n
        start = [f"the {r} ({n:,})" for r, n in by_rule.items() if r.startswith(_START_RULES)]
        end = [f"the {r} ({n:,})" for r, n in by_rule.items() if not r.startswith(_START_RULES)]
        parts = []
        if start:
            parts.append("first scores at " + " or, without one, ".join(start))
        if end:
            parts.append("last scores at " + " or, without one, ".join(end))
        out.append(f"Questionnaire dates were not in the data for {total:,} score(s) ({_join(insts)}); they were "
                   f"assumed: {'; '.join(parts)}.")
    if first_contact:
        out.append(f"First contact dates were not in the data for {first_contact:,} mother(s) who attended; each "
                   "was assumed to be the date of her first start questionnaire.")
    if took_up:
        out.append(f"{took_up:,} mother(s) had no 'took up' value but attended sessions (or had a first contact "
                   "date), so took up was set to yes.")
    return out
