"""``evalkit rollback UPLOAD_ID``: undo an upload exactly (newest first)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``rollback`` sub-command."""
    p = subparsers.add_parser(
        "rollback",
        help="undo an upload",
        description=(
            "Undo one upload: rows it added are removed, rows it changed get their previous values back, its "
            "quarantined rows are removed. A provider's uploads are rolled back newest first."
        ),
    )
    p.add_argument("upload_id", type=int, metavar="UPLOAD_ID", help="id shown by 'evalkit uploads'")
    p.add_argument("--db", metavar="URL", help="database path or URL (default: EVALKIT_DB_URL or ./evalkit.sqlite)")
    p.add_argument("--provider", metavar="NAME",
                   help="refuse unless the upload is this provider's (default: any upload - admin)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Roll back ``args.upload_id``; 0 done, 1 refused (e.g. not the newest upload); database down: 4 (main)."""
    from evalkit.cli.cmd_uploads import scope_of
    from evalkit.errors import AccessDenied, StoreError, StoreUnavailable
    from evalkit.ingest import rollback
    from evalkit.store import open_store

    try:
        with open_store(args.db) as store:
            summary = rollback(store, args.upload_id, scope=scope_of(args))
    except StoreUnavailable:
        raise  # exit 4, as for every command
    except (StoreError, AccessDenied) as exc:
        sys.stderr.write(f"evalkit rollback: {exc}\n")
        return 1
    sys.stdout.write(f"{summary}.\n")
    return 0
