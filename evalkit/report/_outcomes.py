"""Report sections on outcomes: programmes, headline figures, change per questionnaire, recovery."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

from evalkit import change_methods
from evalkit.change_methods import change_by_method
from evalkit.disclosure import SUPPRESSED_MARKER, hidden_columns
from evalkit.recovery import RECOVERY_LABELS
from evalkit.report._context import (
    Ctx,
    first_shown,
    guarded,
    role_rank,
    rows_of,
    slug,
)
from evalkit.report._figures import WIDTH
from evalkit.report._html import (
    HIDDEN_HTML,
    NA_HTML,
    Column,
    by_programme,
    cnt,
    code_label,
    coded,
    esc,
    est_ci,
    fig,
    is_missing,
    number,
    pct_of,
    scrub_small_counts,
    share_cell,
    table,
)

# --------------------------------------------------------------------------- programmes and headline


PROGRAMME_COLUMNS = ("programme_id", "name", "provider", "format", "mode", "delivered_by", "facilitation",
                     "planned_sessions", "region", "eligibility")


def programmes_section(ctx: Ctx) -> str:
    p = ctx.programmes
    if p.empty:
        return '<p>No programme descriptions in these data; programmes are named by their ids.</p>'
    keep = p[[c for c in PROGRAMME_COLUMNS if c in p.columns]].sort_values("programme_id").reset_index(drop=True)
    name = ctx.keep("programmes", keep)
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False)]
    for c, h in (("provider", "Provider"), ("format", "Format"), ("mode", "Mode"), ("delivered_by", "Delivered by"),
                 ("facilitation", "Facilitation"), ("planned_sessions", "Planned sessions"), ("region", "Region"),
                 ("eligibility", "Who it is for")):
        if c in keep.columns:
            cols.append(Column(h, (lambda r, c=c: fig(r, c, 0) if c == "planned_sessions"
                                   else coded("programmes", c, r.get(c))),
                               numeric=c == "planned_sessions"))
    return table(keep, cols, caption="Programmes in this report", name=name)


def _pick(pid: str, order: int, figure: str, row: Mapping[str, Any] | None, est: str, lo: str | None, hi: str | None,
          n: str | None, of: str | None, *, unit: str, source: str, instrument: str | None = None) -> dict[str, Any]:
    """One headline figure copied from a library row, keeping which parts were hidden."""
    h = hidden_columns(row) if row is not None else frozenset()

    def get(c: str | None) -> Any:
        return None if c is None or row is None or c in h else row.get(c)

    rec = {"programme_id": pid, "order": order, "figure": figure, "instrument": instrument,
           "estimate": get(est), "ci_low": get(lo), "ci_high": get(hi), "unit": unit, "n": get(n), "of_n": get(of),
           "source": source}
    sup = []
    if row is not None and ({est, lo, hi} & h):
        sup += ["estimate", "ci_low", "ci_high"]
    if row is not None and n and n in h:
        sup.append("n")
    if row is not None and of and of in h:
        sup.append("of_n")
    rec["suppressed"] = "; ".join(sup)
    return rec


def headline_frame(ctx: Ctx) -> pd.DataFrame:
    """The headline figures per programme, each copied from the library table it comes from."""
    s, tu, rec = ctx.result.summary, ctx.out.get("take_up"), ctx.result.recovery
    rows: list[dict[str, Any]] = []
    for pid in ctx.pids:
        start = len(rows)

        def add(*args: Any, pid: str = pid, start: int = start, **kwargs: Any) -> None:
            rows.append(_pick(pid, len(rows) - start + 1, *args, **kwargs))

        t = rows_of(tu, programme_id=pid).to_dict("records") if tu is not None else []
        if t:
            add("Referrals", t[0], "n_referred", None, None, "n_referred", None, unit="", source="take_up.n_referred")
            add("Took up the offer (of referrals)", t[0], "pct_took_up", "pct_took_up_ci_low", "pct_took_up_ci_high",
                "n_took_up", "n_referred", unit="%", source="take_up.pct_took_up")
        ps = rows_of(s, programme_id=pid)
        if len(ps):
            first = first_shown(ps, "n_engaged")
            add(f"Engaged (attended at least {max(ctx.rules.min_dose, 1)} contacts)", first, "n_engaged", None, None,
                "n_engaged", None, unit="", source="outcome_summary.n_engaged")
        elif ctx.out.get("funnel") is not None:
            f = rows_of(ctx.out["funnel"], programme_id=pid, step="reached_min_dose").to_dict("records")
            if f:
                add(f"Engaged (attended at least {ctx.rules.min_dose} contacts)", f[0], "n", None, None, "n", None,
                    unit="", source="funnel.n (reached_min_dose)")
        ordered = sorted(ps.to_dict("records"), key=lambda r: (role_rank(r.get("role")), str(r["instrument"])))
        for r in ordered:
            ab = ctx.abbr(r["instrument"])
            add(f"Paired completeness, {ab} (of engaged)", r, "completeness", "completeness_ci_low",
                "completeness_ci_high", "n_paired", "n_engaged", unit="%", source="outcome_summary.completeness",
                instrument=r["instrument"])
        for r in ordered:
            ab = ctx.abbr(r["instrument"])
            role = str(r.get("role"))
            kind = "Symptom change" if role == "symptom" else ("Wellbeing change" if role == "wellbeing" else
                                                               f"{role.capitalize()} change")
            better = "higher is better" if bool(r.get("higher_is_better")) else "lower is better"
            add(f"{kind}, {ab} (mean change in points; {better})", r, "mean_change", "ci_low", "ci_high", "n_paired",
                None, unit=" points", source="outcome_summary.mean_change", instrument=r["instrument"])
        pr = rows_of(rec, programme_id=pid)
        tot = rows_of(pr, category="total").to_dict("records") if len(pr) else []
        for cat in ("recovered_from", "both", "recovery_within"):
            cr = rows_of(pr, category=cat).to_dict("records") if len(pr) else []
            if cr and tot:
                row = dict(cr[0])
                row["_total"] = tot[0].get("n")
                if "n" in hidden_columns(tot[0]):
                    row["suppressed"] = "; ".join([*hidden_columns(row), "_total"])
                add(f"{RECOVERY_LABELS[cat]} (of mothers above a symptom cut-off at the start with a paired "
                    "symptom score and a paired wellbeing or recovery score)", row, "pct",
                    "pct_ci_low", "pct_ci_high", "n", "_total", unit="%", source=f"recovery.pct ({cat})")
    cols = ["programme_id", "order", "figure", "instrument", "estimate", "ci_low", "ci_high", "unit", "n", "of_n",
            "source", "suppressed"]
    out = pd.DataFrame(rows, columns=cols)
    for c in ("estimate", "ci_low", "ci_high"):
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64")
    for c in ("n", "of_n"):
        out[c] = pd.to_numeric(out[c], errors="coerce").round().astype("Int64")
    out["suppressed"] = out["suppressed"].astype("string")
    out.attrs["rules"] = ctx.rules.describe()
    return out


def headline_section(ctx: Ctx) -> str:
    frame = headline_frame(ctx)
    name = ctx.keep("headline", frame)
    parts = []
    for pid in ctx.pids:
        rows = frame[frame["programme_id"] == pid]
        meta = []
        pr = ctx.programmes[ctx.programmes["programme_id"].astype(str) == pid] if len(ctx.programmes) else None
        if pr is not None and len(pr):
            rec = pr.iloc[0].to_dict()
            meta = [code_label("programmes", c, rec[c]) for c in ("provider", "format", "mode", "delivered_by", "region")
                    if c in rec and not is_missing(rec[c])]

        def result(r: Mapping[str, Any]) -> str:
            if "estimate" in hidden_columns(r):
                return HIDDEN_HTML
            if is_missing(r["estimate"]):
                return NA_HTML
            if r["unit"] == "":
                return esc(f"{int(r['estimate']):,}")
            digits = 0 if r["unit"] == "%" else 1
            return est_ci(r, "estimate", "ci_low", "ci_high", digits, r["unit"] if r["unit"] == "%" else "") + (
                "" if r["unit"] == "%" else " points")

        def n_of(r: Mapping[str, Any]) -> str:
            text = cnt(r, "n")
            if not is_missing(r.get("of_n")) or "of_n" in hidden_columns(r):
                text += " of " + cnt(r, "of_n")
            return text

        cols = [Column("Figure", lambda r: esc(r["figure"]), numeric=False),
                Column(f"Result ({ctx.ci})", result), Column("n (mothers)", n_of)]
        title = ctx.name(pid)
        parts.append(
            f'<article class="prog" aria-labelledby="hl-{esc(slug(pid))}"><h3 id="hl-{esc(slug(pid))}">{esc(title)}'
            f'{"" if title == pid else f" <span class=pid>{esc(pid)}</span>"}</h3>'
            + (f'<p class="meta">{" · ".join(esc(m) for m in meta)}</p>' if meta else "")
            + table(rows, cols, caption=f"Headline figures: {title}", name=name,
                    empty="No figures for this programme.")
            + "</article>")
    note = ("Each result is given with its confidence interval and the number of mothers it rests on. Change is the "
            "later score minus the first; the rules for choosing the two scores are in the methods appendix. "
            f"{SUPPRESSED_MARKER} marks a hidden number: a small one, or one from which a small one could be worked "
            "out.")
    return f'<p class="lead">{esc(note)}</p>' + "".join(parts)


# --------------------------------------------------------------------------- change per instrument


def _instruments_of(ctx: Ctx, roles: Sequence[str]) -> list[str]:
    s = ctx.result.summary
    if s.empty:
        return []
    part = s[s["role"].astype(str).isin(roles)]
    return sorted(part["instrument"].astype(str).unique(), key=lambda c: (role_rank(_first(part, c, "role")), c))


def _first(frame: pd.DataFrame, code: str, col: str) -> Any:
    hit = frame.loc[frame["instrument"].astype(str) == code, col]
    return hit.iloc[0] if len(hit) else None


def _instrument_intro(ctx: Ctx, code: str, rows: pd.DataFrame) -> str:
    ins = ctx.inst(code)
    hib = bool(rows["higher_is_better"].iloc[0]) if len(rows) else (ins.higher_is_better if ins else False)
    bits = [f"{'Higher' if hib else 'Lower'} scores are better, so a {'positive' if hib else 'negative'} change is "
            "an improvement."]
    thr = rows["rc_threshold"].dropna()
    if len(thr):
        src = rows["rc_threshold_source"].dropna()
        bits.append(f"Reliable change: a change of at least {number(thr.iloc[0], 2)} points"
                    + (f"; threshold from: {src.iloc[0]}." if len(src) else "."))
    cut = rows["cutoff"].dropna() if "cutoff" in rows else pd.Series(dtype=float)
    if ins is not None and ins.default_cutoff is not None and len(cut):
        c = ins.default_cutoff
        bits.append(f"Above cut-off ('caseness'): a score {c.operator} {c.value:g}.")
    return f'<p>{esc(" ".join(bits))}</p>'


def _change_tables(ctx: Ctx, code: str, rows: pd.DataFrame, name: str) -> str:
    ab = ctx.abbr(code)
    ci = ctx.ci
    cols = [
        Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
        Column("Paired (n)", lambda r: cnt(r, "n_paired")),
        Column("First score, mean (SD)", lambda r: _mean_sd(r, "baseline_mean", "baseline_sd")),
        Column("Later score, mean (SD)", lambda r: _mean_sd(r, "endpoint_mean", "endpoint_sd")),
        Column(f"Mean change ({ci})", lambda r: est_ci(r, "mean_change", "ci_low", "ci_high", 2)),
        Column(f"Effect size d_z ({ci})", lambda r: est_ci(r, "d_z", "d_z_ci_low", "d_z_ci_high", 2)),
        Column(f"Adjusted change ({ci})", lambda r: est_ci(r, "adj_mean_change", "adj_ci_low", "adj_ci_high", 2)),
    ]
    ref = rows["adj_reference_baseline"].dropna()
    note = ("Completers only (mothers with a first and a later score). Effect size d_z = mean change / SD of the "
            "changes. Adjusted change: the change expected for a mother starting at "
            + (f"{number(ref.iloc[0], 1)} points" if len(ref) else "the pooled mean first score")
            + ", so programmes serving more or less unwell mothers compare fairly.")
    out = table(rows, cols, caption=f"{ab}: change between the first and the later score", name=name, note=note)
    cat = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
           Column("Reliable improvement", lambda r: pct_of(r, "pct_reliable_improvement", "n_reliable_improvement",
                                                           "n_paired")),
           Column("No reliable change", lambda r: pct_of(r, "pct_no_reliable_change", "n_no_reliable_change",
                                                         "n_paired")),
           Column("Reliable deterioration", lambda r: pct_of(r, "pct_reliable_deterioration",
                                                             "n_reliable_deterioration", "n_paired"))]
    if rows["n_meaningful_improvement"].notna().any() or rows["suppressed"].str.contains("n_meaningful").any():
        cat.append(Column("Meaningful improvement", lambda r: pct_of(r, "pct_meaningful_improvement",
                                                                     "n_meaningful_improvement", "n_paired")))
    has_cut = rows["cutoff"].notna().any()
    if has_cut:
        cat += [Column("Above cut-off at start", lambda r: pct_of(r, "pct_caseness_baseline", "n_caseness_baseline",
                                                                  "n_paired")),
                Column("Recovered (of those above cut-off)", lambda r: pct_of(r, "pct_recovered", "n_recovered",
                                                                              "n_caseness_baseline")),
                Column("Reliable recovery (of those above cut-off)",
                       lambda r: pct_of(r, "pct_reliable_recovery", "n_reliable_recovery", "n_caseness_baseline"))]
    out += table(rows, cat, caption=f"{ab}: how many mothers reliably improved, stayed the same or got worse",
                 name=name, note=f"Percentages with their {ci} (Wilson); below each, 'n = A of B' gives the mothers in "
                                 "the category (A) and the mothers it is a percentage of (B).")
    return out


def _mean_sd(r: Mapping[str, Any], mean: str, sd: str) -> str:
    h = hidden_columns(r)
    if mean in h:
        return HIDDEN_HTML
    if is_missing(r.get(mean)):
        return NA_HTML
    text = number(r[mean], 1)
    if sd not in h and not is_missing(r.get(sd)):
        text += f" ({number(r[sd], 1)})"
    return esc(text)


METHOD_WORDS = {"completers": "Completers (paired scores)", "mixed_model": "Mixed model (everyone's scores)",
                "multiple_imputation": "Multiple imputation"}

METHOD_HEADINGS = {"completers": "Completers: mean change", "mixed_model": "Mixed model: change to {weeks:g} weeks",
                   "multiple_imputation": "Multiple imputation: mean change"}
"""Each change method's column heading in the methods table, before its interval (``{weeks}``: the rules'
follow-up). A method of :data:`~evalkit.change_methods.CHANGE_METHODS` not named here is headed by its words
(:data:`~evalkit.change_methods.METHOD_WORDS`) and 'mean change'."""

METHOD_ALSO_COUNTED = {"multiple_imputation": ("mi_n_imputed", "imputed")}
"""A count shown after a method's n, in brackets with its word: the summary column and the word."""


