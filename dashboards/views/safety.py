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
                   "pseudonyms: look them up in your own records.", icon=":material/health_and_safety:")
        ui.table(flags, key="sf_list", name="safety-follow-up")
    ui.explain("self_harm_flag")
    ui.explain("reliable_deterioration")
