"""Stored rows held as categoricals of text (as ``stored_rows_for_upload`` returns them) validate exactly as text.

``evalkit.ingest.stored_rows_for_upload`` dictionary-encodes the stored rows' text (ids, kind, status): validation
reads their categories and codes (keys already stored, a participant stored in another programme, stored parents,
stored attendance of group sessions) instead of a text per row. These tests compare validation against those
categoricals with validation against the same rows as canonical text, on crafted re-uploads.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.coded_text import coded_frame, dictionary_text, sorted_categories
from evalkit.validation import core, keys, validate

_PEOPLE = ["p1", "p2", "p3", "p4", "p5"]
_SESSIONS = ["g1", "g2", "g3"]


def _coded(existing: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The stored rows as ``stored_rows_for_upload`` holds them: text columns categoricals of sorted Arrow text."""
    return {name: coded_frame([dictionary_text(frame)]) for name, frame in existing.items()}


def _text(values: list[str | None]) -> pd.api.extensions.ExtensionArray:
    return pd.array(values, dtype="string")


def _dates(values: list[str | None]) -> np.ndarray:
    return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy(dtype="datetime64[ns]")


_ID = st.sampled_from(_PEOPLE)
_MAYBE_ID = st.one_of(st.none(), _ID, _ID.map(lambda v: f" {v} "), st.just("nobody"))
_PROGRAMME = st.sampled_from(["P1", "P2"])
_DAY = st.sampled_from(["2024-03-01", "2024-03-02", "2024-03-03"])
_STATUS = st.one_of(st.none(), st.sampled_from(["attended", "attended", "did_not_attend"]))
_SESSION = st.one_of(st.none(), st.sampled_from(_SESSIONS), st.just(" g1"), st.just("g9"))

_STORED_PERSON = st.tuples(_ID, _PROGRAMME)
_CONTACT = st.tuples(_MAYBE_ID, _DAY, st.sampled_from(["group_session", "one_to_one"]), _STATUS, _SESSION)


def _stored_frames(people: list[tuple[str, str]], sessions: list[str],
                   contacts: list[tuple]) -> dict[str, pd.DataFrame]:
    """Canonical stored rows (text as ``"string"``) of the columns validation reads."""
    seen: dict[str, str] = {}
    for pid, programme in people:
        seen.setdefault(pid, programme)
    stored_contacts = [c for c in contacts if c[0] is not None and c[0].strip() in seen]
    return {
        "programmes": pd.DataFrame({"programme_id": _text(["P1", "P2"])}),
        "participants": pd.DataFrame({
            "participant_id": _text(list(seen)), "programme_id": _text(list(seen.values())),
            "referral_date": _dates(["2024-01-01"] * len(seen)), "end_date": _dates([None] * len(seen))}),
        "group_sessions": pd.DataFrame({"group_session_id": _text(sessions)}),
        "contacts": pd.DataFrame({
            "participant_id": _text([c[0].strip() for c in stored_contacts]),
            "contact_date": _dates([c[1] for c in stored_contacts]),
            "kind": _text([c[2] for c in stored_contacts]),
            "group_session_id": _text([c[4].strip() if c[4] else None for c in stored_contacts]),
            "status": _text([c[3] for c in stored_contacts]),
        }),
        "measures": pd.DataFrame({
            "participant_id": _text(list(seen)[:2]), "instrument": _text(["EPDS"] * min(2, len(seen))),
            "completed_on": _dates(["2024-03-01"] * min(2, len(seen)))}),
    }


def _upload(people: list[tuple[str | None, str]], sessions: list[tuple[str, int]], contacts: list[tuple],
            measures: list[str | None], as_categories: bool) -> dict[str, pd.DataFrame]:
    """Raw frames as the readers give them (text, or categoricals of text)."""
    raw = {
        "participants": pd.DataFrame({
            "participant_id": [p for p, _ in people], "programme_id": [g for _, g in people],
            "referral_date": ["2024-01-01"] * len(people), "perinatal_stage": ["postnatal"] * len(people)}),
        "group_sessions": pd.DataFrame({
            "group_session_id": [s for s, _ in sessions], "programme_id": ["P1"] * len(sessions),
            "session_date": ["2024-03-01"] * len(sessions), "head_count": [str(h) for _, h in sessions]}),
        "contacts": pd.DataFrame({
            "participant_id": [c[0] for c in contacts], "programme_id": ["P1"] * len(contacts),
            "contact_date": [c[1] for c in contacts], "kind": [c[2] for c in contacts],
            "status": [c[3] for c in contacts], "group_session_id": [c[4] for c in contacts]}),
        "measures": pd.DataFrame({
            "participant_id": measures, "programme_id": ["P1"] * len(measures), "instrument": ["EPDS"] * len(measures),
            "completed_on": ["2024-03-01"] * len(measures), **{f"item_{i}": ["1"] * len(measures)
                                                              for i in range(1, 11)}}),
    }
    if as_categories:
        raw = {name: frame.astype("category") for name, frame in raw.items()}
    return raw


