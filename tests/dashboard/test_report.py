"""Report page runs on the example data without an exception (single-user mode)."""

from __future__ import annotations

from .conftest import assert_clean, texts


def test_report_page_runs(app) -> None:  # noqa: ANN001
    at = app("views/report.py")
    assert_clean(at)
    assert at.title[0].value == "Report"
    assert "Single-user mode" in texts(at)
