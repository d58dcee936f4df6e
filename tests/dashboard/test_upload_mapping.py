"""Upload page, mapping step: a provider's own spreadsheet is shown mapped and previewed before anything is stored.

A generated messy one-row-per-mother workbook (titles, two-row header, typed codes, text dates, fake
identifying columns) is uploaded: the page shows the library's proposal and a preview, and stores nothing
until 'Store these rows' is pressed; then the rows are stored and no identifying value reaches the database.
"""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboards import data
from dashboards.auth_ui import User
from evalkit import auth
from evalkit.access import Scope
from evalkit.generator import generate_programmes, write_wide_workbook
from evalkit.ingest import check_upload, ingest, split_raw_by_provider
from evalkit.mapping_proposal import propose_mapping
from evalkit.readers import read_files
from evalkit.store import data_version, list_uploads, load_tables, open_store, quarantine_rows

from .conftest import APP, TIMEOUT, assert_clean, frame_with, frames, texts

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PLANTED = "Zenobia Plantedname-Quux"  # a fake mother's name written into the workbook; must never be stored
NORTH = "Northside Mums Charity"  # provider of P-GROUP in the generated data


def _store_programmes(url: str, programmes: pd.DataFrame, folder: Path) -> None:
    """The programme register stored first (a one-row-per-mother workbook has no programmes table)."""
    path = folder / "programmes.csv"
    programmes.to_csv(path, index=False)
    store = open_store(url)
    try:
        for provider, part in split_raw_by_provider(read_files([path])).items():
            ingest(check_upload(part, store, provider), store, provider=provider, file_name="programmes.csv",
                   sha256="0" * 64, user="test")
    finally:
        store.close()


def _plant_name(book: Path) -> None:
    """Replace the first mother's name in each sheet by PLANTED."""
    wb = openpyxl.load_workbook(book)
    for ws in wb.worksheets:
        head = next(((c.row, c.column) for row in ws.iter_rows(max_row=8) for c in row if c.value == "Mum's name"),
                    None)
        if head is None:
            continue
        for r in range(head[0] + 1, ws.max_row + 1):
            if isinstance(ws.cell(r, head[1]).value, str) and ws.cell(r, head[1]).value.strip():
                ws.cell(r, head[1]).value = PLANTED
                break
    wb.save(book)


def _workbook(folder: Path, *, n: int, n_programmes: int, seed: int) -> tuple[Path, object]:
    gen = generate_programmes(n, seed=seed, n_programmes=n_programmes)
    book = write_wide_workbook(gen, folder / "referrals.xlsx", messy=True, seed=seed)
    _plant_name(book)
    return book, gen


def _db_bytes(url: str) -> bytes:
    path = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.is_file())


def _state(url: str) -> tuple[str, int]:
    store = open_store(url)
    try:
        return data_version(store), len(list_uploads(store))
    finally:
        store.close()


def _page(at: AppTest) -> AppTest:
    at.run()
    at.switch_page("views/upload.py")
    at.run()
    return at


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = "sqlite:///" + str(tmp_path / "fresh.sqlite")
    monkeypatch.setenv("EVALKIT_DB_URL", url)
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))
    return url


