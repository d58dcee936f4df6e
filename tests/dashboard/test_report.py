"""Report page: the library's HTML report and its tables, aggregate only."""

from __future__ import annotations

import pandas as pd

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


def test_each_table_is_computed_when_its_expander_is_opened(app, ctx_for) -> None:  # noqa: ANN001
    """The first view computes none of the tables; each one opened shows the library's table, as people read it
    (as the page showed it before, when every table was computed on every view)."""
    from dashboards import data, state, ui
    from evalkit.access import Scope

    at = app("views/report.py")
    assert_clean(at)
    tables = data.report_tables(ctx_for(Scope.admin()))
    shelves = {e.label: e for e in at.expander}
    for name in tables:
        assert not shelves[name.replace("_", " ").capitalize()].children, name  # nothing computed yet
    assert not frames(at)

    for name in tables:
        at.session_state[f"{state.RP_TABLE}_{name}"] = True
    at.run()
    assert_clean(at)
    shelves = {e.label: e for e in at.expander}
    for name, compute in tables.items():
        shelf = shelves[name.replace("_", " ").capitalize()]
        expected = compute()
        shown = [e.value for e in shelf.get("dataframe")]
        if expected is None or expected.empty:
            assert not shown and "No rows" in " ".join(str(c.value) for c in shelf.get("caption")), name
            continue
        assert len(shown) == 1, name
        pd.testing.assert_frame_equal(shown[0].reset_index(drop=True),
                                      ui.readable(expected).reset_index(drop=True), check_dtype=False, check_column_type=False, obj=name)
    assert not any("participant_id" in f.columns for f in frames(at))  # aggregate tables only
