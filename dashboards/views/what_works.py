"""What works for whom: the experience measure's mechanism profile, quality signals, ending distress,
the provider's conversation list and the exploratory context-mechanism-outcome tables."""

import warnings

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import data, pages, ui
from evalkit.charts import OKABE_ITO

VALENCE_COLOURS = {"negative": OKABE_ITO[4], "ending": OKABE_ITO[0], "positive": OKABE_ITO[3]}
"""Okabe-Ito vermillion for what can go wrong, orange for ending worry, blue for what helps (colour-blind safe)."""
VALENCE_WORDS = {"negative": "What can go wrong", "ending": "Worry about ending", "positive": "What helps"}


def _explanations() -> dict[str, str]:
    try:
        return dict(data.library("evalkit.mechanisms.EXPLANATIONS"))  # type: ignore[arg-type]
    except data.LibraryMissing:
        return {}


def _quiet(fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """Call a library function; approximation warnings become a note on the page, not an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = fn(*args, **kwargs)
    for w in caught:
        st.caption(f":material/info: {w.message}")
    return out


def _shown(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns people read (plus ``suppressed``, which marks hidden cells [c]), decimals rounded."""
    keep = [c for c in dict.fromkeys([*columns, "suppressed"]) if c in frame.columns]
    out = frame[keep].copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c].dtype):
            out[c] = out[c].round(3)
    out.attrs = dict(frame.attrs)
    return out


PROFILE_COLUMNS = ["instrument", "item", "statement", "mechanism", "valence", "n_answered", "n_endorsed", "share",
                   "ci_low", "ci_high"]
SIGNAL_COLUMNS = ["measure", "mechanism_theme", "n_responses", "n_endorsed", "share", "ci_low", "ci_high", "signal"]
CMO_COLUMNS = ["experience_instrument", "label", "effect", "effect_ci_low", "effect_ci_high", "effect_scale",
               "p_value", "n", "n_events", "status", "exploratory"]


def _profile_chart(frame: pd.DataFrame, group_col: str, group: str) -> alt.Chart:
    rows = frame[(frame[group_col].astype(str) == group) & frame["share"].notna()].copy()
    rows["statement_shown"] = rows["statement"].where(rows["statement"].astype("string").str.len() > 0,
                                                      rows["mechanism"]).astype(str)
    rows["what"] = rows["valence"].map(VALENCE_WORDS)
    rows["order"] = range(len(rows))
    order = rows.sort_values("order")["statement_shown"].tolist()
    colours = alt.Scale(domain=list(VALENCE_WORDS.values()), range=[VALENCE_COLOURS[k] for k in VALENCE_WORDS])
    y = alt.Y("statement_shown:N", sort=order, title=None,
              axis=alt.Axis(labelLimit=460, labelOverlap=False, labelFontSize=12))
    base = alt.Chart(rows)
    bars = base.mark_bar().encode(
        x=alt.X("share:Q", title="Share who agreed (3-4)", scale=alt.Scale(domain=[0, 1]), axis=alt.Axis(format="%")),
        y=y, color=alt.Color("what:N", scale=colours, title=None, legend=alt.Legend(orient="top")),
        tooltip=[alt.Tooltip("statement_shown:N", title="Statement"), alt.Tooltip("share:Q", format=".0%"),
                 alt.Tooltip("ci_low:Q", format=".0%", title="95% CI from"),
                 alt.Tooltip("ci_high:Q", format=".0%", title="95% CI to"), alt.Tooltip("n_answered:Q", title="n")],
    )
    errors = base.mark_rule(color="#000000").encode(x="ci_low:Q", x2="ci_high:Q", y=y)
    return (bars + errors).properties(height=alt.Step(24), width="container")


ctx = pages.context()
ui.header("what_works", "What works for whom")
text = _explanations()
st.info("The peer-support experience measure is new and not yet validated. Read these figures as a way to start "
        "conversations in the team, not as scores. Statements about **what can go wrong come first**.",
        icon=":material/psychology:")