def test_messy_wide_workbook_is_mapped_previewed_then_stored(env: str, tmp_path: Path) -> None:
    url = env
    book, gen = _workbook(tmp_path, n=60, n_programmes=4, seed=5)
    _store_programmes(url, gen.programmes, tmp_path)
    before = _state(url)
    at = _page(AppTest.from_file(APP, default_timeout=TIMEOUT))  # single-user mode: admin
    at.file_uploader(key="ek_up_files").set_value([("referrals.xlsx", book.read_bytes(), XLSX)])
    at.run()
    assert_clean(at)
    shown = texts(at)
    assert "Check how your columns will be read" in shown and "one row per mother" in shown
    assert "ek_up_check" not in [b.key for b in at.button]  # the mapping step replaces 'Check files'

    # the proposal, as the library makes it
    proposal = propose_mapping(book)
    columns = frame_with(at, "header", "role", "target")
    pd.testing.assert_frame_equal(columns.reset_index(drop=True), proposal.columns.reset_index(drop=True),
                                  check_dtype=False)
    ident = frame_with(at, "header", "why")
    assert {"Mum's name", "NHS no", "Postcode", "Phone", "Email", "Mum's DOB"} <= set(ident["header"])
    assert dict(zip(ident["header"], ident["why"], strict=True)) == proposal.identifying_columns
    dates = frame_with(at, "header", "format", "status", "evidence")
    assert set(dates["header"]) == set(proposal.date_formats) and "DD/MM/YYYY" in set(dates["format"])
    labels = [b.proto.label for b in at.get("download_button")]
    assert "Download this mapping (JSON)" in labels
    assert "Use a mapping you saved last time (optional)" in [u.proto.label for u in at.get("file_uploader")]

    # the preview: canonical columns, mapped codes, no identifying column or value, ids replaced
    part = frame_with(at, "participant_id", "referral_date", "referral_source")
    scores = frame_with(at, "participant_id", "instrument", "timepoint", "total")
    assert len(part) == 10 * len(gen.programmes)  # the first 10 rows of each programme's sheet
    assert part["participant_id"].str.fullmatch(r"\(pseudonym \d+\)").all()
    assert set(part["referral_source"].dropna()) <= {
        "self", "midwife", "health_visitor", "gp", "perinatal_mental_health_team", "talking_therapies",
        "other_health_professional", "social_care", "other_organisation", "friend_or_family", "other"}
    assert set(scores["instrument"]) <= {"epds", "wemwbs", "swemwbs", "phq9", "gad7", "qpr15", "core10", "ucla3"}
    for f in frames(at):
        assert not f.astype(str).apply(lambda c: c.str.contains(PLANTED, regex=False)).any().any()

    # nothing stored before the button
    assert _state(url) == before
    at.run()  # re-running the page (any widget change) stores nothing either
    assert _state(url) == before

    at.button(key="ek_up_map_store").click()
    at.run()
    assert_clean(at)
    assert "Stored." in texts(at) and "stored with its mapping" in texts(at)
    version, n_uploads = _state(url)
    assert version != before[0] and n_uploads == before[1] + len(gen.programmes)  # one upload per provider
    store = open_store(url)
    try:
        hist = list_uploads(store)
        stored = load_tables(store, Scope.admin())
        aside = quarantine_rows(store)
    finally:
        store.close()
    new = hist[hist["file_name"] == "referrals.xlsx"]
    assert set(new["provider"]) == set(gen.programmes["provider"]) and set(new["status"]) == {"stored"}
    n_aside = len(aside.get("participants", []))
    assert len(stored["participants"]) + n_aside == len(gen.participants)
    assert len(stored["participants"]) > 0.9 * len(gen.participants) and len(stored["measures"]) > 0
    assert stored["participants"]["participant_id"].str.fullmatch(r"p_[0-9a-f]{16}").all()

    # identifying columns never reach the database file
    raw = _db_bytes(url)
    assert PLANTED.encode() not in raw
    wb = openpyxl.load_workbook(book, read_only=True)
    try:
        values = [v for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row]
    finally:
        wb.close()
    for pattern in ("@example.invalid", "ZZ99 ", "07700 900"):
        planted = {str(v) for v in values if isinstance(v, str) and pattern in v}
        assert planted, pattern  # the generator did write such values
        for v in planted:
            assert v.encode() not in raw, v
    nhs = {str(v) for v in values if isinstance(v, str) and v.startswith("999 ")}
    assert nhs and not any(v.encode() in raw or v.replace(" ", "").encode() in raw for v in nhs)

    # the same file again: the step says it was stored, and offers no second store button
    at.run()
    assert "ek_up_map_store" not in [b.key for b in at.button]


def test_provider_reuses_a_saved_mapping(env: str, tmp_path: Path) -> None:
    url = env
    book, gen = _workbook(tmp_path, n=30, n_programmes=1, seed=8)
    assert list(gen.programmes["provider"]) == [NORTH]
    _store_programmes(url, gen.programmes, tmp_path)
    saved = json.loads(propose_mapping(book).save(tmp_path / "mapping.json").read_text(encoding="utf-8"))
    saved["columns"]["Ethnicity"] = None  # last month the provider chose not to send ethnicity
    body = json.dumps(saved).encode()
    auth.create_account("north", "a long enough password", "provider", providers=[NORTH])
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["ek_user"] = User("north", "provider", (NORTH,), (), "password")
    _page(at)
    at.file_uploader(key="ek_up_files").set_value(("referrals.xlsx", book.read_bytes(), XLSX))
    at.run()
    assert not at.exception
    # one sheet, no programme column: the library does not guess the programme, so the page asks for it
    assert [e.value for e in at.error if "Not ready" in e.value and "programme_id" in e.value], at.error
    assert at.button(key="ek_up_map_store").disabled
    programme = next(s for s in at.selectbox if s.label == "Programme of every row")
    assert programme.key.startswith("ek_up_map_programme_")  # a choice for this file only
    assert len(programme.options) == 2 and programme.options[1].startswith("P-GROUP")  # the provider's own
    programme.set_value("P-GROUP")
    at.run()
    assert_clean(at)
    assert not at.button(key="ek_up_map_store").disabled
    cols = frame_with(at, "header", "role", "target")
    assert set(cols.loc[cols["header"] == "Ethnicity", "role"]) == {"participant"}
    at.file_uploader(key="ek_up_map_file").set_value(("north-mapping.json", body, "application/json"))
    at.run()
    assert_clean(at)
    cols = frame_with(at, "header", "role", "target")
    assert set(cols.loc[cols["header"] == "Ethnicity", "role"]) == {"skip"}
    part = frame_with(at, "participant_id", "referral_date", "referral_source")
    assert "ethnicity" not in part.columns
    assert part["participant_id"].str.fullmatch(r"p_[0-9a-f]{16}").all()  # the provider's real pseudonyms
    assert _state(url)[1] == 1  # only the programme register so far

    at.button(key="ek_up_map_store").click()
    at.run()
    assert_clean(at)
    store = open_store(url)
    try:
        hist = list_uploads(store)
        stored = load_tables(store, Scope.for_provider(NORTH))["participants"]
    finally:
        store.close()
    assert list(hist["provider"]) == [NORTH, NORTH]
    assert stored["ethnicity"].isna().all()
    assert set(part["participant_id"]) <= set(stored["participant_id"])  # the preview showed them as stored
    assert PLANTED.encode() not in _db_bytes(url)


