"""``evalkit report``: the self-contained HTML report for funders and commissioners, and its tables."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.errors import InputFileError

if TYPE_CHECKING:
    import pandas as pd


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="write the HTML report (one self-contained file) and, optionally, every table as Excel or CSV",
        description=(
            "Write the outcomes report for funders and commissioners: per programme the headline figures (referrals, "
            "take-up, engaged, paired completeness, symptom and wellbeing change, recovery from and within), each "
            "with its n and 95% confidence interval; change per questionnaire (completers, mixed model, multiple "
            "imputation, dose sensitivity); engagement; for whom; what works for whom; and a methods appendix "
            "(rules, questionnaires, definitions, completeness, disclosure control, limitations, data hash, version). "
            "Aggregate and disclosure-controlled: small counts are shown as [c]; no list of individual mothers is "
            "included."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", metavar="URL", help="database URL or SQLite path (default: EVALKIT_DB_URL)")
    src.add_argument("--data", type=Path, metavar="DIR", help="folder of CSV files (programmes.csv, participants.csv, ...)")
    src.add_argument("--example", action="store_true", help="use the shipped example data")
    p.add_argument("--programme", metavar="ID", action="append", default=[],
                   help="only this programme (repeatable; default: every programme)")
    p.add_argument("--min-dose", type=int, metavar="N", default=None,
                   help="minimum attended contacts between baseline and endpoint (default 2)")
    p.add_argument("--endpoint", choices=["last", "window"], default=None,
                   help="endpoint rule: last score (default) or the score nearest 12 weeks")
    p.add_argument("--title", default=None, help="the report's title")
    p.add_argument("--no-models", action="store_true",
                   help="leave out the mixed-model and multiple-imputation estimates (faster)")
    p.add_argument("--no-figures", action="store_true", help="tables only, no figures")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="HTML file to write")
    p.add_argument("--xlsx", type=Path, metavar="FILE", help="also write every table to this Excel workbook")
    p.add_argument("--csv-zip", type=Path, metavar="FILE", help="also write every table as CSV files in this zip")
    p.set_defaults(func=run)


def _writable(path: Path | None, what: str) -> None:
    if path is None:
        return
    if path.is_dir():
        raise InputFileError(f"is a folder; give the path of the {what} to write", file=str(path))
    if not path.parent.exists():
        raise InputFileError(f"cannot be written: the folder {path.parent} does not exist", file=str(path))


def _tables(args: argparse.Namespace, programmes: list[str] | None) -> dict[str, pd.DataFrame]:
    from evalkit import data_source

    if args.example:
        return data_source.example_tables()
    if args.data is not None:
        return data_source.load_tables(data=args.data)
    db = args.db or os.environ.get("EVALKIT_DB_URL") or "evalkit.sqlite"
    return data_source.load_tables(db=db, programmes=programmes, provenance=False)


def run(args: argparse.Namespace) -> int:
    from evalkit.report import DEFAULT_TITLE, build_report
    from evalkit.rules import PairingRules

    for path, what in ((args.output, "HTML report"), (args.xlsx, "workbook"), (args.csv_zip, "zip file")):
        _writable(path, what)
    changes = {k: v for k, v in (("min_dose", args.min_dose), ("endpoint_rule", args.endpoint)) if v is not None}
    rules = PairingRules().replace(**changes)
    programmes = args.programme or None
    # the tables are handed over, not kept here: the report lets go of those it has read (at a million
    # participants, the contacts and measures: about 1.9 GB) before it computes the outcomes
    report = build_report(_tables(args, programmes), rules=rules, title=args.title or DEFAULT_TITLE,
                          programmes=programmes, models=not args.no_models, figures=not args.no_figures)
    report.write(args.output)
    wrote = [str(args.output)]
    if args.xlsx is not None:
        wrote.append(str(report.to_xlsx(args.xlsx)))
    if args.csv_zip is not None:
        wrote.append(str(report.to_csv_zip(args.csv_zip)))
    print(f"wrote {', '.join(wrote)}: {len(report.tables)} tables; data sha256 {report.data_hash[:16]}...; "
          f"evalkit {report.version}")
    for note in report.notes:
        print(f"note: {note}")
    return 0
