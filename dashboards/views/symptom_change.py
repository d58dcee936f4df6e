"""Symptom change: per questionnaire, the Jacobson plot, categories, mean change, dose, trajectories, models."""

import streamlit as st

from dashboards import pages, sections, state, ui

ctx = pages.context()
ui.header("symptom_change", "Symptom change")
code = sections.pick_instrument(ctx, roles=("symptom",), key=state.SC_INSTRUMENT)
if code is None:
    st.stop()
ui.rules_note(ctx)
sections.jacobson(ctx, code, prefix="sc")
sections.outcome_sections(ctx, code, prefix="sc")
