"""The mapping step: headers, value synonyms, date formats, identifying columns, preview, save and reuse."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import ColumnMapping
from evalkit.mapping_proposal import MappingProposal, match_value, propose_mapping
from evalkit.readers import load_mapping, read_file
from evalkit.readers.wide import WideMapping, detect_date_format, parse_dates

HEADERS = ["Ref no", "Mum's name", "Date referred", "Referred by", "Baby's DOB", "Postcode", "EPDS at start",
           "EPDS at end", "WEMWBS first", "WEMWBS last", "No. of sessions attended", "Reason for leaving", "Notes"]


def month(n: int) -> list[list[object]]:
    """Rows of 'month n': month 2 repeats month 1's mothers (one updated) and adds two."""
    rows: list[list[object]] = [
        ["LS001", "Amy Example", "13/01/2025", "HV", "02/12/2024", "ZZ99 3CZ", 18, 9, 38, 50, 6, "Completed", ""],
        ["LS002", "Beth Sample", "20/01/2025", "health visitor", "15/01/2025", "ZZ99 3DZ", "15 ", "n/a", 40, None, 1,
         "Dropped out", "left"],
        ["LS003", "Cara Fakename", "03/02/2025", "Midwife", "01/03/2025", "ZZ99 3EZ", "22.0", 12, 30, 45, "8",
         "moved away", ""],
    ]
    if n == 2:
        rows += [["LS004", "Dee Testcase", "04/03/2025", "MW", "11/01/2025", "ZZ99 3FZ", 14, None, 41, None, 2,
                  None, ""],
                 ["LS005", "Eve Example", "17/03/2025", "Facebook", "01/02/2025", "ZZ99 3GZ", 16, None, 39, None,
                  1, None, ""]]
    return rows


def book(path: Path, rows: list[list[object]], headers: list[str] = HEADERS) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Referrals"
    ws["A1"] = "Little Steps - referrals"
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(headers))
    for j, h in enumerate(headers, start=1):
        ws.cell(row=3, column=j, value=h)
    for i, row in enumerate(rows, start=4):
        for j, v in enumerate(row, start=1):
            if v is not None and v != "":
                ws.cell(row=i, column=j, value=v)
    wb.save(path)
    return path


@pytest.mark.parametrize(("value", "code", "how"), [
    ("HV", "health_visitor", "synonym"),
    ("health visitor", "health_visitor", "code"),
    ("Health Visitor", "health_visitor", "code"),
    ("HEALTH-VISITOR", "health_visitor", "code"),
    ("Social care / family support worker", "social_care", "label"),
    ("midwife", "midwife", "code"),
    ("Midwife", "midwife", "code"),
    ("MW", "midwife", "synonym"),
    ("Community midwife", "midwife", "synonym"),
    ("Midwfe", "midwife", "typo"),
    ("hv", "health_visitor", "synonym"),
    ("h.v.", "health_visitor", "abbreviation"),
    ("G.P", "gp", "synonym"),
    ("Midwives", "midwife", "synonym"),
    ("Health visitors", "health_visitor", "plural"),
    ("community midwives", "midwife", "plural"),
    ("hv practitioner", "health_visitor", "contains label"),
    ("Self-referred", "self", "synonym"),
    ("GP", "gp", "code"),
    ("Facebook", None, "not matched"),
    ("health visitor/midwife", None, "several codes"),
])
def test_referral_source_values(value, code, how):
    m = match_value("referral_source", value)
    assert (m.code, m.how) == (code, how)


