"""Accounts page (admin): adding the first account turns the login on; accounts can be removed."""

from __future__ import annotations

from evalkit import auth

from .conftest import assert_clean, texts


def test_accounts_page_adds_and_removes_accounts(app) -> None:  # noqa: ANN001
    at = app("views/accounts.py")
    assert_clean(at)
    assert at.title[0].value == "Accounts"
    assert "single-user mode" in texts(at)
    at.text_input(key="ek_ac_username").input("boss")
    at.text_input(key="ek_ac_password").input("a long enough password")
    at.selectbox(key="ek_ac_role").set_value("admin")
    at.button[0].click()
    at.run()
    assert_clean(at)
    assert [a.username for a in auth.list_accounts()] == ["boss"]
    assert auth.verify("boss", "a long enough password").role == "admin"