def _method_columns(ctx: Ctx, rows: pd.DataFrame) -> list[Column]:
    """One column per change method the rows hold (its estimate column present), in ``CHANGE_METHODS`` order."""
    cols = []
    for code, est, lo, hi, n in change_methods.CHANGE_METHODS:
        if est not in rows.columns:
            continue
        heading = METHOD_HEADINGS.get(code, f"{change_methods.METHOD_WORDS[code].capitalize()}: mean change")
        cols.append(Column(f"{heading.format(weeks=ctx.rules.followup_weeks)} ({ctx.ci})",
                           _with_n(est, lo, hi, n, METHOD_ALSO_COUNTED.get(code))))
    return cols


def _with_n(est: str, lo: str, hi: str, n: str, also: tuple[str, str] | None) -> Callable[[Mapping[str, Any]], str]:
    """A method's cell: its estimate with its interval, and its n (and the count ``also`` names, if any)."""
    def render(r: Mapping[str, Any]) -> str:
        extra = f" ({cnt(r, also[0])} {also[1]})" if also else ""
        return f"{est_ci(r, est, lo, hi, 2)}<br><small>n = {cnt(r, n)}{extra}</small>"
    return render


def _methods_table(ctx: Ctx, code: str, rows: pd.DataFrame, name: str) -> str:
    ab = ctx.abbr(code)
    models = "mm_change" in rows.columns
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False), *_method_columns(ctx, rows)]
    cols.append(Column("Attrition: first score, not paired − paired (p)", _attrition))
    if models:
        cols.append(Column("Model notes", lambda r: _model_notes(ctx, r), numeric=False))
    note = ("Completers use only mothers with both scores. The mixed model uses every score of every mother (change "
            f"to {ctx.rules.followup_weeks:g} weeks after the first contact); multiple imputation fills in missing "
            "later scores many times and combines the results (Rubin's rules). Both assume that who has a later "
            "score depends only on what was recorded. When the three agree, the completers' figure is not much "
            "flattered by who dropped out.")
    if not models:
        note = ("Completers only: this report was made without the mixed-model and multiple-imputation estimates "
                "(models=False). " + note)
    return table(rows, cols, caption=f"{ab}: completers compared with estimates using everyone's scores", name=name,
                 note=note)


