"""Fuzzing the readers, validation, scoring and ingest with hypothesis.

Properties (any input hypothesis can make):

* a file of any bytes, under any extension, gives raw frames or :class:`InputFileError` - never another
  exception (valid files mutated byte by byte, CSV text from a grammar and FHIR-shaped JSON included);
* any cell strings give a validation report whose every row is complete, and every row read ends up
  either valid or set aside with a reason (none lost);
* any numbers (or text) in item columns give ``score_status`` values from the allowed set;
* any ISO date is read as exactly that date or refused (never a different date);
* an upload of any such CSV through ``evalkit ingest`` stores or quarantines every row it read.

The number of examples comes from the hypothesis profile (``ci``, the default, is bounded; ``dev`` runs
more: ``HYPOTHESIS_PROFILE=dev``); the slow properties run a fraction of it.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evalkit.canonical import PROVENANCE_COLUMNS, REPORT_COLUMNS
from evalkit.errors import InputFileError

EXAMPLES = settings().max_examples  # from the loaded profile (tests/conftest.py)
SOME = settings(max_examples=max(5, EXAMPLES // 5), suppress_health_check=[HealthCheck.too_slow], deadline=None)
"""For the slow properties (a fifth of the profile's examples)."""

SUFFIXES = (".csv", ".tsv", ".txt", ".xlsx", ".xlsm", ".json", ".ndjson", "")
_TMP = Path(tempfile.mkdtemp(prefix="evalkit-fuzz-"))


def _read(data: bytes, name: str):  # noqa: ANN202
    """read_file on ``data`` saved as ``name``: raw frames, or None when it raised InputFileError."""
    from evalkit.readers import read_file

    path = _TMP / name
    path.write_bytes(data)
    try:
        frames = read_file(path)
    except InputFileError as exc:
        assert str(exc).strip() and len(str(exc)) < 5000
        return None
    assert isinstance(frames, dict) and frames
    for table, frame in frames.items():
        assert isinstance(frame, pd.DataFrame)
        assert set(PROVENANCE_COLUMNS) <= set(frame.columns), table
    return frames


# --------------------------------------------------------------------------- readers: arbitrary bytes


@given(data=st.binary(max_size=3000), suffix=st.sampled_from(SUFFIXES), stem=st.sampled_from(
    ["participants", "measures", "contacts", "programmes", "group_sessions", "upload", "data"]))
def test_any_bytes_give_frames_or_input_file_error(data: bytes, suffix: str, stem: str) -> None:
    _read(data, stem + suffix)


def _valid_files() -> dict[str, bytes]:
    import openpyxl

    csv_text = ("participant_id,programme_id,referral_date,referral_source,deprivation_decile\n"
                "N1,P-N1,2025-01-02,self,3\nN2,P-N1,03/04/2025,gp,11\n")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "participants"
    for line in csv_text.splitlines():
        ws.append(line.split(","))
    ws2 = wb.create_sheet("measures")
    ws2.append(["participant_id", "programme_id", "instrument", "completed_on", *[f"item_{i}" for i in range(1, 11)]])
    ws2.append(["N1", "P-N1", "epds", "2025-02-01", *range(10)])
    buf = io.BytesIO()
    wb.save(buf)
    fhir = json.dumps({"resourceType": "Bundle", "entry": [{"resource": {
        "resourceType": "QuestionnaireResponse", "questionnaire": "http://loinc.org/q/71354-5",
        "subject": {"reference": "Patient/N1"}, "authored": "2025-02-01",
        "item": [{"linkId": f"epds-{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 11)]}}]})
    return {"participants.csv": csv_text.encode(), "upload.xlsx": buf.getvalue(), "measures.json": fhir.encode()}


VALID = _valid_files()


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, bytes]:
    """A valid file with a few bytes flipped, inserted, deleted, or the file cut short."""
    name = draw(st.sampled_from(sorted(VALID)))
    data = bytearray(VALID[name])
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        i = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[i] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data[i:i] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 16))]
        elif op == "cut":
            data = data[:i]
    return name, bytes(data)


@SOME
@given(case=mutated())
def test_mutated_valid_files_give_frames_or_input_file_error(case: tuple[str, bytes]) -> None:
    name, data = case
    _read(data, name)


@st.composite
def zip_parts(draw: st.DrawFn) -> bytes:
    """Zip archives holding workbook-like parts with arbitrary (often broken) XML."""
    names = draw(st.lists(st.sampled_from([
        "xl/workbook.xml", "[Content_Types].xml", "xl/worksheets/sheet1.xml", "xl/sharedStrings.xml",
        "xl/_rels/workbook.xml.rels", "_rels/.rels", "xl/styles.xml"]), min_size=1, max_size=7, unique=True))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for n in names:
            z.writestr(n, draw(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode),
                                         st.just(b'<?xml version="1.0"?><workbook xmlns="http://schemas.'
                                                 b'openxmlformats.org/spreadsheetml/2006/main"><sheets>'
                                                 b'<sheet name="participants" sheetId="1" r:id="rId1"/></sheets>'
                                                 b"</workbook>"))))
    return out.getvalue()


@SOME
@given(data=zip_parts())
def test_arbitrary_zip_archives_as_workbooks(data: bytes) -> None:
    _read(data, "participants.xlsx")


# --------------------------------------------------------------------------- readers: CSV from a grammar

COLUMNS = ["participant_id", "programme_id", "referral_date", "referral_source", "deprivation_decile",
           "baby_age_weeks", "took_up", "instrument", "completed_on", "item_1", "item_2", "total", "kind",
           "status", "contact_date", "Name", "NHS number", "Participant ID", "Date", "", "item_99", "Q3"]
CELLS = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "N1", "P-N1", "2025-01-02", "31/02/2025", "03/04/2025", "NaN", "inf", "-1", "1e308",
                     "epds", "phq9", "yes", "self", "=1+1", '"', '""', "a,b", "a;b", "\t", "\r\n", "é", "\x00"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=8))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=len(header) + 2), max_size=8))

    def cell(text: str) -> str:
        if any(ch in text for ch in (delimiter, '"', "\n", "\r")) and draw(st.booleans()):
            return '"' + text.replace('"', '""') + '"'
        return text

    eol = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = eol.join(delimiter.join(cell(c) for c in r) for r in [header, *rows]) + draw(st.sampled_from(["", eol]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    stem = draw(st.sampled_from(["participants", "measures", "contacts", "upload"]))
    return f"{stem}.csv", data


@given(case=csv_files())
def test_csv_from_a_grammar_gives_frames_or_input_file_error(case: tuple[str, bytes]) -> None:
    name, data = case
    frames = _read(data, name)
    if frames is not None:
        for frame in frames.values():  # every data cell is text or missing, as the reader promises
            for col in frame.columns:
                if col not in PROVENANCE_COLUMNS:
                    values = frame[col].dropna()
                    assert all(isinstance(v, str) for v in values), col


# --------------------------------------------------------------------------- readers: FHIR-shaped JSON

_KEYS = ["resourceType", "item", "answer", "linkId", "valueInteger", "valueDecimal", "valueCoding", "code",
         "extension", "url", "entry", "resource", "subject", "reference", "identifier", "value", "authored",
         "questionnaire", "status", "display"]
_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**20), max_value=10**20),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=10),
                    st.sampled_from(["QuestionnaireResponse", "Bundle", "http://loinc.org/q/71354-5",
                                     "Patient/N1", "2025-02-01", "epds-1", "entered-in-error",
                                     "http://hl7.org/fhir/StructureDefinition/ordinalValue"]))
