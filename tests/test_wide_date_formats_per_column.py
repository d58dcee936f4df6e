"""Questionnaire-date columns of a one-row-per-mother sheet that state different date formats: each cell is read in
its own column's format, by the reader and by validation alike. A cell that does not match it is refused with the
format named (validation takes one format per column, and read such a cell without one: '13/04/2025' under
MM/DD/YYYY was stored as 13 April 2025); the mother's other questionnaires are not set aside with it."""

from __future__ import annotations

import datetime as dt
import re
import typing
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import ColumnMapping, strftime_format
from evalkit.readers.notes import empty_notes, with_notes
from evalkit.readers.wide import DateAssumptions, MeasureColumn, WideMapping, read_wide
from evalkit.validation import validate
from evalkit.validation.dates import read_dates
from evalkit.validation.fields import _date_refusals, _refusal_details

TODAY = "2200-01-01"  # no date is in the future: only the reading of the dates is compared
_HEADERS = {"start": "EPDS start date", "end": "EPDS end date"}


def _mapping(formats: dict[str, str]) -> WideMapping:
    return WideMapping(
        columns={"Ref no": "participant_id", "Programme": "programme_id", "Date referred": "referral_date"},
        scores={"EPDS at start": MeasureColumn("epds", "start"), "EPDS at end": MeasureColumn("epds", "end")},
        score_dates={h: MeasureColumn("epds", tp) for tp, h in _HEADERS.items()},
        date_formats=formats,
        assumptions=DateAssumptions(start_days_after_referral=None, end_days_per_session=None,
                                    first_contact_from_start=False),
    )


def _sheet(start: list[str], end: list[str]) -> pd.DataFrame:
    ids = [f"A{i}" for i in range(len(start))]
    return pd.DataFrame({"Ref no": ids, "Programme": "P-A", "Date referred": "2000-01-01", "EPDS at start": "12",
                         "EPDS start date": start, "EPDS at end": "8", "EPDS end date": end})


def _outcome(result, ids: list[str], timepoint: str) -> dict[str, object]:  # noqa: ANN001
    """Per participant, the questionnaire date stored at ``timepoint``, else the rules on that row's date."""
    m = result.tables["measures"]
    stored = m[m["timepoint"] == timepoint].set_index("participant_id")["completed_on"]
    rep = result.report[(result.report["table"] == "measures") & (result.report["column"] == "completed_on")
                        & (result.report["severity"] == "error")]
    out: dict[str, object] = {}
    for i, pid in enumerate(ids):
        out[pid] = pd.Timestamp(stored[pid]) if pid in stored else frozenset(rep.loc[rep["source_row"] == i + 2, "rule"])
    return out


def test_a_cell_not_in_its_own_columns_format_is_refused_with_that_format_named():
    sheet = _sheet(["13/01/2025", "14/01/2025", "15/01/2025"], ["04/13/2025", "13/04/2025", "3.4.25"])
    result = validate(read_wide(sheet, mapping=_mapping({"EPDS start date": "DD/MM/YYYY",
                                                         "EPDS end date": "MM/DD/YYYY"})).raw, today=TODAY)
    ids = ["A0", "A1", "A2"]
    assert _outcome(result, ids, "start") == {"A0": pd.Timestamp("2025-01-13"), "A1": pd.Timestamp("2025-01-14"),
                                              "A2": pd.Timestamp("2025-01-15")}
    assert _outcome(result, ids, "end") == {"A0": pd.Timestamp("2025-04-13"), "A1": frozenset({"type"}),
                                            "A2": frozenset({"type"})}
    rep = result.report[result.report["rule"] == "type"]
    assert dict(zip(rep["source_row"], rep["value"], strict=True)) == {3: "13/04/2025", 4: "3.4.25"}
    for message, value in zip(rep["message"], rep["value"], strict=True):
        assert message.endswith(f": '{value}' does not match the date format stated in your column mapping "
                                "(%m/%d/%Y); expected a date in that format, or an ISO date such as 2025-03-18.")
        assert "EPDS end date" in message
    assert set(result.quarantine["measures"]["timepoint"]) == {"end"}


