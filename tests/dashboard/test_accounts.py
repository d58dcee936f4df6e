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


def test_the_last_account_cannot_be_removed_from_the_dashboard(app) -> None:  # noqa: ANN001
    """Removing the only account would turn the login off (single-user mode: everyone who can open the dashboard
    sees every row), so the page refuses it; with a second account the removal goes through."""
    from dashboards.auth_ui import User

    auth.create_account("boss", "a long enough password", "admin")
    at = app("views/accounts.py", user=User("boss", "admin", method="password"))
    assert_clean(at)
    at.selectbox(key="ek_ac_remove_name").set_value("boss")
    at.checkbox(key="ek_ac_remove_sure").check()
    at.button[1].click()
    at.run()
    assert [a.username for a in auth.list_accounts()] == ["boss"]
    assert any("last account" in e.value for e in at.error), [e.value for e in at.error]
    assert "Single-user mode" not in texts(at)
    auth.create_account("deputy", "another long password", "admin")
    at.run()
    at.selectbox(key="ek_ac_remove_name").set_value("deputy")
    at.checkbox(key="ek_ac_remove_sure").check()
    at.button[1].click()
    at.run()
    assert_clean(at)
    assert [a.username for a in auth.list_accounts()] == ["boss"]
