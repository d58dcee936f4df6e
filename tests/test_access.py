"""Access scoping happens in the store's SQL: provider A never reads provider B's rows."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import AccessDenied
from evalkit.ingest import ingest, rollback
from evalkit.mechanisms import CONVERSATION_ROLES, responses_needing_conversation
from evalkit.report import Report, build_report, report_from_store
from evalkit.schemas import TABLE_NAMES
from evalkit.store import list_uploads, load_tables, quarantine_rows
from evalkit.summary import summary_from_store


@pytest.fixture
def two_providers(store):  # noqa: ANN001, ANN201
    bad = pd.DataFrame({"participant_id": ["X1"], "programme_id": ["P-N1"], "referral_date": ["soon"],
                        "reasons": ["referral_date: not a date"]}, dtype="string")
    ingest(result_of(example_frames("North"), {"participants": bad}), store, provider="North",
           file_name="north.xlsx", sha256="1" * 64)
    ingest(result_of(example_frames("South", seed=1), {"participants": bad.assign(programme_id="P-S1")}), store,
           provider="South", file_name="south.xlsx", sha256="2" * 64)
    return store


def _programmes(tables: dict[str, pd.DataFrame]) -> set[str]:
    return set().union(*(set(f["programme_id"]) for f in tables.values()))


def test_provider_sees_only_its_own_rows(two_providers) -> None:  # noqa: ANN001
    north = load_tables(two_providers, Scope.for_provider("North"))
    assert _programmes(north) == {"P-N1", "P-N2"}
    assert all(len(north[t]) > 0 for t in TABLE_NAMES)
    assert set(north["programmes"]["provider"]) == {"North"}
    # asking for South's programme explicitly returns nothing, not an error that reveals it exists
    sneaky = load_tables(two_providers, Scope.for_provider("North"), programmes=["P-S1"])
    assert all(len(f) == 0 for f in sneaky.values())
    assert set(list_uploads(two_providers, Scope.for_provider("North"))["provider"]) == {"North"}
    q = quarantine_rows(two_providers, Scope.for_provider("North"))
    assert list(q) == ["participants"] and set(q["participants"]["programme_id"]) == {"P-N1"}
    south_upload = int(list_uploads(two_providers, Scope.for_provider("South"))["upload_id"].iloc[0])
    assert quarantine_rows(two_providers, Scope.for_provider("North"), upload_id=south_upload) == {}
    with pytest.raises(AccessDenied):
        rollback(two_providers, south_upload, scope=Scope.for_provider("North"))


def test_admin_sees_all_and_evaluator_its_programmes(two_providers) -> None:  # noqa: ANN001
    everything = load_tables(two_providers, Scope.admin())
    assert _programmes(everything) == {"P-N1", "P-N2", "P-S1", "P-S2"}
    ev = load_tables(two_providers, Scope.for_evaluator({"P-N2", "P-S1"}))
    assert _programmes(ev) == {"P-N2", "P-S1"}
    assert len(ev["participants"]) == 40
    narrowed = load_tables(two_providers, Scope.for_evaluator({"P-N2", "P-S1"}), programmes=["P-S1", "P-N1"])
    assert _programmes(narrowed) == {"P-S1"}
    multi = load_tables(two_providers, Scope.for_provider("North", "South"))
    assert len(multi["participants"]) == len(everything["participants"]) == 80


def test_researcher_gets_no_individual_rows(two_providers) -> None:  # noqa: ANN001
    scope = Scope("researcher")
    for call in (lambda: load_tables(two_providers, scope), lambda: quarantine_rows(two_providers, scope),
                 lambda: list_uploads(two_providers, scope)):
        with pytest.raises(AccessDenied, match="aggregate"):
            call()


def test_date_range_filters_a_referral_cohort(two_providers) -> None:  # noqa: ANN001
    all_rows = load_tables(two_providers, Scope.admin())
    start, end = pd.Timestamp("2025-03-01"), pd.Timestamp("2025-05-31")
    part = load_tables(two_providers, Scope.admin(), date_range=(start, end))
    ref = all_rows["participants"]["referral_date"]
    assert len(part["participants"]) == ref.between(start, end).sum() > 0
    assert part["participants"]["referral_date"].between(start, end).all()
    cohort = set(part["participants"]["participant_id"])
    assert set(part["measures"]["participant_id"]) <= cohort and len(part["measures"]) > 0
    assert len(part["programmes"]) == 4
    open_end = load_tables(two_providers, Scope.admin(), date_range=(start, None))
    assert len(open_end["participants"]) == (ref >= start).sum()
    with pytest.raises(ValueError, match="date_range"):
        load_tables(two_providers, Scope.admin(), date_range=("not a date", None))


@pytest.mark.parametrize(("scope", "expected"), [
    (Scope.for_provider("North"), {"P-N1", "P-N2"}), (Scope.for_provider("North", "South"), {"P-N1", "P-N2", "P-S1"}),
    (Scope("provider", providers={"North"}, programmes={"P-N2", "P-S1"}), {"P-N2"}),
    (Scope("provider", providers={"North"}, programmes={"P-S1"}), set()), (Scope.for_provider("West"), set()),
], ids=["provider", "two-providers", "provider-narrowed", "provider-other-programme", "provider-of-none"])
def test_a_provider_s_own_programmes_are_those_it_runs_within_its_granted_programmes(
        scope: Scope, expected: set[str]) -> None:
    programmes = pd.DataFrame({"programme_id": ["P-N1", "P-N2", "P-S1", "P-X"],
                               "provider": pd.array(["North", "North", "South", None], dtype="string")})
    assert scope.own_programmes(programmes) == expected


def test_scope_validation() -> None:
    with pytest.raises(ValueError, match="role must be one of"):
        Scope("owner")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one provider"):
        Scope("provider")
    with pytest.raises(ValueError, match="single string"):
        Scope("evaluator", programmes="P-N1")  # type: ignore[arg-type]
    assert Scope("evaluator", programmes=["P-N1"]).programmes == frozenset({"P-N1"})  # type: ignore[arg-type]


def _only(frames: dict[str, pd.DataFrame], programme: str) -> dict[str, pd.DataFrame]:
    return {t: f[f["programme_id"] == programme].reset_index(drop=True) for t, f in frames.items()}


def test_evaluator_sees_only_the_uploads_and_counts_of_its_programmes(two_providers) -> None:  # noqa: ANN001
    # a second North upload with P-N1's rows only: it concerns no programme of an evaluator of P-N2
    north = example_frames("North")
    ingest(result_of(_only(north, "P-N1")), two_providers, provider="North", file_name="north-n1.xlsx",
           sha256="3" * 64)
    everything = list_uploads(two_providers, Scope.admin()).set_index("file_name")
    assert set(everything.index) == {"north.xlsx", "south.xlsx", "north-n1.xlsx"}

    ev = list_uploads(two_providers, Scope.for_evaluator({"P-N2"})).set_index("file_name")
    assert list(ev.index) == ["north.xlsx"]  # not South's, nor North's upload of P-N1 only
    # north.xlsx spans P-N1 and P-N2 (and a quarantined P-N1 row): only P-N2's rows are counted
    n2 = sum(int((f["programme_id"] == "P-N2").sum()) for f in north.values())
    row = ev.loc["north.xlsx"]
    assert row["rows_accepted"] == row["rows_inserted"] == n2 < everything.loc["north.xlsx", "rows_accepted"]
    assert row["rows_updated"] == row["rows_unchanged"] == row["rows_quarantined"] == 0
    assert everything.loc["north.xlsx", "rows_quarantined"] == 1

    # granted both of North's programmes: North's two uploads, each with all its rows
    both = list_uploads(two_providers, Scope.for_evaluator({"P-N1", "P-N2"})).set_index("file_name")
    assert set(both.index) == {"north.xlsx", "north-n1.xlsx"}
    cols = ["rows_accepted", "rows_inserted", "rows_updated", "rows_unchanged", "rows_quarantined"]
    pd.testing.assert_frame_equal(both[cols], everything.loc[both.index, cols])
    # a provider narrowed to one of its programmes is treated alike; unnarrowed, it sees its uploads whole
    narrowed = Scope("provider", providers={"North"}, programmes={"P-N2"})
    assert list(list_uploads(two_providers, narrowed)["file_name"]) == ["north.xlsx"]
    whole = list_uploads(two_providers, Scope.for_provider("North")).set_index("file_name")
    pd.testing.assert_frame_equal(whole[cols], everything.loc[whole.index, cols])
    # a programme of nothing uploaded: no upload at all
    assert list_uploads(two_providers, Scope.for_evaluator({"P-NONE"})).empty


def test_uploads_stored_before_counts_per_programme(two_providers, db_url) -> None:  # noqa: ANN001
    import sqlalchemy as sa

    from evalkit.store import open_store

    everything = list_uploads(two_providers, Scope.admin()).set_index("file_name")
    with two_providers.engine.begin() as conn:  # back to schema version 6: no upload_programmes
        conn.exec_driver_sql("DROP TABLE upload_programmes")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version >= 7")
    with open_store(db_url) as store:  # step 7 finds each upload's programmes from its rows
        with store.engine.connect() as conn:
            assert sa.inspect(conn).has_table("upload_programmes")
        cols = ["rows_accepted", "rows_quarantined"]
        # every programme of the upload granted: its totals; some only: listed, counts not known
        whole = list_uploads(store, Scope.for_evaluator({"P-N1", "P-N2"})).set_index("file_name")
        assert list(whole.index) == ["north.xlsx"]
        pd.testing.assert_frame_equal(whole[cols], everything.loc[["north.xlsx"], cols])
        part = list_uploads(store, Scope.for_evaluator({"P-N2", "P-S1"})).set_index("file_name")
        assert set(part.index) == {"north.xlsx", "south.xlsx"} and part[cols].isna().all().all()
        assert list_uploads(store, Scope.for_evaluator({"P-NONE"})).empty
        # how many rows of such an upload named no programme is not known either
        assert list_uploads(store)["rows_no_programme"].isna().all()


def test_step_7_keeps_uploads_no_row_carries_and_reads_any_quarantine_text(two_providers, db_url) -> None:  # noqa: ANN001
    """An upload whose rows were all unchanged carries no row's id: step 7 still lists it for those granted its
    provider's programmes (as before the step); quarantine text that is not a JSON object does not stop the
    database from opening."""
    from evalkit.store import open_store

    ingest(result_of(example_frames("North"), {}), two_providers, provider="North", file_name="north-again.xlsx",
           sha256="3" * 64)  # the same rows again: every one unchanged
    with two_providers.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE upload_programmes")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version >= 7")
        ids = [r[0] for r in conn.exec_driver_sql("SELECT quarantine_id FROM quarantine ORDER BY quarantine_id")]
        conn.exec_driver_sql(f"UPDATE quarantine SET row_json = '[1, 2]' WHERE quarantine_id = {ids[0]}")
        conn.exec_driver_sql(f"UPDATE quarantine SET row_json = 'not json' WHERE quarantine_id = {ids[1]}")
    with open_store(db_url) as store:
        seen = list_uploads(store, Scope.for_evaluator({"P-N1"}))
    assert set(seen["file_name"]) == {"north.xlsx", "north-again.xlsx"}


ALL = {"P-N1", "P-N2", "P-S1", "P-S2"}


@pytest.mark.parametrize(("scope", "expected"), [
    (Scope.admin(), ALL), (Scope("admin", programmes={"P-N1"}), ALL),  # programmes do not narrow an admin
    (Scope.for_provider("North"), {"P-N1", "P-N2"}), (Scope.for_provider("North", "South"), ALL),
    (Scope("provider", providers={"North"}, programmes={"P-N2"}), {"P-N2"}),
    (Scope("provider", providers={"North"}, programmes={"P-S1"}), set()),
    (Scope.for_evaluator({"P-N2", "P-S1"}), {"P-N2", "P-S1"}), (Scope.for_evaluator(set()), set()),
    (Scope("researcher"), ALL), (Scope("researcher", programmes={"P-N1", "P-S2"}), {"P-N1", "P-S2"}),
], ids=["admin", "admin-narrowed", "provider", "two-providers", "provider-narrowed", "provider-other-programme",
        "evaluator", "evaluator-of-none", "researcher", "researcher-narrowed"])
def test_every_door_shows_a_user_the_same_programmes(store, scope: Scope, expected: set[str]) -> None:  # noqa: ANN001
    """Rows, quarantined rows, uploads, the summary, the report and the conversation list follow one rule of which
    programmes a user may see (Scope.granted_programmes): a user sees the same programmes through each door open
    to the user's role."""
    import sqlalchemy as sa

    from evalkit.store import _tables as T

    for provider, seed in (("North", 0), ("South", 1)):
        frames = example_frames(provider, seed=seed)
        first, second = sorted(set(frames["programmes"]["programme_id"]))
        # one upload with the programme rows and the first programme's rows, one of the second's rows only;
        # each with a quarantined row naming its programme
        one = {t: (f if t == "programmes" else f[f["programme_id"] == first]) for t, f in frames.items()}
        two = _only({t: f for t, f in frames.items() if t != "programmes"}, second)
        for name, part, prog in ((f"{provider}-1", one, first), (f"{provider}-2", two, second)):
            bad = pd.DataFrame({"participant_id": ["X1"], "programme_id": [prog], "referral_date": ["soon"],
                                "reasons": ["referral_date: not a date"]}, dtype="string")
            ingest(result_of(part, {"participants": bad}), store, provider=provider, file_name=name,
                   sha256=name[0] * 64)
    if scope.role == "researcher":  # the row doors are shut to a researcher; the aggregate doors are open
        for door in (load_tables, quarantine_rows, list_uploads):
            with pytest.raises(AccessDenied):
                door(store, scope)
        rows = expected
    else:
        rows = _programmes(load_tables(store, scope))
        quarantined = _programmes(quarantine_rows(store, scope))
        with store.engine.connect() as conn:
            up, u = T.upload_programmes, T.uploads
            concern = conn.execute(sa.select(u.c.file_name, up.c.programme_id)
                                   .join(up, up.c.upload_id == u.c.upload_id)).all()
        listed = set(list_uploads(store, scope)["file_name"])
        assert rows == expected
        assert quarantined == rows
        assert listed == {f for f, p in concern if p in rows}
    # the aggregate doors: the summary and the report from the store, and the report and the mechanism
    # conversation list given every programme's rows (they narrow the tables to the scope themselves)
    everything = load_tables(store, Scope.admin())
    if rows:
        assert set(summary_from_store(store, scope).programmes["programme_id"]) == rows
    else:  # said plainly rather than an empty summary
        with pytest.raises(ValueError, match="no programmes to summarise"):
            summary_from_store(store, scope)
    assert _report_programmes(report_from_store(store, scope, models=False, figures=False)) == rows
    assert _report_programmes(build_report(everything, scope=scope, models=False, figures=False)) == rows
    with_answers = _with_experience_answers(everything)
    if scope.role in CONVERSATION_ROLES:
        listed = responses_needing_conversation(with_answers, scope, threshold=0)
        assert set(listed["programme_id"]) == rows
    else:
        with pytest.raises(AccessDenied):
            responses_needing_conversation(with_answers, scope, threshold=0)


