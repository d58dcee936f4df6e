"""The report read as a commissioner reads it: every percentage's n is its own base, the markers are explained in
the text (not only in a tooltip), and no column name or internal code reaches the reader."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from test_report_support import check, find_table

from evalkit.data_source import example_tables
from evalkit.report import Report, build_report

WHEN = "2026-01-31T09:00:00Z"


@pytest.fixture(scope="module")
def report() -> Report:
    return build_report(example_tables(), models=False, figures=False, generated_at=WHEN)


@pytest.fixture(scope="module")
def parsed(report: Report):  # noqa: ANN201
    return check(report.html)


def _visible_text(page: str) -> str:
    """The words a reader sees: no tags, no attribute values, no style."""
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


def test_did_not_attend_n_is_the_base_of_its_percentage(report: Report, parsed) -> None:  # noqa: ANN001
    a = report.tables["attendance"]
    t = find_table(parsed, "How often mothers came")
    col = next(i for i, h in enumerate(t.headers) if h.startswith("Did not attend"))
    checked = 0
    for r in a.itertuples():
        if pd.isna(r.pct_dna) or pd.isna(r.n_contacts_dna) or pd.isna(r.n_contacts_attended):
            continue
        booked = int(r.n_contacts_booked)  # the library's booked total: attended plus missed
        assert booked == r.n_contacts_dna + r.n_contacts_attended
        assert r.pct_dna == pytest.approx(100 * r.n_contacts_dna / booked)
        row = next(x for x in t.rows if r.programme_id in x[0])
        assert row[col].endswith(f"n = {int(r.n_contacts_dna):,} of {booked:,}"), row[col]
        checked += 1
    assert checked >= 2


def _section(page: str, start: str, end: str) -> str:
    i = page.index(start)
    return page[i:page.index(end, i)]


def test_the_dash_is_explained_where_the_marker_is(report: Report) -> None:
    """The report prints '–' for figures not computed (e.g. the mixed model not fitted); a reader must be told in
    the text, beside the [c] explanation, that the dash hides nothing - a tooltip is not enough."""
    page = report.html
    assert "\u2013</span>" in page  # the report does print the dash
    about = _visible_text(_section(page, 'aria-label="About this report"', "</div>"))
    disclosure = _visible_text(_section(page, 'id="disclosure"', "<h3 "))
    for text in (about, disclosure):
        assert "[c]" in text
        assert re.search(r"\u2013 \(a dash\) marks a figure that was not computed", text), text


def test_no_column_names_or_internal_codes_in_the_reader_text(report: Report) -> None:
    """Column names of the upload tables and instrument-file codes are for providers and analysts; the reader sees
    words. (The 'rules as settings' table is the one deliberate exception: its rows are PairingRules' fields.)"""
    page = report.html
    i = page.index("The rules as settings")
    page = page[:i] + page[page.index("</table>", i):]
    text = _visible_text(page)
    for code in ("offered_date", "sessions_attended", "uk_possible_depression", "nhs_talking_therapies_caseness",
                 "probable_depression"):
        assert code not in text, code
    assert "Offered support (an offer date recorded, or took up)" in text
    assert ">= 13 (UK possible depression;" in text
    assert ">= 8 (NHS Talking Therapies caseness;" in text


def test_coded_values_are_shown_by_their_schema_labels(report: Report, parsed) -> None:  # noqa: ANN001
    """'gp', 'antenatal', 'one to one', 'co facilitated' are upload codes; the reader sees the data contract's
    labels for them ('GP', 'Pregnant', 'One-to-one', 'Peer and professional together')."""
    from evalkit.schemas import table_schema

    src = dict(table_schema("participants").field("referral_source").codes or {})
    t = find_table(parsed, "Take-up by referral source")
    shown = {r[1] for r in t.rows}
    assert "gp" not in shown and "health visitor" not in shown
    assert src["gp"] in shown and src["health_visitor"] in shown
    stage = find_table(parsed, "Change by perinatal stage")
    assert {r[2] for r in stage.rows} <= set(table_schema("participants").field("perinatal_stage").codes.values())
    progs = find_table(parsed, "Programmes in this report")
    fmt = dict(table_schema("programmes").field("format").codes or {})
    col = progs.headers.index("Format")
    assert {r[col] for r in progs.rows} <= set(fmt.values())
    assert "One-to-one" in {r[col] for r in progs.rows}
    meta = _visible_text(report.html.split('id="hl-P-HOME"', 1)[1].split("</p>", 1)[0])
    assert "One-to-one" in meta and "one to one" not in meta


def test_headline_recovery_rows_state_their_base(report: Report, parsed) -> None:  # noqa: ANN001
    """The recovery categories rest on mothers above a symptom cut-off who have BOTH a paired symptom score and a
    paired wellbeing or recovery score (evalkit.recovery: an inner join); the headline must say so, or 6 of 20 reads
    as a share of all 21 mothers above the EPDS cut-off."""
    t = find_table(parsed, "Headline figures: Perinatal peer supporter service")
    rec = [r for r in t.rows if r[0].startswith(("Recovered from symptoms", "Recovery within"))]
    assert len(rec) == 3
    for r in rec:
        assert r[0].endswith("(of mothers above a symptom cut-off at the start with a paired symptom score and a "
                             "paired wellbeing or recovery score)"), r[0]
    assert rec[0][2] == "6 of 20"
    summary = find_table(parsed, "EPDS: how many mothers reliably improved")
    paid = next(r for r in summary.rows if "P-PAID" in r[0])
    assert "21 of 26" in paid[4]  # more mothers above the EPDS cut-off than the recovery base


def test_the_n_of_a_percentage_is_explained_in_plain_words(report: Report) -> None:
    text = _visible_text(report.html)
    assert "n = mothers in the category of the mothers it is a share of" not in text
    assert ("below each, 'n = A of B' gives the mothers in the category (A) and the mothers it is a percentage "
            "of (B).") in text


def test_definitions_explain_both_kinds_of_hidden_cell_and_the_dash(report: Report) -> None:
    """Most [c] cells in the report are hidden so that a small one cannot be worked out, and rest on many mothers
    (the 'Offered support' step of a funnel with 120 referrals); the definition must not say every [c] rests on
    fewer than the minimum. The dash gets its own definition."""
    defs = _visible_text(_section(report.html, 'id="definitions"', "</dl>"))
    assert "rests on fewer than the minimum number of mothers, so nobody" not in defs
    assert "or because a small number could be worked out from it" in defs
    assert "Not computed (\u2013)" in defs


def test_headline_lead_does_not_call_every_hidden_cell_small(report: Report) -> None:
    lead = _visible_text(_section(report.html, '<p class="lead">Each result', "</p>"))
    assert "marks a hidden small number" not in lead
    assert "[c] marks a hidden number: a small one, or one from which a small one could be worked out." in lead
