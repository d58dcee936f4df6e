"""A date cell means the same date in a one-row-per-mother ("wide") sheet as in the long canonical tables: the wide
reader reads dates by the rules of :mod:`evalkit.validation.dates` (the same forms, two-digit years in the 2000s,
day/month order decided per file and column, Excel date numbers with the ``excel_date_number`` warning)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.cli import main
from evalkit.readers.wide import DateAssumptions, MeasureColumn, WideMapping, detect_date_format, read_wide
from evalkit.validation import validate

TODAY = "2200-01-01"  # no date is in the future: only the reading of the dates is compared

_MAPPING = WideMapping(
    columns={"Ref no": "participant_id", "Programme": "programme_id", "Date referred": "referral_date",
             "Referred by": "referral_source"},
    scores={"EPDS at start": MeasureColumn("epds", "start")},
    score_dates={"EPDS start date": MeasureColumn("epds", "start")},
    assumptions=DateAssumptions(start_days_after_referral=None, end_days_per_session=None,
                                first_contact_from_start=False),
)

_FORMS = ("%d/%m/%Y", "%m/%d/%Y", "%d/%m/%y", "%d.%m.%y", "%d-%m-%Y", "%d %m %Y", "%Y-%m-%d", "%d %B %Y",
          "%d-%b-%y", "%B %d, %Y", "excel")


@st.composite
def date_texts(draw: st.DrawFn) -> str:
    """A date as providers write it (in 1990-2099, so two-digit years 90-99 occur), an Excel date number, or not a
    date at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["soon", "31/02/2025", "13/13/2025", "20250304", "2.5", "45720.5"]))
    day = draw(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)))
    form = draw(st.sampled_from(_FORMS))
    if form == "excel":
        return str((day - dt.date(1899, 12, 30)).days)
    return day.strftime(form)


def _outcome(result, table: str, column: str, ids: list[str]) -> dict[str, object]:  # noqa: ANN001
    """Per participant: the date stored, else the rules reported on that date cell."""
    out: dict[str, object] = {}
    stored = result.tables[table].set_index("participant_id")[column] if len(result.tables[table]) else {}
    report = result.report[(result.report["table"] == table) & (result.report["column"] == column)]
    for i, pid in enumerate(ids):
        if pid in stored:
            out[pid] = pd.Timestamp(stored[pid])
        else:
            out[pid] = frozenset(report.loc[report["source_row"] == i + 2, "rule"])
    return out


def _warnings(result, table: str, column: str) -> set[str]:  # noqa: ANN001
    rep = result.report
    return set(rep.loc[(rep["table"] == table) & (rep["column"] == column) & (rep["severity"] == "warning"), "rule"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(date_texts(), date_texts()), min_size=1, max_size=4))
def test_a_date_cell_reads_as_the_same_date_in_the_wide_and_the_long_layout(rows):
    referred = [r for r, _ in rows]
    completed = [c for _, c in rows]
    ids = [f"A{i}" for i in range(len(rows))]
    sheet = pd.DataFrame({"Ref no": ids, "Programme": "P-A", "Date referred": referred, "Referred by": "self",
                          "EPDS at start": "12", "EPDS start date": completed})
    wide = validate(read_wide(sheet, mapping=_MAPPING).raw, today=TODAY)
    long = validate({
        "participants": pd.DataFrame({"participant_id": ids, "programme_id": "P-A", "referral_date": referred,
                                      "referral_source": "self", "took_up": None}),
        "measures": pd.DataFrame({"programme_id": "P-A", "participant_id": ids, "instrument": "epds",
                                  "completed_on": completed, "timepoint": "start", "total": "12"}),
    }, today=TODAY)
    by_sheet: set[str] = set()
    for table, column in (("participants", "referral_date"), ("measures", "completed_on")):
        w, lo = _outcome(wide, table, column, ids), _outcome(long, table, column, ids)
        # the sheet is one file: a date the long file's column leaves ambiguous may be read in the order the
        # sheet's other date column decides, with a warning (the long layout holds them in two files); a
        # mother whose referral date is read so keeps her questionnaire (her row is not set aside)
        here = {pid for pid in ids if w[pid] != lo[pid] and lo[pid] == frozenset({"ambiguous_date"})}
        by_sheet |= here
        assert {pid: w[pid] for pid in ids if pid not in by_sheet} == \
            {pid: lo[pid] for pid in ids if pid not in by_sheet}, (table, rows)
        if not by_sheet:
            assert _warnings(wide, table, column) == _warnings(long, table, column), (table, rows)
            continue
        # and so may be checked against her questionnaire dates
        assert _warnings(long, table, column) <= _warnings(wide, table, column), (table, rows)
        assert _warnings(wide, table, column) - _warnings(long, table, column) <= \
            {"date_order_from_file", "before_referral"}, (table, rows)
        assert not here or "date_order_from_file" in _warnings(wide, table, column), (table, rows)


