"""The HTML report on the shipped example data: its tables are the library's, its appendix states the rules,
the data hash and the version, the HTML is well formed and accessible, exports round-trip, and no
individual-level content gets in."""

from __future__ import annotations

import re
import zipfile

import pandas as pd
import pytest
from test_report_support import check, find_table

from evalkit import __version__
from evalkit.data_source import example_tables
from evalkit.disclosure import disclosure_note
from evalkit.report import Report, build_report
from evalkit.report._export import sheet_names
from evalkit.report._html import number
from evalkit.rules import PairingRules

WHEN = "2026-01-31T09:00:00Z"


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return example_tables()


@pytest.fixture(scope="module")
def result(tables):  # noqa: ANN001, ANN201
    from evalkit.outcomes import evaluate_outcomes

    return evaluate_outcomes(tables, models=False)


@pytest.fixture(scope="module")
def report(tables) -> Report:  # noqa: ANN001
    return build_report(tables, models=False, figures=False, generated_at=WHEN)


@pytest.fixture(scope="module")
def parsed(report: Report):  # noqa: ANN201
    return check(report.html)


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_talking_therapies_block_from_a_result_made_without_the_rates(tables, result) -> None:  # noqa: ANN001
    """A result made with ``talking_therapies=False`` (as the dashboard's shared one is) gives the block the same
    table the default result holds, not an error."""
    from evalkit.instruments import builtin_instruments
    from evalkit.outcomes import evaluate_outcomes
    from evalkit.report._context import Ctx
    from evalkit.report._figures import Figures
    from evalkit.report._outcomes import talking_therapies_block

    without = evaluate_outcomes(tables, models=False, talking_therapies=False)
    assert without.talking_therapies is None

    def block(res) -> tuple[str, pd.DataFrame]:  # noqa: ANN001
        ctx = Ctx(tables=tables, result=res, rules=PairingRules(), registry=builtin_instruments(),
                  programmes=tables["programmes"], pids=sorted(tables["programmes"]["programme_id"]),
                  figures=Figures(False), breakdowns=())
        return talking_therapies_block(ctx), ctx.out["talking_therapies"]

    html_with, kept_with = block(result)
    html_without, kept_without = block(without)
    assert "Reliable recovery" in html_with
    assert html_without == html_with
    pd.testing.assert_frame_equal(kept_without, kept_with)


# --------------------------------------------------------------------------- figures equal the library's


def test_tables_are_the_library_tables(report: Report, result, tables) -> None:  # noqa: ANN001
    from evalkit import engagement as e
    from evalkit.for_whom import for_whom

    t = report.tables
    _same(t["outcome_summary"], result.summary)
    _same(t["dose_sensitivity"], result.dose_sensitivity)
    _same(t["recovery"], result.recovery)
    _same(t["talking_therapies"], result.talking_therapies)
    _same(t["take_up"], e.take_up_rate(result.data))
    _same(t["funnel"], e.take_up_funnel(result.data))
    _same(t["funnel_exits"], e.funnel_exits(result.data))
    _same(t["endings"], e.endings_summary(result.data))
    _same(t["attendance"], e.attendance_summary(tables))
    _same(t["head_counts"], e.head_counts(tables))
    _same(t["by_perinatal_stage_outcomes"], for_whom(result, "perinatal_stage"))
    _same(t["by_referral_source_take_up"], for_whom(result, "referral_source", what="take_up"))
    assert "participant_id" not in set().union(*(f.columns for f in t.values()))


