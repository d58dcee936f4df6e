"""For whom: every headline broken down by a chosen context field, with suppression shown as such."""

import streamlit as st

from dashboards import data, pages, sections, state, ui
from evalkit import charts

ctx = pages.context()
ui.header("for_whom", "For whom")
ui.rules_note(ctx)

WHAT = {
    "outcomes": "Change on a questionnaire",
    "take_up": "Take-up",
    "funnel": "The whole funnel",
    "recovery": "Recovery from and within",
    "endings": "Endings",
    "talking_therapies": "NHS Talking Therapies-style rates",
}
from evalkit.episodes import CONTEXT_FIELDS  # noqa: E402 - the fields offered come from the library

c1, c2 = st.columns(2)
field = c1.selectbox("Split by", CONTEXT_FIELDS, key=state.FW_FIELD, format_func=lambda f: f.replace("_", " "),
                     index=CONTEXT_FIELDS.index("perinatal_stage") if "perinatal_stage" in CONTEXT_FIELDS else 0)
what = c2.selectbox("Figure", list(WHAT), key=state.FW_WHAT, format_func=WHAT.get)
ui.explain("for_whom")
ui.explain("suppressed")

with ui.section("Breakdown"):
    table = data.as_frame(data.derived(ctx, "evalkit.for_whom.for_whom", source="result", by=field, what=what))
    if table is None or table.empty:
        ui.empty_note("figures")
        st.stop()
    if what == "outcomes":
        code = sections.pick_instrument(ctx, roles=("symptom", "wellbeing", "recovery"), key=state.FW_INSTRUMENT)
        table = sections.rows_for(table, instrument=code)
        fig = ui.figure(charts.estimate_chart, table.assign(level=table[field].astype("string").fillna("not recorded")),
                                    label="level", estimate="mean_change", colour="programme_id", n="n_paired",
                                    x_title=f"Mean change on the {str(code).upper()} (95% CI)")
    elif what == "take_up":
        fig = ui.figure(charts.estimate_chart, table.assign(level=table[field].astype("string").fillna("not recorded")),
                                    label="level", estimate="pct_took_up", lower="pct_took_up_ci_low",
                                    upper="pct_took_up_ci_high", colour="programme_id", n="n_referred",
                                    reference=None, x_title="Took up, percent of referrals (95% CI)")
    elif what in ("recovery", "endings"):
        cat = "category" if what == "recovery" else "ending_group"
        rows = table[~table["is_total"].astype(bool)]
        fig = ui.figure(charts.estimate_chart,
            rows.assign(level=rows[field].astype("string").fillna("not recorded") + " · " + rows[cat].astype(str)),
            label="level", estimate="pct", lower="pct_ci_low", upper="pct_ci_high", colour="programme_id", n="n",
            reference=None, x_title="Percent (95% CI)")
    else:
        fig = None
    if fig is not None:
        ui.chart(fig, table, key="fw_breakdown", name=f"for-whom-{what}-{field}")
        st.caption("Hidden figures are marked '[c] hidden' in the chart and [c] in the table: they rest on too few "
                   "mothers to publish, or would let a hidden one be worked out.")
    else:
        ui.table(table, key="fw_table", name=f"for-whom-{what}-{field}")
