"""The participants' parent index: one look-up of a child's distinct ids serves the foreign-key check and
the participant's details (programme, dates), and both agree with a look-up done afresh."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation.cells import encoded_text
from evalkit.validation.links import ParentIndex, check_foreign_key
from evalkit.validation.problems import ProblemLog, TableRows


def _participants(ids: list[str], error: list[bool]) -> ParentIndex:
    frame = pd.DataFrame({"participant_id": ids})
    rows = TableRows.from_frame("participants", frame, {})
    rows.error[:] = np.asarray(error)
    typed = {
        "participant_id": pd.Series(ids, dtype="str"),
        "programme_id": np.array([f"P{i % 2}" for i in range(len(ids))], dtype=object),
        "referral_date": np.array([f"2024-01-0{1 + i % 9}" for i in range(len(ids))], dtype="datetime64[ns]"),
        "end_date": np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]"),
    }
    stored = pd.DataFrame({"participant_id": pd.Series(["S1", "M2"], dtype="str"),
                           "programme_id": ["P9", "P9"], "referral_date": pd.to_datetime(["2023-05-01"] * 2),
                           "end_date": pd.to_datetime([None, None])})
    return ParentIndex.build("participants", "participant_id", typed, rows, stored)


def test_participant_look_ups_are_shared_and_agree_with_a_fresh_one() -> None:
    parent = _participants(["M1", "M2", "M3", "M4", "M1"], [False, False, True, False, False])
    # the usable keys: the upload's rows without errors, then the stored ones, each once in order of first sight
    assert parent.valid.to_pylist() == ["M1", "M2", "M4", "S1"]
    assert parent.info_keys is parent.valid
    child = encoded_text(pd.Series(pd.Categorical(["M4", "X", "S1", None, "M1", "M3", "X"])))
    where = parent.locate(child)
    assert where.tolist() == [2, -1, 3, -1, 0, -1, -1]
    assert parent.info["programme_id"].iloc[where[where >= 0]].tolist() == ["P1", "P9", "P0"]
    distinct = pa.array(["M4", "X", "S1", "M1", "M3"], type=pa.large_string())
    fresh = pc.fill_null(pc.index_in(distinct, value_set=parent.valid), -1).to_numpy(zero_copy_only=False)
    first = parent.positions(distinct)
    assert first.tolist() == fresh.tolist() == [2, -1, 3, 0, -1]
    assert parent.positions(distinct) is first  # the same array asked again: not looked up again
    again = pa.array(["M4", "X", "S1", "M1", "M3"], type=pa.large_string())
    assert parent.positions(again) is not first and parent.positions(again).tolist() == first.tolist()


_ID = st.sampled_from(["M1", "M2", "M3", "M4", "M5", "S1", "S2"])


@settings(max_examples=120, deadline=None)
@given(upload=st.lists(st.tuples(_ID, st.booleans()), min_size=0, max_size=12),
       stored=st.lists(_ID, min_size=0, max_size=6),
       child=st.lists(st.one_of(st.none(), _ID, st.just("X9")), min_size=0, max_size=15))
def test_participants_index_keeps_the_usable_keys_and_answers_as_a_fresh_look_up(
        upload: list[tuple[str, bool]], stored: list[str], child: list[str | None]) -> None:
    """For any upload (some rows set aside), stored rows and child ids: the usable keys are the upload's rows
    without errors then the stored ones, each once in order of first sight (as ``pc.unique`` gives them); the
    shared look-up agrees with ``is_in``/``index_in`` done afresh, whichever of the two checks asks first."""
    ids = [k for k, _ in upload]
    frame = pd.DataFrame({"participant_id": ids})
    rows = TableRows.from_frame("participants", frame, {})
    rows.error[:] = np.asarray([bad for _, bad in upload], dtype=bool)
    typed = {"participant_id": pd.Series(ids, dtype="str"),
             "programme_id": np.array(["P1"] * len(ids), dtype=object),
             "referral_date": np.full(len(ids), np.datetime64("2024-01-01"), dtype="datetime64[ns]"),
             "end_date": np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")}
    existing = pd.DataFrame({"participant_id": pd.Series(stored, dtype="str"), "programme_id": ["P2"] * len(stored),
                             "referral_date": pd.to_datetime(["2023-01-01"] * len(stored)),
                             "end_date": pd.to_datetime([None] * len(stored))})
    parent = ParentIndex.build("participants", "participant_id", typed, rows, existing if stored else None)
    usable = [k for k, bad in upload if not bad] + stored
    expected = list(dict.fromkeys(usable))
    assert parent.valid.to_pylist() == expected
    cells = encoded_text(pd.Series(pd.Categorical(child)))
    want = [expected.index(c) if c in expected else -1 for c in child]
    # the foreign-key check first (it keeps the look-up), then the participants' details
    child_rows = TableRows.from_frame("contacts", pd.DataFrame({"participant_id": child}), {})
    log = ProblemLog()
    check_foreign_key(child_rows, log, cells, column="participant_id", parent=parent)
    flagged = sorted(log.report()["source_row"].tolist()) if len(child) else []
    assert flagged == [i + 2 for i, c in enumerate(child) if c is not None and c not in expected]
    if parent.info is not None:
        assert parent.locate(cells).tolist() == want