def test_headline_figures_are_library_cells(report: Report, result) -> None:  # noqa: ANN001
    h = report.tables["headline"]
    s = result.summary
    for r in h[h["source"] == "outcome_summary.mean_change"].itertuples():
        lib = s[(s["programme_id"] == r.programme_id) & (s["instrument"] == r.instrument)].iloc[0]
        assert r.estimate == pytest.approx(lib["mean_change"]) and r.ci_low == pytest.approx(lib["ci_low"])
        assert r.n == lib["n_paired"]
    tu = report.tables["take_up"].set_index("programme_id")
    for r in h[h["source"] == "take_up.pct_took_up"].itertuples():
        assert r.estimate == pytest.approx(tu.loc[r.programme_id, "pct_took_up"])
        assert (r.n, r.of_n) == (tu.loc[r.programme_id, "n_took_up"], tu.loc[r.programme_id, "n_referred"])
    # every programme has referrals, take-up, engaged, completeness and change figures
    for pid in ("P-GROUP", "P-HOME", "P-PAID", "P-PHONE"):
        figs = " | ".join(h.loc[h["programme_id"] == pid, "figure"])
        for word in ("Referrals", "Took up", "Engaged", "Paired completeness", "Symptom change", "Wellbeing change",
                     "Recovered from symptoms", "Recovery within"):
            assert word in figs, (pid, word)


def test_headline_html_shows_the_library_numbers_with_n(report: Report, result, parsed) -> None:  # noqa: ANN001
    s = result.summary
    lib = s[(s["programme_id"] == "P-PHONE") & (s["instrument"] == "epds")].iloc[0]
    t = find_table(parsed, "Headline figures: Listening Line")
    row = next(r for r in t.rows if r[0].startswith("Symptom change, EPDS"))
    assert row[1] == f"{number(lib['mean_change'])} ({number(lib['ci_low'])} to {number(lib['ci_high'])}) points"
    assert row[2] == f"{int(lib['n_paired'])}"
    comp = next(r for r in t.rows if r[0].startswith("Paired completeness, EPDS"))
    assert comp[2] == f"{int(lib['n_paired'])} of {int(lib['n_engaged'])}"
    assert t.headers == ["Figure", "Result (95% CI)", "n (mothers)"]


def test_hidden_cells_are_shown_as_the_marker(report: Report, parsed) -> None:  # noqa: ANN001
    rec = report.tables["recovery"]
    hidden = rec[(rec["programme_id"] == "P-HOME") & (rec["category"] == "both")].iloc[0]
    assert pd.isna(hidden["n"]) and "n" in hidden["suppressed"]
    t = find_table(parsed, "Recovery from and within, per programme")
    home = next(r for r in t.rows if "P-HOME" in r[0])
    assert home[1].startswith("[c]")
    assert "[c]" in report.html and "hidden" in report.html


# --------------------------------------------------------------------------- methods appendix


def test_methods_appendix_states_rules_hash_version_time(report: Report, tables) -> None:  # noqa: ANN001
    import html

    from evalkit.summary import data_hash

    text = html.unescape(report.html)
    for line in PairingRules().describe().splitlines():
        assert line in text
    digest = data_hash(tables)
    assert report.data_hash == digest and digest in text
    assert f"evalkit {__version__}" in text and report.version == __version__
    assert WHEN in text and report.generated_at == WHEN
    assert disclosure_note() in text
    assert "evalkit ships no item wording" in text
    for heading in ("A. Pairing and reporting rules", "B. Questionnaires used", "C. Definitions",
                    "D. Numbers and completeness", "E. Disclosure control", "F. Limitations of these data",
                    "G. Provenance"):
        assert heading in text
    about = report.tables["about"].set_index("item")["value"]
    assert about["Data fingerprint (SHA-256)"] == digest and about["evalkit version"] == __version__
    inst = report.tables["instruments"].set_index("instrument")
    assert set(inst.index) == {"epds", "gad7", "phq9", "qpr15", "swemwbs", "wemwbs", "pex_group", "pex_one_to_one"}
    assert inst.loc["epds", "caseness_cutoff"].startswith(">= 13 (UK possible depression; verified; S1, S2)")
    assert "Matthey" in inst.loc["epds", "sources"] and "verified" in inst.loc["epds", "reliable_change_published"]
    assert "Royal College of Psychiatrists" in inst.loc["epds", "licence"]


