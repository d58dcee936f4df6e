"""A charity fills the template with UK dates: a date column whose own dates all read two ways (10/02/2026) is
read in the order the same file's other date columns show (15/02/2026 in referral_date), with a warning, instead
of setting the row (and every row linked to it) aside."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.validation import validate
from evalkit.validation.dates import read_dates

PROGRAMMES = pd.DataFrame({"programme_id": ["P1"], "name": ["Mums Together"], "provider": ["Sunrise"],
                           "format": ["group"], "mode": ["in_person"], "delivered_by": ["volunteer_peers"]})


def _participants(referral: list[str], first_contact: list[str]) -> pd.DataFrame:
    n = len(referral)
    return pd.DataFrame({"participant_id": [f"A{i}" for i in range(n)], "programme_id": ["P1"] * n,
                         "referral_date": referral, "referral_source": ["gp"] * n, "took_up": ["Yes"] * n,
                         "first_contact_date": first_contact})


def _run(frame: pd.DataFrame):  # noqa: ANN202
    return validate({"programmes": PROGRAMMES, "participants": frame}, today="2026-12-31")


def test_ambiguous_column_read_in_the_files_day_month_order_with_a_warning() -> None:
    res = _run(_participants(["03/02/2026", "15/02/2026"], ["10/02/2026", ""]))
    rep = res.report
    assert res.ok, rep[["rule", "message"]].to_string()
    warn = rep[rep["rule"] == "date_order_from_file"]
    assert len(warn) == 1 and warn.iloc[0]["severity"] == "warning"
    assert warn.iloc[0]["column"] == "first_contact_date"
    msg = warn.iloc[0]["message"]
    assert "'10/02/2026' could be read either way; it was read as 10 February 2026 (day/month)" in msg
    assert "'referral_date'" in msg and "ISO date" in msg
    stored = res.tables["participants"]
    assert stored.loc[stored["participant_id"] == "A0", "first_contact_date"].iloc[0] == pd.Timestamp("2026-02-10")


def test_month_day_files_are_read_month_day() -> None:
    res = _run(_participants(["02/03/2026", "02/15/2026"], ["02/10/2026", ""]))
    assert res.ok
    stored = res.tables["participants"]
    assert stored.loc[stored["participant_id"] == "A0", "first_contact_date"].iloc[0] == pd.Timestamp("2026-02-10")


def test_still_an_error_when_nothing_in_the_file_decides() -> None:
    res = _run(_participants(["03/02/2026", "04/02/2026"], ["10/02/2026", ""]))
    assert not res.ok
    assert set(res.report.loc[res.report["severity"] == "error", "rule"]) == {"ambiguous_date"}


def test_read_dates_file_order_only_fills_undecided_groups() -> None:
    cells = pd.Series(["10/02/2026", "13/02/2026", "02/10/2026"], dtype="str")
    groups = np.array([0, 1, 2])
    # group 1 decides day/month itself; group 2 is told month/day; group 0 day/month
    r = read_dates(cells, groups, file_order=np.array([1, -1, -1], dtype=np.int8))
    assert list(pd.Series(r.values).dt.strftime("%Y-%m-%d")) == ["2026-02-10", "2026-02-13", "2026-02-10"]
    assert list(r.by_file_order) == [True, False, True]
    assert list(r.order) == [0, 1, 0]


def test_files_checked_together_each_say_their_own_order(tmp_path) -> None:  # noqa: ANN001
    """One file writes day/month, the other month/day: each warning names the order its own row was read in."""
    from evalkit.readers import read_files
    from evalkit.validation import validate

    header = "participant_id,programme_id,referral_date,first_contact_date,took_up\n"
    (tmp_path / "uk.csv").write_text(header + "M1,P-GROUP,15/02/2025,03/04/2025,yes\n")
    (tmp_path / "us.csv").write_text(header + "M2,P-GROUP,02/15/2025,03/04/2025,yes\n")
    report = validate(read_files([tmp_path / "uk.csv", tmp_path / "us.csv"], table="participants")).report
    hints = report[report["rule"] == "date_order_from_file"]
    said = dict(zip(hints["file"], hints["message"], strict=True))
    assert "read as 3 April 2025 (day/month)" in said["uk.csv"]
    assert "read as 4 March 2025 (month/day)" in said["us.csv"]
