"""Every corpus file through the library door and the CLI doors (``evalkit ingest`` and ``evalkit validate``).

What each file must do is in :mod:`badinput.corpus`. Files rejected whole leave every table of the store
(bookkeeping included) exactly as it was; files with some bad rows store exactly the good rows and
quarantine exactly the bad ones, with reasons.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_SECRET

from badinput import corpus
from badinput.helpers import cli_raw, deadline, diff, snapshot
from evalkit.canonical import REPORT_COLUMNS
from evalkit.errors import InputFileError

CASES = corpus.cases()
FLAGS = re.IGNORECASE | re.DOTALL
PROVIDER = corpus.PROVIDER
SECRET = TEST_SECRET.encode()
SECONDS = 30
"""Longest one door may take over one corpus file (they take well under a second; a 60 KB file must not
tie a worker up for minutes)."""


def test_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 150
    assert len({c.id for c in CASES}) == len(CASES)
    categories = Counter(c.category for c in CASES)
    for needed in ("empty", "truncated", "binary", "wrong format", "zip bomb", "xml attack", "size", "encoding",
                   "delimiter", "excel", "numbers", "dates", "keys", "orphans", "codes", "mislabelled",
                   "identifiers", "injection", "fhir", "providers"):
        assert categories[needed] >= 1, needed
    assert Counter(c.expect for c in CASES).keys() == {"reject", "rows", "refuse", "empty"}


def test_corpus_files_are_small_on_disk(corpus_dir: Path) -> None:
    """The 200 MB files are sparse: the whole corpus takes little real disk space."""
    import os

    used = sum(os.stat(p).st_blocks * 512 for p in corpus_dir.rglob("*") if p.is_file())
    assert used < 40 * corpus.MB


# --------------------------------------------------------------------------- library door


def _report_is_complete(report: pd.DataFrame) -> None:
    assert list(report.columns) == list(REPORT_COLUMNS)
    for col in ("file", "table", "rule", "message", "severity"):
        assert report[col].notna().all() and (report[col].astype(str).str.strip() != "").all(), col
    assert set(report["severity"]) <= {"error", "warning"}


_ROWS_SAMPLE = {c.id for c in CASES if c.expect == "rows" and (
    not all(g for g, _ in c.tables.values()) or len(c.tables) > 1 or c.category == "encoding")}
_ROWS_SAMPLE |= {next(c.id for c in CASES if c.category == cat and c.expect == "rows")
                 for cat in sorted({c.category for c in CASES if c.expect == "rows"})}
"""Rows files whose upload is stored and the store checked: one per category, every file that stores no row
at all, several tables at once, and every encoding (the stored text must be what was written). For the other
rows files the split into valid and quarantined rows is asserted (that split is what gets stored)."""
INGEST_CASES = [c for c in CASES if c.expect != "rows" or c.id in _ROWS_SAMPLE]
"""Every file that must change nothing, and the sample of rows files."""


@pytest.mark.parametrize("case", CASES, ids=str)
def test_library_door(case: corpus.Case, corpus_dir: Path, fresh_db: Path) -> None:
    """read_file, then check_upload and ingest (the steps of ``evalkit ingest`` and the dashboard)."""
    from evalkit.ingest import ProviderConflict, check_upload, ingest
    from evalkit.pseudonymise import IdentifierColumnsError
    from evalkit.readers import read_file
    from evalkit.store import open_store

    path = corpus_dir / case.path
    if case.expect == "reject":
        with pytest.raises(InputFileError) as info, deadline(SECONDS, case.id):
            read_file(path)
        message = str(info.value)
        assert re.search(case.message, message, FLAGS), message
        assert path.name in message and len(message) < 1500
        return
    before = snapshot(str(fresh_db))
    with open_store(fresh_db) as store:
        try:
            with deadline(SECONDS, case.id):
                raw = read_file(path)
                result = check_upload(raw, store, PROVIDER, secret=SECRET)
        except IdentifierColumnsError as exc:
            assert case.expect == "refuse" and re.search(case.message, str(exc), FLAGS), exc
            return
        _report_is_complete(result.report)
        if case.expect == "empty":
            assert sum(len(f) for f in raw.values()) == 0
            return
        if case.expect == "refuse" and (result.report["rule"] == "identifier_column").any():
            assert case.category == "identifiers"  # evalkit ingest and the dashboard refuse these whole
            return
        if case.expect == "refuse":
            with pytest.raises(ProviderConflict) as refused:
                ingest(result, store, provider=PROVIDER, file_name=path.name, sha256="0" * 64, secret=SECRET)
            assert re.search(case.message, str(refused.value), FLAGS), refused.value
            assert diff(before, snapshot(str(fresh_db))) == {}
            return
        got = {t: (len(result.tables.get(t, ())), len(result.quarantine.get(t, ()))) for t in raw}
        assert {t: v for t, v in got.items() if v != (0, 0)} == dict(case.tables)
        for table, bad in result.quarantine.items():
            errors = result.report[(result.report["table"] == table) & (result.report["severity"] == "error")]
            rows_with_errors = set(errors["source_row"].dropna().astype(int))
            if not rows_with_errors & {0, 1}:  # no file-level error (a missing column): each row has its own
                assert set(bad["source_row"].dropna().astype(int)) <= rows_with_errors
        if case.id not in _ROWS_SAMPLE:
            return
        summary = ingest(result, store, provider=PROVIDER, file_name=path.name, sha256="0" * 64, secret=SECRET)
    _assert_stored_exactly(case, fresh_db, before, summary.upload_id)
    if case.category == "encoding":
        with sqlite3.connect(fresh_db) as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM programmes WHERE created_upload_id = ?",
                                                (summary.upload_id,))}
        assert names and not any("Ã" in n or "\ufffd" in n for n in names), names
        assert names <= set(corpus.UNICODE_NAMES), names


def _assert_stored_exactly(case: corpus.Case, db: Path, before: dict, upload_id: int) -> None:
    """The good rows were added (nothing else touched), the bad ones quarantined with reasons."""
    after = snapshot(str(db))
    changed = diff(before, after)
    bad = sum(b for _, b in case.tables.values())
    expected = {"uploads"} | {t for t, (g, _) in case.tables.items() if g} | ({"quarantine"} if bad else set())
    # the upload's record, and the programmes of the provider's it concerns (upload_programmes, rows added only)
    assert set(changed) - {"upload_programmes"} == expected, changed
    assert changed["uploads"] == (0, 1) and changed.get("upload_programmes", (0, 0))[0] == 0, changed
    for table, (good, _) in case.tables.items():
        if good:
            assert changed[table] == (0, good), table  # only new rows
    with sqlite3.connect(db) as conn:
        quarantined = conn.execute("SELECT table_name, reasons FROM quarantine WHERE upload_id = ?",
                                   (upload_id,)).fetchall()
    assert Counter(t for t, _ in quarantined) == Counter({t: b for t, (_, b) in case.tables.items() if b})
    for _, reasons in quarantined:
        assert re.search(case.reason, reasons, FLAGS), reasons
    if case.category == "providers":  # another provider's programme: nothing may say whose it is
        assert all("South" not in reasons for _, reasons in quarantined)


# --------------------------------------------------------------------------- CLI: evalkit ingest


def _one_paragraph(err: str) -> None:
    text = err.strip()
    assert text and "\n\n" not in text and len(text) < 1500, err


@pytest.mark.parametrize("case", INGEST_CASES, ids=str)
def test_cli_ingest_door(case: corpus.Case, corpus_dir: Path, fresh_db: Path, capsys) -> None:  # noqa: ANN001
    path = corpus_dir / case.path
    before = snapshot(str(fresh_db))
    with deadline(SECONDS, case.id):
        code, out, err = cli_raw(capsys, "ingest", path, "--provider", PROVIDER, "--db", fresh_db, "--user", "t")
    joined = " ".join(err.split())
    if case.expect != "rows":
        assert diff(before, snapshot(str(fresh_db))) == {}, "a refused file changed the store"
        if case.expect == "reject":
            assert code == 2, joined
            lines = [ln for ln in err.splitlines() if not ln.startswith("evalkit ingest: reading")]
            _one_paragraph("\n".join(lines))
            assert joined.startswith("evalkit ingest: reading") and path.name in joined
        else:
            assert code == 1, joined
        assert re.search(case.message, joined, FLAGS), joined
        return
    good = sum(g for g, _ in case.tables.values())
    bad = sum(b for _, b in case.tables.values())
    assert code == (0 if good else 1), joined
    upload_id = max(r[0] for r in snapshot(str(fresh_db))["uploads"])
    _assert_stored_exactly(case, fresh_db, before, upload_id)
    done = "stored" if good else "recorded, but no row of it could be stored,"
    assert f"Upload {upload_id} {done} for {PROVIDER}" in out
    if bad:
        assert f"{bad:,} row(s) had errors and were QUARANTINED" in out
    if not good:
        assert "no row could be stored" in joined


# --------------------------------------------------------------------------- CLI: evalkit validate

_SAMPLE = {c.id for c in CASES if c.expect != "rows"}
_SAMPLE |= {next(c.id for c in CASES if c.category == cat and c.expect == "rows")
            for cat in sorted({c.category for c in CASES if c.expect == "rows"})}


@pytest.mark.parametrize("case", [c for c in CASES if c.id in _SAMPLE], ids=str)
def test_cli_validate_door(case: corpus.Case, corpus_dir: Path, capsys, tmp_path: Path) -> None:  # noqa: ANN001
    """``evalkit validate`` (no database): unreadable files exit 2 with one paragraph; others 0 or 1."""
    path = corpus_dir / case.path
    with deadline(SECONDS, case.id):
        code, out, err = cli_raw(capsys, "validate", path, "--format", "json", "--report", tmp_path / "r.csv")
    if case.expect == "reject":
        assert code == 2
        _one_paragraph(err)
        assert err.startswith("evalkit validate:") and re.search(case.message, " ".join(err.split()), FLAGS)
        assert out == ""
        return
    import json

    summary = json.loads(out)["summary"]
    # exit 1 for errors, and for files 'evalkit ingest' would refuse whole (direct identifiers), said in advance
    assert code == (0 if summary["ok"] and not summary["refused"] else 1)
    if case.category == "identifiers":
        assert summary["refused"] and "upload refused" in summary["refused"]
    else:  # no other file of the corpus looks identifying
        assert summary["refused"] is None
    report = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert len(report) == summary["errors"] + summary["warnings"]
    if case.expect == "rows" and any(b for _, b in case.tables.values()) and case.category in ("numbers", "dates"):
        assert code == 1


def test_subprocess_doors_print_no_traceback(corpus_dir: Path, tmp_path: Path) -> None:
    """A real process running the CLI entry point on a few nasty files: exit 2 each, nothing on stdout."""
    import os
    import subprocess
    import sys

    picks = [c for c in CASES if c.id.split("-", 1)[1] in ("random-bytes-0", "zip-bomb-shared-strings",
                                                            "json-nested-100k", "billion-laughs")]
    assert len(picks) == 4
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALKIT_")} | {"EVALKIT_SECRET": TEST_SECRET}
    code = ("import sys\nfrom evalkit.cli import main\nfiles = sys.argv[1:]\nfor f in files:\n"
            "    rc = main(['ingest', f, '--provider', 'North', '--db', sys.argv[0] + '.sqlite'])\n"
            "    print(f'RC={rc}', file=sys.stderr, flush=True)\n")
    script = tmp_path / "run"
    script.write_text(code)
    proc = subprocess.run([sys.executable, str(script), *(str(corpus_dir / c.path) for c in picks)],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    from badinput.helpers import no_traceback

    no_traceback(proc.stdout, proc.stderr)
    assert proc.returncode == 0 and proc.stdout == ""
    assert proc.stderr.count("RC=2") == 4, proc.stderr


# --------------------------------------------------------------------------- CLI: evalkit map (the mapping step)

MAP_CASES = [c for c in CASES if Path(c.file).suffix.lower() in (".csv", ".tsv", ".txt", ".xlsx", ".xlsm")
             and (c.expect == "reject" or c.id in _ROWS_SAMPLE)]


@pytest.mark.parametrize("case", MAP_CASES, ids=str)
def test_cli_map_door(case: corpus.Case, corpus_dir: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """``evalkit map`` (and so the dashboard's mapping step) reads the same files without a traceback."""
    path = corpus_dir / case.path
    with deadline(SECONDS, case.id):
        code, out, err = cli_raw(capsys, "map", path, "-o", tmp_path / "m.json", "--format", "json")
    assert code in (0, 1, 2), err
    if code == 2:
        _one_paragraph(err)
        assert path.name in err or "evalkit map:" in err