def test_cutoff_words_come_from_the_instrument_file(tmp_path) -> None:  # noqa: ANN001
    import json
    from types import SimpleNamespace

    from evalkit.instruments import load_instruments
    from evalkit.report._appendix import instruments_frame

    (tmp_path / "epds_local.json").write_text(json.dumps({
        "extends": "epds", "code": "epds",
        "cutoffs": [{"name": "uk_possible_depression", "operator": ">=", "value": 13, "default": True,
                     "status": "verified", "source": "S1, S2", "label": "local words for the cut-off"}]}))
    registry = load_instruments([tmp_path])
    frame = instruments_frame(SimpleNamespace(out={}, inst=registry.get), ["epds"])  # type: ignore[arg-type]
    assert frame.set_index("instrument").loc["epds", "caseness_cutoff"] == \
        ">= 13 (local words for the cut-off; verified; S1, S2)"


def test_what_works_for_whom_concerns_first_and_exploratory_labelled(report: Report, tables, parsed) -> None:  # noqa: ANN001
    from evalkit.mechanisms import EXPLORATORY, ending_distress, mechanism_profile

    _same(report.tables["mechanism_profile"], mechanism_profile(tables, rules=PairingRules()))
    _same(report.tables["ending_distress"], ending_distress(tables, rules=PairingRules()))
    profiles = [t for t in parsed.tables if t.caption.startswith("Mechanism profile:")]
    assert profiles
    for t in profiles:  # what can go wrong (and worry about ending) first, then what helps
        about = [r[1] for r in t.rows]
        first_help = about.index("What helps")
        assert about[0] == "What can go wrong" and "What helps" not in about[:first_help]
        assert all(a == "What helps" for a in about[first_help:])
    cmo = [t for t in parsed.tables if "(table cmo_" in t.caption]
    assert len(cmo) == 2 and all(t.caption.startswith("EXPLORATORY") for t in cmo)
    assert EXPLORATORY in report.html.replace("&#x27;", "'")
    for name in ("cmo_take_up", "cmo_outcomes"):
        assert report.tables[name].attrs.get("exploratory") == EXPLORATORY


def test_model_estimates_are_said_to_be_missing_without_models(report: Report) -> None:
    assert "made without the mixed-model and multiple-imputation estimates" in report.html


def test_the_methods_table_has_a_column_for_each_change_method(tables, monkeypatch) -> None:  # noqa: ANN001
    """The columns of the table comparing ways of estimating change come from change_methods.CHANGE_METHODS: a
    method added there shows up, headed by its words, with its estimate, interval and n."""
    from evalkit import change_methods

    again = ("paired_again", "mean_change", "ci_low", "ci_high", "n_paired")  # the completers' columns once more
    monkeypatch.setattr(change_methods, "CHANGE_METHODS", (*change_methods.CHANGE_METHODS, again))
    monkeypatch.setattr(change_methods, "METHOD_WORDS", {**change_methods.METHOD_WORDS, "paired_again": "paired again"})
    r = build_report(tables, programmes=["P-PAID"], models=False, figures=False, breakdowns=(), generated_at=WHEN)
    t = find_table(check(r.html), "EPDS: completers compared")
    assert t.headers[:3] == ["Programme", "Completers: mean change (95% CI)", "Paired again: mean change (95% CI)"]
    assert t.rows and all(row[2] == row[1] for row in t.rows)


# --------------------------------------------------------------------------- well-formed, accessible, self-contained


