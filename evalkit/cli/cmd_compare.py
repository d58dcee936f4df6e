"""``evalkit compare SUMMARY.json...``: pool and compare programmes from their summary files."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path
from typing import Any

from evalkit.cli.arg_types import positive_int

#: options of the comparison that the funnel table (``--funnel-table``) does not use, with their defaults
_NOT_FOR_FUNNEL_TABLE = {"by": None, "measure": None, "method": None, "knha": False, "scale": None, "level": None,
                         "min_per_level": None}


#: the CLI option (``args`` attribute) of each argument of compare_summaries; an option not given is not passed,
#: so the library's own default applies (and the help text quotes it from the signature)
_ARGUMENTS = {"instrument": "instrument", "measure": "measure", "method": "method", "by": "by", "knha": "knha",
              "proportion_scale": "scale", "overdispersion": "overdispersion", "funnel_method": "funnel_method",
              "level": "level", "min_per_level": "min_per_level", "allow_mixed_rules": "allow_mixed_rules"}


def _defaults() -> dict[str, Any]:
    """The default of each keyword argument of :func:`evalkit.compare.compare_summaries`."""
    from evalkit.compare import compare_summaries

    return {name: p.default for name, p in inspect.signature(compare_summaries).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _given(args: argparse.Namespace, names: list[str]) -> dict[str, Any]:
    """The arguments among ``names`` whose options were given (not None, and not a flag left off)."""
    values = {name: getattr(args, _ARGUMENTS[name]) for name in names}
    return {name: v for name, v in values.items() if v is not None and v is not False}


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number strictly between 0 and 1 (e.g. 0.95); got {text!r}")
    return value


class _LibraryDefaultsHelp(argparse.HelpFormatter):
    """Help texts whose ``{name}`` fields are :func:`_defaults`, looked up only when help is printed.

    :mod:`evalkit.compare` loads SciPy, which took about a second of every command's start when the
    parser quoted the defaults as it was built.
    """

    def _expand_help(self, action: argparse.Action) -> str:
        return super()._expand_help(action).format_map(_defaults())


def register(sub: argparse._SubParsersAction) -> None:
    from evalkit.compare_options import BY_CHOICES, MEASURES, METHODS

    p = sub.add_parser(
        "compare", formatter_class=_LibraryDefaultsHelp,
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
                   help="instrument (default {instrument}); repeat to give alternatives in order of preference")
    p.add_argument("--measure", choices=MEASURES, help="effect measure (default {measure})")
    p.add_argument("--method", choices=METHODS,
                   help="tau^2 estimator, or FE for a fixed effect (default {method})")
    p.add_argument("--knha", action="store_true", help="Knapp-Hartung adjustment (t and F tests)")
    p.add_argument("--scale", choices=("logit", "raw"), help="scale for pooling proportions (default {proportion_scale})")
    p.add_argument("--level", type=_level, metavar="LEVEL",
                   help="confidence level of the intervals, e.g. 0.9 (default {level:g}; the funnel limits "
                        "stay at 95%% and 99.8%%)")
    p.add_argument("--min-per-level", type=positive_int, metavar="N",
                   help="fewest programmes in each level of a --by characteristic before its test of moderators "
                        "(meta-regression) is reported (default {min_per_level})")
    p.add_argument("--overdispersion", choices=("multiplicative", "additive"),
                   help="widen funnel limits for over-dispersion (default: no adjustment)")
    p.add_argument("--funnel-method", choices=("normal", "exact"),
                   help="funnel limits for proportions: normal approximation, or exact binomial "
                        "(default {funnel_method})")
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
    from evalkit.compare import MixedInstrumentsError, MixedRulesError, compare_summaries, funnel_table
    from evalkit.summary import read_summary

    if args.funnel_table:
        given = [name for name, default in _NOT_FOR_FUNNEL_TABLE.items() if getattr(args, name) != default]
        if given:
            raise ValueError("--funnel-table does not use " + ", ".join("--" + g.replace("_", "-") for g in given)
                             + " (it places each programme on every indicator's funnel plot); leave them out")
    summaries = [read_summary(path) for path in args.summaries]
    try:
        if args.funnel_table:
            table = funnel_table(summaries, **_given(args, ["instrument", "overdispersion", "funnel_method",
                                                            "allow_mixed_rules"]))
        else:
            comp = compare_summaries(summaries, **_given(args, list(_ARGUMENTS)))
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
