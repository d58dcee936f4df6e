"""Overview: per programme the headline figures, each with its n."""

import streamlit as st

from dashboards import data, pages, sections, ui

ctx = pages.context()
ui.header("overview", "Overview")

if not ctx.individual:
    with ui.section("Programme summaries"):
        summaries = data.as_frame(data.aggregate_summaries(ctx))
        ui.table(summaries, key="ov_aggregates", name="programme-summaries")
    st.stop()

progs = data.programmes(ctx)
if progs.empty:
    st.info("No data yet. Go to **Upload** to add your programme's files, or start the dashboard with "
            "`evalkit dashboard --example` to explore the example data.", icon=":material/upload_file:")
    st.stop()
ui.rules_note(ctx)

with ui.section("Headline figures"):
    head = data.as_frame(data.analysis(ctx, "evalkit.outcomes.headline"))
    chosen = data.selected_programmes(ctx)
    for _, prog in progs.iterrows():
        pid = str(prog["programme_id"])
        if chosen is not None and pid not in chosen:
            continue
        rows = sections.rows_for(head, programme_id=pid)
        with st.container(border=True):
            st.subheader(f"{prog['name']} ({pid})")
            st.caption(f"{prog['provider']} · {str(prog['format']).replace('_', ' ')} · "
                       f"{str(prog['mode']).replace('_', ' ')}")
            if rows.empty:
                ui.empty_note("figures")
                continue
            ui.table(rows, key=f"ov_{pid}", name=f"headline-{pid}")
