"""Upload page as a provider: one workbook with a sheet per table; another provider's rows are refused whole."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards.auth_ui import User
from evalkit import auth
from evalkit._resources import resource_dir
from evalkit.store import list_uploads, open_store

from .conftest import APP, TIMEOUT, assert_clean, texts

NORTH = "Northside Mums Charity"
TABLES = ("programmes", "participants", "group_sessions", "contacts", "measures")


def _workbook(programmes: list[str] | None) -> bytes:
    src = resource_dir("examples/data")
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as xl:
        for t in TABLES:
            frame = pd.read_csv(src / f"{t}.csv", dtype=str, keep_default_na=False)
            if programmes is not None:
                frame = frame[frame["programme_id"].isin(programmes)]
            frame.to_excel(xl, sheet_name=t, index=False)
    return buf.getvalue()


@pytest.fixture
def provider_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, str]:
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    monkeypatch.setenv("EVALKIT_DB_URL", url)
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))
    auth.create_account("north", "a long enough password", "provider", providers=[NORTH])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["ek_user"] = User("north", "provider", (NORTH,), (), "password")
    at.run()
    at.switch_page("views/upload.py")
    at.run()
    return at, url


def _upload(at: AppTest, data: bytes) -> None:
    at.file_uploader(key="ek_up_files").set_value(
        ("northside.xlsx", data, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"))
    at.run()
    at.button(key="ek_up_check").click()
    at.run()


def test_provider_uploads_a_workbook(provider_app) -> None:  # noqa: ANN001
    at, url = provider_app
    assert_clean(at)
    assert at.selectbox(key="ek_up_provider").options == [NORTH]
    _upload(at, _workbook(["P-GROUP"]))
    assert_clean(at)
    assert "What we found" in texts(at)
    at.button(key="ek_up_store").click()
    at.run()
    assert_clean(at)
    store = open_store(url)
    try:
        hist = list_uploads(store)
    finally:
        store.close()
    assert list(hist["provider"]) == [NORTH] and list(hist["file_name"]) == ["northside.xlsx"]
    assert int(hist["rows_accepted"].iloc[0]) > 0


def test_another_providers_rows_are_refused_whole(provider_app) -> None:  # noqa: ANN001
    at, url = provider_app
    _upload(at, _workbook(None))  # every provider's programmes
    at.button(key="ek_up_store").click()
    at.run()
    assert not at.exception
    assert any("another provider" in e.value for e in at.error), [e.value for e in at.error]
    store = open_store(url)
    try:
        assert list_uploads(store).empty
    finally:
        store.close()
