"""The report as a door out of the library: hostile text from the data is printed, never run, and no count
below the suppression threshold leaves through it (tables, workbook, HTML cells or sentences)."""

from __future__ import annotations

import html
import re

import pandas as pd
import pytest
from test_report_support import check, small_counts

from evalkit.data_source import example_tables
from evalkit.report import Report, build_report, renderer_available

HOSTILE = ('<script>alert(1)</script>', '" onmouseover="x', "<img src=x onerror=alert(2)>", "=HYPERLINK(\"http://x\")")
THRESHOLD = 5


def _only(tables: dict[str, pd.DataFrame], participants: set[str]) -> dict[str, pd.DataFrame]:
    out = {}
    for k, v in tables.items():
        if "participant_id" in v.columns:
            v = v[v["participant_id"].astype(str).isin(participants)]
        out[k] = v.reset_index(drop=True)
    return out


@pytest.fixture(scope="module")
def hostile_report() -> Report:
    t = {k: v.copy() for k, v in example_tables().items()}
    keep = {"P-PHONE"}
    t = {k: (v[v["programme_id"].isin(keep)].reset_index(drop=True) if "programme_id" in v.columns else v)
         for k, v in t.items()}
    p = t["programmes"].astype({"name": object, "provider": object, "region": object, "eligibility": object})
    p.loc[0, ["name", "provider", "region", "eligibility"]] = list(HOSTILE)
    t["programmes"] = p
    part = t["participants"].astype({"referral_source": object})
    part.loc[part.index[:40], "referral_source"] = HOSTILE[0]  # a column value shown in the 'for whom' tables
    part.loc[part.index[40:80], "referral_source"] = HOSTILE[1]
    t["participants"] = part
    m = t["measures"].astype({"timepoint": object})  # a mapping note (an assumed-date mark of the wide reader)
    m.loc[m.index[:3], "timepoint"] = f"end [date assumed: {HOSTILE[0]}{HOSTILE[1]}]"
    t["measures"] = m
    return build_report(t, title=f"Report {HOSTILE[0]}", models=True, figures=renderer_available(),
                        generated_at="2026-01-31")


def test_hostile_text_is_escaped_everywhere(hostile_report: Report) -> None:
    r = hostile_report
    assert not re.search(r"<\s*script", r.html, re.I)
    assert "<img" not in r.html
    c = check(r.html)
    assert c.errors == [] and c.stack == []
    for tag, attrs in c.tags:
        assert not any(a.lower().startswith("on") for a in attrs), (tag, attrs)
        assert tag not in ("script", "img", "iframe")
    text = "".join(c.text)
    for h in HOSTILE[:3]:
        assert h in text  # printed as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in r.html
    # the mapping note reached the limitations, escaped; its count (3 scores) is hidden
    lim = " ".join(r.tables["limitations"]["limitation"])
    assert HOSTILE[0] in lim and "([c])" in lim and "(3)" not in lim
    assert "last scores at the" in html.unescape(r.html)
    # the 'for whom' tables show the hostile levels as text
    assert HOSTILE[1] in set(r.tables["by_referral_source_take_up"]["referral_source"].dropna())


def test_hostile_text_is_formula_safe_in_the_workbook(hostile_report: Report, tmp_path) -> None:  # noqa: ANN001
    from openpyxl import load_workbook

    wb = load_workbook(hostile_report.to_xlsx(tmp_path / "h.xlsx"))
    cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert HOSTILE[3] not in cells and "'" + HOSTILE[3] in cells
    assert not any(v.startswith(("=", "+", "@")) for v in cells)


def test_model_estimates_are_in_the_report(hostile_report: Report) -> None:
    s = hostile_report.tables["outcome_summary"]
    row = s[s["instrument"] == "epds"].iloc[0]
    assert pd.notna(row["mm_change"]) and pd.notna(row["mi_mean_change"])
    c = check(hostile_report.html)
    t = next(t for t in c.tables if t.caption.startswith("EPDS: completers compared"))
    assert t.headers[2].startswith("Mixed model") and t.headers[3].startswith("Multiple imputation")
    from evalkit.report._html import number

    assert t.rows[0][2].startswith(f"{number(row['mm_change'], 2)} ({number(row['mm_ci_low'], 2)} to ")
    assert t.rows[0][3].startswith(f"{number(row['mi_mean_change'], 2)} (")