@pytest.mark.parametrize(("column", "value", "code"), [
    ("ending", "Completed", "planned_ending"),
    ("ending", "Planned ending", "planned_ending"),
    ("ending", "N/K", "unknown"),
    ("ending", "stopped attending", "stopped_attending"),
    ("ethnicity", "Pakistani", "asian_pakistani"),
    ("ethnicity", "White British", "white_british"),
    ("ethnicity", "Any other White background", "white_other"),
    ("ethnicity", "Black African", "black_african"),
    ("main_language", "Polish", "pl"),
    ("main_language", "en", "en"),
    ("main_language", "EN", "en"),
    ("main_language", "Twi", "tw"),
    ("took_up", "Y", "Y"),
    ("took_up", "declined", "no"),
    ("perinatal_stage", "Pregnant", "antenatal"),
])
def test_other_coded_values(column, value, code):
    assert match_value(column, value).code == code


def test_provider_synonyms_win():
    mapping = ColumnMapping(values={"referral_source": {"Facebook": "self", "HV": "other"}})
    assert match_value("referral_source", "facebook", mapping).code == "self"
    assert match_value("referral_source", "HV", mapping).how == "your mapping"


@settings(max_examples=60, deadline=None)
@given(st.text(min_size=1, max_size=20))
def test_value_matching_is_deterministic_and_never_raises(value):
    a = match_value("referral_source", value)
    b = match_value("referral_source", value)
    assert a == b
    assert a.code is None or a.code in {"self", "midwife", "health_visitor", "gp", "perinatal_mental_health_team",
                                        "talking_therapies", "other_health_professional", "social_care",
                                        "other_organisation", "friend_or_family", "other"}


@pytest.mark.parametrize(("values", "fmt", "status"), [
    (["13/01/2025", "02/03/2025"], "DD/MM/YYYY", "clear"),
    (["01/13/2025", "02/03/2025"], "MM/DD/YYYY", "clear"),
    (["2025-01-13", "2025-03-02 00:00:00"], "YYYY-MM-DD", "iso"),
    (["03/04/2025", "05/06/2025"], None, "ambiguous"),
    (["13/01/2025", "01/13/2025"], None, "mixed"),
    (["soon", "never"], None, "not_dates"),
    (["3 April 2025", "13-Apr-25"], "YYYY-MM-DD", "iso"),
])
def test_date_format_detection(values, fmt, status):
    f = detect_date_format("d", pd.Series(values))
    assert (f.format, f.status) == (fmt, status)


@settings(max_examples=60, deadline=None)
@given(st.dates(min_value=pd.Timestamp("1990-01-01").date(), max_value=pd.Timestamp("2030-12-31").date()))
def test_day_first_dates_read_back(day):
    text = pd.Series([day.strftime("%d/%m/%Y"), day.strftime("%d.%m.%y"), day.isoformat()])
    dates, _kinds = parse_dates(text, "DD/MM/YYYY")
    assert dates[0] == dates[2] == pd.Timestamp(day)
    # the stated format is the format, as in a long file's column mapping: '01.02.25' is not DD/MM/YYYY
    assert pd.isna(dates[1])


def test_ambiguous_date_column_is_reported_and_follows_the_other_columns(tmp_path):
    path = book(tmp_path / "m.xlsx", [["A1", "", "13/01/2025", "HV", "03/04/2024", "", 1, 2, 3, 4, 1, "", ""]])
    p = propose_mapping(path, programme_id="P-A")
    assert p.date_formats["Baby's DOB"].status == "ambiguous"
    assert p.date_formats["Baby's DOB"].format == "DD/MM/YYYY"
    assert "check it" in p.date_formats["Baby's DOB"].evidence
    assert p.ambiguous_dates == ["Baby's DOB"]
    assert "Baby's DOB" in p.to_text()


