"""Read FHIR R4 ``QuestionnaireResponse`` resources (alone, in a list, a Bundle or NDJSON) as measures.

* Instrument: the LOINC panel code found in ``questionnaire`` (e.g.
  ``http://loinc.org/q/44249-1``) or in a top-level item's ``linkId``, looked up
  in ``loinc.json`` beside this module; an instrument definition's own ``loinc``
  field (from :func:`evalkit.instruments.load_instruments`) overrides the file.
* Items: answers are placed by item LOINC code when the panel lists them and
  the ``linkId``s use them; otherwise by the number at the end of the
  ``linkId`` (``epds-3``, ``q3``), otherwise by the order of the answered
  questions - only when every item of the instrument is answered (else
  rule ``item_order``, error: the answers cannot be placed). An answer to
  the panel's total-score code goes to ``total``.
* A question answered more than once (its ``linkId`` on two items, or two
  answers on one item) is rule ``answered_twice``: an error setting the
  response aside when the answers differ (which is right cannot be told; the
  report gives every answer), a warning when they are the same.
* Answer values: ``valueInteger``/``valueDecimal`` as written; ``valueCoding``
  through its ``ordinalValue``/``itemWeight`` extension, a known LOINC answer
  code, or a numeric code; anything else is kept as text so validation reports it.
* ``subject`` reference (``Patient/M0001``) -> ``participant_id``;
  ``authored`` (date part, as written) -> ``completed_on``.
* ``source_row`` is the position of the resource in the file (first = 1).

A ``programme_id`` does not exist in FHIR: give it in the column mapping's ``constants``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.readers.limits import ReadLimits, check_file_size, check_shape
from evalkit.readers.notes import problem
from evalkit.readers.raw_frame import build_raw_frame

__all__ = ["loinc_panels", "read_fhir"]

_ORDINAL_URLS = ("ordinalValue", "itemWeight", "iso21090-CO-value")
_LOINC_CODE = re.compile(r"(?<![\w.])(\d{3,7}-\d)(?![\w])")


@cache
def _loinc_file() -> dict[str, Any]:
    return json.loads(Path(__file__).with_name("loinc.json").read_text(encoding="utf-8"))


def loinc_panels(instruments: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """LOINC panel code -> ``{"instrument", "items", "total"}``; instrument files' ``loinc`` fields win."""
    panels = {code: dict(entry) for code, entry in _loinc_file()["panels"].items()}
    for code, instrument in (instruments or {}).items():
        loinc = getattr(instrument, "loinc", None)
        if not loinc:
            continue
        if isinstance(loinc, Mapping):
            panel = loinc.get("panel")
            total = loinc.get("total")
            items = loinc.get("items")
        else:
            panel, total, items = loinc, None, None
        if not panel:
            continue
        entry = panels.get(str(panel), {"items": [], "total": []})
        panels[str(panel)] = {
            **entry,
            "instrument": getattr(instrument, "code", code),
            "items": list(items) if items else entry.get("items", []),
            "total": ([total] if isinstance(total, str) else list(total)) if total else entry.get("total", []),
        }
    return panels


def _resources(document: Any) -> Iterator[Any]:
    if isinstance(document, list):
        for item in document:
            yield from _resources(item)
    elif isinstance(document, Mapping) and document.get("resourceType") == "Bundle":
        for entry in document.get("entry") or []:
            if isinstance(entry, Mapping):
                yield entry.get("resource")
    else:
        yield document


def _leaves(items: Any) -> Iterator[Mapping[str, Any]]:
    for item in items or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("answer"):
            yield item
        yield from _leaves(item.get("item"))
        for answer in _answer_list(item):
            if isinstance(answer, Mapping):
                yield from _leaves(answer.get("item"))


def _answer_list(item: Mapping[str, Any]) -> list[Any]:
    """An item's answers, which FHIR gives as a list. Anything else (a number, a text) is a shape the reader
    cannot read: ``TypeError``, which :func:`read_fhir` reports as such for the whole file (a text was walked
    letter by letter into 'answered 2 times')."""
    answer = item.get("answer")
    if answer is None:
        return []
    if not isinstance(answer, list):
        raise TypeError(f"an item's 'answer' is {type(answer).__name__}, not a list of answers")
    return answer


