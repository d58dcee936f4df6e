"""Who is using the dashboard: OIDC sign-in, local accounts, or single-user mode.

1. **OIDC** (``st.login``) when the deployment's ``secrets.toml`` has an
   ``[auth]`` section. The signed-in e-mail address is looked up among the
   local accounts (:func:`evalkit.auth.get_account`) for its role and scope;
   an address without an account sees nothing.
2. **Local accounts** (:mod:`evalkit.auth`, argon2-hashed passwords) when any
   account exists.
3. **Single-user mode** otherwise: no login, everything visible, and the page
   says so.

Every read of ``st.secrets`` goes through :func:`secret`, which returns a
fallback when no secrets file exists (Streamlit raises otherwise).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import streamlit as st

from dashboards import glossary, state
from evalkit.access import Scope


@dataclass(frozen=True)
class User:
    """The signed-in person (or the single local user)."""

    name: str
    role: str
    providers: tuple[str, ...] = ()
    programmes: tuple[str, ...] = ()
    method: str = "single-user"  # "single-user", "password" or "oidc"

    def scope(self) -> Scope:
        return Scope(self.role, providers=frozenset(self.providers), programmes=frozenset(self.programmes))  # type: ignore[arg-type]


SINGLE_USER = User(name="local user", role="admin", method="single-user")


def secret(path: str, default: Any = None) -> Any:
    """``st.secrets`` at a dotted path (e.g. ``"auth.client_id"``), or ``default`` when absent or no secrets file."""
    try:
        node: Any = st.secrets
        for part in path.split("."):
            node = node[part]
        return node
    except Exception:  # noqa: BLE001 - no secrets file, missing key, unparsable file: all mean "not configured"
        return default


def oidc_configured() -> bool:
    """Whether the deployment configured OpenID Connect sign-in in its secrets."""
    auth = secret("auth")
    if auth is None:
        return False
    try:
        return bool(auth.get("client_id") or any(hasattr(v, "get") and v.get("client_id") for v in auth.values()))
    except AttributeError:
        return False


def _from_account(account: Any, method: str) -> User:
    return User(name=account.username, role=account.role, providers=tuple(sorted(account.providers)),
                programmes=tuple(sorted(account.programmes)), method=method)


def _oidc_user() -> User | None:
    from evalkit.auth import get_account

    if not st.user.get("is_logged_in", False):
        st.title("evalkit")
        st.write("Sign in with your organisation's account to see your programmes' data.")
        provider = secret("evalkit.oidc_provider")
        if st.button("Sign in", key="ek_oidc_login", type="primary"):
            st.login(provider) if provider else st.login()
        return None
    email = str(st.user.get("email") or "")
    account = get_account(email) if email else None
    if account is None:
        st.warning(f"You are signed in as {email or 'an unknown user'}, but no evalkit role is set for this "
                   "address. Ask your evalkit administrator to add you (evalkit accounts add ...).")
        if st.button("Sign out", key="ek_oidc_logout"):
            st.logout()
        return None
    return _from_account(account, "oidc")


def _password_user() -> User | None:
    from evalkit.auth import get_account, verify

    user = st.session_state.get(state.USER)
    if isinstance(user, User):
        # the account as it is now: removed (or left without a password) ends the session, a changed role or
        # scope applies from this run on, not only at the next sign-in
        account = get_account(user.name)
        if account is not None and account.has_password:
            current = _from_account(account, "password")
            if current != user:
                st.session_state[state.USER] = current
            return current
        st.session_state.pop(state.USER, None)
    st.title("evalkit: sign in")
    with st.form("ek_login_form"):
        name = st.text_input("Username", key=state.LOGIN_USERNAME, autocomplete="username")
        password = st.text_input("Password", type="password", key=state.LOGIN_PASSWORD, autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        account = verify(name, password)
        if account is None:
            time.sleep(0.5)  # slow down guessing
            st.session_state[state.LOGIN_ERROR] = "That username and password do not match an account."
        else:
            st.session_state.pop(state.LOGIN_ERROR, None)
            user = _from_account(account, "password")
            st.session_state[state.USER] = user
            st.rerun()
    if st.session_state.get(state.LOGIN_ERROR):
        st.error(st.session_state[state.LOGIN_ERROR])
    return None


def current_user() -> User | None:
    """The signed-in user; draws the sign-in form and returns ``None`` while nobody is signed in."""
    from evalkit.auth import accounts_configured

    if oidc_configured():
        return _oidc_user()
    if accounts_configured():
        return _password_user()
    return SINGLE_USER


def sidebar_identity(user: User) -> None:
    """Who is signed in, with a sign-out button; the single-user notice when there is no login."""
    with st.sidebar:
        if user.method == "single-user":
            st.info(glossary.SINGLE_USER_NOTICE, icon=":material/lock_open:")
            return
        what = {"provider": ", ".join(user.providers), "evaluator": ", ".join(user.programmes) or "no programmes",
                "researcher": "aggregate summaries", "admin": "all data"}.get(user.role, "")
        st.caption(f"Signed in as **{user.name}** ({user.role}: {what})")
        if st.button("Sign out", key="ek_logout"):
            if user.method == "oidc":
                st.logout()
            else:
                st.session_state.pop(state.USER, None)
                st.rerun()
