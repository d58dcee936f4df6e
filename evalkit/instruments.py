"""The instrument registry: questionnaire definitions read from ``schemas/instruments/``.

Each instrument is one JSON file (validated against
``schemas/instrument.schema.json``) holding scoring metadata only - never item
wording. Adding an instrument is adding a file: put it in the built-in folder,
or in a folder named by ``extra_dirs`` or the ``EVALKIT_INSTRUMENTS_DIR``
environment variable (several folders separated by ``os.pathsep``).

A file whose ``extends`` names an existing code overrides that instrument's
fields (a shallow merge), so a deployment can replace an unverified figure
(say, a reliability) without editing the shipped file; so can
:meth:`Instrument.with_overrides` from Python.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

import numpy as np

from evalkit._resources import resource_dir
from evalkit.errors import InstrumentError

ScoringMethod = Literal["sum", "mean", "mean_times_10", "sum_then_convert", "none", "any_positive"]
Role = Literal["symptom", "wellbeing", "recovery", "loneliness", "screen", "experience", "other"]

_OPERATORS = {
    ">=": np.greater_equal,
    ">": np.greater,
    "<=": np.less_equal,
    "<": np.less,
    "==": np.equal,
}


@dataclass(frozen=True)
class Cutoff:
    """A threshold on a score: ``score <operator> value`` means 'at caseness' (or flagged).

    ``label`` is the cut-off in words for readers (the file's ``label``; when
    the file gives none, the ``name`` with its underscores as spaces).
    """

    name: str
    operator: str
    value: float
    default: bool = False
    status: str = "unverified"
    source: str = ""
    note: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name.replace("_", " "))

    def applies(self, scores: np.ndarray) -> np.ndarray:
        """Vectorised test of the cut-off on an array of scores (NaN compares False)."""
        with np.errstate(invalid="ignore"):
            return _OPERATORS[self.operator](scores, self.value)


@dataclass(frozen=True)
class Subscale:
    """A subscale: a named subset of items scored by sum or mean."""

    code: str
    name: str
    items: tuple[int, ...]
    method: Literal["sum", "mean"] = "sum"
    higher_is_better: bool | None = None
    cutoffs: tuple[Cutoff, ...] = ()


@dataclass(frozen=True)
class SafetyItem:
    """An item whose answer triggers a safety flag (e.g. EPDS item 10 > 0)."""

    item: int
    operator: str
    value: float
    flag: str
    note: str = ""


@dataclass(frozen=True)
class Fact:
    """A published figure with its verification status and source."""

    value: float | None
    status: str = "unverified"
    source: str = ""
    confidence: float | None = None


@dataclass(frozen=True)
class Instrument:
    """One questionnaire's scoring metadata, as read from its file.

    Attributes
    ----------
    code
        Registry code (the file name), e.g. ``"epds"``.
    n_items
        Number of items; item columns ``item_1`` .. ``item_<n_items>``.
    item_min, item_max
        Per-item allowed range of *keyed* scores (arrays of length ``n_items``).
    reverse_keyed
        1-based item numbers whose printed options run in reverse; used only to
        convert response positions into keyed scores.
    method
        How the total is computed (``sum``, ``mean``, ``mean_times_10``,
        ``sum_then_convert``, ``none`` or ``any_positive``).
    higher_is_better
        Direction of the reporting metric.
    max_missing, prorate
        The missing-item rule: at most ``max_missing`` unanswered items, and
        whether the total is prorated (mean of answered items x ``n_items``).
    """

    code: str
    name: str
    role: Role
    n_items: int
    item_min: tuple[float, ...]
    item_max: tuple[float, ...]
    reverse_keyed: tuple[int, ...]
    method: ScoringMethod
    higher_is_better: bool
    max_missing: int
    prorate: bool
    score_range: tuple[float, float] | None
    conversion_table: Mapping[int, float] | None = None
    subscales: tuple[Subscale, ...] = ()
    cutoffs: tuple[Cutoff, ...] = ()
    reliability: Fact = Fact(None)
    reference_sd: Fact = Fact(None)
    reliable_change: Fact = Fact(None)
    meaningful_change: Fact = Fact(None)
    safety_items: tuple[SafetyItem, ...] = ()
    loinc: Mapping[str, Any] = field(default_factory=dict)
    licence: Mapping[str, Any] = field(default_factory=dict)
    definition: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def item_columns(self) -> list[str]:
        """The item column names this instrument uses."""
        return [f"item_{i}" for i in range(1, self.n_items + 1)]

    @property
    def default_cutoff(self) -> Cutoff | None:
        """The cut-off that defines caseness (marked ``default`` in the file), if any."""
        for c in self.cutoffs:
            if c.default:
                return c
        return None

    @property
    def is_change_measure(self) -> bool:
        """Whether change scores make sense (screens and unsummed item sets do not)."""
        return self.role != "screen" and self.method not in ("none", "any_positive")

    def with_overrides(self, **changes: Any) -> Instrument:
        """Return a copy with fields replaced, e.g. ``reliability=0.85`` or ``max_missing=1``.

        Plain numbers given for ``reliability``, ``reference_sd``,
        ``reliable_change`` or ``meaningful_change`` become a :class:`Fact`
        with status ``"user override"``.
        """
        facts = ("reliability", "reference_sd", "reliable_change", "meaningful_change")
        for key in facts:
            if key in changes and not isinstance(changes[key], Fact):
                changes[key] = Fact(None if changes[key] is None else float(changes[key]), "user override", "set by the user")
        unknown = set(changes) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown instrument field(s) {sorted(unknown)}; allowed: {sorted(self.__dataclass_fields__)}")
        return replace(self, **changes)


@cache
def _definition_validator() -> Any:
    import jsonschema

    schema = json.loads((resource_dir("schemas") / "instrument.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _per_item(value: Any, n: int, what: str, code: str) -> tuple[float, ...]:
    if isinstance(value, list):
        if len(value) != n:
            raise InstrumentError(f"instrument {code!r}: items.{what} lists {len(value)} values for {n} items")
        return tuple(float(v) for v in value)
    return (float(value),) * n


def _fact(raw: Mapping[str, Any] | None) -> Fact:
    if not raw:
        return Fact(None)
    v = raw.get("value")
    return Fact(None if v is None else float(v), raw.get("status", "unverified"), raw.get("source", ""), raw.get("confidence"))


def _cutoffs(raw: Iterable[Mapping[str, Any]]) -> tuple[Cutoff, ...]:
    return tuple(
        Cutoff(c["name"], c["operator"], float(c["value"]), bool(c.get("default", False)), c.get("status", "unverified"),
               c.get("source", ""), c.get("note", ""), c.get("label", ""))
        for c in raw
    )


def instrument_from_definition(definition: Mapping[str, Any], *, origin: str = "<definition>") -> Instrument:
    """Build an :class:`Instrument` from a parsed instrument file.

    Raises
    ------
    InstrumentError
        When the definition does not follow ``schemas/instrument.schema.json``
        or is internally inconsistent (e.g. a subscale names item 12 of a
        10-item scale).
    """
    errors = sorted(_definition_validator().iter_errors(definition), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].path) or "(top level)"
        raise InstrumentError(f"instrument file {origin}: {where}: {errors[0].message}")
    code = definition["code"]
    items = definition["items"]
    n = int(items["count"])
    item_min = _per_item(items["min"], n, "min", code)
    item_max = _per_item(items["max"], n, "max", code)
    if any(lo > hi for lo, hi in zip(item_min, item_max, strict=True)):
        raise InstrumentError(f"instrument {code!r}: an item's min is above its max")
    scoring = definition["scoring"]
    table = scoring.get("conversion_table")
    conversion = MappingProxyType({int(k): float(v) for k, v in table.items()}) if table else None
    if scoring["method"] == "sum_then_convert" and not conversion:
        raise InstrumentError(f"instrument {code!r}: method sum_then_convert needs scoring.conversion_table")
    subscales = tuple(
        Subscale(s["code"], s.get("name", s["code"]), tuple(s["items"]), s.get("method", "sum"), s.get("higher_is_better"),
                 _cutoffs(s.get("cutoffs", ())))
        for s in definition.get("subscales", ())
    )
    safety = tuple(SafetyItem(int(s["item"]), s["operator"], float(s["value"]), s["flag"], s.get("note", ""))
                   for s in definition.get("safety_items", ()))
    referenced = {i for s in subscales for i in s.items} | {s.item for s in safety} | set(definition.get("reverse_keyed", ()))
    if referenced and max(referenced) > n:
        raise InstrumentError(f"instrument {code!r}: refers to item {max(referenced)} but has only {n} items")
    cutoffs = _cutoffs(definition.get("cutoffs", ()))
    if sum(c.default for c in cutoffs) > 1:
        raise InstrumentError(f"instrument {code!r}: more than one cut-off is marked default")
    sr = definition.get("score_range")
    missing = definition["missing_items"]
    return Instrument(
        code=code,
        name=definition["name"],
        role=definition["role"],
        n_items=n,
        item_min=item_min,
        item_max=item_max,
        reverse_keyed=tuple(int(i) for i in definition.get("reverse_keyed", ())),
        method=scoring["method"],
        higher_is_better=bool(definition["higher_is_better"]),
        max_missing=int(missing["max_missing"]),
        prorate=bool(missing["prorate"]),
        score_range=None if sr is None else (float(sr[0]), float(sr[1])),
        conversion_table=conversion,
        subscales=subscales,
        cutoffs=cutoffs,
        reliability=_fact(definition.get("reliability")),
        reference_sd=_fact(definition.get("reference_sd")),
        reliable_change=_fact(definition.get("reliable_change")),
        meaningful_change=_fact(definition.get("meaningful_change")),
        safety_items=safety,
        loinc=MappingProxyType(dict(definition.get("loinc", {}))),
        licence=MappingProxyType(dict(definition.get("licence", {}))),
        definition=MappingProxyType(dict(definition)),
    )


def _read_definition(path: Path) -> dict[str, Any]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InstrumentError(f"cannot read instrument file {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise InstrumentError(f"instrument file {path}: expected a JSON object, found {type(raw).__name__}")
    return raw


def _named_folders(extra_dirs: Iterable[str | Path]) -> list[Path]:
    """The built-in folder, then those ``EVALKIT_INSTRUMENTS_DIR`` and ``extra_dirs`` name (not checked)."""
    folders = [resource_dir("schemas") / "instruments"]
    env = os.environ.get("EVALKIT_INSTRUMENTS_DIR", "")
    folders += [Path(p) for p in env.split(os.pathsep) if p]
    folders += [Path(p) for p in extra_dirs]
    return folders


def _missing_folder(folder: Path) -> str:
    return f"instrument folder {folder} does not exist"


def _folders(extra_dirs: Iterable[str | Path]) -> list[Path]:
    folders = _named_folders(extra_dirs)
    for f in folders[1:]:
        if not f.is_dir():
            raise InstrumentError(_missing_folder(f))
    return folders


def _merged(definitions: Mapping[str, dict[str, Any]], raw: dict[str, Any], path: Path) -> dict[str, Any]:
    """The definition the file at ``path`` (read as ``raw``) makes, given those read before it: ``raw`` itself,
    or with ``extends`` the instrument it names with the file's fields over its own."""
    base = raw.get("extends")
    if base:
        if base not in definitions:
            raise InstrumentError(f"instrument file {path}: extends unknown instrument {base!r}")
        merged = {**definitions[base], **{k: v for k, v in raw.items() if k != "extends"}}
        merged["code"] = raw.get("code", base)
        return merged
    if "code" not in raw:
        raise InstrumentError(f"instrument file {path}: missing 'code'")
    return raw