def test_html_is_well_formed_self_contained_and_accessible(report: Report, parsed) -> None:  # noqa: ANN001
    assert parsed.errors == [] and parsed.stack == []
    tags = [t for t, _ in parsed.tags]
    assert tags.count("html") == 1 and tags.count("main") == 1 and tags.count("h1") == 1
    assert dict(parsed.tags[0][1]).get("lang") == "en-GB"
    assert "script" not in tags and "iframe" not in tags and "link" not in tags and "img" not in tags
    for tag, attrs in parsed.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        for a in ("href", "src"):
            if attrs.get(a):
                assert attrs[a].startswith("#"), (tag, attrs)  # in-page links only
    assert tags.count("table") == tags.count("caption") == len(parsed.tables) > 20
    for t in parsed.tables:
        assert t.headers and all(len(r) == len(t.headers) for r in t.rows), t.caption
    for _, attrs in parsed.tags:
        if attrs.get("scope") is not None:
            assert attrs["scope"] in ("col", "row")
    ids = [a["id"] for _, a in parsed.tags if a.get("id")]
    assert len(ids) == len(set(ids))
    for href in (a["href"] for _, a in parsed.tags if a.get("href")):
        assert href[1:] in ids, href


def test_figures_are_inline_svg_with_alt_text(tables) -> None:  # noqa: ANN001
    from evalkit.report import renderer_available

    if not renderer_available():
        pytest.skip("vl-convert-python is not installed (figures are optional)")
    r = build_report(tables, programmes=["P-PAID"], models=False, breakdowns=(), generated_at=WHEN)
    c = check(r.html)
    assert c.errors == [] and c.stack == []
    svgs = [a for t, a in c.tags if t == "svg"]
    assert len(svgs) >= 4
    assert all(a.get("role") == "img" and len(a.get("aria-label") or "") > 30 for a in svgs)
    assert r.html.count("<figcaption>") == len(svgs)


def test_without_the_renderer_the_report_says_figures_are_left_out(tables, monkeypatch) -> None:  # noqa: ANN001
    import evalkit.report._figures as f

    monkeypatch.setattr(f, "renderer_available", lambda: False)
    r = build_report(tables, programmes=["P-PAID"], models=False, breakdowns=(), generated_at=WHEN)
    import html

    assert "<svg" not in r.html
    assert f.MISSING_RENDERER in html.unescape(r.html) and f.MISSING_RENDERER in r.notes


# --------------------------------------------------------------------------- exports


def test_xlsx_round_trip(report: Report, tmp_path) -> None:  # noqa: ANN001
    path = report.write(tmp_path / "t.xlsx")  # write() dispatches on the suffix
    sheets = pd.read_excel(path, sheet_name=None)
    assert list(sheets) == list(sheet_names(list(report.tables)).values())
    back = sheets["outcome_summary"]
    lib = report.tables["outcome_summary"]
    assert len(back) == len(lib)
    for col in ("n_paired", "mean_change", "ci_low", "completeness"):
        for got, want, sup in zip(back[col], lib[col], lib["suppressed"], strict=True):
            if col in sup.split("; "):
                assert got == "[c]"
            else:
                assert float(got) == pytest.approx(float(want))
    assert sheets["about"].set_index("item").loc["Data fingerprint (SHA-256)", "value"] == report.data_hash


def test_csv_zip_and_write(report: Report, tmp_path) -> None:  # noqa: ANN001
    z = report.write(tmp_path / "t.zip")
    with zipfile.ZipFile(z) as f:
        names = f.namelist()
        assert "about.csv" in names and "outcome_summary.csv" in names
        head = f.read("recovery.csv").decode("utf-8-sig").splitlines()[0]
        assert head.startswith("programme_id,category,n")
    assert report.write(tmp_path / "r.html").read_text(encoding="utf-8") == report.html


def test_sheet_names_are_valid_and_unique() -> None:
    names = sheet_names(["by_english_main_language_outcomes", "by_english_main_language_outcomes_x", "a[1]:b"])
    assert all(len(n) <= 31 for n in names.values()) and len(set(names.values())) == 3
    assert names["a[1]:b"] == "a_1__b"


# --------------------------------------------------------------------------- no individual-level content


