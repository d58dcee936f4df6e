"""Engagement page: funnel, reasons, endings and head counts are the library's figures."""

from __future__ import annotations

from evalkit import engagement

from .conftest import assert_clean, frame_with, texts
from .helpers import library_outcomes, library_tables, same_values


def test_engagement_page_shows_the_library_figures(app, example_db) -> None:  # noqa: ANN001
    at = app("views/engagement.py")
    assert_clean(at)
    assert at.title[0].value == "Engagement"
    assert "Single-user mode" in texts(at)
    pid = at.selectbox(key="ek_en_programme").value
    res = library_outcomes(example_db)
    funnel = engagement.take_up_funnel(res.data, rules=res.rules)
    same_values(frame_with(at, "step", "n", "pct_of_referred"), funnel[funnel["programme_id"] == pid],
                ["step", "n", "n_left", "pct_of_referred"], key=["step"])
    ends = engagement.endings_summary(res.data, rules=res.rules)
    same_values(frame_with(at, "ending_group", "pct"), ends[ends["programme_id"] == pid],
                ["ending_group", "n", "pct", "pct_ci_low"], key=["ending_group"])
    att = engagement.attendance_summary(library_tables(example_db), rules=res.rules)
    same_values(frame_with(at, "n_attended", "contacts_median"), att[att["programme_id"] == pid],
                ["n_attended", "contacts_median", "n_dose_1", "n_dose_8_plus", "pct_dna"], key=["n_attended"])
    row = att[att["programme_id"] == pid].iloc[0]  # did not attend: n = missed of booked, as the report says
    assert f"n = {row['n_contacts_dna']} of {row['n_contacts_booked']}" in texts(at)
    heads = engagement.head_counts(library_tables(example_db), rules=res.rules)
    if pid in set(heads["programme_id"]):
        same_values(frame_with(at, "total_head_count", "pct_named"), heads[heads["programme_id"] == pid],
                    ["n_sessions", "total_head_count", "total_named", "pct_named"], key=["n_sessions"])
