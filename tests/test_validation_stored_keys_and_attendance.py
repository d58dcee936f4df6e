"""Already-stored keys with a date column, and named attendance per group session, against their definitions.

``keys._stored`` compares date keys as whole days (integers) instead of their ``YYYY-MM-DD`` text, and
``links._named_per_session`` counts distinct (session, participant) pairs on dictionary codes instead of
``drop_duplicates`` + ``groupby().size()`` of Python strings: both must give what the definitions give.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evalkit.validation import validate
from evalkit.validation.cells import encoded_text
from evalkit.validation.keys import _stored, _stored_in_other_programme
from evalkit.validation.links import _named_per_session


def _texts(values: pd.Series | np.ndarray) -> list[object]:
    """Key values as the text definition writes them (dates ``YYYY-MM-DD``), missing as None."""
    s = pd.Series(values)
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        s = s.dt.strftime("%Y-%m-%d")
    return [None if pd.isna(v) else str(v) for v in s]


def _stored_by_definition(pk: tuple[str, ...], typed: dict[str, object], existing: pd.DataFrame) -> np.ndarray:
    mine = list(zip(*(_texts(typed[c]) for c in pk), strict=True))
    theirs = {k for k in zip(*(_texts(existing[c]) for c in pk), strict=True) if None not in k}
    return np.array([None not in k and k in theirs for k in mine], dtype=bool)


@pytest.mark.parametrize("seed", range(5))
def test_stored_date_keys_match_as_days_like_their_text(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n, m = 400, 300
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 20, n), unit="D")
    when = days + pd.to_timedelta(rng.choice([0, 0, 0, 13], n), unit="h")  # a time of day: still the same day
    when = when.where(rng.random(n) > 0.1)  # NaT: never stored
    typed = {
        "participant_id": pd.Series(rng.choice(["a", "b", "c", None], n), dtype="str"),
        "contact_date": when.to_numpy(dtype="datetime64[ns]"),
        "kind": pd.Series(rng.choice(["group", "one_to_one"], n)).astype("category"),
    }
    stored_days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 20, m), unit="D")
    existing = pd.DataFrame({
        "participant_id": pd.array(rng.choice(["a", "b", "d", None], m), dtype="string[pyarrow]"),
        "contact_date": pd.Series(stored_days).where(rng.random(m) > 0.1).astype("datetime64[ns]"),
        "kind": pd.array(rng.choice(["group", "one_to_one"], m), dtype="string[pyarrow]"),
    })
    pk = ("participant_id", "contact_date", "kind")
    expected = _stored_by_definition(pk, typed, existing)
    assert 0 < expected.sum() < n
    np.testing.assert_array_equal(_stored(pk, typed, existing), expected)


def test_stored_dates_against_text_dates_still_compare_as_text() -> None:
    typed = {"participant_id": np.array(["a", "b"], dtype=object),
             "completed_on": np.array(["2024-01-02", "2024-01-03"], dtype=object)}
    existing = pd.DataFrame({"participant_id": pd.array(["a", "b"], dtype="string[pyarrow]"),
                             "completed_on": pd.to_datetime(["2024-01-02", "2024-01-04"])})
    pk = ("participant_id", "completed_on")
    np.testing.assert_array_equal(_stored(pk, typed, existing), [True, False])


@pytest.mark.parametrize("seed", range(5))
def test_named_per_session_counts_distinct_pairs_like_groupby(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 500
    sessions = pd.Series(rng.choice([f"g{i}" for i in range(30)], n), dtype="string[pyarrow]")
    people = pd.Series(rng.choice([*(f"p{i}" for i in range(40)), None], n), dtype="string[pyarrow]")
    frame = pd.DataFrame({"group_session_id": sessions, "participant_id": people})
    expected = frame.astype(object).drop_duplicates().groupby("group_session_id")["participant_id"].size()
    got = _named_per_session(sessions, people)
    pd.testing.assert_series_equal(got.sort_index(), expected.sort_index(), check_names=False,
                                   check_index_type=False)


def test_named_per_session_takes_object_and_categorical_columns() -> None:
    sessions = pd.Series(["g1", "g1", "g2", "g1"], dtype="category")
    people = pd.Series(np.array(["p1", "p1", "p1", "p2"], dtype=object))
    got = _named_per_session(sessions, people)
    assert got.to_dict() == {"g1": 2, "g2": 1}


def test_named_per_session_of_a_column_in_chunks_and_without_sessions() -> None:
    import pyarrow as pa

    sessions = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(
        [pa.array(["g1", "g2", None], type=pa.large_string()), pa.array(["g2", "g1", "g3"], type=pa.large_string())])))
    people = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(
        [pa.array(["p1", "p1", "p9"], type=pa.large_string()), pa.array(["p1", "p2", None], type=pa.large_string())])))
    expected = pd.DataFrame({"s": sessions.astype(object), "p": people.astype(object)}).drop_duplicates() \
        .groupby("s")["p"].size()
    got = _named_per_session(sessions, people)
    assert got.to_dict() == expected.to_dict() == {"g1": 2, "g2": 1, "g3": 1}


_ID = st.one_of(st.none(), st.sampled_from(["a", "b", "c", "d", " a"]))
_PROGRAMME = st.one_of(st.none(), st.sampled_from(["P1", "P2", "P3"]))


def _typed_ids(values: list[str | None], form: str) -> pd.Series | np.ndarray:
    """Upload ids as validation holds them: Arrow text, text made from categories (codes known), a categorical
    (unused categories too), or objects."""
    if form == "arrow":
        return pd.Series(values, dtype="str")
    if form == "categories":
        return encoded_text(pd.Series(pd.Categorical(values)))
    if form == "categorical":
        return pd.Series(pd.Categorical(values, categories=sorted({v for v in values if v is not None} | {"zz"})))
    return np.array(values, dtype=object)


@given(upload=st.lists(st.tuples(_ID, _PROGRAMME), max_size=12),
       stored=st.lists(st.tuples(_ID, _PROGRAMME), max_size=12),
       forms=st.tuples(*[st.sampled_from(["arrow", "categories", "categorical", "object"])] * 2),
       stored_arrow=st.booleans())
def test_stored_in_other_programme_is_its_definition(upload: list[tuple[str | None, str | None]],
                                                     stored: list[tuple[str | None, str | None]],
                                                     forms: tuple[str, str], stored_arrow: bool) -> None:
    # definition: a stored participant's programme is that of its first stored row (compared as text); an upload
    # row whose key is stored clashes when it names a programme and that is not the stored one
    typed = {"participant_id": _typed_ids([i for i, _ in upload], forms[0]),
             "programme_id": _typed_ids([p for _, p in upload], forms[1])}
    dtype = "string[pyarrow]" if stored_arrow else object
    existing = pd.DataFrame({"participant_id": pd.array([i for i, _ in stored], dtype=dtype),
                             "programme_id": pd.array([p for _, p in stored], dtype=dtype)})
    first: dict[str, str | None] = {}
    for i, p in stored:
        if i is not None:
            first.setdefault(i, p)
    found = np.array([i is not None and i in first for i, _ in upload], dtype=bool)
    expected = [f and p is not None and first[i] != p for (i, p), f in zip(upload, found, strict=True)]
    clash, theirs = _stored_in_other_programme(typed, existing, found)
    assert clash.tolist() == expected
    assert theirs.tolist() == [first[i] for (i, _), c in zip(upload, expected, strict=True) if c]


def test_a_participant_stored_in_another_programme_is_reported_and_set_aside() -> None:
    # end to end: the upload moves 'b' to P2, keeps 'a' in P1 and adds 'c'; 'b' is set aside with both programmes named
    upload = {"participants": pd.DataFrame({
        "participant_id": ["a", "b", "c"], "programme_id": ["P1", "P2", "P1"],
        "referral_date": ["2024-01-02"] * 3, "perinatal_stage": ["postnatal"] * 3})}
    first = validate(upload, today="2025-01-01", existing={"programmes": pd.DataFrame(
        {"programme_id": pd.array(["P1", "P2"], dtype="string")})})
    stored = first.tables["participants"].iloc[:2].assign(
        programme_id=pd.array(["P1", "P1"], dtype="string"))  # 'a' and 'b' stored in P1
    result = validate(upload, today="2025-01-01", existing={
        "programmes": pd.DataFrame({"programme_id": pd.array(["P1", "P2"], dtype="string")}),
        "participants": stored})
    clashes = result.report[result.report["rule"] == "participant_in_two_programmes"]
    assert clashes["value"].tolist() == ["b"]
    assert "already stored in programme 'P1', not 'P2'" in clashes["message"].iloc[0]
    assert result.tables["participants"]["participant_id"].tolist() == ["a", "c"]
    assert result.quarantine["participants"]["participant_id"].astype(str).tolist() == ["b"]