def test_day_month_order_is_decided_by_the_whole_column_as_in_the_long_layout():
    """13/01/2025 shows the column is day/month, so 03/04/2025 in the same column is 3 April (it was left unread
    and then reported as ambiguous)."""
    sheet = pd.DataFrame({"Ref no": ["A1", "A2"], "Programme": "P-A", "Date referred": ["13/01/2025", "03/04/2025"],
                          "Referred by": "self", "EPDS at start": "12", "EPDS start date": ["2025-05-01"] * 2})
    result = validate(read_wide(sheet, mapping=_MAPPING).raw, today=TODAY)
    stored = result.tables["participants"].set_index("participant_id")["referral_date"]
    assert stored["A2"] == pd.Timestamp("2025-04-03")
    assert "ambiguous_date" not in set(result.report["rule"])


def test_two_digit_years_are_in_the_2000s_as_in_the_long_layout():
    sheet = pd.DataFrame({"Ref no": ["A1"], "Programme": "P-A", "Date referred": ["13/01/95"], "Referred by": "self",
                          "EPDS at start": "12", "EPDS start date": ["4 Mar 96"]})
    result = validate(read_wide(sheet, mapping=_MAPPING).raw, today=TODAY)
    assert result.tables["participants"]["referral_date"].tolist() == [pd.Timestamp("2095-01-13")]
    assert result.tables["measures"]["completed_on"].tolist() == [pd.Timestamp("2096-03-04")]


def test_excel_date_numbers_date_the_assumed_questionnaires_and_derived_fields():
    """A referral date held as Excel's number (45720: 4 March 2025) dates the start score at referral + 14 days and
    gives the baby's age, as a written date would; a start date held as a number gives the first contact date."""
    sheet = pd.DataFrame({"Ref no": ["A1", "A2"], "Programme": "P-A", "Date referred": ["45720", "04/03/2025"],
                          "Referred by": "self", "Baby's DOB": ["45706", "18/02/2025"], "EPDS at start": ["12", "14"],
                          "EPDS at end": ["8", "9"], "EPDS end date": ["45800", "23/05/2025"],
                          "No. of sessions attended": ["6", "6"]})
    r = read_wide(sheet)
    m = r.raw["measures"]
    starts = m[m["timepoint"].str.startswith("start [date assumed: referral date + 14 days]")]
    assert starts.set_index("participant_id")["completed_on"].to_dict() == {"A1": "2025-03-18", "A2": "2025-03-18"}
    p = r.raw["participants"].set_index("participant_id")
    assert p.loc["A1", "baby_age_weeks"] == p.loc["A2", "baby_age_weeks"] == "2"
    assert not (r.problems["rule"] == "derived_value").any()
    result = validate(r.raw, today=TODAY)
    ends = result.tables["measures"].set_index("participant_id")
    assert set(ends.loc[ends["timepoint"] == "end", "completed_on"]) == {pd.Timestamp("2025-05-23")}
    # 04/03/2025 reads two ways: the sheet's other date columns (18/02/2025, 23/05/2025) show day/month
    assert _warnings(result, "participants", "referral_date") == {"excel_date_number", "date_order_from_file"}
    assert _warnings(result, "measures", "completed_on") == {"excel_date_number"}


def test_a_column_of_excel_date_numbers_is_a_date_column_in_the_proposal():
    f = detect_date_format("Date referred", pd.Series(["45720", "45721"]))
    assert (f.format, f.status) == ("YYYY-MM-DD", "iso")


