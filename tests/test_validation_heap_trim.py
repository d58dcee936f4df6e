"""Validation hands freed memory back to the system between tables only in a large process.

Each trim of glibc's heaps (``malloc_trim``, which releasing Arrow's system pool also does) gives back pages the
next table's columns then fault in again: at 100k participants about 20-40k page faults, 0.04-0.08 s of system
time a validation. Below :data:`evalkit.memory.TRIM_ABOVE_BYTES` of resident memory validation now leaves the heaps
as they are; above it (a million participants) it trims after each table as before.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pyarrow as pa
import pytest

import evalkit.memory as memory
from evalkit.validation import validate


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What validation released: Arrow pools (``release_unused``) and glibc trims, in order."""
    calls: list[str] = []

    class Pool:
        def __init__(self, name: str) -> None:
            self.name = name

        def release_unused(self) -> None:
            calls.append(self.name)

    monkeypatch.setattr(pa, "default_memory_pool", lambda: Pool("default pool"))
    monkeypatch.setattr(pa, "system_memory_pool", lambda: Pool("system pool"))
    monkeypatch.setattr(memory, "_MALLOC_TRIM", lambda pad: calls.append("malloc_trim") or 1)
    return calls


def test_a_small_validation_leaves_the_heaps_as_they_are(
        monkeypatch: pytest.MonkeyPatch, releases: list[str], example: Callable[..., dict[str, pd.DataFrame]]) -> None:
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 10**15)
    result = validate(example(n=30), today="2026-11-29")
    assert releases == []
    assert len(result.tables["measures"]) == 60


def test_a_large_validation_still_trims_after_each_table(
        monkeypatch: pytest.MonkeyPatch, releases: list[str], example: Callable[..., dict[str, pd.DataFrame]]) -> None:
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 0)
    validate(example(n=30), today="2026-11-29")
    # after each of the five tables' valid rows and set-aside rows: Arrow's pools and then every glibc heap
    assert releases == ["default pool", "system pool", "malloc_trim"] * 5
