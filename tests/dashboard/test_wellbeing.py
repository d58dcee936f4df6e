"""Wellbeing and recovery page: recovery from/within and wellbeing change are the library's figures."""

from __future__ import annotations

from .conftest import assert_clean, frame_with
from .helpers import library_outcomes, same_values


def test_wellbeing_page_shows_the_library_figures(app, example_db) -> None:  # noqa: ANN001
    at = app("views/wellbeing.py")
    assert_clean(at)
    assert at.title[0].value == "Wellbeing and recovery"
    lib = library_outcomes(example_db)
    shown = frame_with(at, "category", "pct", "pct_ci_low")
    same_values(shown, lib.recovery, ["programme_id", "category", "n", "pct", "pct_ci_low", "pct_ci_high"],
                key=["programme_id", "category"])
    code = at.selectbox(key="ek_wb_instrument").value
    assert code in {"wemwbs", "swemwbs", "qpr15"}
    summary = lib.summary[lib.summary["instrument"] == code]
    shown = frame_with(at, "mean_change", "ci_low", "ci_high", "n_paired", "completeness")
    same_values(shown, summary, ["programme_id", "n_paired", "mean_change", "ci_low", "ci_high"], key=["programme_id"])
