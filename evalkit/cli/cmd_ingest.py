"""``evalkit ingest FILE... --provider NAME`` and ``evalkit resubmit FILE... --upload ID --provider NAME``.

Reads the files (merged table by table), refuses them if they hold direct
identifiers, pseudonymises ids, validates them against the stored data, and
stores them as **one upload** (one transaction): valid rows are upserted,
invalid rows are quarantined for correction.

Exit codes: 0 stored (possibly with quarantined rows, or with workbook sheets
that could not be matched to a table and were not read - both said clearly); 1 nothing
could be stored (identifiers, every row invalid, another provider's rows, the
database failed); 2 usage error or unreadable file.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from evalkit.cli.text_table import counts_by_table
from evalkit.errors import StoreError, StoreUnavailable
from evalkit.schemas import TABLE_NAMES

__all__ = ["register", "run", "run_resubmit"]


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="provider files (CSV, .xlsx, REDCap, FHIR JSON)")
    parser.add_argument("--provider", required=True, metavar="NAME",
                        help="organisation uploading (must match programmes.provider)")
    parser.add_argument("--db", metavar="URL", help="database path or URL (default: EVALKIT_DB_URL or ./evalkit.sqlite)")
    parser.add_argument("--user", metavar="NAME", help="who is uploading (default: the login name)")
    parser.add_argument("--table", choices=TABLE_NAMES, help="table the file(s) hold, if their names do not say")
    parser.add_argument("--sheet", help="read only this sheet of a workbook")
    parser.add_argument("--mapping", metavar="FILE", help="column mapping or REDCap mapping (JSON)")
    parser.add_argument("--report", metavar="OUT",
                        help="write every problem the checks found (errors and warnings, including rows already "
                             "stored) to OUT.csv or OUT.xlsx, as 'evalkit validate --report' does")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``ingest`` and ``resubmit`` sub-commands."""
    p = subparsers.add_parser(
        "ingest",
        help="validate providers' files and store them (one upload)",
        description=(
            "Read, check and store providers' files as one upload. Valid rows are added or updated by their "
            "natural key (re-uploading a file changes nothing); invalid rows are quarantined for correction "
            "(see 'evalkit quarantine'). Participant ids are pseudonymised; files holding names, NHS numbers, "
            "contact details, postcodes or dates of birth are refused. Exit code 0: stored (perhaps with "
            "quarantined rows); 1: nothing could be stored; 2: usage error or unreadable file."
        ),
    )
    _add_common(p)
    p.set_defaults(func=run)
    r = subparsers.add_parser(
        "resubmit",
        help="store corrected quarantined rows of an earlier upload",
        description=(
            "Store the corrected export of an upload's quarantined rows ('evalkit quarantine --upload ID -o "
            "FILE'): the corrected rows are checked and stored as a new upload, and the earlier upload's open "
            "quarantine entries are marked resolved (rows still wrong are quarantined again). Re-submit the "
            "whole corrected file."
        ),
    )
    _add_common(r)
    r.add_argument("--upload", type=int, required=True, metavar="ID", help="upload whose quarantined rows these correct")
    r.set_defaults(func=run_resubmit)


def _err(message: str) -> None:
    sys.stderr.write(message.rstrip() + "\n")


def _progress(fraction: float, message: str) -> None:
    _err(f"evalkit ingest: {fraction:4.0%} {message}")


def run(args: argparse.Namespace) -> int:
    """Run ``evalkit ingest``; returns the exit code."""
    return _ingest(args, resolves=None)


def run_resubmit(args: argparse.Namespace) -> int:
    """Run ``evalkit resubmit``; returns the exit code."""
    return _ingest(args, resolves=args.upload)


