"""Readers: real files written in tmp_path (encodings, delimiters, dates, workbooks, REDCap, FHIR)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import ColumnMapping
from evalkit.errors import InputFileError
from evalkit.readers import NOTES_ATTR, ReadLimits, RedcapMapping, load_mapping, read_file, read_files
from evalkit.validation import validate

TODAY = "2026-01-01"
HEADER = "Client ID,Programme,Date referred,Referred by\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def problems(frame: pd.DataFrame) -> list[dict]:
    return frame.attrs[NOTES_ATTR]["problems"]


def test_utf8_bom_aliases_and_provenance(tmp_path):
    path = tmp_path / "participants.csv"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + "M1,P1,2025-03-04,HV\nM2,P1,2025-03-05,Midwife\n").encode())
    frame = read_file(path)["participants"]
    assert list(frame.columns[:4]) == ["participant_id", "programme_id", "referral_date", "referral_source"]
    assert frame["participant_id"].tolist() == ["M1", "M2"]
    assert frame["referral_source"].tolist() == ["health_visitor", "Midwife"]  # built-in synonym HV
    assert frame["source_row"].tolist() == [2, 3]
    assert frame["source_file"].unique().tolist() == ["participants.csv"]
    assert problems(frame) == []


def test_cp1252_semicolon_and_blank_lines(tmp_path):
    text = "participant_id;programme_id;referral_date;eligibility_note\r\nM1;Café £5;04/03/2025;é\r\n\r\nM2;P1;13/03/2025;\r\n"
    path = write(tmp_path / "Participants 2025.csv", text, "cp1252")
    frame = read_file(path)["participants"]
    assert frame["programme_id"].tolist() == ["Café £5", "P1"]
    assert frame["source_row"].tolist() == [2, 4]  # the blank line keeps its number
    [unknown] = problems(frame)
    assert unknown["rule"] == "unknown_column" and unknown["column"] == "eligibility_note"
    assert unknown["source_row"] == 1 and unknown["severity"] == "warning"


@pytest.mark.parametrize("above", ["\n", "\r\n", "\n\n", " \n"], ids=["LF", "CRLF", "two", "spaces"])
@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_blank_lines_above_the_header(tmp_path, above, encoding):
    """A blank first line (a title row deleted, an export's empty first line) is not "every line is blank"."""
    path = write(tmp_path / "participants.csv", above + HEADER + "M1,Café,2025-03-04,HV\nM2,P1,2025-03-05,HV\n",
                 encoding)
    frame = read_file(path)["participants"]
    assert frame["participant_id"].tolist() == ["M1", "M2"] and frame["programme_id"].tolist() == ["Café", "P1"]
    header_line = 1 + above.count("\n")
    assert frame["source_row"].tolist() == [header_line + 1, header_line + 2]
    assert problems(frame) == []


def test_uk_dates_clear_from_column_and_iso(tmp_path):
    path = write(tmp_path / "participants.csv", "participant_id,programme_id,referral_date\n"
                 "M1,P1,03/04/2025\nM2,P1,13/04/2025\nM3,P1,2025-04-05\n")
    result = validate(read_file(path), today=TODAY)
    dates = result.tables["participants"].set_index("participant_id")["referral_date"]
    assert dates["M1"] == pd.Timestamp("2025-04-03")  # column is clearly day/month
    assert dates["M3"] == pd.Timestamp("2025-04-05")
    assert "ambiguous_date" not in set(result.report["rule"])


def test_ambiguous_dates_reported_per_row_unless_mapping_states_format(tmp_path):
    path = write(tmp_path / "participants.csv", "participant_id,programme_id,referral_date\n"
                 "M1,P1,03/04/2025\nM2,P1,05/06/2025\nM3,P1,07/07/2025\nM4,P1,2025-01-02\n")
    result = validate(read_file(path), today=TODAY)
    ambiguous = result.report[result.report["rule"] == "ambiguous_date"]
    assert ambiguous["source_row"].tolist() == [2, 3]  # 07/07 reads the same both ways; ISO always fine
    assert (ambiguous["severity"] == "error").all()
    assert len(result.tables["participants"]) == 2

    mapping = ColumnMapping(date_formats={"referral_date": "DD/MM/YYYY"})
    result = validate(read_file(path, mapping=mapping), today=TODAY)
    assert "ambiguous_date" not in set(result.report["rule"])
    dates = result.tables["participants"].set_index("participant_id")["referral_date"]
    assert dates["M1"] == pd.Timestamp("2025-04-03") and dates["M2"] == pd.Timestamp("2025-06-05")


def test_column_mapping_round_trip_and_use(tmp_path):
    mapping = ColumnMapping(
        columns={"Ref": "participant_id", "When": "referral_date", "Notes": None},
        values={"referral_source": {"Mid": "midwife"}},
        date_formats={"referral_date": "MM/DD/YYYY"},
        constants={"programme_id": "P-ONE"},
    )
    saved = tmp_path / "mapping.json"
    mapping.to_json(saved)
    again = load_mapping(saved)
    assert again == ColumnMapping.from_json(saved) == mapping
    path = write(tmp_path / "mums.csv", "Ref,When,Referred by,Notes\nA1,04/13/2025,mid,private\n")
    frame = read_file(path, mapping=again)["participants"]
    assert frame.loc[0, "referral_source"] == "midwife"
    assert frame.loc[0, "programme_id"] == "P-ONE"
    assert problems(frame) == []  # "Notes" skipped on purpose
    result = validate({"participants": frame}, today=TODAY)
    assert result.tables["participants"].loc[0, "referral_date"] == pd.Timestamp("2025-04-13")
    with pytest.raises(ValueError, match="unknown key"):
        ColumnMapping.from_dict({"colums": {}})
    with pytest.raises(ValueError, match="day, a month and a year"):
        ColumnMapping(date_formats={"referral_date": "MM/YYYY"})


def test_a_mapping_naming_a_column_evalkit_does_not_have_is_refused_with_the_nearest(tmp_path):
    """A mistyped target ('programme' for programme_id) was passed over: the column was reported as one to
    name in the mapping - which it was - and the required column as missing."""
    saved = tmp_path / "mapping.json"
    saved.write_text(json.dumps({"columns": {"Client": "participant_id", "Prog": "programme", "Q3": "item_3",
                                             "Notes": None}}))
    with pytest.raises(ValueError, match=r"mapping.json: column mapping: columns\['Prog'\] is 'programme', which is "
                                         r"not a column of any evalkit table; did you mean 'programme_id'\?"):
        load_mapping(saved)
    saved.write_text(json.dumps({"table": "participant"}))
    with pytest.raises(ValueError, match=r"mapping.json: column mapping: 'table' is 'participant'; expected one of "
                                         r"programmes, participants"):
        load_mapping(saved)
    saved.write_text(json.dumps({"columns": {"Client": "participant_id", "Q3": "item_3", "Notes": None},
                                 "constants": {"programme_id": "P1"}}))
    assert load_mapping(saved).columns["Q3"] == "item_3"


def test_identifier_duplicate_and_extra_cells(tmp_path):
    path = write(tmp_path / "participants.csv",
                 "participant_id,Client ID,Mum's name,NHS number,programme_id,referral_date\n"
                 "M1,X,Ann,123,P1,2025-01-01\n"
                 "M2,Y,Bea,456,P1,2025-01-02,surprise\n"
                 "M3,Z,Cat,789,P1,2025-01-03,,\n")
    frame = read_file(path)["participants"]
    rules = {(p["column"], p["rule"]) for p in problems(frame)}
    assert ("Client ID", "duplicate_column") in rules
    assert ("Mum's name", "identifier_column") in rules and ("NHS number", "identifier_column") in rules
    assert "Ann" not in frame.to_string()
    result = validate({"participants": frame}, today=TODAY)
    extra = result.report[result.report["rule"] == "extra_cells"]
    assert extra["source_row"].tolist() == [3] and extra["severity"].tolist() == ["error"]
    assert result.quarantine["participants"]["participant_id"].tolist() == ["M2"]
    assert result.tables["participants"]["participant_id"].tolist() == ["M1", "M3"]


def test_header_only_is_zero_rows(tmp_path):
    frame = read_file(write(tmp_path / "contacts.csv", "participant_id,contact_date,kind,status\n"))["contacts"]
    assert len(frame) == 0 and "participant_id" in frame.columns


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n  \n", "no text"),
        ("junk.csv", bytes(range(256)) * 8, "binary"),
        ("zip.csv", b"PK\x03\x04rest", "zip archive"),
        ("old.xlsx", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "old-style Excel"),
        ("fake.xlsx", b"not a zip at all", "not an Excel workbook"),
        ("data.ods", b"x", "cannot read .ods"),
        ("bad.json", b"{not json", "not valid JSON"),
    ],
)
def test_unreadable_files_raise_plain_errors(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError, match=expected) as info:
        read_file(path)
    assert name in str(info.value)


