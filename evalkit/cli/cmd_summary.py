"""``evalkit summary``: export a programme summary (aggregate, disclosure-controlled) as JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evalkit.errors import InputFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary",
        help="export programme summaries (aggregates safe to share) for comparison",
        description=(
            "Write, per programme and instrument, the aggregate statistics a comparison needs (paired n, "
            "baseline and endpoint means and SDs, pre-post correlation, reliable change and recovery counts, "
            "take-up funnel, dose quantiles, programme characteristics), with small counts suppressed, the "
            "pairing rules, the software version and a SHA-256 hash of the input data. No individual-level data "
            "are written. See docs/SUMMARY_FORMAT.md."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--db", metavar="URL", help="database path or URL")
    src.add_argument("--data", type=Path, metavar="DIR", help="folder of <table>.csv files")
    src.add_argument("--example", action="store_true", help="the bundled example data")
    p.add_argument("--programme", action="append", metavar="ID",
                   help="summarise only this programme (repeatable; default: every programme)")
    p.add_argument("--rules", type=Path, metavar="FILE",
                   help="JSON file of pairing rules (PairingRules settings; default: the standard rules)")
    p.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="summary JSON file to write")
    p.set_defaults(func=run)


def _rules(path: Path | None):  # noqa: ANN202 - PairingRules, imported lazily
    from evalkit.rules import PairingRules

    if path is None:
        return PairingRules()
    if not path.is_file():
        raise InputFileError("file not found (expected a JSON file of pairing rules)", file=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"is not valid JSON ({exc})", file=str(path)) from exc
    if not isinstance(data, dict):
        raise InputFileError("must hold a JSON object of rule settings, e.g. {\"min_dose\": 3}", file=str(path))
    try:
        return PairingRules.from_dict(data)
    except (TypeError, ValueError) as exc:
        raise InputFileError(f"has invalid pairing rules: {exc}", file=str(path)) from exc


def run(args: argparse.Namespace) -> int:
    from evalkit.data_source import example_tables, load_tables
    from evalkit.summary import build_summary, write_summary

    rules = _rules(args.rules)
    if args.output.is_dir():
        raise InputFileError("is a folder; give the path of the JSON file to write", file=str(args.output))
    # the tables are handed over, not kept here: the summary lets go of what it no longer reads (at a million
    # participants, the peer supporter ids once hashed: 264 MB)
    summary = build_summary(example_tables() if args.example else
                            load_tables(data=args.data, db=args.db, programmes=args.programme, provenance=False),
                            rules=rules, programme=args.programme)
    write_summary(summary, args.output)
    n_hidden = int(summary.results["suppressed"].str.len().gt(0).sum() + summary.programmes["suppressed"]
                   .str.len().gt(0).sum())
    print(f"wrote {args.output}: {len(summary.programmes)} programme(s), {len(summary.results)} programme x "
          f"instrument result(s); {n_hidden} row(s) with suppressed values; data sha256 {summary.data_hash[:16]}...")
    return 0