def test_excel_date_numbers_in_a_wide_file_are_reported_by_evalkit_validate(tmp_path, capsys):
    path = tmp_path / "mums.csv"
    path.write_text("Ref no,Programme,Date referred,Referred by,EPDS at start,EPDS start date,EPDS at end,"
                    "EPDS end date\n"
                    "A1,P-A,45720,self,15,45727,9,24/05/2025\n"
                    "A2,P-A,13/03/2025,self,12,20/03/2025,8,45800\n")
    code = main(["validate", str(path), "--today", "2026-01-01", "--format", "json"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    problems = json.loads(out)["problems"]
    excel = {(p["table"], p["column"]): p["message"] for p in problems if p["rule"] == "excel_date_number"}
    assert set(excel) == {("participants", "referral_date"), ("measures", "completed_on")}
    assert "row 2: 45720 read as 2025-03-04" in excel[("participants", "referral_date")]
    assert "45727 read as 2025-03-11" in excel[("measures", "completed_on")]
    assert "45800 read as 2025-05-23" in excel[("measures", "completed_on")]
    assert code in (0, 1)
    assert not any(p["rule"] in ("type", "ambiguous_date", "no_date") for p in problems)


# --------------------------------------------------------------------------- a stated date format

_STATED = ("DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YY", "YYYY-MM-DD", "DD-MM-YYYY", "DD MM YYYY")


def _long_frames(ids, referred, completed, formats):  # noqa: ANN001, ANN202
    """The long layout of the same cells, with the date formats a column mapping states (as read_file notes them)."""
    from evalkit.column_mapping import ColumnMapping
    from evalkit.readers.notes import empty_notes, with_notes

    stated = ColumnMapping(date_formats=formats).strftime_formats()
    participants = pd.DataFrame({"participant_id": ids, "programme_id": "P-A", "referral_date": referred,
                                 "referral_source": "self", "took_up": None})
    measures = pd.DataFrame({"programme_id": "P-A", "participant_id": ids, "instrument": "epds",
                             "completed_on": completed, "timepoint": "start", "total": "12"})
    out = {}
    for name, frame in (("participants", participants), ("measures", measures)):
        notes = empty_notes()
        notes["date_formats"] = {c: f for c, f in stated.items() if c in frame.columns}
        out[name] = with_notes(frame, notes)
    return out


def _date_messages(result, table: str, column: str) -> set[tuple[int, str, str]]:  # noqa: ANN001
    """(row, rule, message after its 'Row N, column X: ' prefix) of the problems on one date column."""
    rep = result.report[(result.report["table"] == table) & (result.report["column"] == column)]
    return {(int(r.source_row), str(r.rule), str(r.message).split(": ", 1)[1]) for r in rep.itertuples(index=False)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(date_texts(), date_texts()), min_size=1, max_size=4),
       st.sampled_from(_STATED), st.sampled_from(_STATED))
def test_a_stated_date_format_reads_a_wide_file_as_it_reads_the_long_file(rows, referral_format, completed_format):
    """Under the same stated format, each cell is read (or refused, with the same message) alike in both layouts:
    the format is the format, not only a day/month order ('3.4.25' is not DD/MM/YYYY)."""
    referred = [r for r, _ in rows]
    completed = [c for _, c in rows]
    ids = [f"A{i}" for i in range(len(rows))]
    sheet = pd.DataFrame({"Ref no": ids, "Programme": "P-A", "Date referred": referred, "Referred by": "self",
                          "EPDS at start": "12", "EPDS start date": completed})
    mapping = replace(_MAPPING, date_formats={"Date referred": referral_format, "EPDS start date": completed_format})
    wide = validate(read_wide(sheet, mapping=mapping).raw, today=TODAY)
    long = validate(_long_frames(ids, referred, completed,
                                 {"referral_date": referral_format, "completed_on": completed_format}), today=TODAY)
    for table, column in (("participants", "referral_date"), ("measures", "completed_on")):
        assert _outcome(wide, table, column, ids) == _outcome(long, table, column, ids), (table, rows)
        assert _date_messages(wide, table, column) == _date_messages(long, table, column), (table, rows)


def test_a_cell_that_is_no_date_in_the_stated_order_is_refused_not_read_the_other_way():
    """'04/13/2025' is no date day/month/year; stated DD/MM/YYYY, it is refused as the long layout refuses it (it
    was passed on unread and validation read it as 13 April 2025)."""
    sheet = pd.DataFrame({"Ref no": ["A1", "A2"], "Programme": "P-A", "Date referred": ["04/13/2025", "3.4.25"],
                          "Referred by": "self", "EPDS at start": "12", "EPDS start date": ["04/13/2025", "3.4.25"]})
    mapping = replace(_MAPPING, date_formats={"Date referred": "DD/MM/YYYY", "EPDS start date": "DD/MM/YYYY"})
    result = validate(read_wide(sheet, mapping=mapping).raw, today=TODAY)
    for table, column in (("participants", "referral_date"), ("measures", "completed_on")):
        assert _outcome(result, table, column, ["A1", "A2"]) == {"A1": frozenset({"type"}), "A2": frozenset({"type"})}
        messages = {m for _r, rule, m in _date_messages(result, table, column) if rule == "type"}
        assert messages == {f"'{v}' does not match the date format stated in your column mapping (%d/%m/%Y); "
                            "expected a date in that format, or an ISO date such as 2025-03-18."
                            for v in ("04/13/2025", "3.4.25")}


# --------------------------------------------------------------------------- one day/month order per file


def test_the_questionnaire_dates_of_a_wide_file_decide_their_order_together_as_in_the_long_layout():
    """'EPDS end date' alone reads two ways (03/04/2025), but the file's questionnaire dates together are
    day/month (13/01/2025 in 'EPDS start date'), as the long file's completed_on column holding both is."""
    mapping = replace(_MAPPING, scores={"EPDS at start": MeasureColumn("epds", "start"),
                                        "EPDS at end": MeasureColumn("epds", "end")},
                      score_dates={"EPDS start date": MeasureColumn("epds", "start"),
                                   "EPDS end date": MeasureColumn("epds", "end")})
    sheet = pd.DataFrame({"Ref no": ["A1", "A2"], "Programme": "P-A", "Date referred": ["2025-01-02"] * 2,
                          "Referred by": "self", "EPDS at start": ["12", "14"], "EPDS start date": ["13/01/2025", ""],
                          "EPDS at end": ["8", "9"], "EPDS end date": ["03/04/2025", "05/04/2025"]})
    wide = validate(read_wide(sheet, mapping=mapping).raw, today=TODAY)
    long = validate({
        "participants": pd.DataFrame({"participant_id": ["A1", "A2"], "programme_id": "P-A",
                                      "referral_date": "2025-01-02", "referral_source": "self", "took_up": None}),
        "measures": pd.DataFrame({"programme_id": "P-A", "participant_id": ["A1", "A1", "A2"], "instrument": "epds",
                                  "completed_on": ["13/01/2025", "03/04/2025", "05/04/2025"],
                                  "timepoint": ["start", "end", "end"], "total": ["12", "8", "9"]}),
    }, today=TODAY)
    for result in (wide, long):
        m = result.tables["measures"]
        assert sorted(m["completed_on"]) == [pd.Timestamp("2025-01-13"), pd.Timestamp("2025-04-03"),
                                             pd.Timestamp("2025-04-05")]
        assert "ambiguous_date" not in set(result.report["rule"])


def test_dates_no_column_of_a_wide_file_decides_are_read_in_the_order_the_file_decides():
    """Every referral date reads two ways, but the questionnaire dates of the same sheet are day/month: the
    referral dates are read day/month with a date_order_from_file warning naming the columns that decided."""
    sheet = pd.DataFrame({"Ref no": ["A1", "A2"], "Programme": "P-A", "Date referred": ["03/02/2025", "04/02/2025"],
                          "Referred by": "self", "EPDS at start": ["12", "14"],
                          "EPDS start date": ["13/02/2025", "20/02/2025"]})
    result = validate(read_wide(sheet, mapping=_MAPPING).raw, today=TODAY)
    stored = result.tables["participants"].set_index("participant_id")["referral_date"]
    assert stored.to_dict() == {"A1": pd.Timestamp("2025-02-03"), "A2": pd.Timestamp("2025-02-04")}
    rep = result.report[result.report["rule"] == "date_order_from_file"]
    assert set(rep["column"]) == {"referral_date"} and len(rep) == 2
    assert all("'EPDS start date'" in m and "(day/month)" in m for m in rep["message"])
