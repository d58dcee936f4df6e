"""``ingest._stored_positions``: each upload row's stored row by natural key, as an inner merge finds it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.ingest import _stored_positions


def _by_merge(frame: pd.DataFrame, stored: pd.DataFrame, key: list[str]) -> np.ndarray:
    found = frame[key].assign(_pos=np.arange(len(frame))).merge(
        stored[key].assign(_theirs=np.arange(len(stored))), on=key, how="inner")
    out = np.full(len(frame), -1, dtype=np.int64)
    out[found["_pos"].to_numpy()] = found["_theirs"].to_numpy()
    return out


def _unique_rows(rng: np.random.Generator, n: int, key: list[str], text: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "participant_id": pd.Series(rng.choice([f"p{i}" for i in range(40)], n), dtype=text),
        "contact_date": (pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 9, n), unit="D"))
        .to_numpy(dtype="datetime64[ns]"),
        "kind": pd.Series(rng.choice(["group", "one_to_one", "phone"], n), dtype=text),
    })
    return frame.drop_duplicates(key).sample(frac=1, random_state=int(rng.integers(1 << 30))).reset_index(drop=True)


@pytest.mark.parametrize("text", ["str", "string[pyarrow]", "object"])
@pytest.mark.parametrize("seed", range(4))
def test_stored_positions_equal_an_inner_merge(seed: int, text: str) -> None:
    rng = np.random.default_rng(seed)
    key = ["participant_id", "contact_date", "kind"]
    frame = _unique_rows(rng, 600, key, text)
    stored = _unique_rows(rng, 500, key, "string[pyarrow]")
    expected = _by_merge(frame, stored, key)
    assert 0 < (expected >= 0).sum() < len(frame)
    np.testing.assert_array_equal(_stored_positions(frame, stored, key), expected)
    one = ["participant_id"]
    a, b = frame.drop_duplicates(one), stored.drop_duplicates(one)
    np.testing.assert_array_equal(_stored_positions(a, b, one), _by_merge(a, b, one))


def test_stored_positions_missing_values_match_each_other_like_a_merge() -> None:
    frame = pd.DataFrame({"k": pd.array(["a", None, "c"], dtype="string[pyarrow]"),
                          "d": pd.to_datetime(["2024-01-01", "2024-01-02", None])})
    stored = pd.DataFrame({"k": pd.array([None, "c", "z"], dtype="string[pyarrow]"),
                           "d": pd.to_datetime(["2024-01-02", None, "2024-01-01"])})
    np.testing.assert_array_equal(_stored_positions(frame, stored, ["k", "d"]), [-1, 0, 1])
    np.testing.assert_array_equal(_stored_positions(frame, stored, ["k", "d"]),
                                  _by_merge(frame, stored, ["k", "d"]))


def test_stored_positions_of_nothing() -> None:
    empty = pd.DataFrame({"k": pd.array([], dtype="string[pyarrow]")})
    some = pd.DataFrame({"k": pd.array(["a"], dtype="string[pyarrow]")})
    assert _stored_positions(empty, some, ["k"]).tolist() == []
    assert _stored_positions(some, empty, ["k"]).tolist() == [-1]
