"""Programme summaries: the aggregate, disclosure-controlled statistics that let programmes be compared.

A *summary* holds, for each programme, its characteristics (format, mode,
who delivers it, ...), its take-up funnel and the distribution of its dose,
and for each programme x instrument the statistics a comparison needs: paired
n, baseline and endpoint means and SDs, the pre-post correlation and counts of
reliable change, caseness and recovery. Nothing in it is about one person:
counts below the suppression threshold are hidden (with secondary suppression
so that they cannot be worked out from other figures), means, SDs and
correlations from hidden counts are withheld, and no identifier or date finer
than a month appears. Its format is the JSON Schema
``schemas/summary.schema.json`` (documented for providers' information
governance in ``docs/SUMMARY_FORMAT.md``).

The statistics come from the outcome and engagement engines, before their own
disclosure control (:func:`evalkit.outcomes.change_statistics`,
:func:`evalkit.engagement.participant_path`, :func:`evalkit.recovery.recovery_from_within`);
:func:`disclose` then protects the programme and result cells together with
the primitives of :mod:`evalkit.disclosure`, because the summary's counts are
related across both (attended at least once -> an instrument's baseline n, ...).
Each programme is summarised from its own rows only, so summaries exported
separately by each provider are identical to those built from a shared database.

Examples
--------
>>> from evalkit.data_source import example_tables
>>> s = build_summary(example_tables(), programme="P-PHONE")
>>> s.programmes["programme_id"].tolist(), sorted(s.results["instrument"])[:2]
(['P-PHONE'], ['epds', 'gad7'])
>>> s2 = Summary.from_dict(s.to_dict())
>>> s2.to_dict() == s.to_dict()
True
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from evalkit import __version__
from evalkit._resources import resource_dir
from evalkit.categorical_text import category_text_column
from evalkit.data_source import coerce_tables
from evalkit.disclosure import (
    disclosure_note,
    primary_suppression,
    round_counts,
    secondary_suppression,
    warn_unprotected_relations,
)
from evalkit.errors import InputFileError
from evalkit.instruments import builtin_instruments
from evalkit.rules import WHOLE_NUMBER_SETTINGS, PairingRules
from evalkit.schemas import TABLE_NAMES, table_schema

__all__ = [
    "SCHEMA_VERSION",
    "Summary",
    "SummaryFormatError",
    "build_summary",
    "data_hash",
    "disclose",
    "read_summary",
    "summary_from_store",
    "summary_schema",
    "validate_summary",
    "write_summary",
]

SCHEMA_VERSION = "1.0"
"""Version of ``schemas/summary.schema.json`` this module reads and writes."""


# ---------------------------------------------------------------------------
# the schema is the single source of truth for the columns


@cache
def summary_schema() -> Mapping[str, Any]:
    """The summary JSON Schema (draft 2020-12), as a dict."""
    path = resource_dir("schemas") / "summary.schema.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _resolve(spec: Mapping[str, Any]) -> Mapping[str, Any]:
    schema = summary_schema()
    while "$ref" in spec:
        spec = {**schema["$defs"][spec["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in spec.items() if k != "$ref"}}
    return spec


@cache
def _columns(kind: str) -> tuple[tuple[str, str], ...]:
    """(column, pandas dtype) of ``programme`` or ``result`` objects, in schema order (``suppressed`` last)."""
    props = summary_schema()["$defs"][kind]["properties"]
    out = []
    for name, spec in props.items():
        types = _resolve(spec).get("type", "string")
        types = [types] if isinstance(types, str) else list(types)
        base = next((t for t in types if t != "null"), "string")
        if name == "suppressed":
            dtype = "string"
        else:
            dtype = {"integer": "Int64", "number": "float64", "boolean": "boolean"}.get(base, "string")
        out.append((name, dtype))
    return tuple(out)


def _count_columns(kind: str) -> list[str]:
    props = summary_schema()["$defs"][kind]["properties"]
    return [n for n, spec in props.items() if spec.get("$ref") == "#/$defs/count"]


PROGRAMME_COUNTS = ("referred", "offered", "took_up", "attended_1", "reached_min_dose", "baseline_measured", "paired")
DOSE_STATS = ("dose_mean", "dose_p10", "dose_p25", "dose_median", "dose_p75", "dose_p90")
_DOSE_QUANTILES = {"dose_p10": 0.10, "dose_p25": 0.25, "dose_median": 0.50, "dose_p75": 0.75, "dose_p90": 0.90}
RESULT_STATS = ("completeness", "baseline_mean", "baseline_sd", "endpoint_mean", "endpoint_sd", "r_pre_post",
                "mean_change", "mean_change_ci_low", "mean_change_ci_high")


# ---------------------------------------------------------------------------
# errors


class SummaryFormatError(InputFileError):
    """A summary file is not valid JSON or does not follow ``schemas/summary.schema.json``.

    Attributes
    ----------
    file : str or None
        The file (or ``"<summary>"`` for in-memory data).
    problems : pandas.DataFrame
        One row per problem: ``path`` (JSON path such as
        ``$.results[2].n_paired``), ``expected``, ``found``, ``rule`` (the
        JSON Schema keyword or a summary rule such as ``disclosure``).
    """

    def __init__(self, problems: pd.DataFrame, *, file: str | None = None) -> None:
        self.problems = problems
        shown = [f"at {r.path}: expected {r.expected}, found {r.found}" for r in problems.head(8).itertuples()]
        more = f" (and {len(problems) - 8} more problems)" if len(problems) > 8 else ""
        super().__init__("is not a valid evalkit summary: " + "; ".join(shown) + more, file=file)


def _problem_frame(rows: list[tuple[str, str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["path", "expected", "found", "rule"]).astype("string")


# ---------------------------------------------------------------------------
# the Summary object


@dataclass(frozen=True, eq=False)
class Summary:
    """A programme summary (see the module notes and ``docs/SUMMARY_FORMAT.md``).

    Attributes
    ----------
    programmes : pandas.DataFrame
        One row per programme; columns are the properties of ``$defs/programme``
        in ``schemas/summary.schema.json`` (characteristics, funnel counts,
        dose quantiles) and ``suppressed`` (the hidden columns of that row,
        joined by ``"; "``, as :func:`evalkit.disclosure.apply_disclosure` writes it).
        Counts are ``Int64`` with ``<NA>`` where hidden.
    results : pandas.DataFrame
        One row per programme x instrument; the properties of ``$defs/result``.
    rules : dict
        The pairing rules, machine-readable (:meth:`PairingRules.to_dict`).
    rules_text : str
        The rules in plain English (:meth:`PairingRules.describe`).
    disclosure : dict
        ``threshold``, ``show_zero``, ``rounding_base``, ``note``.
    data_hash : str
        SHA-256 of the input rows (:func:`data_hash`).
    hashed_tables : tuple of str
        The tables the hash covers.
    created_at : str
        UTC time the summary was made (ISO 8601, whole seconds).
    software_version : str
        evalkit version that made it.
    schema_version : str
        Version of the summary format.
    source : str or None
        The file it was read from, if any (not written out).
    """

    programmes: pd.DataFrame
    results: pd.DataFrame
    rules: Mapping[str, Any]
    rules_text: str
    disclosure: Mapping[str, Any]
    data_hash: str
    hashed_tables: tuple[str, ...]
    created_at: str
    software_version: str = __version__
    schema_version: str = SCHEMA_VERSION
    source: str | None = None

    def pairing_rules(self) -> PairingRules:
        """The rules as a :class:`~evalkit.rules.PairingRules`."""
        return PairingRules.from_dict(dict(self.rules))

    def to_dict(self) -> dict[str, Any]:
        """The summary as a JSON-ready dict following ``schemas/summary.schema.json``."""
        return {
            "schema_version": self.schema_version,
            "kind": "evalkit.summary",
            "created_at": self.created_at,
            "software": {"name": "evalkit", "version": self.software_version},
            "data_hash": {"algorithm": "sha256", "value": self.data_hash, "tables": list(self.hashed_tables)},
            "rules": {"settings": _plain(dict(self.rules)), "text": self.rules_text},
            "disclosure": {k: _plain(self.disclosure[k]) for k in ("threshold", "show_zero", "rounding_base", "note")},
            "programmes": _frame_to_records(self.programmes, "programme"),
            "results": _frame_to_records(self.results, "result"),
        }

    def to_json(self, *, indent: int | None = 2) -> str:
        """The summary as JSON text (UTF-8, no NaN: missing values are ``null``)."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, source: str | None = None) -> Summary:
        """Validate a dict (parsed summary JSON) and build a :class:`Summary`.

        Raises
        ------
        SummaryFormatError
            With every problem found (JSON path, what was expected, what was found).
        """
        data = _validated(data, source=source)  # 3.0 is kept as the count 3
        given = data["rules"]["settings"]
        read = PairingRules.from_dict(dict(given)).to_dict()  # "min_dose": 2.0 is the setting 2
        return cls(
            programmes=_records_to_frame(data["programmes"], "programme"),
            results=_records_to_frame(data["results"], "result"),
            rules={k: read[k] for k in given},
            rules_text=data["rules"]["text"],
            disclosure=dict(data["disclosure"]),
            data_hash=data["data_hash"]["value"],
            hashed_tables=tuple(data["data_hash"]["tables"]),
            created_at=data["created_at"],
            software_version=data["software"]["version"],
            schema_version=data["schema_version"],
            source=source,
        )

    @classmethod
    def from_frames(cls, programmes: pd.DataFrame, results: pd.DataFrame, *, rules: PairingRules | None = None,
                    created_at: str | None = None) -> Summary:
        """A summary from aggregates computed elsewhere (e.g. published figures), with disclosure control.

        Parameters
        ----------
        programmes, results
            Frames with (some of) the columns of :class:`Summary`; missing
            columns are null.
        rules
            The rules the figures were made under (default ``PairingRules()``);
            their suppression settings are applied (:func:`disclose`).
        created_at
            Creation time (default now).

        Returns
        -------
        Summary
            ``hashed_tables`` is empty and ``data_hash`` is the SHA-256 of the
            aggregates themselves, as there are no input tables.

        Raises
        ------
        SummaryFormatError
            If a count (or ``planned_sessions``) is not a whole number (``20.5``;
            ``20.0`` is read as 20), naming its row and column, or if the
            result is not a valid summary.
        """
        rules = PairingRules() if rules is None else rules
        prog_records, res_records = _frame_to_records(programmes, "programme"), _frame_to_records(results, "result")
        problems = (_fraction_problems(prog_records, "programmes", "programme")
                    + _fraction_problems(res_records, "results", "result"))
        if problems:
            raise SummaryFormatError(_problem_frame(problems))
        prog = _records_to_frame(prog_records, "programme")
        res = _records_to_frame(res_records, "result")
        prog, res = disclose(prog, res, rules=rules)
        prog = _records_to_frame(_frame_to_records(prog, "programme"), "programme")
        res = _records_to_frame(_frame_to_records(res, "result"), "result")
        digest = hashlib.sha256(json.dumps([_frame_to_records(programmes, "programme"),
                                            _frame_to_records(results, "result")],
                                           sort_keys=True, allow_nan=False).encode()).hexdigest()
        summary = cls(programmes=prog, results=res, rules=rules.to_dict(), rules_text=rules.describe(),
                      disclosure=_disclosure_settings(rules), data_hash=digest, hashed_tables=(),
                      created_at=created_at or _now())
        validate_summary(summary.to_dict())
        return summary

    def __repr__(self) -> str:
        return (f"Summary({len(self.programmes)} programme(s), {len(self.results)} result row(s), "
                f"data {self.data_hash[:12]}..., created {self.created_at})")


def _plain(v: Any) -> Any:
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    return v if isinstance(v, str) else str(v)


def _frame_to_records(frame: pd.DataFrame, kind: str) -> list[dict[str, Any]]:
    cols = [c for c, _ in _columns(kind)]
    f = frame.reindex(columns=cols)
    out = []
    for row in f.itertuples(index=False, name=None):
        rec = {}
        for c, v in zip(cols, row, strict=True):
            if c == "suppressed":
                rec[c] = [x for x in str(v if _has(v) else "").split("; ") if x]
            else:
                rec[c] = _plain(v)
        out.append(rec)
    return out


def _has(v: Any) -> bool:
    return not (v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)))


