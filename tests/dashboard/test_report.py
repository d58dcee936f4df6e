"""Report page: the library's HTML report and its tables, aggregate only."""

from __future__ import annotations

from .conftest import assert_clean, frames, texts


def test_report_page_offers_the_report_and_every_table(app) -> None:  # noqa: ANN001
    at = app("views/report.py")
    assert_clean(at)
    assert at.title[0].value == "Report"
    assert "Single-user mode" in texts(at)
    names = [e.label for e in at.expander]
    for name in ("Outcome summary", "Recovery from within", "Take up funnel", "Endings", "Trajectories"):
        assert name in names, names
    assert not any("participant_id" in f.columns for f in frames(at))  # aggregate tables only

    at.button(key="ek_rp_prepare").click()
    at.run()
    assert_clean(at)
    labels = [b.proto.label for b in at.get("download_button")]
    assert {"Report (HTML)", "Its tables (Excel)", "Its tables (CSV, zip)"} <= set(labels), labels