def _attrition(r: Mapping[str, Any]) -> str:
    if "attrition_diff" in hidden_columns(r):
        return HIDDEN_HTML
    if is_missing(r.get("attrition_diff")):
        return NA_HTML
    text = number(r["attrition_diff"], 2)
    if not is_missing(r.get("attrition_p")) and "attrition_p" not in hidden_columns(r):
        p = float(r["attrition_p"])
        text += f" (p {'< 0.001' if p < 0.001 else '= ' + f'{p:.3f}'})"
    return esc(text)


def _model_notes(ctx: Ctx, r: Mapping[str, Any]) -> str:
    notes = []
    for c in ("mm_note", "es_note"):
        v = r.get(c)
        if not is_missing(v) and str(v).strip() and c not in hidden_columns(r):
            notes.append(scrub_small_counts(str(v), ctx.threshold))
    return "<br>".join(esc(n) for n in notes) or ""


def _methods_figure(ctx: Ctx, code: str, rows: pd.DataFrame) -> str:
    from evalkit.charts import estimate_chart

    ab = ctx.abbr(code)
    words = [change_methods.METHOD_WORDS[m] for m, est, *_ in change_methods.CHANGE_METHODS if est in rows.columns]
    several = len(words) > 1
    data = change_by_method(rows, words=METHOD_WORDS)
    data.insert(0, "programme", data["programme_id"].astype(str).map(ctx.name))
    return ctx.figures.figure(
        lambda: estimate_chart(data, label="programme", colour="method" if several else None, n="n",
                               x_title=f"Mean change in {ab} score ({ctx.ci})", width=WIDTH),
        alt=f"Mean change in {ab} score with {ctx.ci} for each programme"
            + (f", by {', '.join(words[:-1])} and {words[-1]}" if several else "")
            + ". Hidden or not estimable figures are labelled as such. The numbers are in the table above.",
        caption=f"{ab}: mean change with {ctx.ci}" + (" by method" if several else "")
                + "; n per programme and the rules are in the tables and the methods appendix.",
        values=data["estimate"])


