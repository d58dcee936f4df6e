"""Columns of one-character cells (item scores) read as plain text and encoded by the reader itself.

The reader guesses such columns from the first lines of a file (``_one_byte_columns``) and encodes them
with ``_one_byte_codes`` instead of the CSV parser; where a longer cell turns up Arrow encodes the column.
Every frame must be the one the parser's own encoding gives (the reader with no column guessed): the same
cells, categories in the same order, codes of the same type, the same notes.
"""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.readers import csv as csv_reader
from evalkit.readers import read_file

_CELLS = ["", "0", "1", "2", "3", "4", "x", " ", "~", "12", "10", " 3", "é", "₂", "NA"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(_CELLS), st.text(max_size=2), st.characters(max_codepoint=127)),
                min_size=1, max_size=60),
       st.lists(st.integers(0, 60), max_size=4))
def test_one_byte_codes_are_arrows_encoding_of_the_joined_column(cells: list[str], cuts: list[int]) -> None:
    """Codes, categories (in order of first appearance) and code type as Arrow's ``dictionary_encode`` of
    the whole column gives, whatever the blocks; ``None`` when a cell is two bytes or more."""
    edges = sorted({0, len(cells), *(min(c, len(cells)) for c in cuts)})
    blocks = pa.chunked_array([pa.array(cells[a:b], type=pa.string()) for a, b in zip(edges, edges[1:], strict=False)],
                              type=pa.string())
    found = csv_reader._one_byte_codes(blocks)
    if any(len(c.encode("utf-8")) > 1 for c in cells):
        assert found is None
        return
    assert found is not None
    codes, categories = found
    expected = pc.dictionary_encode(pa.array(cells, type=pa.string()))
    assert categories.type == pa.large_string()
    assert categories.to_pylist() == expected.dictionary.to_pylist()
    assert codes.dtype == csv_reader._code_type(len(expected.dictionary))
    assert np.array_equal(codes, expected.indices.to_numpy())


def test_every_ascii_character_and_the_empty_text_need_wider_codes() -> None:
    """129 categories (the 128 one-byte characters and the empty text) do not fit pandas' int8 codes."""
    cells = [chr(c) for c in range(127, -1, -1)] + ["", "a", ""]
    found = csv_reader._one_byte_codes(pa.chunked_array([pa.array(cells[:70]), pa.array(cells[70:])]))
    assert found is not None
    codes, categories = found
    assert codes.dtype == np.int16
    assert categories.to_pylist() == cells[:129]
    assert codes.tolist() == list(range(129)) + [127 - ord("a"), 128]


def _read_both(path: Path, table: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The frame read as the reader does now, and with every column encoded by the parser (no guess)."""
    new = read_file(path, table=table)[table]
    with mock.patch.object(csv_reader, "_one_byte_columns", return_value=frozenset()):
        old = read_file(path, table=table)[table]
    return new, old


def _assert_same(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new.attrs == old.attrs
    for column in old.columns:
        assert new[column].dtype == old[column].dtype, column
        if isinstance(old[column].dtype, pd.CategoricalDtype):
            assert new[column].cat.categories.tolist() == old[column].cat.categories.tolist(), column
            assert new[column].cat.codes.dtype == old[column].cat.codes.dtype, column


_HEADER = "programme_id,participant_id,instrument,completed_on,timepoint,item_1,item_2,item_3,total\n"


def _row(i: int, items: str) -> str:
    return f"P1,M{i % 97},epds,2024-01-{1 + i % 28:02d},start,{items}\n"


_FILES = {
    # a cell longer than one byte in a column guessed from the first 256 lines: Arrow encodes that column
    "late_long": "".join(_row(i, f"{i % 4},{i % 3},,") for i in range(400)) + _row(400, "12,1,,")
                 + "".join(_row(i, f"{i % 4},{i % 3},,") for i in range(401, 500)),
    # the empty text first seen below the first lines, after values it then comes between
    "late_empty": "".join(_row(i, "1,2,1,") for i in range(300)) + _row(300, ",9,1,")
                  + "".join(_row(i, "3,,0,7") for i in range(301, 400)),
    # a character that is not ASCII late in a one-character column, and one-character text mixed with longer
    "late_non_ascii": "".join(_row(i, f"{i % 5},a,,") for i in range(300)) + _row(300, "é,₂,€,x")
                      + "".join(_row(i, f"{i % 5},ab,,") for i in range(301, 350)),
    # quoted cells further down (one of two characters in quotes is two bytes; an empty quoted cell)
    "quoted_late": "".join(_row(i, f"{i % 5},1,2,") for i in range(300)) + _row(300, '"4","",""",3"')
                   + _row(301, '"1","a\nb",2,'),
    # line ends CRLF, blank lines and a totals row under the data
    "crlf_blank": ("".join(_row(i, f"{i % 5},{i % 2},,") for i in range(300)) + "\n,,,,,,,,\nTotal,,,,,,,,\n"
                   ).replace("\n", "\r\n"),
}