def _records_to_frame(records: list[Mapping[str, Any]], kind: str) -> pd.DataFrame:
    cols = _columns(kind)
    data: dict[str, Any] = {}
    for c, dtype in cols:
        values = [r.get(c) for r in records]
        if c == "suppressed":
            data[c] = pd.array(["; ".join(v or []) for v in values], dtype="string")
        elif dtype == "float64":
            data[c] = np.array([np.nan if v is None else float(v) for v in values], dtype=float)
        else:
            data[c] = pd.array(values, dtype=dtype)
    return pd.DataFrame(data)


def _empty_frame(kind: str, n: int = 0) -> pd.DataFrame:
    return _records_to_frame([{} for _ in range(n)], kind)


# ---------------------------------------------------------------------------
# validation


def _describe(value: Any) -> str:
    kind = {dict: "an object", list: "an array", str: "text", bool: "a boolean", int: "a whole number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)
    text = json.dumps(value, ensure_ascii=False, default=str)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def _describe_count(value: Any) -> str:
    """:func:`_describe`, saying of a number with a fraction found where a whole number belongs that it has one."""
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        return f"{json.dumps(value)} (a number with a fraction: counts are whole numbers)"
    return _describe(value)


def _expected(err: Any) -> tuple[str, str, str]:
    """(path suffix, expected, found) for one jsonschema error."""
    v, vv, inst = err.validator, err.validator_value, err.instance
    if v == "type":
        types = [vv] if isinstance(vv, str) else list(vv)
        words = {"integer": "a whole number", "number": "a number", "string": "text", "null": "null",
                 "boolean": "true or false", "object": "an object", "array": "an array"}
        return "", " or ".join(words.get(t, t) for t in types), _describe_count(inst) if "integer" in types \
            else _describe(inst)
    if v == "const":
        return "", json.dumps(vv), _describe(inst)
    if v == "enum":
        return "", "one of " + ", ".join(json.dumps(x) for x in vv), _describe(inst)
    if v == "required":
        missing = re.findall(r"'([^']+)' is a required property", err.message)
        name = missing[0] if missing else "?"
        return f".{name}", f"a field {name!r} (required)", "no such field"
    if v == "additionalProperties":
        extra = sorted(set(inst) - set(err.schema.get("properties", {})))
        return "", "only the fields of the summary format", "unexpected field(s) " + ", ".join(map(repr, extra))
    if v == "pattern":
        return "", f"text matching {vv}", _describe(inst)
    if v in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        op = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}[v]
        return "", f"a value {op} {vv}", _describe(inst)
    if v == "minItems":
        return "", f"at least {vv} item(s)", _describe(inst)
    if v == "minLength":
        return "", f"text of at least {vv} character(s)", _describe(inst)
    if v == "uniqueItems":
        return "", "no repeated items", _describe(inst)
    return "", err.message, _describe(inst)


def _jsonschema_problems(data: Any) -> list[tuple[str, str, str, str]]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(summary_schema())
    rows = []
    for err in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        suffix, expected, found = _expected(err)
        rows.append((err.json_path + suffix, expected, found, str(err.validator)))
    return rows


_EXACT_INT = 2**53
"""Largest count read exactly as a floating-point number (counts are turned into floats to compute with)."""

_LARGEST = math.sqrt(np.finfo(float).max) / 2
"""Largest size of a number in a summary (about 6.7e153): the sum of the squares of two such numbers (a variance
from two SDs, a squared change) is still a finite floating-point number, so no comparison overflows on it."""


