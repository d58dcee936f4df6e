"""``evalkit outcomes``: the outcome summary per programme x instrument, disclosure-controlled."""

from __future__ import annotations

import argparse
import json
import sys
import warnings

import numpy as np
import pandas as pd

from evalkit.cli.json_rows import json_records

_TABLE_COLUMNS = (
    ("programme_id", "programme"), ("instrument", "instrument"), ("n_engaged", "engaged"),
    ("n_paired", "paired"), ("completeness", "complete %"), ("baseline_mean", "baseline"),
    ("mean_change", "change"), ("ci_low", "ci low"), ("ci_high", "ci high"), ("d_z", "d_z"),
    ("pct_reliable_improvement", "rel. impr. %"), ("pct_reliable_deterioration", "rel. det. %"),
    ("pct_recovered", "recovered %"), ("mm_change", "mixed model"), ("mi_mean_change", "imputed"),
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "outcomes",
        help="outcome summary per programme x instrument (change, reliable change, recovery, completeness)",
        description=(
            "Pair baseline and endpoint scores under the pairing rules and summarise outcomes per programme "
            "and instrument: n, completeness, mean change with 95% CI, effect sizes, reliable improvement and "
            "deterioration, recovery, and estimates that use everyone's observations (mixed model, multiple "
            "imputation). Small counts are suppressed. The rules used are printed with the table."
        ),
    )
    src = p.add_mutually_exclusive_group()
    src.add_argument("--db", metavar="URL", help="database URL or SQLite path (default: EVALKIT_DB_URL)")
    src.add_argument("--data", metavar="DIR", help="folder of CSV files (programmes.csv, participants.csv, ...)")
    src.add_argument("--example", action="store_true", help="use the shipped example data")
    p.add_argument("--programme", metavar="ID", action="append", default=[],
                   help="only this programme (repeatable)")
    p.add_argument("--instrument", metavar="CODE", action="append", default=[],
                   help="only this instrument, e.g. epds (repeatable)")
    p.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output format")
    p.add_argument("--min-dose", type=int, metavar="N", default=None,
                   help="minimum attended contacts between baseline and endpoint (default 2)")
    p.add_argument("--endpoint", choices=["last", "window"], default=None,
                   help="endpoint rule: last score (default) or the score nearest 12 weeks")
    p.add_argument("--no-models", action="store_true",
                   help="skip the mixed-model and multiple-imputation estimates (faster)")
    p.add_argument("--instruments-dir", action="append", default=[], metavar="DIR",
                   help="extra folder of instrument definition files (repeatable)")
    p.set_defaults(func=run)


def _load(args: argparse.Namespace) -> dict[str, pd.DataFrame]:
    from evalkit import data_source

    programmes = args.programme or None
    if args.example:
        from evalkit._resources import resource_dir

        try:
            folder = resource_dir("examples/data")
        except FileNotFoundError as exc:
            raise FileNotFoundError(f"the example data are not installed ({exc})") from None
        if not any(folder.glob("*.csv")):
            raise FileNotFoundError(f"the example data folder {folder} holds no CSV files yet")
        return data_source.load_tables(data=folder, programmes=programmes)
    if args.data:
        return data_source.load_tables(data=args.data, programmes=programmes)
    return data_source.load_tables(db=args.db or "", programmes=programmes, provenance=False) if args.db else \
        data_source.load_tables(db=_default_db(), programmes=programmes, provenance=False)


def _default_db() -> str:
    import os

    return os.environ.get("EVALKIT_DB_URL") or "evalkit.sqlite"


def _fmt(v: object, digits: int) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return f"{v:.{digits}f}"
    return str(v)


def _table(summary: pd.DataFrame) -> str:
    from evalkit.disclosure import SUPPRESSED_MARKER

    cols = [(c, h) for c, h in _TABLE_COLUMNS if c in summary.columns]
    hidden = summary["suppressed"].fillna("").astype(str) if "suppressed" in summary.columns else \
        pd.Series("", index=summary.index)
    rows = [[h for _, h in cols]]
    for i in range(len(summary)):
        names = set(hidden.iloc[i].split("; ")) if hidden.iloc[i] else set()
        row = []
        for c, _ in cols:
            v = summary[c].iloc[i]
            digits = 1 if c.startswith("pct") or c == "completeness" else 2
            row.append(SUPPRESSED_MARKER if c in names else _fmt(v, digits))
        rows.append(row)
    widths = [max(len(r[j]) for r in rows) for j in range(len(cols))]
    lines = ["  ".join(cell.rjust(w) if j > 1 else cell.ljust(w) for j, (cell, w) in enumerate(zip(r, widths, strict=True)))
             for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from evalkit.episodes import prepare_episodes
    from evalkit.errors import EvalkitWarning
    from evalkit.instruments import load_instruments
    from evalkit.memory import release_freed_memory
    from evalkit.outcomes import outcome_summary
    from evalkit.rules import PairingRules

    if args.min_dose is not None and args.min_dose < 0:
        raise ValueError(f"--min-dose must be 0 or more; got {args.min_dose}")
    rules = PairingRules()
    if args.min_dose is not None:
        rules = rules.replace(min_dose=args.min_dose)
    if args.endpoint:
        rules = rules.replace(endpoint_rule=args.endpoint)
    tables = _load(args)
    registry = load_instruments(args.instruments_dir)
    if args.instrument:
        wanted = {c.strip().lower() for c in args.instrument}
        unknown = sorted(wanted - set(registry))
        if unknown:
            raise ValueError(f"unknown instrument(s) {unknown}; known: {', '.join(sorted(registry))}")
        if "measures" in tables:
            m = tables["measures"]
            tables = {**tables, "measures": m[m["instrument"].astype("string").str.strip().str.lower()
                                             .isin(wanted).fillna(False)]}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EvalkitWarning)
        # the episodes as outcome_summary prepares them, the contacts let go once read and the other tables
        # before the statistics (at a million participants the tables are 2.5 GB, and no statistic reads them)
        data = prepare_episodes(tables, rules=rules, instruments=registry, keep_attended=False,
                                release_contacts=True, keep_scored_measures=rules.sample_reliability)
        del tables
        # the contacts were read in other threads, whose heaps the statistics do not reuse: handed back here
        # (at a million participants 1.2 GB stayed resident under the statistics otherwise)
        release_freed_memory()
        summary = outcome_summary(data, rules=rules, instruments=registry, models=not args.no_models)
    notes = sorted({str(w.message) for w in caught if issubclass(w.category, EvalkitWarning)})
    if args.format == "csv":
        summary.to_csv(sys.stdout, index=False)
    elif args.format == "json":
        payload = {"rules": rules.to_dict(), "rules_text": rules.describe(),
                   "disclosure": summary.attrs.get("disclosure", ""), "notes": notes,
                   "rows": json_records(summary.drop(columns=["rules"]))}
        json.dump(payload, sys.stdout, indent=2, default=str)
        sys.stdout.write("\n")
    else:
        if not len(summary):
            print("No episodes: no participant has a valid score on a change measure.")
        else:
            print(_table(summary))
        print()
        print(summary.attrs.get("disclosure", ""))
        print()
        print("Rules:")
        for line in rules.describe().splitlines():
            print(f"  {line}")
        for n in notes:
            print(f"Note: {n}")
    return 0
