"""``evalkit compare SUMMARY.json...``: pool and compare programmes from their summary files."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    from evalkit.compare import BY_CHOICES, MEASURES

    p = sub.add_parser(
        "compare",
        help="compare programmes from summary files (random-effects pooling, subgroups, funnel flags)",
        description=(
            "Read summary files (from `evalkit summary`), compute each programme's effect and its uncertainty, "
            "pool them (random effects by default), estimate subgroups and test moderators (--by), and flag "
            "programmes outside funnel-plot limits. Continuous effects are signed so that improvement is "
            "positive."
        ),
    )
    p.add_argument("summaries", nargs="+", type=Path, metavar="SUMMARY.json", help="summary files")
    p.add_argument("--by", action="append", choices=BY_CHOICES, metavar="{" + ",".join(BY_CHOICES) + "}",
                   help="programme characteristic for subgroups and the moderator test (repeatable)")
    p.add_argument("--instrument", action="append", metavar="CODE",
                   help="instrument (default epds); repeat to give alternatives in order of preference")
    p.add_argument("--measure", choices=MEASURES, default="smcr", help="effect measure (default smcr)")
    p.add_argument("--method", choices=("REML", "DL", "FE", "ML", "PM", "HE", "SJ"), default="REML",
                   help="tau^2 estimator, or FE for a fixed effect (default REML)")
    p.add_argument("--knha", action="store_true", help="Knapp-Hartung adjustment (t and F tests)")
    p.add_argument("--scale", choices=("logit", "raw"), default="logit",
                   help="scale for pooling proportions (default logit)")
    p.add_argument("--overdispersion", choices=("multiplicative", "additive"),
                   help="widen funnel limits for over-dispersion (default: no adjustment)")
    p.add_argument("--allow-mixed-rules", action="store_true",
                   help="compare summaries made under different pairing rules (otherwise an error)")
    p.add_argument("--format", choices=("table", "json"), default="table", help="output format (default table)")
    p.add_argument("-o", "--output", type=Path, metavar="FILE", help="write the output here instead of printing it")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.compare import MixedRulesError, compare_summaries
    from evalkit.summary import read_summary

    summaries = [read_summary(path) for path in args.summaries]
    try:
        comp = compare_summaries(
            summaries,
            instrument=args.instrument or "epds",
            measure=args.measure,
            method=args.method,
            by=args.by,
            knha=args.knha,
            proportion_scale=args.scale,
            overdispersion=args.overdispersion,
            allow_mixed_rules=args.allow_mixed_rules,
        )
    except MixedRulesError as exc:  # the library names its argument; here the user needs the option
        raise ValueError(exc.advice("give --allow-mixed-rules")) from None
    text = json.dumps(comp.to_dict(), indent=2, allow_nan=False) if args.format == "json" else comp.to_text()
    if args.output:
        args.output.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0