def test_proposal_of_a_typical_provider_sheet(tmp_path):
    p = propose_mapping(book(tmp_path / "m.xlsx", month(2)), programme_id="P-LS")
    assert isinstance(p, MappingProposal) and p.layout == "wide" and p.ok
    m = p.mapping
    assert isinstance(m, WideMapping)
    assert m.columns["Ref no"] == "participant_id" and m.columns["No. of sessions attended"] == "sessions_attended"
    assert m.scores["WEMWBS last"].instrument == "wemwbs" and m.scores["WEMWBS last"].timepoint == "end"
    assert set(p.identifying_columns) == {"Mum's name", "Baby's DOB", "Postcode"}
    assert "deprivation decile" in p.identifying_columns["Postcode"]
    assert p.unmapped_values == {"referral_source": ["Facebook"]}
    assert m.values["referral_source"] == {"HV": "health_visitor", "MW": "midwife"}
    assert p.unmapped_headers == ("Notes",) and m.columns["Notes"] is None  # saved as "not read"
    assert p.date_formats["Date referred"].format == "DD/MM/YYYY"
    assert any("referral date + 14 days" in s for s in p.assumptions)
    text = p.to_text()
    for words in ("'Mum's name'", "never stored", "'Facebook'", "Ready", "P-LS (from --programme)"):
        assert words in text
    json.dumps(p.to_dict())  # JSON-ready for the dashboard


def test_preview_shows_rows_as_stored_without_identifiers(tmp_path):
    from evalkit.pseudonymise import pseudonymise_ids

    p = propose_mapping(book(tmp_path / "m.xlsx", month(1)), programme_id="P-LS")
    prev = p.preview(2)
    parts, meas = prev["participants"], prev["measures"]
    assert len(parts) == 2 and set(meas["source_row"]) == {4, 5}
    assert parts["participant_id"].tolist() == ["(pseudonym 1)", "(pseudonym 2)"]
    assert set(meas["participant_id"]) == {"(pseudonym 1)", "(pseudonym 2)"}
    assert parts["referral_source"].tolist() == ["health_visitor", "health_visitor"]
    assert "baby_age_weeks" in parts.columns and "source_file" not in parts.columns
    flat = " ".join(str(v) for f in prev.values() for v in f.to_numpy().ravel())
    for planted in ("Amy", "ZZ99", "02/12/2024", "2024-12-02"):
        assert planted not in flat
    secret = b"a-test-secret-of-enough-length"
    real = p.preview(1, secret=secret, provider="Little Steps")["participants"]["participant_id"]
    expected = pseudonymise_ids(pd.Series(["LS001"]), secret=secret, namespace="Little Steps")
    assert real.tolist() == expected.tolist()


def test_saved_mapping_reused_on_next_months_file_gives_identical_frames(tmp_path):
    first = book(tmp_path / "january.xlsx", month(1))
    p = propose_mapping(first, programme_id="P-LS")
    saved = p.save(tmp_path / "little-steps.json")
    mapping = load_mapping(saved)
    assert isinstance(mapping, WideMapping) and mapping == p.mapping
    # the same file read with the saved mapping gives exactly the frames the proposal read
    again = read_file(first, mapping=mapping, compact=False)  # plain text columns, as the proposal holds them
    for t in ("participants", "measures"):
        pd.testing.assert_frame_equal(again[t], p.read_result.raw[t])
    # next month's file: the January rows come out identical; new rows are added; a new value is not guessed
    nxt = read_file(book(tmp_path / "february.xlsx", month(2)), mapping=mapping, compact=False)
    cols = [c for c in again["participants"].columns if c != "source_file"]
    pd.testing.assert_frame_equal(nxt["participants"][cols].iloc[:3], again["participants"][cols])
    new = nxt["participants"].set_index("participant_id")
    assert new.loc["LS004", "referral_source"] == "midwife"  # "MW" was in the saved mapping
    assert new.loc["LS005", "referral_source"] == "Facebook"  # unknown: left for validation to report
    from evalkit.validation import validate

    report = validate(nxt, today="2026-01-01").report
    enum = report[report["rule"] == "enum"]
    assert enum["source_row"].tolist() == [8] and enum["value"].tolist() == ["Facebook"]


