"""The dashboard process freezes its long-lived objects out of the cycle collector once, after its first run."""

from __future__ import annotations

import gc

from dashboards import garbage

from .conftest import assert_clean


def test_freezes_once_per_process(monkeypatch) -> None:  # noqa: ANN001
    calls: list[str] = []
    monkeypatch.setattr(garbage, "_FROZEN", False)
    monkeypatch.setattr(gc, "collect", lambda *a: calls.append("collect") or 0)
    monkeypatch.setattr(gc, "freeze", lambda: calls.append("freeze"))
    assert not garbage.frozen()
    garbage.freeze_after_first_run()
    garbage.freeze_after_first_run()
    assert calls == ["collect", "freeze"]  # garbage collected before freezing, and only the first time
    assert garbage.frozen()


def test_the_router_asks_for_it_after_each_run(app, monkeypatch) -> None:  # noqa: ANN001
    runs: list[int] = []
    monkeypatch.setattr(garbage, "freeze_after_first_run", lambda: runs.append(1))
    at = app()
    assert_clean(at)
    at.run()
    assert len(runs) == 2
