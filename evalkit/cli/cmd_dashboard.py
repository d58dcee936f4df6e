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
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pandas as pd

from evalkit._resources import resource_dir
from evalkit.canonical import ValidationResult

__all__ = [
    "DB_ENV",
    "EXAMPLE_TABLES",
    "app_path",
    "evalkit_home",
    "example_db_url",
    "load_example",
    "register",
    "run",
    "check_upload",
    "split_raw_by_provider",
]

DB_ENV = "EVALKIT_DB_URL"
EXAMPLE_TABLES = ("programmes", "participants", "group_sessions", "contacts", "measures")
"""Files of the bundled example data that are uploaded (``true_effects.csv`` and the catalog are not)."""


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


def _owners(raw: Mapping[str, pd.DataFrame], stored_programmes: pd.DataFrame | None) -> dict[str, str]:
    owners: dict[str, str] = {}
    for frame in (stored_programmes, raw.get("programmes")):
        if frame is None or not len(frame) or not {"programme_id", "provider"} <= set(frame.columns):
            continue
        ok = frame["programme_id"].notna() & frame["provider"].notna()
        owners.update(zip(frame.loc[ok, "programme_id"].astype(str).str.strip(),
                          frame.loc[ok, "provider"].astype(str).str.strip(), strict=True))
    return owners


def split_raw_by_provider(
    raw: Mapping[str, pd.DataFrame],
    *,
    stored_programmes: pd.DataFrame | None = None,
    fallback: str | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Split raw frames (as read) into one set per provider, by the provider of each row's programme.

    :func:`evalkit.ingest.ingest` stores one provider's rows at a time (ids are
    pseudonymised per provider), so a file holding several providers'
    programmes - such as the bundled example - is split first. The provider of
    a row is its programme's ``provider`` in the upload's own programmes table,
    else in ``stored_programmes``. Rows whose programme is unknown go to
    ``fallback`` (default: the provider with most rows), where validation will
    report them.

    Returns
    -------
    dict[str, dict[str, pandas.DataFrame]]
        Per provider (sorted), the raw frames by table, with the readers' notes
        (``attrs``) kept.
    """
    owners = _owners(raw, stored_programmes)
    who: dict[str, pd.Series] = {}
    for name, frame in raw.items():
        if name == "programmes" and "provider" in frame.columns:
            w = frame["provider"].astype(object).map(lambda v: v.strip() if isinstance(v, str) and v.strip() else None)
        elif "programme_id" in frame.columns:
            w = frame["programme_id"].astype(object).map(
                lambda v: owners.get(v.strip()) if isinstance(v, str) else None)
        else:
            w = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        who[name] = w
    counts: dict[str, int] = {}
    for w in who.values():
        for p, n in w.dropna().value_counts().items():
            counts[str(p)] = counts.get(str(p), 0) + int(n)
    if fallback is None and counts:
        fallback = max(sorted(counts), key=lambda p: counts[p])
    providers = sorted(set(counts) | ({fallback} if fallback else set()))
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for provider in providers:
        part: dict[str, pd.DataFrame] = {}
        for name, frame in raw.items():
            mask = (who[name] == provider).to_numpy(dtype=bool, na_value=False).copy()
            if provider == fallback:
                mask |= who[name].isna().to_numpy()
            if mask.any():
                piece = frame.loc[mask].reset_index(drop=True)
                piece.attrs = dict(frame.attrs)
                part[name] = piece
        if part:
            out[provider] = part
    return out


def check_upload(raw: Mapping[str, pd.DataFrame], store, provider: str, *, secret: bytes | None = None  # noqa: ANN001
                 ) -> ValidationResult:
    """Refuse identifiers, pseudonymise and validate one provider's raw frames against its stored rows.

    The same steps as ``evalkit ingest`` (:mod:`evalkit.cli.cmd_ingest`), so
    that links to rows stored earlier (by pseudonym) are checked.

    Raises
    ------
    IdentifierColumnsError
        A column looks like a direct identifier; nothing should be stored.
    """
    from evalkit.access import Scope
    from evalkit.pseudonymise import load_secret, pseudonymise_frame, refuse_identifiers
    from evalkit.store import load_tables
    from evalkit.validation import validate

    refuse_identifiers(dict(raw))
    secret = load_secret() if secret is None else secret
    pseudo = {}
    for name, frame in raw.items():
        out = pseudonymise_frame(frame, secret=secret, namespace=provider)
        out.attrs = dict(frame.attrs)
        pseudo[name] = out
    existing = load_tables(store, Scope.for_provider(provider))
    return validate(pseudo, existing=existing)


def load_example(
    db_url: str | None = None,
    *,
    folder: str | os.PathLike[str] | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> list:
    """Load the bundled example data into a database once (idempotent); returns the upload summaries made.

    The files are read, split by provider (:func:`split_raw_by_provider`),
    checked (:func:`check_upload`) and ingested through the library exactly as
    an upload is. A provider's part is skipped when an upload of the same bytes
    (SHA-256 of the combined files) by that provider is already stored and not
    rolled back, so running this twice stores nothing the second time.
    """
    import hashlib

    from evalkit.access import Scope
    from evalkit.ingest import ingest
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
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app_path()),
        "--server.port", str(int(args.port)),
        "--server.address", str(args.host),
        "--server.headless", "true" if args.no_browser else "false",
        "--browser.gatherUsageStats", "false",
    ]
    return subprocess.run(cmd, env=env, check=False).returncode
