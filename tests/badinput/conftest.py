"""Fixtures of the bad-input tests: the corpus written once per session, and a seeded database to copy."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import TEST_SECRET

from badinput import corpus


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus, written into a temporary folder (one sub-folder per case)."""
    dest = tmp_path_factory.mktemp("badinput")
    corpus.build(dest)
    return dest


@pytest.fixture(scope="session")
def seed_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file holding the seed uploads of North and South (copy it; never write to it)."""
    from evalkit.access import Scope
    from evalkit.ingest import ingest
    from evalkit.pseudonymise import pseudonymise_frame
    from evalkit.readers import read_files
    from evalkit.store import load_tables, open_store
    from evalkit.validation import validate

    folder = tmp_path_factory.mktemp("seed")
    path = folder / "seed.sqlite"
    secret = TEST_SECRET.encode()
    store = open_store(path)
    try:
        for provider, tables in corpus.seed_csv().items():
            files = []
            for table, text in tables.items():
                f = folder / provider / f"{table}.csv"
                f.parent.mkdir(exist_ok=True)
                f.write_text(text, encoding="utf-8")
                files.append(f)
            raw = {t: pseudonymise_frame(fr, secret=secret, namespace=provider) for t, fr in read_files(files).items()}
            result = validate(raw, existing=load_tables(store, Scope.for_provider(provider)))
            assert result.ok, result.report
            ingest(result, store, provider=provider, file_name="seed", sha256="0" * 64, secret=secret)
    finally:
        store.close()
    with sqlite3.connect(path) as conn:  # everything in the main file, so a plain copy is complete
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture
def fresh_db(seed_db: Path, tmp_path: Path) -> Path:
    """A private copy of the seeded database."""
    path = tmp_path / "store.sqlite"
    shutil.copyfile(seed_db, path)
    return path


@pytest.fixture(scope="session")
def existing_north(seed_db: Path):  # noqa: ANN201
    """The seeded tables as North's upload is validated against them."""
    from evalkit.access import Scope
    from evalkit.store import load_tables, open_store

    with open_store(seed_db) as store:
        return load_tables(store, Scope.for_provider(corpus.PROVIDER))


@pytest.fixture(autouse=True)
def _instruments_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """validate() re-reads and re-checks every instrument file on each call (~40 ms); load them once here."""
    import evalkit.validation.core as core

    monkeypatch.setattr(core, "default_instruments", _registry)


def _registry():  # noqa: ANN202
    global _REGISTRY
    if _REGISTRY is None:
        from evalkit.instruments import load_instruments

        _REGISTRY = load_instruments()
    return _REGISTRY


_REGISTRY = None
