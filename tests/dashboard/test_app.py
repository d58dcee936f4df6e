"""The router: single-user mode, the page list per role, sign-in with a local account."""

from __future__ import annotations

from evalkit import auth

from .conftest import assert_clean, texts


def test_single_user_mode_says_so_and_opens_overview(app) -> None:  # noqa: ANN001
    at = app()
    assert_clean(at)
    assert "Single-user mode: no login; everyone who can open this page sees all data" in texts(at)
    assert at.title[0].value == "Overview"


def test_login_form_when_accounts_exist(app, tmp_path) -> None:  # noqa: ANN001
    auth.create_account("north", "a long enough password", "provider", providers=["Northside Mums Charity"])
    at = app()
    assert_clean(at)
    assert "sign in" in at.title[0].value.lower()
    assert "Single-user mode" not in texts(at)
    at.text_input(key="ek_login_username").input("north")
    at.text_input(key="ek_login_password").input("wrong password!")
    at.get("form_submit_button")[0].click() if at.get("form_submit_button") else at.button[0].click()
    at.run()
    assert "do not match" in texts(at)
    at.text_input(key="ek_login_password").input("a long enough password")
    at.button[0].click()
    at.run()
    assert_clean(at)
    assert at.title[0].value == "Overview"
    assert "Signed in as **north** (provider: Northside Mums Charity)" in texts(at)