def _assert_same(one: object, other: object) -> None:
    pd.testing.assert_frame_equal(one.report, other.report)
    for name in one.tables:
        pd.testing.assert_frame_equal(one.tables[name], other.tables[name])
        pd.testing.assert_frame_equal(one.quarantine[name], other.quarantine[name])


@settings(max_examples=60, deadline=None)
@given(stored_people=st.lists(_STORED_PERSON, min_size=1, max_size=6),
       stored_sessions=st.lists(st.sampled_from(_SESSIONS), max_size=3, unique=True),
       stored_contacts=st.lists(_CONTACT, max_size=12),
       people=st.lists(st.tuples(_MAYBE_ID, _PROGRAMME), max_size=6),
       sessions=st.lists(st.tuples(st.sampled_from(_SESSIONS), st.integers(0, 3)), max_size=3),
       contacts=st.lists(_CONTACT, max_size=12),
       measures=st.lists(_MAYBE_ID, max_size=4),
       as_categories=st.booleans())
def test_coded_stored_rows_validate_as_their_text(stored_people: list, stored_sessions: list, stored_contacts: list,
                                                  people: list, sessions: list, contacts: list,
                                                  measures: list, as_categories: bool) -> None:
    # re-sent and changed rows (a participant's programme, a contact's status), stored-only values, missing
    # values, blanks around ids, unknown ids, head counts against stored attendance
    stored = _stored_frames(stored_people, stored_sessions, stored_contacts)
    raw = _upload(people, sessions, contacts, measures, as_categories)
    as_text = validate(raw, existing=stored, today="2025-01-01")
    as_codes = validate(raw, existing=_coded(stored), today="2025-01-01")
    _assert_same(as_codes, as_text)


def _rich_case() -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """A re-upload that meets every rule read from stored rows."""
    stored = _stored_frames(
        [("p1", "P1"), ("p2", "P1"), ("p3", "P2"), ("p4", "P1")], ["g1", "g2"],
        [("p1", "2024-03-01", "group_session", "attended", "g1"),
         ("p2", "2024-03-01", "group_session", "attended", "g1"),
         ("p3", "2024-03-01", "group_session", "attended", "g1"), ("p4", "2024-03-02", "group_session", None, "g2"),
         ("p4", "2024-03-03", "one_to_one", "attended", None)])
    raw = _upload([("p1", "P1"), (" p2 ", "P2"), ("p5", "P1")], [("g1", 1), ("g3", 0)],
                  [("p1", "2024-03-01", "group_session", "attended", "g1"),  # re-sent
                   ("p5", "2024-03-01", "group_session", "attended", " g1"),  # a new attendee, blanks around
                   ("p4", "2024-03-03", "one_to_one", "did_not_attend", None),  # changed
                   ("nobody", "2024-03-02", "group_session", "attended", "g9"),  # unknown ids
                   (None, "2024-03-02", "group_session", "attended", "g3")],
                  ["p3", None], as_categories=True)
    return stored, raw


def test_the_crafted_re_upload_meets_every_stored_rule() -> None:
    """The comparison is not empty: each rule that reads stored rows fires on the crafted re-upload."""
    stored, raw = _rich_case()
    as_codes = validate(raw, existing=_coded(stored), today="2025-01-01")
    _assert_same(as_codes, validate(raw, existing=stored, today="2025-01-01"))
    rules = set(as_codes.report["rule"])
    assert {"already_stored", "participant_in_two_programmes", "foreign_key", "head_count_below_named"} <= rules
    counted = as_codes.report[as_codes.report["rule"] == "head_count_below_named"]["message"].iloc[0]
    assert "4 named participants" in counted  # p1, p2, p3 stored and p5 uploaded (p1 once)


def test_coded_stored_rows_are_never_made_python_objects() -> None:
    """The stored categoricals' codes are read: the typed-values road (Python objects per row) is not taken."""
    stored, raw = _rich_case()
    original = keys._as_typed

    def dates_only(series: pd.Series) -> np.ndarray:
        assert pd.api.types.is_datetime64_any_dtype(series.dtype), f"stored {series.name} made Python objects"
        return original(series)

    with mock.patch.object(keys, "_as_typed", side_effect=dates_only):
        validate(raw, existing=_coded(stored), today="2025-01-01")


