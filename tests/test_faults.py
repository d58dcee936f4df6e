"""Faults: a killed upload, concurrent uploads, a database that is down, locked or drops the connection.

On SQLite and PostgreSQL. The kill test runs ``python -m evalkit ingest`` in a child process with
``EVALKIT_TEST_PAUSE_IN_TX`` set, so the child stops with every row written but nothing committed; it is
killed with SIGKILL there and the database must be exactly as before (every table, bookkeeping included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import sqlalchemy as sa
from badinput.helpers import cli, diff, no_traceback, snapshot, write_tables
from conftest import TEST_SECRET, example_frames

from evalkit.access import Scope
from evalkit.errors import StoreError
from evalkit.store import list_uploads, load_tables, open_store

PAUSE_LINE = "paused inside the transaction"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALKIT_")}
    env.update(EVALKIT_SECRET=TEST_SECRET, PYTHONUNBUFFERED="1", **extra)
    return env


def _ingest_cmd(files: list[Path], provider: str, db: str) -> list[str]:
    return [sys.executable, "-m", "evalkit", "ingest", *map(str, files), "--provider", provider, "--db", db]


def _wait_for_line(proc: subprocess.Popen, needle: str, timeout: float = 90.0) -> list[str]:
    """Read the child's stderr until a line holds ``needle``; returns the lines read."""
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        seen.append(line)
        if needle in line:
            return seen
    proc.kill()
    raise AssertionError(f"child never printed {needle!r}; stderr so far:\n{''.join(seen)}")


def _changed_upload(folder: Path) -> list[Path]:
    """North's files with changed rows (audit + update), new rows (insert) and bad rows (quarantine)."""
    frames = example_frames("North", n=60, seed=3)
    frames["participants"].loc[[0, 1, 2], "deprivation_decile"] = [10, 9, 8]
    frames["measures"].loc[0, "item_1"] = 3.0
    paths = write_tables(folder, frames)
    part = folder / "participants.csv"
    part.write_text(part.read_text() + "N9999,P-N1,2025-02-30,self\n", encoding="utf-8")  # one impossible date
    return paths


@pytest.fixture
def seeded(db_url: str, tmp_path: Path) -> tuple[str, list[Path]]:
    """A database holding one earlier North upload, and the files of a second upload that changes it."""
    from evalkit.cli import main

    first = write_tables(tmp_path / "first", example_frames("North", n=40, seed=3))
    assert main(["ingest", *map(str, first), "--provider", "North", "--db", db_url]) == 0
    return db_url, _changed_upload(tmp_path / "second")


