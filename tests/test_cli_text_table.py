"""The CLI's text tables keep national-scale counts under their titles (evalkit.cli.text_table).

With fixed widths, ``evalkit validate`` on the 1M benchmark files printed ``participants      1,000,0001,000,000``:
seven-digit counts with separators ran into the next column. Each column is now as wide as its widest entry.
"""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalkit.cli.text_table import Column, count_cells, counts_by_table, text_table


def test_counts_stay_under_their_titles():
    table = text_table([Column("table", ["programmes", "participants", "contacts"], "left"),
                        Column("rows read", count_cells([4, 1_000_000, 4_755_822])),
                        Column("valid", count_cells([4, 999_999, 4_755_822])),
                        Column("warnings", count_cells([0, pd.NA, 12_345_678]))])
    assert table == ("table         rows read      valid    warnings\n"
                     "programmes            4          4           0\n"
                     "participants  1,000,000    999,999\n"
                     "contacts      4,755,822  4,755,822  12,345,678\n")


def test_counts_by_table_is_the_text_table_of_its_columns():
    frame = pd.DataFrame({"table": ["participants", "contacts"], "rows_read": [1_000_000, 4_755_822],
                          "errors": [0, 12]})
    assert counts_by_table(frame, {"rows_read": "rows read", "errors": "errors"}) == text_table(
        [Column("table", ["participants", "contacts"], "left"), Column("rows read", ["1,000,000", "4,755,822"]),
         Column("errors", ["0", "12"])])


def test_a_table_without_rows_is_its_title_line():
    assert text_table([Column("table", [], "left"), Column("rows read", count_cells([]))]) == "table  rows read\n"


def test_columns_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same number of cells"):
        text_table([Column("a", ["1"]), Column("b", [])])


@given(st.lists(st.tuples(st.text(alphabet="abcdé_ ", min_size=1, max_size=15).map(str.strip).filter(bool),
                          st.integers(0, 10**10), st.integers(0, 10**10)), min_size=1, max_size=6))
def test_every_cell_is_read_back_from_its_place(rows):
    names, first, second = zip(*rows, strict=True)
    lines = text_table([Column("name", list(names), "left"), Column("first", count_cells(first)),
                        Column("second", count_cells(second))]).splitlines()
    w_name = max(len("name"), *map(len, names))
    w_first = max(len("first"), *(len(f"{v:,}") for v in first))
    w_second = max(len("second"), *(len(f"{v:,}") for v in second))
    assert lines[0] == "name".ljust(w_name) + "  " + "first".rjust(w_first) + "  " + "second".rjust(w_second)
    for line, name, a, b in zip(lines[1:], names, first, second, strict=True):
        assert line == name.ljust(w_name) + "  " + f"{a:,}".rjust(w_first) + "  " + f"{b:,}".rjust(w_second)
