"""Named attendance counted from the codes the contacts' ids already have; parent keys looked up either way round.

A first upload's contacts hand their ``group_session_id`` and ``participant_id`` to the head-count check as
categoricals of their known codes (``core._coded_attendance``) instead of as text that is encoded again. These
tests compare that path with the text path, on messy uploads: missing and unknown ids, duplicate contacts,
sessions and participants set aside, categories no attended row uses.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation import core, validate
from evalkit.validation.links import _named_counts, _positions_of_distinct


def _messy_upload(seed: int) -> dict[str, pd.DataFrame]:
    """Programmes, participants, group sessions and contacts as the readers give them (text as categoricals)."""
    rng = np.random.default_rng(seed)
    people = [f"p{i}" for i in range(12)]
    sessions = [f"g{i}" for i in range(6)]
    programmes = pd.DataFrame({"programme_id": ["P1"], "name": ["Group"], "provider": ["X"], "format": ["group"],
                               "mode": ["in_person"], "delivered_by": ["volunteer_peers"]})
    participants = pd.DataFrame({
        "participant_id": [*people, "p0"],  # p0 twice: both rows set aside
        "programme_id": ["P1"] * 12 + ["P1"],
        "referral_date": ["2024-01-01"] * 12 + ["2024-01-02"],
    })
    group_sessions = pd.DataFrame({
        "group_session_id": [*sessions, "g5"],  # g5 twice: both set aside
        "programme_id": ["P1"] * 7,
        "session_date": ["2024-02-01"] * 7,
        "head_count": [str(h) for h in rng.integers(0, 4, 7)],
    })
    n = 80
    contacts = pd.DataFrame({
        "programme_id": ["P1"] * n,
        "participant_id": rng.choice([*people, "p99", ""], n),
        "contact_date": [f"2024-02-{d:02d}" for d in rng.integers(1, 12, n)],
        "kind": ["group_session"] * n,
        "status": rng.choice(["attended", "attended", "did_not_attend", "nonsense"], n),
        "group_session_id": rng.choice([*sessions, "g9", ""], n),
    })
    raw = {"programmes": programmes, "participants": participants, "group_sessions": group_sessions,
           "contacts": contacts}
    return {name: frame.astype("category") for name, frame in raw.items()}


def _no_stored_contacts() -> pd.DataFrame:
    """Stored contacts with no rows: the upload is checked as a first upload, through the text path."""
    columns = ["programme_id", "participant_id", "contact_date", "kind", "status", "group_session_id"]
    return pd.DataFrame({c: pd.Series([], dtype="string") for c in columns})


@pytest.mark.parametrize("seed", range(12))
def test_head_counts_from_codes_agree_with_the_text_path(seed: int) -> None:
    raw = _messy_upload(seed)
    returned: list[object] = []
    original = core._coded_attendance

    def spy(contacts: object) -> object:
        returned.append(original(contacts))
        return returned[-1]

    with mock.patch.object(core, "_coded_attendance", spy):
        by_code = validate(raw, today="2025-01-01")
    assert len(returned) == 1 and returned[0] is not None  # the codes were used
    by_text = validate(raw, today="2025-01-01", existing={"contacts": _no_stored_contacts()})
    pd.testing.assert_frame_equal(by_code.report, by_text.report)
    for name in by_code.tables:
        pd.testing.assert_frame_equal(by_code.tables[name], by_text.tables[name])
        pd.testing.assert_frame_equal(by_code.quarantine[name], by_text.quarantine[name])


def test_the_messy_uploads_do_warn_of_head_counts() -> None:
    """The comparison above is not empty: the uploads have head counts below the named attendees."""
    warned = sum((validate(_messy_upload(seed), today="2025-01-01").report["rule"] == "head_count_below_named").sum()
                 for seed in range(12))
    assert warned > 0


_TEXT = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d"]))


@settings(max_examples=150, deadline=None)
@given(pairs=st.lists(st.tuples(_TEXT, _TEXT), max_size=25), unused=st.lists(st.sampled_from(["x", "y"]), max_size=2))
def test_named_counts_of_categoricals_agree_with_text(pairs: list[tuple[str | None, str | None]],
                                                      unused: list[str]) -> None:
    """Categoricals (categories no row uses too) count as their text does: same sessions, same counts."""
    sessions = pd.Series([s for s, _ in pairs], dtype="str")
    people = pd.Series([p for _, p in pairs], dtype="str")
    as_text = _named_counts(sessions, people)
    as_codes = _named_counts(*(pd.Series(pd.Categorical(s, categories=pd.Index(
        [*unused, *sorted(set(s.dropna()))], dtype="str").unique())) for s in (sessions, people)))
    assert dict(zip(as_text[1].to_pylist(), as_text[0].tolist(), strict=True)) == \
        dict(zip(as_codes[1].to_pylist(), as_codes[0].tolist(), strict=True))
    assert len(as_codes[1]) == len(as_text[1])


_KEY = st.text(alphabet="ab ", max_size=3)


@settings(max_examples=200, deadline=None)
@given(keys=st.lists(_KEY, unique=True, max_size=12), asked=st.lists(_KEY, unique=True, max_size=12))
def test_distinct_looked_up_either_way_round_agree_with_index_in(keys: list[str], asked: list[str]) -> None:
    """``_positions_of_distinct`` hashes the shorter side; the answer is ``index_in``'s whichever side that is."""
    value_set = pa.array(keys, type=pa.large_string())
    values = pa.array(asked, type=pa.large_string())
    fresh = pc.fill_null(pc.index_in(values, value_set=value_set), -1).to_numpy(zero_copy_only=False)
    assert _positions_of_distinct(values, value_set).tolist() == fresh.tolist()