def _dose_block(ctx: Ctx, code: str) -> str:
    from evalkit.charts import dose_threshold_chart

    ab = ctx.abbr(code)
    d = ctx.result.dose_sensitivity
    rows = d[d["instrument"].astype(str) == code]
    if rows.empty:
        return ""
    ths = sorted(rows["min_dose"].dropna().astype(int).unique())
    wide = by_programme(rows, ctx.pids, "min_dose", convert=int)

    def cell(k: int) -> Callable[[Mapping[str, Any]], str]:
        def render(w: Mapping[str, Any]) -> str:
            r = w.get(k)
            if r is None:
                return NA_HTML
            return f"{est_ci(r, 'mean_change', 'ci_low', 'ci_high', 2)}<br><small>n = {cnt(r, 'n')}</small>"
        return render

    cols = [Column("Programme", lambda w: ctx.prog(w["programme_id"]), numeric=False)]
    cols += [Column(f"At least {k} contact{'s' if k != 1 else ''}", cell(k)) for k in ths]
    out = table(wide, cols, caption=f"{ab}: mean change ({ctx.ci}) when only mothers with at least a given number "
                                    "of attended contacts are counted", name="dose_sensitivity",
                note=f"The report's rules count mothers with at least {ctx.rules.min_dose} attended contacts. If the "
                     "change grows with the dose, the headline depends on who is counted as having had the support "
                     "(it does not prove that more support causes more change).")
    data = rows.copy()
    data["programme"] = data["programme_id"].astype(str).map(ctx.name)
    for c in ("mean_change", "ci_low", "ci_high", "n"):
        data[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
    out += ctx.figures.figure(
        lambda: dose_threshold_chart(data, estimate="mean_change", colour="programme",
                                     y_title=f"Mean change in {ab} ({ctx.ci})", width=WIDTH, height=300),
        alt=f"Mean change in {ab} score against the minimum number of attended contacts counted, one line per "
            "programme, with confidence intervals. Hidden figures are not drawn. The numbers are in the table above.",
        caption=f"{ab}: dose-threshold sensitivity; n at each threshold is in the table above.",
        values=data["mean_change"])
    return out


def instrument_block(ctx: Ctx, code: str) -> str:
    s = ctx.result.summary
    rows = s[s["instrument"].astype(str) == code].reset_index(drop=True)
    ins = ctx.inst(code)
    title = f"{ctx.abbr(code)}: {ins.name}" if ins else code
    body = _instrument_intro(ctx, code, rows)
    body += _change_tables(ctx, code, rows, "outcome_summary")
    body += _methods_table(ctx, code, rows, "outcome_summary")
    body += _methods_figure(ctx, code, rows)
    body += _dose_block(ctx, code)
    return f'<section class="instrument" aria-labelledby="i-{slug(code)}"><h3 id="i-{slug(code)}">{esc(title)}</h3>' \
           f"{body}</section>"


def symptom_section(ctx: Ctx) -> str:
    codes = _instruments_of(ctx, ("symptom",))
    if not codes:
        return "<p>No paired symptom questionnaires in these data.</p>"
    body = "".join(guarded(ctx, f"Symptom change ({c})", lambda c=c: instrument_block(ctx, c)) for c in codes)
    body += guarded(ctx, "NHS Talking Therapies-style rates", lambda: talking_therapies_block(ctx))
    return body


def talking_therapies_block(ctx: Ctx) -> str:
    tt = ctx.result.talking_therapies
    if tt is None:  # a result made with ``talking_therapies=False``: the same table, made from it now
        from evalkit.outcomes import outcome_talking_therapies

        tt = outcome_talking_therapies(ctx.result)
    if tt.empty:
        return ""
    name = ctx.keep("talking_therapies", tt)
    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Measures", lambda r: esc(r.get("measure_set_label") or r.get("measure_set")), numeric=False),
            Column("Finished (n)", lambda r: cnt(r, "n_finished")),
            Column("Above cut-off at start (n)", lambda r: cnt(r, "n_caseness_start")),
            Column("Recovery", lambda r: pct_of(r, "pct_recovery", "n_recovery", "n_caseness_start")),
            Column("Reliable recovery", lambda r: pct_of(r, "pct_reliable_recovery", "n_reliable_recovery",
                                                         "n_caseness_start")),
            Column("Reliable improvement", lambda r: pct_of(r, "pct_reliable_improvement", "n_reliable_improvement",
                                                            "n_finished")),
            Column("Reliable deterioration", lambda r: pct_of(r, "pct_reliable_deterioration",
                                                              "n_reliable_deterioration", "n_finished"))]
    return ('<section class="instrument" aria-labelledby="i-tt"><h3 id="i-tt">NHS Talking Therapies-style rates</h3>'
            + table(tt, cols, caption="Recovery and reliable change counted as NHS Talking Therapies reports them",
                    name=name, note="Recovery: above the cut-off at the start and below it at the end, among those "
                                    f"above the cut-off at the start; percentages with {ctx.ci} (Wilson).")
            + "</section>")