@pytest.mark.parametrize(("scope", "asked", "expected"), [
    (Scope.for_evaluator({"P-N1"}), ["P-S1"], set()), (Scope.for_evaluator({"P-N1"}), ["P-N1", "P-S1"], {"P-N1"}),
    (Scope("researcher", programmes={"P-N1"}), ["P-S1"], set()),
    (Scope("researcher", programmes={"P-N1"}), ["P-N1", "P-S1"], {"P-N1"}),
    (Scope("researcher"), ["P-S1"], {"P-S1"}), (Scope("admin", programmes={"P-N1"}), ["P-S1"], {"P-S1"}),
], ids=["evaluator-other", "evaluator-both", "researcher-other", "researcher-both", "researcher", "admin"])
def test_asking_for_programmes_shows_the_granted_ones_of_them_through_every_door(
        two_providers, scope: Scope, asked: list[str], expected: set[str]) -> None:  # noqa: ANN001
    """Asking for some programmes narrows what the scope grants, never widens or replaces it: the summary and the
    report of programmes outside a user's grant show none of them (not the granted ones instead)."""
    if scope.role != "researcher":
        assert _programmes(load_tables(two_providers, scope, programmes=asked)) == expected
    report = report_from_store(two_providers, scope, programmes=asked, models=False, figures=False)
    assert _report_programmes(report) == expected
    if expected:
        assert set(summary_from_store(two_providers, scope, programmes=asked).programmes["programme_id"]) == expected
    else:
        with pytest.raises(ValueError, match="no programmes to summarise"):
            summary_from_store(two_providers, scope, programmes=asked)


