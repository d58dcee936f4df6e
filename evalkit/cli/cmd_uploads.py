"""``evalkit uploads`` (upload history) and ``evalkit quarantine`` (list or export quarantined rows)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from evalkit.cli.text_table import Column, count_cells, text_table

__all__ = ["register", "run", "run_quarantine"]

_DB_HELP = "database path or URL (default: EVALKIT_DB_URL or ./evalkit.sqlite)"
_PROVIDER_HELP = ("show only this provider's rows (default: every provider's - whoever can open the database "
                  "acts as an administrator)")


def scope_of(args: argparse.Namespace):  # noqa: ANN201
    """The access scope of a command: ``--provider NAME`` scopes it to that provider, else admin."""
    from evalkit.access import Scope

    provider = (getattr(args, "provider", None) or "").strip()
    return Scope.for_provider(provider) if provider else Scope.admin()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``uploads`` and ``quarantine`` sub-commands."""
    p = subparsers.add_parser("uploads", help="list the upload history",
                              description="List every upload, newest first, with its counts and status.")
    p.add_argument("--db", metavar="URL", help=_DB_HELP)
    p.add_argument("--provider", metavar="NAME", help=_PROVIDER_HELP)
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    p.set_defaults(func=run)
    q = subparsers.add_parser(
        "quarantine",
        help="list or export quarantined rows for correction",
        description=(
            "List the rows that were quarantined because they had errors, or export them (-o FILE.xlsx: one "
            "sheet per table; -o FILE.csv: one table) to correct and re-submit with 'evalkit resubmit'."
        ),
    )
    q.add_argument("--db", metavar="URL", help=_DB_HELP)
    q.add_argument("--provider", metavar="NAME", help=_PROVIDER_HELP)
    q.add_argument("--upload", type=int, metavar="ID", help="only rows of this upload")
    q.add_argument("--status", choices=("open", "resolved", "all"), default="open",
                   help="which rows (default: open, i.e. not yet corrected)")
    q.add_argument("-o", "--output", metavar="FILE", help="write the rows to FILE.xlsx or FILE.csv")
    q.set_defaults(func=run_quarantine)


def _open(db: str | None):  # noqa: ANN202
    from evalkit.store import open_store

    return open_store(db)


def run(args: argparse.Namespace) -> int:
    """List uploads."""
    from evalkit.store import list_uploads

    with _open(args.db) as store:
        frame = list_uploads(store, scope_of(args))
    if args.format == "json":
        out = frame.astype(object).where(frame.notna(), None)
        recs = out.to_dict(orient="records")
        json.dump(recs, sys.stdout, indent=2, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else int(v))
        sys.stdout.write("\n")
        return 0
    if frame.empty:
        sys.stdout.write("No uploads yet.\n")
        return 0
    w = sys.stdout.write
    when = frame["uploaded_at"].dt.strftime("%Y-%m-%d %H:%M").fillna("")
    w(text_table([Column("id", [str(int(v)) for v in frame["upload_id"]]),
                  Column("uploaded (UTC)", list(when), "left"),
                  Column("provider", [str(v)[:22] for v in frame["provider"]], "left"),
                  Column("status", list(frame["status"].astype(str)), "left"),
                  Column("accepted", count_cells(frame["rows_accepted"])),
                  Column("new", count_cells(frame["rows_inserted"])),
                  Column("updated", count_cells(frame["rows_updated"])),
                  Column("quarant.", count_cells(frame["rows_quarantined"])),
                  Column("file", list(frame["file_name"].astype(str)), "left")]))
    return 0


_EXPORT_DROP = ("upload_id", "table", "source_file", "source_sheet", "source_row", "quarantine_status",
                "resolved_upload_id")


def run_quarantine(args: argparse.Namespace) -> int:
    """List or export quarantined rows."""
    from evalkit.store import quarantine_rows

    out_path = Path(args.output) if args.output else None
    if out_path is not None and out_path.suffix.lower() not in (".xlsx", ".csv"):
        raise ValueError(f"-o must end in .xlsx or .csv; got {out_path.name!r}")
    with _open(args.db) as store:
        frames = quarantine_rows(store, scope_of(args), upload_id=args.upload, status=args.status)
    total = sum(len(f) for f in frames.values())
    if total == 0:
        sys.stdout.write("No quarantined rows" + (f" for upload {args.upload}" if args.upload else "") + ".\n")
        return 0
    if out_path is None:
        w = sys.stdout.write
        for table, frame in frames.items():
            w(f"\n{table}: {len(frame):,} row(s)\n")
            for r in frame.head(50).itertuples(index=False):
                src = r.source_file if pd.notna(r.source_file) else ""  # NA when stored without provenance
                where = f"{src or '?'} row {r.source_row}" if pd.notna(r.source_row) else src
                w(f"  [{r.quarantine_id}] upload {r.upload_id}, {where}: {r.reasons}\n")
            if len(frame) > 50:
                w(f"  ... and {len(frame) - 50:,} more; export them all with -o corrections.xlsx\n")
        return 0
    from evalkit.safe_export import safe_frame

    # provider text that a spreadsheet would run as a formula (=, +, -, @ ...) gets a leading '
    export = {t: safe_frame(f.drop(columns=[c for c in _EXPORT_DROP if c in f.columns])) for t, f in frames.items()}
    if out_path.suffix.lower() == ".csv":
        if len(export) > 1:
            raise ValueError(f"quarantined rows of several tables ({', '.join(export)}): export to .xlsx instead")
        next(iter(export.values())).to_csv(out_path, index=False)
    else:
        with pd.ExcelWriter(out_path, engine="openpyxl") as xw:
            for table, frame in export.items():
                frame.to_excel(xw, sheet_name=table, index=False)
    sys.stdout.write(f"Wrote {total:,} quarantined row(s) to {out_path}. Correct them (the 'reasons' column says "
                     "what is wrong), then re-submit with 'evalkit resubmit'.\n")
    return 0
