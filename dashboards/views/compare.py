"""Compare programmes: forest and funnel plots, subgroups and meta-regression, from the database or summary files."""

import streamlit as st

from dashboards import data, pages, ui

ctx = pages.context()
ui.header("compare", "Compare programmes")

sources = ["This database", "Summary files"]
source = st.radio("Compare", sources, key="ek_cp_source", horizontal=True)

with ui.section("Programme comparison"):
    if source == sources[0]:
        comparison = data.comparison_from_store(ctx)
    else:
        files = st.file_uploader("Summary files (evalkit aggregate summaries)", type=["json", "csv", "xlsx"],
                                 accept_multiple_files=True, key="ek_cp_files")
        if not files:
            st.info("Upload summary files that programmes produced with evalkit (they hold aggregate figures "
                    "only, never individual rows).")
            st.stop()
        comparison = data.comparison_from_files(ctx, [(f.name, f.getvalue()) for f in files])
    frame = data.as_frame(comparison)
    if frame is None or frame.empty:
        ui.empty_note("programme summaries")
    else:
        ui.table(frame, key="cp_table", name="programme-comparison")
    for term in ("forest", "funnel", "heterogeneity", "subgroup", "meta_regression"):
        ui.explain(term)
