"""Ingest's chunked and copy-free working steps store exactly what one pass over the whole table stored.

Row hashes are computed a chunk of rows at a time, stored rows are matched a part of the upload's ids at a
time, rows go to the driver in batches with their upload ids added per batch, keys are ordered and checked for
repeats through one combined integer per row, counts per programme are summed without per-row weight arrays
(a part of the rows at a time), and ids validation already pseudonymised are not pseudonymised again. Each is
compared here with the whole-table way it replaces (the old code's), and an
upload and a re-upload with tiny chunks are compared with the same uploads in one chunk.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa
from conftest import TEST_SECRET, example_frames, result_of
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.ingest as ingest_module
import evalkit.store._frames as frames_module
import evalkit.store._row_hash as row_hash_module
from evalkit.canonical import ValidationResult
from evalkit.ingest import ingest
from evalkit.pseudonymise import pseudonymise_frame
from evalkit.store import open_store
from evalkit.store._row_hash import row_hashes

SHA = "ab" * 32
_TIMES = {"uploaded_at", "changed_at", "rolled_back_at", "applied_at"}


# --------------------------------------------------------------------------- whole uploads, tiny chunks


def _contents(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in row order, without the columns that hold the time of writing."""
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            cols = [c["name"] for c in sa.inspect(conn).get_columns(table) if c["name"] not in _TIMES]
            quoted = ", ".join(f'"{c}"' for c in cols)
            out[table] = [tuple(r) for r in conn.exec_driver_sql(f'SELECT {quoted} FROM "{table}" ORDER BY 1, 2')]
    engine.dispose()
    return out


