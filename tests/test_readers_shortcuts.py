"""The CSV reader's shortcuts give what the general path gives.

Each shortcut (work skipped or done once when its answer is already known) is compared here with the path it
replaces, on inputs hypothesis draws to reach the cases where the two could part.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.canonical import SOURCE_FILE, SOURCE_ROW, SOURCE_SHEET
from evalkit.readers import compact_text_columns
from evalkit.readers.detect import find_header_row, names_columns
from evalkit.readers.headers import _match_words, match_headers
from evalkit.readers.raw_frame import _summary_rows, build_raw_frame, settle_parsed_categories
from evalkit.schemas import TABLE_NAMES

_TEXT = pd.StringDtype("pyarrow", na_value=np.nan)


def _categorical(codes: list[int], categories: list[str]) -> pd.Categorical:
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(pd.array(categories, dtype=_TEXT))))


@st.composite
def parsed_frames(draw: st.DrawFn) -> pd.DataFrame:
    """Raw frames as the CSV parser leaves them: categorical columns (some categories no row holds any more,
    some cells missing) beside text columns and the provenance columns."""
    n = draw(st.integers(0, 12))
    columns: dict[str, object] = {}
    for name in ("programme_id", "participant_id", "took_up"):
        categories = draw(st.lists(st.text(alphabet="abAB 1", max_size=3), unique=True, max_size=16))
        codes = draw(st.lists(st.integers(-1, len(categories) - 1), min_size=n, max_size=n))
        columns[name] = _categorical(codes, categories)
    for name in ("referral_date", "age_band"):
        columns[name] = pd.array(draw(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c", " "]),
                                                         st.text(max_size=3)), min_size=n, max_size=n)),
                                 dtype=_TEXT)
    columns[SOURCE_FILE] = pd.array(["f.csv"] * n, dtype=_TEXT)
    columns[SOURCE_SHEET] = pd.array([None] * n, dtype=_TEXT)
    columns[SOURCE_ROW] = pd.array(list(range(2, n + 2)), dtype="Int64")
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


@settings(max_examples=150, deadline=None)
@given(parsed_frames(), st.booleans(), st.sampled_from([0.5, 0.2, 1.0, 0.0]))
def test_settling_and_compacting_at_once_is_settling_then_compacting(frame: pd.DataFrame, renumber: bool,
                                                                     share: float) -> None:
    """A column made text again is not encoded a second time: only when it truly holds too many values."""
    at_once = settle_parsed_categories(frame.copy(), renumber=renumber, max_share=share, compact=True)
    in_turn = compact_text_columns(settle_parsed_categories(frame.copy(), renumber=renumber, max_share=share),
                                   max_share=share)
    pd.testing.assert_frame_equal(at_once, in_turn, check_exact=True)
    for column in in_turn.columns:
        if isinstance(in_turn[column].dtype, pd.CategoricalDtype):
            assert at_once[column].cat.categories.tolist() == in_turn[column].cat.categories.tolist()


_HEADER_WORDS = ["participant_id", "Participant ID", "programme_id", "Programme", "contact_date", "Date", "status",
                 "instrument", "item_1", "Q3", "EPDS 3", "notes", "Name", "NHS number", "", "Report for Q1",
                 "Total", "took_up", "referral_date", "group_session_id"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_HEADER_WORDS), min_size=1, max_size=6), min_size=1, max_size=6))
def test_a_first_row_naming_columns_is_the_header_whatever_rows_follow(rows: list[list[str]]) -> None:
    """The reader skips turning the rows below into text when the first row names columns."""
    if names_columns(rows[0]):
        assert find_header_row(rows) == 0
        for later in rows[1:]:
            assert find_header_row([rows[0], later, *rows[1:]]) == 0


def test_header_matches_kept_are_those_of_the_words() -> None:
    """The alias match of a header is kept per header and table: every table still gets its own answer."""
    headers = [w for w in _HEADER_WORDS if w.strip()] + ["Date of contact", "Q12", "Mum's ID", "postcode"]
    for _ in range(2):  # the second time from the kept answers
        for table in TABLE_NAMES:
            got = [(m.kind, m.column) for m in match_headers(headers, table)]
            words = [_match_words.__wrapped__(h, table) for h in headers]
            taken: set[str] = set()
            expected = []
            for kind, column in words:
                if kind == "column" and column in taken:
                    kind = "duplicate"
                elif kind == "column" and column is not None:
                    taken.add(column)
                expected.append((kind, column))
            assert got == expected, table


def test_a_header_a_mapping_names_is_read_through_the_mapping_before_and_after_its_words_are_kept() -> None:
    """A provider's mapping decides a header whatever answer its words gave before (kept or not): the same
    header, matched without a mapping, with one, and without again, gives the words' answer, the mapping's,
    then the words' again."""
    from evalkit.column_mapping import ColumnMapping

    headers = ["Mum ref", "Programme", "Date referred", "Notes"]
    mapping = ColumnMapping(columns={"Mum ref": "participant_id", "Date referred": None, "Notes": "referral_date"})
    plain = [(m.kind, m.column) for m in match_headers(headers, "participants")]
    assert plain[0] == ("unknown", None) and plain[2] == ("column", "referral_date")
    mapped = [(m.kind, m.column) for m in match_headers(headers, "participants", mapping)]
    assert mapped[0] == ("column", "participant_id")
    assert mapped[2] == ("skipped", None)
    assert mapped[3] == ("column", "referral_date")
    assert [(m.kind, m.column) for m in match_headers(headers, "participants")] == plain


