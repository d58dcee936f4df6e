"""``evalkit compare SUMMARY.json...``: pool and compare programmes from their summary files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evalkit.cli.arg_types import positive_int

#: options of the comparison that the funnel table (``--funnel-table``) does not use, with their defaults
_NOT_FOR_FUNNEL_TABLE = {"by": None, "measure": None, "method": None, "knha": False, "scale": None, "level": None,
                         "min_per_level": None}


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1 (e.g. 0.95); got {text!r}")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    from evalkit.compare import BY_CHOICES, MEASURES, MIN_PER_LEVEL

    p = sub.add_parser(
        "compare",
        help="compare programmes from summary files (random-effects pooling, subgroups, funnel flags)",
        description=(
            "Read summary files (from `evalkit summary`), compute each programme's effect and its uncertainty, "
            "pool them (random effects by default), estimate subgroups and test moderators (--by), and flag "
            "programmes outside funnel-plot limits. Continuous effects are signed so that improvement is "
            "positive. With --funnel-table, print instead every programme's funnel-plot position and flag on "
            "recovery, reliable improvement, take-up and SMCR (only --instrument, --overdispersion, "
            "--funnel-method and --allow-mixed-rules apply there)."
        ),
    )
    p.add_argument("summaries", nargs="+", type=Path, metavar="SUMMARY.json", help="summary files")
    p.add_argument("--by", action="append", choices=BY_CHOICES, metavar="{" + ",".join(BY_CHOICES) + "}",
                   help="programme characteristic for subgroups and the moderator test (repeatable)")
    p.add_argument("--instrument", action="append", metavar="CODE",
                   help="instrument (default epds); repeat to give alternatives in order of preference")
    p.add_argument("--measure", choices=MEASURES, help="effect measure (default smcr)")
    p.add_argument("--method", choices=("REML", "DL", "FE", "ML", "PM", "HE", "SJ"),
                   help="tau^2 estimator, or FE for a fixed effect (default REML)")
    p.add_argument("--knha", action="store_true", help="Knapp-Hartung adjustment (t and F tests)")
    p.add_argument("--scale", choices=("logit", "raw"), help="scale for pooling proportions (default logit)")
    p.add_argument("--level", type=_level, metavar="LEVEL",
                   help="confidence level of the intervals, e.g. 0.9 (default 0.95; the funnel limits stay at "
                        "95%% and 99.8%%)")
    p.add_argument("--min-per-level", type=positive_int, metavar="N",
                   help=f"fewest programmes in each level of a --by characteristic before its test of moderators "
                        f"(meta-regression) is reported (default {MIN_PER_LEVEL})")
    p.add_argument("--overdispersion", choices=("multiplicative", "additive"),
                   help="widen funnel limits for over-dispersion (default: no adjustment)")
    p.add_argument("--funnel-method", choices=("normal", "exact"), default="normal",
                   help="funnel limits for proportions: normal approximation, or exact binomial (default normal)")
    p.add_argument("--funnel-table", action="store_true",
                   help="print the funnel-plot flags of every programme on recovery, reliable improvement, "
                        "take-up and SMCR instead of the comparison")
    p.add_argument("--allow-mixed-rules", action="store_true",
                   help="compare summaries made under different pairing rules (otherwise an error)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the output here instead of printing it")
    p.set_defaults(func=run)


def _funnel_text(table) -> str:  # noqa: ANN001 - pandas.DataFrame, imported lazily
    if table.empty:
        return "No programme can be placed on a funnel plot (every indicator's figures are missing or suppressed)."
    return table.to_string(index=False, na_rep="NA", float_format=lambda v: f"{v:.3f}")


def run(args: argparse.Namespace) -> int:
    from evalkit.cli.json_rows import json_records
    from evalkit.compare import (
        MIN_PER_LEVEL,
        MixedInstrumentsError,
        MixedRulesError,
        compare_summaries,
        funnel_table,
    )
    from evalkit.summary import read_summary

    if args.funnel_table:
        given = [name for name, default in _NOT_FOR_FUNNEL_TABLE.items() if getattr(args, name) != default]
        if given:
            raise ValueError("--funnel-table does not use " + ", ".join("--" + g.replace("_", "-") for g in given)
                             + " (it places each programme on every indicator's funnel plot); leave them out")
    summaries = [read_summary(path) for path in args.summaries]
    try:
        if args.funnel_table:
            table = funnel_table(summaries, instrument=args.instrument or "epds", overdispersion=args.overdispersion,
                                 funnel_method=args.funnel_method, allow_mixed_rules=args.allow_mixed_rules)
        else:
            comp = compare_summaries(
                summaries,
                instrument=args.instrument or "epds",
                measure=args.measure or "smcr",
                method=args.method or "REML",
                by=args.by,
                knha=args.knha,
                proportion_scale=args.scale or "logit",
                overdispersion=args.overdispersion,
                funnel_method=args.funnel_method,
                level=0.95 if args.level is None else args.level,
                min_per_level=MIN_PER_LEVEL if args.min_per_level is None else args.min_per_level,
                allow_mixed_rules=args.allow_mixed_rules,
            )
    except MixedRulesError as exc:  # the library names its argument; here the user needs the option
        raise ValueError(exc.advice("give --allow-mixed-rules")) from None
    except MixedInstrumentsError as exc:  # likewise: the options, not measure='smcr'
        raise ValueError(exc.advice("--measure {}", "a single --instrument")) from None
    if args.funnel_table:
        text = (json.dumps({"funnel": json_records(table)}, indent=2, allow_nan=False) if args.format == "json"
                else _funnel_text(table))
    else:
        text = json.dumps(comp.to_dict(), indent=2, allow_nan=False) if args.format == "json" else comp.to_text()
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0