FHIR_JSON = st.recursive(_LEAVES, lambda kids: st.one_of(
    st.lists(kids, max_size=4), st.dictionaries(st.sampled_from(_KEYS), kids, max_size=6)), max_leaves=40)


@given(doc=FHIR_JSON, ndjson=st.booleans())
def test_fhir_shaped_json_gives_frames_or_input_file_error(doc: object, ndjson: bool) -> None:
    if ndjson and isinstance(doc, list):
        data = "\n".join(json.dumps(d) for d in doc).encode()
        _read(data, "measures.ndjson")
    else:
        _read(json.dumps(doc).encode(), "measures.json")


# --------------------------------------------------------------------------- validation: arbitrary cells

ANY_CELL = st.one_of(st.none(), st.text(max_size=15), CELLS)


@st.composite
def raw_frames(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    from evalkit.schemas import table_schema

    out = {}
    for table in draw(st.lists(st.sampled_from(["programmes", "participants", "contacts", "measures"]),
                               min_size=1, max_size=3, unique=True)):
        names = list(table_schema(table).field_names)
        cols = draw(st.lists(st.sampled_from(names), min_size=1, max_size=min(8, len(names)), unique=True))
        n = draw(st.integers(1, 6))
        frame = pd.DataFrame({c: pd.Series([draw(ANY_CELL) for _ in range(n)], dtype="str") for c in cols})
        frame["source_file"] = pd.Series([f"{table}.csv"] * n, dtype="str")
        frame["source_sheet"] = pd.Series([None] * n, dtype="str")
        frame["source_row"] = pd.array(np.arange(2, n + 2), dtype="Int64")
        out[table] = frame
    return out


@SOME
@given(raw=raw_frames())
def test_any_cells_give_a_complete_report_and_lose_no_row(raw: dict[str, pd.DataFrame]) -> None:
    from evalkit.validation import validate

    result = validate(raw, today="2026-01-01")
    report = result.report
    assert list(report.columns) == list(REPORT_COLUMNS)
    for col in ("file", "table", "rule", "message", "severity"):
        assert report[col].notna().all() and (report[col].astype(str).str.strip() != "").all(), col
    assert report["source_row"].notna().all()
    assert set(report["severity"]) <= {"error", "warning"}
    assert set(report["table"]) <= set(raw)
    for table, frame in raw.items():
        valid = len(result.tables.get(table, ()))
        aside = result.quarantine.get(table)
        n_aside = 0 if aside is None else len(aside)
        assert valid + n_aside == len(frame), table  # every row is valid or set aside: none lost
        if n_aside:
            assert aside["reasons"].notna().all() and (aside["reasons"].str.strip() != "").all()
            errors = report[(report["table"] == table) & (report["severity"] == "error")]
            assert len(errors) > 0


# --------------------------------------------------------------------------- scoring: arbitrary numbers

ITEM_VALUE = st.one_of(
    st.none(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(["", " 2 ", "three", "1e400", "-inf", "NaN", "2,5", "0x10", "１", "=1+1"]),
)


@st.composite
def questionnaires(draw: st.DrawFn) -> pd.DataFrame:
    from evalkit.instruments import builtin_instruments

    codes = sorted(builtin_instruments())
    n = draw(st.integers(1, 12))
    instrument = [draw(st.one_of(st.sampled_from(codes), st.sampled_from(["EPDS", " phq9 ", "zzz", "", None])))
                  for _ in range(n)]
    frame = pd.DataFrame({"instrument": pd.Series(instrument, dtype=object)})
    as_text = draw(st.booleans())
    for i in range(1, draw(st.integers(1, 20)) + 1):
        values = [draw(ITEM_VALUE) for _ in range(n)]
        if as_text:
            frame[f"item_{i}"] = pd.Series([None if v is None else str(v) for v in values], dtype="str")
        else:
            nums = [v if isinstance(v, (int, float)) and not isinstance(v, bool) else np.nan for v in values]
            frame[f"item_{i}"] = pd.Series([float(v) for v in nums], dtype="float64")
    if draw(st.booleans()):
        frame["total"] = pd.Series([draw(ITEM_VALUE) for _ in range(n)], dtype=object).astype("str")
    return frame


@given(frame=questionnaires(), coding=st.sampled_from(["keyed", "response_position"]))
def test_any_item_values_score_with_an_allowed_status(frame: pd.DataFrame, coding: str) -> None:
    from evalkit.scoring import SCORE_COLUMNS, SCORE_STATUSES, score

    out = score(frame, item_coding=coding)
    assert len(out) == len(frame) and list(out.index) == list(frame.index)
    assert set(SCORE_COLUMNS) <= set(out.columns)
    assert set(out["score_status"]) <= set(SCORE_STATUSES)
    scored = out["score"].notna()
    assert np.isfinite(out.loc[scored, "score"].astype(float)).all()
    invalid = out["score_status"] == "invalid"
    assert out.loc[invalid, "score_reason"].notna().all()  # an invalid row always says why
    assert out.loc[invalid, "score"].isna().all()  # and is never given a score


# --------------------------------------------------------------------------- dates: never a different date


@given(year=st.integers(0, 99999), month=st.integers(0, 13), day=st.integers(0, 32),
       form=st.sampled_from(["iso", "uk", "iso-time"]))
def test_a_date_is_read_as_itself_or_refused(year: int, month: int, day: int, form: str) -> None:
    from evalkit.validation.dates import read_dates

    text = {"iso": f"{year:04d}-{month:02d}-{day:02d}", "uk": f"{day:02d}/{month:02d}/{year:04d}",
            "iso-time": f"{year:04d}-{month:02d}-{day:02d}T10:30:00Z"}[form]
    reading = read_dates(pd.Series([text, "25/12/2024"], dtype="string"), np.zeros(2, dtype=int))
    value = reading.values[0]
    if np.isnat(value):
        assert reading.bad[0] or reading.ambiguous[0]
        return
    try:
        expected = dt.date(year, month, day)
    except ValueError:
        pytest.fail(f"{text!r} is not a real date but was read as {value}")
    assert pd.Timestamp(value).date() == expected, text


# --------------------------------------------------------------------------- ingest: no row lost


@settings(max_examples=max(3, EXAMPLES // 10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(case=csv_files())
def test_ingest_of_any_csv_stores_or_quarantines_every_row(case: tuple[str, bytes], capsys) -> None:  # noqa: ANN001
    """``evalkit ingest`` on fuzzed CSV: exit 0, 1 or 2 with no traceback, and rows read = stored + quarantined."""
    import sqlite3

    from badinput.helpers import cli

    name, data = case
    assume(not name.startswith("upload"))
    folder = Path(tempfile.mkdtemp(dir=_TMP))
    path = folder / name
    path.write_bytes(data)
    db = folder / "store.sqlite"
    seed = folder / "programmes.csv"
    seed.write_text("programme_id,name,provider,format,mode,delivered_by\nP-N1,G,North,group,in_person,volunteer_peers\n")
    assert cli(capsys, "ingest", seed, "--provider", "North", "--db", db)[0] == 0
    frames = _read(data, name)
    code, out, err = cli(capsys, "ingest", path, "--provider", "North", "--db", db)
    assert code in (0, 1, 2), err
    with sqlite3.connect(db) as conn:
        uploads = conn.execute("SELECT upload_id, rows_accepted, rows_quarantined FROM uploads ORDER BY upload_id")\
            .fetchall()
    new = uploads[1:]
    if code == 2 or frames is None or sum(len(f) for f in frames.values()) == 0:
        assert not new, "a refused upload was recorded"
        return
    if not new:  # refused whole (identifying columns, another provider's programme)
        assert code == 1 and "Nothing was stored" in err, err
        return
    _, accepted, quarantined = new[0]
    assert accepted + quarantined == sum(len(f) for f in frames.values()), (accepted, quarantined)
