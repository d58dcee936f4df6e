"""A page's first view follows every mother through the funnel once (one participant path) and solves the
funnel's disclosure problem (the funnel, its reasons for leaving and the take-up rate) once, and what it shows is
what the library's own functions return."""

from __future__ import annotations

import pandas as pd
import pytest

import evalkit.engagement as engagement
from dashboards import data, state
from evalkit.access import Scope

from .conftest import assert_clean
from .helpers import library_outcomes

pytestmark = pytest.mark.usefixtures("empty_caches")


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    calls: dict[str, list[int]] = {"path": [], "solve": []}
    make_path, solve = engagement.participant_path, engagement._funnel_disclosure

    def counting_path(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["path"].append(1)
        return make_path(*args, **kwargs)

    def counting_solve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["solve"].append(1)
        return solve(*args, **kwargs)

    monkeypatch.setattr(engagement, "participant_path", counting_path)
    monkeypatch.setattr(engagement, "_funnel_disclosure", counting_solve)
    return calls


@pytest.mark.parametrize("page", ["engagement", "report", "overview"])
def test_a_first_view_makes_the_path_once_and_solves_the_funnel_once(app, counted, ctx_for,  # noqa: ANN001
                                                                    page: str) -> None:
    at = app()
    if page == "report":  # every table shown (each is computed when its expander is opened)
        for name in data.report_tables(ctx_for(Scope.admin())):
            at.session_state[f"{state.RP_TABLE}_{name}"] = True
    data.clear_caches()  # as after an upload
    counted["path"].clear()
    counted["solve"].clear()
    at.switch_page(f"views/{page}.py")
    at.run()
    assert_clean(at)
    assert (len(counted["path"]), len(counted["solve"])) == (1, 1), counted


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_exact=True)


def test_the_tables_from_the_shared_path_are_the_library_functions_own(ctx_for, example_db: str) -> None:  # noqa: ANN001
    ctx = ctx_for(Scope.admin())
    res = library_outcomes(example_db)
    shared = data.funnel_tables(ctx)
    _same(shared.funnel, engagement.take_up_funnel(res.data, rules=res.rules))
    _same(shared.exits, engagement.funnel_exits(res.data, rules=res.rules))
    _same(shared.take_up_rate, engagement.take_up_rate(res.data, rules=res.rules))
    _same(data.take_up(ctx), engagement.take_up_rate(res.data, rules=res.rules))
    _same(data.as_frame(data.derived(ctx, "evalkit.engagement.endings_summary", source="path")),
          engagement.endings_summary(res.data, rules=res.rules))
    tables = data.report_tables(ctx)
    for name, fn in (("take_up_funnel", engagement.take_up_funnel), ("funnel_exits", engagement.funnel_exits),
                     ("take_up_rate", engagement.take_up_rate), ("endings", engagement.endings_summary)):
        _same(tables[name](), fn(res.data, rules=res.rules))
