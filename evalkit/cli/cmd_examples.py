"""``evalkit examples --participants N --out DIR``: write a generated dataset with known true effects."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.cli.arg_types import positive_int

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.generator import ExampleData


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "examples",
        help="write a generated example dataset with known true effects",
        description=(
            "Generate realistic community perinatal peer-support programmes (drop-in group, telephone, home "
            "visiting, paid peer supporters, and further sites with --programmes) and write programmes.csv, "
            "participants.csv, group_sessions.csv, contacts.csv, measures.csv, true_effects.csv and catalog.json "
            "into a folder. The same seed gives the same files. true_effects.csv holds the values an analysis "
            "should recover (take-up rate, baseline mean and SD, mean change at 12 weeks, dose effect)."
        ),
    )
    p.add_argument("--participants", type=positive_int, required=True, metavar="N",
                   help="number of referrals in total, shared between the programmes")
    p.add_argument("--out", type=Path, required=True, metavar="DIR",
                   help="folder to write into (created if missing; files of the same names are replaced)")
    p.add_argument("--seed", type=_int, default=0, metavar="S", help="random seed (default 0)")
    p.add_argument("--programmes", type=positive_int, default=4, metavar="K",
                   help="number of programmes before any outlier (default 4; more cycle the four formats)")
    p.add_argument("--outlier", action="store_true",
                   help="add P-OUTLIER, a programme with far smaller improvements than the others")
    p.add_argument("--experience", action="store_true",
                   help="add the peer-support experience questionnaires (pex_group, pex_one_to_one) with known "
                        "relations to take-up and outcomes (the shipped examples have them)")
    p.add_argument("--layout", choices=("tables", "wide"), default="tables",
                   help="'tables' (default): the five canonical tables as CSV files; 'wide': a provider-style "
                        "workbook wide.xlsx with one row per mother and start/end totals, messy as real ones are "
                        "(titles, typed codes, dd/mm/yyyy dates, fake identifying columns to be dropped), plus "
                        "programmes.csv and true_effects.csv; read it with 'evalkit map'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evalkit.generator import generate_programmes, write_examples

    data = generate_programmes(args.participants, seed=args.seed, n_programmes=args.programmes,
                               outlier_programme=args.outlier, experience=args.experience)
    if getattr(args, "layout", "tables") == "wide":
        return _run_wide(data, args.out)
    frames = {**data.tables, "true_effects": data.true_effects}
    written = write_examples(data, args.out)
    for path in written:
        rows = frames.get(path.stem)
        detail = f"{len(rows)} rows" if rows is not None else "catalog"
        print(f"wrote {path} ({detail})")
    print(f"{len(data.programmes)} programmes, seed {data.seed}; true effects in {args.out / 'true_effects.csv'}")
    return 0


def _run_wide(data: ExampleData, out: Path) -> int:
    """Write the one-row-per-mother workbook, the programme register and the true effects."""
    from evalkit.generator import write_wide_workbook
    from evalkit.generator._output import TRUE_EFFECTS_FILE, write_csv

    out.mkdir(parents=True, exist_ok=True)
    book = write_wide_workbook(data, out / "wide.xlsx", seed=data.seed)
    write_csv(data.programmes, out / "programmes.csv")
    write_csv(data.true_effects, out / TRUE_EFFECTS_FILE)
    print(f"wrote {book} (one sheet per programme, {len(data.participants)} mothers)")
    print(f"wrote {out / 'programmes.csv'} and {out / TRUE_EFFECTS_FILE}")
    one = f" --programme {data.programmes['programme_id'].iloc[0]}" if len(data.programmes) == 1 else ""
    print(f"next: evalkit map {book}{one} -o {out / 'mapping.json'}")
    return 0