# --------------------------------------------------------------------------- a small programme


@pytest.fixture(scope="module")
def small() -> tuple[Report, dict[str, pd.DataFrame]]:
    """P-PHONE cut down to 3 mothers paired on the EPDS and 4 who never took up the offer."""
    from evalkit.outcomes import evaluate_outcomes

    t = example_tables()
    t = {k: (v[v["programme_id"] == "P-PHONE"].reset_index(drop=True) if "programme_id" in v.columns else v)
         for k, v in t.items()}
    ch = evaluate_outcomes(t, models=False).changes
    paired = ch[(ch["instrument"] == "epds") & ch["paired"].astype(bool)]["participant_id"].astype(str)
    p = t["participants"]
    never = p.loc[~p["took_up"].astype("boolean").fillna(False), "participant_id"].astype(str)
    keep = set(paired.iloc[:3]) | set(never.iloc[:4])
    sub = _only(t, keep)
    rep = build_report(sub, models=False, figures=False, generated_at="2026-01-31")
    return rep, sub


def test_the_small_programme_really_is_small(small) -> None:  # noqa: ANN001
    from evalkit.outcomes import evaluate_outcomes

    _, sub = small
    ch = evaluate_outcomes(sub, models=False).changes
    assert int((ch["instrument"].eq("epds") & ch["paired"].astype(bool)).sum()) == 3
    assert len(sub["participants"]) == 7


def test_no_small_count_in_any_report_table(small) -> None:  # noqa: ANN001
    rep, _ = small
    bad = {name: small_counts(frame, THRESHOLD) for name, frame in rep.tables.items()}
    assert not {k: v for k, v in bad.items() if v}, bad
    # the paired n is hidden, and so is everything computed from it
    s = rep.tables["outcome_summary"]
    epds = s[s["instrument"] == "epds"].iloc[0]
    assert pd.isna(epds["n_paired"]) and pd.isna(epds["mean_change"]) and "n_paired" in epds["suppressed"]
    # counts the library does not protect at source are protected by the report
    par = rep.tables["instrument_parameters"]
    assert par["n_sd"].isna().all() and par["suppressed"].str.contains("n_sd").all()
    assert not par["sd_source"].str.contains(r"SD of [1-4] ").any()


def test_no_small_count_in_the_html(small) -> None:  # noqa: ANN001
    rep, _ = small
    c = check(rep.html)
    for t in c.tables:
        count_cols = [i for i, h in enumerate(t.headers) if h.endswith("(n)") or h.startswith("n ")]
        for row in t.rows:
            for i in count_cols:
                cell = row[i]
                if re.fullmatch(r"[\d,]+", cell):
                    assert not 1 <= int(cell.replace(",", "")) < THRESHOLD, (t.caption, row)
            for cell in row:
                for m in re.finditer(r"n = ([\d,]+)(?: of ([\d,]+))?", cell):
                    for g in m.groups():
                        if g is not None:
                            assert not 1 <= int(g.replace(",", "")) < THRESHOLD, (t.caption, cell)
                for m in re.finditer(r"\b([\d,]+) of ([\d,]+)\b", cell):
                    for g in m.groups():
                        assert not 1 <= int(g.replace(",", "")) < THRESHOLD, (t.caption, cell)
    text = html.unescape("".join(c.text))
    for m in re.finditer(r"\b(\d+) (?:mothers?|mother\(s\)|participants?|score\(s\)|paired baselines?)\b", text):
        assert not 1 <= int(m.group(1)) < THRESHOLD, text[max(0, m.start() - 80):m.end() + 20]
    assert "[c]" in rep.html


def test_small_programme_exports_show_the_marker(small, tmp_path) -> None:  # noqa: ANN001
    rep, _ = small
    sheets = pd.read_excel(rep.to_xlsx(tmp_path / "s.xlsx"), sheet_name=None)
    s = sheets["outcome_summary"]
    assert (s.loc[s["instrument"] == "epds", "n_paired"] == "[c]").all()
    for name, frame in sheets.items():
        assert not small_counts(frame, THRESHOLD), name
