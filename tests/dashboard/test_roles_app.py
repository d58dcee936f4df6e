"""Roles in the running app: the pages each role gets, and what the data layer lets through to them."""

from __future__ import annotations

from dashboards.auth_ui import User
from evalkit import auth

from .conftest import assert_clean, frames, texts

NORTH = "Northside Mums Charity"


def _sign_in(role: str, **scope: list[str]) -> User:
    """A local account exists (so the login is on) and the session holds it as signed in."""
    auth.create_account("someone", "a long enough password", role, **scope)
    acc = auth.verify("someone", "a long enough password")
    return User(acc.username, acc.role, tuple(sorted(acc.providers)), tuple(sorted(acc.programmes)), "password")


def test_researcher_sees_aggregates_only(app) -> None:  # noqa: ANN001
    at = app(user=_sign_in("researcher"))
    assert_clean(at)
    assert "Single-user mode" not in texts(at)
    assert "aggregate, disclosure-controlled summaries only" in texts(at)
    for frame in frames(at):
        assert "participant_id" not in frame.columns
    assert any("programme_id" in f.columns and "n_paired" in f.columns for f in frames(at))


def test_researcher_cannot_open_individual_pages(app) -> None:  # noqa: ANN001
    at = app(user=_sign_in("researcher"))
    for page in ("views/safety.py", "views/symptom_change.py", "views/upload.py"):
        try:
            at.switch_page(page)
            at.run()
        except Exception:  # noqa: BLE001 - a page outside the role's navigation cannot be opened at all
            continue
        assert not any("participant_id" in f.columns for f in frames(at))
        assert "p_" not in " ".join(str(v) for f in frames(at) for v in f.to_numpy().ravel()[:200])


def test_provider_sees_only_its_programmes(app) -> None:  # noqa: ANN001
    at = app(user=_sign_in("provider", providers=[NORTH]))
    assert_clean(at)
    headings = " ".join(h.value for h in at.subheader)
    assert "(P-GROUP)" in headings and "(P-PHONE)" not in headings and "(P-PAID)" not in headings
    assert f"provider: {NORTH}" in texts(at)


def test_oidc_sign_in_maps_the_email_to_an_account(app) -> None:  # noqa: ANN001
    auth.create_account("ana@example.org", None, "evaluator", programmes=["P-PHONE"])
    from streamlit.testing.v1 import AppTest

    from .conftest import APP, TIMEOUT

    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "evalkit", "client_secret": "s",
                          "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}
    at.run()
    assert_clean(at)
    assert at.button(key="ek_oidc_login")  # not signed in: a sign-in button, no data
    at.user = {"is_logged_in": True, "email": "ana@example.org"}  # what st.user reports after st.login
    at.run()
    assert_clean(at)
    headings = " ".join(h.value for h in at.subheader)
    assert "(P-PHONE)" in headings and "(P-GROUP)" not in headings


def test_a_removed_or_changed_account_takes_effect_in_a_signed_in_session(app) -> None:  # noqa: ANN001
    """Removing an account (or narrowing its scope) on the Accounts page ends what the open session shows at once,
    not only at its next sign-in."""
    at = app(user=_sign_in("evaluator", programmes=["P-GROUP", "P-PHONE"]))
    assert_clean(at)
    headings = " ".join(h.value for h in at.subheader)
    assert "(P-GROUP)" in headings and "(P-PHONE)" in headings
    auth.create_account("someone", "a long enough password", "evaluator", programmes=["P-PHONE"], replace=True)
    at.run()
    assert_clean(at)
    headings = " ".join(h.value for h in at.subheader)
    assert "(P-PHONE)" in headings and "(P-GROUP)" not in headings
    auth.create_account("other.admin", "a long enough password", "admin")  # the login stays on
    auth.delete_account("someone")
    at.run()
    assert not at.exception
    assert not frames(at) and not at.subheader
    assert at.text_input(key="ek_login_username") is not None
