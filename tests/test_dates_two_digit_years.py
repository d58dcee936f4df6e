"""A two-digit year means one year however the date is read: in the 2000s (``85`` is 2085), whether the provider's
mapping states the column's format (``DD/MM/YY``, read with ``%y``) or states none. Python's ``%y`` on its own puts
69-99 in the 1900s; a stated ``YY`` must not change which year a cell is read as."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.column_mapping import ColumnMapping
from evalkit.readers import read_file
from evalkit.validation import validate
from evalkit.validation.dates import read_dates

TODAY = "2200-01-01"  # no date is in the future: only the reading of the dates is compared


def _read(cells: list[str], stated: str | None = None, day_first: bool | None = None) -> list[str]:
    reading = read_dates(pd.Series(cells, dtype="str"), np.zeros(len(cells), dtype=np.int64), stated,
                         day_first=day_first)
    return [str(d)[:10] for d in reading.values]


def test_a_stated_two_digit_year_format_reads_85_as_2085_as_evalkit_does_without_one():
    cells = ["03/04/85", "13/01/25", "31/12/69", "01/01/68", "29/02/72"]
    expected = ["2085-04-03", "2025-01-13", "2069-12-31", "2068-01-01", "2072-02-29"]
    assert _read(cells) == expected
    assert _read(cells, "%d/%m/%y") == expected


def test_a_mapping_stating_dd_mm_yy_stores_the_year_evalkit_reads_without_it(tmp_path: Path):
    path = tmp_path / "participants.csv"
    path.write_text("participant_id,programme_id,referral_date,took_up\nM1,P1,03/04/85,yes\nM2,P1,13/01/99,yes\n",
                    encoding="utf-8")
    stored = {}
    for mapping in (None, ColumnMapping(date_formats={"referral_date": "DD/MM/YY"})):
        result = validate(read_file(path, mapping=mapping), today=TODAY)
        table = result.tables["participants"].sort_values("participant_id")
        stored[mapping is None] = [pd.Timestamp(d).date().isoformat() for d in table["referral_date"]]
    assert stored[True] == stored[False] == ["2085-04-03", "2099-01-13"]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2099, 12, 31)), min_size=1, max_size=6),
       st.sampled_from("/.-"), st.booleans(), st.booleans())
def test_a_stated_yy_format_reads_every_cell_as_the_same_order_unstated(dates, sep, day_first, time_of_day):
    """Property: under a stated day/month (or month/day) ``YY`` format each cell is the date read in that order
    without a format; the time of day a stated format may hold is kept."""
    order = ("%d", "%m") if day_first else ("%m", "%d")
    fmt = f"{order[0]}{sep}{order[1]}{sep}%y"
    cells = [d.strftime(fmt) for d in dates]
    assert _read(cells, day_first=day_first) == [d.isoformat() for d in dates]
    if time_of_day:
        stamps = read_dates(pd.Series([c + " 09:30" for c in cells], dtype="str"),
                            np.zeros(len(cells), dtype=np.int64), fmt + " %H:%M").values
        assert [str(s)[:16] for s in stamps] == [f"{d.isoformat()}T09:30" for d in dates]
    else:
        assert _read(cells, fmt) == [d.isoformat() for d in dates]
