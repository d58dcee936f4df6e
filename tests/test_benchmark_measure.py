"""The benchmark's ``measure`` hands back what earlier steps freed before it starts a step's peak."""

from __future__ import annotations

import evalkit.memory
from benchmarks import common


def test_measure_releases_freed_memory_before_the_step(monkeypatch) -> None:  # noqa: ANN001
    events: list[str] = []
    monkeypatch.setattr(evalkit.memory, "release_freed_memory", lambda: events.append("release"))
    monkeypatch.setattr(common, "RECORDS", [])
    with common.measure("stage", 10, "step", rows=1) as rec:
        events.append("step")
    assert events == ["release", "step"]
    assert rec["peak_mb"] > 0 and common.RECORDS == [rec]