def wellbeing_section(ctx: Ctx) -> str:
    codes = _instruments_of(ctx, ("wellbeing", "recovery", "loneliness", "other"))
    body = "".join(guarded(ctx, f"Wellbeing change ({c})", lambda c=c: instrument_block(ctx, c)) for c in codes)
    if not codes:
        body = "<p>No paired wellbeing or recovery questionnaires in these data.</p>"
    body += guarded(ctx, "Recovery from and within", lambda: recovery_block(ctx))
    return body


def recovery_block(ctx: Ctx) -> str:
    from evalkit.charts import estimate_chart

    rec = ctx.result.recovery
    name = ctx.keep("recovery", rec)
    if rec.empty:
        return ("<p>Recovery from and within needs mothers with a paired symptom questionnaire above its cut-off at "
                "the start and a paired wellbeing or recovery questionnaire; there are none in these data.</p>")
    wide = by_programme(rec, ctx.pids, "category")

    cats = [c for c in RECOVERY_LABELS if c in set(rec["category"].astype(str))]
    cols = [Column("Programme", lambda w: ctx.prog(w["programme_id"]), numeric=False)]
    cols += [Column(RECOVERY_LABELS[c], share_cell(c)) for c in cats]
    cols.append(Column("Mothers above a symptom cut-off at the start (n)", share_cell("total")))
    out = ("<h3>Recovery from and recovery within</h3>"
           "<p>Among mothers above a symptom cut-off at the start (with a paired symptom and a paired wellbeing or "
           "recovery questionnaire): <em>recovery from</em> symptoms means ending below the cut-off with reliable "
           "improvement; <em>recovery within</em> means wellbeing or personal recovery improved reliably while "
           "symptoms stayed above the cut-off, which peer support often aims for.</p>")
    out += table(wide, cols, caption="Recovery from and within, per programme", name=name,
                 note=f"Percentages of the mothers above a symptom cut-off at the start, with {ctx.ci} (Wilson). "
                      "Each mother is in one category.")
    order = [RECOVERY_LABELS[c] for c in cats]
    for pid in ctx.pids:
        data = rec[(rec["programme_id"].astype(str) == pid) & ~rec["is_total"].astype(bool)].copy()
        if data.empty:
            continue
        data["what"] = data["category"].astype(str).map(RECOVERY_LABELS)
        for c in ("pct", "pct_ci_low", "pct_ci_high", "n"):
            data[c] = pd.to_numeric(data[c], errors="coerce").astype(float)
        title = ctx.name(pid)
        out += ctx.figures.figure(
            lambda data=data: estimate_chart(data, label="what", estimate="pct", lower="pct_ci_low",
                                             upper="pct_ci_high", n="n", reference=None, sort=order,
                                             x_title=f"Share of mothers above a symptom cut-off at the start "
                                                     f"(%, {ctx.ci})", width=WIDTH),
            alt=f"Share of mothers in each recovery category, {title}, with confidence intervals; hidden figures "
                "are labelled. The numbers are in the table above.",
            caption=f"Recovery from and within, {title}: percentages with {ctx.ci}; n in the table above.",
            values=data["pct"])
    return out
