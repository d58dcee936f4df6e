"""Report sections on engagement (take-up, funnel, attendance, endings, head counts) and for whom."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from evalkit.disclosure import SUPPRESSED_MARKER, hidden_columns
from evalkit.engagement import ENDING_GROUP_WORDS, EXIT_STEP_WORDS, exit_reason_words
from evalkit.report._context import Ctx, guarded
from evalkit.report._figures import WIDTH
from evalkit.report._html import (
    HIDDEN_HTML,
    NA_HTML,
    Column,
    by_programme,
    cnt,
    coded,
    esc,
    est_ci,
    fig,
    is_missing,
    number,
    pct_of,
    share_cell,
    table,
    words,
)

# --------------------------------------------------------------------------- engagement


def engagement_section(ctx: Ctx) -> str:
    return "".join([
        guarded(ctx, "Take-up", lambda: take_up_block(ctx)),
        guarded(ctx, "The take-up funnel", lambda: funnel_block(ctx)),
        guarded(ctx, "Attendance", lambda: attendance_block(ctx)),
        guarded(ctx, "Endings", lambda: endings_block(ctx)),
        guarded(ctx, "Group head counts", lambda: head_counts_block(ctx)),
    ])


def take_up_block(ctx: Ctx) -> str:
    tu = ctx.out.get("take_up")
    if tu is None:
        return ctx.missing("Take-up")
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Referred (n)", lambda r: cnt(r, "n_referred")),
            Column(f"Took up ({ctx.ci})", lambda r: pct_of(r, "pct_took_up", "n_took_up", "n_referred"))]
    return "<h3>Take-up</h3>" + table(tu, cols, caption="Referrals and take-up", name="take_up",
                                      note="Take-up: the share of referred mothers who took up the offer; referrals "
                                           "never offered support count as not taking it up.")


def funnel_block(ctx: Ctx) -> str:
    from evalkit.charts import funnel_chart

    f, x = ctx.out.get("funnel"), ctx.out.get("funnel_exits")
    if f is None:
        return ctx.missing("The take-up funnel")
    if x is None:
        x = pd.DataFrame(columns=["programme_id"])
    out = ["<h3>From referral to paired scores</h3>",
           "<p>Each step counts the mothers who reached it and every step before it. The reasons for leaving at each "
           "step are in the second table.</p>"]
    for pid in ctx.pids:
        rows = f[f["programme_id"].astype(str) == pid]
        if rows.empty:
            continue
        title = ctx.name(pid)
        cols = [Column("Step", lambda r: esc(str(r["description"]).capitalize()), numeric=False),
                Column("Mothers (n)", lambda r: cnt(r, "n")),
                Column("Left before this step (n)", lambda r: cnt(r, "n_left")),
                Column(f"% of previous step ({ctx.ci})",
                       lambda r: est_ci(r, "pct_of_previous", "pct_of_previous_ci_low", "pct_of_previous_ci_high", 0,
                                        "%")),
                Column(f"% of referrals ({ctx.ci})",
                       lambda r: est_ci(r, "pct_of_referred", "pct_of_referred_ci_low", "pct_of_referred_ci_high", 0,
                                        "%"))]
        out.append(f"<h4>{esc(title)}</h4>")
        out.append(table(rows, cols, caption=f"Take-up funnel: {title}", name="funnel"))
        data = rows.assign(step_label=rows["description"].astype(str).str.capitalize())
        data["n"] = pd.to_numeric(data["n"], errors="coerce").astype(float)
        out.append(ctx.figures.figure(
            lambda data=data: funnel_chart(data, step="step_label", count="n", width=WIDTH),
            alt=f"Take-up funnel for {title}: one bar per step with the number of mothers; hidden numbers are "
                "labelled. The numbers are in the table above.",
            caption=f"Take-up funnel: {title}.", values=data["n"]))
        xr = x[(x["programme_id"].astype(str) == pid)]
        if len(xr):
            xr = xr.assign(reason_words=exit_reason_words(xr["reason"]))
            xcols = [Column("Left the funnel", lambda r: esc(EXIT_STEP_WORDS.get(str(r["step"]), str(r["step"]))),
                            numeric=False),
                     Column("Reason", lambda r: ("<strong>all reasons</strong>" if bool(r.get("is_total"))
                                                 else esc(r.get("reason_words"))), numeric=False),
                     Column("Mothers (n)", lambda r: cnt(r, "n")),
                     Column("% of those leaving at this step", lambda r: fig(r, "pct", 0, "%"))]
            out.append(table(xr, xcols, caption=f"Why mothers left the funnel: {title}", name="funnel_exits",
                             row_class=lambda r: "total" if bool(r.get("is_total")) else ""))
    return "".join(out)


def _dna_cell(r: Mapping[str, Any]) -> str:
    """Missed contacts as a share of booked ones, with the counts it rests on: ``n = missed of booked``."""
    main = est_ci(r, "pct_dna", "pct_dna_ci_low", "pct_dna_ci_high", 0, "%")
    return f"{main}<br><small>n = {cnt(r, 'n_contacts_dna')} of {cnt(r, 'n_contacts_booked')}</small>"


def attendance_block(ctx: Ctx) -> str:
    a = ctx.out.get("attendance")
    if a is None:
        return ctx.missing("Attendance")

    def med(col: str, q1: str, q3: str, digits: int = 1) -> Callable[[Mapping[str, Any]], str]:
        def render(r: Mapping[str, Any]) -> str:
            h = hidden_columns(r)
            if col in h:
                return HIDDEN_HTML
            if is_missing(r.get(col)):
                return NA_HTML
            text = number(r[col], digits)
            if not is_missing(r.get(q1)) and not is_missing(r.get(q3)) and q1 not in h and q3 not in h:
                text += f" ({number(r[q1], digits)} to {number(r[q3], digits)})"
            return esc(text)
        return render

    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Attended at least once (n)", lambda r: cnt(r, "n_attended")),
            Column("Contacts attended, median (IQR)", med("contacts_median", "contacts_q1", "contacts_q3", 0)),
            Column("1", lambda r: cnt(r, "n_dose_1")), Column("2-3", lambda r: cnt(r, "n_dose_2_3")),
            Column("4-7", lambda r: cnt(r, "n_dose_4_7")), Column("8 or more", lambda r: cnt(r, "n_dose_8_plus")),
            Column("Weeks engaged, median (IQR)", med("weeks_engaged_median", "weeks_engaged_q1",
                                                      "weeks_engaged_q3")),
            Column("Days between contacts, median (IQR)", med("gap_days_median", "gap_days_q1", "gap_days_q3", 0)),
            Column(f"Did not attend ({ctx.ci})", _dna_cell),
            Column("Dose counted from", lambda r: words(r.get("dose_source")), numeric=False)]
    return "<h3>Attendance</h3>" + table(
        a, cols, caption="How often mothers came (columns 1 to '8 or more': mothers by number of contacts attended)",
        name="attendance",
        note="Did not attend: booked contacts missed without cancelling, as a share of attended plus missed contacts "
             "(n = missed of attended plus missed). Programmes without contact rows count sessions attended as the provider "
             "recorded them; gaps, weeks engaged and missed contacts are then not available.")


def endings_block(ctx: Ctx) -> str:
    en = ctx.out.get("endings")
    if en is None:
        return ctx.missing("Endings")
    wide = by_programme(en, ctx.pids, "ending_group")

    groups = [g for g in ENDING_GROUP_WORDS if g in set(en["ending_group"].astype(str))]
    cols = [Column("Programme", lambda w: ctx.prog(w["programme_id"]), numeric=False)]
    cols += [Column(ENDING_GROUP_WORDS[g], share_cell(g)) for g in groups]
    cols.append(Column("Attended at least once (n)", share_cell("total")))
    return "<h3>How support ended</h3>" + table(
        wide, cols, caption="Endings among mothers who attended at least once", name="endings",
        note=f"Percentages with {ctx.ci} (Wilson). 'Other ending': moved away, referred elsewhere, returned to work, "
             "programme ended, other or unknown.")


def head_counts_block(ctx: Ctx) -> str:
    h = ctx.out.get("head_counts")
    if h is None or h.empty:
        return ""
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Group sessions (n)", lambda r: cnt(r, "n_sessions")),
            Column("Head count, all sessions", lambda r: cnt(r, "total_head_count")),
            Column("Named in attendance records", lambda r: cnt(r, "total_named")),
            Column("% named", lambda r: fig(r, "pct_named", 0, "%")),
            Column("Head count per session, mean", lambda r: fig(r, "head_count_mean", 1))]
    return "<h3>Group sessions</h3>" + table(
        h, cols, caption="Head counts at group sessions against named attendance", name="head_counts",
        note="Drop-in groups often count mothers without naming them, so the outcome figures (named mothers only) "
             "cover the share shown as '% named'.")


# --------------------------------------------------------------------------- for whom


def for_whom_section(ctx: Ctx) -> str:
    out = ["<p>The same figures split by one thing about the mothers, within each programme. Small groups are "
           f"hidden and shown as {esc(SUPPRESSED_MARKER)}; so are other cells from which a hidden one could be "
           "worked out.</p>"]
    for fld in ctx.breakdowns:
        out.append(guarded(ctx, f"For whom ({fld})", lambda fld=fld: _breakdown(ctx, fld)))
    return "".join(out)


def _breakdown(ctx: Ctx, fld: str) -> str:
    from evalkit.for_whom import for_whom
    from evalkit.memory import release_freed_memory

    label = fld.replace("_", " ")
    tu = for_whom(ctx.result, fld, what="take_up", rules=ctx.rules, path=ctx.cache.get("participant_path"))
    release_freed_memory()  # what the take-up breakdown freed, before the outcome breakdown
    oc = for_whom(ctx.result, fld, what="outcomes", rules=ctx.rules)
    n1 = ctx.keep(f"by_{fld}_take_up", tu)
    n2 = ctx.keep(f"by_{fld}_outcomes", oc)
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column(label.capitalize(), lambda r: coded("participants", fld, r.get(fld)), numeric=False),
            Column("Referred (n)", lambda r: cnt(r, "n_referred")),
            Column(f"Took up ({ctx.ci})", lambda r: pct_of(r, "pct_took_up", "n_took_up", "n_referred"))]
    out = f"<h3>By {esc(label)}</h3>" + table(tu, cols, caption=f"Take-up by {label}", name=n1)
    ocols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
             Column("Questionnaire", lambda r: esc(ctx.abbr(r["instrument"])), numeric=False),
             Column(label.capitalize(), lambda r: coded("participants", fld, r.get(fld)), numeric=False),
             Column("Paired (n)", lambda r: cnt(r, "n_paired")),
             Column(f"Mean change ({ctx.ci})", lambda r: est_ci(r, "mean_change", "ci_low", "ci_high", 2)),
             Column("Reliable improvement", lambda r: pct_of(r, "pct_reliable_improvement",
                                                             "n_reliable_improvement", "n_paired"))]
    out += table(oc, ocols, caption=f"Change by {label}", name=n2,
                 note="Mean change: later minus first score (see each questionnaire's direction above).")
    return out
