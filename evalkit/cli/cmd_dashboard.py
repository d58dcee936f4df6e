"""``evalkit dashboard [--db URL] [--example] [--port N]``: open the Streamlit dashboard.

The dashboard is a separate Streamlit app (``dashboards/app.py`` in a source
checkout, bundled inside the wheel); this command finds it with
:func:`evalkit._resources.resource_dir` and runs ``python -m streamlit run``
on it, passing the database URL in the environment variable
``EVALKIT_DB_URL``.

``--example`` loads the bundled example data into an embedded SQLite database
in a per-user folder (``$EVALKIT_HOME/example.sqlite``, default
``~/.local/share/evalkit/example.sqlite``) through the normal validation and
ingest path, once: running it again finds the same files already stored and
loads nothing twice.

Stopping the command (``kill PID``, Ctrl-C, closing its terminal: SIGTERM,
SIGINT, SIGHUP) stops the Streamlit server it started too, and waits for it,
so the port is free again when the command has ended.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from evalkit._resources import resource_dir

__all__ = [
    "DB_ENV",
    "EXAMPLE_TABLES",
    "app_path",
    "evalkit_home",
    "example_db_url",
    "load_example",
    "register",
    "run",
    "run_server",
]

DB_ENV = "EVALKIT_DB_URL"
STOP_GRACE_SECONDS = 10.0
"""How long the Streamlit server is given to stop after SIGTERM before it is killed."""
STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGINT", "SIGHUP") if hasattr(signal, name))
"""Signals that stop the command and, with it, the server it started."""
EXAMPLE_TABLES = ("programmes", "participants", "group_sessions", "contacts", "measures")
"""Files of the bundled example data that are uploaded (``true_effects.csv`` and the catalog are not)."""


def __getattr__(name: str) -> object:
    """``check_upload`` and ``split_raw_by_provider`` moved to :mod:`evalkit.ingest`; still importable from here."""
    if name in ("check_upload", "split_raw_by_provider"):
        import evalkit.ingest

        return getattr(evalkit.ingest, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dashboard`` sub-command."""
    parser = subparsers.add_parser(
        "dashboard",
        help="open the dashboard in a web browser",
        description=(
            "Start the evalkit dashboard (Streamlit) on this computer. Without --db it opens the database named "
            "by EVALKIT_DB_URL, else ./evalkit.sqlite. --example loads the bundled example data into a database "
            "in your user folder (once) and opens that."
        ),
    )
    parser.add_argument("--db", metavar="URL", help="database URL or SQLite file path")
    parser.add_argument("--example", action="store_true", help="open a database holding the bundled example data")
    parser.add_argument("--port", type=int, default=8501, help="port to serve on (default 8501)")
    parser.add_argument("--host", default="localhost", help="address to listen on (default localhost only)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    parser.set_defaults(func=run)


def app_path() -> Path:
    """The dashboard's entry point (``dashboards/app.py``, bundled or in the checkout)."""
    path = resource_dir("dashboards") / "app.py"
    if not path.is_file():
        raise FileNotFoundError(f"the dashboard entry point {path} is missing; reinstall evalkit")
    return path


def evalkit_home() -> Path:
    """Per-user data folder: ``EVALKIT_HOME``, else ``$XDG_DATA_HOME/evalkit`` (default ``~/.local/share/evalkit``)."""
    env = os.environ.get("EVALKIT_HOME")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "evalkit"


def example_db_url() -> str:
    """URL of the per-user example database (the folder is created)."""
    home = evalkit_home()
    home.mkdir(parents=True, exist_ok=True)
    return "sqlite:///" + str((home / "example.sqlite").resolve())


def load_example(
    db_url: str | None = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list:
    """Load the bundled example data into a database once (idempotent); returns the upload summaries made.

    The files are read, split by provider (:func:`evalkit.ingest.split_raw_by_provider`),
    checked (:func:`evalkit.ingest.check_upload`) and ingested through the library exactly as
    an upload is. A provider's part is skipped when an upload of the same bytes
    (SHA-256 of the combined files) by that provider is already stored and not
    rolled back, so running this twice stores nothing the second time.
    """
    import hashlib

    from evalkit.access import Scope
    from evalkit.ingest import check_upload, ingest, split_raw_by_provider
    from evalkit.readers import read_files
    from evalkit.store import list_uploads, load_tables, open_store

    src = Path(folder) if folder is not None else resource_dir("examples/data")
    paths = [src / f"{t}.csv" for t in EXAMPLE_TABLES if (src / f"{t}.csv").is_file()]
    if not paths:
        raise FileNotFoundError(f"no example tables (programmes.csv, ...) in {src}")
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode())
        digest.update(p.read_bytes())
    sha = digest.hexdigest()
    store = open_store(db_url or example_db_url())
    try:
        uploads = list_uploads(store)
        live = uploads[(uploads["status"] != "rolled_back") & (uploads["sha256"] == sha)]
        done = set(live["provider"].astype(str))
        if done:  # the programmes file alone says which providers the example holds
            named = read_files([p for p in paths if p.stem == "programmes"]).get("programmes")
            wanted = set() if named is None else set(named["provider"].dropna().astype(str).str.strip())
            if wanted and wanted <= done:
                return []
        if progress:
            progress(0.05, "reading the example files")
        raw = read_files(paths)
        stored = load_tables(store, Scope.admin(), tables=["programmes"])["programmes"]
        parts = split_raw_by_provider(raw, stored_programmes=stored)
        todo = [p for p in parts if p not in done]
        summaries = []
        for i, provider in enumerate(todo):
            if progress:
                progress(0.1 + 0.9 * i / max(len(todo), 1), f"storing {provider}")
            result = check_upload(parts[provider], store, provider)
            summaries.append(ingest(result, store, provider=provider, file_name="evalkit example data",
                                    sha256=sha, user="evalkit dashboard --example"))
        if progress:
            progress(1.0, "done")
        return summaries
    finally:
        store.close()


def run(args: argparse.Namespace) -> int:
    """Prepare the database URL and run Streamlit on the dashboard; returns Streamlit's exit code."""
    if args.example and args.db:
        raise ValueError("give either --db or --example, not both")
    if not 1 <= int(args.port) <= 65535:
        raise ValueError(f"--port must be between 1 and 65535; got {args.port}")
    env = dict(os.environ)
    if args.example:
        url = example_db_url()
        made = load_example(url)
        sys.stderr.write(
            f"evalkit: example data {'loaded into' if made else 'already in'} {url.removeprefix('sqlite:///')}\n")
        env[DB_ENV] = url
    elif args.db:
        from evalkit.store import resolve_db_url

        env[DB_ENV] = resolve_db_url(args.db)
    # Always headless: otherwise Streamlit asks a first-time user for an e-mail address on the terminal before it
    # starts (and stops when there is no terminal to answer). The browser is opened here instead, once it answers.
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.port", str(int(args.port)),
        "--server.address", str(args.host),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
    ]
    done = threading.Event()
    if not args.no_browser:
        host = "localhost" if str(args.host) in ("", "0.0.0.0", "::") else str(args.host)
        threading.Thread(target=open_browser_when_ready, args=(f"http://{host}:{int(args.port)}", done),
                         daemon=True).start()
    try:
        return run_server(cmd, env)
    finally:
        done.set()


