"""The CSV reader's shortcuts give what the general path gives.

Each shortcut (work skipped or done once when its answer is already known) is compared here with the path it
replaces, on inputs hypothesis draws to reach the cases where the two could part.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.readers.detect import find_header_row, names_columns
from evalkit.readers.headers import _match_words, match_headers
from evalkit.schemas import TABLE_NAMES

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
