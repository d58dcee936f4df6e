"""Ingest matches upload rows with stored rows a part of the upload's ids at a time, and counts per programme a
part of the rows at a time: each part's results equal one pass over every id (the old code's way)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit.ingest as ingest_module
from evalkit.access import Scope
from evalkit.ingest import ProviderConflict, ingest
from evalkit.schemas import table_schema
from evalkit.store import _tables as T
from evalkit.store import load_tables
from evalkit.store._row_hash import row_hashes
from evalkit.store._tables import ROW_HASH

SHA = "cd" * 32


def _one_pass(conn: sa.Connection, table: str, frame: pd.DataFrame, hashes: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(found, same) as the old ``_upsert`` found them: the stored rows of every id read at once."""
    key = list(table_schema(table).primary_key)
    cols = list(dict.fromkeys([*key, "programme_id", ROW_HASH]))
    narrow = ingest_module._fetch(conn, table, key[0], frame[key[0]].dropna().unique().tolist(), cols)
    n = len(frame)
    found = np.zeros(n, dtype=bool)
    same = np.zeros(n, dtype=bool)
    if len(narrow):
        where = ingest_module._stored_positions(frame, narrow, key)
        pos = np.flatnonzero(where >= 0)
        found[pos] = True
        stored_hash = narrow[ROW_HASH].iloc[where[pos]].reset_index(drop=True).astype("Int64")
        same[pos] = (stored_hash == pd.array(hashes[pos], dtype="Int64")).fillna(False).to_numpy(dtype=bool)
    return found, same


def _upload_like(stored: pd.DataFrame, table: str, data: st.DataObject) -> pd.DataFrame:
    """Some of the stored rows, some changed, some with new keys, some without an id, in any order."""
    n = len(stored)
    kept = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    frame = stored[kept].reset_index(drop=True)
    m = len(frame)
    changed = np.array(data.draw(st.lists(st.booleans(), min_size=m, max_size=m)), dtype=bool)
    if table == "contacts":
        frame.loc[changed, "duration_minutes"] = 5.0
    else:
        frame.loc[changed, "main_language"] = "fr"
    new = stored.iloc[: data.draw(st.integers(0, 3))].copy()
    new[new.columns[0] if table == "participants" else "participant_id"] = [f"NEW{i}" for i in range(len(new))]
    if table == "contacts" and len(frame):  # a new key of a stored participant: another date
        other = frame.iloc[:1].assign(contact_date=pd.Timestamp("1999-01-01"))
        new = pd.concat([new, other], ignore_index=True)
    frame = pd.concat([frame, new], ignore_index=True)
    if len(frame) and data.draw(st.booleans()):
        frame.loc[0, "participant_id"] = pd.NA
    order = data.draw(st.permutations(range(len(frame))))
    return frame.iloc[list(order)].reset_index(drop=True)


@pytest.mark.parametrize("table", ["participants", "contacts"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_stored_matches_in_parts_equal_one_read_of_every_id(store, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                             table: str, data: st.DataObject) -> None:
    if not len(load_tables(store, Scope.admin())["participants"]):
        ingest(result_of(example_frames("North", n=12)), store, provider="North", file_name="a.csv", sha256=SHA)
        t = T.canonical[table]
        with store.engine.begin() as conn:  # stored hashes missing on some rows: compared by value, never "same"
            conn.execute(sa.update(t).where(t.c.row_id % 4 == 0).values(row_hash=None))
    stored = load_tables(store, Scope.admin())[table]
    frame = _upload_like(stored[[c for c in stored.columns if c in {f.name for f in table_schema(table).fields}]],
                         table, data)
    frame = ingest_module.to_canonical(frame, table)
    hashes = row_hashes(frame, table)
    with store.engine.connect() as conn:
        want = _one_pass(conn, table, frame, hashes)
        run = ingest_module._Run(conn, "North", 1, None, len(frame))
        for ids in (1, 2, 3, 7, 100_000):
            monkeypatch.setattr(ingest_module, "_MATCH_IDS", ids)
            found, same = ingest_module._stored_matches(run, table, frame, hashes)
            np.testing.assert_array_equal(found, want[0])
            np.testing.assert_array_equal(same, want[1])


@pytest.mark.parametrize("ids", [1, 3])
def test_a_later_part_of_another_provider_is_refused_as_in_one_part(
        store, monkeypatch: pytest.MonkeyPatch, ids: int) -> None:  # noqa: ANN001
    north, south = example_frames("North", n=4), example_frames("South", n=4)
    ingest(result_of(north), store, provider="North", file_name="n.csv", sha256=SHA)
    ingest(result_of(south), store, provider="South", file_name="s.csv", sha256=SHA)
    # South's own group sessions first (the first parts are South's), then North's ids under South's programme
    taken = north["group_sessions"].assign(programme_id=south["programmes"]["programme_id"].iloc[0])
    both = {"group_sessions": pd.concat([south["group_sessions"], taken], ignore_index=True)}
    messages = []
    for size in (100_000, ids):
        monkeypatch.setattr(ingest_module, "_MATCH_IDS", size)
        with pytest.raises(ProviderConflict, match="group_sessions rows that belong to another provider") as refused:
            ingest(result_of(both), store, provider="South", file_name="x.csv", sha256=SHA)
        messages.append(str(refused.value))
    assert "and 2 more" in messages[0]
    assert messages[0] == messages[1]


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.one_of(st.sampled_from(["P1", "P2", "P3"]), st.none()), max_size=25), data=st.data(),
       rows=st.integers(1, 6))
def test_counts_by_programme_in_parts_sum_to_one_part(ids: list[str | None], data: st.DataObject, rows: int) -> None:
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids))), dtype=bool)

    def per_programme(count_rows: int) -> pd.DataFrame:
        run = ingest_module._Run(None, "North", 1, None, len(ids))  # type: ignore[arg-type]
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ingest_module, "_COUNT_ROWS", count_rows)
            run.count_by_programme(pd.Series(ids, dtype="string"), rows_inserted=mask, rows_unchanged=~mask,
                                   rows_quarantined=1)
        if not run.programme_counts:
            return pd.DataFrame()
        assert len(run.programme_counts) == -(-len(ids) // count_rows)
        return pd.concat(run.programme_counts).groupby("programme_id", sort=True).sum()

    pd.testing.assert_frame_equal(per_programme(rows), per_programme(1_000_000))


@settings(max_examples=100, deadline=None)
@given(ids=st.lists(st.one_of(st.sampled_from(["a", "b", "c", "d", "e"]), st.none()), max_size=30),
       size=st.integers(1, 6), chunks=st.integers(1, 3))
def test_id_parts_are_each_rows_first_appearance_rank_in_parts(ids: list[str | None], size: int,
                                                               chunks: int) -> None:
    import pyarrow as pa

    cut = len(ids) // chunks
    pieces = [ids[i * cut:(i + 1) * cut] for i in range(chunks - 1)] + [ids[(chunks - 1) * cut:]]
    values = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(pieces, type=pa.large_string())))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ingest_module, "_MATCH_IDS", size)
        distinct, part = ingest_module._id_parts(values)
    want = values.dropna().unique().tolist()  # the ids the old code read, in its order
    assert distinct.to_pylist() == want
    rank = {v: i for i, v in enumerate(want)}
    assert part.tolist() == [rank[v] // size if v is not None else -1 for v in ids]