@pytest.mark.parametrize("name", sorted(_FILES))
def test_reader_gives_the_parsers_frame(tmp_path: Path, name: str) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_text(_HEADER.replace("\n", "\r\n") if name == "crlf_blank" else _HEADER, encoding="utf-8",
                    newline="")
    with path.open("a", encoding="utf-8", newline="") as handle:
        handle.write(_FILES[name])
    new, old = _read_both(path, "measures")
    _assert_same(new, old)


def test_a_file_of_many_blocks_gives_the_parsers_frame(tmp_path: Path) -> None:
    """Over 1 MB (several parser blocks): values and the empty text first seen in later blocks, a column
    that turns out to hold two-character cells several blocks down."""
    lines = [_row(i, f"1,{i % 2},,") for i in range(40_000)]
    lines += [_row(i, f"{i % 6},{'' if i % 3 else 'x'},{i % 4},") for i in range(40_000, 60_000)]
    lines += [_row(60_000, "1,1,7,10")] + [_row(i, "~,1,1,") for i in range(60_001, 60_100)]
    path = tmp_path / "measures.csv"
    path.write_text(_HEADER + "".join(lines), encoding="utf-8")
    assert path.stat().st_size > 2_000_000
    new, old = _read_both(path, "measures")
    _assert_same(new, old)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_CELLS), min_size=4, max_size=4), min_size=1, max_size=30))
def test_every_column_read_as_text_gives_the_parsers_frame(tmp_path_factory: pytest.TempPathFactory,
                                                           rows: list[list[str]]) -> None:
    """Every column taken as one-character text (whatever the first lines say): the frame is the parser's."""
    path = tmp_path_factory.mktemp("one_byte") / "measures.csv"
    path.write_text("participant_id,item_1,item_2,total\n" + "".join("M1," + ",".join(r[1:]) + "\n" for r in rows),
                    encoding="utf-8")
    with mock.patch.object(csv_reader, "_one_byte_columns", return_value=frozenset(range(4))):
        new = read_file(path, table="measures")["measures"]
    with mock.patch.object(csv_reader, "_one_byte_columns", return_value=frozenset()):
        old = read_file(path, table="measures")["measures"]
    _assert_same(new, old)


def test_columns_guessed_from_the_first_lines() -> None:
    head = "a,b,c,d\n1,,xy,é\n2,3,z,1\n"
    assert csv_reader._one_byte_columns(head, ",", 4) == frozenset({0, 1})
    assert csv_reader._one_byte_columns(head.replace("xy", '"x"'), ",", 4) == frozenset()  # a quote mark
    assert csv_reader._one_byte_columns("a,b\n1,2,3\n", ",", 2) == frozenset()  # a row of other width
    assert csv_reader._one_byte_columns("a;b\r\n1;22\r\n", ";", 2) == frozenset({0})
    assert csv_reader._one_byte_columns("a,b\n", ",", 2) == frozenset()  # no line below the header
