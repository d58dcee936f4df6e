"""Safety: the provider-only list of self-harm item flags and reliable deteriorations, for follow-up."""

import numpy as np
import streamlit as st

from dashboards import data, pages, ui

SIGNALS = (("self_harm_item", "Self-harm item answered"), ("reliable_deterioration", "Reliable deterioration"))

ctx = pages.context()
ui.header("safety", "Safety follow-up")

with ui.section("Safety list"):
    flags = data.as_frame(data.safety_list(ctx))
    if flags is None or flags.empty:
        st.success("Nobody needs a follow-up under these rules.")
    else:
        st.warning("These mothers' answers need a follow-up under your safeguarding procedure. Ids are "
                   "pseudonyms: look them up in your own records. This list is never exported in reports or "
                   "summaries.", icon=":material/health_and_safety:")
        # the rows' positions, not the rows: a long list is drawn a page at a time (ui.paged_table)
        of_signal = {signal: flags["signal"].eq(signal).to_numpy(dtype=bool, na_value=False) for signal, _ in SIGNALS}
        programme = None
        if max(int(m.sum()) for m in of_signal.values()) > ui.PAGE_ROWS:  # a long list: a programme at a time
            progs = sorted(str(p) for p in flags["programme_id"].dropna().unique())
            if len(progs) > 1:
                programme = st.selectbox("Programme", [None, *progs], key="sf_programme",
                                         format_func=lambda p: "Every programme" if p is None else p,
                                         help="Narrows both tables below, and their downloads, to one programme.")
        in_programme = (True if programme is None
                        else flags["programme_id"].eq(programme).to_numpy(dtype=bool, na_value=False))
        for signal, label in SIGNALS:
            rows = np.flatnonzero(of_signal[signal] & in_programme)
            st.subheader(label)
            if not len(rows):
                st.caption("None.")
            else:
                # the answer as given is filled only where it differs from the scored value: shown only then
                drop = [c for c in ("item_as_given",) if c in flags and flags[c].iloc[rows].isna().all()]
                ui.paged_table(flags.drop(columns=drop), rows=rows, key=f"sf_{signal}",
                               name=f"safety-{signal}" if programme is None else f"safety-{signal}-{programme}",
                               order="rows are in the library's order, by programme, mother and date, not by "
                                     "urgency")
    ui.explain("self_harm_flag")
    ui.explain("reliable_deterioration")
