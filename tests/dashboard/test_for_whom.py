"""For whom page: the breakdown is the library's, hidden cells shown as [c]."""

from __future__ import annotations

from evalkit.for_whom import for_whom

from .conftest import assert_clean, frame_with
from .helpers import library_outcomes, same_values


def test_for_whom_page_shows_the_library_breakdown(app, example_db) -> None:  # noqa: ANN001
    at = app("views/for_whom.py")
    assert_clean(at)
    assert at.title[0].value == "For whom"
    field = at.selectbox(key="ek_fw_field").value
    at.selectbox(key="ek_fw_what").set_value("take_up")
    at.run()
    assert_clean(at)
    res = library_outcomes(example_db)
    lib = for_whom(res, field, what="take_up", rules=res.rules)
    shown = frame_with(at, "pct_took_up", field)
    same_values(shown.astype({field: "string"}), lib.astype({field: "string"}),
                ["programme_id", field, "n_referred", "pct_took_up", "pct_took_up_ci_low"],
                key=["programme_id", field])
    hidden = lib["pct_took_up"].isna()
    if hidden.any():  # suppression is visible as such
        assert (shown["pct_took_up"].astype(str) == "[c]").sum() == int(hidden.sum())
