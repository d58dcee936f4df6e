"""Read a REDCap records export (CSV) with its data dictionary, through a REDCap mapping.

The mapping (JSON, ``"kind": "redcap"``) says which REDCap field is which
evalkit column and which instrument item::

    {
      "kind": "redcap",
      "data_dictionary": "MyProject_DataDictionary.csv",
      "participant_id": "record_id",
      "constants": {"programme_id": "P-GROUP"},
      "participants": {"referral_date": "ref_date", "referral_source": "ref_by"},
      "measures": [
        {"instrument": "epds", "form": "epds", "completed_on": "epds_date",
         "timepoint": "redcap_event_name",
         "items": ["epds_1", "epds_2", "epds_3", "epds_4", "epds_5",
                   "epds_6", "epds_7", "epds_8", "epds_9", "epds_10"],
         "total": "epds_total", "recode": {}}
      ]
    }

``items`` is a list in item order, or an object ``{"1": "field", ...}``.
``recode`` optionally turns stored codes into keyed scores (``{"1": "0", "2": "1"}``).
One export row gives one measures row per instrument it has answers for
(``source_sheet`` is the REDCap form, so two questionnaires on one row stay apart),
and participants' fields are taken from the first row of each record that has them.

The data dictionary is used to check that every mapped field exists, to turn
choice labels (a "labels" export) back into their codes, and to learn the date
order of ``date_dmy``/``date_mdy`` fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.column_mapping import normalise_header, normalise_value
from evalkit.errors import InputFileError
from evalkit.readers.csv import read_text_table
from evalkit.readers.limits import ReadLimits
from evalkit.readers.notes import frame_notes, merge_notes, with_notes
from evalkit.readers.raw_frame import apply_value_synonyms, build_raw_frame, concat_raw_frames
from evalkit.schemas import table_schema

__all__ = ["RedcapMapping", "RedcapMeasure", "read_data_dictionary", "read_redcap"]

_SYSTEM_FIELDS = {"redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance", "redcap_data_access_group",
                  "redcap_survey_identifier"}
_DATE_ORDER = {"date_dmy": "%d-%m-%Y", "date_mdy": "%m-%d-%Y"}


@dataclass(frozen=True)
class RedcapMeasure:
    """Where one instrument's answers are in the REDCap export."""

    instrument: str
    items: Mapping[int, str]
    completed_on: str
    form: str | None = None
    timepoint: str | None = None
    total: str | None = None
    recode: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RedcapMeasure:
        """Build from the mapping file's ``measures`` entry; ``ValueError`` names what is wrong."""
        if not isinstance(raw, Mapping) or "instrument" not in raw or "completed_on" not in raw:
            raise ValueError("REDCap mapping: each 'measures' entry needs 'instrument', 'completed_on' and 'items'")
        items_raw = raw.get("items", [])
        if isinstance(items_raw, list):
            items = {i + 1: str(f) for i, f in enumerate(items_raw)}
        elif isinstance(items_raw, Mapping):
            try:
                items = {int(k): str(v) for k, v in items_raw.items()}
            except ValueError:
                raise ValueError("REDCap mapping: 'items' keys must be item numbers (\"1\", \"2\", ...)") from None
        else:
            raise ValueError("REDCap mapping: 'items' must be a list of fields or an object {item number: field}")
        return cls(
            instrument=str(raw["instrument"]),
            items=items,
            completed_on=str(raw["completed_on"]),
            form=raw.get("form"),
            timepoint=raw.get("timepoint"),
            total=raw.get("total"),
            recode={str(k): str(v) for k, v in (raw.get("recode") or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """The entry as written in the mapping file."""
        out: dict[str, Any] = {"instrument": self.instrument, "completed_on": self.completed_on,
                               "items": {str(k): v for k, v in sorted(self.items.items())}}
        for key in ("form", "timepoint", "total"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.recode:
            out["recode"] = dict(self.recode)
        return out


@dataclass(frozen=True)
class RedcapMapping:
    """How a REDCap project's fields map to evalkit's participants and measures."""

    participant_id: str
    measures: tuple[RedcapMeasure, ...] = ()
    participants: Mapping[str, str] = field(default_factory=dict)
    constants: Mapping[str, str] = field(default_factory=dict)
    data_dictionary: Path | None = None

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], *, base: Path | None = None) -> RedcapMapping:
        """Build from the JSON form; ``base`` is the folder relative paths are read from."""
        if not isinstance(raw, Mapping) or raw.get("kind") != "redcap":
            raise ValueError("a REDCap mapping must be a JSON object with \"kind\": \"redcap\"")
        if "participant_id" not in raw:
            raise ValueError("REDCap mapping: 'participant_id' (the record id field) is required")
        known = {"kind", "participant_id", "measures", "participants", "constants", "data_dictionary", "description"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"REDCap mapping: unknown key(s) {unknown}; allowed keys are {sorted(known)}")
        dictionary = raw.get("data_dictionary")
        path = None
        if dictionary:
            path = Path(dictionary)
            if not path.is_absolute() and base is not None:
                path = base / path
        participants = raw.get("participants") or {}
        unknown_cols = sorted(set(participants) - set(table_schema("participants").field_names))
        if unknown_cols:
            raise ValueError(f"REDCap mapping: 'participants' names unknown column(s) {unknown_cols}")
        return cls(
            participant_id=str(raw["participant_id"]),
            measures=tuple(RedcapMeasure.from_dict(m) for m in raw.get("measures") or ()),
            participants={str(k): str(v) for k, v in participants.items()},
            constants={str(k): str(v) for k, v in (raw.get("constants") or {}).items()},
            data_dictionary=path,
        )

    @classmethod
    def from_json(cls, path: str | Path) -> RedcapMapping:
        """Read a REDCap mapping file."""
        path = Path(path)
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"cannot read REDCap mapping {path.name}: {exc}") from None
        return cls.from_dict(raw, base=path.parent)

    def to_json(self, path: str | Path) -> None:
        """Write the mapping as JSON."""
        out: dict[str, Any] = {"kind": "redcap", "participant_id": self.participant_id}
        if self.data_dictionary:
            out["data_dictionary"] = str(self.data_dictionary)
        out["constants"] = dict(self.constants)
        out["participants"] = dict(self.participants)
        out["measures"] = [m.to_dict() for m in self.measures]
        Path(path).write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")

    def fields(self) -> list[str]:
        """Every REDCap field the mapping names."""
        names = [self.participant_id, *self.participants.values()]
        for m in self.measures:
            names += [*m.items.values(), m.completed_on]
            names += [f for f in (m.timepoint, m.total) if f]
        return names


@dataclass(frozen=True)
class DataDictionary:
    """The parts of a REDCap data dictionary evalkit uses."""

    fields: frozenset[str]
    choices: Mapping[str, Mapping[str, str]]
    validation: Mapping[str, str]


def read_data_dictionary(path: str | Path, *, limits: ReadLimits | None = None) -> DataDictionary:
    """Read a REDCap data dictionary CSV.

    Raises
    ------
    InputFileError
        If the file is not a REDCap data dictionary.
    """
    path = Path(path)
    parsed = read_text_table(path, limits=limits or ReadLimits())
    keys = [normalise_header(h) for h in parsed.headers]

    def column(*names: str) -> int | None:
        for name in names:
            if name in keys:
                return keys.index(name)
        return None

    name_col = column("variablefieldname", "fieldname")
    if name_col is None:
        raise InputFileError(
            "this is not a REDCap data dictionary: it has no 'Variable / Field Name' column. "
            "Download it from REDCap under Project Setup > Data Dictionary.",
            file=path.name,
        )
    choice_col = column("choicescalculationsorsliderlabels", "selectchoicesorcalculations", "choices")
    type_col = column("fieldtype")
    valid_col = column("textvalidationtypeorshowslidernumber", "textvalidationtype")

    def cell(col: int | None, i: int) -> str:
        value = parsed.cells[col].iloc[i] if col is not None else None
        return value.strip() if isinstance(value, str) else ""

    names = [cell(name_col, i) for i in range(len(parsed.cells))]
    choices: dict[str, dict[str, str]] = {}
    validation: dict[str, str] = {}
    for i, name in enumerate(names):
        if not name:
            continue
        if cell(type_col, i).lower() in {"radio", "dropdown"} and choice_col is not None:
            pairs = {}
            for part in cell(choice_col, i).split("|"):
                code, _, label = part.partition(",")
                if label.strip():
                    pairs[normalise_value(label)] = code.strip()
            choices[name] = pairs
        if cell(valid_col, i):
            validation[name] = cell(valid_col, i)
    return DataDictionary(frozenset(n for n in names if n), choices, validation)


def read_redcap(
    records: str | Path,
    mapping: RedcapMapping,
    *,
    dictionary: str | Path | None = None,
    limits: ReadLimits | None = None,
) -> dict[str, pd.DataFrame]:
    """Read a REDCap records export into raw ``participants`` and ``measures`` frames.

    Parameters
    ----------
    records
        The records export (CSV, raw codes or labels, one row per record and event).
    mapping
        Which field is which column and item.
    dictionary
        The project's data dictionary CSV (default: the mapping's ``data_dictionary``).
    limits
        Size limits.

    Raises
    ------
    InputFileError
        Unreadable files, no dictionary, or a mapped field missing from the export.
    ValueError
        A mapped field that the data dictionary does not have.
    """
    records = Path(records)
    limits = limits or ReadLimits()
    dictionary = dictionary or mapping.data_dictionary
    if dictionary is None:
        raise InputFileError(
            "a REDCap export needs its data dictionary: name it in the REDCap mapping ('data_dictionary').",
            file=records.name,
        )
    dd = read_data_dictionary(dictionary, limits=limits)
    form_complete = {f"{m.form}_complete" for m in mapping.measures if m.form}
    missing_dd = [f for f in mapping.fields() if f not in dd.fields and f not in _SYSTEM_FIELDS | form_complete]
    if missing_dd:
        raise ValueError(
            f"the REDCap mapping names field(s) {', '.join(repr(f) for f in missing_dd)} that the data dictionary "
            f"{Path(dictionary).name} does not have; check the field names in the mapping."
        )
    parsed = read_text_table(records, limits=limits)
    position = {h: i for i, h in enumerate(parsed.headers)}
    missing = [f for f in dict.fromkeys(mapping.fields()) if f not in position]
    if missing:
        raise InputFileError(_missing_fields(missing, mapping, parsed.headers), file=records.name)

    def values(name: str) -> pd.Series:
        col = parsed.cells[position[name]].astype("str").reset_index(drop=True)
        choices = dd.choices.get(name)
        if choices:
            col = apply_value_synonyms(col, dict(choices))
        return col

    def blank(col: pd.Series) -> np.ndarray:
        return (col.isna() | (col.str.strip() == "")).to_numpy()

    out: dict[str, list[pd.DataFrame]] = {}
    rows = np.asarray(parsed.source_rows)
    # rows the CSV reader found broken (extra cells, a quote left open): reported once with the first table
    # below, and set aside there; their questionnaires are not read
    broken = np.isin(rows, [p["source_row"] for p in parsed.problems if p["severity"] == "error"])
    pid = values(mapping.participant_id)
    for m in mapping.measures:
        columns: dict[str, pd.Series] = {"participant_id": pid}
        answer_fields = [*m.items.values(), *([m.total] if m.total else [])]
        for number, name in sorted(m.items.items()):
            col = values(name)
            if m.recode:
                col = col.replace(dict(m.recode))
            columns[f"item_{number}"] = col
        if m.total:
            columns["total"] = values(m.total)
        columns["completed_on"] = values(m.completed_on)
        if m.timepoint:
            columns["timepoint"] = values(m.timepoint)
        answered = ~np.logical_and.reduce([blank(values(f)) for f in [*answer_fields, m.completed_on]]) & ~broken
        frame = pd.DataFrame(columns).loc[answered].reset_index(drop=True)
        frame["instrument"] = m.instrument
        headers = list(frame.columns)
        sheet = m.form or m.instrument
        raw = build_raw_frame(
            frame.set_axis(range(frame.shape[1]), axis=1), headers, rows[answered], table="measures",
            file=records.name, sheet=sheet, header_row=parsed.header_row, mapping=None,
        )
        _constants(raw, mapping.constants, "measures")
        notes = frame_notes(raw)
        shown = {"participant_id": mapping.participant_id, "completed_on": m.completed_on,
                 **{f"item_{k}": v for k, v in m.items.items()}}
        if m.total:
            shown["total"] = m.total
        if m.timepoint:
            shown["timepoint"] = m.timepoint
        next(iter(notes["sources"].values()))["headers"] = shown
        if m.completed_on in dd.validation and dd.validation[m.completed_on] in _DATE_ORDER:
            notes["date_formats"] = {"completed_on": _DATE_ORDER[dd.validation[m.completed_on]]}
        out.setdefault("measures", []).append(with_notes(raw, notes))
    if mapping.participants:
        columns = {"participant_id": pid}
        for canonical, name in mapping.participants.items():
            columns[canonical] = values(name)
        frame = pd.DataFrame(columns)
        has_any = ~np.logical_and.reduce([blank(frame[c]) for c in mapping.participants])
        frame = frame.loc[has_any & ~blank(pid)]
        frame["_row"] = rows[has_any & ~blank(pid)]
        firsts = frame.groupby("participant_id", sort=False).first().reset_index()
        headers = [c for c in firsts.columns if c != "_row"]
        raw = build_raw_frame(
            firsts[headers].set_axis(range(len(headers)), axis=1), headers, firsts["_row"].to_numpy(),
            table="participants", file=records.name, sheet=None, header_row=parsed.header_row, mapping=None,
        )
        _constants(raw, mapping.constants, "participants")
        notes = frame_notes(raw)
        next(iter(notes["sources"].values()))["headers"] = {"participant_id": mapping.participant_id,
                                                             **dict(mapping.participants)}
        date_formats = {c: _DATE_ORDER[dd.validation[f]] for c, f in mapping.participants.items()
                        if dd.validation.get(f) in _DATE_ORDER}
        notes["date_formats"] = date_formats
        out["participants"] = [with_notes(raw, notes)]
    result: dict[str, pd.DataFrame] = {}
    for table, parts in out.items():
        notes = merge_notes(frame_notes(p) for p in parts)
        result[table] = with_notes(concat_raw_frames(parts), notes)  # the forms' names as one categorical
    if not result:
        raise InputFileError("the REDCap mapping names no measures and no participants fields to read.",
                             file=records.name)
    if parsed.problems:  # with the participants (a broken row is set aside there), else the measures
        table = "participants" if "participants" in result else "measures"
        notes = frame_notes(result[table])
        notes["problems"].extend({**p, "table": table} for p in parsed.problems)
        with_notes(result[table], notes)
    return result


def _missing_fields(missing: list[str], mapping: RedcapMapping, headers: list[str]) -> str:
    """Why the export lacks fields the mapping names: label headers, checkbox fields, or not exported."""
    named = [f for f in dict.fromkeys(mapping.fields()) if f not in _SYSTEM_FIELDS]
    if named and all(f in missing for f in named):
        shown = ", ".join(repr(h) for h in headers[:4])
        return (f"none of the mapped fields ({', '.join(repr(f) for f in named[:4])}, ...) is a column of the "
                f"export, whose header row starts {shown}. If those are field labels, export again choosing "
                "raw variable names as the column headers (CSV, raw data or labels).")
    parts = []
    for name in missing:
        choices = [h for h in headers if h.startswith(f"{name}___")]
        if choices:
            parts.append(f"'{name}' is a checkbox field, which REDCap exports as one column per choice "
                         f"({', '.join(repr(c) for c in choices[:4])}{', ...' if len(choices) > 4 else ''}); "
                         "name one of those columns in the mapping, or use a radio or dropdown field")
    others = [name for name in missing if not any(h.startswith(f"{name}___") for h in headers)]
    if others:
        parts.append(f"the export has no column(s) {', '.join(repr(f) for f in others)} named in the REDCap "
                     "mapping. Export all the fields of the mapped instruments (raw data or labels, CSV)")
    return "; ".join(parts) + "."


def _constants(frame: pd.DataFrame, constants: Mapping[str, str], table: str) -> None:
    names = table_schema(table).field_names
    for column, value in constants.items():
        if column in names:
            if column in frame.columns:
                blank = frame[column].isna() | (frame[column].str.strip() == "")
                frame[column] = frame[column].where(~blank, value)
            else:
                frame[column] = pd.Series([value] * len(frame), dtype="str", index=frame.index)