def test_size_row_and_column_limits(tmp_path):
    path = write(tmp_path / "contacts.csv", "participant_id,contact_date,kind,status\n" + "M1,2025-01-01,text,attended\n" * 20)
    with pytest.raises(InputFileError, match="more than"):
        read_file(path, limits=ReadLimits(max_bytes=100))
    with pytest.raises(InputFileError, match="more than 10 rows"):
        read_file(path, limits=ReadLimits(max_rows=10))
    with pytest.raises(InputFileError, match="columns"):
        read_file(path, limits=ReadLimits(max_columns=3))


def test_zip_that_is_not_a_workbook_and_zip_bomb(tmp_path):
    plain = tmp_path / "archive.xlsx"
    with zipfile.ZipFile(plain, "w") as z:
        z.writestr("readme.txt", "hello")
    with pytest.raises(InputFileError, match="not an Excel workbook"):
        read_file(plain)
    bomb = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", "0" * (30 * 1024 * 1024))
    with pytest.raises(InputFileError, match="compressed"):
        read_file(bomb)
    with pytest.raises(InputFileError, match="expand"):
        read_file(bomb, limits=ReadLimits(max_uncompressed_bytes=1024 * 1024))


def test_table_detection(tmp_path):
    by_headers = write(tmp_path / "export.csv", "participant_id,instrument,completed_on,item_1\nM1,epds,2025-01-01,1\n")
    assert list(read_file(by_headers)) == ["measures"]
    unclear = write(tmp_path / "export2.csv", "participant_id,programme_id\nM1,P1\n")
    with pytest.raises(InputFileError, match="cannot tell which table"):
        read_file(unclear)
    assert list(read_file(unclear, table="participants")) == ["participants"]
    with pytest.raises(InputFileError, match="none of the columns"):
        read_file(write(tmp_path / "x.csv", "foo,bar\n1,2\n"), table="programmes")
    with pytest.raises(ValueError, match="table must be one of"):
        read_file(by_headers, table="people")


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


