"""Dates as spreadsheet users write them: the month as a word (``4 March 2025``, ``04-Mar-2025``,
``March 4, 2025``) is read, and a date cell that lost its formatting (Excel's day number, ``45720``) is read as
that date with a warning naming the rows; any other number in a date column stays an error."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import Workbook
from openpyxl.utils.datetime import from_excel

from evalkit.column_mapping import ColumnMapping
from evalkit.readers import read_file
from evalkit.validation import validate
from evalkit.validation.dates import (
    EXCEL_SERIAL_RANGE,
    excel_serial_dates,
    named_month_dates,
    read_dates,
    wrong_weekday,
)

PROGRAMMES = pd.DataFrame({"programme_id": ["P1"], "name": ["Mums Together"], "provider": ["Sunrise"],
                           "format": ["group"], "mode": ["in_person"], "delivered_by": ["volunteer_peers"]})
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]


def _participants(referral: list[str]) -> pd.DataFrame:
    n = len(referral)
    return pd.DataFrame({"participant_id": [f"A{i}" for i in range(n)], "programme_id": ["P1"] * n,
                         "referral_date": referral, "referral_source": ["gp"] * n})


def _run(frame: pd.DataFrame):  # noqa: ANN202
    return validate({"programmes": PROGRAMMES, "participants": frame}, today="2026-12-31")


def _one(text: str) -> pd.Timestamp:
    reading = read_dates(pd.Series([text], dtype="str"), np.zeros(1, dtype=np.int64))
    return pd.Timestamp(reading.values[0])


@pytest.mark.parametrize("text", [
    "4 March 2025", "4 Mar 2025", "04-Mar-2025", "4-mar-25", "04 MAR 2025", "4th March 2025", "4 Mar. 2025",
    "4 of March 2025", "March 4, 2025", "Mar 4 2025", "march 4th, 2025", "2025-Mar-04", "Tuesday, 4 March 2025",
    "Tue 4 Mar 2025", "Tuesday, March 4, 2025",
])
def test_month_word_forms_read_as_the_date(text: str) -> None:
    assert _one(text) == pd.Timestamp("2025-03-04")


@pytest.mark.parametrize("text", [
    "31 April 2025", "29 Feb 2025", "4 Marchh 2025", "Wednesday, 4 March 2025", "4 March", "March 2025",
    "4 Mars 2025", "12345", "12345.5", "20250304", "2025", "45720.", "45720.5.1", "36525.75", "73051.25",
])
def test_not_dates_stay_not_dates(text: str) -> None:
    reading = read_dates(pd.Series([text], dtype="str"), np.zeros(1, dtype=np.int64))
    assert bool(reading.bad[0]) and np.isnat(reading.values[0])


@settings(max_examples=150, deadline=None)
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)),
       st.sampled_from(["{d} {M} {y}", "{d:02d}-{m}-{y}", "{M} {d}, {y}", "{y}-{m}-{d:02d}", "{W}, {d} {M} {y}"]),
       st.sampled_from([str.lower, str.upper, str.title]))
def test_any_date_written_with_its_month_word_reads_back(day: dt.date, form: str, case) -> None:  # noqa: ANN001
    month = MONTHS[day.month - 1]
    text = case(form.format(d=day.day, M=month, m=month[:3], y=day.year, W=day.strftime("%A")))
    assert named_month_dates(pd.Series([text], dtype="str"))[0] == np.datetime64(day, "ns"), text


@settings(max_examples=150, deadline=None)
@given(st.integers(EXCEL_SERIAL_RANGE[0], EXCEL_SERIAL_RANGE[1]))
def test_excel_numbers_read_as_openpyxl_reads_them(n: int) -> None:
    """openpyxl's own reading of Excel's 1900 date system is the second opinion."""
    assert excel_serial_dates(pd.Series([str(n)], dtype="str"))[0] == np.datetime64(from_excel(n), "ns")


def test_excel_numbers_known_answers_and_range() -> None:
    got = excel_serial_dates(pd.Series(["45658", "45720", "45720.0", "36526", "73050", "36525", "73051", "045720",
                                        "45720.5", "45720.999988", "73050.9", "36525.5"], dtype="str"))
    expected = np.array(["2025-01-01", "2025-03-04", "2025-03-04", "2000-01-01", "2099-12-31", "NaT", "NaT", "NaT",
                         "2025-03-04", "2025-03-04", "2099-12-31", "NaT"], dtype="datetime64[ns]")
    np.testing.assert_array_equal(got, expected)


@settings(max_examples=150, deadline=None)
@given(st.integers(EXCEL_SERIAL_RANGE[0], EXCEL_SERIAL_RANGE[1]), st.integers(1, 86399))
def test_excel_date_time_numbers_read_as_the_date_openpyxl_reads(n: int, seconds: int) -> None:
    """A date-time cell that lost its formatting holds the day number plus the time as a fraction of a day:
    the date is the one openpyxl reads, its time of day dropped (as an ISO date's time is)."""
    text = f"{n + seconds / 86400:.10f}".rstrip("0")
    expected = np.datetime64(from_excel(n + seconds / 86400).date(), "ns")
    assert excel_serial_dates(pd.Series([text], dtype="str"))[0] == expected, text
    assert _one(text) == pd.Timestamp(expected)


def test_excel_date_time_read_with_the_warning_saying_the_time_was_dropped() -> None:
    res = _run(_participants(["45720.5", "2025-03-05", "45721", "45722.75", "12345.5"]))
    rep = res.report
    warn = rep[rep["rule"] == "excel_date_number"]
    assert len(warn) == 1 and warn.iloc[0]["severity"] == "warning", rep[["rule", "message"]].to_string()
    msg = warn.iloc[0]["message"]
    assert ("row 2: 45720.5 read as 2025-03-04 (time of day dropped); row 4: 45721 read as 2025-03-05; "
            "row 5: 45722.75 read as 2025-03-06 (time of day dropped)") in msg, msg
    assert "3 cells held a number where a date was expected" in msg and "a date and time" in msg, msg
    errors = rep[rep["severity"] == "error"]
    assert errors["rule"].tolist() == ["type"] and "'12345.5' is not a date" in errors.iloc[0]["message"]
    stored = res.tables["participants"].set_index("participant_id")["referral_date"]
    assert stored["A0"] == pd.Timestamp("2025-03-04") and stored["A3"] == pd.Timestamp("2025-03-06")


def test_validate_reads_month_words_without_a_problem() -> None:
    res = _run(_participants(["4 March 2025", "March 5, 2025", "06-Mar-25"]))
    assert res.ok and res.report.empty, res.report[["rule", "message"]].to_string()
    got = res.tables["participants"].sort_values("participant_id")["referral_date"].tolist()
    assert got == [pd.Timestamp("2025-03-04"), pd.Timestamp("2025-03-05"), pd.Timestamp("2025-03-06")]


def test_month_words_do_not_decide_the_day_month_order_of_the_column() -> None:
    res = _run(_participants(["4 March 2025", "03/04/2025"]))
    assert res.report["rule"].tolist() == ["ambiguous_date"]


def test_excel_numbers_read_with_one_warning_per_column_naming_rows_and_dates() -> None:
    res = _run(_participants(["45720", "2025-03-05", "45721", "12345"]))
    rep = res.report
    warn = rep[rep["rule"] == "excel_date_number"]
    assert len(warn) == 1 and warn.iloc[0]["severity"] == "warning" and warn.iloc[0]["column"] == "referral_date"
    msg = warn.iloc[0]["message"]
    assert "2 cells" in msg and "row 2: 45720 read as 2025-03-04; row 4: 45721 read as 2025-03-05" in msg, msg
    errors = rep[rep["severity"] == "error"]
    assert errors["rule"].tolist() == ["type"] and "'12345' is not a date" in errors.iloc[0]["message"]
    stored = res.tables["participants"].set_index("participant_id")["referral_date"]
    assert stored["A0"] == pd.Timestamp("2025-03-04") and stored["A2"] == pd.Timestamp("2025-03-05")


def test_excel_number_warning_lists_ten_rows_then_counts_the_rest() -> None:
    res = _run(_participants([str(45700 + i) for i in range(13)]))
    msg = res.report.loc[res.report["rule"] == "excel_date_number", "message"].iloc[0]
    assert "13 cells" in msg and "row 11: 45709 read as" in msg and "row 12:" not in msg and "and 3 more" in msg


def test_month_words_and_excel_numbers_with_a_stated_format(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "participants.csv"
    path.write_text("participant_id,programme_id,referral_date,referral_source\n"
                    "A1,P1,45720,gp\nA2,P1,03/04/2025,gp\nA3,P1,5 March 2025,gp\n")
    raw = read_file(path, mapping=ColumnMapping(date_formats={"referral_date": "DD/MM/YYYY"}))
    res = validate({"programmes": PROGRAMMES, **raw}, today="2026-12-31")
    assert res.ok, res.report[["rule", "message"]].to_string()
    assert res.report["rule"].tolist() == ["excel_date_number"]
    stored = res.tables["participants"].set_index("participant_id")["referral_date"]
    assert stored.tolist() == [pd.Timestamp("2025-03-04"), pd.Timestamp("2025-04-03"), pd.Timestamp("2025-03-05")]


def test_xlsx_general_cell_holding_a_date_number_is_read_with_a_warning(tmp_path) -> None:  # noqa: ANN001
    book = Workbook()
    sheet = book.active
    sheet.title = "participants"
    sheet.append(["participant_id", "programme_id", "referral_date", "referral_source"])
    sheet.append(["A1", "P1", 45720, "gp"])  # a number in a General cell, as a date whose formatting was lost
    sheet.append(["A2", "P1", dt.datetime(2025, 3, 5), "gp"])
    buffer = io.BytesIO()
    book.save(buffer)
    path = tmp_path / "participants.xlsx"
    path.write_bytes(buffer.getvalue())
    raw = read_file(path)
    res = validate({"programmes": PROGRAMMES, **raw}, today="2026-12-31")
    assert res.ok, res.report[["rule", "message"]].to_string()
    warn = res.report[res.report["rule"] == "excel_date_number"]
    assert len(warn) == 1 and "row 2: 45720 read as 2025-03-04" in warn.iloc[0]["message"]
    assert warn.iloc[0]["file"] == "participants.xlsx"


WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def test_a_date_with_the_wrong_weekday_says_which_day_it_was() -> None:
    result = _run(_participants(["Mon, 3 Feb 2024", "Sat, 3 Feb 2024", "3 Feb 2024"]))
    report = result.report
    assert len(report) == 1 and report["value"].tolist() == ["Mon, 3 Feb 2024"] and report["rule"].tolist() == ["type"]
    assert report["message"].iloc[0].endswith(
        "'Mon, 3 Feb 2024': 3 February 2024 was a Saturday, not a Monday; expected the date and its weekday to "
        "agree (or the date alone).")
    assert result.tables["participants"]["referral_date"].tolist() == [pd.Timestamp("2024-02-03")] * 2


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)), st.integers(0, 6))
def test_a_named_weekday_is_read_when_right_and_explained_when_wrong(day: dt.date, named: int) -> None:
    text = pd.Series([f"{WEEKDAYS[named][:3]}, {day.day} {MONTHS[day.month - 1]} {day.year}"])
    why = wrong_weekday(text)[0]
    if named == day.weekday():
        assert why is None and named_month_dates(text)[0] == np.datetime64(day, "ns")
    else:
        assert np.isnat(named_month_dates(text)[0])
        assert why == f"{day.day} {MONTHS[day.month - 1]} {day.year} was a {WEEKDAYS[day.weekday()]}, not a " \
                      f"{WEEKDAYS[named]}"
