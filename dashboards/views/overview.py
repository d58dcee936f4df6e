"""Overview: per programme the headline figures, each with its n and interval."""

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboards import data, glossary, pages, sections, ui
from evalkit.recovery import RECOVERY_LABELS, RECOVERY_TERMS

ctx = pages.context()
ui.header("overview", "Overview")

if not ctx.individual:
    with ui.section("Programme summaries"):
        st.caption("Researchers see aggregate, disclosure-controlled summaries only ([c] = hidden small number).")
        summary = data.aggregate_summary(ctx)
        st.subheader("Programmes")
        ui.table(summary.programmes, key="ov_agg_programmes", name="programme-summaries")
        st.subheader("Outcomes per questionnaire")
        ui.table(summary.results, key="ov_agg_results", name="programme-results")
    st.stop()

progs = data.programmes(ctx)
if progs.empty:
    st.info("No data yet. Go to **Upload** to add your programme's files, or start the dashboard with "
            "`evalkit dashboard --example` to explore the example data.", icon=":material/upload_file:")
    st.stop()
ui.rules_note(ctx)

SYMPTOM, WELLBEING = ("symptom",), ("wellbeing", "recovery")
RECOVERY = tuple((cat, RECOVERY_LABELS[cat], RECOVERY_TERMS[cat])  # the report's words, each with its own caption
                 for cat in ("recovered_from", "both", "recovery_within"))


def programme_figures(summary: pd.DataFrame, recovery: pd.DataFrame, pids: list[str], whole: ui.Shown
                      ) -> dict[str, dict[str, Any]]:
    """Each programme's rows of the outcome summary and of recovery from and within, as the page reads them,
    and its summary rows made ready as a table (kept per outcome result: a rerun selects nothing again).

    Each table's rows are made Series once (as ``iterrows`` makes them) and its text columns compared once,
    not a selection of the whole table per programme and per kind of row."""
    masks = {pid: sections.row_mask(summary, programme_id=pid) for pid in pids}
    tables = ui.shown_parts(summary, masks, whole=whole)
    rows = summary.reset_index(drop=True).T  # column i: row i as a Series
    role = summary["role"].astype(str).to_numpy() if "role" in summary else None
    rec_rows = recovery.reset_index(drop=True).T
    rec_category = recovery["category"].astype(str).to_numpy() if "category" in recovery else None
    out = {}
    for pid in pids:
        at = np.flatnonzero(masks[pid])
        parts = {roles: [] if role is None else [rows[i] for i in at if role[i] in roles]
                 for roles in (SYMPTOM, WELLBEING)}
        rec = np.flatnonzero(sections.row_mask(recovery, programme_id=pid))
        total = [] if rec_category is None else [i for i in rec if rec_category[i] == "total"]
        categories = {}
        if len(rec) and total:
            for cat, _, _ in RECOVERY:
                found = [i for i in rec if rec_category[i] == cat]
                categories[cat] = rec_rows[found[0]] if found else None
        out[pid] = {"first": rows[at[0]] if len(at) else None, "parts": parts,
                    "total": rec_rows[total[0]] if total else None, "recovery": categories,
                    "table": tables[pid]}
    return out


with ui.section("Headline figures"):
    res = data.outcomes(ctx)
    funnel = data.take_up(ctx)
    chosen = data.selected_programmes(ctx)
    first = True  # explanations under the first programme's figures; the others have them on hover
    shown = [(str(prog["programme_id"]), prog) for _, prog in progs.iterrows()
             if chosen is None or str(prog["programme_id"]) in chosen]
    pids = [pid for pid, _ in shown]
    whole = sections.summary_shown(ctx, res.summary)
    every = ui.kept(("overview", data.result_key(ctx), tuple(pids)),
                    lambda: programme_figures(res.summary, res.recovery, pids, whole))
    for pid, prog in shown:
        figures = every[pid]
        with st.container(border=True):
            st.subheader(f"{prog['name']} ({pid})")
            st.caption(" · ".join(str(prog[c]).replace("_", " ") for c in ("provider", "format", "mode", "delivered_by")
                                  if c in prog and prog[c] is not None and str(prog[c]) != "<NA>"))
            cols = st.columns(4)
            with cols[0]:
                sections.take_up_metrics(funnel, pid, explain=first)
            with cols[1]:
                ui.metric("Engaged", ui.cell(figures["first"], "n_engaged") if figures["first"] is not None else 0,
                          term="engaged", digits=0, explain=first)
            for col, roles, term in ((cols[2], SYMPTOM, "symptom_change"), (cols[3], WELLBEING, "wellbeing_change")):
                with col:
                    st.markdown(f"**{glossary.label(term)}**")
                    part = figures["parts"][roles]
                    if not part:
                        st.caption("No paired questionnaires of this kind.")
                    for r in part:
                        ui.metric(f"{str(r['instrument']).upper()} mean change", ui.cell(r, "mean_change"),
                                  ci=(ui.cell(r, "ci_low"), ui.cell(r, "ci_high")), n=ui.cell(r, "n_paired"),
                                  why="no paired mothers" if ui.is_zero(r["n_paired"]) else "")
                        st.caption(f"Paired completeness {ui.fmt(ui.cell(r, 'completeness'), 0)}% "
                                   f"(95% CI {ui.fmt(ui.cell(r, 'completeness_ci_low'), 0)} to "
                                   f"{ui.fmt(ui.cell(r, 'completeness_ci_high'), 0)}%) of "
                                   f"{ui.fmt(ui.cell(r, 'n_engaged'), 0)} engaged")
                    if first:
                        st.caption(glossary.explain(term))
            total = figures["total"]
            if total is not None:
                st.markdown("**Recovery from and within** (of mothers above a symptom cut-off at the start with a "
                            "paired symptom score and a paired wellbeing or recovery score)")
                rcols = st.columns(len(RECOVERY))
                for rc, (cat, label, term) in zip(rcols, RECOVERY, strict=True):
                    r = figures["recovery"][cat]
                    with rc:
                        if r is None:
                            st.caption(f"{label}: no figure")
                            continue
                        of = ui.cell(total, "n")
                        ui.metric(label, ui.cell(r, "pct"), unit="%", digits=0,
                                  ci=(ui.cell(r, "pct_ci_low"), ui.cell(r, "pct_ci_high")), n=ui.cell(r, "n"),
                                  of=of, term=term, explain=first,
                                  why="no mother above a symptom cut-off at the start with both scores paired"
                                  if ui.is_zero(of) else "")
            with st.expander("All figures for this programme"):
                ui.table(figures["table"], key=f"ov_{pid}", name=f"outcomes-{pid}")
            first = False
    ui.explain("paired_completeness")
