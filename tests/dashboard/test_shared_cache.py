"""The loaded tables and the outcome result are computed once per data version, scope and filters, shared by
every page, never changed by a page, never handed to another scope, and dropped when the data change."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import TEST_SECRET

import evalkit.outcomes
import evalkit.store
from dashboards import data
from evalkit.access import Scope
from evalkit.store import _read as store_read
from evalkit.store import list_uploads, open_store
from evalkit.store._frames import to_canonical

from .helpers import library_outcomes, library_tables

NORTH = "Northside Mums Charity"
PAGES = ("overview", "symptom_change", "wellbeing", "engagement", "for_whom", "what_works", "safety", "compare",
         "report")


pytestmark = pytest.mark.usefixtures("empty_caches")


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


def test_every_page_in_a_session_loads_once_and_evaluates_once(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Each table is loaded once, except the contacts: read by the episodes (with Engagement's attendance and
    head counts, computed then) and let go of, then loaded for the run of each page that computes from the whole
    tables (What works, Compare) and let go of when it ends."""
    loads: list[tuple[str, ...]] = []
    evaluations = []
    load, evaluate = evalkit.store.load_tables, evalkit.outcomes.evaluate_outcomes

    def counting_load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        loads.append(tuple(kwargs.get("tables") or ("all",)))
        return load(*args, **kwargs)

    def counting_evaluate(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        evaluations.append(kwargs.get("models"))
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(evalkit.store, "load_tables", counting_load)
    monkeypatch.setattr(evalkit.outcomes, "evaluate_outcomes", counting_evaluate)
    at = app()
    contacts_loaded = {}
    for page in PAGES[1:]:
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        contacts_loaded[page] = loads.count(("contacts",))
    assert loads.count(("programmes", "participants", "group_sessions", "measures")) == 1, loads
    assert contacts_loaded == {"symptom_change": 1, "wellbeing": 1, "engagement": 1, "for_whom": 1,
                               "what_works": 2, "safety": 2, "compare": 3, "report": 3}, loads
    assert ("all",) not in loads, loads
    assert evaluations == [False]


def _recording_contacts(monkeypatch: pytest.MonkeyPatch) -> list:
    """Weak references to every contacts frame loaded from now on."""
    import weakref

    loaded: list[weakref.ref] = []
    load = evalkit.store.load_tables

    def recording_load(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        out = load(*args, **kwargs)
        if "contacts" in out:
            loaded.append(weakref.ref(out["contacts"]))
        return out

    monkeypatch.setattr(evalkit.store, "load_tables", recording_load)
    return loaded


def test_no_page_keeps_the_contacts_after_its_run(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The contacts are the largest table (at a million participants of issue #8's volume 1.3 GB of the 2.5 GB the
    tables take): the episodes read them and let go of them, and a page that computes from the whole tables loads
    them for its run only. After any page's run, no contacts are held."""
    import gc

    loaded = _recording_contacts(monkeypatch)
    at = app()  # the Overview
    gc.collect()
    assert len(loaded) == 1 and loaded[0]() is None
    for page in PAGES[1:]:
        at.switch_page(f"views/{page}.py")
        at.run()
        assert not at.exception, (page, [e.value for e in at.exception])
        gc.collect()
        assert all(ref() is None for ref in loaded), (page, len(loaded))
    assert len(loaded) == 3


def test_a_page_run_loads_the_contacts_once(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Compare opened first after a data change needs the whole tables and the episodes in one run: the
    episodes read the contacts the run holds, not a second load."""
    at = app()
    data.clear_caches()
    loaded = _recording_contacts(monkeypatch)
    at.switch_page("views/compare.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert len(loaded) == 1


def test_engagement_after_the_overview_loads_no_contacts(app, ctx_for, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Engagement's attendance and head counts were computed when the episodes were prepared (for the Overview),
    while the contacts were in hand: Engagement loads none, and shows the same tables as the library computes
    from the tables afresh."""
    from evalkit.engagement import attendance_summary, head_counts

    at = app()
    loaded = _recording_contacts(monkeypatch)
    at.switch_page("views/engagement.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert loaded == []
    ctx = ctx_for(Scope.admin())
    tables = library_tables(ctx.url)
    functions = {"evalkit.engagement.attendance_summary": attendance_summary,
                 "evalkit.engagement.head_counts": head_counts}
    assert {dotted for dotted, _ in data.AHEAD_OF_EPISODES} == set(functions)
    for dotted, kwargs in data.AHEAD_OF_EPISODES:
        _frames_equal(data.derived(ctx, dotted, source="tables", **kwargs),
                      functions[dotted](tables, rules=ctx.rules, **kwargs))
    assert loaded == []  # the page's key: the tables made ahead


def test_an_error_made_ahead_is_raised_where_the_table_is_shown(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """A table made ahead that raised is shown as that table's error on Engagement; the episodes, the funnel
    and the other tables are not lost with it."""
    import evalkit.engagement

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise ValueError("no attendance for this test")

    at = app()
    data.clear_caches()
    monkeypatch.setattr(evalkit.engagement, "attendance_summary", failing)
    at.switch_page("views/engagement.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "no attendance for this test" in errors[0], errors
    assert at.get("vega_lite_chart")  # the funnel and the rest were drawn


def test_engagement_opened_first_prepares_episodes_without_the_outcomes(app, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Engagement needs the episodes and paths, not the outcomes: opened first after a data change it prepares
    the episodes once and evaluates nothing; a page opened next evaluates the outcomes from those same episodes."""
    import evalkit.episodes

    prepared, evaluated = [], []
    prepare, evaluate = evalkit.episodes.prepare_episodes, evalkit.outcomes.evaluate_outcomes

    def counting_prepare(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        prepared.append(1)
        return prepare(*args, **kwargs)

    def counting_evaluate(tables, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        evaluated.append(isinstance(tables, evalkit.episodes.EpisodeData))
        return evaluate(tables, *args, **kwargs)

    at = app()
    data.clear_caches()
    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", counting_prepare)
    monkeypatch.setattr(evalkit.outcomes, "evaluate_outcomes", counting_evaluate)
    at.switch_page("views/engagement.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.get("vega_lite_chart")  # the funnel and the rest were drawn
    assert (len(prepared), evaluated) == (1, [])
    at.switch_page("views/symptom_change.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert (len(prepared), evaluated) == (1, [True])


def test_pages_do_not_change_the_shared_tables_or_outcomes(app, example_db: str) -> None:  # noqa: ANN001
    at = app()
    for page in PAGES[1:]:
        at.switch_page(f"views/{page}.py")
        at.run()
    ctx = data.Context(url=example_db, scope=Scope.admin())
    key = (example_db, data.version(example_db), ctx.scope_key, None, None)
    shared_tables = data._tables(*key)
    for name, frame in library_tables(example_db).items():
        _frames_equal(shared_tables[name], frame)
    shared = data._outcomes(*key, ctx.rules_key).value
    fresh = library_outcomes(example_db)
    for part in ("changes", "summary", "dose_sensitivity", "recovery", "parameters"):
        _frames_equal(getattr(shared, part), getattr(fresh, part))
    # the Talking Therapies rates are kept beside the result (made when the report tables ask for them)
    _frames_equal(data._talking_therapies(*key, ctx.rules_key).value, fresh.talking_therapies)
    for part in ("episodes", "scores", "scored_measures", "participants"):
        _frames_equal(getattr(shared.data, part), getattr(fresh.data, part))
    assert shared.data.attended is None and fresh.data.attended is None  # prepared with keep_attended=False


def test_a_page_changing_its_copy_leaves_the_shared_result_alone(ctx_for, example_db: str) -> None:  # noqa: ANN001
    ctx = ctx_for(Scope.admin())
    res = data.outcomes(ctx)
    res.summary["mean_change"] = 0.0
    res.summary.iloc[0, 0] = "changed"
    res.changes.pop("change")
    res.data.episodes.loc[0, "programme_id"] = "changed"
    frames = data.tables(ctx)
    frames["participants"]["participant_id"] = "changed"
    frames.pop("measures")
    again = data.outcomes(ctx)
    fresh = library_outcomes(example_db)
    _frames_equal(again.summary, fresh.summary)
    _frames_equal(again.changes, fresh.changes)
    _frames_equal(again.data.episodes, fresh.data.episodes)
    loaded = data.tables(ctx)
    for name, frame in library_tables(example_db).items():
        _frames_equal(loaded[name], frame)


def test_shared_entries_are_per_scope(ctx_for, example_db: str) -> None:  # noqa: ANN001
    admin, north = ctx_for(Scope.admin()), ctx_for(Scope.for_provider(NORTH))
    everything = data.outcomes(admin).changes  # the admin's result is cached first
    own = data.outcomes(north).changes
    own_progs = set(data.tables(north)["programmes"]["programme_id"])
    assert set(own["programme_id"]) <= own_progs < set(everything["programme_id"])
    lib = library_tables(example_db, Scope.for_provider(NORTH))
    for name, frame in data.tables(north).items():
        _frames_equal(frame, lib[name])


def test_a_rollback_drops_the_shared_entries(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    from evalkit.cli.cmd_dashboard import load_example

    url = "sqlite:///" + str(tmp_path / "rollback.sqlite")
    monkeypatch.setenv("EVALKIT_SECRET", TEST_SECRET)
    load_example(url)
    ctx = data.Context(url=url, scope=Scope.admin())
    before = data.tables(ctx)
    changes = data.outcomes(ctx).changes
    newest = list_uploads(data.store(url)).iloc[0]
    data.rollback(ctx, int(newest["upload_id"]))
    after = data.tables(ctx)
    gone = set(before["programmes"].loc[before["programmes"]["provider"] == newest["provider"], "programme_id"])
    assert gone and not gone & set(after["programmes"]["programme_id"])
    assert not gone & set(data.outcomes(ctx).changes["programme_id"]) and gone & set(changes["programme_id"])
    lib = library_tables(url)
    for name, frame in after.items():
        _frames_equal(frame, lib[name])


def test_driver_values_load_the_same_frames(example_db: str) -> None:
    """load_tables types the driver's rows column by column; the frames equal those of SQLAlchemy's rows."""
    store = open_store(example_db)
    try:
        with store.engine.connect() as conn:
            for table in ("programmes", "participants", "group_sessions", "contacts", "measures"):
                query = store_read.table_query(table, Scope.admin())
                typed = store_read.read_canonical(conn, query, table)
                processed = store_read.read_frame(conn, query)
                assert list(typed.columns) == list(processed.columns) and len(typed) > 0
                _frames_equal(typed, to_canonical(processed, table))
    finally:
        store.close()


@pytest.mark.parametrize("page", ["overview", "symptom_change", "wellbeing", "engagement", "for_whom", "compare",
                                  "what_works"])
def test_kept_figures_and_tables_are_the_ones_built_afresh(app, page: str) -> None:  # noqa: ANN001
    """A rerun reuses the kept charts and display tables; they equal those built with every cache empty."""

    def shown(at) -> tuple[list[str], list[pd.DataFrame]]:  # noqa: ANN001
        assert not at.exception, [e.value for e in at.exception]
        return [c.proto.spec for c in at.get("vega_lite_chart")], [d.value for d in at.dataframe]

    at = app(f"views/{page}.py")
    first_specs, first_tables = shown(at)
    assert first_specs or page == "overview"  # the overview shows figures and tables, no chart
    assert first_tables
    at.run()
    again_specs, again_tables = shown(at)
    data.clear_caches()
    at.run()
    fresh_specs, fresh_tables = shown(at)
    assert first_specs == again_specs == fresh_specs
    assert len(first_tables) == len(again_tables) == len(fresh_tables)
    for a, b, c in zip(first_tables, again_tables, fresh_tables, strict=True):
        pd.testing.assert_frame_equal(a, b)
        pd.testing.assert_frame_equal(a, c)


def test_comparison_options_reuse_one_summary(ctx_for, example_db: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Another measure, questionnaire or subgroup compares the one scoped summary again; the figures are
    compare_from_tables' own."""
    import evalkit.summary
    from evalkit.compare import compare_from_tables
    from evalkit.rules import PairingRules

    built = []
    build = evalkit.summary.build_summary

    def counting_build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        built.append(1)
        return build(*args, **kwargs)

    monkeypatch.setattr(evalkit.summary, "build_summary", counting_build)
    ctx = ctx_for(Scope.admin())
    tables = library_tables(example_db)
    for options in ({"instrument": "epds", "measure": "smcr", "by": None},
                    {"instrument": "epds", "measure": "mean_change", "by": ["format"]},
                    {"instrument": "epds", "measure": "smcr", "by": ["format", "mode"]}):
        shown = data.comparison_from_store(ctx, **options)
        lib = compare_from_tables(tables, rules=PairingRules(), **options)
        for part in ("per_programme", "pooled", "funnel", "subgroups", "moderator_test"):
            _frames_equal(getattr(shown, part), getattr(lib, part))
        assert shown.notes == lib.notes and shown.direction == lib.direction
    assert len(built) == 1  # the dashboard built one summary for the three option sets


def test_comparison_summary_is_built_from_the_shared_episodes(ctx_for, example_db: str,  # noqa: ANN001
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The scoped summary is given the episodes the other pages share (not prepared again), and equals the
    summary build_summary makes of the tables by itself."""
    import evalkit.episodes
    import evalkit.summary
    from evalkit.rules import PairingRules

    ctx = ctx_for(Scope.admin())
    data.outcomes(ctx)  # another page has prepared the episodes
    key = (example_db, data.version(example_db), ctx.scope_key, None, None)
    shared = data._episode_data(*key, ctx.rules_key).value
    prepared, given = [], []
    prepare, build = evalkit.episodes.prepare_episodes, evalkit.summary.build_summary

    def counting_prepare(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        prepared.append(1)
        return prepare(*args, **kwargs)

    def recording_build(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        given.append(kwargs.get("episodes"))
        return build(*args, **kwargs)

    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", counting_prepare)
    monkeypatch.setattr(evalkit.summary, "build_summary", recording_build)
    summary = data.aggregate_summary(ctx)
    data.comparison_from_store(ctx, instrument="epds", measure="smcr", by=None)
    assert prepared == [] and len(given) == 1 and given[0] is shared
    monkeypatch.setattr(evalkit.episodes, "prepare_episodes", prepare)
    own = build(library_tables(example_db), rules=PairingRules(), created_at=summary.created_at)
    for part in ("programmes", "results"):
        _frames_equal(getattr(summary, part), getattr(own, part))
    assert summary.to_dict() == own.to_dict()


def test_what_works_viewed_again_loads_nothing(app, ctx_for, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """The answers that need a conversation read the whole tables: made once per key and shared, so What works
    viewed again loads no table (made afresh each view, it loaded the contacts every time: at a million
    participants over a minute), and they are the library's own."""
    from evalkit.mechanisms import responses_needing_conversation

    at = app()
    at.switch_page("views/what_works.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    loaded = _recording_contacts(monkeypatch)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert loaded == []
    ctx = ctx_for(Scope.admin())
    shown = data.conversations(ctx)
    assert loaded == []
    expected = responses_needing_conversation(library_tables(ctx.url), Scope.admin())
    assert len(expected)  # the example data hold answers that need one
    _frames_equal(shown, expected)
