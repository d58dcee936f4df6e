"""An ``ambiguous_date`` message names the format to state as the column's dates are written.

A stated format is strict (``DD/MM/YYYY`` refuses ``03.04.25``), so telling a provider whose column reads
``03.04.25`` to state ``DD/MM/YYYY`` would have every date of the column refused once they did. The message
offers the column's own pattern in both orders (as the column-mapping proposal writes it), and the general
``DD/MM/YYYY`` only when the column's dates are written in more than one way.
"""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.validation import validate

PROGRAMMES = pd.DataFrame({"programme_id": ["P1"], "name": ["Mums Together"], "provider": ["Sunrise"],
                           "format": ["group"], "mode": ["in_person"], "delivered_by": ["volunteer_peers"]})


def _ambiguous_messages(referral: list[str]) -> list[str]:
    n = len(referral)
    frame = pd.DataFrame({"participant_id": [f"A{i}" for i in range(n)], "programme_id": ["P1"] * n,
                          "referral_date": referral, "referral_source": ["gp"] * n, "took_up": ["Yes"] * n})
    res = validate({"programmes": PROGRAMMES, "participants": frame}, today="2026-12-31")
    rep = res.report
    return rep.loc[rep["rule"] == "ambiguous_date", "message"].tolist()


def test_dot_separated_two_digit_years_get_their_own_pattern() -> None:
    messages = _ambiguous_messages(["03.04.25", "05.06.25", "07.07.25"])
    assert len(messages) == 2
    assert "'03.04.25' could be 3 April 2025 (day/month) or 4 March 2025 (month/day)" in messages[0]
    for m in messages:
        assert m.endswith("state the column's date format, as its dates are written, in your column mapping: "
                          "DD.MM.YY (day/month) or MM.DD.YY (month/day).")
        assert "DD/MM/YYYY" not in m


def test_dash_separated_four_digit_years_get_their_own_pattern() -> None:
    messages = _ambiguous_messages(["03-04-2025", "2025-01-07", "4 March 2025"])
    assert len(messages) == 1
    assert messages[0].endswith("in your column mapping: DD-MM-YYYY (day/month) or MM-DD-YYYY (month/day).")


def test_dates_written_in_more_than_one_way_keep_the_general_wording() -> None:
    messages = _ambiguous_messages(["03.04.25", "05/06/2025"])
    assert len(messages) == 2
    for m in messages:
        assert m.endswith("or state the column's date format (DD/MM/YYYY) in your column mapping.")


def test_late_two_digit_years_get_their_own_pattern() -> None:
    # a stated YY format reads 85 as 2085, as evalkit does without one: the YY pattern is suggested
    messages = _ambiguous_messages(["03.04.25", "05.06.85"])
    assert messages and all(m.endswith("in your column mapping: DD.MM.YY (day/month) or MM.DD.YY (month/day).")
                            for m in messages)


@pytest.mark.parametrize(("cells", "day_first", "expected"), [
    (["13.01.25", "03.04.25", None, ""], True, "DD.MM.YY"),
    (["01-13-2025", "2025-02-03", "4 March 2025"], False, "MM-DD-YYYY"),
    (["3/4/2025", "12/11/2025"], True, "DD/MM/YYYY"),
    (["13.01.25", "14/01/2025"], True, None),
    (["2025-01-07", "not a date"], True, None),
])
def test_written_date_format_on_cleaned_cells(cells: list[str | None], day_first: bool, expected: str | None) -> None:
    from evalkit.validation.dates import written_date_format  # its one home, beside the rest of date reading

    fmt, why = written_date_format(pd.Series(cells, dtype="str"), day_first)
    assert fmt == expected
    assert (why == "") == (expected is not None)
