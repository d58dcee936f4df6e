"""evalkit dashboard: the router (sign-in, pages allowed for the role, sidebar, navigation)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # `import dashboards` (checkout or wheel)

import streamlit as st  # noqa: E402

from dashboards import auth_ui, data, filters, garbage, pages  # noqa: E402

st.set_page_config(page_title="evalkit", page_icon=":material/diversity_1:", layout="wide")
user = auth_ui.current_user()
if user is None:
    st.stop()
auth_ui.sidebar_identity(user)
url = data.db_url()
allowed = pages.for_role(user.role)
page = st.navigation(allowed)
context = data.Context(url=url, scope=user.scope())
if pages.uses_filters(page):
    context = filters.sidebar(url, context)
st.session_state[pages.CONTEXT] = context
st.session_state[pages.USER] = user
with data.page_run():  # the contacts a page loads are let go of when its run ends
    page.run()
garbage.freeze_after_first_run()  # once per process: modules' objects out of the cycle collector's walks
