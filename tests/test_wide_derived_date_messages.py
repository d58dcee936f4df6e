"""A date of birth or due date in a one-row-per-mother sheet that gives nothing is reported like any row problem:
``Row N, column 'X':`` and why, with the file on the problem. A date that reads two ways is told the format(s) its
column could be stated in, worded by the one home of the long tables' ``ambiguous_date`` advice; a value that is no
date is not told to state a format; a value that does not match the stated format is told that format. The
value itself is never shown (it identifies her)."""

from __future__ import annotations

import re

import pandas as pd

from evalkit.readers.wide import DateAssumptions, MeasureColumn, WideMapping, read_wide
from evalkit.validation import validate

MAPPING = WideMapping(
    columns={"Ref no": "participant_id", "Programme": "programme_id", "Date referred": "referral_date"},
    scores={"EPDS at start": MeasureColumn("epds", "start")},
    score_dates={"EPDS start date": MeasureColumn("epds", "start")},
    derive={"Baby's DOB": "baby_dob"},
    assumptions=DateAssumptions(start_days_after_referral=None, end_days_per_session=None,
                                first_contact_from_start=False),
)


def _derived_messages(dob: list[str], date_formats: dict[str, str] | None = None) -> dict[int, str]:
    ids = [f"A{i}" for i in range(len(dob))]
    sheet = pd.DataFrame({"Ref no": ids, "Programme": "P-A", "Date referred": "2025-03-10", "Baby's DOB": dob,
                          "EPDS at start": "12", "EPDS start date": "2025-03-12"})
    mapping = MAPPING if date_formats is None else WideMapping.from_dict({**MAPPING.to_dict(),
                                                                          "date_formats": date_formats})
    problems = read_wide(sheet, mapping=mapping).problems
    derived = problems[problems["rule"] == "derived_value"]
    assert set(derived["value"]) <= {"(withheld)"}
    assert set(derived["column"]) <= {"Baby's DOB"}
    return dict(zip(derived["source_row"].astype(int), derived["message"], strict=True))


def _long_ambiguous_advice(cells: list[str]) -> str:
    """What the long tables' ambiguous_date message asks, after 'write it as an ISO date (e.g. ...) or '."""
    frame = pd.DataFrame({"participant_id": [f"A{i}" for i in range(len(cells))], "programme_id": "P-A",
                          "referral_date": cells, "referral_source": "self", "took_up": "yes"})
    rep = validate({"participants": frame}, today="2026-01-01").report
    message = rep.loc[rep["rule"] == "ambiguous_date", "message"].iloc[0]
    return re.split(r"write it as an ISO date \(e\.g\. [0-9-]+\) or ", message)[1]


def test_a_date_of_birth_that_reads_two_ways_names_the_formats_its_column_could_state():
    dob = ["03.02.25", "soon", "05.02.25"]
    messages = _derived_messages(dob)
    advice = _long_ambiguous_advice(dob)
    assert advice == ("state the column's date format, as its dates are written, in your column mapping: DD.MM.YY "
                      "(day/month) or MM.DD.YY (month/day).")
    for row in (2, 4):
        m = messages[row]
        assert m.startswith(f"Row {row}, column 'Baby's DOB': ")
        assert "reads two ways" in m and "nothing was derived" in m
        assert m.endswith("write it as an ISO date (YYYY-MM-DD) or " + advice)
        assert "03.02.25" not in m and "05.02.25" not in m  # her baby's date of birth is not shown
    assert messages[3].startswith("Row 3, column 'Baby's DOB': ")
    assert "is not a date" in messages[3] and "state the column's date format" not in messages[3]
    assert "soon" not in messages[3]


def test_a_date_of_birth_not_in_the_stated_format_is_told_that_format():
    messages = _derived_messages(["03/02/2025", "14.02.2025"], {"Baby's DOB": "DD.MM.YYYY"})
    assert list(messages) == [2]
    assert messages[2].startswith("Row 2, column 'Baby's DOB': ")
    # the long tables' wording of a cell not in its stated format (tests/test_wide_date_formats_per_column.py)
    assert messages[2].endswith(": the value does not match the date format stated in your column mapping "
                                "(DD.MM.YYYY), so nothing was derived from it; expected a date in that format, or an "
                                "ISO date such as 2025-03-18.")
    assert "03/02/2025" not in messages[2]


def test_other_derived_value_messages_name_the_row_and_column_alike():
    messages = _derived_messages(["2020-01-01"])
    assert messages[2].startswith("Row 2, column 'Baby's DOB': ")
    assert "more than three years before the referral date" in messages[2]


def test_a_value_that_is_no_date_is_told_what_a_date_looks_like_in_the_words_validation_uses():
    """One wording (:func:`evalkit.validation.dates.not_a_date`) for a cell that is no date: the reader's note on a
    date of birth and validation's refusal of a date cell, each as it was worded before."""
    from evalkit.validation.dates import not_a_date

    assert not_a_date() == ("is not a date; expected a date such as 2025-03-18, 18/03/2025 (day/month/year) or "
                            "18 March 2025")
    assert _derived_messages(["soon"])[2] == ("Row 2, column 'Baby's DOB': the value is not a date, so nothing was "
                                              "derived from it; expected a date such as 2025-03-18, 18/03/2025 "
                                              "(day/month/year) or 18 March 2025.")
    frame = pd.DataFrame({"participant_id": ["A0"], "programme_id": "P-A", "referral_date": ["soon"],
                          "referral_source": "self", "took_up": "yes"})
    rep = validate({"participants": frame}, today="2026-01-01").report
    (message,) = rep.loc[rep["rule"] == "type", "message"]
    assert message.endswith("'soon' " + not_a_date() + ".")