def _answer_text(answer: Any) -> str | None:
    if not isinstance(answer, Mapping):
        return None
    answers = _loinc_file()["answers"]
    for key in ("valueInteger", "valueDecimal"):
        if key in answer:
            return str(answer[key])
    if "valueCoding" in answer and isinstance(answer["valueCoding"], Mapping):
        coding = answer["valueCoding"]
        for ext in coding.get("extension") or []:
            if isinstance(ext, Mapping) and str(ext.get("url", "")).endswith(_ORDINAL_URLS):
                for key in ("valueDecimal", "valueInteger"):
                    if key in ext:
                        number = ext[key]
                        return str(int(number)) if float(number).is_integer() else str(number)
        code = str(coding.get("code", ""))
        if code in answers:
            return str(answers[code])
        if re.fullmatch(r"-?\d+(\.\d+)?", code):
            return code
        return str(coding.get("display") or code)
    for key, value in answer.items():
        if key.startswith("value"):
            return str(value) if not isinstance(value, (dict, list)) else json.dumps(value)
    return None


class _Question:
    """One question of a response (its first item with that ``linkId``); items without a ``linkId`` are each
    their own question."""

    __slots__ = ("item",)

    def __init__(self, item: Mapping[str, Any]) -> None:
        self.item = item

    def get(self, key: str, default: Any = None) -> Any:
        return self.item.get(key, default)


def _answers_by_question(items: Any) -> dict[Any, list[str | None]]:
    """The answered questions of a response in order, each with the text of every answer given to it: a
    question answered twice (its ``linkId`` on two items, or two answers on one item) has two."""
    out: dict[Any, list[str | None]] = {}
    first: dict[str, Any] = {}
    for leaf in _leaves(items):
        link = _link(leaf)
        key = first.setdefault(link, _Question(leaf)) if link else _Question(leaf)
        out.setdefault(key, []).extend(_answer_text(answer) for answer in _answer_list(leaf))
    return out


def _answered_twice(questions: list[Any], answers: Mapping[Any, list[str | None]], column: str, position: int,
                    row: Mapping[str, str | None], instrument: str, label: str) -> list[dict[str, Any]]:
    """Rule ``answered_twice`` for a question given more than one answer: an error when the answers differ
    (which one is right cannot be told, so the response is set aside), a warning when they are the same."""
    given = [text for question in questions for text in answers[question]]
    if len(given) < 2:
        return []
    links = ", ".join(sorted({f"'{_link(question)}'" for question in questions}))
    who = f" (participant {row['participant_id']})" if row.get("participant_id") else ""
    what = "the total score" if column == "total" else f"item {column.removeprefix('item_')}"
    shown = ", ".join(f"'{text}'" for text in given)
    differ = len(set(given)) > 1
    message = (f"Resource {position}{who}: {what} of {instrument} (question {links}) is answered {len(given)} "
               f"times: {shown}. "
               + ("Which answer is right cannot be told, so the response was set aside. Keep one answer per "
                  "question and send it again." if differ else "The answers are the same, so it was read once."))
    return [problem(file=label, sheet=None, table="measures", source_row=position, column=column,
                    value=" / ".join(str(text) for text in given)[:80], rule="answered_twice",
                    severity="error" if differ else "warning", message=message)]


def _item_count(panel: Mapping[str, Any], instruments: Mapping[str, Any] | None) -> int | None:
    """Number of items of a panel's instrument: the panel's item codes, else the registry's ``n_items``."""
    if panel.get("items"):
        return len(panel["items"])
    instrument = (instruments or {}).get(panel.get("instrument"))
    n_items = getattr(instrument, "n_items", None)
    return int(n_items) if isinstance(n_items, int) and n_items > 0 else None


def _others_not_read(others: Mapping[int, str], n_resources: int, label: str) -> dict[str, Any]:
    """One warning for the resources that are not QuestionnaireResponses: how many of each kind, and where."""
    counts: dict[str, int] = {}
    for kind in others.values():
        counts[kind] = counts.get(kind, 0) + 1
    kinds = ", ".join(f"{kind} ×{n}" for kind, n in counts.items())
    at = [str(p) for p in list(others)[:10]] + (["…"] if len(others) > 10 else [])
    where = ", ".join(at[:-1]) + " and " + at[-1] if len(at) > 1 else at[0]
    return problem(
        file=label, sheet=None, table="measures", source_row=next(iter(others)), column="", value=kinds[:80],
        rule="not_read", severity="warning",
        message=(f"{len(others):,} of the file's {n_resources:,} resources are not QuestionnaireResponses ({kinds}), "
                 f"so they were not read: resource{'s' if len(others) > 1 else ''} {where}."),
    )


