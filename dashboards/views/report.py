"""Report: a self-contained HTML report, and every table as CSV or Excel."""

import streamlit as st

from dashboards import data, pages, ui

ctx = pages.context()
ui.header("report", "Report")

with ui.section("HTML report"):
    st.subheader("The whole report in one file")
    html = data.html_report(ctx)
    st.download_button("Download the report (HTML)", html, file_name="evalkit-report.html", mime="text/html",
                       key="rp_html", type="primary", on_click="ignore", icon=":material/download:")
    st.caption("One file that opens in any browser, with every figure, its n, its interval and the rules used.")

with ui.section("Tables"):
    st.subheader("Every table")
    tables = data.report_tables(ctx)
    if not tables:
        ui.empty_note("tables")
    for name, frame in tables.items():
        with st.expander(name.replace("_", " ").capitalize()):
            ui.table(frame, key=f"rp_{name}", name=name)
