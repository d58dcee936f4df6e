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

st.subheader("Every table")
st.caption("Aggregate tables only, disclosure-controlled ([c] = hidden small number). Each downloads as CSV or Excel.")
for name, compute in data.report_tables(ctx).items():
    with st.expander(name.replace("_", " ").capitalize()), ui.section(name.replace("_", " ").capitalize()):
        frame = compute()
        if frame is None or frame.empty:
            st.caption("No rows for the programmes and dates chosen.")
        else:
            ui.table(frame, key=f"rp_{name}", name=name)