def _link(item: Mapping[str, Any]) -> str:
    return str(item.get("linkId", "")).strip().rsplit("/", 1)[-1]


def _panel_of(resource: Mapping[str, Any], panels: Mapping[str, Any]) -> str | None:
    candidates = [str(resource.get("questionnaire", ""))]
    candidates += [str(i.get("linkId", "")) for i in resource.get("item") or [] if isinstance(i, Mapping)]
    for text in candidates:
        for code in _LOINC_CODE.findall(text):
            if code in panels:
                return code
    return None


def _participant(resource: Mapping[str, Any]) -> str | None:
    subject = resource.get("subject")
    if not isinstance(subject, Mapping):
        return None
    reference = subject.get("reference")
    if isinstance(reference, str) and reference.strip():
        return reference.strip().rstrip("/").rsplit("/", 1)[-1]
    identifier = subject.get("identifier")
    if isinstance(identifier, Mapping) and identifier.get("value"):
        return str(identifier["value"])
    return None


def _load(path: Path, label: str) -> Any:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError("the file is not UTF-8 text, so it is not a FHIR JSON file.", file=label) from None
    if not text.strip():
        raise InputFileError("the file is empty. Expected FHIR QuestionnaireResponse JSON.", file=label)
    try:
        return json.loads(text)
    except json.JSONDecodeError as first_error:
        lines = [line for line in text.splitlines() if line.strip()]
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError:
            raise InputFileError(
                f"the file is not valid JSON ({first_error.msg} at line {first_error.lineno}). "
                "Expected FHIR QuestionnaireResponse resources or a Bundle of them.",
                file=label,
            ) from None


def read_fhir(
    path: str | Path,
    *,
    mapping: ColumnMapping | None = None,
    instruments: Mapping[str, Any] | None = None,
    limits: ReadLimits | None = None,
) -> dict[str, pd.DataFrame]:
    """Read QuestionnaireResponse resources into a raw ``measures`` frame.

    Parameters
    ----------
    path
        A ``.json`` (one resource, a list, or a Bundle) or ``.ndjson`` file.
    mapping
        Column mapping; its ``constants`` give ``programme_id``.
    instruments
        Instrument registry; an instrument's ``loinc`` overrides ``loinc.json``.
    limits
        Size limits.

    Raises
    ------
    InputFileError
        Not JSON, no QuestionnaireResponse in it, or JSON of a shape that is not FHIR
        (e.g. ``"item": 5``, nesting deeper than Python can follow).
    """
    try:
        return _read_fhir(path, mapping=mapping, instruments=instruments, limits=limits)
    except InputFileError:
        raise
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, OverflowError, RecursionError) as exc:
        raise InputFileError(
            f"the JSON has a shape evalkit cannot read as FHIR ({type(exc).__name__}: {str(exc)[:200]}). "
            "Expected FHIR R4 QuestionnaireResponse resources: one resource, a list of them or a Bundle.",
            file=Path(path).name,
        ) from None