_TITLED = [["Participants referred in Q1 2025 - Northside"], [],
           ["Client ID", "Programme", "Date referred", "Referred by"],
           ["M1", "P1", "2025-03-04", "HV"], ["M2", "P1", "2025-03-05", "self"]]


@pytest.mark.parametrize("kind", ["xlsx", "csv one cell", "csv padded", "csv padded, not compacted"])
def test_a_title_above_the_header_is_skipped_and_reported(tmp_path, kind):
    """The header is found below a title row; the title is reported, the rows keep their own numbers."""
    if kind == "xlsx":
        path = _workbook(tmp_path / "participants.xlsx", {"participants": _TITLED})
    else:
        pad = "padded" in kind
        lines = [",".join(r + [""] * (4 - len(r)) if pad else r) for r in _TITLED]
        path = write(tmp_path / "participants.csv", "\n".join(lines) + "\n")
    frame = read_file(path, compact="not compacted" not in kind)["participants"]
    assert frame["participant_id"].tolist() == ["M1", "M2"]
    assert frame["referral_source"].tolist() == ["health_visitor", "self"]
    assert frame["source_row"].tolist() == [4, 5]
    (title,) = [p for p in problems(frame) if p["rule"] == "not_read"]
    assert title["severity"] == "warning" and title["source_row"] == 1
    assert title["message"].startswith("Row 1 ('Participants referred in Q1 2025 - Northside') is above the header "
                                       "on row 3")
    result = validate({"participants": frame}, today=TODAY)
    assert len(result.tables["participants"]) == 2 and not (result.report["severity"] == "error").any()
    assert frame.attrs[NOTES_ATTR]["sources"][next(iter(frame.attrs[NOTES_ATTR]["sources"]))]["header_row"] == 3


def test_group_words_over_the_header_are_not_the_header(tmp_path):
    path = _workbook(tmp_path / "participants.xlsx", {"participants": [
        ["Referral", None, "Dates", None], ["participant_id", "programme_id", "referral_date", "referral_source"],
        ["M1", "P1", "2025-03-04", "self"]]})
    frame = read_file(path)["participants"]
    assert frame["participant_id"].tolist() == ["M1"] and frame["source_row"].tolist() == [3]
    assert [p["source_row"] for p in problems(frame) if p["rule"] == "not_read"] == [1]


def test_a_header_naming_one_known_column_stays_the_header(tmp_path):
    """Only a row naming two or more known columns replaces the first row as the header."""
    path = write(tmp_path / "participants.csv", "participant_id,Colour,Shoe size\nM1,red,5\nM2,blue,6\n")
    frame = read_file(path)["participants"]
    assert frame["participant_id"].tolist() == ["M1", "M2"] and frame["source_row"].tolist() == [2, 3]
    assert not [p for p in problems(frame) if p["rule"] == "not_read"]


def test_workbook_with_one_sheet_per_table(tmp_path):
    import datetime as dt

    path = _workbook(tmp_path / "upload.xlsx", {
        "Programmes": [["programme_id", "name", "provider", "format", "mode", "delivered_by"],
                       ["P1", "Bumps", "Charity", "Group", "In person", "Volunteer peers"]],
        "Mums": [["Mum ID", "Programme", "Date referred", "Weeks pregnant"],
                 ["M1", "P1", dt.datetime(2025, 3, 4), 20.0], [None, None, None, None], ["M2", "P1", "15/03/2025", 12]],
        "Notes": [["anything", "else"], ["a", "b"]],
        "Empty": [],
    })
    raw = read_file(path)
    assert set(raw) == {"programmes", "participants"}
    mums = raw["participants"]
    assert mums["referral_date"].tolist() == ["2025-03-04", "15/03/2025"]
    assert mums["weeks_pregnant"].tolist() == ["20", "12"]
    assert mums["source_row"].tolist() == [2, 4] and set(mums["source_sheet"]) == {"Mums"}
    skipped = [p for p in problems(raw["programmes"]) if p["rule"] == "unknown_sheet"]
    assert [p["sheet"] for p in skipped] == ["Notes"]
    result = validate(raw, today=TODAY)
    assert result.ok, result.report["message"].tolist()
    assert result.tables["programmes"].loc[0, "format"] == "group"  # label -> code
    assert result.tables["programmes"].loc[0, "delivered_by"] == "volunteer_peers"
    only = read_file(path, sheet="mums")
    assert list(only) == ["participants"]
    with pytest.raises(InputFileError, match="no sheet called 'Contacts'"):
        read_file(path, sheet="Contacts")


def test_read_files_merges_and_keeps_provenance(tmp_path):
    a = write(tmp_path / "contacts_a.csv", "participant_id,contact_date,kind,status\nM1,2025-01-01,text,attended\n")
    b = write(tmp_path / "contacts_b.csv", "participant_id;contact_date;kind;status;Colour\nM2;2025-01-02;text;DNA;red\n")
    merged = read_files([a, b])["contacts"]
    assert merged["source_file"].tolist() == ["contacts_a.csv", "contacts_b.csv"]
    assert merged["status"].tolist() == ["attended", "did_not_attend"]
    assert [p["file"] for p in problems(merged)] == ["contacts_b.csv"]


