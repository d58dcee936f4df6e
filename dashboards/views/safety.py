"""Safety: the provider-only list of self-harm item flags and reliable deteriorations, for follow-up."""

import numpy as np
import streamlit as st

from dashboards import data, pages, ui

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
        for signal, label in (("self_harm_item", "Self-harm item answered"),
                              ("reliable_deterioration", "Reliable deterioration")):
            # the rows' positions, not the rows: a long list is drawn a page at a time (ui.paged_table)
            rows = np.flatnonzero(flags["signal"].eq(signal).to_numpy(dtype=bool, na_value=False))
            st.subheader(label)
            if not len(rows):
                st.caption("None.")
            else:
                # the answer as given is filled only where it differs from the scored value: shown only then
                drop = [c for c in ("item_as_given",) if c in flags and flags[c].iloc[rows].isna().all()]
                ui.paged_table(flags.drop(columns=drop), rows=rows, key=f"sf_{signal}", name=f"safety-{signal}",
                               order="rows are in the library's order, by programme, mother and date, not by "
                                     "urgency")
    ui.explain("self_harm_flag")
    ui.explain("reliable_deterioration")
