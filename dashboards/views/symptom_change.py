"""Symptom change: per questionnaire, the Jacobson plot, categories, mean change, trajectories and dose."""

import streamlit as st

from dashboards import data, pages, sections, ui
from evalkit import charts

ctx = pages.context()
ui.header("symptom_change", "Symptom change")
code = sections.pick_instrument(ctx, roles=("symptom",), key="ek_sc_instrument")
if code is None:
    st.stop()
inst = data.instrument(code)
ui.rules_note(ctx)

with ui.section("Each mother's change (Jacobson plot)"):
    st.subheader("Each mother's change")
    paired = sections.paired_episodes(ctx, code)
    if paired.empty:
        ui.empty_note(f"paired {code.upper()} scores")
    else:
        threshold = sections.first_value(paired, "rc_threshold")
        cutoff = inst.default_cutoff.value if inst.default_cutoff else None
        fig = charts.jacobson_plot(paired, threshold=threshold, cutoff=cutoff, score_range=inst.score_range,
                                   higher_is_better=inst.higher_is_better, tooltip=["programme_id"])
        ui.chart(fig, paired[sections.episode_columns(paired)], key="sc_jacobson", name=f"{code}-paired-episodes")
        ui.explain("jacobson")
        ui.explain("reliable_improvement")

sections.outcome_sections(ctx, code, prefix="sc")
