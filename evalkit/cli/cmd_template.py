"""``evalkit template --format xlsx|csv -o PATH``: a blank upload template generated from the schemas."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``template`` sub-command."""
    p = subparsers.add_parser(
        "template",
        help="write a blank upload template",
        description=(
            "Write a blank template for providers: an Excel workbook (one sheet per table, drop-down lists of "
            "allowed codes, an instructions sheet) or a folder / .zip of header-only CSV files with a README."
        ),
    )
    p.add_argument("--format", choices=("xlsx", "csv"), default="xlsx", help="xlsx (default) or csv")
    p.add_argument("-o", "--output", required=True, metavar="PATH",
                   help="workbook file (xlsx), or folder or .zip file (csv)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Write the template."""
    from evalkit.templates import write_template

    path = write_template(args.output, format=args.format)
    sys.stdout.write(f"Wrote the {args.format} template to {path}.\n")
    if args.format == "csv":
        guide = "README.txt (what each column holds and the codes allowed)"
        files = f"{path}/*.csv" if path.is_dir() else "FILE.csv ... (unzip it first)"
    else:
        guide = "its 'instructions' sheet (what each column holds and the codes allowed)"
        files = str(path)
    sys.stdout.write(f"Next: read {guide}, fill in one row per record under the headers, then check the "
                     f"file(s) with 'evalkit validate {files}'.\n")
    return 0
