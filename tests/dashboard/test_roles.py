"""Roles are enforced where the dashboard loads data (dashboards.data), not only by hiding pages."""

from __future__ import annotations

import pytest

from dashboards import data, pages
from evalkit.access import Scope
from evalkit.errors import AccessDenied

NORTH = "Northside Mums Charity"


def _providers(ctx) -> set[str]:  # noqa: ANN001
    return set(data.programmes(ctx)["provider"])


def test_provider_sees_only_its_own_rows(ctx_for) -> None:  # noqa: ANN001
    admin = ctx_for(Scope.admin())
    north = ctx_for(Scope.for_provider(NORTH))
    everything = data.tables(admin)
    own = data.tables(north)
    own_progs = set(own["programmes"]["programme_id"])
    assert set(own["programmes"]["provider"]) == {NORTH}
    assert len(own_progs) >= 1 and own_progs < set(everything["programmes"]["programme_id"])
    for name, frame in own.items():
        if "programme_id" in frame.columns:
            assert set(frame["programme_id"]) <= own_progs, name
    # same database and version, different role: the cache must not hand one role's rows to another
    assert len(data.tables(admin)["participants"]) > len(data.tables(north)["participants"])
    assert set(data.episode_changes(north)["programme_id"]) <= own_progs
    assert _providers(north) == {NORTH}
    assert set(data.uploads(north)["provider"]) == {NORTH}


def test_evaluator_sees_only_assigned_programmes(ctx_for) -> None:  # noqa: ANN001
    progs = sorted(data.programmes(ctx_for(Scope.admin()))["programme_id"])
    ev = ctx_for(Scope.for_evaluator([progs[0]]))
    loaded = data.tables(ev)
    assert set(loaded["participants"]["programme_id"]) == {progs[0]}
    with pytest.raises(AccessDenied):
        data.safety_list(ev)
    with pytest.raises(AccessDenied):
        data.upload_providers(ev)


def test_researcher_gets_no_individual_level_frames(ctx_for) -> None:  # noqa: ANN001
    res = ctx_for(Scope("researcher"))
    with pytest.raises(AccessDenied):
        data.tables(res)
    with pytest.raises(AccessDenied):
        data.episode_changes(res)
    with pytest.raises(AccessDenied):
        data.analysis(res, "evalkit.episodes.build_episodes")
    with pytest.raises(AccessDenied):
        data.safety_list(res)
    with pytest.raises(AccessDenied):
        data.uploads(res)
    with pytest.raises(AccessDenied):
        data.quarantine(res)
    assert data.programmes(res).empty


def test_filters_narrow_within_the_scope(ctx_for) -> None:  # noqa: ANN001
    north = ctx_for(Scope.for_provider(NORTH), formats=("one_to_one",))
    # a format filter can only narrow what the scope allows, never widen it
    assert set(data.tables(north)["programmes"]["provider"]) <= {NORTH}


def test_page_list_per_role() -> None:
    def titles(role: str) -> set[str]:
        return {t for _, t, _, roles, _ in pages.PAGES if role in roles}

    assert "Safety" in titles("provider") and "Safety" in titles("admin")
    assert "Safety" not in titles("evaluator") and "Safety" not in titles("researcher")
    assert titles("researcher") == {"Overview", "Compare programmes", "Report"}
    assert "Upload" not in titles("evaluator")
    assert "Accounts" in titles("admin") and "Accounts" not in titles("provider")
