"""Every page on a database with nothing in it yet: a sentence saying so, never an error or an exception.

A new deployment opens the dashboard before the first upload; the For whom breakdowns and the Report page's
funnel exits once failed there with an internal error (grouping zero rows by two keys).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.access import Scope

from .conftest import APP, TIMEOUT, assert_clean

PAGES = ("views/overview.py", "views/symptom_change.py", "views/wellbeing.py", "views/engagement.py",
         "views/for_whom.py", "views/what_works.py", "views/safety.py", "views/compare.py", "views/report.py",
         "views/upload.py")


@pytest.fixture(scope="module")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    from evalkit.store import open_store

    url = "sqlite:///" + str(tmp_path_factory.mktemp("empty") / "empty.sqlite")
    open_store(url).close()  # the tables made, no rows
    return url


@pytest.mark.parametrize("page", PAGES)
def test_each_page_says_there_is_nothing_yet(page: str, empty_db: str, monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    from dashboards import data

    monkeypatch.setenv("EVALKIT_DB_URL", empty_db)
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))
    data.clear_caches()
    try:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        at.switch_page(page)
        at.run()
        assert_clean(at)
        if page == "views/report.py":  # its tables are computed when their expanders are opened
            from dashboards import state

            for name in data.report_tables(data.Context(url=empty_db, scope=Scope.admin(), filters=data.Filters())):
                at.session_state[f"{state.RP_TABLE}_{name}"] = True
            at.run()
            assert_clean(at)
        assert "internal error" not in " ".join(str(e.value) for e in at.get("markdown"))
    finally:
        data.clear_caches()
