"""The dashboard door: corpus files uploaded on the Upload page give an error message, never an exception,
and change nothing in the store (Streamlit's AppTest, no browser)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from badinput import corpus
from badinput.helpers import deadline, diff, snapshot

pytest.importorskip("streamlit")

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
PICKS = ("empty-csv", "random-bytes-1", "zip-bomb-shared-strings", "billion-laughs", "json-nested-100k",
         "participants-as-contacts", "ten-thousand-columns", "truncated-xlsx-50", "fhir-item-not-a-list")
CASES = [c for c in corpus.cases() if c.id.split("-", 1)[1] in PICKS]
MIME = {".csv": "text/csv", ".json": "application/json",
        ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def test_upload_page_shows_an_error_for_unreadable_files(corpus_dir: Path, seed_db: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit.testing.v1 import AppTest

    assert len(CASES) == len(PICKS)
    db = tmp_path / "dash.sqlite"
    shutil.copyfile(seed_db, db)
    monkeypatch.setenv("EVALKIT_DB_URL", f"sqlite:///{db}")
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))  # none: single-user (admin)
    before = snapshot(str(db))
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("views/upload.py")
    at.run()
    assert not at.exception
    for case in CASES:
        path = corpus_dir / case.path
        with deadline(60, case.id):
            at.file_uploader(key="ek_up_files").set_value([(path.name, path.read_bytes(), MIME[path.suffix])])
            at.run()
            buttons = [b for b in at.button if b.key == "ek_up_check"]
            if buttons and not buttons[0].disabled:
                buttons[0].click()
                at.run()
        assert not at.exception, (case.id, [e.value for e in at.exception])
        errors = " ".join(str(e.value) for e in at.error)
        assert errors, f"{case.id}: no error shown"
        assert "Traceback" not in errors and 'File "' not in errors, errors
        assert path.name in errors or case.expect != "reject", errors
    assert diff(before, snapshot(str(db))) == {}
