"""Shortcuts of the cross-table checks against their definitions.

``links._first_of_each`` finds each key's first row with a running maximum of Arrow's dictionary codes (numbered
in order of first appearance) instead of sorting them; ``check_head_counts`` looks each session up among the
attended sessions in Arrow instead of reindexing a Series by Python strings. Both must give what the definitions
give, on generated keys with missing ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.cells import encoded_text
from evalkit.validation.links import _first_of_each, check_head_counts
from evalkit.validation.problems import ProblemLog, TableRows

_KEY = st.one_of(st.none(), st.sampled_from(["M1", "M2", "M3", "m1", "M10", "é", ""]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_KEY, max_size=30))
def test_first_of_each_is_the_first_row_of_every_key(keys: list[str | None]) -> None:
    seen: set[object] = set()
    expected = []
    for i, k in enumerate(keys):  # a missing key counts as one key, at its first row
        if k not in seen:
            seen.add(k)
            expected.append(i)
    got = _first_of_each(pa.array(keys, type=pa.large_string()))
    assert got.tolist() == expected
    assert got.dtype == np.intp


_SESSION = st.one_of(st.none(), st.sampled_from(["G1", "G2", "G3", "G4"]))
_PERSON = st.one_of(st.none(), st.sampled_from(["p1", "p2", "p3", "p4", "p5"]))


@settings(max_examples=150, deadline=None)
@given(sessions=st.lists(st.tuples(_SESSION, st.one_of(st.none(), st.integers(-1, 5))), min_size=1, max_size=8),
       attended=st.lists(st.tuples(_SESSION, _PERSON), min_size=1, max_size=30),
       form=st.sampled_from(["arrow", "known", "object"]))
def test_head_counts_below_the_named_attendees_are_those_of_the_definition(
        sessions: list[tuple[str | None, int | None]], attended: list[tuple[str | None, str | None]], form: str) -> None:
    ids = [s for s, _ in sessions]
    head = np.array([np.nan if h is None else float(h) for _, h in sessions])
    if form == "arrow":
        session_ids: pd.Series | np.ndarray = pd.Series(ids, dtype="str")
    elif form == "known":
        session_ids = encoded_text(pd.Series(pd.Categorical(ids)))
    else:
        session_ids = np.array(ids, dtype=object)
    rows = TableRows.from_frame("group_sessions", pd.DataFrame({"group_session_id": ids}), {})
    attendance = pd.DataFrame({"group_session_id": pd.Series([s for s, _ in attended], dtype="str"),
                               "participant_id": pd.Series([p for _, p in attended], dtype="str")})
    log = ProblemLog()
    check_head_counts(rows, log, session_ids, head, np.array([str(h) for h in head], dtype=object), attendance)
    # the definition: distinct (session, participant) pairs per named session, a missing participant once
    named = attendance.astype(object).drop_duplicates().groupby("group_session_id")["participant_id"].size()
    counted = [named.get(s, np.nan) if s is not None else np.nan for s in ids]
    low = [i for i, (h, c) in enumerate(zip(head, counted, strict=True)) if h < c]
    report = log.report()
    assert report["source_row"].tolist() == [i + 2 for i in low]
    assert report["message"].tolist() == [
        f"Row {i + 2}, column 'head_count': '{head[i]}' is smaller than the {int(counted[i])} named participants recorded as attending this session in "
        "contacts; expected a head count of at least that (it counts everyone present, named or not)." for i in low]