def test_a_column_without_a_format_beside_one_with_a_format_is_read_by_the_sheets_rules():
    """'13/04/2025' in the column stating MM/DD/YYYY is refused; the same text in the column stating nothing is
    13 April, as the sheet's dates show."""
    sheet = _sheet(["13/04/2025", "02/05/2025"], ["13/04/2025", "05/03/2025"])
    result = validate(read_wide(sheet, mapping=_mapping({"EPDS end date": "MM/DD/YYYY"})).raw, today=TODAY)
    assert _outcome(result, ["A0", "A1"], "start") == {"A0": pd.Timestamp("2025-04-13"),
                                                        "A1": pd.Timestamp("2025-05-02")}
    assert _outcome(result, ["A0", "A1"], "end") == {"A0": frozenset({"type"}), "A1": pd.Timestamp("2025-05-03")}


def _long(ids: list[str], cells: list[str], fmt: str, timepoint: str):  # noqa: ANN202
    """The same cells as a long measures file of their own, its mapping stating ``fmt``."""
    measures = pd.DataFrame({"programme_id": "P-A", "participant_id": ids, "instrument": "epds",
                             "completed_on": cells, "timepoint": timepoint, "total": "12"})
    notes = empty_notes()
    notes["date_formats"] = ColumnMapping(date_formats={"completed_on": fmt}).strftime_formats()
    return validate({"measures": with_notes(measures, notes)}, today=TODAY)


_FORMATS = ("DD/MM/YYYY", "MM/DD/YYYY", "DD.MM.YY", "YYYY-MM-DD", "MM-DD-YYYY", "DD MM YYYY")


@st.composite
def _cell(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 7)) == 0:
        return draw(st.sampled_from(["soon", "31/02/2025", "13/13/2025", "45720", "4 March 2025", "3.4.25"]))
    day = draw(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)))
    return day.strftime(strftime_format(draw(st.sampled_from(_FORMATS))))


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_cell(), _cell()), min_size=1, max_size=4), st.sampled_from(_FORMATS),
       st.sampled_from(_FORMATS))
def test_each_questionnaire_date_reads_as_its_own_columns_long_file_reads_it(rows, start_format, end_format):
    """Property: each cell is stored (or refused) as a long measures file of its column alone, stating that
    column's format, stores (or refuses) it."""
    start, end = [s for s, _ in rows], [e for _, e in rows]
    ids = [f"A{i}" for i in range(len(rows))]
    wide = validate(read_wide(_sheet(start, end), mapping=_mapping({"EPDS start date": start_format,
                                                                    "EPDS end date": end_format})).raw, today=TODAY)
    for timepoint, cells, fmt in (("start", start, start_format), ("end", end, end_format)):
        assert _outcome(wide, ids, timepoint) == _outcome(_long(ids, cells, fmt, timepoint), ids, timepoint), \
            (timepoint, rows)


def test_cells_with_their_own_format_take_no_part_in_the_columns_day_month_order():
    """'13/04/2025' read in its own MM/DD/YYYY is refused, and does not make '03/04/2025' (no format of its own)
    day/month: that one still reads two ways."""
    cells = pd.Series(["03/04/2025", "13/04/2025", "2025-04-14"], dtype="str")
    reading = read_dates(cells, np.zeros(3, dtype=np.int64),
                         row_formats=np.array([None, "%m/%d/%Y", "%m/%d/%Y"], dtype=object))
    assert reading.ambiguous.tolist() == [True, False, False]
    assert reading.bad.tolist() == [False, True, False]
    assert [str(v)[:10] for v in reading.values] == ["NaT", "NaT", "2025-04-14"]