@given(mine=st.lists(st.integers(-1, 30)), theirs=st.lists(st.integers(-1, 30)), chunk=st.integers(1, 5))
def test_among_is_membership_in_any_chunking(mine: list[int], theirs: list[int], chunk: int) -> None:
    expected = [m >= 0 and m in set(theirs) for m in mine]
    with mock.patch.object(keys, "_LOOKUP_CHUNK", chunk):
        got = keys._among(np.array(mine, dtype=np.int64), np.array(theirs, dtype=np.int64))
    assert got.tolist() == expected


_WORD = st.text(alphabet=st.sampled_from(["a", "B", "b", " ", "é", "Z", "1", "ß", "\u00a0"]), max_size=3)


@given(parts=st.lists(st.lists(st.one_of(st.none(), _WORD), max_size=8), min_size=1, max_size=4))
def test_sorted_categories_keep_the_text_and_sort_as_it_does(parts: list[list[str | None]]) -> None:
    """Joined parts keep each row's text, and a frame sorted by the codes is in the order of one sorted by the text."""
    frames = [dictionary_text(pd.DataFrame({"t": _text(p), "n": np.arange(len(p))})) for p in parts]
    joined = coded_frame(frames)
    every = [v for p in parts for v in p]
    assert joined["t"].astype("string").tolist() == pd.Series(_text(every)).tolist()
    assert joined["t"].cat.categories.is_unique
    plain = pd.DataFrame({"t": _text(every), "n": np.arange(len(every))})
    by_text = plain.sort_values(["t", "n"], kind="stable")["n"].tolist()
    by_code = joined.assign(n=np.arange(len(every))).sort_values(["t", "n"], kind="stable")["n"].tolist()
    assert by_code == by_text
    assert joined["t"].cat.categories.dtype == pd.StringDtype("pyarrow")


def test_sorted_categories_of_categoricals_without_rows() -> None:
    empty = pd.Series(pd.Categorical([], categories=pd.Index(pd.array(["b"], dtype="string"))))
    got = sorted_categories([empty, pd.Series(pd.Categorical(["a"], categories=pd.Index(pd.array(["a", "c"],
                                                                                               dtype="string"))))])
    assert pd.Series(got).astype("string").tolist() == ["a"]


@given(upload=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from(_SESSIONS)), st.one_of(st.none(), _ID))),
       stored=st.lists(st.tuples(st.one_of(st.none(), st.sampled_from([*_SESSIONS, "g7"])),
                                 st.one_of(st.none(), st.sampled_from([*_PEOPLE, "p7"])), _STATUS)),
       coded=st.booleans())
def test_attendance_with_stored_rows_is_the_attended_pairs(upload: list, stored: list, coded: bool) -> None:
    """The joined attendance holds, row for row, the upload's rows then the stored attended ones that name a session."""
    frame = pd.DataFrame({"group_session_id": _text([s for s, _, _ in stored]),
                          "participant_id": _text([p for _, p, _ in stored]),
                          "status": _text([a for _, _, a in stored])})
    if coded:
        frame = _coded({"contacts": frame})["contacts"]
    checked = mock.Mock()
    checked.typed = {"group_session_id": pd.Series(_text([s for s, _ in upload])),
                     "participant_id": pd.Series([p for _, p in upload], dtype="category"),
                     "status": pd.Series(["attended"] * len(upload), dtype="category")}
    checked.rows.error = np.zeros(len(upload), dtype=bool)
    got = core._attendance(checked, frame)
    expected = [(s, p) for s, p in upload if s is not None] + [
        (s, p) for s, p, a in stored if s is not None and a == "attended"]
    assert list(zip(got["group_session_id"].astype(object).where(got["group_session_id"].notna(), None),
                    got["participant_id"].astype(object).where(got["participant_id"].notna(), None),
                    strict=True)) == expected


@pytest.mark.parametrize("coded", [False, True])
def test_stored_rows_of_other_types_still_validate(coded: bool) -> None:
    """Stored text given as plain Python objects (a hand-built frame) is still read as its text."""
    stored, raw = _rich_case()
    objects = {name: frame.astype({c: object for c in frame.columns if frame[c].dtype == "string"})
               for name, frame in stored.items()}
    _assert_same(validate(raw, existing=objects, today="2025-01-01"),
                 validate(raw, existing=_coded(stored) if coded else stored, today="2025-01-01"))


def test_coded_frame_holds_arrow_text_categories() -> None:
    frame = dictionary_text(pd.DataFrame({"t": pd.array(["b", None, "a", "b"], dtype="string")}))
    joined = coded_frame([frame, frame])
    categories = joined["t"].cat.categories
    assert categories.tolist() == ["a", "b"]
    assert isinstance(pa.array(categories.array), (pa.Array, pa.ChunkedArray))
    assert joined["t"].cat.codes.tolist() == [1, -1, 0, 1, 1, -1, 0, 1]
