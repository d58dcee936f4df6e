"""evalkit.memory.release_freed_memory: gives freed memory back without touching live data."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import evalkit.memory as memory


def test_release_keeps_live_arrays_and_trims_only_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    monkeypatch.setattr(memory, "_MALLOC_TRIM", lambda pad: calls.append(pad) or 1)
    live = np.arange(1_000_000)
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 10**15)
    memory.release_freed_memory()
    assert calls == []  # a small process: no trim
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 0)
    memory.release_freed_memory()
    assert calls == [0]
    assert live.sum() == 999_999 * 1_000_000 // 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_resident_size_is_read() -> None:
    resident = memory._resident_bytes()
    assert resident is not None and 10 * 2**20 < resident < 64 * 2**30