def _changed(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A re-upload: some values changed, one participant added, one measures column left out of the file."""
    out = {t: f.copy() for t, f in frames.items()}
    out["contacts"].loc[::3, "duration_minutes"] = 45.0
    out["measures"].loc[::4, "item_1"] = 3.0
    out["measures"] = out["measures"].drop(columns=["timepoint"])
    extra = out["participants"].iloc[:1].assign(participant_id="N9999")
    out["participants"] = pd.concat([out["participants"], extra], ignore_index=True)
    repeated = out["contacts"].iloc[:2]  # the same key twice: quarantined by ingest
    out["contacts"] = pd.concat([out["contacts"], repeated], ignore_index=True)
    return out


def _result(frames: dict[str, pd.DataFrame], *, pseudonymised: bool) -> ValidationResult:
    """As validation hands them over: ids pseudonymised by check_upload, or as the provider sent them."""
    if pseudonymised:
        frames = {t: pseudonymise_frame(f, secret=TEST_SECRET.encode(), namespace="North") for t, f in frames.items()}
    result = result_of(frames)
    if "timepoint" not in frames["measures"].columns:
        result = ValidationResult(tables=result.tables, quarantine=result.quarantine,
                                  absent_columns={"measures": ("timepoint",)})
    return result


def _upload_twice(url: str, *, pseudonymised: bool) -> tuple[dict[str, list[tuple]], list[tuple]]:
    store = open_store(url)
    try:
        first = example_frames("North", n=15)
        counts = []
        for frames in (first, _changed(first), first):
            s = ingest(_result(frames, pseudonymised=pseudonymised), store, provider="North", file_name="f.csv",
                       sha256=SHA)
            counts.append(tuple(dict(getattr(s, c)) for c in ("accepted", "inserted", "updated", "unchanged",
                                                              "quarantined")))
    finally:
        store.close()
    return _contents(url), counts


@pytest.mark.parametrize("pseudonymised", [False, True])
def test_tiny_chunks_store_what_one_chunk_stores(tmp_path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                 pseudonymised: bool) -> None:
    whole = _upload_twice(f"sqlite:///{tmp_path / 'whole.sqlite'}", pseudonymised=pseudonymised)
    monkeypatch.setattr(row_hash_module, "HASH_CHUNK_ROWS", 2)
    monkeypatch.setattr(frames_module, "DRIVER_BATCH_ROWS", 3)
    monkeypatch.setattr(ingest_module, "_MATCH_IDS", 2)  # stored rows matched two ids at a time
    monkeypatch.setattr(ingest_module, "_COUNT_ROWS", 3)  # counts per programme three rows at a time
    chunked = _upload_twice(f"sqlite:///{tmp_path / 'chunked.sqlite'}", pseudonymised=pseudonymised)
    assert chunked == whole
    contents, counts = whole
    # rows updated; both rows of a repeated key quarantined
    assert counts[1][2]["contacts"] > 0 and counts[1][4] == {"contacts": 4}
    assert len(contents["audit_history"]) > 0


def test_ids_pseudonymised_before_ingest_are_stored_as_ids_sent_plain(tmp_path) -> None:  # noqa: ANN001
    plain = _upload_twice(f"sqlite:///{tmp_path / 'plain.sqlite'}", pseudonymised=False)
    before = _upload_twice(f"sqlite:///{tmp_path / 'before.sqlite'}", pseudonymised=True)
    assert before == plain


# --------------------------------------------------------------------------- the pieces, against the old ways

_IDS = ["p_0123456789abcdef", "p_fedcba9876543210", " p_0123456789abcdef", "p_0123456789ABCDEF", "A001", "", "NA",
        "p_0123456789abcde", "p_0123456789abcdef\n"]


@settings(max_examples=150, deadline=None)
@given(ids=st.lists(st.one_of(st.sampled_from(_IDS), st.none()), max_size=12),
       markers=st.sampled_from([(), ("NA",), ("p_fedcba9876543210",)]), arrow=st.booleans())
def test_pseudonymised_equals_pseudonymise_frame(ids: list[str | None], markers: tuple[str, ...], arrow: bool) -> None:
    frame = pd.DataFrame({"participant_id": pd.array(ids, dtype="string" if arrow else object),
                          "peer_supporter_id": pd.array(ids[::-1], dtype="string"), "n": np.arange(len(ids))})
    secret = TEST_SECRET.encode()
    got = ingest_module._pseudonymised(frame, secret=secret, provider="North", missing_values=markers)
    want = pseudonymise_frame(frame, secret=secret, namespace="North", missing_values=markers)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_ids_already_pseudonyms_are_kept_not_copied() -> None:
    frame = pseudonymise_frame(pd.DataFrame({"participant_id": ["A1", "A2", None, "A1"]}), secret=b"s" * 32)
    got = ingest_module._pseudonymised(frame, secret=b"s" * 32, provider="")
    def data_address(series: pd.Series) -> int:
        return pa.chunked_array(pa.array(series.array)).chunk(0).buffers()[2].address  # the characters' buffer

    assert data_address(got["participant_id"]) == data_address(frame["participant_id"])


def _frames_with_keys(data: st.DataObject) -> pd.DataFrame:
    row = st.tuples(st.one_of(st.sampled_from(["b", "a", "B", "é", ""]), st.none()),
                    st.one_of(st.dates(dt.date(2024, 1, 1), dt.date(2024, 1, 3)), st.none()),
                    st.one_of(st.integers(-2, 2), st.none()))
    rows = data.draw(st.lists(row, max_size=14))
    return pd.DataFrame({
        "participant_id": pd.array([r[0] for r in rows], dtype="string"),
        "contact_date": pd.to_datetime(pd.Series([r[1] for r in rows], dtype=object)).astype("datetime64[ns]"),
        "n": pd.array([r[2] for r in rows], dtype="Int64"),
    })


@settings(max_examples=200, deadline=None)
@given(data=st.data(), narrow=st.booleans())
def test_key_order_and_repeated_keys_equal_lexsort_and_duplicated(data: st.DataObject, narrow: bool,
                                                                   ) -> None:
    frame = _frames_with_keys(data)
    for key in (["participant_id", "contact_date", "n"], ["n"], ["contact_date", "participant_id"]):
        codes = [pd.factorize(frame[c], sort=True)[0] for c in reversed(key)]
        with pytest.MonkeyPatch.context() as mp:
            if narrow:  # keys too wide to combine: pandas' own ways
                mp.setattr(ingest_module, "_KEY_CODES_LIMIT", 2)
            np.testing.assert_array_equal(ingest_module._key_order(frame, key), np.lexsort(codes))
            np.testing.assert_array_equal(ingest_module._repeated_keys(frame, key),
                                          frame.duplicated(key, keep=False).to_numpy())


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.one_of(st.sampled_from(["P1", "P2", "P3"]), st.none()), max_size=20), data=st.data())
def test_counts_by_programme_equal_weighted_bincount(ids: list[str | None], data: st.DataObject) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))), dtype=bool)
    run = ingest_module._Run(None, "North", 1, None, len(ids))  # type: ignore[arg-type]
    run.count_by_programme(pd.Series(ids, dtype="string"), rows_inserted=mask, rows_quarantined=1)
    got = run.programme_counts[0] if run.programme_counts else None
    # the old way: every count spread into int64 weights and summed by bincount as floats
    series = pd.Series(ids, dtype="string")
    if not len(series):
        assert got is None
        return
    codes, names = pd.factorize(series, use_na_sentinel=True)
    named = codes >= 0
    for column, weight in (("rows_inserted", mask), ("rows_quarantined", 1)):
        spread = np.broadcast_to(np.asarray(weight, dtype=np.int64), len(series))
        want = np.bincount(codes[named], weights=spread[named], minlength=len(names)).astype(np.int64)
        np.testing.assert_array_equal(got[column].to_numpy(), want)
        assert got[column].dtype == np.int64
    assert list(got["programme_id"]) == [str(n) for n in names]


@pytest.mark.parametrize("table", ["participants", "contacts", "measures"])
def test_row_hashes_in_chunks_equal_one_pass(monkeypatch: pytest.MonkeyPatch, table: str) -> None:
    frame = example_frames("North", n=25)[table]
    whole = row_hashes(frame, table)
    for rows in (1, 2, 7, len(frame) - 1):
        monkeypatch.setattr(row_hash_module, "HASH_CHUNK_ROWS", rows)
        np.testing.assert_array_equal(row_hashes(frame, table), whole)
    monkeypatch.setattr(row_hash_module, "HASH_CHUNK_ROWS", 2)
    assert row_hashes(frame.iloc[:0], table).dtype == np.int64 and len(row_hashes(frame.iloc[:0], table)) == 0


def test_driver_batches_with_constants_equal_batches_of_the_assigned_frame() -> None:
    frame = example_frames("North", n=5)["contacts"]
    order = np.arange(len(frame))[::-1]
    constants = {"upload_id": 7, "created_upload_id": 7}
    got = list(frames_module.driver_batches(frame, "contacts", "sqlite", batch_rows=3, order=order,
                                            constants=constants))
    want = list(frames_module.driver_batches(frame.assign(**constants), "contacts", "sqlite", batch_rows=3,
                                             order=order))
    assert got == want
    assert frames_module.assigned_columns(frame, constants) == list(frame.assign(**constants).columns)


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.one_of(st.sampled_from(["P1", "P2", "P3"]), st.none()), max_size=10),
       owned=st.dictionaries(st.sampled_from(["P1", "P2", "P3"]), st.sampled_from(["North", "South"])))
def test_all_owned_is_no_stored_row_of_another_provider(ids: list[str | None], owned: dict[str, str]) -> None:
    series = pd.Series(ids, dtype="string")
    owner = series.map(owned)  # the old way: each row's owner, compared with the uploader
    foreign = owner.to_numpy(dtype=object, na_value=None) != "North"
    assert ingest_module._all_owned(series, owned, "North") == (not foreign.any())