def _redcap_files(tmp_path: Path) -> Path:
    dictionary = tmp_path / "Project_DataDictionary.csv"
    rows = ['"Variable / Field Name","Form Name","Section Header","Field Type","Field Label",'
            '"Choices, Calculations, OR Slider Labels","Field Note","Text Validation Type OR Show Slider Number"',
            'record_id,enrolment,,text,Record ID,,,',
            'ref_date,enrolment,,text,Referral date,,,date_dmy',
            'epds_date,epds,,text,Date,,,date_ymd']
    for i in range(1, 11):
        rows.append(f'epds_{i},epds,,radio,Q{i},"0, Never | 1, Rarely | 2, Sometimes | 3, Often",,')
    dictionary.write_text("\n".join(rows) + "\n")
    header = ["record_id", "redcap_event_name", "ref_date", "epds_date"] + [f"epds_{i}" for i in range(1, 11)]
    records = [
        ["R1", "baseline_arm_1", "02-01-2025", "2025-01-10"] + ["1"] * 10,
        ["R1", "end_arm_1", "", "2025-03-10"] + ["Never"] * 9 + ["4"],
        ["R2", "baseline_arm_1", "03-01-2025", ""] + [""] * 10,
    ]
    (tmp_path / "Project_DATA.csv").write_text("\n".join(",".join(r) for r in [header, *records]) + "\n")
    mapping = {
        "kind": "redcap", "data_dictionary": "Project_DataDictionary.csv", "participant_id": "record_id",
        "constants": {"programme_id": "P1"}, "participants": {"referral_date": "ref_date"},
        "measures": [{"instrument": "epds", "form": "epds", "completed_on": "epds_date",
                      "timepoint": "redcap_event_name", "items": [f"epds_{i}" for i in range(1, 11)]}],
    }
    (tmp_path / "redcap_mapping.json").write_text(json.dumps(mapping))
    return tmp_path / "redcap_mapping.json"


class _Instrument:
    def __init__(self, code: str, n: int, lo: float, hi: float) -> None:
        self.code, self.n_items = code, n
        self.item_min, self.item_max = (lo,) * n, (hi,) * n
        self.total_range = (lo * n, hi * n)


INSTRUMENTS = {"epds": _Instrument("epds", 10, 0, 3), "phq9": _Instrument("phq9", 9, 0, 3),
               "gad7": _Instrument("gad7", 7, 0, 3)}


def test_redcap_export_with_dictionary_and_mapping(tmp_path):
    mapping = load_mapping(_redcap_files(tmp_path))
    assert isinstance(mapping, RedcapMapping)
    raw = read_file(tmp_path / "Project_DATA.csv", mapping=mapping)
    measures = raw["measures"]
    assert measures["source_row"].tolist() == [2, 3]  # the event row without answers gives no measure
    assert measures["item_1"].tolist() == ["1", "0"]  # "Never" label turned back into its code
    assert measures["timepoint"].tolist() == ["baseline_arm_1", "end_arm_1"]
    assert set(measures["programme_id"]) == {"P1"}
    participants = raw["participants"]
    assert participants["participant_id"].tolist() == ["R1", "R2"]
    result = validate(raw, instruments=INSTRUMENTS, today=TODAY)
    assert result.tables["participants"]["referral_date"].tolist() == [pd.Timestamp("2025-01-02"),
                                                                      pd.Timestamp("2025-01-03")]
    bad = result.report[result.report["severity"] == "error"]
    assert bad[["source_row", "column", "rule"]].values.tolist() == [[3, "item_10", "item_range"]]
    assert "column 'epds_10' (item_10)" in bad["message"].iloc[0]


@pytest.mark.parametrize("with_participants", [True, False])
def test_redcap_rows_the_csv_reader_found_broken_are_reported_not_read(tmp_path, with_participants):
    """A row split into too many cells, and a quote left open that swallows the rows after it, are errors in
    the report (they were dropped without a word: a swallowing quote left an empty, error-free upload)."""
    path = _redcap_files(tmp_path)
    if not with_participants:
        raw = json.loads(path.read_text())
        del raw["participants"]
        path.write_text(json.dumps(raw))
    mapping = load_mapping(path)
    data = tmp_path / "Project_DATA.csv"
    lines = data.read_text().splitlines()
    ok = "R3,baseline_arm_1,04-01-2025,2025-01-11," + ",".join(["2"] * 10)
    data.write_text("\n".join([lines[0], lines[1] + ",oops", lines[2], ok]) + "\n")
    result = validate(read_file(data, mapping=mapping), instruments=INSTRUMENTS, today=TODAY)
    (extra,) = result.report[result.report["rule"] == "extra_cells"].to_dict("records")
    assert extra["severity"] == "error" and extra["source_row"] == 2 and extra["message"].startswith("Row 2 has 15")
    stored = result.tables["measures"]
    assert 2 not in set(stored["source_row"]) and 4 in set(stored["source_row"])
    if with_participants:
        assert set(result.tables["participants"]["participant_id"]) == {"R3"}  # R1's only row 2 is set aside
    data.write_text("\n".join([lines[0], lines[1].replace("baseline_arm_1", '"baseline_arm_1'), lines[2], ok])
                    + "\n")
    result = validate(read_file(data, mapping=mapping), instruments=INSTRUMENTS, today=TODAY)
    (swallowed,) = result.report[result.report["rule"] == "unclosed_quote"].to_dict("records")
    assert swallowed["severity"] == "error" and swallowed["source_row"] == 2
    assert "the 2 lines 3–4, to the end of the file, were read into this one cell" in swallowed["message"]


