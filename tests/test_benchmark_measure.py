"""The benchmark's ``measure`` hands back what earlier steps freed before it starts a step's peak."""

from __future__ import annotations

import threading

import evalkit.memory
from benchmarks import common


class _NoSampler:
    """Stands in for the psutil sampling thread (psutil is a benchmark extra, not a test dependency)."""

    def __init__(self) -> None:
        self.peak = 1 << 20
        self.stop = threading.Event()

    def start(self) -> None:
        pass

    def join(self) -> None:
        pass


def test_measure_releases_freed_memory_before_the_step(monkeypatch) -> None:  # noqa: ANN001
    events: list[str] = []
    monkeypatch.setattr(evalkit.memory, "release_freed_memory", lambda: events.append("release"))
    monkeypatch.setattr(common, "_Sampler", _NoSampler)
    monkeypatch.setattr(common, "RECORDS", [])
    with common.measure("stage", 10, "step", rows=1) as rec:
        events.append("step")
    assert events == ["release", "step"]
    assert rec["peak_mb"] > 0 and common.RECORDS == [rec]
