"""The Talking Therapies rates are made only when asked for (the report tables), once per key, from the shared
outcome result, and they are the table the library's evaluate_outcomes fills.

No page's first view shows them, so the shared outcome result leaves them out
(``evaluate_outcomes(..., talking_therapies=False)``); :func:`dashboards.data.talking_therapies` makes them with
:func:`evalkit.outcomes.outcome_talking_therapies` and keeps them under the outcome result's keys.
"""

from __future__ import annotations

import pandas as pd
import pytest

import evalkit.talking_therapies
from dashboards import data, state
from evalkit.access import Scope

from .conftest import assert_clean
from .helpers import library_outcomes

pytestmark = pytest.mark.usefixtures("empty_caches")


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per time the Talking Therapies outcomes of the people are made."""
    calls: list[int] = []
    make = evalkit.talking_therapies.talking_therapies_outcomes

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        return make(*args, **kwargs)

    monkeypatch.setattr(evalkit.talking_therapies, "talking_therapies_outcomes", counting)
    return calls


@pytest.mark.parametrize("page", ["overview", "symptom_change", "wellbeing"])
def test_a_first_view_makes_no_talking_therapies_rates(app, made, page: str) -> None:  # noqa: ANN001
    at = app()
    data.clear_caches()  # as after an upload
    made.clear()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert_clean(at)
    assert made == []  # the shared result was made without the rates


def test_the_report_tables_get_the_rates_evaluate_outcomes_fills_made_once(ctx_for, made,  # noqa: ANN001
                                                                          example_db: str) -> None:
    ctx = ctx_for(Scope.admin())
    expected = library_outcomes(example_db).talking_therapies
    made.clear()
    assert data.outcomes(ctx).talking_therapies is None
    tables = data.report_tables(ctx)
    for _ in range(2):
        got = tables["talking_therapies_rates"]()
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got.attrs == expected.attrs
    assert len(made) == 1  # once per key, from the shared result
    got["n_finished"] = 0  # a caller's copy: the kept table stays as it was
    pd.testing.assert_frame_equal(data.talking_therapies(ctx), expected, check_exact=True)
    assert len(made) == 1


def test_the_report_page_shows_the_rates_when_opened(app, ctx_for, made) -> None:  # noqa: ANN001
    at = app("views/report.py")
    assert made == []
    at.session_state[f"{state.RP_TABLE}_talking_therapies_rates"] = True
    at.run()
    assert_clean(at)
    shelf = {e.label: e for e in at.expander}["Talking therapies rates"]
    assert len(shelf.get("dataframe")) == 1
    assert len(made) == 1