def test_redcap_checkbox_field_and_label_headers_are_explained(tmp_path):
    """A checkbox field is exported as one column per choice; an export with label headers has none of the
    field names: each message says so, rather than only that the column is missing."""
    path = _redcap_files(tmp_path)
    dictionary = tmp_path / "Project_DataDictionary.csv"
    dictionary.write_text(dictionary.read_text() + 'ref_by,enrolment,,checkbox,Referred by,"1, GP | 2, Midwife",,\n')
    raw = json.loads(path.read_text())
    raw["participants"]["referral_source"] = "ref_by"
    path.write_text(json.dumps(raw))
    data = tmp_path / "Project_DATA.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join([lines[0] + ",ref_by___1,ref_by___2"] + [ln + ",1,0" for ln in lines[1:]]) + "\n")
    with pytest.raises(InputFileError, match=r"'ref_by' is a checkbox field, which REDCap exports as one column per "
                                             r"choice \('ref_by___1', 'ref_by___2'\)"):
        read_file(data, mapping=load_mapping(path))
    labels = ["Record ID", "Event Name", "Referral date", "Date"] + [f"Q{i}" for i in range(1, 11)]
    data.write_text("\n".join([",".join(labels)] + lines[1:]) + "\n")
    with pytest.raises(InputFileError, match=r"none of the mapped fields.*field labels.*raw variable names"):
        read_file(data, mapping=load_mapping(path))


def test_redcap_mapping_naming_unknown_field(tmp_path):
    path = _redcap_files(tmp_path)
    raw = json.loads(path.read_text())
    raw["measures"][0]["items"][0] = "epds_one"
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="epds_one"):
        read_file(tmp_path / "Project_DATA.csv", mapping=load_mapping(path))


def _qr(pid: str, authored: str, questionnaire: str, answers: list, link=lambda i, _: str(i)) -> dict:
    return {
        "resourceType": "QuestionnaireResponse", "status": "completed", "questionnaire": questionnaire,
        "subject": {"reference": f"Patient/{pid}"}, "authored": authored,
        "item": [{"linkId": link(i, a), "answer": [a]} for i, a in enumerate(answers, start=1)],
    }


def test_fhir_bundle_and_single_resource(tmp_path):
    phq9_codes = ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5", "44253-3", "44260-8"]
    phq9 = _qr("M1", "2025-02-03T10:00:00Z", "http://loinc.org/q/44249-1",
               [{"valueCoding": {"system": "http://loinc.org", "code": "LA6570-1"}} for _ in phq9_codes]
               + [{"valueInteger": 18}],
               link=lambda i, _: f"/{(phq9_codes + ['44261-6'])[i - 1]}")
    phq9["item"] = list(reversed(phq9["item"]))  # order does not matter when item codes are used
    phq9["item"][0]["answer"] = [{"valueDecimal": 18}]
    epds = _qr("M2", "2025-02-04", "Questionnaire/71354-5", [{"valueInteger": i % 4} for i in range(10)],
               link=lambda i, _: f"epds-{i}")
    gad7 = _qr("M3", "2025-02-05", "http://loinc.org/q/69737-5",
               [{"valueCoding": {"code": "x", "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/ordinalValue",
                                                             "valueDecimal": 1}]}}] * 7)
    unknown = _qr("M4", "2025-02-06", "Questionnaire/my-own-form", [{"valueInteger": 1}])
    bundle = {"resourceType": "Bundle", "type": "collection",
              "entry": [{"resource": r} for r in (phq9, epds, gad7, unknown)] + [{"resource": {"resourceType": "Patient"}}]}
    path = tmp_path / "responses.json"
    path.write_text(json.dumps(bundle))
    frame = read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"}))["measures"]
    assert frame["instrument"].tolist()[:3] == ["phq9", "epds", "gad7"]
    assert frame.loc[0, ["item_1", "item_9", "total"]].tolist() == ["2", "2", "18"]
    assert frame.loc[1, ["item_1", "item_2", "item_10"]].tolist() == ["0", "1", "1"]
    assert frame.loc[2, "item_7"] == "1"
    assert frame["completed_on"].tolist()[:2] == ["2025-02-03", "2025-02-04"]
    assert frame["participant_id"].tolist() == ["M1", "M2", "M3", "M4"]
    assert frame["source_row"].tolist() == [1, 2, 3, 4]
    result = validate(read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"})),
                      instruments=INSTRUMENTS, today=TODAY)
    assert result.report[result.report["severity"] == "error"][["source_row", "rule"]].values.tolist() == [
        [4, "unknown_instrument"], [4, "unknown_instrument"]]
    assert len(result.tables["measures"]) == 3

    single = tmp_path / "one.json"
    single.write_text(json.dumps(epds))
    assert read_file(single)["measures"]["participant_id"].tolist() == ["M2"]
    with pytest.raises(InputFileError, match="no QuestionnaireResponse"):
        (tmp_path / "patients.json").write_text(json.dumps({"resourceType": "Patient"}))
        read_file(tmp_path / "patients.json")


