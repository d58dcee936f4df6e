"""Wellbeing and recovery: WEMWBS/SWEMWBS and QPR change, and recovery 'from' versus 'within'."""

from typing import Any

import pandas as pd
import streamlit as st

from dashboards import data, pages, sections, state, ui
from evalkit import charts


def recovery_figure(rec: pd.DataFrame) -> tuple[Any, ui.Shown] | None:
    """The chart of recovery from and within by category, and the whole table made ready to show beneath it
    (kept per outcome result); ``None`` when no mother has both kinds of measure."""
    cats = rec[~rec["is_total"].astype(bool)] if "is_total" in rec else rec
    cats = cats.assign(category=cats["category"].astype(str).map(lambda c: sections.RECOVERY_WORDS.get(c, c)))
    if cats.empty:
        return None
    return (charts.estimate_chart(cats, label="category", estimate="pct", lower="pct_ci_low", upper="pct_ci_high",
                                  colour="programme_id", n="n", reference=None,
                                  x_title="Percent of mothers above the cut-off at the start (95% CI)"),
            ui.shown(rec))


ctx = pages.context()
ui.header("wellbeing", "Wellbeing and recovery")
ui.rules_note(ctx)

with ui.section("Recovery from and recovery within"):
    st.subheader("Recovery from symptoms, and recovery within them")
    ui.explain("recovery_from")
    ui.explain("recovery_within")
    res = data.outcomes(ctx)
    drawn = ui.kept(("recovery from and within", data.result_key(ctx)), lambda: recovery_figure(res.recovery))
    if drawn is None:
        ui.empty_note("mothers with both a symptom and a wellbeing or recovery measure")
    else:
        ui.chart(*drawn, key="wb_recovery", name="recovery-from-within")
        st.caption("Of mothers above a symptom cut-off at the start with a paired symptom and a paired wellbeing or "
                   "recovery questionnaire. 'both': recovered from symptoms and reliably better in wellbeing; "
                   "'recovery within': wellbeing or recovery reliably better while symptoms stayed above the "
                   "cut-off; 'reliably worse': a reliable deterioration on any measure.")

code = sections.pick_instrument(ctx, roles=("wellbeing", "recovery"), key=state.WB_INSTRUMENT)
if code is None:
    st.stop()
sections.jacobson(ctx, code, prefix="wb")
sections.outcome_sections(ctx, code, prefix="wb")
