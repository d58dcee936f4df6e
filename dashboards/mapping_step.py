"""Upload page, mapping step: how a provider's own spreadsheet will be read, before anything is stored.

The same step as ``evalkit map``: when one spreadsheet is uploaded whose
headers are not evalkit's column names (a one-row-per-mother workbook, or a
table with the provider's own headers), the page shows the library's
:class:`~evalkit.mapping_proposal.MappingProposal` - each header and what it
becomes, the identifying columns left out and why, what could not be read,
date formats and assumptions - and the first rows as they will be stored. The
mapping can be downloaded (to reuse next month) and a saved one uploaded.
Only the **Store these rows** button reads the file with that mapping, checks
it and stores it. Everything shown comes from evalkit; this module lays it out.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, state, ui
from evalkit.errors import EvalkitError

PREVIEW_ROWS = 10


def _digest(files: list[tuple[str, bytes]]) -> str:
    h = hashlib.sha256()
    for name, body in files:
        h.update(Path(name).name.encode())
        h.update(hashlib.sha256(body).digest())
    return h.hexdigest()


def _proposal(files: list[tuple[str, bytes]], saved: Any, saved_key: str, programme: str | None) -> Any:
    """The proposal for these files (computed once per file, saved mapping and programme in this session)."""
    key = (_digest(files), saved_key, programme or "")
    cached = st.session_state.get(state.UP_MAP_PROPOSAL)
    if cached is not None and cached[0] == key:
        return cached[1]
    with st.spinner("Reading your columns ..."):
        proposal = data.upload_mapping(files, saved=saved, programme_id=programme)
    st.session_state[state.UP_MAP_PROPOSAL] = (key, proposal)
    return proposal


def _saved_mapping() -> tuple[Any, str]:
    """The mapping the user uploaded in the mapping step (from the widget's last value), and its cache key."""
    up = st.session_state.get(state.UP_MAP_FILE)
    if up is None:
        return None, ""
    body = up.getvalue()
    return data.load_saved_mapping(up.name, body), hashlib.sha256(body).hexdigest()


def show(ctx: data.Context, user: Any, files: list[Any], provider: str | None) -> bool:
    """Lay out the mapping step for the uploaded files; ``True`` when it applies (no 'Check files' then)."""
    if not files:
        return False
    uploaded = [(f.name, f.getvalue()) for f in files]
    digest = _digest(uploaded)
    done = st.session_state.get(state.UP_MAP_DONE)
    if done is not None and done[0] == digest:
        _stored(done[1])
        return True
    try:
        saved, saved_key = _saved_mapping()
    except ValueError as exc:
        st.error(f"The saved mapping could not be used: {exc}", icon=":material/error:")
        saved, saved_key = None, ""
    programme_key = f"{state.UP_MAP_PROGRAMME}_{digest[:16]}"  # a choice made for this file only
    programme = st.session_state.get(programme_key) or None
    try:
        proposal = _proposal(uploaded, saved, saved_key, programme)
    except (EvalkitError, ValueError) as exc:
        if saved is None:
            raise
        st.error(f"The saved mapping does not fit this file: {exc}", icon=":material/error:")
        proposal = _proposal(uploaded, None, "", programme)
    if proposal is None:
        return False
    for stale in (state.UP_RESULT, state.UP_STORED, state.UP_MAP_DONE):  # about other files: no longer apply
        st.session_state.pop(stale, None)
    name = Path(uploaded[0][0]).name
    st.subheader("Check how your columns will be read")
    st.markdown(f"The columns of **{name}** are not named as evalkit's tables, so this is how evalkit proposes "
                "to read it (the same step as `evalkit map`). Check it, and look at the preview below. "
                "**Nothing is stored until you press Store these rows.**")
    _mapping_files(proposal, name)
    _programme(ctx, proposal, programme, programme_key)
    _layout(proposal)
    _columns(proposal)
    preview = data.mapping_preview(ctx, proposal, provider=provider, n=PREVIEW_ROWS)
    _preview(preview, provider)
    _store(ctx, user, uploaded, proposal, provider, digest)
    return True


def _mapping_files(proposal: Any, name: str) -> None:
    c1, c2 = st.columns([3, 2])
    c1.file_uploader("Use a mapping you saved last time (optional)", type=["json"], key=state.UP_MAP_FILE,
                     help="The JSON file downloaded here (or saved by 'evalkit map -o'). Its choices are kept; "
                          "only new headers and values are proposed.")
    c2.download_button("Download this mapping (JSON)", data.mapping_json(proposal),
                       file_name=f"{Path(name).stem}-mapping.json", mime="application/json", key="up_map_json",
                       on_click="ignore", icon=":material/download:",
                       help="Keep it, and upload it with next month's file to read it the same way.")


def _programme(ctx: data.Context, proposal: Any, chosen: str | None, key: str) -> None:
    """A programme for every row, when the file does not say which programme its rows belong to."""
    if "programme_id" not in proposal.missing_required and not chosen:
        return
    progs = data.programmes(ctx)
    ids = sorted(progs["programme_id"].dropna().astype(str).unique())
    names = dict(zip(progs["programme_id"].astype(str), progs["name"].astype(str), strict=False)) \
        if "name" in progs.columns else {}
    st.selectbox("Programme of every row", [None, *ids], key=key,
                 format_func=lambda p: "(choose the programme)" if p is None else f"{p} ({names.get(p, '')})",
                 help="The file has no programme column and its sheets are not named by programme.")


def _layout(proposal: Any) -> None:
    if proposal.layout == "wide":
        st.markdown("**Layout:** one row per mother, with questionnaire totals side by side. It is stored as "
                    "participants and their questionnaire scores.")
    else:
        st.markdown(f"**Layout:** one row per record of the **{proposal.table}** table.")
    if proposal.programme_source:
        st.caption(f"Programme: {proposal.programme_source}")
    if not proposal.ok:
        st.error("Not ready: required column(s) not mapped: " + ", ".join(proposal.missing_required)
                 + ". Edit the downloaded mapping to name them and upload it here, or fix the file.",
                 icon=":material/block:")


def _columns(proposal: Any) -> None:
    st.markdown("**How each column will be read**")
    st.dataframe(proposal.columns, hide_index=True, key="up_map_columns")
    if proposal.identifying_columns:
        st.markdown("**Identifying columns left out (never stored)**")
        st.dataframe(pd.DataFrame({"header": list(proposal.identifying_columns),
                                   "why": list(proposal.identifying_columns.values())}),
                     hide_index=True, key="up_map_identifying")
    if proposal.unmapped_headers:
        st.markdown("**Columns not read**")
        st.dataframe(pd.DataFrame({"header": list(proposal.unmapped_headers)}), hide_index=True,
                     key="up_map_unmapped_headers")
    if proposal.unmapped_values:
        st.warning("Some values match no code (or several), so they are not guessed: add them to \"values\" in "
                   "the mapping, or they will be reported as errors.", icon=":material/warning:")
        st.dataframe(pd.DataFrame({"column": list(proposal.unmapped_values),
                                   "values not recognised": [", ".join(v) for v in
                                                             proposal.unmapped_values.values()]}),
                     hide_index=True, key="up_map_unmapped_values")
    if proposal.date_formats:
        st.markdown("**Dates**")
        st.dataframe(pd.DataFrame({"header": list(proposal.date_formats),
                                   "format": [f.format for f in proposal.date_formats.values()],
                                   "status": [f.status for f in proposal.date_formats.values()],
                                   "evidence": [f.evidence for f in proposal.date_formats.values()]}),
                     hide_index=True, key="up_map_dates")
        if proposal.ambiguous_dates:
            st.warning("Check these date columns; their dates read two ways: " + ", ".join(proposal.ambiguous_dates),
                       icon=":material/warning:")
    if proposal.assumptions:
        st.markdown("**Assumptions** (printed with every report that uses these data)")
        st.markdown("\n".join(f"- {a}" for a in proposal.assumptions))
    if proposal.notes:
        with st.expander("What else was found in the file"):
            st.markdown("\n".join(f"- {n.removeprefix('layout: ')}" for n in proposal.notes))


def _preview(preview: dict[str, pd.DataFrame], provider: str | None) -> None:
    st.markdown(f"**Preview: the first {PREVIEW_ROWS} rows of each sheet as they will be stored**")
    st.caption("Participant ids are replaced by pseudonyms" + (" (the ones that will be stored)." if provider else
               "; each programme's own provider's pseudonyms are made when the rows are stored."))
    for table, frame in preview.items():
        st.markdown(f"*{table}*")
        st.dataframe(frame, hide_index=True, key=f"up_map_preview_{table}")


def _store(ctx: data.Context, user: Any, uploaded: list[tuple[str, bytes]], proposal: Any, provider: str | None,
           digest: str) -> None:
    if not st.button("Store these rows", key=state.UP_MAP_STORE, type="primary", disabled=not proposal.ok,
                     help="Read the whole file with this mapping, check it and store it. Rows with errors are kept "
                          "aside to correct (tab 'Rows to correct')."):
        return
    def work(progress: Callable[[float, str], None]) -> None:
        checked = data.check_upload(ctx, uploaded, provider=provider, mapping=proposal.mapping,
                                    progress=lambda x, msg: progress(min(max(x, 0.0), 1.0) / 2, msg))
        stored = data.store_upload(ctx, checked, user=getattr(user, "name", None),
                                   progress=lambda x, msg: progress(0.5 + min(max(x, 0.0), 1.0) / 2, msg))
        st.session_state[state.UP_STORED] = stored
        st.session_state[state.UP_MAP_DONE] = (digest, checked.report)
        st.session_state.pop(state.UP_MAP_PROPOSAL, None)

    ui.storing("Reading with this mapping", work)


def _stored(report: pd.DataFrame) -> None:
    st.success("This file was stored with its mapping. Upload another file to map it, or see the Upload history "
               "tab.", icon=":material/check_circle:")
    if len(report):
        n_err = int((report["severity"] == "error").sum())
        if n_err:
            st.warning(f"{n_err:,} problem(s) kept rows aside to correct (tab 'Rows to correct').",
                       icon=":material/warning:")
        st.markdown("**Problems, row by row**")
        st.caption("Rows are numbered as in your spreadsheet (the header is row 1).")
        st.dataframe(report, hide_index=True, key="up_map_report")
