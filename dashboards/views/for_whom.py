"""For whom: every headline broken down by one context field, with suppression shown as such."""

import streamlit as st

from dashboards import data, pages, ui

ctx = pages.context()
ui.header("for_whom", "For whom")
ui.rules_note(ctx)

with ui.section("Breakdown"):
    from evalkit.episodes import CONTEXT_FIELDS

    field = st.selectbox("Split by", CONTEXT_FIELDS, key="ek_fw_field", format_func=lambda f: f.replace("_", " "))
    table = data.as_frame(data.analysis(ctx, "evalkit.for_whom.for_whom", by=field))
    if table is None or table.empty:
        ui.empty_note("figures")
    else:
        ui.table(table, key="fw_table", name=f"for-whom-{field}")
    ui.explain("for_whom")
    ui.explain("suppressed")
