"""Each column of a batch read from the store is its own array, so that joining the batches a column at a time
(:func:`evalkit.store._frames.stacked_frames`) lets go of each batch's copy of a column as it is joined.

A batch whose numbers shared one two-dimensional block kept the whole block while any of its columns was left: at
a million participants of issue #8's volume the measures' 22 number columns (about 0.7 GB) were held twice until
the last of them was joined, the peak of loading the tables for every analysis command.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd
import pytest

from evalkit.store._frames import frame_from_rows, stacked_frames

COLUMNS = ["programme_id", "participant_id", "instrument", "completed_on", "timepoint", "item_1", "item_2", "item_3",
           "total"]


def _rows(n: int, start: int = 0) -> list[tuple]:
    return [("P1", f"p{i}", "phq9", "2025-01-02", "baseline", float(i % 4), 1.0, None, float(i))
            for i in range(start, start + n)]


def _buffer_ref(column: pd.Series) -> weakref.ref:
    values = column.to_numpy()
    while isinstance(values.base, np.ndarray):
        values = values.base
    return weakref.ref(values)


@pytest.mark.parametrize("dialect", ["sqlite", None])
def test_a_number_column_taken_out_of_a_batch_is_freed(dialect: str | None) -> None:
    frame = frame_from_rows(_rows(50), COLUMNS, "measures", dialect=dialect)
    ref = _buffer_ref(frame["item_1"])
    del frame["item_1"]
    gc.collect()
    assert ref() is None
    assert list(frame.columns) == [c for c in COLUMNS if c != "item_1"]


@pytest.mark.parametrize("dialect", ["sqlite", None])
def test_numbers_are_writable_as_before(dialect: str | None) -> None:
    """The frame's number columns are its own memory, not read-only views of Arrow's."""
    frame = frame_from_rows(_rows(20), COLUMNS, "measures", dialect=dialect)
    for c in ("item_1", "item_2", "item_3", "total"):
        values = frame[c].array.to_numpy()
        assert values.flags.writeable or values.base is not None and values.base.flags.writeable, c


def test_stacked_batches_let_go_of_each_column_as_it_is_joined() -> None:
    parts = [frame_from_rows(_rows(30, 30 * b), COLUMNS, "measures", dialect="sqlite") for b in range(3)]
    refs = [_buffer_ref(p["item_1"]) for p in parts]
    seen: list[bool] = []
    real = pd.concat

    def concat(pieces, **kwargs):  # noqa: ANN001, ANN003, ANN202
        out = real(pieces, **kwargs)
        if pieces and pieces[0].name == "item_2":  # the column after item_1: its batch copies are gone
            gc.collect()
            seen.append(any(r() is not None for r in refs))
        return out

    with pytest.MonkeyPatch.context() as m:
        m.setattr(pd, "concat", concat)
        joined = stacked_frames(parts)
    assert seen == [False]
    assert joined["total"].tolist() == [float(i) for i in range(90)]


def test_freed_memory_handed_back_after_each_column(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each part's column is a small array of its own, which glibc would keep in its heap: handed back after each
    column is joined (release_freed_memory acts only above 1 GiB resident)."""
    import evalkit.memory as memory

    calls: list[int] = []
    monkeypatch.setattr(memory, "release_freed_memory", lambda: calls.append(1))
    parts = [frame_from_rows(_rows(10, 10 * b), COLUMNS, "measures", dialect="sqlite") for b in range(2)]
    stacked_frames(parts)
    assert len(calls) == len(COLUMNS)
