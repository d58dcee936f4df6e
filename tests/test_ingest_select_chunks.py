"""Stored rows are read a part at a time: on SQLite a chunk of ids per query, on PostgreSQL one ``= ANY`` query
whose rows are fetched a batch at a time from a server-side cursor (it returned every stored row as Python
tuples at once before). The rows read in small chunks and batches equal the rows read in one."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import example_frames, result_of

import evalkit.ingest as ingest_module
import evalkit.store._read as read_module
from evalkit.ingest import ingest, secret_for_store, stored_rows_for_upload
from evalkit.pseudonymise import pseudonymise_frame
from evalkit.schemas import table_schema
from evalkit.store import _tables as T

SHA = "ef" * 32


def _small(monkeypatch: pytest.MonkeyPatch, size: int) -> None:
    monkeypatch.setattr(ingest_module, "_CHUNK", size)
    monkeypatch.setattr(read_module, "READ_ROWS", size)


def _canonical_text(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    return {t: f.astype({c: "string" for c in f.columns if isinstance(f[c].dtype, pd.CategoricalDtype)})
            .reset_index(drop=True) for t, f in frames.items()}


@pytest.mark.parametrize("chunk", [1, 4])
def test_stored_rows_read_in_small_chunks_equal_one_read(store, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                                         chunk: int) -> None:
    frames = example_frames("North", n=15)
    ingest(result_of(frames), store, provider="North", file_name="a.csv", sha256=SHA)
    secret = secret_for_store(store)  # the key ingest pseudonymised the stored ids with
    pseudo = {name: pseudonymise_frame(f, secret=secret, namespace="North",
                                       missing_values=table_schema(name).missing_values)
              for name, f in frames.items()}
    whole = _canonical_text(stored_rows_for_upload(store, pseudo, "North"))
    assert sum(len(f) for f in whole.values()) > 15  # the upload's ids found their stored rows
    _small(monkeypatch, chunk)
    parts = _canonical_text(stored_rows_for_upload(store, pseudo, "North"))
    for table, frame in whole.items():
        pd.testing.assert_frame_equal(parts[table], frame, check_categorical=False, obj=table)


def test_fetch_in_chunks_equals_one_read(store, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    ingest(result_of(example_frames("North", n=15)), store, provider="North", file_name="a.csv", sha256=SHA)
    with store.engine.connect() as conn:
        ids = [r[0] for r in conn.execute(sa.select(T.canonical["contacts"].c.participant_id).distinct())]
        whole = ingest_module._fetch(conn, "contacts", "participant_id", ids)
        _small(monkeypatch, 2)
        parts = ingest_module._fetch(conn, "contacts", "participant_id", ids)
    key = list(table_schema("contacts").primary_key)
    pd.testing.assert_frame_equal(parts.sort_values(key).reset_index(drop=True),
                                  whole.sort_values(key).reset_index(drop=True))
    assert len(whole) >= len(ids) > 2  # every id read, in more than one chunk
