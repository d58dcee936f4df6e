"""The date formats a mapping proposal offers are formats as the cells are written: a provider who accepts the
proposal gets every date read, in both layouts (a stated date format is a strict format)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evalkit.mapping_proposal import propose_mapping
from evalkit.readers import read_file
from evalkit.readers.wide import WideMapping, detect_date_format, read_wide
from evalkit.validation import validate

TODAY = "2200-01-01"  # no date is in the future: only the reading of the dates is compared


def _participants(path: Path, dates: list[str]) -> Path:
    rows = "".join(f"M{i},P1,{d},yes\n" for i, d in enumerate(dates, start=1))
    path.write_text("participant_id,programme_id,referral_date,took_up\n" + rows, encoding="utf-8")
    return path


def _accepted(path: Path):  # noqa: ANN202
    """Validation of the file read with the proposal's mapping, as `evalkit map` then `evalkit validate` do."""
    proposal = propose_mapping(path)
    return proposal, validate(read_file(path, mapping=proposal.mapping), today=TODAY)


def _referral_dates(result) -> list[str]:  # noqa: ANN001
    table = result.tables["participants"].sort_values("participant_id")
    return [pd.Timestamp(d).date().isoformat() for d in table["referral_date"]]


def _date_errors(result, column: str) -> list[str]:  # noqa: ANN001
    rep = result.report
    return list(rep.loc[(rep["column"] == column) & (rep["severity"] == "error"), "message"])


@pytest.mark.parametrize(("cells", "proposed"), [
    (["13.01.25", "03.02.25", "2025-02-04"], "DD.MM.YY"),  # day first, dots, two-digit years
    (["01-13-2025", "02-03-2025", "2025-02-04"], "MM-DD-YYYY"),  # month first, dashes
])
def test_accepting_the_proposal_reads_every_date_as_written(tmp_path, cells: list[str], proposed: str):  # noqa: ANN001
    path = _participants(tmp_path / "participants.csv", cells)
    proposal, result = _accepted(path)
    assert proposal.mapping.date_formats == {"referral_date": proposed}
    assert _date_errors(result, "referral_date") == []
    assert _referral_dates(result) == ["2025-01-13", "2025-02-03", "2025-02-04"]


def test_dates_written_two_ways_get_no_proposed_format_and_are_still_read(tmp_path):
    path = _participants(tmp_path / "participants.csv", ["13.01.25", "14/01/2025", "03.02.25"])
    proposal, result = _accepted(path)
    assert "referral_date" not in proposal.mapping.date_formats
    found = proposal.date_formats["referral_date"]
    assert found.format is None and found.status == "clear"
    assert "'13.01.25'" in found.evidence and "'14/01/2025'" in found.evidence
    assert any("referral_date" in n and "no date format" in n for n in proposal.notes)
    assert _date_errors(result, "referral_date") == []
    assert _referral_dates(result) == ["2025-01-13", "2025-01-14", "2025-02-03"]


def test_a_column_whose_only_written_dates_read_the_same_both_ways_keeps_its_own_pattern(tmp_path):
    """'05.05.2025' beside ISO dates: the format proposed must read it (YYYY-MM-DD would refuse it)."""
    path = _participants(tmp_path / "participants.csv", ["2025-01-13", "05.05.2025"])
    proposal, result = _accepted(path)
    assert proposal.mapping.date_formats == {"referral_date": "DD.MM.YYYY"}
    assert _date_errors(result, "referral_date") == []
    assert _referral_dates(result) == ["2025-01-13", "2025-05-05"]


def test_month_names_and_excel_numbers_are_read_under_the_proposed_format(tmp_path):
    path = _participants(tmp_path / "participants.csv", ["13.01.25", "4 March 2025", "45720"])
    proposal, result = _accepted(path)
    assert proposal.mapping.date_formats == {"referral_date": "DD.MM.YY"}
    assert _date_errors(result, "referral_date") == []
    assert _referral_dates(result) == ["2025-01-13", "2025-03-04", "2025-03-04"]


def _wide(path: Path, referred: list[str], started: list[str]) -> Path:
    rows = "".join(f"A{i},P-A,{r},12,{s}\n" for i, (r, s) in enumerate(zip(referred, started, strict=True), 1))
    path.write_text("Ref no,Programme,Date referred,EPDS at start,EPDS start date\n" + rows, encoding="utf-8")
    return path


