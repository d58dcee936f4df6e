"""``evalkit validate FILE...``: read providers' files, check them, and say what is wrong in their words.

Exit codes: 0 valid (warnings allowed), 1 the data have errors or ``evalkit ingest``
would refuse the files (direct identifiers), 2 usage error or a file that cannot
be read (the CLI shell prints the message).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import pandas as pd

from evalkit.canonical import ValidationResult
from evalkit.cli.text_table import counts_by_table
from evalkit.readers import load_mapping
from evalkit.readers.ahead import read_files_ahead
from evalkit.schemas import TABLE_NAMES
from evalkit.validation import report_to_csv, report_to_xlsx, validate, validation_summary

__all__ = ["register", "run"]

MAX_LINES = 50


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command."""
    parser = subparsers.add_parser(
        "validate",
        help="check providers' files against the data contract",
        description=(
            "Read CSV, Excel (.xlsx), REDCap (with --mapping) or FHIR JSON files and check them against the "
            "evalkit tables. Exit code 0: no errors (warnings allowed); 1: errors found; 2: a file could not be "
            "read or the arguments are wrong."
        ),
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="files to check (several are checked together)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output format (default: table)")
    parser.add_argument("--table", choices=TABLE_NAMES, help="table the file(s) hold, if the names do not say")
    parser.add_argument("--sheet", help="read only this sheet of a workbook")
    parser.add_argument("--mapping", metavar="FILE", help="column mapping or REDCap mapping (JSON)")
    parser.add_argument("--report", metavar="OUT", help="write every problem to OUT.csv or OUT.xlsx")
    parser.add_argument("--today", help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate ``args.files``; print a summary and the problems; return the exit code."""
    report_path = Path(args.report) if args.report else None
    if report_path is not None and report_path.suffix.lower() not in (".csv", ".xlsx"):
        raise ValueError(f"--report must end in .csv or .xlsx; got {report_path.name!r}")
    mapping = load_mapping(args.mapping) if args.mapping else None
    # each file read while the tables before it are checked (where the files' tables are known by name)
    with read_files_ahead(args.files, table=args.table, sheet=args.sheet, mapping=mapping) as raw:
        result = validate(raw, today=args.today)
        raw = dict(raw)  # every table read by now
    refusal = _refusal(raw, result)
    if report_path is not None:
        (report_to_xlsx if report_path.suffix.lower() == ".xlsx" else report_to_csv)(result.report, report_path)
    summary = validation_summary(result)
    if args.format == "json":
        _print_json(result, summary, report_path, refusal)
    else:
        _print_table(result, summary, report_path)
        if refusal:
            sys.stdout.write(f"\nevalkit ingest would refuse these files: {refusal}\n")
        elif result.ok and int(summary["rows_read"].sum()) == 0:
            sys.stdout.write("\nThe files hold no rows yet: fill in one row per record under the headers and "
                             "check them again.\n")
        elif result.ok:
            sys.stdout.write(f"\nNext: store them with '{_ingest_command(args)}' (NAME: your organisation).\n")
    return 0 if result.ok and not refusal else 1


def _ingest_command(args: argparse.Namespace) -> str:
    """The ``evalkit ingest`` command that stores the files just checked, with the same reading options."""
    parts = ["evalkit", "ingest", *args.files]
    for flag, value in (("--table", args.table), ("--sheet", args.sheet), ("--mapping", args.mapping)):
        if value:
            parts += [flag, value]
    return shlex.join(parts) + " --provider NAME"


def _refusal(raw: dict[str, pd.DataFrame], result: ValidationResult) -> str | None:
    """Why ``evalkit ingest`` (and the dashboard) would refuse the files whole, or ``None``: the library's checks."""
    from evalkit.pseudonymise import IdentifierColumnsError, refuse_identifier_columns, refuse_identifiers

    try:
        refuse_identifier_columns(result)  # columns left out for their identifying headers
        refuse_identifiers(raw)  # identifying values (emails, phone numbers, ...) in the columns read
    except IdentifierColumnsError as exc:
        return str(exc)
    return None


def _print_json(result: ValidationResult, summary: pd.DataFrame, report_path: Path | None,
                refusal: str | None) -> None:
    problems = result.report.astype(object).where(result.report.notna(), None).to_dict(orient="records")
    for p in problems:
        if p["source_row"] is not None:
            p["source_row"] = int(p["source_row"])
    out = {
        "summary": {
            "ok": result.ok,
            "errors": result.n_errors,
            "warnings": result.n_warnings,
            "tables": summary.to_dict(orient="records"),
            "report": str(report_path) if report_path else None,
            "refused": refusal,
        },
        "problems": problems,
    }
    json.dump(out, sys.stdout, indent=2, default=int)
    sys.stdout.write("\n")


def _print_table(result: ValidationResult, summary: pd.DataFrame, report_path: Path | None) -> None:
    w = sys.stdout.write
    w(counts_by_table(summary, {"rows_read": "rows read", "rows_valid": "valid", "rows_set_aside": "set aside",
                                "errors": "errors", "warnings": "warnings"}))
    report = result.report
    if report.empty:
        w("\nNo problems found.\n")
        return
    verdict = (f"{result.n_errors:,} error(s): the rows with errors were set aside; fix them and upload again."
               if not result.ok else "No errors.")
    w(f"\n{verdict} {result.n_warnings:,} warning(s): the rows were kept, but please check them.\n")
    shown = 0
    ordered = report.assign(_e=(report["severity"] != "error").astype(int)).sort_values("_e", kind="stable")
    for (severity, file_, sheet), group in ordered.groupby(["severity", "file", "sheet"], sort=False):
        if shown >= MAX_LINES:
            break
        where = file_ + (f", sheet '{sheet}'" if sheet else "")
        w(f"\n{severity.upper()}S in {where}:\n")
        for message in group["message"]:
            if shown >= MAX_LINES:
                break
            w(f"  - {message}\n")
            shown += 1
    if len(report) > shown:
        hint = f"see {report_path}" if report_path else "write them all with --report problems.csv (or .xlsx)"
        w(f"\n... and {len(report) - shown:,} more problem(s); {hint}.\n")
    elif report_path:
        w(f"\nAll problems were written to {report_path}.\n")
