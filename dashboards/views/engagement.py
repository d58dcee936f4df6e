"""Engagement: take-up funnel with reasons, attendance, gaps, endings and group head counts."""

import streamlit as st

from dashboards import data, pages, ui
from evalkit import charts

ctx = pages.context()
ui.header("engagement", "Engagement")
ui.rules_note(ctx)

with ui.section("Take-up funnel"):
    st.subheader("From referral to support")
    funnel = data.as_frame(data.analysis(ctx, "evalkit.engagement.take_up_funnel"))
    if funnel is None or funnel.empty:
        ui.empty_note("referrals")
    else:
        ui.table(funnel, key="en_funnel", name="take-up-funnel")
    ui.explain("take_up")

with ui.section("Attendance"):
    st.subheader("How often mothers came")
    att = data.as_frame(data.analysis(ctx, "evalkit.engagement.attendance_summary"))
    if att is None or att.empty:
        ui.empty_note("attendance")
    else:
        ui.table(att, key="en_attendance", name="attendance")
    ui.explain("attended")
    ui.explain("gap")

with ui.section("Endings"):
    st.subheader("How support ended")
    ends = data.as_frame(data.analysis(ctx, "evalkit.engagement.endings_summary"))
    if ends is None or ends.empty:
        ui.empty_note("endings")
    else:
        ui.table(ends, key="en_endings", name="endings")
    ui.explain("ending")

with ui.section("Group head counts"):
    st.subheader("Who was in the room")
    heads = data.as_frame(data.analysis(ctx, "evalkit.engagement.head_counts"))
    if heads is None or heads.empty:
        ui.empty_note("group sessions")
    else:
        ui.table(heads, key="en_heads", name="head-counts")
    ui.explain("head_count")
del charts