def test_no_individual_level_content(report: Report, tables) -> None:  # noqa: ANN001
    ids = set(tables["participants"]["participant_id"].astype(str))
    sessions = set(tables["group_sessions"]["group_session_id"].astype(str))
    words = set(re.findall(r"[A-Za-z0-9_-]+", report.html))
    assert not (ids & words), sorted(ids & words)[:5]
    assert not (sessions & words)
    assert not re.search(r"\bM\d{4}\b|\bp_[0-9a-f]{6,}", report.html)
    assert "safety" not in " ".join(report.tables).lower()
    for name, frame in report.tables.items():
        assert not frame.attrs.get("individual_level"), name
        for c in ("participant_id", "group_session_id", "peer_supporter_id", "baseline_score", "endpoint_score"):
            assert c not in frame.columns, (name, c)


# --------------------------------------------------------------------------- choosing programmes and scope


def test_programmes_and_scope_choose_what_is_reported(tables) -> None:  # noqa: ANN001
    from evalkit.access import Scope

    with pytest.raises(ValueError, match=r"not in the data; available: P-GROUP"):
        build_report(tables, programmes=["NOPE"], models=False, figures=False)
    with pytest.raises(ValueError, match="unknown breakdown"):
        build_report(tables, breakdowns=("shoe_size",), models=False, figures=False)
    r = build_report(tables, scope=Scope.for_provider("Riverside Family Support"), models=False, figures=False,
                     breakdowns=())
    assert set(r.tables["outcome_summary"]["programme_id"]) == {"P-HOME"}
    assert "Riverside Family Support" in r.tables["about"].set_index("item").loc["Reader's scope", "value"]
    assert "Bumps and Babes" not in r.html


def test_limitations_of_totals_only_data_without_contact_rows(tables) -> None:  # noqa: ANN001
    import html

    from evalkit.readers.wide import limitations
    from evalkit.scoring import score

    m = tables["measures"]
    items = [c for c in m.columns if re.fullmatch(r"item_\d+", c)]
    totals = m.drop(columns=items).assign(total=score(m)["raw_score"].to_numpy())
    p = tables["participants"].copy()
    attended = tables["contacts"][tables["contacts"]["status"] == "attended"].groupby("participant_id").size()
    p["sessions_attended"] = p["participant_id"].map(attended).fillna(0).astype(int)
    t = {"programmes": tables["programmes"], "participants": p, "measures": totals}
    r = build_report(t, programmes=["P-PAID"], models=False, figures=False, breakdowns=(), generated_at=WHEN)
    want = limitations({k: v[v["programme_id"] == "P-PAID"] for k, v in t.items()})
    assert len(want) >= 3 and list(r.tables["limitations"]["limitation"]) == want
    text = html.unescape(r.html)
    assert all(s in text for s in want)
    assert "hold a total score only" in text and "no contact rows" in text


@pytest.mark.parametrize("case", ["none", "totals only"])
def test_what_works_says_why_there_is_no_mechanism_profile(tables, case: str) -> None:  # noqa: ANN001
    m = tables["measures"]
    pex = m["instrument"].isin(["pex_group", "pex_one_to_one"]).to_numpy()
    assert pex.any()
    if case == "none":
        measures = m[~pex]
    else:  # the questionnaires' totals kept, the answers to the statements blanked
        items = [c for c in m.columns if re.fullmatch(r"item_\d+", str(c))]
        measures = m.copy()
        measures.loc[pex, items] = pd.NA
    r = build_report({**tables, "measures": measures}, programmes=["P-PAID"], models=False, figures=False,
                     breakdowns=(), generated_at=WHEN)
    said = {"none": "No peer-support experience questionnaires (PEX-G, PEX-1) in these data",
            "totals only": "hold totals only; the mechanism profile and the models below need the answer"}[case]
    assert said in r.html
    assert "mechanism_profile" not in r.tables and "<h3>Mechanism profile</h3>" not in r.html
