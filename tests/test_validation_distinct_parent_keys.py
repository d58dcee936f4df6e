"""A parent table whose key is unique: its index is built from the rows without errors as they are (no second
hashing of the keys), and gives the same index, and the same validation, as the keys deduplicated afresh."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.validation.core as core
from evalkit.validation import validate
from evalkit.validation.links import ParentIndex

_ID = st.sampled_from(["M1", "M2", "M3", "M4", "M5", "M6"])


def _same_index(fast: ParentIndex, slow: ParentIndex) -> None:
    assert fast.valid.type == slow.valid.type == pa.large_string()
    assert fast.valid.equals(slow.valid)
    assert (fast.info_keys is None) == (slow.info_keys is None)
    if slow.info_keys is not None:
        assert fast.info_keys.equals(slow.info_keys)
        assert (fast.info_keys is fast.valid) == (slow.info_keys is slow.valid)
        pd.testing.assert_frame_equal(fast.info, slow.info, check_exact=True)
    pd.testing.assert_series_equal(fast.set_aside, slow.set_aside, check_exact=True)


@settings(max_examples=150, deadline=None)
@given(upload=st.lists(st.tuples(st.one_of(st.none(), _ID), st.booleans()), min_size=0, max_size=14),
       table=st.sampled_from(["participants", "group_sessions"]), categorical=st.booleans())
def test_distinct_keys_give_the_index_of_keys_deduplicated_afresh(
        upload: list[tuple[str | None, bool]], table: str, categorical: bool) -> None:
    """Any upload whose rows without errors hold each key once (a repeated key's rows are all set aside, as
    check_keys does), keys missing on some rows, as Arrow text or categorical text: the same index either way."""
    ids = [k for k, _ in upload]
    error = np.array([bad for _, bad in upload], dtype=bool)
    repeated = pd.Series(ids, dtype=object).duplicated(keep=False).to_numpy() & pd.notna(pd.Series(ids, dtype=object))
    error |= repeated  # every row of a repeated key set aside
    frame = pd.DataFrame({"participant_id": pd.Series(ids, dtype=object)})
    rows = core.TableRows.from_frame(table, frame, {})
    rows.error[:] = error
    key = "participant_id" if table == "participants" else "group_session_id"
    values = pd.Series(ids, dtype="str")
    typed = {key: values.astype("category") if categorical else values,
             "programme_id": np.array([f"P{i % 3}" for i in range(len(ids))], dtype=object),
             "referral_date": np.array([f"2024-01-0{1 + i % 9}" for i in range(len(ids))], dtype="datetime64[ns]"),
             "end_date": np.full(len(ids), np.datetime64("NaT"), dtype="datetime64[ns]")}
    fast = ParentIndex.build(table, key, typed, rows, None, distinct_keys=True)
    slow = ParentIndex.build(table, key, typed, rows, None)
    _same_index(fast, slow)
    assert fast.valid.to_pylist() == [k for k, bad in zip(ids, error, strict=True) if k is not None and not bad]


def test_python_objects_are_deduplicated_as_text() -> None:
    """Keys held as Python objects: 1 and "1" are different values to check_keys but the same text here, so
    they are deduplicated afresh even when the key is unique."""
    rows = core.TableRows.from_frame("group_sessions", pd.DataFrame({"x": [0, 1]}), {})
    typed = {"group_session_id": pd.Series([1, "1"], dtype=object)}
    fast = ParentIndex.build("group_sessions", "group_session_id", typed, rows, None, distinct_keys=True)
    assert fast.valid.to_pylist() == ["1"]


@settings(max_examples=25, deadline=None)
@given(people=st.lists(st.tuples(_ID, st.sampled_from(["PA", "PB"])), min_size=1, max_size=8),
       contacts=st.lists(st.one_of(_ID, st.just("X1")), min_size=1, max_size=8))
def test_validation_is_the_same_as_with_keys_deduplicated_afresh(
        people: list[tuple[str, str]], contacts: list[str]) -> None:
    """Participants with repeated ids (set aside by check_keys) and contacts pointing at them: validation with
    the parent index built from the distinct keys as they are gives the same tables and report as with the
    keys deduplicated afresh."""
    raw = {
        "programmes": pd.DataFrame({"programme_id": ["PA", "PB"], "name": ["A", "B"]}),
        "participants": pd.DataFrame({"participant_id": [p for p, _ in people],
                                      "programme_id": [g for _, g in people],
                                      "referral_date": ["2024-01-02"] * len(people)}),
        "contacts": pd.DataFrame({"participant_id": contacts, "programme_id": ["PA"] * len(contacts),
                                  "contact_date": [f"2024-02-{10 + i:02d}" for i in range(len(contacts))],
                                  "kind": ["telephone"] * len(contacts), "status": ["attended"] * len(contacts)}),
    }
    fast = validate(raw, today="2025-01-01")
    build = ParentIndex.build.__func__
    try:
        ParentIndex.build = classmethod(lambda cls, *a, distinct_keys=False, **k: build(cls, *a, **k))
        slow = validate(raw, today="2025-01-01")
    finally:
        ParentIndex.build = classmethod(build)
    for name in slow.tables:
        pd.testing.assert_frame_equal(fast.tables[name], slow.tables[name], check_exact=True)
        pd.testing.assert_frame_equal(fast.quarantine[name], slow.quarantine[name], check_exact=True)
    pd.testing.assert_frame_equal(fast.report, slow.report, check_exact=True)


def test_a_reupload_links_contacts_to_stored_participants_too() -> None:
    """A re-upload (stored rows given): the index holds the upload's keys and the stored ones, so a contact of a
    mother stored earlier but not in this upload links, and only an unknown id is a foreign-key error. (The
    upload's keys alone, as they are, would be the wrong index here.)"""
    stored_ids = ["S1", "S2", "S3"]
    existing = {
        "programmes": pd.DataFrame({"programme_id": pd.array(["PA"], dtype="string")}),
        "participants": pd.DataFrame({
            "participant_id": pd.array(stored_ids, dtype="string"),
            "programme_id": pd.array(["PA"] * 3, dtype="string"),
            "referral_date": pd.to_datetime(["2024-01-02"] * 3), "end_date": pd.NaT}),
    }
    contact_ids = ["N1", "S2", "N2", "S3", "X9"]
    raw = {
        "participants": pd.DataFrame({"participant_id": ["N1", "N2"], "programme_id": ["PA", "PA"],
                                      "referral_date": ["2024-01-02", "2024-01-02"]}),
        "contacts": pd.DataFrame({"participant_id": contact_ids, "programme_id": ["PA"] * 5,
                                  "contact_date": [f"2024-02-{10 + i:02d}" for i in range(5)],
                                  "kind": ["telephone"] * 5, "status": ["attended"] * 5}),
    }
    result = validate(raw, existing=existing, today="2025-01-01")
    broken = result.report[result.report["rule"] == "foreign_key"]
    assert broken["value"].astype(str).tolist() == ["X9"]
    assert result.tables["contacts"]["participant_id"].tolist() == ["N1", "S2", "N2", "S3"]
