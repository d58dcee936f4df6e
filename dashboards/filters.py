"""The sidebar: filters (programme, dates, format, instrument) and the pairing rules, shown and adjustable.

The rules widgets build an :class:`evalkit.rules.PairingRules`; its
plain-English statement is shown beneath them, so the figures on every page
can be traced to the rules that produced them. Disclosure settings
(suppression threshold) are shown but cannot be lowered here.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboards import data, state
from evalkit.rules import PairingRules

_KEEP = {"persist_state": "session"}
_DEFAULT = PairingRules()


def _iso(value: object) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None


def sidebar(url: str, base: data.Context) -> data.Context:
    """Draw the filters and rules in the sidebar; return the context the pages use."""
    with st.sidebar:
        st.subheader("Filters")
        progs = data.programmes(base)
        programmes = formats = None
        if len(progs):
            names = dict(zip(progs["programme_id"].astype(str), progs["name"].fillna("").astype(str), strict=True))
            chosen = st.multiselect(
                "Programme", options=list(names), key=state.F_PROGRAMMES, placeholder="All programmes",
                format_func=lambda p: f"{p} - {names[p]}" if names.get(p) else p, **_KEEP)
            programmes = tuple(chosen) or None
            fmts = sorted(set(progs["format"].dropna().astype(str)))
            chosen_f = st.multiselect("Format", options=fmts, key=state.F_FORMATS, placeholder="All formats",
                                      format_func=lambda f: f.replace("_", " "), **_KEEP)
            formats = tuple(chosen_f) or None
        elif base.individual:
            st.caption("No programmes stored yet.")
        start = st.date_input("Referred from", value=None, key=state.F_FROM, format="DD/MM/YYYY", **_KEEP)
        end = st.date_input("Referred up to", value=None, key=state.F_TO, format="DD/MM/YYYY", **_KEEP)
        options = data.instrument_options()
        chosen_i = st.multiselect("Questionnaire", options=list(options), key=state.F_INSTRUMENTS,
                                  placeholder="All questionnaires", format_func=lambda c: f"{c.upper()}", **_KEEP)
        rules = _rules_widgets()
    filters = data.Filters(programmes=programmes, formats=formats, instruments=tuple(chosen_i) or None,
                           date_from=_iso(start), date_to=_iso(end))
    return data.Context(url=url, scope=base.scope, filters=filters, rules=rules)


def _rules_widgets() -> PairingRules:
    with st.expander("Pairing rules", icon=":material/tune:"):
        min_dose = st.number_input("Minimum dose (attended contacts)", min_value=0, max_value=52, step=1,
                                   value=_DEFAULT.min_dose, key=state.R_MIN_DOSE, **_KEEP)
        endpoint = st.radio("Endpoint", options=["last", "window"], key=state.R_ENDPOINT, horizontal=True,
                            format_func={"last": "last score", "window": "fixed follow-up"}.get, **_KEEP)
        followup, tolerance = _DEFAULT.followup_weeks, _DEFAULT.followup_tolerance_weeks
        if endpoint == "window":
            followup = st.number_input("Follow-up (weeks after baseline)", min_value=1.0, max_value=104.0,
                                       value=_DEFAULT.followup_weeks, step=1.0, key=state.R_FOLLOWUP_WEEKS,
                                       **_KEEP)
            tolerance = st.number_input("give or take (weeks)", min_value=0.0, max_value=52.0,
                                        value=_DEFAULT.followup_tolerance_weeks, step=1.0, key=state.R_FOLLOWUP_TOL,
                                        **_KEEP)
        c1, c2 = st.columns(2)
        before = c1.number_input("Baseline: days before", min_value=0, max_value=365, step=1,
                                 value=_DEFAULT.baseline_days_before, key=state.R_BASE_BEFORE, **_KEEP)
        after = c2.number_input("days after", min_value=0, max_value=365, step=1,
                                value=_DEFAULT.baseline_days_after, key=state.R_BASE_AFTER, **_KEEP)
        min_days = st.number_input("Least days between baseline and endpoint", min_value=0, max_value=365, step=1,
                                   value=_DEFAULT.min_days_between, key=state.R_MIN_DAYS, **_KEEP)
        recovery = st.radio("Recovered from symptoms needs", options=["reliable", "any"], key=state.R_RECOVERY_FROM,
                            format_func={"reliable": "reliable improvement", "any": "crossing the cut-off"}.get,
                            **_KEEP)
        published = st.toggle("Use published reliable-change thresholds", value=_DEFAULT.use_published_threshold,
                              key=state.R_PUBLISHED, **_KEEP)
        reliability = st.radio("Reliability from", options=["instrument", "sample"], key=state.R_RELIABILITY,
                               horizontal=True, format_func={"instrument": "questionnaire file",
                                                             "sample": "this data"}.get, **_KEEP)
        try:
            rules = _DEFAULT.replace(
                min_dose=int(min_dose), endpoint_rule=endpoint, followup_weeks=float(followup),
                followup_tolerance_weeks=float(tolerance), baseline_days_before=int(before),
                baseline_days_after=int(after), min_days_between=int(min_days), recovery_from=recovery,
                use_published_threshold=bool(published), reliability_source=reliability,
            )
        except ValueError as exc:
            st.error(f"{exc}. The default rules are used instead.")
            rules = _DEFAULT
        st.caption(f"Small numbers: counts below {rules.suppression_threshold} are hidden ([c]); this cannot be "
                   "changed here.")
    with st.expander("The rules in words"):
        st.markdown("\n".join(f"- {line}" for line in rules.describe().splitlines()))
    return rules
