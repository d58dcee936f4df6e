"""Report: a self-contained HTML report (and its tables as a workbook or CSV files), and every table."""

import streamlit as st

from dashboards import data, pages, sections, state, ui

ctx = pages.context()
ui.header("report", "Report")

with ui.section("HTML report"):
    st.subheader("The whole report in one file")
    data.library(data.REPORT)
    st.caption("One file that opens in any browser, for funders and commissioners: every figure with its n, its "
               "interval and the rules used; small numbers hidden; no list of individual mothers. It uses the "
               "programmes, dates and rules chosen in the sidebar.")
    st.button("Prepare the report", key=state.RP_PREPARE, type="primary",
              disabled=bool(st.session_state.get(state.RP_READY)),
              on_click=lambda: st.session_state.__setitem__(state.RP_READY, True))
    if st.session_state.get(state.RP_READY):
        rep = data.report(ctx)
        c1, c2, c3 = st.columns(3)
        c1.download_button("Report (HTML)", rep.html, file_name="evalkit-report.html", mime="text/html",
                           key="rp_html", type="primary", on_click="ignore", icon=":material/download:")
        c2.download_button("Its tables (Excel)", rep.xlsx, file_name="evalkit-report.xlsx",
                           mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="rp_xlsx",
                           on_click="ignore", icon=":material/download:")
        c3.download_button("Its tables (CSV, zip)", rep.csv_zip, file_name="evalkit-report.zip",
                           mime="application/zip", key="rp_zip", on_click="ignore", icon=":material/download:")
        st.caption(f"{rep.title} · made {rep.generated_at} · evalkit {rep.version} · data {rep.data_hash[:12]}")
        if rep.notes:
            with st.expander("Notes from the analysis"):
                st.markdown("\n".join(f"- {n}" for n in rep.notes))

st.subheader("Every table")
st.caption("Aggregate tables only, disclosure-controlled ([c] = hidden small number). Each downloads as CSV or Excel.")
for name, compute in data.report_tables(ctx).items():
    label = name.replace("_", " ").capitalize()
    # each table computed when its expander is opened (a rerun), not all of them on every view of the page
    shelf = st.expander(label, key=f"{state.RP_TABLE}_{name}", on_change="rerun")
    with shelf, ui.section(label):
        if not shelf.open:
            continue
        frame = compute()
        if frame is None or frame.empty:
            st.caption("No rows for the programmes and dates chosen.")
        elif ctx.individual:  # each table made readable once per outcome result (the summary shared with the pages)
            shown = sections.summary_shown(ctx, frame) if name == "outcome_summary" else \
                ui.kept(("report table", data.result_key(ctx), name), lambda frame=frame: ui.shown(frame))
            ui.table(shown, key=f"rp_{name}", name=name)
        else:
            ui.table(frame, key=f"rp_{name}", name=name)