_FIRST = ["Total", "total:", " TOTAL ", "Grand total", "Average", "Count-01", "M1", "M2", "", "Sum of scores"]
_OTHER = ["", "12", "1,200", "35%", "x", "2.5", "  "]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(_FIRST)), st.one_of(st.none(), st.sampled_from(_OTHER)),
                          st.one_of(st.none(), st.sampled_from(_OTHER))), max_size=15),
       st.lists(st.sampled_from(_FIRST), max_size=4))
def test_summary_rows_of_a_categorical_first_column_are_those_of_its_text(rows: list[tuple], unused: list[str]) -> None:
    """Totals rows are found on the categories of a categorical first column and spread to its rows."""
    text = pd.DataFrame({p: pd.array([r[p] for r in rows], dtype=_TEXT) for p in range(3)},
                        index=pd.RangeIndex(len(rows)))
    categories = list(dict.fromkeys([*unused, *(r[0] for r in rows if r[0] is not None)]))
    codes = [-1 if r[0] is None else categories.index(r[0]) for r in rows]
    encoded = text.copy()
    encoded[0] = _categorical(codes, categories)
    assert np.array_equal(_summary_rows(encoded), _summary_rows(text))


@pytest.mark.parametrize("n_categories", [1, 126, 127, 128, 32766, 32767, 32768])
def test_parser_codes_come_in_the_type_pandas_keeps(n_categories: int) -> None:
    """The reader joins the parser's codes straight into the type pandas holds them in: not copied again."""
    from evalkit.readers.csv import _code_type

    codes = np.zeros(3, dtype=_code_type(n_categories))
    made = pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.RangeIndex(n_categories)), validate=False)
    assert made.codes.dtype == codes.dtype


def test_a_change_to_the_raw_frame_never_reaches_the_readers_cells() -> None:
    """The raw frame is made from the reader's columns without copying them, and a change to it never reaches the
    reader's cells: pandas' copy-on-write copies a shared column before writing into it, so this guards
    :func:`build_raw_frame` itself never writing into the cells it is given."""
    cells = pd.DataFrame({0: _categorical([0, 1, 0], ["M1", "M2"]), 1: pd.array(["P1", "P1", "P2"], dtype=_TEXT),
                          2: pd.array(["2025-01-01", None, "x"], dtype=_TEXT)})
    before = cells.copy(deep=True)
    frame = build_raw_frame(cells, ["participant_id", "programme_id", "referral_date"], np.array([2, 3, 4]),
                            table="participants", file="p.csv", sheet=None, header_row=1)
    frame.loc[0, "participant_id"] = "M2"
    frame.iloc[1, 1] = "P9"
    frame.loc[2, "referral_date"] = "y"
    pd.testing.assert_frame_equal(cells, before)
    assert frame["participant_id"].tolist() == ["M2", "M2", "M1"]


def test_a_header_without_cells_is_a_column_of_every_row() -> None:
    """A header past the last column of cells is a column of missing text on every row, which a constant of
    the provider's mapping then fills."""
    from evalkit.column_mapping import ColumnMapping

    cells = pd.DataFrame({0: pd.array(["M1", "M2"], dtype=_TEXT)})
    headers = ["participant_id", "programme_id"]
    frame = build_raw_frame(cells, headers, np.array([2, 3]), table="participants", file="p.csv", sheet=None,
                            header_row=1)
    assert frame["programme_id"].dtype == "str" and frame["programme_id"].isna().tolist() == [True, True]
    filled = build_raw_frame(cells, headers, np.array([2, 3]), table="participants", file="p.csv", sheet=None,
                             header_row=1, mapping=ColumnMapping(constants={"programme_id": "P1"}))
    assert filled["programme_id"].tolist() == ["P1", "P1"]
    assert filled.columns.tolist()[:2] == headers and len(filled) == 2