def test_fhir_answers_without_item_numbers_are_not_placed_by_order_when_one_is_missing(tmp_path):
    """Questions named without a number ('laugh', 'harm') are placed by their order only when every item is
    answered: with one left unanswered or left out, each later answer (the self-harm question's too) would
    land on the item before its own. Such a response is an error, not read."""
    names = ["laugh", "enjoy", "blame", "anxious", "scared", "ontop", "unhappy", "sad", "crying", "harm"]

    def response(pid: str, drop: str | None, unanswered: str | None) -> dict:
        items = [{"linkId": n} if n == unanswered else {"linkId": n, "answer": [{"valueInteger": i % 4}]}
                 for i, n in enumerate(names) if n != drop]
        return {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2025-02-04",
                "questionnaire": "http://loinc.org/q/71354-5", "subject": {"reference": f"Patient/{pid}"},
                "item": items}

    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [
        {"resource": response("M1", None, None)}, {"resource": response("M2", None, "blame")},
        {"resource": response("M3", "blame", None)}]}))
    raw = read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"}))
    frame = raw["measures"].set_index("participant_id")
    assert frame.loc["M1", ["item_1", "item_3", "item_10"]].tolist() == ["0", "2", "1"]  # all ten: by order
    assert frame.loc[["M2", "M3"], "item_9"].isna().all()  # nothing placed on the wrong item
    result = validate(raw, instruments=INSTRUMENTS, today=TODAY)
    assert result.tables["measures"]["participant_id"].tolist() == ["M1"]
    errors = result.report[result.report["rule"] == "item_order"]
    assert errors["source_row"].tolist() == [2, 3] and (errors["severity"] == "error").all()
    assert errors["message"].iloc[0].startswith(
        "Resource 2: its 9 answers are to questions without item numbers ('laugh', 'enjoy', 'anxious', …) and epds "
        "has 10 items, so which item each answer belongs to cannot be told; the response was not read.")


_SPLIT_CASES = [
    "a,b\n1,2\n", "a,b\n1,2", "a,b\r\n1,2\r\n", "a,b\r1,2\r", 'a,b\n"x,y",2\n', 'a,b\n"x\ny",2\n', 'a,b\n"x""y",2\n',
    'a,b\n "x",2\n', 'a,b\n"x"y,2\n', 'a,b\nx"y,2\n', "a,b\n1,2\n\n", "a,b\n\n1,2\n", "a,b\n1\n", "a,b\n1,2,3\n",
    "a,b,\n1,2,\n", "a\n1\n\n2\n", 'a,b\n"x,2\n', "a,b\n1,2\n   \n", "a,b\nNA,\n", 'a,b\n"",2\n', 'a,b\n" x ",2\n',
    "\n\na,b\n1,2\n", 'a,b\n1,"2"\n"3",4\n', "a,b\n1,2\r\n3,4\n", 'a,b\n"a\r\nb",2\n', 'a,b\n1,2\n"', 'a\n""\n',
    'a,b\n"q"  ,2\n', "a,b\nCafé,£2\n",
]


@pytest.mark.parametrize("text", _SPLIT_CASES)
def test_arrow_split_gives_the_cells_of_the_pandas_split(text: str) -> None:
    """Where Arrow splits a UTF-8 file, its cells (and dtypes) are exactly those of the pandas path."""
    from evalkit.readers.csv import _arrow_grid, _grid

    arrow = _arrow_grid(text.encode("utf-8"), ",")
    if arrow is None:
        return  # Arrow declined: the reader falls back to the pandas path
    expected = _grid(text, ",", "x.csv")
    assert isinstance(expected, pd.DataFrame)
    pd.testing.assert_frame_equal(arrow, expected, check_column_type=False, check_index_type=False)


_CELL = st.text(alphabet=st.sampled_from(list('ab ,"\n\r\xe9')), max_size=4)


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(st.lists(_CELL, min_size=2, max_size=2), min_size=1, max_size=6),
       quote_all=st.booleans(), ending=st.sampled_from(["\n", "\r\n", "\r"]), as_file=st.booleans())
def test_arrow_split_matches_the_pandas_split_with_and_without_quote_marks(
        rows: list[list[str]], quote_all: bool, ending: str, as_file: bool, tmp_path_factory) -> None:
    """Files with no quote mark are split without Arrow's quote-aware block splitting: the cells must still be
    those of the pandas path, for text given in memory and for a file read through a memory map."""
    from evalkit.readers.csv import _arrow_grid, _grid

    def cell(c: str) -> str:
        needs = quote_all or any(ch in c for ch in ',"\n\r')
        return '"' + c.replace('"', '""') + '"' if needs else c

    text = ending.join(",".join(cell(c) for c in row) for row in [["a", "b"], *rows]) + ending
    data = text.encode("utf-8")
    source: bytes | Path = data
    if as_file:
        source = tmp_path_factory.mktemp("split") / "x.csv"
        source.write_bytes(data)
    arrow = _arrow_grid(source, ",")
    if arrow is None:
        return  # Arrow declined: the reader falls back to the pandas path
    expected = _grid(text, ",", "x.csv")
    assert isinstance(expected, pd.DataFrame)
    pd.testing.assert_frame_equal(arrow, expected, check_column_type=False, check_index_type=False)