def test_an_ambiguous_wide_column_takes_the_sheets_order_in_its_own_written_pattern(tmp_path):
    path = _wide(tmp_path / "mums.csv", ["13.01.25", "14.01.25"], ["03-04-2025", "05-04-2025"])
    proposal = propose_mapping(path)
    assert isinstance(proposal.mapping, WideMapping)
    assert proposal.date_formats["EPDS start date"].status == "ambiguous"
    assert proposal.mapping.date_formats == {"Date referred": "DD.MM.YY", "EPDS start date": "DD-MM-YYYY"}
    assert "like the sheet's other date columns" in proposal.date_formats["EPDS start date"].evidence
    result = validate(read_wide(path, mapping=proposal.mapping).raw, today=TODAY)
    assert _date_errors(result, "referral_date") == [] and _date_errors(result, "completed_on") == []
    assert _referral_dates(result) == ["2025-01-13", "2025-01-14"]
    started = result.tables["measures"].sort_values("participant_id")["completed_on"]
    assert [pd.Timestamp(d).date().isoformat() for d in started] == ["2025-04-03", "2025-04-05"]


def test_an_ambiguous_wide_column_written_two_ways_gets_no_format(tmp_path):
    path = _wide(tmp_path / "mums.csv", ["13.01.25", "14.01.25"], ["03-04-2025", "05/04/25"])
    proposal = propose_mapping(path)
    assert proposal.mapping.date_formats == {"Date referred": "DD.MM.YY"}
    found = proposal.date_formats["EPDS start date"]
    assert found.format is None and "'03-04-2025'" in found.evidence and "'05/04/25'" in found.evidence


@st.composite
def written_column(draw: st.DrawFn) -> tuple[list[dt.date], list[str], bool]:
    """Valid dates written in one pattern: a separator (each place; a space too), 2- or 4-digit years (2-digit ones
    in the 2000s, as evalkit reads them), day or month first, numbers padded or not; at least one date shows the
    order."""
    short_year = draw(st.booleans())
    low, high = (dt.date(2000, 1, 1), dt.date(2099, 12, 31)) if short_year else (dt.date(1990, 1, 1),
                                                                                 dt.date(2099, 12, 31))
    dates = draw(st.lists(st.dates(min_value=low, max_value=high), min_size=1, max_size=6))
    assume(any(d.day > 12 for d in dates))
    first_sep, second_sep = draw(st.sampled_from("./- ")), draw(st.sampled_from("./- "))
    day_first = draw(st.booleans())
    texts = []
    for d in dates:
        pad = draw(st.booleans())
        day, mon = (f"{d.day:02d}", f"{d.month:02d}") if pad else (str(d.day), str(d.month))
        year = f"{d.year % 100:02d}" if short_year else str(d.year)
        a, b = (day, mon) if day_first else (mon, day)
        texts.append(f"{a}{first_sep}{b}{second_sep}{year}")
    return dates, texts, short_year


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(written_column())
def test_the_accepted_proposal_reads_every_date_as_written(tmp_path_factory, column):
    dates, texts, short_year = column
    path = _participants(tmp_path_factory.mktemp("p") / "participants.csv", texts)
    proposal, result = _accepted(path)
    proposed = proposal.mapping.date_formats.get("referral_date")
    assert detect_date_format("referral_date", pd.Series(texts)).format == proposed
    # a stated YY reads a two-digit year in the 2000s, as evalkit does without one: a format is always proposed
    assert proposed is not None
    assert _date_errors(result, "referral_date") == [], texts
    assert _referral_dates(result) == [d.isoformat() for d in dates], texts


def test_the_ways_a_column_is_written_are_named_whatever_its_index():
    """Cells gathered from several sheets may repeat index labels; the evidence names each way once, as written."""
    cells = pd.Series(["13.01.25", "14/01/2025", "15.01.25"], index=[0, 0, 1])
    found = detect_date_format("d", cells)
    assert found.format is None and found.day_first is True
    assert "('13.01.25', '14/01/2025')" in found.evidence


def test_day_and_month_the_same_written_two_ways_gets_no_format_and_a_note(tmp_path):
    path = _participants(tmp_path / "participants.csv", ["05.05.2025", "06/06/25"])
    proposal, result = _accepted(path)
    assert "referral_date" not in proposal.mapping.date_formats
    assert any("referral_date" in n and "no date format" in n for n in proposal.notes)
    assert _referral_dates(result) == ["2025-05-05", "2025-06-06"]


def test_late_two_digit_years_get_a_yy_format_that_reads_them_as_evalkit_does(tmp_path):
    """evalkit reads a two-digit year in the 2000s ('85' is 2085), and so does a stated YY format: the proposal
    states DD.MM.YY for such a column, and accepting it changes no date."""
    path = _participants(tmp_path / "participants.csv", ["13.01.25", "03.04.85"])
    proposal, result = _accepted(path)
    assert proposal.mapping.date_formats == {"referral_date": "DD.MM.YY"}
    assert _date_errors(result, "referral_date") == []
    assert _referral_dates(result) == ["2025-01-13", "2085-04-03"]