with ui.section("Mechanism profile"):
    st.subheader("What mothers said about their support")
    by = st.radio("Compare", ["programme", "format"], horizontal=True, key="ek_ww_by",
                  format_func=lambda b: {"programme": "by programme", "format": "by format offered"}[b])
    group_col = "programme_id" if by == "programme" else "format"
    profile = data.as_frame(data.analysis(ctx, "evalkit.mechanisms.mechanism_profile", by=[group_col]))
    if profile is None or profile.empty:
        ui.empty_note("experience questionnaires")
    else:
        groups = sorted(profile[group_col].astype(str).unique())
        chosen = st.selectbox("Show the chart for", groups, key="ek_ww_group")
        shown = _shown(profile, [group_col, *PROFILE_COLUMNS])
        ui.chart(ui.figure(_profile_chart, profile, group_col, chosen), shown[shown[group_col].astype(str) == chosen],
                 key="ww_profile", name=f"mechanism-profile-{chosen}",
                 caption="Bars: share who agreed or strongly agreed; black lines: 95% confidence intervals. "
                         "Vermillion: what can go wrong; orange: worry about ending; blue: what helps.")
        ui.table(shown, key="ww_profile_all", name=f"mechanism-profile-by-{by}")
        if profile.attrs.get("disclosure"):
            st.caption(profile.attrs["disclosure"])
    st.caption(text.get("profile", ""))

with ui.section("Quality signals"):
    st.subheader("Where negative experiences rise")
    c1, c2 = st.columns(2)
    level = c1.slider("Flag when the share is above", 0.05, 0.75, 0.25, 0.05, key="ek_ww_level")
    period = c2.radio("Per", ["period", "group_session_id"], horizontal=True, key="ek_ww_period",
                      format_func=lambda p: {"period": "month", "group_session_id": "group session"}[p])
    signals = data.as_frame(data.analysis(ctx, "evalkit.mechanisms.quality_signals", level=level,
                                          by=["programme_id", period]))
    if signals is None or signals.empty:
        ui.empty_note("experience questionnaires")
    else:
        flagged = int((signals["signal"].astype("string") == "above level").sum())
        possible = int((signals["signal"].astype("string") == "may be above level").sum())
        if flagged:
            st.warning(f"{flagged} clear signal(s) above {level:.0%}, and {possible} possible one(s). Look at them "
                       "with the facilitators and volunteers.", icon=":material/flag:")
        elif possible:
            st.info(f"No clear signal; {possible} possible one(s) above {level:.0%}.", icon=":material/info:")
        else:
            st.success(f"No month or group above {level:.0%}.")
        ui.table(_shown(signals, ["programme_id", period, *SIGNAL_COLUMNS]), key="ww_signals",
                 name="quality-signals")
    st.caption(text.get("signals", ""))

with ui.section("Worry about support ending"):
    st.subheader("Endings: planned and unplanned")
    ending = data.as_frame(data.analysis(ctx, "evalkit.mechanisms.ending_distress"))
    if ending is None or ending.empty:
        ui.empty_note("questionnaires at ending")
    else:
        ui.table(_shown(ending, list(ending.columns)), key="ww_ending", name="ending-distress")
    st.caption(text.get("ending", ""))

if ctx.role in data.SAFETY_ROLES:
    with ui.section("Answers that need a conversation"):
        st.subheader("Answers that need a conversation")
        answers = data.conversations(ctx)
        if answers is None or answers.empty:
            st.success("No answer needs a conversation under these rules.")
        else:
            st.warning(f"{len(answers)} questionnaire(s) with a 'what can go wrong' statement or worry about ending "
                       "agreed. Ids are pseudonyms: look them up in your own records.", icon=":material/forum:")
            ui.table(answers, key="ww_conversations", name="conversations")
        st.caption(text.get("conversations", ""))

with ui.section("What goes with what (exploratory)"):
    st.subheader("Contexts, mechanisms and outcomes")
    exploratory = data.library("evalkit.mechanisms.EXPLORATORY")
    st.warning(str(exploratory), icon=":material/science:")
    take_up = data.as_frame(_quiet(data.analysis, ctx, "evalkit.mechanisms.cmo_take_up"))
    st.markdown("**Take-up and circumstances at referral**")
    if take_up is not None and not take_up.empty:
        ui.table(_shown(take_up, CMO_COLUMNS[1:]), key="ww_cmo_take_up", name="cmo-take-up")
    st.caption(text.get("take_up", ""))
    instruments = data.instrument_options(roles=("symptom", "wellbeing", "recovery"))
    code = st.selectbox("Outcome measure", list(instruments), key="ek_ww_instrument",
                        index=list(instruments).index("epds") if "epds" in instruments else 0,
                        format_func=lambda c: instruments.get(c, c))
    outcomes = data.as_frame(_quiet(data.analysis, ctx, "evalkit.mechanisms.cmo_outcomes", instrument=code))
    st.markdown(f"**Change in {instruments.get(code, code)} and mothers' experience**")
    if outcomes is None or outcomes.empty:
        ui.empty_note("experience questionnaires with paired outcome scores")
    else:
        ui.table(_shown(outcomes, CMO_COLUMNS), key="ww_cmo_outcomes", name=f"cmo-outcomes-{code}")
    st.caption(text.get("outcomes", ""))
