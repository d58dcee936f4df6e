"""The one-row-per-mother reader: headers, derived fields, identifiers dropped, dated totals, limitations."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from evalkit.errors import InputFileError
from evalkit.readers import ColumnMapping, load_mapping, read_file
from evalkit.readers.wide import (
    DateAssumptions,
    MeasureColumn,
    WideMapping,
    assumed_dates,
    classify_header,
    limitations,
    read_wide,
)
from evalkit.validation import validate

TODAY = "2026-06-01"


def workbook(path: Path, headers: list[str], rows: list[list[object]], *, sheet: str = "Mums") -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(headers)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return path


@pytest.mark.parametrize(("header", "kind", "column", "instrument", "timepoint"), [
    ("EPDS at start", "score", None, "epds", "start"),
    ("EPDS at end", "score", None, "epds", "end"),
    ("WEMWBS first", "score", None, "wemwbs", "start"),
    ("WEMWBS last", "score", None, "wemwbs", "end"),
    ("PHQ-9 pre", "score", None, "phq9", "start"),
    ("PHQ9 post", "score", None, "phq9", "end"),
    ("GAD-7 T2", "score", None, "gad7", "T2"),
    ("gad 7 (T3)", "score", None, "gad7", "T3"),
    ("SWEMWBS follow-up", "score", None, "swemwbs", "end"),
    ("Short WEMWBS baseline", "score", None, "swemwbs", "start"),
    ("Baseline EPDS score", "score", None, "epds", "start"),
    ("CORE-10 final total", "score", None, "core10", "end"),
    ("EPDS mid-point", "score", None, "epds", "mid"),
    ("EPDS start date", "score_date", None, "epds", "start"),
    ("Date of EPDS at end", "score_date", None, "epds", "end"),
    ("Baseline date", "score_date", None, None, "start"),
    ("Date of end questionnaire", "score_date", None, None, "end"),
    ("EPDS change", "derived_score", None, "epds", None),
    ("EPDS start band", "unknown", None, "epds", None),
    ("EPDS", "unknown", None, "epds", None),
    ("Ref no", "participant", "participant_id", None, None),
    ("Date referred", "participant", "referral_date", None, None),
    ("Referred by", "participant", "referral_source", None, None),
    ("No. of sessions attended", "participant", "sessions_attended", None, None),
    ("Reason for leaving", "participant", "ending", None, None),
    ("Start date", "participant", "first_contact_date", None, None),
    ("End date", "participant", "end_date", None, None),
    ("Baby's DOB", "derive", "baby_dob", None, None),
    ("Mum's DOB", "derive", "mother_dob", None, None),
    ("Date of birth", "derive", "mother_dob", None, None),
    ("Due date", "derive", "due_date", None, None),
    ("Mum's age", "derive", "mother_age", None, None),
    ("Partner's DOB", "identifier", None, None, None),
    ("Postcode", "identifier", None, None, None),
    ("Mum's name", "identifier", None, None, None),
    ("Surname", "identifier", None, None, None),
    ("NHS no", "identifier", None, None, None),
    ("Mobile number", "identifier", None, None, None),
    ("E-mail", "identifier", None, None, None),
    ("Address line 1", "identifier", None, None, None),
    ("Keyworker", "unknown", None, None, None),
])
def test_header_words(header, kind, column, instrument, timepoint):
    role = classify_header(header)
    assert role.kind == kind
    if column is not None:
        assert role.column == column
    if instrument is not None:
        assert role.instrument == instrument
    if timepoint is not None:
        assert role.timepoint == timepoint


def test_baby_dob_becomes_age_in_weeks_and_stage_then_is_dropped(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "Baby's DOB", "Mum's DOB", "EPDS at start"], [
        ["A1", "13/03/2025", "01/03/2025", "14/03/1990", 12],   # 12 days old: 1 week; mother 34 (birthday tomorrow)
        ["A2", "13/03/2025", "13/03/2025", "13/03/2005", 10],   # born that day: 0 weeks; mother 20 today
        ["A3", "13/03/2025", "20/05/2025", "01/01/2008", 9],    # born after referral: pregnant at referral; 17
        ["A4", "13/03/2025", "01/01/2020", None, 8],             # over 3 years: no age derived
    ])
    r = read_wide(path, programme_id="P-A")
    p = r.raw["participants"].set_index("participant_id")
    assert p["baby_age_weeks"].tolist()[:2] == ["1", "0"]
    assert p.loc["A3", "perinatal_stage"] == "antenatal" and pd.isna(p.loc["A3", "baby_age_weeks"])
    assert p.loc["A1", "perinatal_stage"] == "postnatal"
    assert pd.isna(p.loc["A4", "baby_age_weeks"])
    assert p["age_band"].tolist()[:3] == ["30_34", "20_24", "under_20"]
    for column in ("Baby's DOB", "Mum's DOB"):
        assert column not in p.columns
    text = " ".join(p.map(str).to_numpy().ravel())
    assert "01/03/2025" not in text and "2025-03-01" not in text and "1990" not in text
    notes = r.problems
    antenatal = notes[(notes["rule"] == "derived_value") & (notes["source_row"] == 4)]
    assert "pregnant at referral" in antenatal["message"].iloc[0]
    assert "weeks pregnant cannot be derived" in antenatal["message"].iloc[0]
    assert (notes[(notes["rule"] == "derived_value") & (notes["source_row"] == 5)]["value"] == "(withheld)").all()
    assert set(r.dropped["header"]) == {"Baby's DOB", "Mum's DOB"}
    result = validate(r.raw, today=TODAY)
    assert result.tables["participants"]["baby_age_weeks"].tolist()[:2] == [1.0, 0.0]


def test_due_date_gives_weeks_pregnant(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "Due date", "EPDS at start"],
                    [["A1", "2025-03-13", "2025-05-01", 12]])
    p = read_wide(path, programme_id="P-A").raw["participants"]
    assert p["weeks_pregnant"].tolist() == ["33"]  # 7 weeks before the due date
    assert p["perinatal_stage"].tolist() == ["antenatal"]


def test_identifiers_found_by_value_are_dropped_even_under_a_harmless_header(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "Info", "Contact", "EPDS at start"], [
        ["A1", "13/03/2025", "999 000 0018", "amy@example.invalid", 12],
        ["A2", "14/03/2025", "999 000 0026", "beth@example.invalid", 10],
    ])
    r = read_wide(path, programme_id="P-A")
    assert set(r.dropped["header"]) == {"Info", "Contact"}
    assert set(r.dropped["evidence"]) == {"values"}
    flat = " ".join(str(v) for f in r.raw.values() for v in f.to_numpy().ravel())
    assert "999 000 0018" not in flat and "example.invalid" not in flat


def test_a_reference_column_holding_nhs_numbers_is_not_taken(tmp_path):
    from evalkit.mapping_proposal import propose_mapping

    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "EPDS at start"],
                    [["999 000 0018", "13/03/2025", 12], ["999 000 0026", "14/03/2025", 10]])
    p = propose_mapping(path, programme_id="P-A")
    assert "participant_id" in p.missing_required
    assert "NHS number" in p.identifying_columns["Ref no"]


def test_postcode_is_dropped_with_the_deprivation_advice(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "Postcode", "EPDS at start"],
                    [["A1", "13/03/2025", "ZZ99 3CZ", 12]])
    r = read_wide(path, programme_id="P-A")
    msg = r.problems.loc[r.problems["column"] == "Postcode", "message"].iloc[0]
    assert "deprivation decile" in msg and "never stored" in msg
    assert "ZZ99" not in " ".join(r.raw["participants"].map(str).to_numpy().ravel())


def dated_book(tmp_path: Path) -> Path:
    return workbook(tmp_path / "d.xlsx", [
        "Ref no", "Date referred", "Start date", "End date", "No. of sessions attended", "EPDS at start",
        "EPDS at end", "EPDS end date", "WEMWBS T1", "WEMWBS T2", "WEMWBS T3"], [
        ["A1", "06/01/2025", "13/01/2025", "31/03/2025", 8, 18, 9, "24/03/2025", 40, 45, 50],  # end dated by column
        ["A2", "06/01/2025", None, "31/03/2025", 6, 15, 12, None, 41, None, 47],  # start: referral + 14
        ["A3", "06/01/2025", "20/01/2025", None, 4, 14, 10, None, None, None, None],  # end: start + 7 x 4
        ["A4", "06/01/2025", "20/01/2025", None, None, 14, 10, None, None, None, None],  # end: no date at all
    ])


def test_dates_come_from_columns_else_from_stated_assumptions(tmp_path):
    r = read_wide(dated_book(tmp_path), programme_id="P-A")
    m = r.raw["measures"]
    epds = m[m["instrument"] == "epds"].set_index(["participant_id", "timepoint"])["completed_on"]
    assert epds[("A1", "start [date assumed: first contact date]")] == "2025-01-13"
    assert epds[("A1", "end")] == "2025-03-24"  # its own date column
    assert epds[("A2", "start [date assumed: referral date + 14 days] [first contact date assumed from this date]")] \
        == "2025-01-20"
    assert epds[("A2", "end [date assumed: end date]")] == "2025-03-31"
    assert epds[("A3", "end [date assumed: start date + 7 days per session attended]")] == "2025-02-17"
    assert pd.isna(epds[("A4", "end")])  # nothing to date it by: stays blank, reported
    no_date = r.problems[r.problems["rule"] == "no_date"]
    assert set(no_date["source_row"]) == {5, 2}  # A4's EPDS end; A1's WEMWBS T2 (a middle time point)
    # a middle time point without a date column is reported, not guessed
    w = m[(m["instrument"] == "wemwbs") & (m["participant_id"] == "A1")].set_index("timepoint")["completed_on"]
    assert pd.isna(w["T2"]) and w["T3 [date assumed: end date]"] == "2025-03-31"
    # first contact date assumed for A2 only
    p = r.raw["participants"].set_index("participant_id")
    assert p.loc["A2", "first_contact_date"] == "2025-01-20"
    sentences = r.limitations()
    assert any("Questionnaire dates were not in the data" in s and "referral date + 14 days (2)" in s
               for s in sentences)
    assert any("First contact dates were not in the data for 1 mother" in s for s in sentences)
    # validation sets aside only the rows without a date; the marks survive into the canonical tables
    result = validate(r.raw, today=TODAY)
    aside = result.quarantine["measures"]
    assert len(aside) == 2 and set(aside["participant_id"]) == {"A1", "A4"}
    marks = assumed_dates(result.tables["measures"])
    assert set(marks["assumption"]) >= {"date assumed: end date", "date assumed: referral date + 14 days",
                                        "first contact date assumed from this date"}
    assert any("assumed" in s for s in limitations(result.tables))


def test_assumptions_can_be_turned_off(tmp_path):
    mapping = WideMapping(
        columns={"Ref no": "participant_id", "Date referred": "referral_date", "Start date": "first_contact_date",
                 "End date": "end_date", "No. of sessions attended": "sessions_attended"},
        scores={"EPDS at start": MeasureColumn("epds", "start"), "EPDS at end": MeasureColumn("epds", "end")},
        score_dates={"EPDS end date": MeasureColumn("epds", "end")},
        constants={"programme_id": "P-A"},
        assumptions=DateAssumptions(start_days_after_referral=None, end_days_per_session=None,
                                    first_contact_from_start=False),
    )
    r = read_wide(dated_book(tmp_path), mapping=mapping)
    m = r.raw["measures"].set_index(["participant_id", "timepoint"])["completed_on"]
    assert pd.isna(m[("A2", "start")]) and pd.isna(m[("A3", "end")])
    assert not r.assumptions["rule"].str.contains("referral|per session").any()


def test_same_date_for_two_time_points_keeps_the_first(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "EPDS at start", "EPDS start date", "EPDS at end",
                                          "EPDS end date"], [["A1", "06/01/2025", 15, "13/01/2025", 9, "13/01/2025"]])
    r = read_wide(path, programme_id="P-A")
    assert r.raw["measures"]["total"].tolist() == ["15"]
    assert "same date" in r.problems.loc[r.problems["rule"] == "same_date", "message"].iloc[0]


def test_swemwbs_metric_scores_are_turned_back_into_raw_sums(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Date referred", "SWEMWBS start", "SWEMWBS end"],
                    [["A1", "06/01/2025", 19.25, 23]])
    r = read_wide(path, programme_id="P-A")
    assert r.raw["measures"]["total"].tolist() == ["21", "23"]
    assert (r.problems["rule"] == "converted_total").any()


def test_read_file_routes_wide_sheets_and_wide_mappings(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Programme", "Date referred", "EPDS at start"],
                    [["A1", "P-A", "13/01/2025", 12]])
    raw = read_file(path)
    assert set(raw) == {"participants", "measures"}
    assert raw["measures"]["programme_id"].tolist() == ["P-A"]
    mapping = WideMapping(columns={"Ref no": "participant_id", "Date referred": "referral_date",
                                   "Programme": "programme_id"},
                          scores={"EPDS at start": MeasureColumn("epds", "start")})
    mapping.to_json(tmp_path / "map.json")
    loaded = load_mapping(tmp_path / "map.json")
    assert isinstance(loaded, WideMapping) and loaded == mapping
    again = read_file(path, mapping=loaded)
    pd.testing.assert_frame_equal(again["measures"], raw["measures"])
    # an ordinary participants sheet is still read by the ordinary reader
    plain = workbook(tmp_path / "participants.xlsx", ["participant_id", "programme_id", "referral_date"],
                     [["A1", "P-A", "2025-01-13"]])
    assert set(read_file(plain)) == {"participants"}
    assert set(read_file(path, table="participants")) == {"participants"}


def test_wide_mapping_json_round_trip_and_errors(tmp_path):
    m = WideMapping(columns={"Ref no": "participant_id", "Notes": None},
                    scores={"EPDS at start": MeasureColumn("epds", "start")},
                    score_dates={"Baseline date": MeasureColumn(None, "start")}, derive={"Baby's DOB": "baby_dob"},
                    drop={"Mum's name": "name"}, values={"referral_source": {"HV": "health_visitor"}},
                    date_formats={"Date referred": "DD/MM/YYYY"}, constants={"programme_id": "P-A"},
                    sheet_programmes={"Group": "P-A"}, assumptions=DateAssumptions(start_days_after_referral=7))
    assert WideMapping.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert isinstance(m, ColumnMapping)
    with pytest.raises(ValueError, match="unknown key"):
        WideMapping.from_dict({"kind": "wide", "colums": {}})
    with pytest.raises(ValueError, match="derive"):
        WideMapping(derive={"DOB": "shoe_size"})
    with pytest.raises(ValueError, match="not a participants column"):
        WideMapping(columns={"Ref": "participant"})
    with pytest.raises(ValueError, match="start_days_after_referral"):
        DateAssumptions(start_days_after_referral=-1)
    with pytest.raises(ValueError, match="registry code"):
        WideMapping.from_dict({"kind": "wide", "scores": {"X": {"instrument": "EPDS!", "timepoint": "start"}}})


def test_limitations_say_nothing_for_item_level_data_with_contacts(example):
    tables = example()
    sentences = limitations(tables)
    assert not any("total score only" in s for s in sentences)
    assert any("P-N2 has no contact rows" in s for s in sentences)  # the fixture's second programme has none
    assert not any("P-N1 " in s for s in sentences)


def test_limitations_for_totals_only_measures_name_the_missing_item_checks():
    tables = {
        "participants": pd.DataFrame({"participant_id": ["A"], "programme_id": ["P"], "sessions_attended": [4],
                                      "first_contact_date": pd.to_datetime(["2025-01-01"])}),
        "measures": pd.DataFrame({"participant_id": ["A", "A"], "programme_id": "P", "instrument": ["epds", "phq9"],
                                  "completed_on": pd.to_datetime(["2025-01-01", "2025-01-01"]),
                                  "timepoint": "start", "total": [12.0, 9.0]}),
    }
    s = " ".join(limitations(tables))
    assert "EPDS item 10" in s and "PHQ-9 item 9" in s
    assert "EPDS-3A" in s and "prorate" in s
    assert "sessions attended as the provider counted them" in s


@pytest.mark.parametrize("name", ["evalkit.readers.wide", "evalkit.mapping_proposal"])
def test_docstring_examples(name):
    import doctest
    import importlib

    module = importlib.import_module(name)
    finder = doctest.DocTestFinder()
    tests = [t for obj in vars(module).values() if getattr(obj, "__module__", None) == name
             for t in finder.find(obj, globs=dict(vars(module))) if t.examples]
    assert tests, f"{name} has no examples"
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    for t in tests:
        runner.run(t)
    assert runner.failures == 0


_WIDE_CSV_HEADER = "Ref no,Programme,Date referred,Notes,EPDS at start,EPDS start date,EPDS at end,EPDS end date\n"


def test_a_wide_csv_row_split_at_a_stray_comma_is_set_aside_not_shifted(tmp_path):
    """A comma typed in a note splits the row into one cell more than the header: every later cell moved one
    column right, so the start score would be read as the end score. The row is reported and set aside."""
    path = tmp_path / "mums.csv"
    path.write_text(_WIDE_CSV_HEADER
                    + "A1,P-A,06/01/2025,fine,15,13/01/2025,9,24/03/2025\n"
                    + "A2,P-A,07/01/2025,met twice, then moved,18,14/01/2025,11,25/03/2025\n"
                    + "A3,P-A,08/01/2025,,12,15/01/2025,6,26/03/2025,\n")  # a trailing empty cell is fine
    result = validate(read_file(path), today=TODAY)
    assert set(result.tables["participants"]["participant_id"]) == {"A1", "A3"}
    assert "A2" not in set(result.tables["measures"]["participant_id"])
    (extra,) = result.report[result.report["rule"] == "extra_cells"].to_dict("records")
    assert extra["severity"] == "error" and extra["source_row"] == 3 and extra["file"] == "mums.csv"
    assert extra["message"].startswith("Row 3 has 9 cells but the header has 8 columns")
    assert "stray comma" in extra["message"]
    assert set(result.quarantine["participants"]["participant_id"]) == {"A2"}


@pytest.mark.parametrize("closed", [True, False], ids=["closed lines later", "never closed"])
def test_a_wide_csv_quote_left_open_is_refused_with_its_line_and_column(tmp_path, closed):
    """The rows a stray quote swallows into one cell would be lost without a word: the file is refused."""
    path = tmp_path / "mums.csv"
    rows = ["A1,P-A,06/01/2025,fine,15,13/01/2025,9,24/03/2025",
            'A2,P-A,07/01/2025,"fine,18,14/01/2025,11,25/03/2025',
            "A3,P-A,08/01/2025,ok,12,15/01/2025,6,26/03/2025",
            "A4,P-A,08/01/2025,ok,12,15/01/2025,6,26/03/2025",
            'A5,P-A,09/01/2025,ok",10,16/01/2025,5,27/03/2025' if closed else
            "A5,P-A,09/01/2025,ok,10,16/01/2025,5,27/03/2025",
            "A6,P-A,10/01/2025,ok,10,16/01/2025,5,27/03/2025"]
    path.write_text(_WIDE_CSV_HEADER + "\n".join(rows) + "\n")
    with pytest.raises(InputFileError) as caught:
        read_file(path)
    message = str(caught.value)
    assert message.startswith("mums.csv: ")
    assert "Row 3, column D ('Notes'): a quote mark (\") opens here and " in message
    if closed:
        assert "is not closed until line 6, so the 3 lines 4–6 were read into this one cell" in message
    else:
        assert "is never closed, so the 4 lines 4–7, to the end of the file, were read into this one cell" in message
    assert "Check the quote marks on row 3" in message


def test_a_note_over_two_lines_in_a_wide_csv_is_still_read(tmp_path):
    path = tmp_path / "mums.csv"
    path.write_text(_WIDE_CSV_HEADER + 'A1,P-A,06/01/2025,"called twice,\nthen met",15,13/01/2025,9,24/03/2025\n'
                    + "A2,P-A,07/01/2025,ok,18,14/01/2025,11,25/03/2025\n")
    raw = read_file(path)
    assert raw["participants"]["participant_id"].tolist() == ["A1", "A2"]
    measures = raw["measures"]
    assert sorted(zip(measures["participant_id"], measures["total"], strict=True)) == [
        ("A1", "15"), ("A1", "9"), ("A2", "11"), ("A2", "18")]


def test_columns_a_proposed_mapping_leaves_out_are_reported_with_a_suggestion(tmp_path):
    """Without a saved mapping the proposal decides what is read: a score column whose instrument is mistyped
    ('EDPS', 'WEMBWS'), a second column of the same score and a change column were dropped without a word."""
    path = tmp_path / "mums.csv"
    path.write_text("Ref no,Programme,Date referred,EDPS at start,EPDS at end,WEMBWS start,Edinburgh end,"
                    "EPDS change,Colour\n"
                    "A1,P-A,2025-01-06,15,9,40,8,-6,red\nA2,P-A,2025-01-07,18,11,45,10,-7,blue\n")
    result = validate(read_file(path), today=TODAY)
    unread = result.report[result.report["rule"].isin(["unknown_column", "derived_column"])]
    by_header = dict(zip(unread["column"], unread["message"], strict=True))
    assert set(by_header) == {"EDPS at start", "WEMBWS start", "Edinburgh end", "EPDS change", "Colour"}
    assert (unread["severity"] == "warning").all() and (unread["source_row"] == 1).all()
    assert by_header["EDPS at start"].startswith("Column D ('EDPS at start') was not read:")
    assert "did you mean EPDS? ('edps' is one letter from it)" in by_header["EDPS at start"]
    assert by_header["EDPS at start"].count("did you mean") == 1  # said once, not once by the proposal and again
    assert "did you mean WEMWBS?" in by_header["WEMBWS start"]
    assert "same questionnaire and time point as 'EPDS at end'" in by_header["Edinburgh end"]
    assert "did you mean" not in by_header["Colour"]


@pytest.mark.parametrize(("header", "suggested"), [
    ("EDPS at start", "epds"), ("Wembws end", "wemwbs"), ("GDA-7 T2", None), ("PHQ-8 start", None),
    ("EPDS at start", None), ("Colour", None), ("Notes", None)])
def test_suggest_instrument(header, suggested):
    from evalkit.readers.wide import suggest_instrument

    found = suggest_instrument(header)
    assert (found[1] if found else None) == suggested


def test_a_hidden_wide_sheet_that_is_read_is_reported(tmp_path):
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Programme", "Date referred", "EPDS at start"],
                    [["A1", "P-A", "2025-01-13", 12]])
    wb = openpyxl.load_workbook(path)
    old = wb.create_sheet("Mums 2023")
    for row in (["Ref no", "Programme", "Date referred", "EPDS at start"], ["A0", "P-A", "2023-01-13", 20]):
        old.append(row)
    old.sheet_state = "hidden"
    wb.save(path)
    result = validate(read_file(path), today=TODAY)
    hidden = result.report[result.report["rule"] == "hidden_sheet"]
    assert hidden["sheet"].tolist() == ["Mums 2023"] and (hidden["severity"] == "warning").all()
    assert set(result.tables["participants"]["participant_id"]) == {"A0", "A1"}


def test_a_sheet_with_instruments_merged_over_start_and_end_is_read_as_wide(tmp_path):
    """'EPDS' merged over 'start' and 'end' (and a title above): evalkit map read it as one row per mother, but
    validate and ingest (no mapping) took it for a participants sheet, dropped every score and set every row
    aside."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Mums"
    ws.append(["Northside Mums - outcomes 2025"])
    ws.merge_cells("A1:G1")
    ws.append([None, None, None, "EPDS", None, "WEMWBS", None])
    ws.merge_cells("D2:E2")
    ws.merge_cells("F2:G2")
    ws.append(["Ref no", "Programme", "Date referred", "start", "end", "start", "end"])
    ws.append(["A1", "P-A", "2025-01-06", 15, 9, 40, 50])
    ws.append(["A2", "P-A", "2025-01-07", 18, 11, 45, 52])
    path = tmp_path / "outcomes.xlsx"
    wb.save(path)
    raw = read_file(path)
    assert set(raw) == {"participants", "measures"}
    totals = raw["measures"].set_index(["participant_id", "instrument"])["total"]
    assert sorted(totals[("A1", "epds")].tolist()) == ["15", "9"]
    assert sorted(totals[("A2", "wemwbs")].tolist()) == ["45", "52"]
    assert raw["participants"]["source_row"].tolist() == [4, 5]


def test_a_score_problem_does_not_name_another_score_column(tmp_path):
    """Every measure's total was named after the sheet's first score column: a bad WEMWBS end score was
    reported under 'EPDS at start'."""
    path = workbook(tmp_path / "m.xlsx", ["Ref no", "Programme", "Date referred", "EPDS at start", "EPDS start date",
                                          "WEMWBS at end", "WEMWBS end date"],
                    [["A1", "P-A", "2025-01-06", 15, "2025-01-13", "fifty", "2025-03-24"]])
    result = validate(read_file(path), today=TODAY)
    (bad,) = result.report[result.report["value"] == "fifty"]["message"].tolist()
    assert "'EPDS at start'" not in bad and "'EPDS start date'" not in bad
    assert bad.startswith("Row 2, column 'EPDS at start or WEMWBS at end' (total): 'fifty' is not a number")
