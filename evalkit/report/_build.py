"""Build the report: call the library once per analysis, lay out the sections, wrap them in one HTML page."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.memory import release_freed_memory
from evalkit.report import _appendix as A
from evalkit.report import _engagement as E
from evalkit.report import _mechanisms as M
from evalkit.report import _outcomes as O
from evalkit.report._ahead import compute_ahead, in_place
from evalkit.report._context import Ctx, guarded, protect_parameters, section
from evalkit.report._export import write_csv_zip, write_xlsx
from evalkit.report._figures import Figures
from evalkit.report._html import NOT_COMPUTED_NOTE, esc, scrub_small_counts
from evalkit.rules import PairingRules

DEFAULT_TITLE = "Peer support outcomes report"
DEFAULT_BREAKDOWNS: tuple[str, ...] = ("perinatal_stage", "referral_source")
"""The 'for whom' breakdowns a report shows unless told otherwise."""


@dataclass(frozen=True, eq=False)
class Report:
    """A finished report: one self-contained HTML page and every table in it.

    Attributes
    ----------
    html
        The whole report as one HTML document (inline CSS and SVG; no script,
        no external resource).
    tables
        Every table of the report, by name, as the library returned it
        (disclosure-controlled: hidden cells are missing and listed in the
        row's ``suppressed`` column). The first, ``about``, holds the
        provenance (title, time, evalkit version, data hash, rules, scope).
    title, generated_at, data_hash, version
        Provenance, also printed in the report.
    rules
        The :class:`~evalkit.rules.PairingRules` behind every figure.
    notes
        Notes from the analysis (evalkit's warnings, sections that could not
        be produced, figures left out), also printed in the report.
    """

    html: str = field(repr=False)
    tables: dict[str, pd.DataFrame] = field(repr=False)
    title: str
    generated_at: str
    data_hash: str
    version: str
    rules: PairingRules = field(repr=False)
    notes: tuple[str, ...] = ()

    def write(self, path: str | Path) -> Path:
        """Write the report: ``.xlsx`` -> :meth:`to_xlsx`, ``.zip`` -> :meth:`to_csv_zip`, else the HTML (UTF-8)."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".xlsx":
            return self.to_xlsx(path)
        if suffix == ".zip":
            return self.to_csv_zip(path)
        path.write_text(self.html, encoding="utf-8")
        return path

    def to_xlsx(self, path: str | Path) -> Path:
        """Every table as a sheet of one workbook (hidden cells as the marker; text made formula-safe)."""
        return write_xlsx(self.tables, path)

    def to_csv_zip(self, path: str | Path) -> Path:
        """Every table as a CSV file in one zip file (hidden cells as the marker; text made formula-safe)."""
        return write_csv_zip(self.tables, path)


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _timestamp(value: dt.datetime | dt.date | str | None) -> str:
    if value is None:
        return _now()
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.strftime("%Y-%m-%dT%H:%M:%SZ")
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _restrict(tables: Mapping[str, pd.DataFrame], keep: set[str]) -> dict[str, pd.DataFrame]:
    return {k: (v[v["programme_id"].astype("string").isin(list(keep)).fillna(False).to_numpy()].reset_index(drop=True)
                if isinstance(v, pd.DataFrame) and "programme_id" in v.columns else v)
            for k, v in tables.items()}


def _all_programmes(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    ids: set[str] = set()
    for name in ("programmes", "participants"):
        t = tables.get(name)
        if isinstance(t, pd.DataFrame) and "programme_id" in t.columns:
            ids |= set(t["programme_id"].dropna().astype(str))
    return sorted(ids)


def _scoped_programmes(tables: Mapping[str, pd.DataFrame], scope: Any) -> set[str] | None:
    """The programme ids a scope may see in these tables (``None``: all of them): a provider's own
    (:meth:`~evalkit.access.Scope.own_programmes`), else :attr:`~evalkit.access.Scope.granted_programmes`."""
    if scope is None:
        return None
    if scope.role != "provider":
        granted = scope.granted_programmes
        return None if granted is None else set(granted)
    progs = tables.get("programmes")
    if progs is None or "provider" not in progs.columns:
        raise ValueError("a provider scope needs the programmes table with its provider column, to tell which "
                         "programmes are the provider's")
    return set(scope.own_programmes(progs))


def _describe_scope(scope: Any) -> str:
    if scope is None:
        return "not stated (all programmes in the data given)"
    if scope.role == "provider":
        return "provider: " + ", ".join(sorted(scope.providers))
    if scope.granted_programmes:
        return f"{scope.role}: programmes " + ", ".join(sorted(scope.granted_programmes))
    return scope.role


def build_report(
    tables: Mapping[str, pd.DataFrame],
    *,
    rules: PairingRules | None = None,
    title: str = DEFAULT_TITLE,
    programmes: Sequence[str] | None = None,
    scope: Any = None,
    generated_at: dt.datetime | dt.date | str | None = None,
    breakdowns: Sequence[str] = DEFAULT_BREAKDOWNS,
    models: bool = True,
    figures: bool = True,
) -> Report:
    """The outcomes report for funders and commissioners: one self-contained HTML file and its tables.

    Parameters
    ----------
    tables
        Canonical tables (``programmes``, ``participants``, ``measures``;
        ``contacts`` and ``group_sessions`` when kept), e.g. from
        :func:`evalkit.data_source.load_tables`.
    rules
        The :class:`~evalkit.rules.PairingRules` for every figure (default
        ``PairingRules()``); stated in the methods appendix.
    title
        The report's title (plain text).
    programmes
        Only these programme ids (default: every programme in ``tables``).
    scope
        The reader's :class:`~evalkit.access.Scope`. The report is aggregate,
        so every role may have it; the scope keeps only the programmes it may
        see (a provider's own, an evaluator's assigned ones, a researcher's
        ``programmes`` when set) and is named in the provenance. Access is
        still checked where data are loaded (:func:`report_from_store`).
    generated_at
        The generation time printed in the report (default: now, UTC); give
        it for reproducible output.
    breakdowns
        Context fields for the 'for whom' section (default perinatal stage
        and referral source; see :data:`evalkit.for_whom.BREAKDOWN_FIELDS`).
    models
        Include the mixed-model and multiple-imputation estimates (default
        True; they take most of the time).
    figures
        Draw figures (needs the optional ``vl-convert-python``; without it the
        report says figures are left out and keeps every table).

    Returns
    -------
    Report

    Notes
    -----
    Every figure comes from an evalkit function, disclosure-controlled there:
    :func:`evalkit.outcomes.evaluate_outcomes` (outcome summary, dose
    sensitivity, NHS Talking Therapies-style rates, recovery from/within,
    instrument parameters), :mod:`evalkit.engagement` (take-up, funnel with
    reasons, attendance, endings, head counts), :func:`evalkit.for_whom.for_whom`,
    :mod:`evalkit.mechanisms` (mechanism profile, ending distress, exploratory
    C-M-O models), :func:`evalkit.readers.wide.limitations`,
    :func:`evalkit.summary.data_hash`. Counts the library does not protect at
    source (``n_sd`` of the instrument parameters, ``n``/``n_events`` of the
    exploratory models, counts of people quoted in library notes) are
    protected here with the same rules. No individual-level table (episode
    changes, the safety list, the conversation list) is part of the report.
    evalkit's domain warnings become notes in the report instead of being
    raised.

    Examples
    --------
    >>> from evalkit.data_source import example_tables
    >>> from evalkit.report import build_report
    >>> report = build_report(example_tables(), models=False, figures=False)  # doctest: +SKIP
    >>> report.write("report.html")  # doctest: +SKIP
    """
    from evalkit.errors import EvalkitWarning

    rules = PairingRules() if rules is None else rules
    if not isinstance(title, str) or not title.strip():
        raise ValueError(f"title must be non-empty text; got {title!r}")
    if isinstance(breakdowns, str):
        breakdowns = (breakdowns,)
    from evalkit.for_whom import BREAKDOWN_FIELDS

    unknown = [b for b in breakdowns if b not in BREAKDOWN_FIELDS]
    if unknown:
        raise ValueError(f"unknown breakdown field(s) {unknown}; choose from: {', '.join(BREAKDOWN_FIELDS)}")
    missing = [t for t in ("participants", "measures") if t not in tables]
    if missing:
        raise ValueError(f"tables must include 'participants' and 'measures' for a report; missing {missing} "
                         f"(got {sorted(tables)})")
    from evalkit.data_source import coerce_tables

    data = coerce_tables(tables)
    del tables  # the report lets go of tables it has read (see _assemble) unless the caller holds them too
    available = _all_programmes(data)
    keep: set[str] | None = None
    if programmes is not None:
        if isinstance(programmes, str):
            programmes = [programmes]
        unknown = sorted(set(map(str, programmes)) - set(available))
        if unknown:
            raise ValueError(f"programme(s) {unknown} are not in the data; available: {', '.join(available) or 'none'}")
        keep = set(map(str, programmes))
    scoped = _scoped_programmes(data, scope)
    if scoped is not None:
        keep = scoped if keep is None else keep & scoped
    if keep is not None:
        data = _restrict(data, keep)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvalkitWarning)
        html_text, out, notes, digest = _assemble(data, rules=rules, title=title, scope=scope,
                                                  generated_at=_timestamp(generated_at), breakdowns=breakdowns,
                                                  models=models, figures=figures, caught=caught)
    for w in caught:
        if not issubclass(w.category, EvalkitWarning):  # anything else goes back to the normal machinery
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    from evalkit import __version__

    about = out["about"]
    when = str(about.loc[about["item"] == "Generated", "value"].iloc[0])
    return Report(html=html_text, tables=out, title=title, generated_at=when, data_hash=digest,
                  version=__version__, rules=rules, notes=tuple(notes))


def _keep_experience_measures(data: dict[str, pd.DataFrame], rows: pd.DataFrame) -> None:
    """Keep as ``data``'s measures only ``rows``, the experience questionnaires'.

    All the report reads of the measures once the episodes are prepared: the 'what works' section and the
    questionnaire list look for these rows, and the mechanism analyses read them (with the episodes). Together with
    the contacts, which the episodes let go of once read (``release_contacts``), the report holds about 1.9 GB less
    at a million participants of issue #8's volume (contacts 1.3 GB, measures 0.6 GB, their columns shared with the
    scored measures, which the episodes do not keep either unless a sample reliability reads them:
    ``keep_scored_measures``) when the caller holds no other reference to the tables (as ``evalkit report`` does
    not).
    """
    data["measures"] = rows.reset_index(drop=True) if len(rows) else data["measures"].iloc[:0].copy()
    release_freed_memory()


def _assemble(data: dict[str, pd.DataFrame], *, rules: PairingRules, title: str, scope: Any, generated_at: str,
              breakdowns: Sequence[str], models: bool, figures: bool,
              caught: list[warnings.WarningMessage]) -> tuple[str, dict[str, pd.DataFrame], list[str], str]:
    from evalkit import __version__
    from evalkit.engagement import (
        attendance_summary,
        endings_summary,
        funnel_tables,
        head_counts,
        participant_path,
    )
    from evalkit.episodes import prepare_episodes
    from evalkit.errors import EvalkitWarning
    from evalkit.instruments import builtin_instruments
    from evalkit.mechanisms import experience_measures
    from evalkit.outcomes import evaluate_outcomes
    from evalkit.readers.wide import limitations
    from evalkit.summary import data_hash

    registry = builtin_instruments()
    digest = data_hash(data)
    # the last readers of the contacts, computed now (placed, and their warnings replayed, where they were)
    attendance = compute_ahead(lambda: attendance_summary(data, rules=rules))
    head_count = compute_ahead(lambda: head_counts(data, rules=rules))
    limits = compute_ahead(lambda: limitations(data))
    # with answers to the experience questionnaires, the worry about ending is the mechanism analyses' one reader
    # of the contacts (at the ending: on or after her last attended contact); the others read the experience rows,
    # the participants and the episodes. Nothing reads the contacts again (let go of once the episodes have read
    # them) nor more of the measures than these rows.
    pex_rows = experience_measures(data.get("measures"), registry)
    with_answers = M.experience_answers(pex_rows, registry)[1]
    # it reads no other measures than these rows (it selects them itself): handed only them, with what the readers
    # before freed handed back first
    release_freed_memory()
    ahead = {"ending_distress": compute_ahead(
        lambda rows=pex_rows: M.ending_distress_table({**data, "measures": rows}, rules))} if with_answers else {}
    # the scored measures (the measures' columns: about 1.4 GB at a million participants) are read after this only
    # by a sample reliability
    episodes = prepare_episodes(data, rules=rules, instruments=registry, keep_attended=False, release_contacts=True,
                                keep_scored_measures=rules.sample_reliability)
    _keep_experience_measures(data, pex_rows)
    del pex_rows
    result = evaluate_outcomes(episodes, rules=rules, instruments=registry, models=models)
    del episodes
    progs = data.get("programmes", pd.DataFrame(columns=["programme_id"]))
    pids = sorted(set(_all_programmes(data)))
    ctx = Ctx(tables=data, result=result, rules=rules, registry=registry, programmes=progs, pids=pids,
                figures=Figures(figures), breakdowns=tuple(breakdowns), ahead=ahead)
    about_rows = [("Title", title), ("Generated", generated_at), ("evalkit version", __version__),
                  ("Data fingerprint (SHA-256)", digest),
                  ("Programmes", ", ".join(pids) or "none"), ("Reader's scope", _describe_scope(scope)),
                  ("Rules", rules.short()), ("Disclosure control", "see methods appendix E")]
    about = pd.DataFrame(about_rows, columns=["item", "value"])
    ctx.out["about"] = about
    # the library's aggregate tables, computed once (the sections pick from them)
    ctx.keep("outcome_summary", result.summary)
    ctx.keep("dose_sensitivity", result.dose_sensitivity)
    ctx.keep("instrument_parameters", protect_parameters(result.parameters, rules))
    # each participant's path: the funnel, the endings and the breakdowns by field (for_whom's ``path``) read it;
    # held in the context, and let go of once its last readers, the breakdowns, are made
    ctx.cache["participant_path"] = participant_path(result.data, rules=rules)
    funnel: dict[str, Any] = {}  # the funnel, its exits and the take-up rate share one disclosure problem: solved once

    def funnel_part(part: str) -> pd.DataFrame:
        if "tables" not in funnel:
            funnel["tables"] = funnel_tables(ctx.cache["participant_path"], rules=rules)
        return getattr(funnel["tables"], part)

    ctx.compute("take_up", "Take-up", lambda: funnel_part("take_up_rate"))
    ctx.compute("funnel", "The take-up funnel", lambda: funnel_part("funnel"))
    ctx.compute("funnel_exits", "Reasons for leaving the funnel", lambda: funnel_part("exits"))
    ctx.compute("attendance", "Attendance", lambda: in_place(attendance))
    ctx.compute("endings", "Endings", lambda: endings_summary(ctx.cache["participant_path"], rules=rules))
    ctx.compute("head_counts", "Group head counts", lambda: in_place(head_count))

    sections = [
        ("programmes", "Programmes", O.programmes_section, None),
        ("headline", "Headline figures", O.headline_section, None),
        ("symptoms", "Symptom change", O.symptom_section,
         "How depression and anxiety scores changed between the first and a later questionnaire."),
        ("wellbeing", "Wellbeing and recovery", O.wellbeing_section,
         "How wellbeing and personal recovery changed, and recovery from symptoms against recovery within them."),
        ("engagement", "Engagement", E.engagement_section,
         "Who was referred, who took up the offer, how often mothers came, and how support ended."),
        ("for-whom", "For whom", E.for_whom_section, None),
        ("what-works", "What works for whom", M.what_works_section,
         "What mothers said about the support, and exploratory analyses of circumstances, mechanisms and outcomes."),
    ]
    body = []
    for sid, heading, fn, intro in sections:
        body.append(section(sid, heading, guarded(ctx, heading, lambda fn=fn: fn(ctx)), intro))
        if sid == "for-whom":  # the paths' last reader: the parts after it have their room
            ctx.cache.pop("participant_path", None)
    # methods appendix (its notes include everything the sections noted)
    appendix = [A.rules_block(ctx), A.instruments_block(ctx), A.definitions_block(ctx), A.completeness_block(ctx),
                A.disclosure_block(ctx)]
    lims = [scrub_small_counts(s, ctx.threshold, brackets=True) for s in in_place(limits)]
    ctx.keep("limitations", pd.DataFrame({"limitation": pd.Series(lims, dtype="string")}))
    warned = [scrub_small_counts(str(w.message), ctx.threshold) for w in caught
              if issubclass(w.category, EvalkitWarning)]
    notes = list(dict.fromkeys([*warned, *ctx.notes, *ctx.figures.notes,
                                *([ctx.figures.missing_note] if ctx.figures.missing_note else [])]))
    ctx.keep("notes", pd.DataFrame({"note": pd.Series(notes, dtype="string")}))
    appendix += [A.limitations_block(ctx, lims, notes), A.provenance_block(ctx, about)]
    body.append(section("methods", "Methods appendix", "".join(appendix)))
    order = ["about", *[k for k in ctx.out if k != "about"]]
    out = {k: ctx.out[k] for k in order}
    page = _page(title=title, generated_at=generated_at, version=__version__, digest=digest, rules=rules,
                 body="".join(body), pids=[(p, ctx.name(p)) for p in pids], figures_note=ctx.figures.missing_note)
    return page, out, notes, digest


CSS = """
:root{--ink:#1b1b1b;--muted:#555;--rule:#c8c8c8;--band:#f3f5f7;--accent:#0b5394;--warn:#8a4b00}
*{box-sizing:border-box}
html{font-family:"Source Sans Pro","Segoe UI",Helvetica,Arial,sans-serif;color:var(--ink);line-height:1.45}
body{margin:0;background:#fff}
main{max-width:72rem;margin:0 auto;padding:1.5rem 1.5rem 4rem}
h1{font-size:1.9rem;margin:.2rem 0 .4rem}
h2{font-size:1.45rem;margin:2.4rem 0 .6rem;padding-top:.6rem;border-top:3px solid var(--accent)}
h3{font-size:1.15rem;margin:1.6rem 0 .4rem}
h4{font-size:1rem;margin:1.2rem 0 .3rem}
p,li,dd{max-width:60rem}
.lead{font-size:1.05rem}
.sub,.meta,.note,.src,small{color:var(--muted)}
.note{font-size:.88rem;margin-top:.3rem}
.src{font-weight:normal;font-size:.8rem}
.pid{color:var(--muted);font-size:.82em;font-weight:normal;margin-left:.35em;white-space:nowrap}
.ci,.v{white-space:nowrap}
.box{border:1px solid var(--rule);background:var(--band);padding:.8rem 1rem;margin:1rem 0;border-radius:4px}
.warn{color:var(--warn);font-weight:600}
.caution{border-left:4px solid var(--warn);padding-left:.8rem}
.exploratory{border:2px dashed var(--warn);padding:.2rem 1rem .8rem;margin:1.2rem 0}
.exploratory h3{color:var(--warn)}
nav ol{columns:2;max-width:40rem}
.tbl{overflow-x:auto;margin:.8rem 0}
table{border-collapse:collapse;font-size:.9rem;min-width:50%}
caption{text-align:left;font-weight:600;padding:.3rem 0;caption-side:top}
th,td{border-bottom:1px solid var(--rule);padding:.3rem .55rem;vertical-align:top;text-align:left}
thead th{border-bottom:2px solid var(--ink);font-weight:600;vertical-align:bottom}
tbody th{font-weight:600}
tbody tr:nth-child(even){background:var(--band)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tr.total td,tr.total th{font-weight:600;border-top:1px solid var(--ink)}
tr.concern th{border-left:4px solid #D55E00}
.c{color:var(--muted);font-style:italic;white-space:nowrap}
.na{color:var(--muted)}
figure{margin:1rem 0 1.6rem}
figure .svg svg{max-width:100%;height:auto}
figcaption{font-size:.88rem;color:var(--muted)}
blockquote.rules{margin:.6rem 0;padding:.2rem 1rem;border-left:4px solid var(--accent);background:var(--band)}
dl.defs dt{font-weight:600;margin-top:.5rem}
dl.defs dd{margin-left:1rem}
code.wrap{word-break:break-all}
@media print{
  html{font-size:10pt}
  main{max-width:none;padding:0}
  h2{break-before:page;border-top:none}
  h2,h3,h4,caption{break-after:avoid}
  table,figure,tr{break-inside:avoid}
  .tbl{overflow:visible}
  tbody tr:nth-child(even){background:none}
  nav{display:none}
}
"""


def _page(*, title: str, generated_at: str, version: str, digest: str, rules: PairingRules, body: str,
          pids: list[tuple[str, str]], figures_note: str | None) -> str:
    from evalkit.disclosure import SUPPRESSED_MARKER

    toc = [("programmes", "Programmes"), ("headline", "Headline figures"), ("symptoms", "Symptom change"),
           ("wellbeing", "Wellbeing and recovery"), ("engagement", "Engagement"), ("for-whom", "For whom"),
           ("what-works", "What works for whom"), ("methods", "Methods appendix")]
    nav = "".join(f'<li><a href="#{sid}">{esc(label)}</a></li>' for sid, label in toc)
    names = ", ".join(esc(n) for _, n in pids) or "none"
    level = f"{round(rules.level * 100, 6):g}%"
    about = (
        f'<div class="box" role="note" aria-label="About this report"><p><strong>About this report.</strong> '
        f"Outcomes of community perinatal peer support for {names}. Every figure states the number of mothers it "
        f"rests on (n) and its {esc(level)} confidence interval; the rules that produced the figures are in the "
        f'<a href="#rules">methods appendix</a>. {esc(SUPPRESSED_MARKER)} marks a number hidden to protect '
        "mothers' privacy (see <a href=\"#disclosure\">disclosure control</a>). "
        f"{esc(NOT_COMPUTED_NOTE)} The report holds aggregate figures only, never a list of individual mothers.</p>"
        + (f"<p>{esc(figures_note)}</p>" if figures_note else "") + "</div>")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en-GB"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f'<meta name="generator" content="evalkit {esc(version)}">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{esc(title)}</h1><p class="sub">Generated {esc(generated_at)} with evalkit {esc(version)} · '
        f'data fingerprint <code title="{esc(digest)}">{esc(digest[:16])}…</code></p>{about}'
        f'<nav aria-label="Contents"><h2 style="border:none;margin-top:1rem;padding:0;font-size:1.1rem">Contents'
        f"</h2><ol>{nav}</ol></nav></header>"
        f"{body}"
        f'<footer><p class="sub">evalkit {esc(version)} · data fingerprint <code class="wrap">{esc(digest)}</code> · '
        f"generated {esc(generated_at)}</p></footer>"
        "</main></body></html>\n")
