"""``evalkit map FILE``: propose how a provider's spreadsheet maps to evalkit's tables, and save it for reuse.

Exit codes: 0 every required column is mapped; 1 a required column could not be
mapped (the summary says which; a mapping saved with ``-o`` can be edited and
given back with ``--mapping``); 2 the file cannot be read or the arguments are
wrong (the CLI shell prints the message).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``map`` sub-command."""
    parser = subparsers.add_parser(
        "map",
        help="propose a column mapping for a provider's spreadsheet (and save it for next time)",
        description=(
            "Read a provider's workbook or CSV file - for example one row per mother with 'EPDS at start' and "
            "'EPDS at end' columns - and propose how its headers, values and dates map to evalkit's tables. "
            "Identifying columns (names, postcodes, dates of birth, NHS numbers, phone numbers, emails) are left "
            "out. Save the mapping with -o and reuse it: 'evalkit validate FILE --mapping mapping.json'. "
            "Exit code 0: ready; 1: a required column could not be mapped; 2: the file cannot be read."
        ),
    )
    parser.add_argument("file", metavar="FILE", help="the provider's .xlsx or .csv file")
    parser.add_argument("--sheet", help="read only this sheet of a workbook")
    parser.add_argument("--programme", metavar="ID", help="programme id of every row (when the file has no column)")
    parser.add_argument("-o", "--output", metavar="MAPPING.json", help="save the proposed mapping here (JSON)")
    parser.add_argument("--mapping", metavar="EXISTING.json",
                        help="start from an existing mapping (e.g. last month's): only new headers and values are "
                             "proposed")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--preview", type=int, default=0, metavar="N",
                        help="also show the first N rows as they will be stored (ids shown as placeholders)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Propose, print, optionally save; return the exit code."""
    from evalkit.mapping_proposal import propose_mapping
    from evalkit.readers import load_mapping
    from evalkit.readers.redcap import RedcapMapping

    path = Path(args.file)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    existing = load_mapping(args.mapping) if args.mapping else None
    if isinstance(existing, RedcapMapping):
        raise ValueError(f"{args.mapping} is a REDCap mapping; 'evalkit map' works on spreadsheets")
    proposal = propose_mapping(path, sheet=args.sheet, programme_id=args.programme, mapping=existing)
    saved = proposal.save(args.output) if args.output else None
    if args.format == "json":
        out = proposal.to_dict()
        out["saved_to"] = str(saved) if saved else None
        if args.preview:
            out["preview"] = {t: json.loads(f.to_json(orient="records")) for t, f in
                              proposal.preview(args.preview).items()}
        json.dump(out, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(proposal.to_text(saved_to=saved, file_path=args.file))
        if args.preview:
            import pandas as pd

            with pd.option_context("display.width", 160, "display.max_columns", 40):
                for table, frame in proposal.preview(args.preview).items():
                    sys.stdout.write(f"\nPreview of {table} (first {args.preview} rows as they will be stored):\n")
                    sys.stdout.write(frame.to_string(index=False) + "\n")
        if saved:
            sys.stdout.write(f"\nMapping saved to {saved}"
                             + (" (incomplete: edit it to name the missing columns).\n" if not proposal.ok else ".\n"))
    return 0 if proposal.ok else 1
