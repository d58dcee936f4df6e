"""Access control through every door: a provider never reads another provider's rows, a researcher never
receives individual-level rows.

Doors: the library (``load_tables``, ``quarantine_rows``, ``list_uploads``, ``rollback``, ``ingest``), the
CLI (``evalkit uploads``, ``quarantine``, ``rollback``, ``ingest`` with ``--provider``) and the dashboard's
data layer (``dashboards.data``: the only way its pages reach data). Two providers, North and South, each
store an upload with quarantined rows; South's participant ids are the same raw strings as North's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from badinput.helpers import cli, diff, snapshot, write_tables
from conftest import example_frames, result_of

from evalkit.access import Scope
from evalkit.errors import AccessDenied
from evalkit.ingest import ingest, rollback
from evalkit.schemas import TABLE_NAMES
from evalkit.store import list_uploads, load_tables, open_store, quarantine_rows

SOUTH_MARK = re.compile(r"South|P-S\d")


def south_frames() -> dict[str, pd.DataFrame]:
    """South's programmes (P-S1, P-S2) with participant ids written exactly as North's (N0000...)."""
    frames = example_frames("South", seed=1)
    for table in ("participants", "contacts", "measures"):
        frames[table]["participant_id"] = frames[table]["participant_id"].str.replace("S", "N", regex=False)
    return frames


def _bad(programme: str, raw_id: str) -> pd.DataFrame:
    return pd.DataFrame({"participant_id": [raw_id], "programme_id": [programme], "referral_date": ["soon"],
                         "reasons": ["referral_date: not a date"]}, dtype="string")


@pytest.fixture
def two(db_url: str):  # noqa: ANN201
    """North and South each store one upload with one quarantined row; returns (url, North id, South id)."""
    with open_store(db_url) as store:
        north = ingest(result_of(example_frames("North"), {"participants": _bad("P-N1", "Q1")}), store,
                       provider="North", file_name="north.xlsx", sha256="1" * 64)
        # South's raw participant ids are North's raw ids (N0000...): pseudonyms must still differ
        south = ingest(result_of(south_frames(), {"participants": _bad("P-S1", "Q1")}),
                       store, provider="South", file_name="south-secret-name.xlsx", sha256="2" * 64)
    return db_url, north.upload_id, south.upload_id


def _no_south(obj: object) -> None:
    """Nothing of South (programme ids, provider name, file name) appears anywhere in ``obj``."""
    if isinstance(obj, dict):
        for v in obj.values():
            _no_south(v)
    elif isinstance(obj, pd.DataFrame):
        text = obj.astype(str).to_csv(index=False)
        assert not SOUTH_MARK.search(text) and "south-secret-name" not in text, text[:500]
    else:
        assert not SOUTH_MARK.search(str(obj)) and "south-secret-name" not in str(obj), str(obj)[:500]


# --------------------------------------------------------------------------- library


def test_library_doors_show_a_provider_only_its_rows(two) -> None:  # noqa: ANN001
    url, north_id, south_id = two
    north = Scope.for_provider("North")
    with open_store(url) as store:
        everything = load_tables(store, Scope.admin())
        mine = load_tables(store, north)
        assert all(len(mine[t]) > 0 for t in TABLE_NAMES)
        _no_south(mine)
        south_ids = set(everything["participants"]["participant_id"]) - set(mine["participants"]["participant_id"])
        assert len(south_ids) == 40  # same raw ids, different pseudonyms: nothing shared
        # asking for South's programmes, or naming them in the scope, gives nothing (not an error saying they exist)
        assert all(len(f) == 0 for f in load_tables(store, north, programmes=["P-S1", "P-S2"]).values())
        narrowed = Scope("provider", providers=frozenset({"North"}), programmes=frozenset({"P-S1"}))
        assert all(len(f) == 0 for f in load_tables(store, narrowed).values())
        uploads = list_uploads(store, north)
        assert list(uploads["upload_id"]) == [north_id]
        _no_south(uploads)
        q = quarantine_rows(store, north, status="all")
        assert set(q) == {"participants"} and set(q["participants"]["upload_id"]) == {north_id}
        _no_south(q)
        assert quarantine_rows(store, north, upload_id=south_id, status="all") == {}
        before = snapshot(url)
        with pytest.raises(AccessDenied, match="another provider"):
            rollback(store, south_id, scope=north)
        assert diff(before, snapshot(url)) == {}


def test_researcher_never_receives_individual_rows(two) -> None:  # noqa: ANN001
    url, north_id, _ = two
    researcher = Scope("researcher")
    with open_store(url) as store:
        before = snapshot(url)
        for call in (lambda: load_tables(store, researcher), lambda: load_tables(store, researcher, tables=["programmes"]),
                     lambda: list_uploads(store, researcher), lambda: quarantine_rows(store, researcher),
                     lambda: rollback(store, north_id, scope=researcher)):
            with pytest.raises(AccessDenied):
                call()
        assert diff(before, snapshot(url)) == {}


def test_evaluator_sees_only_assigned_programmes(two) -> None:  # noqa: ANN001
    url, north_id, south_id = two
    evaluator = Scope.for_evaluator(["P-N1"])
    with open_store(url) as store:
        tables = load_tables(store, evaluator)
        for table in TABLE_NAMES:
            assert set(tables[table]["programme_id"]) <= {"P-N1"}, table
        _no_south(tables)
        with pytest.raises(AccessDenied):
            rollback(store, north_id, scope=evaluator)
        assert quarantine_rows(store, evaluator, upload_id=south_id) == {}
        # quarantined rows of the provider's other programme (P-N2) are not the evaluator's either
        ingest(result_of({}, {"participants": _bad("P-N2", "Q7")}), store, provider="North", file_name="n2.csv",
               sha256="4" * 64)
        seen = quarantine_rows(store, evaluator, status="all")
        assert set(seen["participants"]["programme_id"]) == {"P-N1"}
        assert set(quarantine_rows(store, Scope.for_provider("North"), status="all")["participants"]["programme_id"]) \
            == {"P-N1", "P-N2"}


def test_ingest_cannot_touch_another_providers_rows(two) -> None:  # noqa: ANN001
    """North sending South's programme rows, or rows of South's programmes, is refused whole."""
    from evalkit.ingest import ProviderConflict

    url, _, _ = two
    south = south_frames()
    with open_store(url) as store:
        before = snapshot(url)
        for frames in ({"programmes": south["programmes"]}, {"group_sessions": south["group_sessions"]}):
            with pytest.raises(ProviderConflict, match="Nothing was stored"):
                ingest(result_of(frames), store, provider="North", file_name="x.csv", sha256="3" * 64)
        assert diff(before, snapshot(url)) == {}


# --------------------------------------------------------------------------- CLI


def test_cli_doors_scope_to_a_provider(two, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    url, north_id, south_id = two
    code, out, _ = cli(capsys, "uploads", "--db", url, "--provider", "North", "--format", "json")
    assert code == 0 and [r["upload_id"] for r in json.loads(out)] == [north_id]
    _no_south(out)
    code, out, _ = cli(capsys, "uploads", "--db", url, "--provider", "North")
    assert code == 0 and "north.xlsx" in out
    _no_south(out)
    code, out, _ = cli(capsys, "quarantine", "--db", url, "--provider", "North", "--status", "all")
    assert code == 0 and f"upload {north_id}" in out
    _no_south(out)
    code, out, _ = cli(capsys, "quarantine", "--db", url, "--provider", "North", "--upload", str(south_id))
    assert code == 0 and "No quarantined rows" in out
    export = tmp_path / "fix.xlsx"
    code, out, _ = cli(capsys, "quarantine", "--db", url, "--provider", "North", "-o", export)
    assert code == 0
    sheets = pd.read_excel(export, sheet_name=None, dtype=str)
    assert sum(len(f) for f in sheets.values()) == 1
    _no_south(sheets)
    before = snapshot(url)
    code, _, err = cli(capsys, "rollback", str(south_id), "--db", url, "--provider", "North")
    assert code == 1 and "belongs to another provider" in err
    assert diff(before, snapshot(url)) == {}
    code, out, _ = cli(capsys, "rollback", str(south_id), "--db", url, "--provider", "South")
    assert code == 0 and f"upload {south_id} rolled back" in out


def test_cli_without_provider_acts_as_admin(two, capsys) -> None:  # noqa: ANN001
    """Documented: whoever can open the database sees everything unless they name a provider."""
    url, _, _ = two
    code, out, _ = cli(capsys, "uploads", "--db", url, "--format", "json")
    assert code == 0 and {r["provider"] for r in json.loads(out)} == {"North", "South"}


def test_cli_ingest_checks_only_against_the_uploaders_rows(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    """North referring to South's programme or participants learns nothing about South."""
    db = tmp_path / "s.sqlite"
    assert cli(capsys, "ingest", *write_tables(tmp_path / "south", example_frames("South", n=5, seed=1)),
               "--provider", "South", "--db", db)[0] == 0
    assert cli(capsys, "ingest", *write_tables(tmp_path / "north", example_frames("North", n=5)),
               "--provider", "North", "--db", db)[0] == 0
    contacts = tmp_path / "probe" / "contacts.csv"
    contacts.parent.mkdir()
    contacts.write_text("programme_id,participant_id,contact_date,kind,status\n"
                        "P-S1,S0001,2025-03-03,telephone,attended\nP-N1,S0001,2025-03-04,telephone,attended\n")
    before = snapshot(str(db))
    code, out, err = cli(capsys, "ingest", contacts, "--provider", "North", "--db", db)
    assert code == 1 and "no row could be stored" in err
    changed = diff(before, snapshot(str(db)))
    # the upload's own bookkeeping: its record, its quarantined rows, and the programmes of North's it concerns
    assert set(changed) <= {"uploads", "quarantine", "upload_programmes"} and changed["quarantine"] == (0, 2)
    with open_store(db) as store:
        evaluator_of_south = list_uploads(store, Scope.for_evaluator({"P-S1"}))
    assert list(evaluator_of_south["provider"]) == ["South"]  # a row naming P-S1 does not show North's upload
    code, out, _ = cli(capsys, "quarantine", "--db", db, "--provider", "North")
    assert code == 0 and "contacts: 2 row(s)" in out and "is not a participant_id" in out
    assert "South" not in out + err  # whose programme P-S1 is, or that S0001 exists there, is never said


