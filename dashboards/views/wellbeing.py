"""Wellbeing and recovery: WEMWBS/SWEMWBS and QPR change, and recovery 'from' versus 'within'."""

import streamlit as st

from dashboards import data, pages, sections, ui
from evalkit import charts

ctx = pages.context()
ui.header("wellbeing", "Wellbeing and recovery")
ui.rules_note(ctx)

with ui.section("Recovery from and recovery within"):
    st.subheader("Recovery from symptoms, and recovery within them")
    ui.explain("recovery_from")
    ui.explain("recovery_within")
    table = data.as_frame(data.analysis(ctx, "evalkit.recovery.recovery_from_within"))
    if table is None or table.empty:
        ui.empty_note("recovery figures")
    else:
        ui.table(table, key="wb_recovery", name="recovery-from-within")

code = sections.pick_instrument(ctx, roles=("wellbeing", "recovery"), key="ek_wb_instrument")
if code is None:
    st.stop()
inst = data.instrument(code)

with ui.section("Each mother's change"):
    st.subheader("Each mother's change")
    paired = sections.paired_episodes(ctx, code)
    if paired.empty:
        ui.empty_note(f"paired {code.upper()} scores")
    else:
        threshold = sections.first_value(paired, "rc_threshold")
        cutoff = inst.default_cutoff.value if inst.default_cutoff else None
        fig = charts.jacobson_plot(paired, threshold=threshold, cutoff=cutoff, score_range=inst.score_range,
                                   higher_is_better=inst.higher_is_better, tooltip=["programme_id"])
        ui.chart(fig, paired[sections.episode_columns(paired)], key="wb_jacobson", name=f"{code}-paired-episodes")
        ui.explain("jacobson")
        ui.explain("meaningful_improvement")

sections.outcome_sections(ctx, code, prefix="wb")