def test_existing_mapping_is_kept_and_only_new_things_proposed(tmp_path):
    p1 = propose_mapping(book(tmp_path / "a.xlsx", month(2)), programme_id="P-LS")
    edited = p1.mapping.to_dict()
    edited["values"]["referral_source"]["Facebook"] = "other_health_professional"
    edited["columns"]["Notes"] = None
    mapping = WideMapping.from_dict(edited)
    p2 = propose_mapping(book(tmp_path / "b.xlsx", month(2)), mapping=mapping)
    assert p2.ok and p2.unmapped_values == {} and p2.unmapped_headers == ()
    assert p2.mapping.constants["programme_id"] == "P-LS"
    assert p2.mapping.values["referral_source"]["Facebook"] == "other_health_professional"


def test_missing_programme_and_missing_columns_are_reported(tmp_path):
    p = propose_mapping(book(tmp_path / "m.xlsx", month(1)))
    assert not p.ok and p.missing_required == ("programme_id",)
    assert "NOT READY" in p.to_text() and "--programme" in p.to_text()
    no_ref = propose_mapping(book(tmp_path / "n.xlsx", [r[1:] for r in month(1)], HEADERS[1:]), programme_id="P")
    assert no_ref.missing_required == ("participant_id",)


def test_sheet_names_become_programme_ids_for_one_sheet_per_programme(tmp_path):
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name in ("P-ONE", "P-TWO"):
        ws = wb.create_sheet(name)
        ws.append(["Ref no", "Date referred", "EPDS at start"])
        ws.append([f"{name}-1", "13/01/2025", 12])
    wb.save(tmp_path / "two.xlsx")
    p = propose_mapping(tmp_path / "two.xlsx")
    assert p.ok and p.mapping.sheet_programmes == {"P-ONE": "P-ONE", "P-TWO": "P-TWO"}
    raw = read_file(tmp_path / "two.xlsx", mapping=p.mapping)
    assert raw["participants"]["programme_id"].tolist() == ["P-ONE", "P-TWO"]


def test_dataframe_in_proposal_out(tmp_path):
    frame = pd.DataFrame({"Client ID": ["A1", "A2"], "Date of referral": ["13/01/2025", "14/01/2025"],
                          "PHQ-9 pre": [12, 15], "PHQ-9 post": [6, None], "Email": ["a@x.org", "b@x.org"]})
    p = propose_mapping(frame, programme_id="P-A")
    assert p.ok and p.file == "(table)"
    assert set(p.preview()["measures"]["instrument"]) == {"phq9"}
    assert "Email" in p.identifying_columns


def test_an_ordinary_table_gets_a_column_mapping(tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("Client ID,Date of contact,Contact type,Attendance,Phone\nA1,13/01/2025,Phone,DNA,07700 900123\n",
                    encoding="utf-8")
    p = propose_mapping(path, programme_id="P-A")
    assert p.layout == "table" and p.table == "contacts"
    assert isinstance(p.mapping, ColumnMapping) and not isinstance(p.mapping, WideMapping)
    assert p.mapping.columns["Client ID"] == "participant_id" and p.mapping.columns["Phone"] is None
    assert "Phone" in p.identifying_columns
    assert p.date_formats["Date of contact"].format == "DD/MM/YYYY"
    assert p.ok  # kind is unmapped ("Phone" is not a contact kind) but not required to be a column here


def test_a_mistyped_instrument_is_shown_with_a_suggestion(tmp_path):
    path = tmp_path / "mums.csv"
    path.write_text("Ref no,Programme,Date referred,EDPS at start,EPDS at end\nA1,P-A,2025-01-06,15,9\n")
    proposal = propose_mapping(path)
    row = proposal.columns.set_index("header").loc["EDPS at start"]
    assert row["role"] == "unknown" and row["note"] == (
        "not a column evalkit knows - did you mean EPDS? ('edps' is one letter from it)")
    assert "EDPS at start" in proposal.unmapped_headers and "EDPS at start" not in proposal.mapping.scores