def _ingest(args: argparse.Namespace, *, resolves: int | None) -> int:
    from evalkit.ingest import ProviderConflict, check_upload, ingest, secret_for_store, sha256_file
    from evalkit.pseudonymise import IdentifierColumnsError
    from evalkit.readers import load_mapping, read_files
    from evalkit.store import open_store

    provider = args.provider.strip()
    if not provider:
        raise ValueError("--provider must not be blank")
    paths = [Path(f) for f in args.files]
    report_path = Path(args.report) if getattr(args, "report", None) else None
    if report_path is not None and report_path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValueError(f"--report must end in .csv or .xlsx; got {report_path.name!r}")
    for p in paths:
        if not p.is_file():
            raise FileNotFoundError(f"{p}: no such file")
    mapping = load_mapping(args.mapping) if args.mapping else None
    _err(f"evalkit ingest: reading {len(paths)} file{'s' if len(paths) > 1 else ''} ...")
    raw = read_files(paths, table=args.table, sheet=args.sheet, mapping=mapping)
    n_rows = sum(len(f) for f in raw.values())
    if n_rows == 0:
        _err("evalkit ingest: the files hold no data rows; nothing was stored.")
        return 1
    store = open_store(args.db)  # down or locked: StoreUnavailable, exit 4 (evalkit.cli.main)
    try:
        # the deployment's secret, refused before the rows are checked when it cannot match the stored ids (a
        # missing key is not replaced by a new one for a database that holds uploads)
        secret = secret_for_store(store)
        _err(f"evalkit ingest: checking {n_rows:,} rows ...")
        # the same steps as the dashboard's Upload page: refuse identifiers (IdentifierColumnsError, caught
        # below), pseudonymise, validate against the provider's stored rows
        result = check_upload(raw, store, provider, secret=secret)
        del raw  # the files as read are read no more: not held under the ingest
        if report_path is not None:
            from evalkit.validation import report_to_csv, report_to_xlsx

            (report_to_xlsx if report_path.suffix.lower() == ".xlsx" else report_to_csv)(result.report, report_path)
        found = result.report[result.report["rule"] == "identifier_column"]
        if len(found):
            cols = ", ".join(sorted({f"{t}.{c}" for t, c in zip(found["table"], found["column"], strict=True)}))
            _err(f"evalkit ingest: upload refused - it holds columns that look like direct identifiers ({cols}), "
                 "which evalkit never stores. Remove these columns and upload again. Nothing was stored.")
            return 1
        file_name = "; ".join(p.name for p in paths)
        sha = ",".join(sha256_file(p) for p in paths)
        user = args.user or os.environ.get("EVALKIT_USER") or _login()
        summary = ingest(result, store, provider=provider, file_name=file_name, sha256=sha, user=user,
                         secret=secret, progress=_progress, resolves=resolves)
    except StoreUnavailable:
        raise  # exit 4, as for every command
    except (IdentifierColumnsError, ProviderConflict, StoreError) as exc:
        _err(f"evalkit ingest: {exc}")
        return 1
    finally:
        store.close()
    _print_summary(summary, result.report, report_path)
    if summary.total_accepted == 0:
        _err(f"evalkit ingest: no row could be stored: all {summary.total_quarantined:,} rows have errors and were "
             f"quarantined (upload {summary.upload_id}). Export them with 'evalkit quarantine --upload "
             f"{summary.upload_id} -o corrections.xlsx', correct them, and re-submit.")
        return 1
    return 0


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _print_summary(summary, report, report_path: Path | None) -> None:  # noqa: ANN001
    """Print what was stored and quarantined, what was not read at all (``unknown_sheet``: a sheet that matched no
    table; ``unclosed_quote``: lines an unclosed quote mark made one CSV cell swallow) and what the warnings say."""
    w = sys.stdout.write
    frame = summary.to_frame()
    done = "stored" if summary.total_accepted else "recorded, but no row of it could be stored,"
    w(f"Upload {summary.upload_id} {done} for {summary.provider} ({summary.file_name}).\n\n")
    w(counts_by_table(frame, {"accepted": "accepted", "inserted": "new", "updated": "updated",
                              "unchanged": "unchanged", "quarantined": "quarantined"}))
    if summary.resolved:
        w(f"\n{summary.resolved:,} quarantined row(s) of the earlier upload marked resolved.\n")
    if summary.total_quarantined:
        w(f"\nWARNING: {summary.total_quarantined:,} row(s) had errors and were QUARANTINED, not stored. Export them "
          f"with 'evalkit quarantine --upload {summary.upload_id} -o corrections.xlsx', correct them and re-submit "
          f"with 'evalkit resubmit corrections.xlsx --upload {summary.upload_id} --provider \"{summary.provider}\"'.\n")
    unread = report[report["rule"] == "unknown_sheet"]
    for file_, message in zip(unread["file"], unread["message"], strict=True):
        w(f"\nNOT READ: {file_}: {message}\n")
    swallowed = report[report["rule"] == "unclosed_quote"]
    for file_, message in zip(swallowed["file"], swallowed["message"], strict=True):
        w(f"\nROWS SWALLOWED (not read): {file_}: {message}\n")
    warnings = report[report["severity"] == "warning"]
    if len(warnings):
        w("\n" + _warnings_text(warnings, summary, report_path) + "\n")
    if len(unread):
        w(f"\n{len(unread):,} sheet(s) could not be matched to a table and were not read (see NOT READ above), "
          "so not every row of the files was stored.\n")
    elif not summary.total_quarantined:
        w("\nAll rows were stored.\n")


def _warnings_text(warnings, summary, report_path: Path | None) -> str:  # noqa: ANN001
    """What the check's warnings say: 'already stored' rows as the table's updated/unchanged counts, the others
    as a number to check, and where every warning is listed."""
    stored = int((warnings["rule"] == "already_stored").sum())
    others = len(warnings) - stored
    parts = []
    if stored:
        again = summary.total_updated + summary.total_unchanged
        parts.append(f"Rows already stored: {again:,} row(s) of this upload have a key that was already stored "
                     f"(the 'updated' and 'unchanged' columns above); {summary.total_updated:,} were updated and "
                     f"{summary.total_unchanged:,} were left as they were because nothing in them changed.")
    if others:
        parts.append(f"{others:,} other warning(s): the rows were stored, but please check them.")
    if report_path is not None:
        parts.append(f"Every warning is listed in {report_path}.")
    elif others or summary.total_updated:
        parts.append("To list every warning with its file, row and column, give --report problems.csv (or .xlsx) "
                     "when ingesting; 'evalkit validate FILE... --report problems.csv' lists the same without "
                     "storing anything, except the rows already stored (it does not read the database).")
    return "\n".join(parts)