@pytest.mark.parametrize(("scope", "asked", "expected"), [
    (Scope("researcher"), None, {"P-N1", "P-N2", "P-S1", "P-S2"}),
    (Scope("researcher", programmes={"P-N1", "P-S2"}), None, {"P-N1", "P-S2"}),
    (Scope("researcher", programmes={"P-N1"}), ["P-N1", "P-S1"], {"P-N1"}), (Scope("researcher"), "P-S1", {"P-S1"}),
    (Scope.for_provider("North"), None, {"P-N1", "P-N2"}), (Scope.for_evaluator({"P-N1"}), ["P-N1", "P-S1"], {"P-N1"}),
], ids=["researcher", "researcher-granted", "researcher-asked", "researcher-one", "provider", "evaluator-asked"])
def test_the_tables_an_aggregate_counts_are_those_of_the_programmes_the_scope_grants(
        two_providers, scope: Scope, asked: list[str] | str | None, expected: set[str]) -> None:  # noqa: ANN001
    """evalkit.store._read.load_tables_to_count (not public), behind the summary and the report from the store: a researcher's
    aggregates count the programmes its scope grants (all when none are named), narrowed by those asked for;
    every other role counts what load_tables gives it."""
    from evalkit.store._read import load_tables_to_count

    tables = load_tables_to_count(two_providers, scope, programmes=asked)
    assert _programmes(tables) == expected
    if scope.role != "researcher":
        for name, frame in load_tables(two_providers, scope, programmes=asked, provenance=False).items():
            pd.testing.assert_frame_equal(tables[name], frame)