def load_instruments(extra_dirs: Iterable[str | Path] = ()) -> dict[str, Instrument]:
    """Load every instrument definition.

    Parameters
    ----------
    extra_dirs
        Further folders of ``<code>.json`` files, read after the built-in ones
        and after ``EVALKIT_INSTRUMENTS_DIR``. A file with a new code adds an
        instrument; a file with ``"extends": "<code>"`` overrides fields of an
        existing one; a file with an existing code and no ``extends`` replaces it.

    Returns
    -------
    dict
        Instruments keyed by code.
    """
    definitions: dict[str, dict[str, Any]] = {}
    origins: dict[str, str] = {}
    for folder in _folders(extra_dirs):
        for path in sorted(folder.glob("*.json")):
            definition = _merged(definitions, _read_definition(path), path)
            definitions[definition["code"]] = definition
            origins[definition["code"]] = str(path)
    return {code: instrument_from_definition(d, origin=origins[code]) for code, d in sorted(definitions.items())}


def load_usable_instruments(extra_dirs: Iterable[str | Path] = ()) -> tuple[dict[str, Instrument], list[str]]:
    """Load every instrument definition that can be used, leaving out each file that cannot, with the reason.

    Where :func:`load_instruments` stops at the first file it cannot use, this reads on: a file that cannot
    be read or is not a valid definition (on its own, or over the instrument it ``extends``) is left out as
    if it were not there, and a folder named that does not exist is passed over. For work that must go on
    past a broken custom file, such as bringing a database's stored instruments to their codes.

    Parameters
    ----------
    extra_dirs
        Further folders, as for :func:`load_instruments`.

    Returns
    -------
    instruments : dict
        The instruments by code, from every file that could be used.
    problems : list of str
        One message per file or folder left out, naming it and saying what is wrong (empty when
        :func:`load_instruments` would load the same instruments).
    """
    definitions: dict[str, dict[str, Any]] = {}
    instruments: dict[str, Instrument] = {}
    problems: list[str] = []
    for folder in _named_folders(extra_dirs):
        if not folder.is_dir():
            problems.append(_missing_folder(folder))
            continue
        for path in sorted(folder.glob("*.json")):
            try:
                definition = _merged(definitions, _read_definition(path), path)
                instrument = instrument_from_definition(definition, origin=str(path))
            except (InstrumentError, TypeError, ValueError, KeyError) as exc:
                text = str(exc)
                problems.append(text if str(path) in text else f"instrument file {path}: {text}")
                continue
            definitions[instrument.code] = definition
            instruments[instrument.code] = instrument
    return dict(sorted(instruments.items())), problems


@cache
def _builtin() -> Mapping[str, Instrument]:
    return MappingProxyType(load_instruments())


def get_instrument(code: str, instruments: Mapping[str, Instrument] | None = None) -> Instrument:
    """Return one instrument by code, with a clear error listing the known codes."""
    registry = _builtin() if instruments is None else instruments
    try:
        return registry[code]
    except KeyError:
        raise InstrumentError(f"unknown instrument code {code!r}; known codes: {', '.join(sorted(registry))}") from None


def builtin_instruments() -> Mapping[str, Instrument]:
    """The shipped instruments plus any in ``EVALKIT_INSTRUMENTS_DIR`` (cached per process)."""
    return _builtin()
