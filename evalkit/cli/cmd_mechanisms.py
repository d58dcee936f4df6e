"""``evalkit mechanisms``: what works, for whom, and what can go wrong (experience measure and C-M-O analysis).

Reads the canonical tables from a folder of CSV files (``--data``), the
database (``--db``, admin scope) or the example data (``--example``) and
prints one of three aggregate outputs:

* ``--what profile`` (default): the share of mothers endorsing each mechanism
  of the peer-support experience measure, per programme or per format,
  negative mechanisms first;
* ``--what signals``: months (or group sessions) where negative-mechanism
  endorsement is above ``--level``, plus ending distress after planned and
  unplanned endings;
* ``--what cmo``: the **exploratory** regressions of take-up on contexts and
  of the outcome on the mechanism scores.

Every output is disclosure-controlled; individual answers are never printed
here (providers see those in the dashboard).
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from evalkit.cli.json_rows import json_records

EXAMPLE_N = 2000
EXAMPLE_SEED = 2026


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mechanisms",
        help="what works for whom: experience profiles, quality signals, exploratory C-M-O analysis",
        description=(
            "Summarise the peer-support experience questionnaires (pex_group, pex_one_to_one): the share of "
            "mothers endorsing each mechanism per programme or format (negative mechanisms first), quality "
            "signals where negative experiences rise above a level, and exploratory context-mechanism-outcome "
            "regressions. Outputs are aggregate and disclosure-controlled."
        ),
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--data", type=Path, metavar="DIR", help="folder of canonical CSV files (programmes.csv ...)")
    src.add_argument("--db", metavar="URL", help="database URL or SQLite path (read with the admin scope)")
    src.add_argument("--example", action="store_true",
                     help="the bundled example data (generated with experience questionnaires if it has none)")
    p.add_argument("--by", choices=["programme", "format"], default="programme",
                   help="group the profile by programme (default) or by the format offered to each mother")
    p.add_argument("--what", choices=["profile", "signals", "cmo"], default="profile", help="which output")
    p.add_argument("--format", choices=["table", "json"], default="table", dest="output_format",
                   help="print a readable table (default) or JSON")
    p.add_argument("--level", type=float, default=0.25,
                   help="signals: share of negative-mechanism endorsement to flag (default 0.25)")
    p.add_argument("--period", choices=["month", "group_session"], default="month",
                   help="signals: per calendar month (default) or per group session")
    p.add_argument("--instrument", default="epds", help="cmo: the outcome measure (default epds)")
    p.add_argument("--outcome", default="change",
                   choices=["change", "improvement", "reliable_improvement", "recovery_from", "recovery_within"],
                   help="cmo: the outcome (default change)")
    p.set_defaults(func=run)


def _load(args: argparse.Namespace) -> tuple[dict[str, pd.DataFrame], str]:
    from evalkit.data_source import example_tables, load_tables

    if args.data is not None:
        return load_tables(data=args.data), f"data: {args.data}"
    if args.db is not None:
        return load_tables(db=args.db, provenance=False), "data: database (admin scope)"
    tables = example_tables()
    m = tables.get("measures")
    if m is not None and m["instrument"].astype("string").str.startswith("pex").fillna(False).any():
        return tables, "data: bundled example data (synthetic)"
    from evalkit.generator import generate_programmes

    data = generate_programmes(EXAMPLE_N, seed=EXAMPLE_SEED, experience=True)
    return data.tables, (f"data: synthetic example generated in memory (generate_programmes({EXAMPLE_N}, "
                         f"seed={EXAMPLE_SEED}, experience=True); the bundled example has no experience questionnaires)")


def _show(frame: pd.DataFrame, columns: list[str], digits: int = 2) -> str:
    from evalkit.disclosure import mark_suppressed

    shown = frame.copy()
    for c in shown.columns:
        if c == "p_value":
            shown[c] = shown[c].map(lambda v: "" if pd.isna(v) else ("<0.001" if v < 0.001 else f"{v:.3f}"))
        elif pd.api.types.is_float_dtype(shown[c].dtype):
            shown[c] = shown[c].round(digits)
    shown = mark_suppressed(shown) if "suppressed" in shown.columns else shown.astype("string").fillna("")
    cols = [c for c in columns if c in shown.columns]
    if shown.empty:
        return "(no rows)"
    return shown[cols].to_string(index=False, max_colwidth=60)


def _serialisable(attrs: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (str, int, float, bool)) or v is None else str(v)) for k, v in attrs.items()}


def run(args: argparse.Namespace) -> int:
    from evalkit import mechanisms as mx
    from evalkit.rules import PairingRules

    if not 0 < args.level < 1:
        raise ValueError(f"--level must be between 0 and 1; got {args.level}")
    tables, source = _load(args)
    if args.what != "cmo" and "measures" in tables:
        from evalkit.memory import release_freed_memory

        # the profile, the quality signals and the worry about ending read only the experience questionnaires'
        # rows of the measures (at a million participants the others are about 0.6 GB)
        tables["measures"] = mx.experience_measures(tables["measures"])
        release_freed_memory()
    rules = PairingRules()
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", category=Warning)
        if args.what == "profile":
            by = "programme_id" if args.by == "programme" else "format"
            sections = {"profile": mx.mechanism_profile(tables, by=by, rules=rules)}
            explain = {"profile": mx.EXPLANATIONS["profile"]}
            header = [f"Mechanism profile by {args.by}: share of mothers who agreed (3-4) with each statement, "
                      "what can go wrong first"]
        elif args.what == "signals":
            by = ("programme_id", "period" if args.period == "month" else "group_session_id")
            sections = {"signals": mx.quality_signals(tables, level=args.level, by=by, rules=rules),
                        "ending": mx.ending_distress(tables, rules=rules)}
            explain = {"signals": mx.EXPLANATIONS["signals"], "ending": mx.EXPLANATIONS["ending"]}
            header = [f"Quality signals: negative-mechanism endorsement above {args.level:g} per {args.period}; "
                      "ending distress after planned and unplanned endings"]
        else:
            from evalkit.episodes import prepare_episodes

            take_up = mx.cmo_take_up(tables, rules=rules)
            # the outcome models read the episodes, the experience questionnaires and the participants: the
            # episodes prepared here let go of the contacts once read (1.3 GB at a million participants), as
            # ``evalkit report`` does, and the models are handed them instead of building them again
            prepared = prepare_episodes(tables, rules=rules, keep_attended=False, release_contacts=True,
                                        keep_scored_measures=rules.sample_reliability)
            sections = {"take_up": take_up,
                        "outcomes": mx.cmo_outcomes(tables, instrument=args.instrument, outcome=args.outcome,
                                                    rules=rules, prepared=prepared)}
            del prepared
            explain = {"take_up": mx.EXPLANATIONS["take_up"], "outcomes": mx.EXPLANATIONS["outcomes"]}
            header = [mx.EXPLORATORY,
                      f"Context-mechanism-outcome analysis: take-up on contexts; {args.instrument} {args.outcome} on "
                      "the mechanism scores"]
    for w in caught:
        if issubclass(w.category, Warning):
            messages.append(f"{w.category.__name__}: {w.message}")
    header += [source, mx.UNVALIDATED_NOTE]
    if args.output_format == "json":
        payload = {"what": args.what, "header": header, "messages": messages,
                   "tables": {name: {"explanation": explain[name], "attrs": _serialisable(dict(frame.attrs)),
                                     "rows": json_records(frame)} for name, frame in sections.items()}}
        sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")
        return 0
    for line in header:
        print(line)
    for m in messages:
        print(f"note: {m}")
    columns = {
        "profile": ["programme_id", "format", "instrument", "item", "mechanism", "valence", "n_answered", "n_endorsed",
                    "share", "ci_low", "ci_high"],
        "signals": ["programme_id", "period", "group_session_id", "measure", "n_responses", "n_endorsed", "share",
                    "ci_low", "ci_high", "signal"],
        "ending": ["programme_id", "ending_class", "n_responses", "n_distressed", "share", "ci_low", "ci_high"],
        "take_up": ["term", "effect", "effect_ci_low", "effect_ci_high", "p_value", "n", "n_events", "status"],
        "outcomes": ["experience_instrument", "term", "effect", "effect_ci_low", "effect_ci_high", "effect_scale",
                     "p_value", "n", "status"],
    }
    for name, frame in sections.items():
        print()
        print(f"== {name.replace('_', ' ')} ==")
        print(explain[name])
        if "disclosure" in frame.attrs and frame.attrs["disclosure"]:
            print(frame.attrs["disclosure"])
        print(_show(frame, columns[name], digits=3 if name in ("take_up", "outcomes") else 2))
    return 0
