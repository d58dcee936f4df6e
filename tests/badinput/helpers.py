"""Helpers shared by the bad-input, fault, access, limits and safe-export tests.

* :func:`snapshot` - every row of every table of a database (bookkeeping tables included), to prove
  "the store is unchanged";
* :func:`cli` - run the ``evalkit`` CLI in-process and check it printed no traceback;
* :func:`write_tables` - canonical frames written as the CSV files a provider would upload.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

TRACEBACK = re.compile(r'Traceback \(most recent call last\)|File "[^"]+", line \d+')


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table in the database at ``url`` (sorted), keyed by table name."""
    from evalkit.store import resolve_db_url

    resolved = resolve_db_url(url)
    if resolved.startswith("sqlite:///"):  # the sqlite3 module directly: ten times quicker than an engine
        import sqlite3

        conn = sqlite3.connect(resolved.removeprefix("sqlite:///"))
        try:
            names = [r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]
            return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
        finally:
            conn.close()
    engine = sa.create_engine(resolved)
    try:
        with engine.connect() as conn:
            names = sorted(sa.inspect(conn).get_table_names())
            out = {}
            for name in names:
                rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).fetchall()
                out[name] = sorted((tuple(r) for r in rows), key=repr)
            return out
    finally:
        engine.dispose()


def diff(before: Mapping[str, list[tuple]], after: Mapping[str, list[tuple]]) -> dict[str, tuple[int, int]]:
    """Tables whose rows changed: ``{table: (rows removed, rows added)}``."""
    out = {}
    for name in sorted(set(before) | set(after)):
        a, b = before.get(name, []), after.get(name, [])
        if a != b:
            sa_, sb = set(map(repr, a)), set(map(repr, b))
            out[name] = (len(sa_ - sb), len(sb - sa_))
    return out


def no_traceback(*texts: str) -> None:
    """Fail if any text holds a Python traceback or a ``File "...", line N`` frame."""
    for text in texts:
        assert "Traceback" not in text, text[-2000:]
        assert not TRACEBACK.search(text), text[-2000:]


class DeadlineExceeded(BaseException):
    """Raised by :func:`deadline` (a BaseException, so no ``except Exception`` in the code under test hides it)."""


@contextmanager
def deadline(seconds: float, what: str = "this") -> Iterator[None]:
    """Fail if the block runs longer than ``seconds`` (SIGALRM; main thread only): a small file must not
    keep a worker busy for minutes."""
    def expired(signum: int, frame: object) -> None:
        raise DeadlineExceeded(f"{what} took more than {seconds:g} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def cli_raw(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    """Run ``evalkit *argv`` in this process: (exit code, stdout, stderr as printed); never a traceback."""
    from evalkit.cli import main

    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    no_traceback(out, err)
    return code, out, err


def cli(capsys, *argv: str) -> tuple[int, str, str]:  # noqa: ANN001
    """Run ``evalkit *argv`` in this process: (exit code, stdout, stderr with line wraps joined)."""
    code, out, err = cli_raw(capsys, *argv)
    return code, out, " ".join(err.split())


def write_tables(folder: Path, frames: Mapping[str, pd.DataFrame], *, raw_ids: bool = True) -> list[Path]:
    """Write canonical frames (e.g. ``conftest.example_frames``) as provider CSV files, parents first."""
    from evalkit.schemas import TABLE_NAMES

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for table in TABLE_NAMES:
        if table not in frames:
            continue
        out = frames[table].drop(columns=["source_file", "source_sheet", "source_row"], errors="ignore").copy()
        for c in out.columns:
            if out[c].dtype.kind == "M":
                out[c] = out[c].dt.strftime("%Y-%m-%d")
        path = folder / f"{table}.csv"
        out.to_csv(path, index=False)
        paths.append(path)
    return paths