def test_arrow_splits_a_large_file_with_line_breaks_in_quoted_cells(tmp_path: Path) -> None:
    """Past Arrow's first block (1 MB) a quoted line break needs the quote-aware block splitting, which the
    reader asks for whenever the file holds a quote mark: Arrow reads every row (no fall back to pandas)."""
    from evalkit.readers.csv import _arrow_grid

    path = tmp_path / "notes.csv"
    path.write_bytes(b"a,b\n" + b'1,"first line\nsecond line"\n' * 100_000)
    grid = _arrow_grid(path, ",")
    assert grid is not None and len(grid) == 100_001
    assert set(grid.iloc[1:, 1]) == {"first line\nsecond line"}


def test_arrow_split_declines_bytes_that_are_not_utf8() -> None:
    from evalkit.readers.csv import _arrow_grid

    assert _arrow_grid("a,b\ncaf\xe9,1\n".encode("cp1252"), ",") is None


def test_building_a_raw_frame_leaves_the_readers_cells_as_they_were() -> None:
    """build_raw_frame takes a shallow copy of the grid: every column it changes is replaced, so the
    reader's own cells (text, numbers, a parser's categoricals) and column labels are unchanged."""
    from evalkit.readers.raw_frame import build_raw_frame

    cells = pd.DataFrame({
        "a": pd.Series(["M1", "", "M3"], dtype=object),
        "b": pd.Series([1, None, 3], dtype=object),
        "c": pd.Categorical(["2024-01-05", "", "2024-01-07"]),
    })
    before = cells.copy(deep=True)
    frame = build_raw_frame(cells, ["participant_id", "referral_source", "referral_date"], [2, 3, 4],
                            table="participants", file="p.csv", sheet=None, header_row=1)
    pd.testing.assert_frame_equal(cells, before)
    assert frame["participant_id"].tolist() == ["M1", "M3"]  # the blank row is dropped from the frame only
    assert frame["referral_source"].tolist() == ["1", "3"]


def test_reader_notes_are_set_aside_while_columns_are_settled_and_put_back() -> None:
    """compact_text_columns works column by column with the frame's notes held aside (pandas would deep-copy
    them into every column), and the notes come back unchanged, also when the work raises."""
    from evalkit.readers.notes import notes_set_aside, with_notes
    from evalkit.readers.raw_frame import compact_text_columns

    notes = {"problems": [{"rule": "unknown_column"}], "date_formats": {}, "sources": {"f|": {"header_row": 1}}}
    frame = with_notes(pd.DataFrame({"kind": pd.Series(["a", "b", "a", "a"], dtype="str")}), notes)
    seen: list[dict] = []
    compact_text_columns(frame)
    assert isinstance(frame["kind"].dtype, pd.CategoricalDtype)
    assert frame.attrs[NOTES_ATTR] == notes
    with pytest.raises(RuntimeError), notes_set_aside(frame):
        seen.append(dict(frame.attrs))
        raise RuntimeError("stop")
    assert seen == [{}]
    assert frame.attrs[NOTES_ATTR] == notes


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_hidden_sheet_that_is_read_is_reported(tmp_path, state):
    """Rows of a sheet the provider cannot see are read like the others, and a warning says so (old data in a
    hidden sheet otherwise showed only as duplicate ids)."""
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, pid in (("participants", "M1"), ("participants old", "M9")):
        ws = wb.create_sheet(name)
        ws.append(["participant_id", "programme_id", "referral_date"])
        ws.append([pid, "P1", "2025-03-04"])
    wb["participants old"].sheet_state = state
    path = tmp_path / "upload.xlsx"
    wb.save(path)
    frame = read_file(path)["participants"]
    assert frame["participant_id"].tolist() == ["M1", "M9"]
    (hidden,) = [p for p in problems(frame) if p["rule"] == "hidden_sheet"]
    assert hidden["sheet"] == "participants old" and hidden["severity"] == "warning"
    assert hidden["message"].startswith("Sheet 'participants old' is hidden in the workbook; its 1 data row was read")
    assert not [p for p in problems(read_file(path, sheet="participants old")["participants"])
                if p["rule"] == "hidden_sheet"]  # chosen by name: no surprise


