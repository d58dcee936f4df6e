"""The report's methods appendix: rules, questionnaires, definitions, completeness, disclosure, limitations."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evalkit.disclosure import SUPPRESSED_MARKER, disclosure_note, hidden_columns
from evalkit.report._context import Ctx, role_rank
from evalkit.report._html import (
    HIDDEN_HTML,
    NOT_COMPUTED_NOTE,
    Column,
    bullet_list,
    cnt,
    esc,
    est_ci,
    fig,
    is_missing,
    table,
)

# --------------------------------------------------------------------------- methods appendix


def rules_block(ctx: Ctx) -> str:
    text = ctx.rules.describe()
    settings = pd.DataFrame({"setting": list(ctx.rules.to_dict()),
                             "value": [", ".join(map(str, v)) if isinstance(v, list) else ("" if v is None else str(v))
                                       for v in ctx.rules.to_dict().values()]})
    name = ctx.keep("pairing_rules", settings)
    cols = [Column("Setting", lambda r: f"<code>{esc(r['setting'])}</code>", numeric=False),
            Column("Value", lambda r: esc(r["value"]), numeric=False)]
    return ('<h3 id="rules">A. Pairing and reporting rules</h3><p>Every figure in this report was produced under these '
            'rules:</p><blockquote class="rules">' + bullet_list(text.splitlines()) + "</blockquote>"
            + table(settings, cols, caption="The rules as settings (evalkit PairingRules)", name=name))


_SOURCE_CODE = re.compile(r"\bS\d+[a-z]?\b")


def _fact_text(value: object, status: str, source: str, unit: str = "") -> str:
    if value is None or is_missing(value):
        return f"none ({status}; {source})" if source else "none"
    shown = f"{float(value):g}".replace("-", "\u2212") + unit
    return f"{shown} ({status}; {source})" if source else f"{shown} ({status})"


def instruments_frame(ctx: Ctx, codes: Sequence[str]) -> pd.DataFrame:
    """One row per instrument used: the facts from its file and the thresholds this report used (text)."""
    params = ctx.out.get("instrument_parameters", pd.DataFrame(columns=["instrument"]))
    rows = []
    for code in codes:
        ins = ctx.inst(code)
        if ins is None:
            continue
        d = ins.definition
        cut = ins.default_cutoff
        lic = dict(ins.licence)
        p = params[params["instrument"].astype(str) == code].to_dict("records") if len(params) else []
        used = p[0] if p else {}
        rc_used = ""
        if used:
            rc_used = (HIDDEN_TEXT if "rc_threshold" in hidden_columns(used) else
                       (f"{float(used['rc_threshold']):.2f} points" if not is_missing(used.get("rc_threshold"))
                        else "none"))
            if not is_missing(used.get("rc_threshold_source")):
                rc_used += f"; from: {used['rc_threshold_source']}"
        ships = str(lic.get("ships", ""))
        wording = ("evalkit ships no item wording for this questionnaire (scoring metadata only)"
                   if "never item wording" in ships else ships)
        srange = f"{ins.score_range[0]:g} to {ins.score_range[1]:g}" if ins.score_range else "not fixed"
        facts = [cut.source if cut else "", ins.reliability.source, ins.reliable_change.source,
                 ins.meaningful_change.source, str(lic.get("source", ""))]
        codes_cited = sorted({c for f in facts for c in _SOURCE_CODE.findall(f or "")},
                             key=lambda c: (int(re.sub(r"\D", "", c)), c))
        sources = dict(d.get("sources", {}))
        rows.append({
            "instrument": code, "name": ins.name, "abbreviation": d.get("abbreviation", ""),
            "version": d.get("version", ""), "role": ins.role,
            "scores": f"{srange}; {'higher' if ins.higher_is_better else 'lower'} is better",
            "caseness_cutoff": (f"{cut.operator} {cut.value:g} ({cut.label}; {cut.status}; {cut.source})"
                                if cut else "none"),
            "reliability": _fact_text(ins.reliability.value, ins.reliability.status, ins.reliability.source),
            "reliable_change_published": _fact_text(ins.reliable_change.value, ins.reliable_change.status,
                                                    ins.reliable_change.source, " points"),
            "reliable_change_used": rc_used,
            "meaningful_change": _fact_text(ins.meaningful_change.value, ins.meaningful_change.status,
                                            ins.meaningful_change.source, " points"),
            "missing_items": ("every item must be answered" if ins.max_missing == 0 else
                              f"at most {ins.max_missing} unanswered item{'s' if ins.max_missing != 1 else ''}"
                              + ("; the total is prorated" if ins.prorate else "; not prorated")),
            "licence": "; ".join(str(lic[k]) for k in ("holder", "terms") if lic.get(k))
                       + (f" ({lic['status']})" if lic.get("status") else ""),
            "item_wording": wording,
            "sources": " | ".join(f"{c}: {sources[c]}" for c in codes_cited if c in sources),
        })
    return pd.DataFrame(rows)


HIDDEN_TEXT = f"{SUPPRESSED_MARKER} (rests on a hidden small number)"


INSTRUMENT_FIELDS = (("name", "Questionnaire"), ("version", "Version"), ("scores", "Scores"),
                     ("caseness_cutoff", "Cut-off for caseness (source; verification)"),
                     ("reliability", "Reliability"), ("reliable_change_published", "Published reliable-change threshold"),
                     ("reliable_change_used", "Reliable-change threshold used in this report"),
                     ("meaningful_change", "Meaningful change"), ("missing_items", "Missing items"),
                     ("licence", "Licence"), ("item_wording", "Item wording"), ("sources", "Sources"))


def instruments_block(ctx: Ctx) -> str:
    s = ctx.result.summary
    codes = list(s["instrument"].astype(str).unique()) if len(s) else []
    from evalkit.mechanisms import experience_instruments

    m = ctx.tables.get("measures")
    if m is not None and len(m):
        used = set(m["instrument"].astype("string").str.lower().dropna())
        codes += [c for c in experience_instruments(ctx.registry) if c in used]
    codes = sorted(dict.fromkeys(codes), key=lambda c: (role_rank(ctx.inst(c).role if ctx.inst(c) else ""), c))
    frame = instruments_frame(ctx, codes)
    name = ctx.keep("instruments", frame)
    out = ['<h3 id="instruments">B. Questionnaires used</h3>',
           "<p>Scoring metadata, cut-offs, reliability and change thresholds come from evalkit's instrument files, "
           "each with its source and verification status (verified against the source, secondary, derived or "
           "unverified). <strong>evalkit ships no item wording</strong> for licensed questionnaires: it scores the "
           "answers providers record.</p>"]
    for r in frame.to_dict("records"):
        cols = [Column("Property", lambda x: esc(x["property"]), numeric=False),
                Column("Value", lambda x: esc(x["value"]), numeric=False)]
        items = [{"property": label, "value": r[k]} for k, label in INSTRUMENT_FIELDS if r.get(k)]
        out.append(table(items, cols, caption=f"{r['abbreviation'] or r['instrument']}: {r['name']}", name=name))
    params = ctx.out.get("instrument_parameters")
    if params is not None and len(params):
        pcols = [Column("Questionnaire", lambda r: esc(ctx.abbr(r["instrument"])), numeric=False),
                 Column("Reliability used", lambda r: fig(r, "reliability_used", 2)),
                 Column("SD used", lambda r: fig(r, "sd_used", 2)),
                 Column("SD from", lambda r: esc(r.get("sd_source")), numeric=False),
                 Column("Reliable-change threshold", lambda r: fig(r, "rc_threshold", 2)),
                 Column("Threshold from", lambda r: esc(r.get("rc_threshold_source")), numeric=False)]
        out.append(table(params, pcols, caption="Reliable-change parameters used in this report",
                         name="instrument_parameters"))
    return "".join(out)


def definitions_block(ctx: Ctx) -> str:
    from evalkit.glossary import TERMS

    skip = {"jacobson", "forest", "funnel", "heterogeneity", "subgroup", "meta_regression", "pooled",
            "self_harm_flag", "trajectory", "referrals", "unchanged", "improved", "deteriorated", "harmed", "gap"}
    rows = [{"term": k, "label": lab, "definition": line} for k, (lab, line) in TERMS.items() if k not in skip]
    frame = pd.DataFrame(rows)
    ctx.keep("definitions", frame)
    items = "".join(f"<dt>{esc(r['label'])}</dt><dd>{esc(r['definition'])}</dd>" for r in rows)
    return f'<h3 id="definitions">C. Definitions</h3><dl class="defs">{items}</dl>'


def completeness_block(ctx: Ctx) -> str:
    from evalkit.episodes import UNPAIRED_REASONS

    s = ctx.result.summary
    if s.empty:
        return '<h3 id="completeness">D. Numbers and completeness</h3><p>No questionnaires in these data.</p>'

    def reasons(r: Mapping[str, Any]) -> str:
        parts = []
        for reason in (*UNPAIRED_REASONS, "engaged_no_score"):
            col = f"n_unpaired_{reason}" if reason != "engaged_no_score" else "n_engaged_no_score"
            if col not in r:
                continue
            v = r.get(col)
            if col in hidden_columns(r):
                parts.append(f"{esc(reason.replace('_', ' '))}: {HIDDEN_HTML}")
            elif not is_missing(v) and int(v) > 0:
                parts.append(f"{esc(reason.replace('_', ' '))}: {esc(int(v))}")
        return "; ".join(parts) or "none"

    cols = [Column("Programme", lambda r: ctx.prog(r["programme_id"]), numeric=False),
            Column("Questionnaire", lambda r: esc(ctx.abbr(r["instrument"])), numeric=False),
            Column("With a valid score (n)", lambda r: cnt(r, "n_episodes")),
            Column("Engaged (n)", lambda r: cnt(r, "n_engaged")),
            Column("Paired (n)", lambda r: cnt(r, "n_paired")),
            Column(f"Completeness ({ctx.ci})", lambda r: est_ci(r, "completeness", "completeness_ci_low",
                                                                "completeness_ci_high", 0, "%")),
            Column("Engaged but not paired, by reason (n)", reasons, numeric=False)]
    return ('<h3 id="completeness">D. Numbers and completeness</h3>'
            + table(s, cols, caption="Who the change figures rest on", name="outcome_summary",
                    note="Engaged: attended at least the minimum number of contacts. Completeness: paired of engaged. "
                         "Low completeness means the change figures may not speak for every engaged mother; compare "
                         "the completers with the model estimates in each questionnaire's section."))


def disclosure_block(ctx: Ctx) -> str:
    r = ctx.rules
    note = disclosure_note(threshold=r.suppression_threshold, show_zero=r.show_zero, rounding_base=r.rounding_base)
    return ('<h3 id="disclosure">E. Disclosure control</h3>'
            f"<p>{esc(note)}</p><p>Hidden cells are shown as {esc(SUPPRESSED_MARKER)} in every table, in the "
            "workbook and in the CSV files; cells hidden because they are small and cells hidden so that a small "
            "one cannot be worked out are shown the same way on purpose. No list of individual mothers (such as "
            f"the safety follow-up list) is part of this report.</p><p>{esc(NOT_COMPUTED_NOTE)}</p>")


def limitations_block(ctx: Ctx, sentences: Sequence[str], notes: Sequence[str]) -> str:
    out = ['<h3 id="limitations">F. Limitations of these data</h3>']
    if sentences:
        out.append(bullet_list(sentences))
    else:
        out.append("<p>The data hold item answers and contact rows, so nothing in this report is limited by the "
                   "shape of the data.</p>")
    if notes:
        out.append("<p>Notes from the analysis:</p>" + bullet_list(notes))
    out.append("<p>These are observational data without a comparison group: change over time is not proof that the "
               "support caused it (people often improve with time, and extreme first scores tend to move towards "
               "the average).</p>")
    return "".join(out)


def provenance_block(ctx: Ctx, about: pd.DataFrame) -> str:
    cols = [Column("Item", lambda r: esc(r["item"]), numeric=False),
            Column("Value", lambda r: f'<code class="wrap">{esc(r["value"])}</code>' if r["item"] in
                   ("Data fingerprint (SHA-256)",) else esc(r["value"]), numeric=False)]
    return ('<h3 id="provenance">G. Provenance</h3>'
            + table(about, cols, caption="How this report was made", name="about",
                    note="The data fingerprint is evalkit.summary.data_hash of the tables used: the same data always "
                         "give the same fingerprint, whatever the order of rows and columns."))
