"""Engagement: take-up funnel with reasons, attendance, gaps, endings and group head counts."""

import streamlit as st

from dashboards import data, pages, sections, state, ui
from evalkit import charts
from evalkit.disclosure import hidden_mask
from evalkit.engagement import ENDING_GROUP_WORDS, EXIT_STEP_WORDS, exit_reason_words

ctx = pages.context()
ui.header("engagement", "Engagement")
ui.rules_note(ctx)

progs = data.programmes(ctx)
chosen = data.selected_programmes(ctx)
ids = [p for p in progs["programme_id"].astype(str) if chosen is None or p in chosen]
if not ids:
    ui.empty_note("programmes")
    st.stop()
names = dict(zip(progs["programme_id"].astype(str), progs["name"].astype(str), strict=True))
pid = st.selectbox("Programme", ids, key=state.EN_PROGRAMME, format_func=lambda p: f"{p} - {names.get(p, '')}")

with ui.section("Take-up funnel"):
    st.subheader("From referral to support")
    funnel = sections.rows_for(data.funnel_tables(ctx).funnel, programme_id=pid)
    if funnel.empty:
        ui.empty_note("referrals")
    else:
        shown = funnel.assign(label=funnel["description"].astype(str))
        fig = ui.figure(charts.funnel_chart, shown, step="label", count="n")
        ui.chart(fig, funnel, key="en_funnel", name=f"take-up-funnel-{pid}")
        st.caption("Each step counts mothers who reached it and every step before; percentages and their 95% "
                   "intervals are in the table under the chart.")
    ui.explain("take_up")

with ui.section("Reasons for leaving"):
    st.subheader("Why mothers did not go on")
    exits = sections.rows_for(data.funnel_tables(ctx).exits, programme_id=pid)
    if exits.empty:
        ui.empty_note("reasons")
    else:
        reasons = exits[~exits["is_total"].astype(bool)] if "is_total" in exits else exits
        left = reasons["step"].astype(str).map(EXIT_STEP_WORDS).fillna(reasons["step"].astype(str))
        shown = reasons.assign(reason_words=left + ": " + exit_reason_words(reasons["reason"]))
        fig = ui.figure(charts.bar_chart, shown, x="reason_words", y="n", horizontal=True, x_title="",
                        y_title="Number of mothers", sort=list(shown["reason_words"]), height=24 * len(shown) + 40)
        ui.chart(fig, exits, key="en_exits", name=f"funnel-exits-{pid}")
    ui.explain("declined")

with ui.section("Attendance"):
    st.subheader("How often mothers came")
    att = sections.rows_for(data.as_frame(data.derived(ctx, "evalkit.engagement.attendance_summary",
                                                       source="tables")), programme_id=pid)
    if att.empty:
        ui.empty_note("attendance")
    else:
        r = att.iloc[0]
        c1, c2, c3, c4 = st.columns(4)
        with c1:
            ui.metric("Mothers who attended", ui.cell(r, "n_attended"), digits=0, term="attended")
        with c2:
            ui.metric("Median contacts each", ui.cell(r, "contacts_median"), digits=1)
            st.caption(f"Middle half: {ui.fmt(ui.cell(r, 'contacts_q1'))} to {ui.fmt(ui.cell(r, 'contacts_q3'))}")
        with c3:
            ui.metric("Median gap (days)", ui.cell(r, "gap_days_median"), digits=0, term="gap")
            st.caption(f"Middle half: {ui.fmt(ui.cell(r, 'gap_days_q1'), 0)} to {ui.fmt(ui.cell(r, 'gap_days_q3'), 0)} days")
        with c4:
            ui.metric("Did not attend", ui.cell(r, "pct_dna"), unit="%", digits=0, term="did_not_attend",
                      ci=(ui.cell(r, "pct_dna_ci_low"), ui.cell(r, "pct_dna_ci_high")),
                      n=ui.cell(r, "n_contacts_dna"), of=ui.cell(r, "n_contacts_booked"))
        bands = [("1", "n_dose_1"), ("2-3", "n_dose_2_3"), ("4-7", "n_dose_4_7"), ("8 or more", "n_dose_8_plus")]
        dist = sections.stack_columns(att, bands, label="contacts attended", value="n")
        if not dist.empty:
            fig = ui.figure(charts.distribution_chart, dist, value="contacts attended", count="n",
                                            x_title="Contacts attended")
            ui.chart(fig, att, key="en_attendance", name=f"attendance-{pid}")

with ui.section("Endings"):
    st.subheader("How support ended")
    ends = sections.rows_for(data.as_frame(data.derived(ctx, "evalkit.engagement.endings_summary", source="path")),
                             programme_id=pid)
    if ends.empty:
        ui.empty_note("endings")
    else:
        cats = ends[~ends["is_total"].astype(bool)] if "is_total" in ends else ends
        cats = cats.assign(ending=cats["ending_group"].astype(str).map(ENDING_GROUP_WORDS)
                           .fillna(cats["ending_group"].astype(str)))
        fig = ui.figure(charts.estimate_chart, cats, label="ending", estimate="pct", lower="pct_ci_low",
                                    upper="pct_ci_high", n="n", reference=None,
                                    x_title="Percent of mothers who attended (95% CI)")
        ui.chart(fig, ends, key="en_endings", name=f"endings-{pid}")
    ui.explain("ending")
    ui.explain("planned_ending")

with ui.section("Group head counts"):
    st.subheader("Who was in the room")
    heads = sections.rows_for(data.as_frame(data.derived(ctx, "evalkit.engagement.head_counts", source="tables")),
                              programme_id=pid)
    if heads.empty:
        st.caption("This programme records no group sessions.")
    else:
        r = heads.iloc[0]
        c1, c2, c3 = st.columns(3)
        with c1:
            ui.metric("Group sessions", ui.cell(r, "n_sessions"), digits=0)
        with c2:
            ui.metric("Head count, all sessions", ui.cell(r, "total_head_count"), digits=0, term="head_count")
        with c3:
            ui.metric("Named on the register", ui.cell(r, "pct_named"), unit="%", digits=0, n=ui.cell(r, "total_named"),
                      of=ui.cell(r, "total_head_count"))
        sessions = sections.rows_for(data.as_frame(data.derived(ctx, "evalkit.engagement.head_counts",
                                                                source="tables", per_session=True)),
                                     programme_id=pid)
        if not sessions.empty:
            long = sections.stack_columns(sessions, [("everyone in the room", "head_count"),
                                                     ("named on the register", "n_named")],
                                          label="count", value="n", keep=["session_date"])
            fig = ui.figure(charts.trajectory_chart, long, x="session_date", y="n", lower=None, upper=None, colour="count",
                                          n=None, x_title="Session", y_title="Mothers", temporal=True)
            n_hidden = int(hidden_mask(sessions, "head_count").sum())
            caption = (f"The head counts of {n_hidden:,} of {len(sessions):,} sessions are hidden ([c]) by "
                       "small-number control and not drawn, so the sessions drawn lean to the larger ones. The "
                       "totals above count every session." if n_hidden else None)
            ui.chart(fig, sessions, key="en_sessions", name=f"group-sessions-{pid}", caption=caption)
        ui.table(heads, key="en_heads", name=f"head-counts-{pid}")