def _report_programmes(report: Report) -> set[str]:
    about = report.tables["about"].set_index("item")["value"]
    return set() if about["Programmes"] == "none" else set(about["Programmes"].split(", "))


def _with_experience_answers(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """``tables`` with one experience questionnaire (every statement agreed) by each programme's first participant."""
    first = tables["participants"].drop_duplicates("programme_id")
    answers = pd.DataFrame({"programme_id": first["programme_id"].to_numpy(),
                            "participant_id": first["participant_id"].to_numpy(), "instrument": "pex_one_to_one",
                            "completed_on": pd.Timestamp("2025-06-02"), "timepoint": "end",
                            **{f"item_{k}": 4.0 for k in range(1, 15)}})
    return {**tables, "measures": pd.concat([tables["measures"], answers], ignore_index=True)}


def test_rows_of_no_programme_are_shown_to_those_who_see_the_totals_only(two_providers) -> None:  # noqa: ANN001
    """An upload's rows naming none of its provider's programmes (blank, unknown, another provider's) are in its
    totals and in no programme's part: list_uploads says how many to the admin and the provider's own users,
    and to no one narrowed to some programmes."""
    north = _only(example_frames("North"), "P-N1")
    bad = pd.DataFrame({"participant_id": ["X1", "X2", "X3", "X4"], "programme_id": [None, "P-S1", "P-ZZ", "P-N2"],
                        "referral_date": "soon", "reasons": "referral_date: not a date"}, dtype="string")
    ingest(result_of(north, {"participants": bad}), two_providers, provider="North", file_name="north-n1.xlsx",
           sha256="3" * 64)
    counts = ["rows_accepted", "rows_quarantined"]
    for scope in (Scope.admin(), Scope.for_provider("North")):
        seen = list_uploads(two_providers, scope).set_index("file_name")
        assert seen.loc["north-n1.xlsx", "rows_no_programme"] == 3  # blank, South's and an unknown programme
        assert seen.loc["north.xlsx", "rows_no_programme"] == 0
        # with the parts of the programmes granted every programme, they add up to the totals
        parts = list_uploads(two_providers, Scope.for_evaluator({"P-N1", "P-N2"})).set_index("file_name")
        pd.testing.assert_series_equal(
            seen.loc[parts.index, counts].sum(axis=1),
            parts[counts].sum(axis=1) + seen.loc[parts.index, "rows_no_programme"], check_names=False)
    for scope in (Scope.for_evaluator({"P-N1", "P-N2"}), Scope("provider", providers={"North"}, programmes={"P-N1"})):
        seen = list_uploads(two_providers, scope).set_index("file_name")
        assert seen["rows_no_programme"].isna().all()
        assert seen.loc["north-n1.xlsx", "rows_quarantined"] == (1 if "P-N2" in scope.programmes else 0)