def test_a_bad_saved_mapping_is_said_and_ignored(env: str, tmp_path: Path) -> None:
    book, gen = _workbook(tmp_path, n=20, n_programmes=1, seed=2)
    _store_programmes(env, gen.programmes, tmp_path)
    at = _page(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.file_uploader(key="ek_up_files").set_value(("referrals.xlsx", book.read_bytes(), XLSX))
    at.run()
    at.file_uploader(key="ek_up_map_file").set_value(("broken.json", b"{not json", "application/json"))
    at.run()
    assert not at.exception
    assert any("saved mapping could not be used" in e.value for e in at.error), [e.value for e in at.error]
    assert "Check how your columns will be read" in texts(at)  # the proposal without it is still shown


def test_canonical_files_skip_the_mapping_step(env: str) -> None:
    at = _page(AppTest.from_file(APP, default_timeout=TIMEOUT))
    at.file_uploader(key="ek_up_files").set_value(
        ("programmes.csv", b"programme_id,name,provider,format,mode,delivered_by\n"
                           b"P-T1,Test group,Test Charity,group,in_person,volunteer_peers\n", "text/csv"))
    at.run()
    assert_clean(at)
    assert "Check how your columns will be read" not in texts(at)
    assert "ek_up_check" in [b.key for b in at.button]


def test_upload_mapping_decides_when_a_mapping_is_needed(tmp_path: Path) -> None:
    """The data layer: one spreadsheet with its own headers gets a proposal; canonical files and sets do not."""
    book, _ = _workbook(tmp_path, n=20, n_programmes=1, seed=3)
    wide = data.upload_mapping([("r.xlsx", book.read_bytes())])
    assert wide is not None and wide.layout == "wide" and wide.missing_required == ("programme_id",)
    assert data.upload_mapping([("r.xlsx", book.read_bytes())], programme_id="P-GROUP").ok
    canonical = b"participant_id,programme_id,referral_date\nA1,P-T1,2025-01-06\n"
    assert data.upload_mapping([("participants.csv", canonical)]) is None
    assert data.upload_mapping([("participants.csv", canonical), ("r.xlsx", book.read_bytes())]) is None
    assert data.upload_mapping([("measures.json", b"{}")]) is None
    own = b"Ref no,Programme,Date referred,Referred by\nA1,P-T1,06/01/2025,HV\n"
    table = data.upload_mapping([("referrals.csv", own)])
    assert table is not None and table.layout == "table"
    assert json.loads(data.mapping_json(table))["kind"] == "columns"
    with pytest.raises(ValueError, match="REDCap"):
        data.load_saved_mapping("r.json", json.dumps({"kind": "redcap", "participant_id": "record_id"}).encode())


def test_the_preview_writes_no_new_key_for_a_database_holding_uploads(env: str, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """With no secret configured, previewing real pseudonyms for a database that holds uploads is refused (as an
    upload would be) and no key file appears: a new key's pseudonyms could never match the stored ones."""
    from evalkit.errors import StoreError
    from evalkit.pseudonymise import default_secret_path

    book, gen = _workbook(tmp_path, n=20, n_programmes=2, seed=3)
    _store_programmes(env, gen.programmes, tmp_path)
    monkeypatch.delenv("EVALKIT_SECRET", raising=False)
    key = tmp_path / "no-key-here"
    monkeypatch.setenv("EVALKIT_SECRET_FILE", str(key))
    ctx = data.Context(url=env, scope=Scope.admin())
    with pytest.raises(StoreError, match="no pseudonymisation secret"):
        data.mapping_preview(ctx, propose_mapping(book), provider=NORTH)
    assert not key.exists() and not default_secret_path().exists()
    assert set(data.mapping_preview(ctx, propose_mapping(book), provider=None))  # placeholder ids need no key
