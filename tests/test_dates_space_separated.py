"""Day, month and year separated by spaces (``13 01 2025``) are a date, read by the rules of ``13/01/2025``: one
day/month order per file and column, a date no cell of the column decides is ``ambiguous_date``; the mapping
proposal writes the column's format as its cells are (``DD MM YYYY``), and stating it reads every such cell."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.mapping_proposal import propose_mapping
from evalkit.readers import read_file
from evalkit.readers.wide import detect_date_format
from evalkit.validation import validate
from evalkit.validation.dates import date_forms, read_dates

TODAY = "2200-01-01"  # no date is in the future: only the reading of the dates is compared
PROGRAMMES = pd.DataFrame({"programme_id": ["P1"], "name": ["Mums Together"], "provider": ["Sunrise"],
                           "format": ["group"], "mode": ["in_person"], "delivered_by": ["volunteer_peers"]})


def _read(cells: list[str | None], groups: list[int] | None = None):  # noqa: ANN202
    return read_dates(pd.Series(cells, dtype="str"),
                      np.zeros(len(cells), dtype=np.int64) if groups is None else np.array(groups, dtype=np.int64))


def _iso(values: np.ndarray) -> list[str]:
    return [str(v)[:10] for v in values]


def test_a_day_first_column_of_space_separated_dates_is_read_day_first():
    reading = _read(["13 01 2025", "03 04 2025", "5 6 25"])
    assert _iso(reading.values) == ["2025-01-13", "2025-04-03", "2025-06-05"]
    assert not reading.bad.any() and not reading.ambiguous.any()


def test_a_month_first_column_of_space_separated_dates_is_read_month_first():
    reading = _read(["01 13 2025", "03 04 2025"])
    assert _iso(reading.values) == ["2025-01-13", "2025-03-04"]


def test_a_space_separated_date_no_cell_decides_is_ambiguous_as_with_slashes():
    reading = _read(["03 04 2025", "05 05 2025"])
    assert reading.ambiguous.tolist() == [True, False]
    assert _iso(reading.first_reading[:1]) == ["2025-04-03"] and _iso(reading.second_reading[:1]) == ["2025-03-04"]
    assert _iso(reading.values[1:]) == ["2025-05-05"]


def test_space_separated_forms_are_told_apart_as_slashed_ones():
    forms = date_forms(pd.Series(["13 01 2025", "01 13 2025", "03 04 2025", "05 05 2025", "32 01 2025", None]))
    assert forms.tolist() == ["dmy", "mdy", "both", "same", "bad", None]


_cell = st.one_of(
    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)).flatmap(
        lambda d: st.sampled_from([d.strftime("%d/%m/%Y"), d.strftime("%m/%d/%Y"), f"{d.day}/{d.month}/{d:%y}"])),
    st.sampled_from(["31/02/2025", "13/13/2025", "2025-03-04", "4 March 2025", "45720", "soon"]),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_cell, st.integers(0, 1)), min_size=1, max_size=8))
def test_spaces_for_slashes_change_no_reading(rows):
    """Property: a column read with every ``/`` made a space reads as the slashed column does, cell by cell (dates,
    refusals, ambiguous cells and their two readings, and the order each file decides)."""
    slashed = [c for c, _ in rows]
    groups = [g for _, g in rows]
    a, b = _read(slashed, groups), _read([c.replace("/", " ") for c in slashed], groups)
    for field in ("values", "bad", "ambiguous", "first_reading", "second_reading", "order"):
        # as whole numbers, so that NaT equals NaT
        assert np.array_equal(np.asarray(getattr(a, field)).astype(np.int64),
                              np.asarray(getattr(b, field)).astype(np.int64)), (field, slashed)


def _participants(path: Path, dates: list[str]) -> Path:
    rows = "".join(f"M{i},P1,{d},yes\n" for i, d in enumerate(dates, start=1))
    path.write_text("participant_id,programme_id,referral_date,took_up\n" + rows, encoding="utf-8")
    return path


def test_the_proposal_writes_the_format_with_spaces_and_accepting_it_reads_every_date(tmp_path: Path):
    path = _participants(tmp_path / "participants.csv", ["13 01 2025", "03 02 2025", "2025-02-04"])
    assert detect_date_format("referral_date", pd.Series(["13 01 2025", "03 02 2025"])).format == "DD MM YYYY"
    proposal = propose_mapping(path)
    assert proposal.mapping.date_formats == {"referral_date": "DD MM YYYY"}
    result = validate(read_file(path, mapping=proposal.mapping), today=TODAY)
    rep = result.report
    assert rep.loc[(rep["column"] == "referral_date") & (rep["severity"] == "error")].empty
    table = result.tables["participants"].sort_values("participant_id")
    assert [pd.Timestamp(d).date().isoformat() for d in table["referral_date"]] == [
        "2025-01-13", "2025-02-03", "2025-02-04"]


def test_an_ambiguous_space_separated_date_asks_for_the_format_as_written():
    frame = pd.DataFrame({"participant_id": ["A1", "A2"], "programme_id": "P1", "referral_date": ["03 04 25", "07 08 25"],
                          "referral_source": "gp", "took_up": "Yes"})
    rep = validate({"programmes": PROGRAMMES, "participants": frame}, today="2026-12-31").report
    messages = rep.loc[rep["rule"] == "ambiguous_date", "message"].tolist()
    assert len(messages) == 2
    assert "'03 04 25' could be 3 April 2025 (day/month) or 4 March 2025 (month/day)" in messages[0]
    assert all(m.endswith("in your column mapping: DD MM YY (day/month) or MM DD YY (month/day).") for m in messages)


# no-break (U+00A0), figure (U+2007) and narrow no-break (U+202F) spaces, as word processors and spreadsheets
# put them into dates: read as plain spaces
_SPACE_LIKE = ("\u00a0", "\u2007", "\u202f")


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_cell, st.integers(0, 1)), min_size=1, max_size=8), st.sampled_from(_SPACE_LIKE))
def test_no_break_spaces_for_spaces_change_no_reading(rows, space):
    """Property: a column of space-separated dates reads the same with each space a no-break space, cell by cell,
    and its cells are told apart the same way."""
    spaced = [c.replace("/", " ") for c, _ in rows]
    groups = [g for _, g in rows]
    a, b = _read(spaced, groups), _read([c.replace(" ", space) for c in spaced], groups)
    for field in ("values", "bad", "ambiguous", "first_reading", "second_reading", "order"):
        assert np.array_equal(np.asarray(getattr(a, field)).astype(np.int64),
                              np.asarray(getattr(b, field)).astype(np.int64)), (field, spaced)
    assert date_forms(pd.Series(spaced)).tolist() == date_forms(pd.Series([c.replace(" ", space) for c in spaced])).tolist()


def test_a_file_of_no_break_space_dates_is_read_and_its_format_written_with_plain_spaces(tmp_path: Path):
    dates = ["13\u00a001\u00a02025", "03\u00a002\u00a02025", "4\u202fMarch\u202f2025"]
    path = _participants(tmp_path / "participants.csv", dates)
    result = validate(read_file(path), today=TODAY)
    rep = result.report
    assert rep.loc[(rep["column"] == "referral_date") & (rep["severity"] == "error")].empty
    table = result.tables["participants"].sort_values("participant_id")
    assert [pd.Timestamp(d).date().isoformat() for d in table["referral_date"]] == [
        "2025-01-13", "2025-02-03", "2025-03-04"]
    assert detect_date_format("referral_date", pd.Series(dates[:2])).format == "DD MM YYYY"
    stated = read_dates(pd.Series(["03\u00a002\u00a02025"], dtype="str"), np.zeros(1, dtype=np.int64), "%d %m %Y")
    assert _iso(stated.values) == ["2025-02-03"]