# --------------------------------------------------------------------------- dashboard data layer


@pytest.fixture
def dash(two, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    pytest.importorskip("streamlit")
    from dashboards import data

    url, north_id, south_id = two
    if not url.startswith("sqlite"):
        pytest.skip("the dashboard data layer is exercised once, on SQLite")
    monkeypatch.setenv("EVALKIT_DB_URL", url)
    return data, url, north_id, south_id


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dashboard_data_layer_scopes_every_call(dash) -> None:  # noqa: ANN001
    data, url, north_id, south_id = dash
    north = data.Context(url=url, scope=Scope.for_provider("North"))
    _no_south(data.tables(north))
    _no_south(data.programmes(north))
    assert list(data.uploads(north)["upload_id"]) == [north_id]
    q = data.quarantine(north)
    assert {int(i) for f in q.values() for i in f["upload_id"]} == {north_id}
    _no_south(q)
    before = snapshot(url)
    with pytest.raises(AccessDenied):
        data.rollback(north, south_id)
    with pytest.raises(AccessDenied):
        data.resubmit_rows(north, south_id, {"participants": pd.DataFrame({"participant_id": ["x"]})}, user="x")
    with pytest.raises(AccessDenied):
        data.check_upload(north, [("participants.csv", b"participant_id,programme_id,referral_date\n")],
                          provider="South")
    assert diff(before, snapshot(url)) == {}
    researcher = data.Context(url=url, scope=Scope("researcher"))
    for call in (data.tables, data.uploads, data.quarantine, lambda c: data.rollback(c, north_id)):
        with pytest.raises(AccessDenied):
            call(researcher)


# --------------------------------------------------------------------------- aggregates: small numbers never leave

_COUNT = re.compile(r"^(n|n_.+|.+_n|.*count)$")


def _small_counts(frame: pd.DataFrame) -> list[str]:
    """'table.column = value' for every published count from 1 to 4 (the default threshold is 5)."""
    bad = []
    for col in frame.columns:
        if _COUNT.match(str(col)) and not re.search(r"mean|median", str(col)):
            values = pd.to_numeric(frame[col].astype(object).where(frame[col].notna(), None), errors="coerce")
            for v in values[(values >= 1) & (values < 5)]:
                bad.append(f"{col}={v:g}")
    return bad


def test_small_counts_never_leave_through_the_report_doors(tmp_path: Path) -> None:
    """The report's tables, its workbook and its CSV zip on a small cohort: no count of 1-4 is published."""
    pytest.importorskip("evalkit.report")
    import zipfile

    from evalkit.data_source import example_tables
    from evalkit.report import build_report

    tables = example_tables()
    keep = tables["participants"].groupby("programme_id").head(12)["participant_id"]
    small = {t: (f[f["participant_id"].isin(keep)] if "participant_id" in f.columns else f).reset_index(drop=True)
             for t, f in tables.items()}
    report = build_report(small, models=False, figures=False, generated_at="2025-06-01")
    for name, frame in report.tables.items():
        if "suppressed" in frame.columns:
            assert _small_counts(frame) == [], name
    book = pd.read_excel(report.to_xlsx(tmp_path / "r.xlsx"), sheet_name=None)
    for name, frame in book.items():
        if "suppressed" in frame.columns:
            assert _small_counts(frame) == [], name
    with zipfile.ZipFile(report.to_csv_zip(tmp_path / "r.zip")) as z:
        for member in z.namelist():
            frame = pd.read_csv(z.open(member), encoding="utf-8-sig")
            if "suppressed" in frame.columns:
                assert _small_counts(frame) == [], member
