"""Safety page: the library's follow-up list, for providers and admins only."""

from __future__ import annotations

from evalkit.safety import safety_list

from .conftest import assert_clean, frames, texts
from .helpers import library_outcomes, same_values


def test_safety_page_lists_the_library_signals(app, example_db) -> None:  # noqa: ANN001
    at = app("views/safety.py")
    assert_clean(at)
    assert at.title[0].value == "Safety follow-up"
    assert "Single-user mode" in texts(at)
    res = library_outcomes(example_db)
    lib = safety_list(res.data.scored_measures, res)
    shown = [f for f in frames(at) if "signal" in f.columns]
    for signal in ("self_harm_item", "reliable_deterioration"):
        part = next((f for f in shown if set(f["signal"]) == {signal}), None)
        expected = lib[lib["signal"] == signal]
        if expected.empty:
            assert part is None
        else:
            same_values(part, expected, ["participant_id", "instrument", "score"],
                        key=["participant_id", "instrument", "score"])
