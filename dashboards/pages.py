"""The page list: which pages exist, which roles see them, and which use the sidebar filters.

Hiding a page is a convenience, not the protection: every page's data come
through :mod:`dashboards.data`, which loads with the user's scope and refuses
what the role may not see.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboards import data, state
from dashboards.auth_ui import User

VIEWS = Path(__file__).resolve().parent / "views"
CONTEXT = "ek_context"
USER = state.USER + "_current"

# (file, title, icon, roles, uses filters)
PAGES: tuple[tuple[str, str, str, tuple[str, ...], bool], ...] = (
    ("overview.py", "Overview", ":material/dashboard:", ("provider", "evaluator", "admin", "researcher"), True),
    ("upload.py", "Upload", ":material/upload_file:", ("provider", "admin"), False),
    ("symptom_change.py", "Symptom change", ":material/trending_down:", ("provider", "evaluator", "admin"), True),
    ("wellbeing.py", "Wellbeing and recovery", ":material/self_improvement:", ("provider", "evaluator", "admin"),
     True),
    ("engagement.py", "Engagement", ":material/groups:", ("provider", "evaluator", "admin"), True),
    ("for_whom.py", "For whom", ":material/diversity_3:", ("provider", "evaluator", "admin"), True),
    ("what_works.py", "What works for whom", ":material/psychology:", ("provider", "evaluator", "admin"), True),
    ("safety.py", "Safety", ":material/health_and_safety:", data.SAFETY_ROLES, True),
    ("compare.py", "Compare programmes", ":material/compare:", ("provider", "evaluator", "admin", "researcher"), True),
    ("report.py", "Report", ":material/description:", ("provider", "evaluator", "admin", "researcher"), True),
    ("accounts.py", "Accounts", ":material/manage_accounts:", ("admin",), False),
)


def for_role(role: str) -> list[st.Page]:
    """The pages a role may open, in menu order (the first is the default)."""
    out = []
    for file, title, icon, roles, _ in PAGES:
        if role in roles and (VIEWS / file).is_file():
            out.append(st.Page(VIEWS / file, title=title, icon=icon, url_path=file.removesuffix(".py"),
                               default=not out))
    return out


def uses_filters(page: st.Page) -> bool:
    """Whether the page's figures depend on the sidebar filters and rules."""
    path = str(getattr(page, "url_path", "") or "")
    for file, _, _, _, filtered in PAGES:
        if file.removesuffix(".py") == path:
            return filtered
    return True


def context() -> data.Context:
    """The current data context (set by the router before the page runs)."""
    ctx = st.session_state.get(CONTEXT)
    if ctx is None:
        st.error("Open the dashboard through its start page (app.py).")
        st.stop()
    return ctx


def user() -> User:
    return st.session_state[USER]
