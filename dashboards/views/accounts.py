"""Accounts (admin): who can sign in, and what each may see (local accounts, argon2-hashed passwords)."""

import pandas as pd
import streamlit as st

from dashboards import pages, state, ui
from evalkit import auth
from evalkit.access import ROLES

ctx = pages.context()
ui.header("accounts", "Accounts")

with ui.section("Accounts"):
    if ctx.role != "admin":
        st.stop()
    accounts = auth.list_accounts()
    if accounts:
        st.dataframe(pd.DataFrame([{"username": a.username, "role": a.role, "providers": ", ".join(sorted(a.providers)),
                                    "programmes": ", ".join(sorted(a.programmes)), "password": a.has_password,
                                    "created": a.created_at} for a in accounts]), hide_index=True, key="ac_table")
    else:
        st.info("No accounts yet: the dashboard runs in single-user mode. Adding the first account turns the "
                "login on; make an admin account first.")
    st.caption(f"Accounts are kept in {auth.accounts_path()}, outside the database.")
    with st.form("ek_ac_form", clear_on_submit=True):
        st.markdown("**Add an account**")
        c1, c2 = st.columns(2)
        name = c1.text_input("Username (an e-mail address for single sign-on)", key=state.AC_USERNAME)
        password = c2.text_input(f"Password (at least {auth.MIN_PASSWORD_LENGTH} characters; blank for single "
                                 "sign-on only)", type="password", key=state.AC_PASSWORD)
        role = st.selectbox("Role", ROLES, key=state.AC_ROLE)
        providers = st.text_input("Providers (provider role; separate with ;)", key=state.AC_PROVIDERS)
        programmes = st.text_input("Programme ids (evaluator role; separate with ;)", key=state.AC_PROGRAMMES)
        if st.form_submit_button("Add account", type="primary"):
            try:
                acc = auth.create_account(
                    name, password or None, role,
                    providers=[p.strip() for p in providers.split(";") if p.strip()],
                    programmes=[p.strip() for p in programmes.split(";") if p.strip()])
                st.session_state[state.AC_MESSAGE] = f"Account {acc.username} ({acc.role}) added."
            except (auth.AccountsError, ValueError) as exc:
                st.session_state[state.AC_MESSAGE] = f"Not added: {exc}"
            st.rerun()
    msg = st.session_state.pop(state.AC_MESSAGE, None)
    if msg:
        (st.success if msg.startswith("Account") else st.error)(msg)
    if accounts:
        with st.form("ek_ac_remove_form"):
            st.markdown("**Remove an account**")
            gone = st.selectbox("Account", [a.username for a in accounts], key=state.AC_REMOVE_NAME)
            sure = st.checkbox("Remove this account (the person can no longer sign in)", key=state.AC_REMOVE_SURE)
            if st.form_submit_button("Remove") and sure:
                try:
                    auth.delete_account(gone, keep_login=True)
                    st.session_state[state.AC_MESSAGE] = f"Account {gone} removed."
                except auth.AccountsError as exc:
                    st.session_state[state.AC_MESSAGE] = f"Not removed: {exc}"
                st.rerun()

