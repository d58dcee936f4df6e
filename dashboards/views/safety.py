"""Safety: the provider-only list of self-harm item flags and reliable deteriorations, for follow-up."""

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
            part = flags[flags["signal"].astype(str) == signal]
            st.subheader(label)
            if part.empty:
                st.caption("None.")
            else:
                # the answer as given is filled only where it differs from the scored value: shown only then
                shown = part.drop(columns=[c for c in ("item_as_given",) if c in part and part[c].isna().all()])
                ui.table(shown, key=f"sf_{signal}", name=f"safety-{signal}")
    ui.explain("self_harm_flag")
    ui.explain("reliable_deterioration")