def run_server(cmd: list[str], env: dict[str, str], *, grace: float = STOP_GRACE_SECONDS) -> int:
    """Run the server command as a child process until it ends, or until this process is told to stop.

    On SIGTERM, SIGINT or SIGHUP (see :data:`STOP_SIGNALS`) the child is sent
    SIGTERM, given ``grace`` seconds to stop, then killed; the function
    returns once it has ended, so its port is closed.

    Parameters
    ----------
    cmd
        The command line of the server.
    env
        Its environment.
    grace
        Seconds between asking the child to stop and killing it.

    Returns
    -------
    int
        The child's exit code, or ``128 + signal number`` when a signal
        stopped this command (143 for SIGTERM, 130 for SIGINT).
    """
    child = subprocess.Popen(cmd, env=env)  # noqa: S603 - our own interpreter running Streamlit
    received: list[int] = []
    stopping_since: list[float] = []

    def stop(signum: int, _frame: object) -> None:
        received.append(signum)
        if not stopping_since:
            stopping_since.append(time.monotonic())
            with contextlib.suppress(OSError):
                child.terminate()

    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():  # handlers can only be set in the main thread
        for sig in STOP_SIGNALS:
            previous[sig] = signal.signal(sig, stop)
    try:
        while True:
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopping_since and time.monotonic() - stopping_since[0] > grace:
                    child.kill()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]
        if child.poll() is None:  # this process is leaving for another reason: never leave the server behind
            with contextlib.suppress(OSError):
                child.terminate()
            try:
                child.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    return 128 + received[0] if received else code


def open_browser_when_ready(url: str, stop: threading.Event, *, timeout: float = 120.0) -> bool:
    """Open ``url`` in the user's browser once the Streamlit server there answers its health check.

    Polls ``<url>/_stcore/health`` every half second until it answers, ``stop``
    is set (the server ended) or ``timeout`` seconds pass; returns whether the
    browser was opened.
    """
    import urllib.request
    import webbrowser

    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as answer:  # noqa: S310 - our own server
                if answer.status == 200:
                    webbrowser.open(url)
                    return True
        except OSError:
            pass
        stop.wait(0.5)
    return False
