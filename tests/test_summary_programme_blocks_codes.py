"""``_programme_blocks`` compares each row's programme with its participant's as numbers, not as text taken at
every row, and splits the tables as it did (compared here with the expression it replaced, on many tables).

At a million participants of issue #8's volume the text taken and joined for the 10.6 million contacts was about
0.6 GB, the peak of ``evalkit summary`` once the rest was let go of.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.episodes import _arrow_strings, _positions
from evalkit.summary import _programme_blocks

_PROG = st.sampled_from(["P1", "P2", "P3", None])
_PID = st.sampled_from(["a", "b", "c", "d", "zz", None])


def _old_rows_agree(tables: dict[str, pd.DataFrame]) -> bool:
    """Whether every contact and measure of a known participant carries her programme, as at c19d3cb."""
    parts = tables["participants"]
    pids = _arrow_strings(parts["participant_id"])
    prog_arrow = _arrow_strings(parts["programme_id"].astype("string"))
    for name in ("contacts", "measures"):
        frame = tables[name]
        if not len(frame):
            continue
        pos = _positions(frame["participant_id"], pids)
        known = np.flatnonzero(pos >= 0)
        own = prog_arrow.take(pa.array(pos[known]))
        theirs = _arrow_strings(frame["programme_id"]).take(pa.array(known))
        if not pac.all(pac.fill_null(pac.equal(own, theirs), False)).as_py():
            return False
    return True


@st.composite
def _tables(draw: st.DrawFn) -> dict[str, pd.DataFrame]:
    ids = draw(st.lists(st.sampled_from(["a", "b", "c", "d"]), unique=True, min_size=1, max_size=4))
    parts = pd.DataFrame({"participant_id": pd.array(ids, dtype="string"),
                          "programme_id": pd.array([draw(_PROG) for _ in ids], dtype="string")})

    def rows() -> pd.DataFrame:
        n = draw(st.integers(0, 12))
        return pd.DataFrame({"participant_id": pd.array([draw(_PID) for _ in range(n)], dtype="string"),
                             "programme_id": pd.array([draw(_PROG) for _ in range(n)], dtype="string")})

    return {"participants": parts, "contacts": rows(), "measures": rows()}


@settings(max_examples=400, deadline=None)
@given(tables=_tables())
def test_split_when_the_rows_agree_as_before(tables: dict[str, pd.DataFrame]) -> None:
    ids = ["P1", "P2", "P3"]
    parts = tables["participants"]
    one_each = parts["participant_id"].nunique(dropna=False) == len(parts[["participant_id", "programme_id"]]
                                                                   .drop_duplicates())
    with_parts = parts["programme_id"].notna().any()
    blocks = _programme_blocks(tables, ids)
    assert (blocks is not None) == (one_each and bool(with_parts) and _old_rows_agree(tables))