def test_a_value_merged_down_several_rows_is_every_rows_value(tmp_path):
    """A programme merged down rows 2-4 shows on every row, as the one-row-per-mother reader reads it; the
    table reader gave it to row 2 only and set rows 3-4 aside as having no programme."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "participants"
    ws.append(["participant_id", "programme_id", "referral_date", "referral_source"])
    for i in range(1, 5):
        ws.append([f"M{i}", "P1" if i in (1, 4) else None, f"2025-03-0{i}", "self"])
    ws.merge_cells("B2:B4")
    ws.merge_cells("D2:D3")  # "self" merged over rows 2-3; row 4 keeps its own
    ws["D5"] = None  # the last row: no value, nothing merged over it
    path = tmp_path / "participants.xlsx"
    wb.save(path)
    frame = read_file(path)["participants"]
    assert frame["programme_id"].tolist() == ["P1", "P1", "P1", "P1"]
    assert frame["referral_source"].tolist()[:2] == ["self", "self"] and pd.isna(frame["referral_source"].iloc[3])
    assert frame["source_row"].tolist() == [2, 3, 4, 5]


def test_fhir_resources_that_are_not_questionnaire_responses_are_counted_in_a_warning(tmp_path):
    response = {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2025-02-04",
                "questionnaire": "http://loinc.org/q/69737-5", "subject": {"reference": "Patient/M1"},
                "item": [{"linkId": f"gad7-{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 8)]}
    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [
        {"resource": {"resourceType": "Patient"}}, {"resource": response},
        {"resource": {"resourceType": "Observation"}}, {"resource": {"resourceType": "Patient"}}, {}]}))
    frame = read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"}))["measures"]
    assert frame["participant_id"].tolist() == ["M1"]
    (skipped,) = [p for p in problems(frame) if p["rule"] == "not_read"]
    assert skipped["severity"] == "warning" and skipped["source_row"] == 1
    assert skipped["message"] == ("4 of the file's 5 resources are not QuestionnaireResponses (Patient ×2, "
                                  "Observation ×1, no resource ×1), so they were not read: resources 1, 3, 4 and 5.")


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_totals_rows_under_the_data_are_reported_not_read(tmp_path, kind):
    """A 'Total' or 'Average' row under the data (numbers or nothing beside it) is not a mother: it is reported
    (summary_row) and not read; an id that only starts with such a word, on a row with text, is read."""
    header = ["participant_id", "programme_id", "referral_date", "took_up", "sessions_attended"]
    rows = [["M1", "P-GROUP", "2024-01-05", "yes", "4"], ["Count-01", "P-GROUP", "2024-01-06", "no", ""],
            ["Total", "", "", "", "4"], ["Average sessions", "", "", "", "2.0"], ["", "", "", "", ""]]
    if kind == "csv":
        path = tmp_path / "participants.csv"
        path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    else:
        path = tmp_path / "participants.xlsx"
        book = openpyxl.Workbook()
        for r in [header, *rows]:
            book.active.append([c or None for c in r])
        book.save(path)
    frame = read_file(path, table="participants")["participants"]
    assert frame["participant_id"].tolist() == ["M1", "Count-01"]
    report = validate({"participants": frame}).report
    found = report[report["rule"] == "summary_row"]
    assert found["source_row"].tolist() == [4, 5]
    assert "Row 4 starts with 'Total', a total or summary row" in found["message"].iloc[0]
    assert (found["severity"] == "warning").all()


def _epds_response(pid: str, items: list[dict]) -> dict:
    return {"resourceType": "QuestionnaireResponse", "status": "completed", "authored": "2025-02-04",
            "questionnaire": "http://loinc.org/q/71354-5", "subject": {"reference": f"Patient/{pid}"}, "item": items}


def test_fhir_question_answered_twice_is_an_error_naming_both_answers(tmp_path):
    """An item answered twice used to keep its last answer without a word; which answer is right cannot be
    told, so the response is set aside and the report names the response, the item and both answers."""
    ten = [{"linkId": f"epds-{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 11)]
    twice = [*ten[:3], {"linkId": "epds-3", "answer": [{"valueInteger": 2}]}, *ten[3:]]
    two_on_one = [dict(item) for item in ten]
    two_on_one[9] = {"linkId": "epds-10", "answer": [{"valueInteger": 0}, {"valueInteger": 3}]}
    same = [*ten, {"linkId": "epds-5", "answer": [{"valueInteger": 1}]}]
    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [
        {"resource": _epds_response(p, items)}
        for p, items in (("M1", ten), ("M2", twice), ("M3", two_on_one), ("M4", same))]}))
    raw = read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"}))
    result = validate(raw, instruments=INSTRUMENTS, today=TODAY)
    assert sorted(result.tables["measures"]["participant_id"]) == ["M1", "M4"]
    twice_rows = result.report[result.report["rule"] == "answered_twice"]
    assert twice_rows[["source_row", "column", "severity"]].values.tolist() == [
        [2, "item_3", "error"], [3, "item_10", "error"], [4, "item_5", "warning"]]
    assert twice_rows["message"].iloc[0] == (
        "Resource 2 (participant M2): item 3 of epds (question 'epds-3') is answered 2 times: '1', '2'. Which answer "
        "is right cannot be told, so the response was set aside. Keep one answer per question and send it again.")
    assert "item 10 of epds (question 'epds-10') is answered 2 times: '0', '3'" in twice_rows["message"].iloc[1]
    assert "The answers are the same, so it was read once." in twice_rows["message"].iloc[2]
    assert (result.report["rule"] != "item_order").all()  # the repeated question does not unsettle the numbering


@pytest.mark.parametrize("odd", [5, "12", True])
def test_fhir_answer_not_a_list_refuses_the_file_naming_the_shape(tmp_path, odd):
    """FHIR gives an item's answers as a list. A bare number refused the file as a shape evalkit cannot read, but
    a text was walked letter by letter ('answered 2 times: None, None'); each is now refused the same way."""
    items = [{"linkId": f"epds-{i}", "answer": [{"valueInteger": 1}]} for i in range(1, 10)]
    items.append({"linkId": "epds-10", "answer": odd})
    path = tmp_path / "responses.json"
    path.write_text(json.dumps({"resourceType": "Bundle", "entry": [{"resource": _epds_response("M1", items)}]}))
    with pytest.raises(InputFileError, match="shape evalkit cannot read as FHIR .*'answer' is .*not a list"):
        read_file(path, mapping=ColumnMapping(constants={"programme_id": "P1"}))