def test_the_same_text_in_two_questionnaire_date_columns_of_a_row_is_told_its_own_columns_format():
    """'3.4.25' in the EPDS and GAD-7 start dates of one row: the column stating no format reports it as reading
    two ways, the column stating MM/DD/YYYY refuses it with that format named (the two cells once shared one
    entry, and the last column's format was given to both)."""
    mapping = WideMapping(
        columns={"Ref no": "participant_id", "Programme": "programme_id", "Date referred": "referral_date"},
        scores={"EPDS at start": MeasureColumn("epds", "start"), "GAD-7 at start": MeasureColumn("gad7", "start")},
        score_dates={"EPDS start date": MeasureColumn("epds", "start"),
                     "GAD-7 start date": MeasureColumn("gad7", "start")},
        date_formats={"GAD-7 start date": "MM/DD/YYYY"},
        assumptions=DateAssumptions(start_days_after_referral=None, end_days_per_session=None,
                                    first_contact_from_start=False),
    )
    sheet = pd.DataFrame({"Ref no": ["A0", "A1"], "Programme": "P-A", "Date referred": "2000-01-01",
                          "EPDS at start": "12", "EPDS start date": ["3.4.25", "2025-05-02"],
                          "GAD-7 at start": "8", "GAD-7 start date": ["3.4.25", "05/03/2025"]})
    result = validate(read_wide(sheet, mapping=mapping).raw, today=TODAY)
    rep = result.report[(result.report["source_row"] == 2) & (result.report["severity"] == "error")]
    assert sorted(rep["rule"]) == ["ambiguous_date", "type"]
    by_rule = dict(zip(rep["rule"], rep["message"], strict=True))
    assert "'3.4.25' could be 3 April 2025 (day/month) or 4 March 2025 (month/day)" in by_rule["ambiguous_date"]
    assert "'3.4.25' does not match the date format stated in your column mapping" in by_rule["type"]
    assert sorted(result.quarantine["measures"]["instrument"]) == ["epds", "gad7"]
    stored = result.tables["measures"]
    assert dict(zip(stored["instrument"], stored["completed_on"].astype(str), strict=True)) == {
        "epds": "2025-05-02", "gad7": "2025-05-03"}


def test_the_wide_layout_guide_names_the_format_as_the_refusal_does():
    """docs/WIDE_LAYOUT.md's example of a questionnaire date refused in its own column's format quotes the format
    the message names."""
    guide = (Path(__file__).resolve().parents[1] / "docs" / "WIDE_LAYOUT.md").read_text(encoding="utf-8")
    said = re.search(r"an end date `13/04/2025` is refused[^`]*`([^`]+)`", " ".join(guide.split()))
    assert said is not None
    sheet = _sheet(["13/01/2025"], ["13/04/2025"])
    result = validate(read_wide(sheet, mapping=_mapping({"EPDS start date": "DD/MM/YYYY",
                                                         "EPDS end date": "MM/DD/YYYY"})).raw, today=TODAY)
    (message,) = result.report.loc[result.report["rule"] == "type", "message"]
    assert f"'13/04/2025' does not match the date format stated in your column mapping ({said.group(1)})" in message


def test_date_refusals_take_one_detail_per_refused_cell():
    """The refused cells of a column whose cells state their own formats each get their own detail (an array, as
    ``_refusal_details`` gives it), and the hint says so; a date whose weekday is not its own is told that instead."""
    assert np.ndarray in typing.get_args(typing.get_type_hints(_date_refusals)["detail"])
    refused = np.array(["soon", "13/04/2025", "Mon, 3 Feb 2024"], dtype=object)
    details = _refusal_details(None, np.array(["%d/%m/%Y", "%m/%d/%Y", None], dtype=object),
                               np.ones(3, dtype=bool))
    messages = _date_refusals(refused, details)
    assert messages[0] == ("'soon' does not match the date format stated in your column mapping (%d/%m/%Y); "
                           "expected a date in that format, or an ISO date such as 2025-03-18.")
    assert "(%m/%d/%Y)" in messages[1]
    assert messages[2].startswith("'Mon, 3 Feb 2024': ")
    assert messages[2].endswith("; expected the date and its weekday to agree (or the date alone).")
