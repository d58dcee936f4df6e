"""validate makes each table's typed frame in a second thread, as soon as the table's rows are final, with the
same result as making every frame at the end.

``core._Finishing`` runs ``core._finished`` (typed frame, rows set aside with their reasons, absent columns) for a
table in a worker thread once ``core._final_after`` says no later check sets its rows aside or reads its typed
columns, for first uploads of at least ``core.BACKGROUND_ROWS`` rows. These tests set that threshold to 0 and to
more than any upload here, and compare the two results exactly: on generated provider files with errors seeded in
every table, on subsets of the tables (the group sessions' head counts move with the contacts), and on a re-upload
(never in the background).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit.canonical import ValidationResult
from evalkit.generator import generate_programmes
from evalkit.generator._output import write_csv
from evalkit.readers import read_file
from evalkit.schemas import TABLE_NAMES
from evalkit.validation import core, validate

TODAY = "2026-11-28"
_CANONICAL = core._canonical  # as validate uses it, before any test wraps it


@pytest.fixture(scope="module")
def provider_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generator's five tables for 150 participants as CSV files, with errors seeded in each: a repeated
    key, an unknown parent, a bad date, a code out of its list, an item out of range, a head count below the
    attendance."""
    folder = tmp_path_factory.mktemp("finishing")
    tables = {name: frame.copy() for name, frame in generate_programmes(150, seed=3).tables.items()}
    participants, contacts, measures = tables["participants"], tables["contacts"], tables["measures"]
    participants = pd.concat([participants, participants.iloc[[4]]], ignore_index=True)  # a repeated id
    participants["referral_date"] = participants["referral_date"].astype(object)
    participants.loc[7, "referral_date"] = "31/02/2024"  # no such day
    contacts["status"] = contacts["status"].astype(object)
    contacts.loc[3, "status"] = "maybe"  # not a status
    contacts["participant_id"] = contacts["participant_id"].astype(object)
    contacts.loc[11, "participant_id"] = "M-NOBODY"  # no such participant
    measures["item_1"] = measures["item_1"].astype(object)
    measures.loc[5, "item_1"] = 9  # above every instrument's range
    sessions = tables["group_sessions"]
    if len(sessions):
        sessions["head_count"] = sessions["head_count"].astype(object)
        sessions.loc[0, "head_count"] = 0  # fewer than named in the contacts: a warning
    tables.update(participants=participants, contacts=contacts, measures=measures)
    paths = {}
    for name in TABLE_NAMES:
        paths[name] = folder / f"{name}.csv"
        write_csv(tables[name], paths[name])
    return paths


def _raw(paths: dict[str, Path], names: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    raw: dict[str, pd.DataFrame] = {}
    for name in names:
        raw.update(read_file(paths[name], table=name))
    return raw


def _validated(raw: dict[str, pd.DataFrame], *, background: bool, monkeypatch: pytest.MonkeyPatch,
               **kwargs: object) -> tuple[ValidationResult, set[str]]:
    """validate with the worker on (threshold 0) or off, and the names of the threads that made typed frames."""
    monkeypatch.setattr(core, "BACKGROUND_ROWS", 0 if background else 10**12)
    threads: set[str] = set()

    def noting(table: core._Checked, keep: np.ndarray) -> pd.DataFrame:
        threads.add(threading.current_thread().name)
        return _CANONICAL(table, keep)

    monkeypatch.setattr(core, "_canonical", noting)
    return validate(raw, today=TODAY, **kwargs), threads


def _assert_same(got: ValidationResult, expected: ValidationResult) -> None:
    assert list(got.tables) == list(expected.tables)
    assert list(got.quarantine) == list(expected.quarantine)
    assert got.absent_columns == expected.absent_columns
    for name in expected.tables:
        pd.testing.assert_frame_equal(got.tables[name], expected.tables[name], check_exact=True)
        pd.testing.assert_frame_equal(got.quarantine[name], expected.quarantine[name], check_exact=True)
    pd.testing.assert_frame_equal(got.report, expected.report, check_exact=True)


@pytest.mark.parametrize("names", [
    TABLE_NAMES,
    ("participants", "group_sessions", "contacts"),
    ("programmes", "group_sessions"),  # head counts without contacts
    ("participants", "contacts", "measures"),  # contacts without sessions
    ("measures",),
])
def test_frames_made_in_the_background_equal_those_made_at_the_end(provider_files, monkeypatch, names):
    raw = _raw(provider_files, names)
    expected, at_end = _validated(raw, background=False, monkeypatch=monkeypatch)
    got, in_worker = _validated(raw, background=True, monkeypatch=monkeypatch)
    _assert_same(got, expected)
    assert at_end == {threading.current_thread().name}
    assert {name.rsplit("_", 1)[0] for name in in_worker} == {"evalkit-finish"}


def test_the_seeded_errors_are_found(provider_files, monkeypatch):
    got, _ = _validated(_raw(provider_files, TABLE_NAMES), background=True, monkeypatch=monkeypatch)
    rules = set(zip(got.report["table"], got.report["rule"], strict=True))
    assert {("participants", "unique"), ("participants", "type"), ("contacts", "enum"),
            ("contacts", "foreign_key"), ("measures", "item_range")} <= rules
    assert all(len(got.quarantine[name]) for name in ("participants", "contacts", "measures"))
    assert (got.quarantine["contacts"]["reasons"] != "").all()


def test_a_re_upload_makes_its_frames_at_the_end(provider_files, monkeypatch):
    raw = _raw(provider_files, TABLE_NAMES)
    first, _ = _validated(raw, background=False, monkeypatch=monkeypatch)
    got, threads = _validated(raw, background=True, monkeypatch=monkeypatch, existing=first.tables)
    expected, _ = _validated(raw, background=False, monkeypatch=monkeypatch, existing=first.tables)
    _assert_same(got, expected)
    assert threads == {threading.current_thread().name}
    assert (got.report["rule"] == "already_stored").any()


def test_an_error_in_the_worker_reaches_the_caller(provider_files, monkeypatch):
    raw = _raw(provider_files, ("participants", "contacts"))
    monkeypatch.setattr(core, "BACKGROUND_ROWS", 0)

    def failing(table: core._Checked, keep: np.ndarray) -> pd.DataFrame:
        raise MemoryError("no room for the typed frame")

    monkeypatch.setattr(core, "_canonical", failing)
    with pytest.raises(MemoryError, match="no room"):
        validate(raw, today=TODAY)
    assert not any(t.name.startswith("evalkit-finish") for t in threading.enumerate())


@pytest.mark.parametrize(("name", "present", "expected"), [
    ("programmes", TABLE_NAMES, ("programmes",)),
    ("participants", TABLE_NAMES, ("participants",)),
    ("group_sessions", TABLE_NAMES, ()),
    ("group_sessions", ("group_sessions", "measures"), ("group_sessions",)),
    ("contacts", TABLE_NAMES, ("group_sessions", "contacts")),
    ("contacts", ("participants", "contacts"), ("contacts",)),
    ("measures", TABLE_NAMES, ("measures",)),
])
def test_which_tables_are_final_after_each(name, present, expected):
    assert core._final_after(name, dict.fromkeys(present)) == expected