def _read_fhir(
    path: str | Path,
    *,
    mapping: ColumnMapping | None,
    instruments: Mapping[str, Any] | None,
    limits: ReadLimits | None,
) -> dict[str, pd.DataFrame]:
    """The work of :func:`read_fhir`; any error from a malformed document is turned into InputFileError there."""
    path = Path(path)
    limits = limits or ReadLimits()
    label = path.name
    check_file_size(path, limits)
    document = _load(path, label)
    panels = loinc_panels(instruments)
    rows: list[dict[str, str | None]] = []
    numbers: list[int] = []
    problems: list[dict[str, Any]] = []
    n_resources = 0
    others: dict[int, str] = {}  # position -> what a resource that is not a QuestionnaireResponse is
    for position, resource in enumerate(_resources(document), start=1):
        n_resources += 1
        if not isinstance(resource, Mapping) or resource.get("resourceType") != "QuestionnaireResponse":
            kind = resource.get("resourceType") if isinstance(resource, Mapping) else None
            others[position] = str(kind) if isinstance(kind, str) and kind.strip() else "no resource"
            continue
        if resource.get("status") == "entered-in-error":
            problems.append(problem(
                file=label, sheet=None, table="measures", source_row=position, column="", value="entered-in-error",
                rule="not_read", severity="warning",
                message=f"Resource {position} is marked 'entered-in-error', so it was not read.",
            ))
            continue
        row: dict[str, str | None] = {
            "participant_id": _participant(resource),
            "completed_on": (str(resource["authored"])[:10]
                             if re.match(r"\d{4}-\d{2}-\d{2}", str(resource.get("authored", "")))
                             else resource.get("authored")),
        }
        panel_code = _panel_of(resource, panels)
        if panel_code is None:
            shown = str(resource.get("questionnaire") or "(none)")
            row["instrument"] = shown
            problems.append(problem(
                file=label, sheet=None, table="measures", source_row=position, column="instrument", value=shown,
                rule="unknown_instrument", severity="error",
                message=(f"Resource {position}: questionnaire '{shown}' is not one evalkit recognises; expected a "
                         f"LOINC panel code such as {', '.join(sorted(panels))}."),
            ))
        else:
            panel = panels[panel_code]
            row["instrument"] = panel["instrument"]
            item_codes = list(panel.get("items") or [])
            total_codes = set(panel.get("total") or [])
            answers = _answers_by_question(resource.get("item"))
            leaves = [leaf for leaf in answers if _link(leaf) not in total_codes]
            totals = [leaf for leaf in answers if _link(leaf) in total_codes]
            for leaf in totals:
                row["total"] = answers[leaf][-1]
            problems += _answered_twice(totals, answers, "total", position, row, panel["instrument"], label)
            by_code = item_codes and any(_link(leaf) in item_codes for leaf in leaves)
            trailing = [re.search(r"(\d+)$", _link(leaf)) for leaf in leaves]
            numbered = (all(trailing) and len({int(m.group(1)) for m in trailing if m}) == len(leaves)
                        and not any(_LOINC_CODE.fullmatch(_link(leaf)) for leaf in leaves))
            expected = _item_count(panel, instruments)
            if not by_code and not numbered and expected is not None and len(leaves) != expected:
                # placed by order, one answer missing would move every later answer onto the item before its own
                shown = ", ".join(f"'{_link(leaf)}'" for leaf in leaves[:3]) + (", …" if len(leaves) > 3 else "")
                problems.append(problem(
                    file=label, sheet=None, table="measures", source_row=position, column="", value=shown,
                    rule="item_order", severity="error",
                    message=(f"Resource {position}: its {len(leaves)} answers are to questions without item "
                             f"numbers ({shown}) and {panel['instrument']} has {expected} items, so which item "
                             "each answer belongs to cannot be told; the response was not read. Give each "
                             "question a linkId ending in its item number (e.g. "
                             f"'{panel['instrument']}-3') or the item's LOINC code."),
                ))
                leaves = []
            for order, leaf in enumerate(leaves, start=1):
                link = _link(leaf)
                if by_code:
                    if link not in item_codes:
                        problems.append(problem(
                            file=label, sheet=None, table="measures", source_row=position, column="",
                            value=link, rule="not_read", severity="warning",
                            message=(f"Resource {position}: answer to question '{link}' is not an item of "
                                     f"{panel['instrument']}, so it was not read."),
                        ))
                        continue
                    number = item_codes.index(link) + 1
                elif numbered and (found := trailing[order - 1]) is not None:
                    number = int(found.group(1))
                else:
                    number = order
                row[f"item_{number}"] = answers[leaf][-1]
                problems += _answered_twice([leaf], answers, f"item_{number}", position, row, panel["instrument"],
                                            label)
        rows.append(row)
        numbers.append(position)
    if not rows and not problems:
        raise InputFileError(
            f"no QuestionnaireResponse resource found (read {n_resources} resource(s)). Expected FHIR R4 "
            "QuestionnaireResponse resources, a list of them or a Bundle.",
            file=label,
        )
    if others and rows:
        problems.append(_others_not_read(others, n_resources, label))
    check_shape(len(rows), 0, file_label=label, limits=limits)
    items = sorted({k for r in rows for k in r if k.startswith("item_")}, key=lambda k: int(k[5:]))
    headers = ["participant_id", "instrument", "completed_on", *items, "total"]
    cells = pd.DataFrame([[r.get(h) for h in headers] for r in rows], columns=range(len(headers)), dtype=object)
    frame = build_raw_frame(
        cells, headers, np.asarray(numbers, dtype=np.int64), table="measures", file=label, sheet=None,
        header_row=0, mapping=mapping, problems=problems,
    )
    return {"measures": frame}