def test_sigkill_inside_the_transaction_changes_nothing(seeded, capsys) -> None:  # noqa: ANN001
    url, files = seeded
    capsys.readouterr()
    before = snapshot(url)
    assert before["uploads"] and before["participants"]
    proc = subprocess.Popen(_ingest_cmd(files, "North", url), env=_env(EVALKIT_TEST_PAUSE_IN_TX="60"),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = _wait_for_line(proc, PAUSE_LINE)
        assert any("stored measures" in ln for ln in lines)  # every table was written before the pause
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert diff(before, snapshot(url)) == {}, "a killed upload left rows behind"
    # the database is usable at once: no stale lock, no half-written upload record; the same upload lands
    code, out, err = cli(capsys, "ingest", *files, "--provider", "North", "--db", url)
    assert code == 0, err
    after = snapshot(url)
    changed = diff(before, after)
    assert set(changed) >= {"participants", "uploads", "audit_history", "quarantine"}
    with open_store(url) as store:
        uploads = list_uploads(store)
    assert list(uploads["status"]) == ["stored", "stored"] and "in_progress" not in set(uploads["status"])


def test_two_concurrent_upload_processes_both_land(db_url: str, tmp_path: Path) -> None:
    """A child process holds the write lock inside its upload while this process uploads too; both land."""
    from evalkit.ingest import ingest
    from evalkit.readers import read_files
    from evalkit.validation import validate

    store = open_store(db_url)  # created before the race, so neither process migrates
    north = write_tables(tmp_path / "north", example_frames("North", n=30, seed=1))
    south = validate(read_files(write_tables(tmp_path / "south", example_frames("South", n=30, seed=2))))
    child = subprocess.Popen(_ingest_cmd(north, "North", db_url), env=_env(EVALKIT_TEST_PAUSE_IN_TX="1"),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for_line(child, PAUSE_LINE)  # the child is inside its transaction, holding the write lock
        started = time.monotonic()
        summary = ingest(south, store, provider="South", file_name="south.csv", sha256="0" * 64)
        waited = time.monotonic() - started
        out, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    no_traceback(out, err)
    assert child.returncode == 0, err
    assert waited > 0.5, "this upload should have queued behind the child's transaction"
    uploads = list_uploads(store)
    tables = load_tables(store, Scope.admin())
    store.close()
    assert list(uploads["provider"]) == ["South", "North"] and set(uploads["status"]) == {"stored"}
    assert summary.upload_id == uploads["upload_id"].max()  # queued: stored after the child committed
    expected = {t: 2 * len(f) for t, f in example_frames("North", n=30).items()}
    assert {t: len(f) for t, f in tables.items()} == expected
    for provider in ("North", "South"):
        assert tables["participants"]["programme_id"].str.startswith(f"P-{provider[0]}").sum() == 60


# --------------------------------------------------------------------------- database down


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def test_database_down_gives_a_clear_error_after_retries(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import evalkit.store._engine as eng

    sleeps: list[float] = []
    monkeypatch.setattr(eng, "time", SimpleNamespace(sleep=sleeps.append))
    url = f"postgresql://evalkit@127.0.0.1:{_closed_port()}/evalkit"
    started = time.monotonic()
    with pytest.raises(StoreError) as info:
        open_store(url)
    assert time.monotonic() - started < 20
    message = str(info.value)
    assert f"127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in message
    assert "Check that it is running and reachable" in message and "nothing was changed" in message
    # connection refused is retried with exponential backoff: 4 waits between 5 attempts, each about twice the last
    assert len(sleeps) == eng._RETRIES - 1
    assert all(0.1 * 2**i <= s <= 0.2 * 2**i for i, s in enumerate(sleeps)), sleeps

    files = write_tables(tmp_path / "f", example_frames("North", n=5))
    # every command: exit 4, "the database is unavailable; nothing was changed; run it again"
    for argv in (
        ("uploads", "--db", url),
        ("quarantine", "--db", url),
        ("rollback", "1", "--db", url),
        ("ingest", *files, "--provider", "North", "--db", url),
        ("outcomes", "--db", url),
        ("summary", "--db", url, "-o", str(tmp_path / "s.json")),
    ):
        code, out, err = cli(capsys, *argv)
        assert code == 4, (argv, err)
        assert "cannot use the database postgresql" in err and "Check that it is running" in err, err


def test_locked_sqlite_gives_a_clear_error_and_changes_nothing(tmp_path: Path, capsys, monkeypatch) -> None:  # noqa: ANN001
    import sqlite3

    import evalkit.store._engine as eng

    monkeypatch.setattr(eng, "_BUSY_TIMEOUT_MS", 50)
    monkeypatch.setattr(eng, "_RETRIES", 2)
    db = tmp_path / "locked.sqlite"
    files = write_tables(tmp_path / "f", example_frames("North", n=5))
    assert cli(capsys, "ingest", *files, "--provider", "North", "--db", db)[0] == 0
    again = write_tables(tmp_path / "g", example_frames("North", n=8, seed=4))
    before = snapshot(str(db))
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another program holds the database
    try:
        code, out, err = cli(capsys, "ingest", *again, "--provider", "North", "--db", db)
        assert code == 4
        assert f"the database sqlite:///{db} is locked by another program (tried 2 times)" in err
        assert "Wait for the other upload or program to finish and try again; nothing was changed" in err
        code, _, err = cli(capsys, "rollback", "1", "--db", db)
        assert code == 4 and "is locked by another program" in err
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert diff(before, snapshot(str(db))) == {}
    assert cli(capsys, "ingest", *again, "--provider", "North", "--db", db)[0] == 0  # lock gone: it lands


def test_a_lock_released_while_retrying_lets_the_upload_land(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """Retry with backoff: the lock is held past the busy timeout, then released; the next attempt succeeds."""
    import sqlite3

    import evalkit.store._engine as eng
    from evalkit.ingest import ingest, sha256_file
    from evalkit.readers import read_files
    from evalkit.validation import validate

    monkeypatch.setattr(eng, "_BUSY_TIMEOUT_MS", 100)
    db = tmp_path / "busy.sqlite"
    store = open_store(db)
    files = write_tables(tmp_path / "f", example_frames("North", n=5))
    result = validate(read_files(files))
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    # released during the first back-off wait (not after a fixed time, which a loaded machine may spend
    # before the upload even asks for the lock)
    releaser = threading.Timer(0.05, lambda: (other.execute("ROLLBACK"), other.close()))
    waits: list[float] = []

    def _sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            releaser.start()
            releaser.join()
        time.sleep(seconds)

    monkeypatch.setattr(eng, "time", SimpleNamespace(sleep=_sleep))
    try:
        summary = ingest(result, store, provider="North", file_name="f", sha256=sha256_file(files[0]))
    finally:
        if not releaser.is_alive() and not waits:
            other.close()
    assert waits, "the upload should have waited for the lock and retried"
    assert summary.total_inserted == sum(len(f) for f in result.tables.values())
    assert len(list_uploads(store)) == 1
    store.close()


def test_a_retried_transaction_is_applied_exactly_once(store) -> None:  # noqa: ANN001
    """A transient error inside the transaction re-runs it from a clean rollback: nothing is applied twice."""
    from sqlalchemy import exc

    from evalkit.store import _tables as T

    calls = []

    def work(conn: sa.Connection) -> int:
        calls.append(1)
        conn.execute(T.store_meta.insert().values(key=f"k{len(calls)}", value="v"))
        conn.execute(T.store_meta.insert().values(key="once", value=str(len(calls))))
        if len(calls) == 1:
            raise exc.OperationalError("INSERT", {}, Exception("database is locked"))
        return len(calls)

    assert store.transaction(work) == 2
    with store.engine.connect() as conn:
        rows = dict(conn.execute(sa.select(T.store_meta.c.key, T.store_meta.c.value)).fetchall())
    assert rows.get("once") == "2" and "k1" not in rows and rows.get("k2") == "v"
    # an error that is not transient (a constraint) is not retried
    calls.clear()

    def clash(conn: sa.Connection) -> None:
        calls.append(1)
        conn.execute(T.store_meta.insert().values(key="once", value="again"))

    with pytest.raises(StoreError, match="refused the change"):
        store.transaction(clash)
    assert calls == [1]


@pytest.mark.postgres
def test_postgresql_connection_killed_mid_upload_is_retried_once(pg_url: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """The server ends the upload's connection inside its transaction; the retry stores it exactly once."""
    from evalkit.ingest import ingest
    from evalkit.readers import read_files
    from evalkit.validation import validate

    app = f"evk_fault_{uuid.uuid4().hex[:10]}"
    url = f"{pg_url}&application_name={app}"
    store = open_store(url)
    files = write_tables(tmp_path / "f", example_frames("North", n=30))
    result = validate(read_files(files))
    monkeypatch.setenv("EVALKIT_TEST_PAUSE_IN_TX", "1.5")
    done: dict[str, object] = {}

    def upload() -> None:
        try:
            done["summary"] = ingest(result, store, provider="North", file_name="f.csv", sha256="0" * 64)
        except BaseException as exc:  # noqa: BLE001
            done["error"] = exc

    worker = threading.Thread(target=upload)
    worker.start()
    killer = sa.create_engine(pg_url.split("?")[0])
    try:
        killed = 0
        deadline = time.monotonic() + 30
        while not killed and time.monotonic() < deadline:
            time.sleep(0.2)
            with killer.connect() as conn:
                killed = conn.execute(sa.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = :app AND state = 'idle in transaction'"), {"app": app}).scalar()
        assert killed == 1
    finally:
        worker.join(60)
        killer.dispose()
    assert "error" not in done, done.get("error")
    summary = done["summary"]
    uploads = list_uploads(store)
    assert len(uploads) == 1 and uploads["upload_id"].iloc[0] == summary.upload_id  # one upload, not two
    loaded = load_tables(store, Scope.admin())
    assert {t: len(f) for t, f in loaded.items()} == {t: len(f) for t, f in result.tables.items()}
    store.close()


def test_random_unreachable_urls_never_traceback(capsys, monkeypatch) -> None:  # noqa: ANN001
    """Database arguments that are not databases: a message and exit 2 (4 for a server that is not there), never a traceback."""
    import evalkit.store._engine as eng

    monkeypatch.setattr(eng, "time", SimpleNamespace(sleep=lambda s: None))
    rng = np.random.default_rng(0)
    for url in ("mysql://x@localhost/db", "not a url://", "sqlite:////nonexistent-dir/x.sqlite",
                "postgresql://:@/", f"postgresql://u@127.0.0.1:{int(rng.integers(1, 1024))}/d?connect_timeout=1"):
        code, out, err = cli(capsys, "uploads", "--db", url)
        assert code == (4 if url.startswith("postgresql") else 2), (url, err)  # no server there: 4
        assert err.startswith("evalkit uploads:") and len(err) < 600, err
