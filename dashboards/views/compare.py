"""Compare programmes: forest and funnel plots, subgroups and meta-regression, from the database or summary files."""

import streamlit as st

from dashboards import data, pages, state, ui
from evalkit import charts

ctx = pages.context()
ui.header("compare", "Compare programmes")

MEASURES = {
    "smcr": "Standardised change (effect size)",
    "mean_change": "Mean change in score points",
    "recovery": "Reliable recovery rate",
    "reliable_improvement": "Reliable improvement rate",
    "take_up": "Take-up rate",
}
BY = ("format", "mode", "delivered_by", "facilitation", "region")

source = st.radio("Compare", ["This database", "Summary files"], key=state.CP_SOURCE, horizontal=True)
files = None
if source == "Summary files":
    uploaded = st.file_uploader("Summary files (evalkit aggregate summaries, JSON)", type=["json"],
                                accept_multiple_files=True, key=state.CP_FILES)
    if not uploaded:
        st.info("Upload summary files that programmes made with evalkit (`evalkit summary ...`). They hold "
                "aggregate, disclosure-controlled figures only, never individual rows.")
        st.stop()
    files = [(f.name, f.getvalue()) for f in uploaded]

c1, c2, c3 = st.columns(3)
instruments = data.instrument_options()
instrument = c1.selectbox("Questionnaire", list(instruments), key=state.CP_INSTRUMENT, format_func=str.upper,
                          index=list(instruments).index("epds") if "epds" in instruments else 0)
measure = c2.selectbox("Measure", list(MEASURES), key=state.CP_MEASURE, format_func=MEASURES.get)
by = c3.multiselect("Subgroups by", BY, key=state.CP_MODERATOR, format_func=lambda b: b.replace("_", " "))
options = {"instrument": instrument, "measure": measure, "by": list(by) or None}
st.caption("Effects are shown as improvement: a bigger number is better, whatever the questionnaire.")

if files is None and ctx.individual and data.programmes(ctx).empty:
    ui.empty_note("programmes")  # nothing stored yet (or none visible): not a fault to report
    st.stop()

with ui.section("Programme comparison"):
    comp = (data.comparison_from_store(ctx, **options) if files is None
            else data.comparison_from_files(files, **options))
    for note in comp.notes:
        st.caption(note)
    per = comp.per_programme
    pooled = comp.pooled.iloc[0].to_dict() if len(comp.pooled) else None
    st.subheader("Forest plot")
    shown = per[per["included"].fillna(False).astype(bool)]
    if shown.empty:
        ui.empty_note("programme figures")
    else:
        ok = pooled is not None and not any(ui.is_missing(pooled.get(k)) for k in ("estimate", "ci_low", "ci_high"))
        fig = ui.figure(charts.forest_plot, shown, weight="weight", pooled=pooled if ok else None,
                                 x_title=MEASURES[measure] + " (95% CI)")
        ui.chart(fig, per, key="cp_forest", name="comparison-per-programme")
        if pooled is not None:
            k = int(pooled.get("k") or 0)
            programmes = f"{k} programme{'' if k == 1 else 's'}"
            if ok:  # the pooled row holds figures across programmes, never hidden cells: missing means not computed
                i2 = pooled.get("i2")
                st.markdown(f"**Pooled:** {ui.fmt(pooled['estimate'], 2)} (95% CI {ui.fmt(pooled['ci_low'], 2)} to "
                            f"{ui.fmt(pooled['ci_high'], 2)}), {programmes}; I² = "
                            + (f"{ui.fmt(i2, 0)}%." if not ui.is_missing(i2) else f"{ui.fmt(i2)} (not computed)."))
            else:
                why = str(pooled.get("message") or "").strip() or "needs at least 2 programmes"
                st.markdown(f"**Pooled:** {ui.fmt(None)} (not computed: {why}), {programmes}.")
        ui.table(comp.pooled, key="cp_pooled", name="comparison-pooled")
    ui.explain("forest")
    ui.explain("pooled")
    ui.explain("heterogeneity")

    st.subheader("Funnel plot")
    funnel = comp.funnel
    if funnel.empty:
        st.caption("A funnel plot needs at least two programmes with figures.")
    else:
        limits = funnel[["precision", "lower_0.95", "upper_0.95", "lower_0.998", "upper_0.998"]].sort_values(
            "precision")
        fig = ui.figure(charts.funnel_plot, funnel, size="precision", value="value", limits=limits, limit_size="precision",
                                 limit_columns=("lower_0.95", "upper_0.95", "lower_0.998", "upper_0.998"),
                                 target=float(funnel["target"].iloc[0]), flag="flag", y_title=MEASURES[measure],
                                 x_title="Number of mothers (n)" if measure in ("recovery", "reliable_improvement",
                                                                               "take_up")
                                 else "Precision (1 / sampling variance): bigger programmes to the right")
        ui.chart(fig, funnel, key="cp_funnel", name="comparison-funnel")
    ui.explain("funnel")

    if by:
        st.subheader("Subgroups and moderators")
        ui.table(comp.subgroups, key="cp_subgroups", name="comparison-subgroups")
        ui.explain("subgroup")
        ui.table(comp.moderator_test, key="cp_moderators", name="comparison-moderators")
        ui.explain("meta_regression")
    st.caption(comp.direction)