def _nonfinite_problems(data: Any) -> list[tuple[str, str, str, str]]:
    """Numbers no computation can use: infinite or NaN (``1e400`` reads as infinity), numbers larger than
    :data:`_LARGEST` in size, and whole numbers too large to be read exactly as floating-point numbers.

    Walks the parsed JSON (a few hundred values) with its own stack, so JSON nested as deeply as the parser
    allows cannot exhaust Python's recursion limit here.
    """
    rows = []
    stack: list[tuple[str, Any]] = [("$", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, Mapping):
            stack += [(f"{path}.{k}", v) for k, v in reversed(list(value.items()))]
        elif isinstance(value, list):
            stack += [(f"{path}[{i}]", v) for i, v in reversed(list(enumerate(value)))]
        elif isinstance(value, float) and not math.isfinite(value):
            rows.append((path, "a finite number (a value this large overflows, or is not a number)",
                         _describe(value), "finite"))
        elif isinstance(value, float) and abs(value) > _LARGEST:
            rows.append((path, f"a number of at most {_LARGEST:.2g} in size (larger values overflow when "
                         "squared or added)", _describe(value), "finite"))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > _EXACT_INT:
            rows.append((path, f"a whole number of at most {_EXACT_INT} in size", _describe(value), "finite"))
    return rows


def _whole(value: Any) -> Any:
    """A finite whole-number float (``3.0``) as the int it names (``3``); any other value unchanged."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _settings_fraction_problems(settings: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Rules settings with a fraction where :class:`~evalkit.rules.PairingRules` has a whole number (``5.5``), by
    field, so that none is refused only as a block of settings, or cut to a whole number (``dose_thresholds``)."""
    single, several = WHOLE_NUMBER_SETTINGS, ("dose_thresholds",)  # one whole number; a list of them

    def fraction(v: Any) -> bool:
        return isinstance(v, float) and math.isfinite(v) and not v.is_integer()

    def found(v: float) -> str:
        return f"{json.dumps(v)} (a number with a fraction: this setting is a whole number)"

    rows = [(f"$.rules.settings.{k}", f"a whole number (PairingRules.{k})", found(v), "rules")
            for k, v in settings.items() if k in single and fraction(v)]
    rows += [(f"$.rules.settings.{k}[{i}]", f"a whole number (PairingRules.{k})", found(x), "rules")
             for k, v in settings.items() if k in several and isinstance(v, list)
             for i, x in enumerate(v) if fraction(x)]
    return rows


def _whole_numbers(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The parsed summary with whole-number floats read as whole numbers where the format has whole numbers.

    Spreadsheets and some JSON writers give counts as ``3.0``. JSON Schema lets ``3.0`` through as an integer,
    so the rules checked after it (:func:`_semantic_problems`) must read it as the count 3 as well: the counts of
    ``programmes`` and ``results`` (the ``Int64`` columns of :func:`_columns`) and the disclosure ``threshold``
    and ``rounding_base``. The rules settings are left to :class:`~evalkit.rules.PairingRules`, which reads
    ``"min_dose": 2.0`` as 2 itself. A number with a fraction (``3.5``) is left as it is, for the schema to
    refuse. Returns a new mapping (``data`` is not changed); parts not shaped as the format says are left for the
    schema to name.
    """
    out = dict(data)
    disc = out.get("disclosure")
    if isinstance(disc, Mapping):
        out["disclosure"] = {k: _whole(v) if k in ("threshold", "rounding_base") else v for k, v in disc.items()}
    for part, kind in (("programmes", "programme"), ("results", "result")):
        records = out.get(part)
        if not isinstance(records, list):
            continue
        whole = {c for c, dtype in _columns(kind) if dtype == "Int64"}
        out[part] = [{k: _whole(v) if k in whole else v for k, v in r.items()} if isinstance(r, Mapping) else r
                     for r in records]
    return out


def _is_whole_cell(value: Any) -> bool:
    """Whether a cell types as a whole number (or missing) in an ``Int64`` column: ``3``, ``3.0``, ``"3"``."""
    try:
        pd.array([value], dtype="Int64")
    except (TypeError, ValueError):
        return False
    return True


def _fraction_problems(records: list[Mapping[str, Any]], part: str, kind: str) -> list[tuple[str, str, str, str]]:
    """Cells of a frame's whole-number columns (counts, ``planned_sessions``) that do not type as whole numbers.

    Used where frames become a summary (:meth:`Summary.from_frames`), before they are typed, so that ``20.5``
    (or the text ``"20.5"``) paired is refused with its row and column rather than failing to convert; what
    typed before (``20``, ``20.0``, the text ``"20"``) still does. Summary-sized: a few cells per programme.
    """
    whole = [c for c, dtype in _columns(kind) if dtype == "Int64"]
    return [(f"$.{part}[{i}].{c}", "a whole number or null", _describe_count(r.get(c)), "type")
            for i, r in enumerate(records) for c in whole if not _is_whole_cell(r.get(c))]


def _semantic_problems(data: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """Checks JSON Schema cannot express: keys, the disclosure rule, counts that must nest, codes, rules."""
    rows: list[tuple[str, str, str, str]] = []
    disc = data["disclosure"]
    threshold, show_zero, base = int(disc["threshold"]), bool(disc["show_zero"]), disc["rounding_base"]
    rules = None
    fractions = _settings_fraction_problems(data["rules"]["settings"])
    rows += fractions
    try:
        rules = None if fractions else PairingRules.from_dict(dict(data["rules"]["settings"]))
    except (TypeError, ValueError) as exc:
        rows.append(("$.rules.settings", "the settings of evalkit.rules.PairingRules", str(exc), "rules"))
    if rules is not None and (rules.suppression_threshold != threshold or rules.show_zero != show_zero
                              or rules.rounding_base != base):
        rows.append(("$.disclosure", "the suppression settings of $.rules.settings "
                     f"(threshold {rules.suppression_threshold}, show_zero {rules.show_zero}, "
                     f"rounding_base {rules.rounding_base})",
                     f"threshold {threshold}, show_zero {show_zero}, rounding_base {base}", "disclosure"))
    codes = {c: table_schema("programmes").field(c).codes for c in ("format", "mode", "delivered_by", "facilitation")}
    seen: dict[str, int] = {}
    for i, p in enumerate(data["programmes"]):
        pid = p["programme_id"]
        if pid in seen:
            rows.append((f"$.programmes[{i}].programme_id", "a programme_id used once",
                         f"{pid!r} again (also $.programmes[{seen[pid]}])", "unique"))
        seen.setdefault(pid, i)
        for c, allowed in codes.items():
            if p.get(c) is not None and allowed and p[c] not in allowed:
                rows.append((f"$.programmes[{i}].{c}", "one of " + ", ".join(allowed), _describe(p[c]), "enum"))
        rows += _disclosure_problems(p, f"$.programmes[{i}]", _count_columns("programme"), threshold, show_zero, base)
        rows += _funnel_problems(p, f"$.programmes[{i}]")
    seen_r: dict[tuple[str, str], int] = {}
    registry = builtin_instruments()
    for i, r in enumerate(data["results"]):
        key = (r["programme_id"], r["instrument"])
        if r["programme_id"] not in seen:
            rows.append((f"$.results[{i}].programme_id", "a programme_id listed in $.programmes",
                         _describe(r["programme_id"]), "foreign_key"))
        if key in seen_r:
            rows.append((f"$.results[{i}]", "one result per programme and instrument",
                         f"{key[0]} x {key[1]} again (also $.results[{seen_r[key]}])", "unique"))
        seen_r.setdefault(key, i)
        rows += _disclosure_problems(r, f"$.results[{i}]", _count_columns("result"), threshold, show_zero, base)
        if r["instrument"] not in registry:
            rows.append((f"$.results[{i}].instrument", "a known instrument code (" + ", ".join(sorted(registry))
                         + "; add others with EVALKIT_INSTRUMENTS_DIR)", _describe(r["instrument"]), "instrument"))
        else:
            rows += _range_problems(r, f"$.results[{i}]", registry[r["instrument"]].score_range, base)
        rows += _nesting_problems(r, f"$.results[{i}]", _RESULT_NESTING)
        if r["programme_id"] in seen:  # a measure's mothers are among the programme's (evalkit.summary._containments)
            j = seen[r["programme_id"]]
            outer = {f"$.programmes[{j}].{c}": data["programmes"][j].get(c) for c in ("attended_1", "paired")}
            rows += _nesting_problems({**r, **outer}, f"$.results[{i}]",
                                      [(f"$.programmes[{j}].attended_1", "n_baseline"),
                                       (f"$.programmes[{j}].paired", "n_paired")])
    return rows


_RESULT_NESTING = [("n_baseline", "n_paired"), ("n_paired", "n_reliable_improvement"),
                   ("n_paired", "n_reliable_deterioration"), ("n_paired", "n_caseness_baseline"),
                   ("n_caseness_baseline", "n_recovered"), ("n_recovered", "n_reliable_recovery"),
                   ("n_reliable_improvement", "n_reliable_recovery")]


def _largest_sd(low: float, high: float, n: int) -> float:
    """Largest sample SD (``ddof=1``) of ``n`` >= 2 values in [low, high].

    The values split as evenly as they can between the two ends (k at one end, n - k at the other, k = n // 2),
    which gives the variance ``(high - low)**2 * k * (n - k) / (n * (n - 1))``: ``(high - low) / 2`` times
    sqrt(n / (n - 1)) for even n (the population SD of such values is at most ``(high - low) / 2``; the sample
    SD divides by n - 1), largest at n = 2.
    """
    k = n // 2
    return (high - low) * math.sqrt(k * (n - k) / (n * (n - 1)))


_RANGE_SLACK = 1e-9
"""Relative allowance (of the instrument's range) for floating-point rounding in the range checks."""


def _range_problems(obj: Mapping[str, Any], where: str, score_range: tuple[float, float] | None,
                    base: int | None) -> list[tuple[str, str, str, str]]:
    """Means, SDs and the mean change that an instrument's total scores cannot produce.

    A mean lies within the total's range [low, high]; an SD of the paired n (``n_paired``, the published
    count, so at least that count less the rounding base plus one; at least 2 when hidden) is at most
    :func:`_largest_sd`; the mean change is at most ``high - low`` in size. Instruments without a
    ``score_range`` are not checked.
    """
    if score_range is None:
        return []
    low, high = score_range
    span = high - low
    slack = _RANGE_SLACK * max(span, 1.0)
    what = f"(programme {obj['programme_id']}, instrument {obj['instrument']}, totals {low:g} to {high:g})"
    n = obj.get("n_paired")
    if isinstance(n, int) and not isinstance(n, bool):
        n = max(2, n - (base - 1 if base and base > 1 else 0))
    else:
        n = 2
    rows = []

    def number(name: str) -> float | None:
        v = obj.get(name)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    for name in ("baseline_mean", "endpoint_mean"):
        v = number(name)
        if v is not None and not low - slack <= v <= high + slack:
            rows.append((f"{where}.{name}", f"a mean within the instrument's range {what}", _describe(obj[name]),
                         "score_range"))
    largest = _largest_sd(low, high, n)
    for name in ("baseline_sd", "endpoint_sd"):
        v = number(name)
        if v is not None and v > largest + slack:
            rows.append((f"{where}.{name}", f"an SD of at most {largest:.4g}, the largest possible for {n} "
                         f"scores in the instrument's range {what}", _describe(obj[name]), "score_range"))
    v = number("mean_change")
    if v is not None and abs(v) > span + slack:
        rows.append((f"{where}.mean_change", f"a mean change of at most {span:g} in size, the width of the "
                     f"instrument's range {what}", _describe(obj["mean_change"]), "score_range"))
    return rows


def _disclosure_problems(obj: Mapping[str, Any], where: str, counts: list[str], threshold: int, show_zero: bool,
                         base: int | None) -> list[tuple[str, str, str, str]]:
    rows = []
    hidden = obj.get("suppressed", [])
    for name in hidden:
        if name not in obj:
            rows.append((f"{where}.suppressed", "names of fields of this object", _describe(name), "suppressed"))
        elif obj[name] is not None:
            rows.append((f"{where}.{name}", "null (the field is listed as suppressed)", _describe(obj[name]),
                         "suppressed"))
    lowest = 0 if show_zero else threshold
    for c in counts:
        v = obj.get(c)
        if v is None or isinstance(v, bool) or not isinstance(v, int):
            continue
        if (v != 0 or not show_zero) and v < threshold and threshold > 1:
            allowed = f"0 or at least {threshold}" if lowest == 0 else f"at least {threshold}"
            rows.append((f"{where}.{c}", f"a published count of {allowed} (the suppression threshold), or null",
                         _describe(v), "disclosure"))
        elif base and base > 1 and v % base:
            rows.append((f"{where}.{c}", f"a multiple of {base} (counts are rounded)", _describe(v), "disclosure"))
    return rows


def _funnel_problems(obj: Mapping[str, Any], where: str) -> list[tuple[str, str, str, str]]:
    """Each published take-up step at most the nearest published step before it (referred >= offered >= ...).

    Hidden steps are null, so a step is compared with the last one before it that is published: the steps
    nest whatever lies between them, and rounding keeps their order.
    """
    rows = []
    outer: str | None = None
    for step in _FUNNEL_CHAIN:
        if outer is not None:
            rows += _nesting_problems(obj, where, [(outer, step)])
        v = obj.get(step)
        if isinstance(v, int) and not isinstance(v, bool):
            outer = step
    return rows


def _nesting_problems(obj: Mapping[str, Any], where: str, pairs: list[tuple[str, str]]
                      ) -> list[tuple[str, str, str, str]]:
    rows = []
    for outer, inner in pairs:
        a, b = obj.get(outer), obj.get(inner)
        if isinstance(a, int) and isinstance(b, int) and b > a:
            rows.append((f"{where}.{inner}", f"at most {outer} ({a})", _describe(b), "nesting"))
    return rows


def validate_summary(data: Any, *, source: str | None = None) -> None:
    """Check parsed summary JSON against the schema and the summary rules.

    Parameters
    ----------
    data
        The parsed JSON (a dict).
    source
        File name for messages.

    Raises
    ------
    SummaryFormatError
        Listing every problem: JSON path, what was expected and what was found.
        Beyond the JSON Schema it checks that every number is finite and
        at most about 6.7e153 in size (so no comparison overflows on it) and
        every whole number at most 2**53, that programme ids are unique and
        every result's programme is listed, that suppressed fields are null,
        that no published count is below the suppression threshold (or off
        the rounding base), that nested counts nest (paired <= baseline, each
        take-up step within the one before, a measure's paired and baseline
        mothers within the programme's paired and attended ones, ...),
        that characteristics use the codes of ``schemas/tables/programmes.json``,
        that every result's instrument is in the registry
        (:func:`~evalkit.instruments.builtin_instruments`), that its means lie
        within the instrument's ``score_range``, its SDs are at most the largest
        possible for ``n_paired`` scores in that range and its mean change is
        at most the range's width in size (:func:`_range_problems`)
        and that the rules are valid :class:`~evalkit.rules.PairingRules`.
        A whole number written with a decimal point (``3.0``, as spreadsheets
        export counts) is checked as that whole number, in the counts, the
        disclosure settings and the rules settings (``"min_dose": 2.0``);
        ``3.5`` where a whole number belongs is refused, by field.
    """
    _validated(data, source=source)


def _validated(data: Any, *, source: str | None = None) -> Mapping[str, Any]:
    """:func:`validate_summary`, returning the summary with whole-number floats read as whole numbers
    (:func:`_whole_numbers`), for :meth:`Summary.from_dict` to build from."""
    if not isinstance(data, Mapping):
        raise SummaryFormatError(_problem_frame([("$", "an object", _describe(data), "type")]), file=source)
    version = data.get("schema_version")
    if version is not None and version != SCHEMA_VERSION:
        raise SummaryFormatError(_problem_frame([(
            "$.schema_version", f"{SCHEMA_VERSION!r} (this evalkit reads summary format {SCHEMA_VERSION})",
            f"{version!r}" + (" - made by a newer evalkit? upgrade evalkit" if str(version) > SCHEMA_VERSION else ""),
            "const")]), file=source)
    data = _whole_numbers(data)
    rows = _nonfinite_problems(data)
    bad = {r[0] for r in rows}
    rows += [r for r in _jsonschema_problems(data) if r[0] not in bad]
    if not rows:
        rows = _semantic_problems(data)
    if rows:
        raise SummaryFormatError(_problem_frame(rows), file=source)
    return data


# ---------------------------------------------------------------------------
# reading and writing


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a summary (missing values are null)")


def read_summary(path: str | Path) -> Summary:
    """Read and validate a summary file.

    Parameters
    ----------
    path
        A JSON file written by :func:`write_summary` (or ``evalkit summary``).

    Returns
    -------
    Summary

    Raises
    ------
    InputFileError
        If the file does not exist or is not UTF-8 text.
    SummaryFormatError
        If it is not JSON, or not a valid summary: the message names the file,
        the JSON path, what was expected and what was found.
    """
    p = Path(path)
    if not p.is_file():
        raise InputFileError("file not found (expected a summary JSON file)", file=str(p))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"is not UTF-8 text ({exc}); a summary is a JSON file", file=str(p)) from exc
    except OSError as exc:
        raise InputFileError(f"cannot be read ({exc})", file=str(p)) from exc
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError as exc:
        raise SummaryFormatError(_problem_frame([(
            "$", "JSON text", "arrays or objects nested too deeply to read",
            "json")]), file=str(p)) from exc
    except json.JSONDecodeError as exc:
        raise SummaryFormatError(_problem_frame([(
            "$", "JSON text", f"invalid JSON at line {exc.lineno}, column {exc.colno} ({exc.msg})", "json")]),
            file=str(p)) from exc
    except ValueError as exc:
        raise SummaryFormatError(_problem_frame([("$", "JSON without NaN or Infinity", str(exc), "json")]),
                                 file=str(p)) from exc
    return Summary.from_dict(data, source=str(p))


def write_summary(summary: Summary, path: str | Path) -> Path:
    """Write a summary as JSON (validated first); returns the path."""
    data = json.loads(summary.to_json())
    validate_summary(data, source=str(path))
    p = Path(path)
    p.write_text(summary.to_json(), encoding="utf-8")
    return p


# ---------------------------------------------------------------------------
# canonical hash of the input tables


def data_hash(tables: Mapping[str, pd.DataFrame]) -> str:
    """SHA-256 of the canonical content of the canonical tables, independent of row and column order.

    Parameters
    ----------
    tables
        Canonical tables keyed by name (other keys are ignored).

    Returns
    -------
    str
        64 hexadecimal characters.

    Notes
    -----
    Each table is typed with :func:`evalkit.data_source.coerce_tables`; only
    its Table Schema columns (and item columns) that hold at least one value
    are used, in name order, so provenance columns, empty optional columns and
    column order do not matter. Each cell becomes canonical text (dates
    ``YYYY-MM-DD``, numbers with 17 significant digits so that ``15`` and
    ``15.0`` agree and every float round-trips, booleans ``True``/``False``,
    missing = NUL); a row is its cells joined by the unit separator; the rows
    are sorted, so row order does not matter. The hash is over
    ``evalkit-data-v1``, then for each table in name order its name, row
    count, column names and its sorted rows.

    The rows are the text ``DataFrame.to_csv(sep="\\x1f", na_rep="\\x00",
    float_format="%.17g", date_format="%Y-%m-%d")`` writes (a missing float is
    empty there), sorted in code-point order; they are built column by column
    in pyarrow (:func:`_cell_text`) and sorted there, and ``to_csv`` is used
    only for a table with text the CSV writer would quote.

    Examples
    --------
    >>> import pandas as pd
    >>> a = pd.DataFrame({"programme_id": ["P", "Q"], "name": ["x", "y"]})
    >>> data_hash({"programmes": a}) == data_hash({"programmes": a.iloc[::-1, ::-1]})
    True
    """
    from evalkit.data_source import coerce_table

    h = hashlib.sha256(b"evalkit-data-v1\n")
    for name in sorted(k for k in tables if k in TABLE_NAMES):
        frame = tables[name]
        frame = coerce_table(frame, name) if isinstance(frame, pd.DataFrame) else frame  # one table at a time
        schema = table_schema(name)
        cols = sorted(c for c in frame.columns if isinstance(c, str)
                      and (c in schema.field_names or schema.is_item_column(c)) and frame[c].notna().any())
        h.update(f"\x1etable {name}\x1f{len(frame)}\x1f{chr(31).join(cols)}\n".encode())
        if not cols or frame.empty:
            continue
        fed = h.copy()  # discarded if a column turns out to need to_csv part way through the table
        if _hash_rows_in_chunks(fed, frame, cols):
            h = fed
            continue
        # text the CSV writer would quote, or an unusual dtype
        text = frame[cols].to_csv(index=False, header=False, sep="\x1f", lineterminator="\x1e",
                                  na_rep="\x00", float_format="%.17g", date_format="%Y-%m-%d")
        rows = sorted(text.split("\x1e")[:-1])
        h.update("\x1e".join(rows).encode("utf-8"))
    return h.hexdigest()


_CHUNK_ROWS = 1 << 18  # rows whose text is built at a time (groups of rows that share their leading cells stay whole)


def _hash_rows_in_chunks(h: Any, frame: pd.DataFrame, cols: list[str], chunk_rows: int | None = None) -> bool:
    """Feed ``h`` the table's row texts, sorted and joined by ``"\\x1e"``, building them a chunk of rows at a time.

    Parameters
    ----------
    h
        A :mod:`hashlib` hash, fed in place.
    frame
        The typed table, with at least one row.
    cols
        Its used columns, in name order.
    chunk_rows
        Rows to build at a time (:data:`_CHUNK_ROWS` if ``None``); a group of rows sharing their leading cells
        (see :func:`_row_groups`) is never split, so a chunk can be larger.

    Returns
    -------
    bool
        ``False`` where a column's text needs ``to_csv`` (:func:`_cell_text` gives ``None`` for some chunk);
        ``h`` then holds part of the table and is to be discarded.

    Notes
    -----
    Chunked for memory: building every row's text at once and sorting it (a copy), then appending separators
    (another copy) took 2.1 GB above the tables at a million participants of issue #8's volume (10.6M contact
    rows). The rows are put in the order of their groups first (:func:`_row_groups`): every row of a chunk then
    sorts before every row of the next, so the chunks' sorted rows, one after another, are the table's sorted
    rows and the bytes fed to ``h`` are those of building them all at once.
    """
    size = _CHUNK_ROWS if chunk_rows is None else chunk_rows
    groups = _row_groups(frame, cols, size)
    if groups is None:
        return False
    order, ends = groups
    sep = pa.scalar("\x1f", pa.large_string())
    start = 0
    for stop in _chunk_stops(ends, size):
        rows = np.sort(order[start:stop])  # ascending: taken from each Arrow chunk of a column in turn
        cells = [_cell_text(frame[c], single=len(cols) == 1, rows=rows) for c in cols]
        if any(c is None for c in cells):
            return False
        text = pac.binary_join_element_wise(*cells, sep)
        del cells  # the column texts are in the rows now
        _hash_sorted_rows(h, [text], last=stop == len(frame))
        start = stop
    return True


def _row_groups(frame: pd.DataFrame, cols: list[str], size: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The rows in the order of their groups, and where each group ends; ``None`` where a column needs ``to_csv``.

    A group is the rows sharing the text of their first cells: the first column's, and the next columns' while
    a group has more than ``size`` rows. A row is ``c1 \\x1f c2 \\x1f ...`` and no cell holds ``\\x1f`` (that text
    goes to ``to_csv``), so the rows of a group share the prefix ``c1 \\x1f c2 \\x1f ... ck \\x1f`` and are
    contiguous in the sorted rows, and the groups are in the order of that prefix: of each cell's text followed by
    ``\\x1f``, not of the text alone (a cell may hold characters below ``\\x1f``, such as NUL for missing), except
    for the last column, whose text ends the row.
    """
    key: np.ndarray | None = None
    for j, c in enumerate(cols):
        ranked = _text_rank(frame[c], "\x1f" if j < len(cols) - 1 else "")
        if ranked is None:
            return None
        rank, distinct = ranked
        key = rank if key is None else np.unique(key * distinct + rank, return_inverse=True)[1].reshape(-1)
        sizes = np.bincount(key)
        if sizes.max() <= size:
            break
    assert key is not None  # noqa: S101 - cols is never empty
    return np.argsort(key, kind="stable"), np.cumsum(sizes)


def _text_rank(s: pd.Series, suffix: str) -> tuple[np.ndarray, int] | None:
    """Each cell's rank among the column's distinct cell texts followed by ``suffix`` (equal texts, equal rank).

    Returns the ranks and the number of distinct texts, or ``None`` where the column needs ``to_csv``. The
    distinct values are found first (floats by their bits: ``-0.0`` and ``0.0`` have different texts) and only
    their texts are built.
    """
    if s.dtype == np.float64:
        codes, bits = pd.factorize(s.to_numpy(dtype=float).view(np.int64))
        values = pd.Series(bits.view(np.float64))
    else:
        codes, uniques = pd.factorize(s, use_na_sentinel=False)
        values = pd.Series(uniques)
        if values.dtype != s.dtype:  # pragma: no cover - factorize keeps every dtype _cell_text writes
            return None
    texts = _cell_text(values, single=False)
    if texts is None:
        return None
    if suffix:
        texts = pac.binary_join_element_wise(texts, pa.scalar("", pa.large_string()),
                                             pa.scalar(suffix, pa.large_string()))
    order = pac.sort_indices(texts)
    ordered = texts.take(order)
    new = pac.not_equal(ordered[1:], ordered[:-1]).to_numpy(zero_copy_only=False)
    dense = np.concatenate([[0], np.cumsum(new)])  # the rank of each text in sorted order
    rank = np.empty(len(texts), dtype=np.int64)
    rank[order.to_numpy()] = dense
    return rank[codes], int(dense[-1]) + 1


def _chunk_stops(ends: np.ndarray, size: int) -> list[int]:
    """Where each chunk of whole groups stops: as many groups as fit in ``size`` rows, at least one (``ends``: the
    groups' cumulative ends)."""
    stops: list[int] = []
    start = 0
    while start < int(ends[-1]):
        fit = int(np.searchsorted(ends, start + size, side="right"))  # groups ending within start + size
        stop = int(ends[fit - 1]) if fit and ends[fit - 1] > start else int(ends[np.searchsorted(ends, start, "right")])
        stops.append(stop)
        start = stop
    return stops


_QUOTED = re.compile('[\x1f\x1e"\r\n]')  # characters that make the CSV writer quote a cell
_QUOTED_BYTES = tuple(c.encode() for c in '\x1f\x1e"\r\n')  # the same, each one byte in UTF-8


def _has_quoted_text(arr: pa.LargeStringArray) -> bool:
    """Whether any text of ``arr`` holds a character of :data:`_QUOTED`.

    Those characters are ASCII, and in UTF-8 an ASCII byte is only ever that character, so the value bytes of
    ``arr`` are searched for them directly (a byte search, not a regular expression per cell). The bytes
    searched span every value of ``arr`` (and any bytes a missing value holds, which can only say yes: the
    caller then takes the slower ``to_csv`` path, with the same result).
    """
    if not len(arr):
        return False
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)
    start, stop = int(offsets[arr.offset]), int(offsets[arr.offset + len(arr)])
    data = arr.buffers()[2]
    if data is None or stop <= start:
        return False
    text = data.to_pybytes()[start:stop]
    return any(b in text for b in _QUOTED_BYTES)
_ROWS_PER_UPDATE = 1 << 16


def _cell_text(s: pd.Series, *, single: bool, rows: np.ndarray | None = None) -> pa.Array | None:
    """Each cell as ``to_csv(sep="\\x1f", na_rep="\\x00", float_format="%.17g", date_format="%Y-%m-%d")`` writes it.

    Only the cells at positions ``rows`` (ascending) if given, as if ``s.take(rows)`` were written.

    Vectorised in pyarrow/numpy: dates ``YYYY-MM-DD`` (years 1000-9999), whole floats below 2**53 as
    integers (what ``%.17g`` gives them), other floats through ``%.17g`` one by one, integers and
    booleans as Python prints them, text as it is; missing values as NUL, except a missing float, which
    the CSV writer leaves empty. Returns ``None`` where the CSV
    writer would do something else (text it would quote, a lone empty cell, other dtypes), for the caller
    to fall back on ``to_csv``.

    Dates, and floats that are all whole numbers (or missing), spanning fewer days or numbers than the column
    has cells (dates over a few years, item scores, minutes), are written once for each day or number of their
    span and picked for each cell (``take``), rather than formatted cell by cell: the same text.
    """
    dtype = s.dtype
    if rows is not None and not isinstance(s.array, pd.arrays.ArrowStringArray):
        s = s.take(rows)
    if isinstance(dtype, pd.StringDtype):
        arr = pa.array(s.array)
        if rows is not None and isinstance(s.array, pd.arrays.ArrowStringArray):
            arr = _take_ascending(arr, rows)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        arr = arr.cast(pa.large_string())
        if _has_quoted_text(arr):
            return None
        if single and pac.any(pac.equal(arr, "")).as_py():
            return None
        return pac.fill_null(arr, pa.scalar("\x00", pa.large_string()))
    nul = pa.scalar("\x00", pa.large_string())
    if dtype.kind == "M" and not isinstance(dtype, pd.DatetimeTZDtype):
        days = s.to_numpy().astype("datetime64[D]")
        nat = np.isnat(days)
        number = days.view(np.int64)
        if nat.all():
            return pac.fill_null(pac.cast(pa.array(days), pa.large_string()), nul)
        present = number[~nat]
        first, last = int(present.min()), int(present.max())
        del present
        years = np.array([first, last], dtype="datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
        if years[0] < 1000 or years[1] > 9999:  # a year is never smaller on a later day
            return None
        if last - first < len(days):  # each day's text once (dates span a few years), then picked for each cell
            every_day = pac.cast(pa.array(np.arange(first, last + 1).astype("datetime64[D]")), pa.large_string())
            texts = pa.concat_arrays([pa.array(["\x00"], type=pa.large_string()), every_day])
            return texts.take(pa.array(np.where(nat, 0, number - (first - 1)).astype(np.int32)))
        return pac.fill_null(pac.cast(pa.array(days), pa.large_string()), nul)  # date32 -> ISO 8601 text
    if dtype == np.float64:
        v = s.to_numpy(dtype=float)
        nan = np.isnan(v)
        with np.errstate(invalid="ignore"):
            whole = ~nan & (np.abs(v) < 2.0**53) & (v == np.floor(v)) & ~((v == 0) & np.signbit(v))
        other = ~whole & ~nan
        if not other.any() and not nan.all():  # whole numbers: each number's text once, then picked for each cell
            low, high = float(np.fmin.reduce(v)), float(np.fmax.reduce(v))  # NaN left out
            if high - low < len(v):
                each = pac.cast(pa.array(np.arange(int(low), int(high) + 1, dtype=np.int64)), pa.large_string())
                texts = pa.concat_arrays([pa.array([""], type=pa.large_string()), each])  # a missing float: empty
                return texts.take(pa.array(np.where(nan, 0.0, v - (low - 1)).astype(np.int32)))
        text = pac.cast(pa.array(np.where(whole, v, 0).astype(np.int64)), pa.large_string())
        if other.any():  # fractional or huge values, one by one, exactly as the CSV writer formats every float
            fmt = [format(float(x), ".17g") for x in v[other]]
            text = pac.replace_with_mask(text, pa.array(other), pa.array(fmt, type=pa.large_string()))
        # the CSV writer leaves a missing float empty (na_rep applies to the other dtypes only)
        return pac.if_else(pa.array(nan), pa.scalar("", pa.large_string()), text)
    if isinstance(dtype, pd.Int64Dtype) or (isinstance(dtype, np.dtype) and dtype.kind in "iu"):
        arr = pa.array(s.array) if isinstance(dtype, pd.Int64Dtype) else pa.array(s.to_numpy())
        return pac.fill_null(pac.cast(arr, pa.large_string()), nul)
    if isinstance(dtype, pd.BooleanDtype) or dtype == np.bool_:
        arr = pa.array(s.array) if isinstance(dtype, pd.BooleanDtype) else pa.array(s.to_numpy())
        text = pac.if_else(arr, pa.scalar("True", pa.large_string()), pa.scalar("False", pa.large_string()))
        return pac.fill_null(text, nul)
    return None


def _take_ascending(arr: pa.Array | pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """``arr.take(rows)`` for ascending ``rows``, taken from each chunk of ``arr`` in turn.

    ``ChunkedArray.take`` joins all the chunks first: for each chunk of rows of :func:`_hash_rows_in_chunks`,
    a copy of the whole column (200 MB and 0.1 s for 10.6M contacts).
    """
    if isinstance(arr, pa.Array):
        return arr.take(pa.array(rows))
    starts = np.concatenate([[0], np.cumsum([len(c) for c in arr.chunks])])
    cuts = np.searchsorted(rows, starts)
    pieces = [chunk.take(pa.array(rows[cuts[i]:cuts[i + 1]] - starts[i]))
              for i, chunk in enumerate(arr.chunks) if cuts[i + 1] > cuts[i]]
    return pa.concat_arrays(pieces) if pieces else pa.array([], type=arr.type)


def _hash_sorted_rows(h: Any, holder: list[pa.Array], *, last: bool = True) -> None:
    """Feed ``"\\x1e".join(sorted(rows))`` to ``h`` in pieces (pyarrow sorts UTF-8 bytes: Python's code-point order).

    ``holder`` holds the only reference to the rows, so that the unsorted copy is freed once sorted. Unless
    ``last``, a ``"\\x1e"`` follows the last row too (more rows follow in another chunk).
    """
    rows = holder.pop()
    if isinstance(rows, pa.ChunkedArray):
        rows = rows.combine_chunks()
    rows = rows.take(pac.sort_indices(rows))
    if not len(rows):
        return
    # each sorted row followed by the separator: the value buffer is then the joined text plus one last separator
    ended = pac.binary_join_element_wise(rows, pa.scalar("", pa.large_string()), pa.scalar("\x1e", pa.large_string()))
    del rows
    offsets = np.frombuffer(ended.buffers()[1], dtype=np.int64)[ended.offset:ended.offset + len(ended) + 1]
    data = memoryview(ended.buffers()[2])
    for start in range(0, len(ended), _ROWS_PER_UPDATE):
        stop = min(start + _ROWS_PER_UPDATE, len(ended))
        end = offsets[stop] - (1 if last and stop == len(ended) else 0)
        h.update(data[offsets[start]:end])


# ---------------------------------------------------------------------------
# disclosure control


@dataclass(frozen=True)
class _Relation:
    """``parent`` contains the disjoint ``children`` (cells named ``"programme.col"`` or ``"result.col"``).

    Unless ``exhaustive``, ``parent - sum(children)`` is a further count of people (the *rest*): never
    published, but anyone could work it out, so it is a cell to protect too. ``roles`` limits a relation
    with result cells to result rows of those instrument roles. ``single`` limits it to programmes with a
    single change measure (one result row), where the funnel's cumulative steps over all change measures
    are steps of that one measure.
    """

    parent: str
    children: tuple[str, ...]
    exhaustive: bool = False
    roles: tuple[str, ...] | None = None
    single: bool = False


_RFW = ("rfw_both", "rfw_recovered_from", "rfw_recovery_within", "rfw_neither", "rfw_reliably_worse")
_FUNNEL_CHAIN = ("referred", "offered", "took_up", "attended_1", "reached_min_dose", "baseline_measured", "paired")
_WITHIN_ROLES = ("wellbeing", "recovery")


def _containments(rules: PairingRules) -> list[tuple[str, str, tuple[str, ...] | None, bool]]:
    """Direct containments ``(outer, inner, roles, single)``: the people counted in ``inner`` are all in ``outer``.

    ``single``: only in a programme with a single change measure (see :class:`_Relation`).
    """
    recovered = "result.n_reliable_recovery" if rules.recovery_from == "reliable" else "result.n_recovered"
    edges: list[tuple[str, str, tuple[str, ...] | None, bool]] = [
        (f"programme.{a}", f"programme.{b}", None, False) for a, b in zip(_FUNNEL_CHAIN[:-1], _FUNNEL_CHAIN[1:],
                                                                           strict=True)]
    edges += [
        # per instrument: a baseline needs attendance (it is anchored on the first attended contact), and
        # anyone paired on one change measure is paired in the funnel
        ("programme.attended_1", "result.n_baseline", None, False),
        ("programme.paired", "result.n_paired", None, False),
        # the funnel's 'baseline measured' is a baseline on any change measure *and* the minimum dose, so
        # with a single change measure it lies inside that measure's n_baseline (which counts baselines
        # whatever the dose): the rest, baselines below the minimum dose, is a count of people
        ("result.n_baseline", "programme.baseline_measured", None, True),
        ("result.n_baseline", "result.n_paired", None, False),
        ("result.n_paired", "result.n_reliable_improvement", None, False),
        ("result.n_paired", "result.n_reliable_deterioration", None, False),
        ("result.n_paired", "result.n_caseness_baseline", None, False),
        ("result.n_caseness_baseline", "result.n_recovered", None, False),
        ("result.n_recovered", "result.n_reliable_recovery", None, False),
        ("result.n_reliable_improvement", "result.n_reliable_recovery", None, False),
        # recovery from / within (evalkit.recovery)
        ("result.n_caseness_baseline", "programme.rfw_total", ("symptom",), False),
        ("result.n_paired", "programme.rfw_total", _WITHIN_ROLES, False),
        *[("programme.rfw_total", f"programme.{c}", None, False) for c in _RFW],
        (recovered, "programme.rfw_both", ("symptom",), False),
        (recovered, "programme.rfw_recovered_from", ("symptom",), False),
        ("result.n_reliable_improvement", "programme.rfw_both", _WITHIN_ROLES, False),
        ("result.n_reliable_improvement", "programme.rfw_recovery_within", _WITHIN_ROLES, False),
    ]
    return edges


def _relations(rules: PairingRules) -> tuple[_Relation, ...]:
    """Every relation among the published counts that a reader could use to work out a number of people.

    * each containment, *and every containment implied by a chain of them* (outer minus inner is a count
      of people whatever lies between: took up minus reached the minimum dose, ...);
    * each set of disjoint parts of a count (improved and deteriorated among the paired; the recovery
      from / within categories, which add up to their total), *and the same parts of every count that
      contains it* (outer minus the published parts is a count of people too, whether or not the count
      between is published: attended at least once minus 'neither' minus 'reliably worse', ...). Without
      these, a count hidden between two relations (e.g. the recovery from / within total) could leave each
      relation's hidden cells adding up to a fair number while those of the two together add up to a small
      one.
    """
    edges = _containments(rules)
    children: dict[str, list[tuple[str, tuple[str, ...] | None, bool]]] = {}
    for a, b, roles, single in edges:
        children.setdefault(a, []).append((b, roles, single))

    def merge(r1: tuple[str, ...] | None, r2: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if r1 is None:
            return r2
        if r2 is None:
            return r1
        return tuple(r for r in r1 if r in r2)

    closure: dict[tuple[str, str, tuple[str, ...] | None, bool], None] = {}
    for start in list(children):
        stack: list[tuple[str, tuple[str, ...] | None, bool]] = [(start, None, False)]
        while stack:
            node, roles, single = stack.pop()
            for child, r, s in children.get(node, []):
                rr = merge(roles, r)
                if rr == ():
                    continue
                closure[(start, child, rr, single or s)] = None
                stack.append((child, rr, single or s))
    # a containment that holds for every programme makes its single-measure copy redundant
    rels = [_Relation(a, (b,), roles=r, single=s) for a, b, r, s in closure
            if not (s and (a, b, r, False) in closure)]
    recovered = "result.n_reliable_recovery" if rules.recovery_from == "reliable" else "result.n_recovered"
    parts = [
        _Relation("result.n_paired", ("result.n_reliable_improvement", "result.n_reliable_deterioration")),
        _Relation("programme.rfw_total", tuple(f"programme.{c}" for c in _RFW), exhaustive=True),
        _Relation(recovered, ("programme.rfw_both", "programme.rfw_recovered_from"), roles=("symptom",)),
        _Relation("result.n_reliable_improvement", ("programme.rfw_both", "programme.rfw_recovery_within"),
                  roles=_WITHIN_ROLES),
    ]
    outer = [r for r in rels]  # the containments (single child)
    for part in list(parts):
        for cont in outer:
            if cont.children[0] != part.parent:
                continue
            roles = merge(part.roles, cont.roles)
            if roles == ():
                continue
            parts.append(_Relation(cont.parent, part.children, roles=roles, single=part.single or cont.single))
    rels += list(dict.fromkeys(parts))
    return tuple(rels)


#: Cells hidden last when a complementary suppression is needed (a comparison needs them).
_KEEP_FIRST = frozenset({"result.n_paired"})
_KEEP = frozenset({"programme.referred", "programme.took_up", "result.n_reliable_improvement",
                   "result.n_caseness_baseline"})
_DERIVED = {
    **{f"result.{c}": ("result.n_paired",) for c in RESULT_STATS if c != "completeness"},
    "result.completeness": ("result.n_paired", "programme.reached_min_dose"),
    **{f"programme.{c}": ("programme.attended_1",) for c in DOSE_STATS},
}


def disclose(programmes: pd.DataFrame, results: pd.DataFrame, *, rules: PairingRules | None = None,
             hidden_elsewhere: Mapping[str, np.ndarray] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control of summary frames: suppress small counts, protect them from subtraction, round.

    Parameters
    ----------
    programmes, results
        Unprotected summary frames (the columns of :class:`Summary`; absent
        columns are skipped; the ``suppressed`` column, if any, is replaced).
        ``results`` rows are linked to ``programmes`` rows by ``programme_id``.
    rules
        Supplies ``suppression_threshold``, ``show_zero``, ``rounding_base``
        and ``recovery_from`` (default ``PairingRules()``).
    hidden_elsewhere
        Cells that other outputs of the same figures hide (``"programme.<column>"``
        or ``"result.<column>"`` -> boolean array over the rows of that frame):
        hidden here too, before complementary suppression, so that the summary
        never publishes a count another output protects (:func:`build_summary`
        passes those of :func:`evalkit.outcomes.outcome_summary` and
        :func:`evalkit.engagement.take_up_funnel`).

    Returns
    -------
    (programmes, results)
        Copies with hidden counts ``<NA>``, figures derived from a hidden count
        (means, SDs, correlations, mean change, completeness, dose quantiles)
        missing, counts rounded, and a ``suppressed`` column naming the hidden
        fields of each row.

    Notes
    -----
    The steps and settings are those of :mod:`evalkit.disclosure`
    (:func:`~evalkit.disclosure.primary_suppression`,
    :func:`~evalkit.disclosure.secondary_suppression`,
    :func:`~evalkit.disclosure.round_counts`), applied to one set of cells
    spanning both frames: the published counts *and* the unpublished rests
    between nested counts (referred - offered, attended at least once - an
    instrument's baseline n, paired - improved - deteriorated, ...), because
    a rest is a count of people that anyone could work out by subtraction.
    Every containment is used, including those implied by a chain (took up -
    reached the minimum dose), so that no difference of two nested published
    counts is small (:func:`_relations`). Each relation (a parent, its
    disjoint children and the rest) is one group of which never exactly one
    cell may be hidden; all its cells are members of the group (the relation
    "parent - children - rest = 0" has a known total), which keeps the rule
    sound when a parent is itself hidden as a complement elsewhere -- unlike
    a ``Partition`` with a published total in
    :func:`evalkit.disclosure.apply_disclosure`. Then, while the hidden cells
    of some group add up to a small count (which anyone could work out as the
    group's parent minus its published cells), one more cell is hidden. When
    a complementary cell must be chosen, unpublished rests go first (hiding
    them costs nothing), then ordinary counts from the smallest, then the
    counts a comparison needs, and ``n_paired`` last, so that a programme
    stays comparable whenever its paired n is itself above the threshold.
    Cells not available (NaN, e.g. caseness without a cut-off) are never
    hidden, and relations that contain one are not used. A programme with a
    single change measure has its funnel's ``paired`` and that measure's
    ``n_paired`` as one cell (the same people).

    Cells in ``hidden_elsewhere`` start hidden, like small counts; the rules
    above then apply to the whole set.

    Should a relation still give a hidden count away after complementary
    suppression,
    :func:`~evalkit.disclosure.warn_unprotected_relations` raises a
    :class:`~evalkit.errors.DisclosureWarning` naming its counts, as
    :func:`~evalkit.disclosure.apply_disclosure` warns of what it cannot
    protect.

    Validated by a property test that simulates people, derives every
    published count from them and checks by linear algebra over the person
    types that no hidden count is determined by the published ones
    (``tests/test_summary_disclosure.py``).
    """
    rules = PairingRules() if rules is None else rules
    threshold, show_zero, base = rules.suppression_threshold, rules.show_zero, rules.rounding_base
    frames = {"programme": programmes.reset_index(drop=True).copy(), "result": results.reset_index(drop=True).copy()}
    count_cols = {k: [c for c in _count_columns(k) if c in frames[k].columns] for k in frames}
    if len(frames["result"]):
        pos = pd.Series(np.arange(len(frames["programme"])),
                        index=frames["programme"]["programme_id"].astype("string"))
        link = pos.reindex(frames["result"]["programme_id"].astype("string")).to_numpy(dtype=float)
        if np.isnan(link).any():
            missing = sorted(set(frames["result"]["programme_id"].astype(str)[np.isnan(link)]))
            raise ValueError(f"results name programme(s) {missing} that are not in programmes")
        prog_of_result = link.astype(np.int64)
    else:
        prog_of_result = np.zeros(0, dtype=np.int64)

    values: list[np.ndarray] = []
    costs: list[np.ndarray] = []
    labels: list[np.ndarray] = []  # per cell, its name in a warning
    ids: dict[str, np.ndarray] = {}
    n_cells = 0

    def add(v: np.ndarray, cost: np.ndarray, label: str) -> np.ndarray:
        nonlocal n_cells
        idx = np.arange(n_cells, n_cells + len(v))
        n_cells += len(v)
        values.append(v)
        costs.append(cost)
        labels.append(np.full(len(v), label, dtype=object))
        return idx

    # the recovery numerator of evalkit.compare follows rules.recovery_from
    keep = _KEEP | {"result.n_reliable_recovery" if rules.recovery_from == "reliable" else "result.n_recovered"}
    for kind, frame in frames.items():
        for c in count_cols[kind]:
            name = f"{kind}.{c}"
            v = pd.to_numeric(frame[c], errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
            bump = 1e12 if name in _KEEP_FIRST else (1e6 if name in keep else 0.0)
            ids[name] = add(v, np.where(v > 0, v + bump, v), name)  # zeros stay 0: non-zero cells are taken first

    # A programme with a single change measure: 'paired on any measure' is that measure's n_paired, the
    # same people; one cell, so that the two are always hidden together.
    if "programme.paired" in ids and "result.n_paired" in ids and len(prog_of_result):
        n_rows = np.bincount(prog_of_result, minlength=len(frames["programme"]))
        single = np.flatnonzero(n_rows[prog_of_result] == 1)
        flat_now = np.concatenate(values)
        same = flat_now[ids["programme.paired"][prog_of_result[single]]] == flat_now[ids["result.n_paired"][single]]
        ids["programme.paired"][prog_of_result[single[same]]] = ids["result.n_paired"][single[same]]

    groups: list[np.ndarray] = []
    roles = frames["result"]["role"].astype("string").to_numpy(dtype=object, na_value=None) \
        if "role" in frames["result"].columns else np.full(len(frames["result"]), None, dtype=object)
    n_measures = np.bincount(prog_of_result, minlength=len(frames["programme"]))  # result rows per programme
    for rel in _relations(rules):
        cells = (rel.parent, *rel.children)
        if any(c not in ids for c in cells):
            continue
        per_result = any(c.startswith("result.") for c in cells)
        if per_result:
            rows = np.flatnonzero(np.isin(roles, list(rel.roles))) if rel.roles else \
                np.arange(len(frames["result"]))
            if rel.single:
                rows = rows[n_measures[prog_of_result[rows]] == 1]

            def at(cell: str, rows: np.ndarray = rows) -> np.ndarray:
                return ids[cell][rows] if cell.startswith("result.") else ids[cell][prog_of_result[rows]]
        else:
            rows = np.arange(len(frames["programme"]))
            if rel.roles:  # only programmes with a result of such a role
                rows = np.unique(prog_of_result[np.isin(roles, list(rel.roles))])
            if rel.single:
                rows = rows[n_measures[rows] == 1]

            def at(cell: str, rows: np.ndarray = rows) -> np.ndarray:
                return ids[cell][rows]
        if not len(rows):
            continue
        members = [at(c) for c in cells]
        flat_now = np.concatenate(values)
        # a relation with a cell that is not available (e.g. no cut-off, hence no caseness) tells nobody anything
        usable = ~np.isnan(np.column_stack([flat_now[m] for m in members])).any(axis=1)
        if not usable.any():
            continue
        members = [m[usable] for m in members]
        if not rel.exhaustive:
            rest = flat_now[members[0]] - sum(flat_now[m] for m in members[1:])
            # unpublished: free to hide, even a zero
            members.append(add(rest, np.full(len(rest), -1.0), f"the rest of {rel.parent}"))
        groups.append(np.column_stack(members))

    flat = np.concatenate(values) if values else np.zeros(0)
    cost = np.where(np.isnan(flat), np.nan, np.concatenate(costs) if costs else np.zeros(0))
    hidden = primary_suppression(flat, threshold=threshold, show_zero=show_zero) if threshold > 1 \
        else np.zeros(len(flat), dtype=bool)
    if threshold > 1:
        for name, mask in (hidden_elsewhere or {}).items():
            if name not in ids:
                continue
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != ids[name].shape:
                raise ValueError(f"hidden_elsewhere[{name!r}] has {mask.shape[0] if mask.ndim else 0} values for "
                                 f"{len(ids[name])} rows")
            cells = ids[name][mask]
            hidden[cells[~np.isnan(flat[cells])]] = True
    if groups and threshold > 1:
        sizes = [g.shape[1] for g in groups for _ in range(len(g))]
        n_groups = len(sizes)
        member_group = np.repeat(np.arange(n_groups), sizes)
        member_cell = np.concatenate([g.ravel() for g in groups])
        # every cell of a relation is a member (parent - children - rest = 0 has a known total); the hidden
        # cells of a relation add up to a number anyone can work out (the published cells are known), so
        # that sum must not be a small count either (threshold=); complements are chosen by cost
        hidden = secondary_suppression(flat, hidden, member_group, member_cell, np.full(n_groups, -1),
                                       threshold=threshold, cost=cost)
        warn_unprotected_relations(flat, hidden, member_group, member_cell, threshold=threshold,
                                   names=np.concatenate(labels), what="the summary")
    published = round_counts(flat, base)

    masks: dict[str, np.ndarray] = {}
    names = {k: np.full(len(f), "", dtype=object) for k, f in frames.items()}

    def note(kind: str, mask: np.ndarray, col: str) -> None:
        cur = names[kind]
        cur[mask] = np.where(cur[mask] == "", col, cur[mask] + "; " + col)

    for kind, frame in frames.items():
        for c in count_cols[kind]:
            idx = ids[f"{kind}.{c}"]
            mask = hidden[idx]
            masks[f"{kind}.{c}"] = mask
            vals = np.where(mask | np.isnan(flat[idx]), np.nan, published[idx])
            frame[c] = pd.array(np.where(np.isnan(vals), None, vals), dtype="Float64").round().astype("Int64")
            note(kind, mask, c)
    for target, deps in _DERIVED.items():
        kind, col = target.split(".")
        frame = frames[kind]
        if col not in frame.columns:
            continue
        mask = np.zeros(len(frame), dtype=bool)
        for d in deps:
            if d not in masks:
                continue
            m = masks[d]
            mask |= m if d.split(".")[0] == kind else m[prog_of_result]
        if mask.any():
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("float64").where(~mask)
            note(kind, mask, col)
    for kind, frame in frames.items():
        frame["suppressed"] = pd.array(names[kind].astype(str), dtype="string")
    return frames["programme"], frames["result"]


# ---------------------------------------------------------------------------
# building a summary from canonical tables


def _select(tables: Mapping[str, pd.DataFrame], programme: str | Sequence[str] | None
            ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    if "programmes" not in tables:
        raise ValueError("tables must include 'programmes' (the programme characteristics); got "
                         + ", ".join(sorted(tables)))
    typed = coerce_tables(dict(tables))
    known = typed["programmes"]["programme_id"].dropna().astype(str).tolist()
    if programme is None:
        wanted = known
    else:
        wanted = [programme] if isinstance(programme, str) else list(programme)
        unknown = [p for p in wanted if p not in known]
        if unknown:
            raise ValueError(f"programme {', '.join(map(repr, unknown))} not found in the programmes table; "
                             f"available: {', '.join(known) or 'none'}")
    if not wanted:
        raise ValueError("there are no programmes to summarise (the programmes table is empty)")
    keep = set(wanted)
    out = {k: (_rows_of(v, keep) if isinstance(v, pd.DataFrame) and "programme_id" in v.columns else v)
           for k, v in typed.items()}
    return out, list(dict.fromkeys(wanted))


_HASHED_ONLY: dict[str, tuple[str, ...]] = {"contacts": ("peer_supporter_id",)}
"""Columns of the tables that a summary reads only for its data hash (:func:`data_hash`), by table."""


def _without_hashed_only(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` without the columns of :data:`_HASHED_ONLY`, for once they are hashed.

    The other columns are not copied (copy-on-write); the columns left out are freed when nothing else holds
    their frames (at a million participants of issue #8's volume the peer supporter ids are 264 MB, held beside
    every programme block otherwise).
    """
    return {k: (v.drop(columns=[c for c in _HASHED_ONLY[k] if c in v.columns])
                if k in _HASHED_ONLY and isinstance(v, pd.DataFrame) else v)
            for k, v in tables.items()}


def _rows_of(frame: pd.DataFrame, keep: set[str]) -> pd.DataFrame:
    """The rows of the kept programmes (the frame itself, not a copy, when that is every row)."""
    mask = frame["programme_id"].astype("string").isin(keep).fillna(False).to_numpy(dtype=bool)
    if mask.all():
        return frame.reset_index(drop=True)
    return frame[mask].reset_index(drop=True)


def build_summary(
    tables: Mapping[str, pd.DataFrame],
    *,
    rules: PairingRules | None = None,
    programme: str | Sequence[str] | None = None,
    instruments: Any = None,
    created_at: str | None = None,
    episodes: Any = None,
) -> Summary:
    """Summarise programmes for comparison: aggregate, disclosure-controlled, with provenance.

    Parameters
    ----------
    tables
        Canonical tables keyed by name (``programmes``, ``participants`` and
        ``measures`` required; ``contacts`` and ``group_sessions`` used when
        present).
    rules
        :class:`~evalkit.rules.PairingRules` (default ``PairingRules()``);
        they decide pairing, reliable change, recovery and disclosure.
    programme
        A programme id or several (default: every programme in the tables).
    instruments
        Instrument registry (default: built-in).
    created_at
        Override the creation time (ISO 8601 UTC, ``YYYY-MM-DDTHH:MM:SSZ``),
        e.g. for reproducible files.
    episodes
        The :class:`~evalkit.episodes.EpisodeData` that
        :func:`evalkit.episodes.prepare_episodes` made of these same
        ``tables`` with these ``rules`` and ``instruments``, when the caller
        has it already (the dashboard shares one per data version): the
        summary is then worked out from it instead of preparing the episodes
        again, with the same result. It is used only when the summary covers
        every row of ``tables`` in one pass (all programmes, each row's
        programme in the programmes table, and not so many rows that they are
        worked out programme by programme: :data:`BLOCK_ROWS`); otherwise the
        episodes are prepared here as without it. Default: prepared here.

    Returns
    -------
    Summary
        See :class:`Summary`. Each programme is summarised from its own rows
        only, so summaries built one programme at a time equal one built for
        all of them.

    Raises
    ------
    ValueError
        When ``episodes`` were prepared with other rules or another
        instrument registry than this call's, or hold another number of
        participants than ``tables``.
    """
    rules = PairingRules() if rules is None else rules
    if not isinstance(rules, PairingRules):
        raise ValueError(f"rules must be a PairingRules; got {type(rules).__name__}")
    selected, ids = _select(tables, programme)
    if episodes is not None:
        _check_episodes(episodes, tables, rules, instruments)
        if not all(len(v) == len(tables[k]) for k, v in selected.items() if isinstance(v, pd.DataFrame)):
            episodes = None  # made of rows this summary leaves out (other programmes): prepared here instead
    del tables  # its own frames from here (a caller that hands the tables over, as evalkit summary does, lets go)
    # the hash first, while only the tables are in memory (its text of the rows is large); _figures checks the
    # tables it needs before
    digest = data_hash(selected) if {"participants", "measures"} <= set(selected) else None
    if digest is not None:
        selected = _without_hashed_only(selected)
    programmes, results, elsewhere = _figures(selected, ids, rules, instruments, episodes)
    programmes, results = disclose(programmes, results, rules=rules, hidden_elsewhere=elsewhere)
    programmes = _records_to_frame(_frame_to_records(programmes, "programme"), "programme")
    results = _records_to_frame(_frame_to_records(results, "result"), "result")
    hashed = tuple(sorted(k for k in selected if k in TABLE_NAMES))
    summary = Summary(
        programmes=programmes,
        results=results,
        rules=rules.to_dict(),
        rules_text=rules.describe(),
        disclosure=_disclosure_settings(rules),
        data_hash=digest if digest is not None else data_hash(selected),
        hashed_tables=hashed,
        created_at=created_at or _now(),
    )
    validate_summary(summary.to_dict())
    return summary


def summary_from_store(
    store: Any,
    scope: Any,
    *,
    rules: PairingRules | None = None,
    programmes: Sequence[str] | None = None,
    date_range: tuple[object, object] | None = None,
) -> Summary:
    """The summary of the programmes a scope may count, built inside the library (researchers too).

    Parameters
    ----------
    store
        An open :class:`evalkit.store.Store`.
    scope
        The user's :class:`~evalkit.access.Scope`. Providers and evaluators
        get their own programmes; a researcher, who may not load individual
        rows, gets every programme (or ``scope.programmes`` when set): the rows
        are read here and only the disclosure-controlled aggregates leave this
        function.
    rules, programmes, date_range
        As :func:`build_summary` and :func:`evalkit.store.load_tables`.

    Returns
    -------
    Summary
    """
    from evalkit.store._read import load_tables_to_count

    return build_summary(load_tables_to_count(store, scope, programmes=programmes, date_range=date_range), rules=rules)


def _check_episodes(episodes: Any, tables: Mapping[str, pd.DataFrame], rules: PairingRules, instruments: Any
                    ) -> None:
    """Refuse episodes given to :func:`build_summary` that were not prepared as it would prepare them."""
    from evalkit.episodes import EpisodeData

    if not isinstance(episodes, EpisodeData):
        raise ValueError(f"episodes must be an EpisodeData (from evalkit.episodes.prepare_episodes); got "
                         f"{type(episodes).__name__}")
    if episodes.rules != rules:
        raise ValueError("the episodes given were prepared with other rules than the summary's: "
                         f"{episodes.rules.describe()!r}, not {rules.describe()!r}; pass the same rules, or no "
                         "episodes to prepare them here")
    given = builtin_instruments() if episodes.instruments is None else episodes.instruments
    wanted = builtin_instruments() if instruments is None else instruments
    if given is not wanted and dict(given) != dict(wanted):
        raise ValueError("the episodes given were scored with another instrument registry than the summary's "
                         f"({', '.join(sorted(given))} against {', '.join(sorted(wanted))}); pass the same "
                         "instruments, or no episodes to prepare them here")
    parts = tables.get("participants")
    # prepare_episodes keeps one row per participant id
    n_tables = parts["participant_id"].nunique(dropna=False) if parts is not None and "participant_id" in parts else 0
    if len(episodes.participants) != n_tables:
        raise ValueError(f"the episodes given hold {len(episodes.participants)} participants, the tables "
                         f"{n_tables}: they were prepared from other tables")


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _disclosure_settings(rules: PairingRules) -> dict[str, Any]:
    return {"threshold": rules.suppression_threshold, "show_zero": rules.show_zero,
            "rounding_base": rules.rounding_base,
            "note": disclosure_note(threshold=rules.suppression_threshold, show_zero=rules.show_zero,
                                    rounding_base=rules.rounding_base)}


#: evalkit.engagement.participant_path step -> summary column
_PATH_STEPS = {"referred": "referred", "offered": "offered", "took_up": "took_up", "attended": "attended_1",
               "reached_min_dose": "reached_min_dose", "baseline_measured": "baseline_measured", "paired": "paired"}
_CHARACTERISTICS = ("name", "provider", "format", "mode", "delivered_by", "facilitation", "planned_sessions",
                    "region")
_STAT_NAMES = {"pre_post_r": "r_pre_post", "ci_low": "mean_change_ci_low", "ci_high": "mean_change_ci_high"}


def _funnel_path(path: pd.DataFrame) -> pd.DataFrame:
    """The columns of a :func:`~evalkit.engagement.participant_path` the summary's funnel is disclosed from: the
    steps, the reasons for leaving and the measures each mother was paired on, so that it hides what
    :func:`~evalkit.engagement.take_up_funnel` hides on the dashboard and in the report."""
    from evalkit.engagement import FUNNEL_STEPS, paired_on_columns

    return path[["programme_id", *FUNNEL_STEPS, "last_step", "exit_reason", *paired_on_columns(path)]]


def _figures(tables: Mapping[str, pd.DataFrame], ids: list[str], rules: PairingRules, instruments: Any,
             episodes: Any = None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Unprotected programme rows and result rows, and the cells other outputs hide (see :func:`disclose`).

    Every figure of a programme comes from its own rows only, so the figures are worked out one programme at
    a time (:func:`_programme_blocks`; all at once when the rows of a programme are not all its participants'
    rows, as in unvalidated tables) and only the small per-programme results are kept: at a million
    participants, the episodes of all programmes at once would take gigabytes. Reliable-change parameters can
    depend on the sample (e.g. the baseline SD of an instrument without a reference SD), so change is
    computed one programme at a time in any case.

    The same counts are published by :func:`evalkit.engagement.take_up_funnel` (the funnel steps) and
    :func:`evalkit.outcomes.outcome_summary` (n_paired, reliable change, caseness, recovery, and n_baseline
    as n_paired + n_unpaired_with_baseline), each protected by its own complementary suppression. Whatever
    those hide, for these figures, is returned so that the summary hides it too (:func:`_hidden_elsewhere`).

    ``episodes``, the prepared episodes of all of ``tables`` (see :func:`build_summary`), are used for a block
    that holds every row of ``tables``.
    """
    from evalkit.engagement import _funnel_steps_hidden
    from evalkit.memory import release_freed_memory
    from evalkit.outcomes import disclose_statistics
    from evalkit.recovery import RECOVERY_CATEGORIES

    if "participants" not in tables or "measures" not in tables:
        raise ValueError("tables must include 'participants' and 'measures' to summarise outcomes; got "
                         + ", ".join(sorted(tables)))
    blocks = []
    split = _programme_blocks(tables, ids)
    for block_ids in split if split is not None else [ids]:
        # each programme's rows are copied when its turn comes (and freed after), not all at once
        block_tables = tables if split is None else {
            k: (_rows_of(v, set(block_ids)) if isinstance(v, pd.DataFrame) and "programme_id" in v.columns else v)
            for k, v in tables.items()}
        whole = episodes is not None and all(len(v) == len(tables[k]) for k, v in block_tables.items()
                                             if isinstance(v, pd.DataFrame))
        blocks.append(_block_figures(block_tables, block_ids, rules, instruments, episodes if whole else None,
                                     own_tables=split is not None))
        del block_tables
        release_freed_memory()
    funnel = pd.concat([b.funnel for b in blocks])
    dose_stats = pd.concat([b.dose_stats for b in blocks])
    months = pd.concat([b.months for b in blocks])
    rfw = pd.concat([b.rfw for b in blocks])
    rfw_able = set().union(*(b.rfw_able for b in blocks))
    path = pd.concat([b.path for b in blocks], ignore_index=True)
    st_blocks = [b.statistics for b in blocks if b.statistics is not None]
    del blocks

    # programme characteristics, take-up funnel (referrals; steps of evalkit.engagement) and dose
    prog_table = tables["programmes"].drop_duplicates("programme_id")
    prog_table = prog_table.set_index(prog_table["programme_id"].astype(str))
    rows = []
    for pid in ids:
        row: dict[str, Any] = {"programme_id": pid}
        for c in _CHARACTERISTICS:
            row[c] = prog_table.at[pid, c] if c in prog_table.columns else None
        for c in PROGRAMME_COUNTS:
            row[c] = int(funnel.at[pid, c]) if pid in funnel.index else 0
        for c in DOSE_STATS:
            row[c] = dose_stats.at[pid, c] if pid in dose_stats.index else np.nan
        row["first_referral_month"] = months.at[pid, "min"].strftime("%Y-%m") if pid in months.index else None
        row["last_referral_month"] = months.at[pid, "max"].strftime("%Y-%m") if pid in months.index else None
        if pid in rfw_able:
            for c in ("total", *RECOVERY_CATEGORIES):
                v = rfw.at[pid, c] if pid in rfw.index and c in rfw.columns else 0
                row[f"rfw_{c}"] = int(0 if pd.isna(v) else v)
        rows.append(_plain(row))
    programmes = _records_to_frame(rows, "programme")
    # with the reasons for leaving, so the funnel hides what the report's and the dashboard's funnel hide
    funnel_out = _funnel_steps_hidden(_funnel_path(path), by=("programme_id",), rules=rules) \
        if len(path) else None

    if not st_blocks:
        results = _empty_frame("result")
        return programmes, results, _hidden_elsewhere(programmes, results, funnel_out, None)
    # the rows of each block are in (programme, instrument) order and the blocks in programme order
    st = pd.concat(st_blocks, ignore_index=True) if len(st_blocks) > 1 else st_blocks[0]
    outcome_out = disclose_statistics(st, rules=rules)  # as evalkit.outcomes.outcome_summary protects it
    st = st.rename(columns=_STAT_NAMES)
    st["n_baseline"] = st["n_paired"] + st["n_unpaired_with_baseline"]
    keep = [c for c, _ in _columns("result") if c in st.columns]
    results = _records_to_frame(_frame_to_records(st[keep], "result"), "result")
    order = {p: i for i, p in enumerate(ids)}
    results = results.iloc[np.argsort(results["programme_id"].map(order).to_numpy(), kind="stable")] \
        .reset_index(drop=True)
    return programmes, results, _hidden_elsewhere(programmes, results, funnel_out, outcome_out)


@dataclass(frozen=True)
class _BlockFigures:
    """What :func:`_figures` keeps of a block of programmes (indexed by programme id, except ``path``)."""

    funnel: pd.DataFrame
    dose_stats: pd.DataFrame
    months: pd.DataFrame
    rfw: pd.DataFrame
    rfw_able: set[str]
    path: pd.DataFrame  # programme_id and the funnel steps, one row per participant
    statistics: pd.DataFrame | None  # evalkit.outcomes.change_statistics by programme x instrument


BLOCK_ROWS = 2_000_000
"""Most participant, contact and measure rows worked out at once by :func:`build_summary` (a programme with
more is a block of its own): below it, one pass over all programmes is faster; above it, one programme at a
time keeps memory low (about 2.3 million rows per programme at a million participants)."""


def _programme_blocks(tables: Mapping[str, pd.DataFrame], ids: list[str]) -> list[list[str]] | None:
    """The programmes of ``ids`` with participants in blocks (programme-id order, at most :data:`BLOCK_ROWS`
    rows each unless one programme has more), if working block by block gives the same figures.

    Figures from one programme's rows equal that programme's figures from all rows when each participant
    id belongs to one programme and every contact and measure of a known participant carries her programme
    (what validation enforces: ``participant_in_two_programmes``). Otherwise (unvalidated tables), or for a
    single programme, None: the figures are worked out from all ``tables`` at once.
    """
    from evalkit.episodes import _arrow_strings, _positions

    parts = tables["participants"]
    if len(ids) < 2 or "programme_id" not in parts.columns or "participant_id" not in parts.columns:
        return None
    prog = parts["programme_id"].astype("string")
    if parts["participant_id"].nunique(dropna=False) != len(parts[["participant_id", "programme_id"]]
                                                          .drop_duplicates()):
        return None  # a participant id in two programmes
    pids = _arrow_strings(parts["participant_id"])
    # the programmes as numbers (their position among the participants' programmes; -1 missing or none of them),
    # compared row by row instead of each row's text and its participant's (at a million participants of issue
    # #8's volume, 10.6 million contacts: about 0.6 GB of text taken and joined, against 0.25 GB of numbers)
    names = pac.unique(_arrow_strings(prog).drop_null())
    # each participant's programme, and after them -2 for a row of no participant here (position -1)
    own_code = np.append(_positions(prog, names), -2)
    for name in ("contacts", "measures"):
        frame = tables.get(name)
        if frame is None or not len(frame):
            continue
        if "programme_id" not in frame.columns or "participant_id" not in frame.columns:
            return None
        pos = _positions(frame["participant_id"], pids)
        if not (pos >= 0).any():
            return None  # rows, none of a participant here: the tables are worked out at once, as they were
        own = own_code[pos]
        mismatch = (own != _positions(frame["programme_id"], names)) | (own == -1)
        mismatch &= pos >= 0  # only a row of a participant here is compared
        del pos, own
        if mismatch.any():
            return None  # a row carries another programme than its participant's (or none)
    with_parts = set(prog.dropna().unique())
    ordered = sorted(p for p in ids if p in with_parts)
    if not ordered:
        return None
    # programmes packed in id order into blocks of at most BLOCK_ROWS rows (a programme larger than that is a
    # block of its own): small tables are one block, with no per-block set-up paid again and again
    rows = pd.Series(0, index=pd.Index(ordered, dtype=object), dtype=np.int64)
    for name in ("participants", "contacts", "measures"):
        frame = tables.get(name)
        if frame is not None and len(frame) and "programme_id" in frame.columns:
            counts = frame["programme_id"].astype("string").value_counts()
            rows = rows.add(counts.reindex(rows.index, fill_value=0).astype(np.int64), fill_value=0)
    blocks: list[list[str]] = []
    size = 0
    for pid, n in zip(ordered, rows.to_numpy(dtype=np.int64), strict=True):
        if blocks and size + n <= BLOCK_ROWS:
            blocks[-1].append(pid)
            size += int(n)
        else:
            blocks.append([pid])
            size = int(n)
    return blocks


def _block_figures(tables: Mapping[str, pd.DataFrame], ids: list[str], rules: PairingRules, instruments: Any,
                   episodes: Any = None, *, own_tables: bool = False) -> _BlockFigures:
    """The per-programme figures of the programmes ``ids`` from their tables (see :func:`_figures`), or from
    ``episodes``, those tables' prepared episodes, when given. With ``own_tables`` (a dict of the block's own
    rows, handed over) the contacts are let go of once the episodes have read them, and the measures once the
    episodes are prepared; the scored measures are kept only for a sample reliability, their one reader here."""
    from evalkit.engagement import participant_path
    from evalkit.episodes import prepare_episodes
    from evalkit.memory import release_freed_memory
    from evalkit.outcomes import change_statistics
    from evalkit.recovery import recovery_from_within

    # a block's own copy of the contacts (at a million participants a programme's are about 0.3 GB) is let go of
    # once read, not held while its change is worked out
    data = prepare_episodes(tables, rules=rules, instruments=instruments, keep_attended=False,
                            release_contacts=own_tables,
                            keep_scored_measures=rules.sample_reliability) if episodes is None else episodes
    del episodes  # freed with ``data`` below when it was prepared here
    if own_tables:  # nothing here reads them again (a programme's at a million participants: about 0.35 GB)
        tables.pop("measures", None)  # type: ignore[attr-defined]  # the block's own dict
        release_freed_memory()
    parts = data.participants
    pid_of = parts["programme_id"].astype("string")

    # take-up funnel (referrals; steps of evalkit.engagement) and dose
    path = participant_path(data, rules=rules, instruments=instruments)
    steps = path[["programme_id", *_PATH_STEPS]].astype({c: int for c in _PATH_STEPS})
    funnel = steps.assign(programme_id=steps["programme_id"].astype(str)).groupby("programme_id").sum() \
        .rename(columns=_PATH_STEPS)
    attended = path["attended"].to_numpy(dtype=bool)
    dose = pd.DataFrame({"programme_id": path["programme_id"].astype(str).to_numpy()[attended],
                         "dose": np.nan_to_num(path["attended_total"].to_numpy(dtype=float)[attended])})
    dose_g = dose.groupby("programme_id")["dose"]
    dose_stats = pd.DataFrame({"dose_mean": dose_g.mean(),
                               **{c: dose_g.quantile(q) for c, q in _DOSE_QUANTILES.items()}})
    ref = parts["referral_date"] if "referral_date" in parts.columns else pd.Series(pd.NaT, index=parts.index)
    months = pd.DataFrame({"programme_id": pid_of.to_numpy(dtype=object), "d": ref.to_numpy()}).dropna() \
        .groupby("programme_id")["d"].agg(["min", "max"])
    path = _funnel_path(path)  # exits and measures paired on: as the report's funnel hides
    del steps, dose, dose_g, ref, pid_of

    # change, one programme at a time; then statistics and recovery from/within for the block at once
    changes = _changes_by_programme(data, ids, rules, instruments)
    del data  # scores, scored measures and attended contacts are not needed any more
    release_freed_memory()

    rfw = pd.DataFrame()
    rfw_able: set[str] = set()
    st = None
    if changes is not None:
        roles = changes[["programme_id", "role", "cutoff"]].astype("string")
        # the distinct ids first (a set of the whole column would take every row's id as a Python string)
        sym = set(roles.loc[(roles["role"] == "symptom").fillna(False) & roles["cutoff"].notna(), "programme_id"]
                  .unique())
        wit = set(roles.loc[roles["role"].isin(["wellbeing", "recovery"]).fillna(False), "programme_id"].unique())
        del roles
        rfw_able = {str(p) for p in sym & wit}
        if rfw_able:
            rfw = recovery_from_within(changes, by=("programme_id",), rules=rules, disclose=False)
            rfw = rfw.assign(programme_id=rfw["programme_id"].astype(str), category=rfw["category"].astype(str)) \
                .pivot_table(index="programme_id", columns="category", values="n", aggfunc="sum")
        st = change_statistics(changes, by=["programme_id", "instrument"], rules=rules, participants=parts)
    return _BlockFigures(funnel=funnel, dose_stats=dose_stats, months=months, rfw=rfw, rfw_able=rfw_able,
                         path=path, statistics=st)


def _changes_by_programme(data: Any, ids: list[str], rules: PairingRules, instruments: Any) -> pd.DataFrame | None:
    """:func:`evalkit.change.episode_change` of each programme's episodes on its own, stacked in ``ids`` order.

    Reliable-change parameters can depend on the sample (a sample SD or alpha), so each programme's are its
    own (:func:`evalkit.change.instrument_parameters` of its rows). The change itself is then worked out in one
    pass over every programme's rows (:func:`_change_of_each_programme`), each programme's rows with its own
    parameters, and set on the episodes' rows in the same order, so the result equals concatenating
    ``episode_change`` of each programme's rows (``pandas.concat``, as the whole frames were).
    """
    from evalkit.change import instrument_parameters

    episodes = data.episodes
    ep_pid = episodes["programme_id"].astype("string")
    narrow = episodes[[c for c in ("programme_id", "participant_id", "instrument", "paired", "baseline_score",
                                   "endpoint_score", "baseline_date") if c in episodes.columns]]
    narrow.attrs = dict(episodes.attrs)
    sm = data.scored_measures if rules.sample_reliability else None  # only a sample alpha reads it
    sm_pid = sm["programme_id"].astype("string") if sm is not None and "programme_id" in sm.columns else None
    registry = builtin_instruments() if instruments is None else instruments
    rows, params = [], []
    for pid in ids:
        mine = np.flatnonzero((ep_pid == pid).fillna(False).to_numpy(dtype=bool))
        if len(mine):
            own_sm = sm[(sm_pid == pid).fillna(False).to_numpy(dtype=bool)] if sm_pid is not None else sm
            rows.append(mine)
            params.append(instrument_parameters(narrow.iloc[mine], rules=rules, instruments=registry,
                                                scored_measures=own_sm))
    if not rows:
        return None
    at = np.concatenate(rows)
    whole = np.array_equal(at, np.arange(len(episodes)))
    stacked = _change_of_each_programme(narrow if whole else narrow.iloc[at], [len(r) for r in rows], params,
                                        rules, registry)
    base = (episodes if whole else episodes.iloc[at]).reset_index(drop=True)
    cols = [c for c in base.columns if c != "rules"]
    out = pd.concat([base[cols], stacked, base[["rules"]]] if "rules" in base.columns else [base[cols], stacked],
                    axis=1)
    out.attrs = dict(stacked.attrs)
    return out


_CHANGE_TEXTS = ("reliability_source", "sd_source", "rc_threshold_source", "cutoff")
"""Text columns of :func:`evalkit.change.episode_change` whose categories are the texts that occur in its rows."""


def _change_of_each_programme(episodes: pd.DataFrame, sizes: list[int], params: list[pd.DataFrame],
                              rules: PairingRules, registry: Mapping[str, Any]) -> pd.DataFrame:
    """The :data:`~evalkit.change.CHANGE_COLUMNS` of ``episodes`` (the rows of one programme after another,
    ``sizes`` rows each), each programme's rows changed with its own ``params``, in one
    :func:`~evalkit.change.episode_change` pass.

    The pass tells the programmes apart by their instrument: each row's instrument is named with its
    programme's position (an instrument of the registry under one name per programme), and so are the rows
    of each programme's parameters. Its columns are those of ``episode_change`` of each programme's rows
    stacked with ``pandas.concat``: a text column whose texts are not the same set in every programme is
    plain text there (the categories differ), so it is made plain text here too.
    """
    from evalkit.change import CHANGE_COLUMNS, episode_change

    group = np.repeat(np.arange(len(sizes)), sizes)
    codes, names = pd.factorize(episodes["instrument"])
    # "<programme position>\x1f<instrument>" for each (programme, instrument) that occurs; missing stays missing
    width = len(names) + 1
    pairs, pair_of_row = np.unique(group * width + codes + 1, return_inverse=True)
    keys = np.array([f"{int(g) // width}\x1f{names[int(g) % width - 1]}" if g % width else None for g in pairs],
                    dtype=object)
    keyed = episodes.assign(instrument=pd.array(keys[pair_of_row], dtype="string"))
    keyed.attrs = dict(episodes.attrs)
    keyed_params = pd.concat([p.assign(instrument=pd.array([f"{i}\x1f{c}" for c in p["instrument"]], dtype="string"))
                              for i, p in enumerate(params)], ignore_index=True)
    keyed_registry = {f"{i}\x1f{c}": registry[c] for i, p in enumerate(params) for c in p["instrument"]}
    changed = episode_change(keyed, rules=rules, instruments=keyed_registry, parameters=keyed_params)
    out = changed[[c for c in CHANGE_COLUMNS if c in changed.columns]]
    out.attrs = dict(changed.attrs)
    bounds = list(zip(np.cumsum(sizes) - sizes, np.cumsum(sizes), strict=True))
    for c in _CHANGE_TEXTS:
        if c not in out.columns or len(sizes) < 2:
            continue
        col = out[c].array
        used = [np.unique(col.codes[a:b]) for a, b in bounds]
        used = [u[u >= 0] for u in used]  # the texts of each programme (positions in the categories of all)
        if all(np.array_equal(u, used[0]) for u in used):
            continue  # the same categories in every programme: stacked, they stay categories
        if all(len(u) for u in used):  # what pandas.concat makes of categories that differ: their text
            out[c] = category_text_column(out[c])
            continue
        # a programme without any of these texts: each programme's own categories, stacked by pandas.concat
        pieces = []
        for u, (a, b) in zip(used, bounds, strict=True):
            own = np.full(len(col.categories) + 1, -1, dtype=np.int64)  # the last one: a missing text stays missing
            own[u] = np.arange(len(u))
            pieces.append(pd.Series(pd.Categorical.from_codes(own[col.codes[a:b]],
                                                              categories=list(col.categories[u]))))
        out[c] = pd.concat(pieces, ignore_index=True).set_axis(out.index)
    return out.reset_index(drop=True)


#: outcome_summary count -> summary result columns that must be hidden when it is hidden
_OUTCOME_HIDES = {
    "n_paired": ("n_paired", "n_baseline"),
    "n_unpaired_with_baseline": ("n_baseline",),
    **{c: (c,) for c in ("n_reliable_improvement", "n_reliable_deterioration", "n_caseness_baseline", "n_recovered",
                         "n_reliable_recovery")},
}


def _hidden_elsewhere(programmes: pd.DataFrame, results: pd.DataFrame, funnel_out: pd.DataFrame | None,
                      outcome_out: pd.DataFrame | None) -> dict[str, np.ndarray]:
    """The summary cells whose count :func:`~evalkit.engagement.take_up_funnel` or :func:`~evalkit.outcomes.outcome_summary` hides.

    ``funnel_out`` is which steps the funnel hides per programme (``evalkit.engagement._funnel_steps_hidden``:
    the cells ``take_up_funnel`` marks ``n`` in ``suppressed``, from the same disclosure problem, without the
    funnel's table); ``outcome_out`` is :func:`~evalkit.outcomes.disclose_statistics`' table.

    Hiding them in the summary as well makes everything the summary publishes also published by those
    outputs (a cell both hide stays hidden here, and n_baseline is published only when n_paired and
    n_unpaired_with_baseline both are), so a reader holding the summary and either output learns nothing
    that output does not already tell.
    """
    def hidden(frame: pd.DataFrame, col: str) -> np.ndarray:
        padded = "; " + frame["suppressed"].astype("string").fillna("") + "; "
        return padded.str.contains(f"; {col}; ", regex=False).to_numpy(dtype=bool)

    out: dict[str, np.ndarray] = {}
    pid = programmes["programme_id"].astype(str)
    if funnel_out is not None and len(funnel_out):
        f = funnel_out.set_index(funnel_out["programme_id"].astype(str))
        for step, col in _PATH_STEPS.items():
            out[f"programme.{col}"] = f[step].reindex(pid).fillna(False).to_numpy(dtype=bool)
    if outcome_out is not None and len(outcome_out) and len(results):
        key = outcome_out["programme_id"].astype(str) + "\x1f" + outcome_out["instrument"].astype(str)
        rkey = results["programme_id"].astype(str) + "\x1f" + results["instrument"].astype(str)
        for o_col, s_cols in _OUTCOME_HIDES.items():
            mask = pd.Series(hidden(outcome_out, o_col), index=key.to_numpy()).reindex(rkey.to_numpy()) \
                .fillna(False).to_numpy(dtype=bool)
            for c in s_cols:
                name = f"result.{c}"
                out[name] = out[name] | mask if name in out else mask
    return out
