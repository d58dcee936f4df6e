"""Upload: files in (with a mapping step for providers' own spreadsheets), validation report, quarantine with
re-submission, upload history with rollback, templates."""

import pandas as pd
import streamlit as st

from dashboards import data, pages, state, ui

ctx = pages.context()
user = pages.user()
ui.header("upload", "Upload data")

tab_up, tab_q, tab_h, tab_t = st.tabs(["Upload files", "Rows to correct", "Upload history", "Templates"])

# ----------------------------------------------------------------------------- upload and check
with tab_up, ui.section("Uploading"):
    providers = data.upload_providers(ctx)
    st.write("Upload one workbook (one sheet per table) or separate CSV files named after their tables "
             "(programmes, participants, group_sessions, contacts, measures). You can also upload your own "
             "spreadsheet, for example one row per mother with her questionnaire scores side by side: evalkit "
             "then shows how it will read it, and a preview, before anything is stored.")
    from evalkit.limits import env_limit

    max_mb = max(1, env_limit("max_bytes") // (1024 * 1024))  # EVALKIT_MAX_UPLOAD_MB, as the readers enforce it
    files = st.file_uploader("Files", type=["csv", "tsv", "txt", "xlsx", "xlsm", "json", "ndjson"],
                             accept_multiple_files=True, key=state.UP_FILES, max_upload_size=max_mb)
    if ctx.role == "admin":
        options = ["(each programme's own provider)", *providers]
        chosen = st.selectbox("Upload as provider", options, key=state.UP_PROVIDER,
                              help="Rows are stored under their programme's provider; choose one provider to "
                                   "file everything under it.")
        provider = None if chosen == options[0] else chosen
    else:
        provider = st.selectbox("Upload as provider", providers, key=state.UP_PROVIDER)
    from dashboards import mapping_step

    # one spreadsheet with the provider's own headers: first the mapping step (as 'evalkit map'), nothing stored
    mapped = mapping_step.show(ctx, user, list(files or []), provider)
    if not mapped and st.button("Check files", key=state.UP_CHECK, type="primary", disabled=not files):
        bar = st.progress(0.0, text="Starting")
        st.session_state.pop(state.UP_STORED, None)
        try:
            checked = data.check_upload(ctx, [(f.name, f.getvalue()) for f in files], provider=provider,
                                        progress=lambda x, msg: bar.progress(min(max(x, 0.0), 1.0), text=msg))
            st.session_state[state.UP_RESULT] = checked
        except Exception as exc:  # noqa: BLE001 - any unreadable file becomes a message, never a crash
            from evalkit.errors import EvalkitError

            if not isinstance(exc, EvalkitError | ValueError):
                raise
            st.session_state.pop(state.UP_RESULT, None)
            st.error(f"The files could not be checked: {exc}")
        bar.empty()

    checked = st.session_state.get(state.UP_RESULT)
    if isinstance(checked, data.CheckedUpload):
        st.subheader("What we found")
        c1, c2, c3 = st.columns(3)
        c1.metric("Rows that can be stored", ui.fmt(checked.n_valid, 0))
        c2.metric("Errors (rows set aside)", ui.fmt(checked.n_errors, 0))
        c3.metric("Warnings (rows kept; please check)", ui.fmt(checked.n_warnings, 0))
        ui.table(checked.summary, key="up_summary", name="upload-summary")
        report = checked.report
        if len(report):
            st.subheader("Problems, row by row")
            st.caption("Rows are numbered as in your spreadsheet (the header is row 1).")
            f1, f2, f3, f4 = st.columns(4)
            sev = f1.multiselect("Severity", ["error", "warning"], key=state.UP_REPORT_SEVERITY,
                                 placeholder="errors and warnings")
            tabs_ = f2.multiselect("Table", sorted(report["table"].dropna().unique()), key=state.UP_REPORT_TABLES,
                                   placeholder="all tables")
            rules_ = f3.multiselect("Rule", sorted(report["rule"].dropna().unique()), key=state.UP_REPORT_RULES,
                                    placeholder="all rules")
            text = f4.text_input("Search messages", key=state.UP_REPORT_SEARCH)
            keep = pd.Series(True, index=report.index)
            if sev:
                keep &= report["severity"].isin(sev)
            if tabs_:
                keep &= report["table"].isin(tabs_)
            if rules_:
                keep &= report["rule"].isin(rules_)
            if text:
                keep &= report["message"].astype(str).str.contains(text, case=False, regex=False)
            shown = report[keep]
            st.dataframe(shown, hide_index=True, key="up_report")
            d1, d2, _ = st.columns([1, 1, 3])
            d1.download_button("Report as CSV", data.report_bytes(shown, "csv"), file_name="validation-report.csv",
                               mime="text/csv", key="up_report_csv", on_click="ignore", icon=":material/download:")
            d2.download_button("Report as Excel", data.report_bytes(shown, "xlsx"), file_name="validation-report.xlsx",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               key="up_report_xlsx", on_click="ignore", icon=":material/download:")
        else:
            st.success("No problems found.")
        label = f"Store {ui.fmt(checked.n_valid, 0)} valid rows"
        if checked.n_errors:
            label += " (rows with errors are kept aside to correct)"
        if st.button(label, key=state.UP_STORE, type="primary"):
            def work(progress) -> None:  # noqa: ANN001 - ui.storing's progress callback
                st.session_state[state.UP_STORED] = data.store_upload(ctx, checked, user=user.name, progress=progress)
                st.session_state.pop(state.UP_RESULT, None)

            ui.storing("Storing", work)
    stored = st.session_state.get(state.UP_STORED)
    if isinstance(stored, pd.DataFrame):
        st.success("Stored. The other pages now include these rows.")
        ui.table(stored, key="up_stored", name="stored")

# ----------------------------------------------------------------------------- quarantine
with tab_q, ui.section("Rows to correct"):
    hist = data.uploads(ctx)
    q_all = data.quarantine(ctx)
    if not q_all:
        st.success("No rows are waiting for correction.")
    else:
        ids = sorted({int(i) for f in q_all.values() for i in f["upload_id"].dropna()}, reverse=True)
        up_id = st.selectbox("Upload", ids, key=state.Q_UPLOAD,
                             format_func=lambda i: f"upload {i}: " + ", ".join(
                                 hist.loc[hist["upload_id"] == i, "file_name"].astype(str).head(1)))
        st.write("Correct the cells below and re-submit; corrected rows are checked again and stored, rows still "
                 "wrong stay here. You can also download them, correct them in a spreadsheet, and upload the "
                 "file here.")
        edited = {}
        for table, frame in q_all.items():
            part = frame[frame["upload_id"] == up_id]
            if part.empty:
                continue
            st.markdown(f"**{table}** ({len(part)} row{'s' if len(part) != 1 else ''})")
            st.caption("Why: " + "; ".join(part["reasons"].astype(str).head(3)) + (" ..." if len(part) > 3 else ""))
            locked = [c for c in ("quarantine_id", "upload_id", "table", "reasons", "status", "resolved_upload_id",
                                  "source_file", "source_sheet", "source_row") if c in part.columns]
            edited[table] = st.data_editor(part.reset_index(drop=True), key=f"{state.Q_EDITOR}_{table}",
                                           disabled=locked, hide_index=True)
            ui.downloads_row(part, key=f"q_{table}", name=f"quarantine-{table}-upload-{up_id}")
        if st.button("Re-submit corrected rows", key=state.Q_RESUBMIT, type="primary", disabled=not edited):
            summary, report = data.resubmit_rows(ctx, int(up_id), edited, user=user.name)
            st.session_state[state.Q_MESSAGE] = (summary, report)
            st.rerun()
    message = st.session_state.pop(state.Q_MESSAGE, None)
    if message:
        st.success("Re-submitted.")
        ui.table(message[0], key="q_summary", name="resubmission")
        if len(message[1]):
            st.warning("Some rows still have problems:")
            st.dataframe(message[1], hide_index=True, key="q_report")

# ----------------------------------------------------------------------------- history and rollback
with tab_h, ui.section("Upload history"):
    hist = data.uploads(ctx)
    if hist.empty:
        st.info("Nothing has been uploaded yet.")
    else:
        first = ["upload_id", "provider", "uploaded_at", "file_name", "user_name", "status", "rows_accepted",
                 "rows_quarantined"]
        hist = hist[[c for c in first if c in hist] + [c for c in hist.columns if c not in first]]
        ui.table(hist, key="h_table", name="upload-history")
        st.subheader("Undo an upload")
        st.caption("Rolling back restores the data exactly as they were before that upload. Only a provider's "
                   "newest upload can be rolled back (undo newest first).")
        live = hist[hist["status"] != "rolled_back"]
        if len(live):
            rid = st.selectbox("Upload to roll back", live["upload_id"].astype(int).tolist(), key=state.H_ROLLBACK_ID,
                               format_func=lambda i: f"upload {i} ({live.loc[live['upload_id'] == i, 'file_name'].iloc[0]}"
                                                     f", {live.loc[live['upload_id'] == i, 'provider'].iloc[0]})")
            sure = st.checkbox("I understand this removes the rows this upload added and restores what it changed",
                               key=state.H_ROLLBACK_CONFIRM)
            if st.button("Roll back", key=state.H_ROLLBACK, disabled=not sure):
                try:
                    st.session_state[state.H_MESSAGE] = ("ok", data.rollback(ctx, int(rid)))
                except Exception as exc:  # noqa: BLE001 - shown to the user
                    from evalkit.errors import EvalkitError

                    if not isinstance(exc, EvalkitError | ValueError):
                        raise
                    st.session_state[state.H_MESSAGE] = ("error", str(exc))
                st.rerun()
    msg = st.session_state.pop(state.H_MESSAGE, None)
    if msg:
        (st.success if msg[0] == "ok" else st.error)(msg[1])

# ----------------------------------------------------------------------------- templates
with tab_t, ui.section("Templates"):
    st.write("Start from a template: the Excel workbook has a sheet per table, drop-down lists of allowed codes "
             "and an instructions sheet; the CSV version is a zip of header-only files with a README.")
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button("Excel template", data.template_bytes("xlsx"), file_name="evalkit-template.xlsx",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="t_xlsx",
                       on_click="ignore", icon=":material/download:")
    c2.download_button("CSV templates (zip)", data.template_bytes("zip"), file_name="evalkit-template.zip",
                       mime="application/zip", key="t_zip", on_click="ignore", icon=":material/download:")
