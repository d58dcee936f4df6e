"""Report section 'what works for whom': mechanism profile, ending worry, exploratory C-M-O models."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

from evalkit.disclosure import hidden_columns
from evalkit.instruments import Instrument
from evalkit.report._context import VALENCE_WORDS, Ctx, guarded, protect_model_table
from evalkit.report._figures import WIDTH
from evalkit.report._html import (
    HIDDEN_HTML,
    NA_HTML,
    Column,
    cnt,
    esc,
    est_ci,
    is_missing,
    number,
    table,
    words,
)

# --------------------------------------------------------------------------- what works for whom


def experience_answers(measures: pd.DataFrame | None, registry: Mapping[str, Instrument]) -> tuple[int, bool]:
    """How many rows answer a peer-support experience questionnaire, and whether any holds an answer to a statement.

    Only then do the mechanism analyses run; otherwise this section reads no more than the participants. The rows
    are those of :func:`evalkit.mechanisms.experience_rows`, counted on its mask, without a copy of them.
    """
    from evalkit.mechanisms import experience_rows

    if measures is None:
        return 0, False
    rows = experience_rows(measures, registry)
    items = [c for c in measures.columns if re.fullmatch(r"item_\d+", str(c))]
    answered = any(bool((measures[c].notna().to_numpy(dtype=bool) & rows).any()) for c in items)
    return int(rows.sum()), answered


def ending_distress_table(tables: Mapping[str, pd.DataFrame], rules: Any) -> pd.DataFrame:
    """:func:`evalkit.mechanisms.ending_distress` as the report shows it (its one reader of the contacts, so the
    report computes it ahead of its place)."""
    from evalkit.mechanisms import ending_distress

    return ending_distress(tables, rules=rules)


def what_works_section(ctx: Ctx) -> str:
    from evalkit.mechanisms import EXPLANATIONS, UNVALIDATED_NOTE

    n_rows, present = experience_answers(ctx.tables.get("measures"), ctx.registry)
    out = []
    if n_rows and not present:
        out.append("<p>The peer-support experience questionnaires in these data hold totals only; the mechanism "
                   "profile and the models below need the answer to each statement.</p>")
    elif present:
        out.append(f'<p class="caution">{esc(UNVALIDATED_NOTE)}</p>')
        out.append(guarded(ctx, "Mechanism profile", lambda: _profile_block(ctx, EXPLANATIONS["profile"])))
        out.append(guarded(ctx, "Worry about support ending", lambda: _ending_block(ctx, EXPLANATIONS["ending"])))
    else:
        out.append("<p>No peer-support experience questionnaires (PEX-G, PEX-1) in these data, so there is no "
                   "mechanism profile. The exploratory take-up model below uses the circumstances recorded at "
                   "referral only.</p>")
    out.append(guarded(ctx, "Exploratory context-mechanism-outcome models",
                       lambda: _cmo_block(ctx, bool(present), EXPLANATIONS)))
    return "".join(out)


def _profile_block(ctx: Ctx, explanation: str) -> str:
    from evalkit.charts import estimate_chart
    from evalkit.mechanisms import mechanism_profile

    prof = mechanism_profile(ctx.tables, rules=ctx.rules)
    name = ctx.keep("mechanism_profile", prof)
    out = [f"<h3>Mechanism profile</h3><p>{esc(explanation)}</p>"]
    for (pid, code), rows in prof.groupby(["programme_id", "instrument"], sort=True):
        if str(pid) not in ctx.pids:
            continue
        title = f"{ctx.name(pid)}, {ctx.abbr(code)}"
        cols = [Column("Statement", lambda r: esc(r.get("statement") or r.get("mechanism")), numeric=False),
                Column("About", lambda r: esc(VALENCE_WORDS.get(str(r.get("valence")), r.get("valence"))),
                       numeric=False),
                Column("Answered (n)", lambda r: cnt(r, "n_answered")),
                Column(f"Agreed ({ctx.ci})", lambda r: _share(r, "n_endorsed", "n_answered"))]
        out.append(table(rows, cols, caption=f"Mechanism profile: {title} (what can go wrong first)", name=name,
                         row_class=lambda r: "concern" if bool(r.get("concern")) else ""))
        data = rows.copy()
        data["label"] = [str(s) if not is_missing(s) and str(s) else str(mc)
                         for s, mc in zip(data["statement"], data["mechanism"], strict=True)]
        data["label"] = [f"{VALENCE_WORDS.get(str(v), v)}: {t}" for v, t in zip(data["valence"], data["label"],
                                                                                   strict=True)]
        for c in ("share", "ci_low", "ci_high", "n_answered"):
            data[c] = pd.to_numeric(data[c], errors="coerce").astype(float) * (100 if c != "n_answered" else 1)
        out.append(ctx.figures.figure(
            lambda data=data: estimate_chart(data, label="label", estimate="share", n="n_answered", reference=None,
                                             x_title=f"Mothers who agreed (%, {ctx.ci})", width=WIDTH),
            alt=f"Share of mothers agreeing with each statement about the support, {title}; statements about what "
                "can go wrong first. The numbers are in the table above.",
            caption=f"Mechanism profile: {title}.", values=data["share"]))
    return "".join(out)


def _share(r: Mapping[str, Any], num: str, den: str) -> str:
    h = hidden_columns(r)
    if "share" in h:
        return HIDDEN_HTML
    if is_missing(r.get("share")):
        return NA_HTML
    text = f"{number(100 * float(r['share']), 0)}%"
    if not is_missing(r.get("ci_low")) and not is_missing(r.get("ci_high")):
        text += f" ({number(100 * float(r['ci_low']), 0)}% to {number(100 * float(r['ci_high']), 0)}%)"
    return f"{esc(text)}<br><small>n = {cnt(r, num)} of {cnt(r, den)}</small>"


def _ending_block(ctx: Ctx, explanation: str) -> str:
    from evalkit.report._ahead import in_place

    ahead = ctx.ahead.get("ending_distress")
    ed = in_place(ahead) if ahead is not None else ending_distress_table(ctx.tables, ctx.rules)
    if ed.empty:
        return ""
    name = ctx.keep("ending_distress", ed)
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Ending", lambda r: words(r.get("ending_class")), numeric=False),
            Column("Answered at ending (n)", lambda r: cnt(r, "n_responses")),
            Column(f"Worried or upset ({ctx.ci})", lambda r: _share(r, "n_distressed", "n_responses"))]
    return f"<h3>Worry about support ending</h3><p>{esc(explanation)}</p>" + table(
        ed, cols, caption="Worry or upset about support ending, after planned and unplanned endings", name=name)


def _cmo_block(ctx: Ctx, with_experience: bool, explanations: Mapping[str, str]) -> str:
    from evalkit.mechanisms import EXPLORATORY, cmo_outcomes, cmo_take_up
    from evalkit.memory import release_freed_memory

    out = ['<div class="exploratory" role="note" aria-label="Exploratory analyses">'
           f"<h3>Exploratory: context, mechanism and outcome</h3><p><strong>{esc(EXPLORATORY)}</strong></p>"]
    name = ctx.keep("cmo_take_up", protect_model_table(cmo_take_up(ctx.tables, rules=ctx.rules), ctx.rules))
    tu = ctx.out[name]  # as kept: counts of mothers in the status text protected too
    out.append(f"<p>{esc(explanations['take_up'])}</p>")
    out.append(table(tu, _cmo_columns(ctx, "Circumstance at referral"),
                     caption="EXPLORATORY: circumstances at referral and taking up the offer (odds ratios)", name=name,
                     empty="No model: too few referrals with these circumstances recorded."))
    if with_experience:
        release_freed_memory()  # what the take-up model freed, before the outcome models
        name = ctx.keep("cmo_outcomes", protect_model_table(cmo_outcomes(ctx.tables, rules=ctx.rules,
                                                                         prepared=ctx.result.data), ctx.rules))
        co = ctx.out[name]
        out.append(f"<p>{esc(explanations['outcomes'])}</p>")
        out.append(table(co, [Column("Experience questionnaire", lambda r: esc(ctx.abbr(r["experience_instrument"])),
                                     numeric=False), *_cmo_columns(ctx, "Term")],
                         caption="EXPLORATORY: experience of the support and change in symptoms", name=name,
                         empty="No model: too few mothers with both questionnaires."))
    out.append("</div>")
    return "".join(out)


def _cmo_columns(ctx: Ctx, first: str) -> list[Column]:
    def effect(r: Mapping[str, Any]) -> str:
        scale = "" if is_missing(r.get("effect_scale")) else str(r["effect_scale"])
        digits = 2
        return est_ci(r, "effect", "effect_ci_low", "effect_ci_high", digits) + (
            f"<br><small>{esc(scale)}</small>" if scale else "")

    def p(r: Mapping[str, Any]) -> str:
        v = r.get("p_value")
        if is_missing(v):
            return NA_HTML
        return esc("< 0.001" if float(v) < 0.001 else f"{float(v):.3f}")

    return [Column(first, lambda r: esc(r.get("label") or r.get("term")), numeric=False),
            Column(f"Estimate ({ctx.ci})", effect), Column("p", p),
            Column("Mothers in the model (n)", lambda r: cnt(r, "n")),
            Column("Status", lambda r: esc(r.get("status")), numeric=False)]
