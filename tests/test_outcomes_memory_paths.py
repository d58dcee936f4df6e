"""The narrower paths of episodes and outcomes (session 22, issue #8's memory) give what the code before them gave.

``_attended_contacts`` now finds the kept contact rows on whole columns and takes each column once; the day index
of attended contacts holds 32-bit counts and no running count of contacts; Talking Therapies outcomes take their
text columns in Arrow. Each is compared here with the expression it replaced (copied from commit 46a17f3), or with
a brute-force count, on many inputs.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.episodes import _arrow_strings, _attended_contacts, _DayIndex, _positions
from evalkit.talking_therapies import _SET_CODES, MEASURE_SETS, _set_text, _text_at

_IDS = st.sampled_from(["A", "B", "C", "D", "Z", None])


def _old_attended_contacts(tables: Mapping[str, pd.DataFrame], pids: pa.Array
                           ) -> tuple[pd.DataFrame, set[str], np.ndarray]:
    """``_attended_contacts`` as it was at commit 46a17f3 (for a table with rows)."""
    c = tables["contacts"]
    with_rows = set(c["programme_id"].dropna().astype(str).unique()) if "programme_id" in c.columns else set()
    status = c["status"].astype("string") if "status" in c.columns else pd.Series("attended", index=c.index)
    rows = np.flatnonzero((status == "attended").fillna(False).to_numpy(dtype=bool))
    index = c.index[rows]
    kind = c["kind"].iloc[rows].astype("string") if "kind" in c.columns \
        else pd.Series(pd.NA, index=index, dtype="string")
    gsid = c["group_session_id"].iloc[rows].astype("string") if "group_session_id" in c.columns \
        else pd.Series(pd.NA, index=index, dtype="string")
    minutes = pd.to_numeric(c["duration_minutes"].iloc[rows], errors="coerce") if "duration_minutes" in c.columns \
        else pd.Series(np.nan, index=index)
    pid = c["participant_id"].iloc[rows]
    pos = _positions(pid, pids)
    date = c["contact_date"].iloc[rows].to_numpy(dtype="datetime64[ns]")
    keep = (pos >= 0) & ~np.isnat(date)
    out = pd.DataFrame({
        "participant_id": pid.astype("string").astype("str").array[keep],
        "date": date[keep],
        "is_group": ((kind == "group_session").fillna(False) | gsid.notna()).to_numpy(dtype=bool)[keep],
        "minutes": minutes.to_numpy(dtype=float)[keep],
        "group_session_id": gsid.astype("str").array[keep],
    })
    return out, with_rows, pos[keep]


@st.composite
def _contacts(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 25))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    frame = pd.DataFrame({
        "programme_id": pd.array(col(st.sampled_from(["P1", "P2", None])), dtype="string"),
        "participant_id": pd.array(col(_IDS), dtype=draw(st.sampled_from(["string", "str", object]))),
        "contact_date": pd.to_datetime(col(st.sampled_from(["2025-01-01", "2025-02-03 10:30", None])),
                                       format="ISO8601"),
        "kind": pd.array(col(st.sampled_from(["telephone", "group_session", None])), dtype="string"),
        "status": pd.array(col(st.sampled_from(["attended", "cancelled", None])), dtype="string"),
        "duration_minutes": col(st.sampled_from([30.0, 60.0, np.nan])),
        "group_session_id": pd.array(col(st.sampled_from(["G1", "G2", None])), dtype="string"),
    })
    dropped = draw(st.lists(st.sampled_from(["kind", "status", "duration_minutes", "group_session_id"]),
                            unique=True, max_size=4))
    frame = frame.drop(columns=dropped)
    if draw(st.booleans()):  # an index that is not 0..n-1
        frame.index = pd.Index(np.arange(n)[::-1] * 3 + 7)
    return frame


@settings(max_examples=300, deadline=None)
@given(contacts=_contacts())
def test_attended_contacts_as_before(contacts: pd.DataFrame) -> None:
    pids = _arrow_strings(pd.Series(["A", "B", "C", "D"], dtype="string"))
    got = _attended_contacts({"contacts": contacts}, pids)
    new, new_rows, new_pos = got.frame, got.programmes_with_rows, got.pcode
    old, old_rows, old_pos = _old_attended_contacts({"contacts": contacts}, pids)
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    assert new_rows == old_rows
    np.testing.assert_array_equal(new_pos, old_pos)
    # the group contacts a score's day looks up, as _prepare found them on the frame before
    a_date = old["date"].to_numpy(dtype="datetime64[ns]")
    with_session = old["group_session_id"].notna().to_numpy(dtype=bool)
    grp_rows = np.flatnonzero(old["is_group"].to_numpy(dtype=bool) & with_session
                              & (a_date == a_date.astype("datetime64[D]")))
    np.testing.assert_array_equal(got.group_rows, grp_rows)
    pd.testing.assert_extension_array_equal(got.group_session, old["group_session_id"].array.take(grp_rows))


@settings(max_examples=300, deadline=None)
@given(contacts=_contacts())
def test_attended_contacts_not_kept_as_kept(contacts: pd.DataFrame) -> None:
    """``keep=False``: no frame, and every array the day index and the group-session look-up use as kept."""
    pids = _arrow_strings(pd.Series(["A", "B", "C", "D"], dtype="string"))
    kept = _attended_contacts({"contacts": contacts}, pids)
    lean = _attended_contacts({"contacts": contacts}, pids, keep=False)
    assert lean.frame is None and kept.frame is not None
    assert lean.programmes_with_rows == kept.programmes_with_rows
    for name in ("pcode", "date", "is_group", "minutes", "group_rows"):
        got, want = getattr(lean, name), getattr(kept, name)
        assert got.dtype == want.dtype, name
        np.testing.assert_array_equal(got, want, err_msg=name)
    pd.testing.assert_extension_array_equal(lean.group_session, kept.group_session)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), n=st.integers(0, 40))
def test_day_index_counts_as_brute_force(data: st.DataObject, n: int) -> None:
    pcode = np.array(data.draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    day = np.array(data.draw(st.lists(st.integers(0, 30), min_size=n, max_size=n)), dtype=np.int64)
    is_group = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    minutes = np.array(data.draw(st.lists(st.sampled_from([np.nan, 15.0, 60.0]), min_size=n, max_size=n)))
    dix = _DayIndex(pcode, day, is_group, minutes)
    q = data.draw(st.integers(1, 10))
    q_pc = np.array(data.draw(st.lists(st.integers(0, 3), min_size=q, max_size=q)), dtype=np.int64)
    q_start = np.array(data.draw(st.lists(st.integers(-1, 30), min_size=q, max_size=q)), dtype=np.int64)
    q_end = np.array(data.draw(st.lists(st.integers(-1, 30), min_size=q, max_size=q)), dtype=np.int64)
    lo, hi = dix.bounds(q_pc, q_start, q_end)
    for i in range(q):  # the brute force: the contacts of the participant within the days
        inside = (pcode == q_pc[i]) & (day >= max(q_start[i], 0)) & (day <= (q_end[i] if q_end[i] >= 0 else 10**6))
        if q_start[i] > (q_end[i] if q_end[i] >= 0 else 10**6):
            inside[:] = False
        assert dix.count(lo[i:i + 1], hi[i:i + 1])[0] == float(inside.sum())
        assert float(dix.cum_group[hi[i]] - dix.cum_group[lo[i]]) == float((inside & is_group).sum())
        assert dix.cum_min_known[hi[i]] - dix.cum_min_known[lo[i]] == (inside & ~np.isnan(minutes)).sum()
        if inside.any():
            got = sorted(dix.day[lo[i]:hi[i]].tolist())
            assert got == sorted(day[inside].tolist())


@settings(max_examples=200, deadline=None)
@given(values=st.lists(_IDS, max_size=20), dtype=st.sampled_from(["string", "str", object]), data=st.data())
def test_text_at_as_object_arrays_before(values: list[str | None], dtype: object, data: st.DataObject) -> None:
    s = pd.Series(values, dtype=dtype)
    rows = np.array(data.draw(st.lists(st.integers(0, max(len(values) - 1, 0)), max_size=30 if values else 0)),
                    dtype=np.int64)
    old = pd.Series(s.to_numpy(dtype=object)[rows]).astype("string")
    pd.testing.assert_series_equal(pd.Series(_text_at(s, rows)).astype("string"), old, check_exact=True)


@settings(max_examples=100, deadline=None)
@given(codes=st.lists(st.integers(0, len(_SET_CODES) - 1), max_size=20))
def test_set_text_as_mapped_before(codes: list[int]) -> None:
    sets = pd.Series(np.array(_SET_CODES, dtype=object)[np.array(codes, dtype=np.int64)], dtype=object)
    for labels, old in ((list(_SET_CODES), sets.astype("string")),
                        ([MEASURE_SETS[c] for c in _SET_CODES], sets.map(MEASURE_SETS).astype("string"))):
        got = pd.Series(_set_text(np.array(codes, dtype=np.int64), labels)).astype("string")
        pd.testing.assert_series_equal(got, old, check_exact=True)
