"""``evalkit score IN.csv -o OUT.csv``: score questionnaires from a CSV file."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import pandas as pd

from evalkit.errors import InputFileError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "score",
        help="score questionnaires (totals, subscales, caseness, safety flags)",
        description=(
            "Read a measures CSV (one row per questionnaire: instrument, item_1 ... item_N, optional total) "
            "and write it back with score, raw_score, items_answered, score_status, score_reason, caseness, "
            "flag_* and subscale_* columns added. Every input column is kept."
        ),
    )
    p.add_argument("input", type=Path, help="measures CSV file")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the scored CSV")
    p.add_argument("--item-coding", choices=["keyed", "response_position"], default="keyed",
                   help="items hold keyed scores (default) or printed option positions (reverse keys applied)")
    p.add_argument("--instruments-dir", type=Path, action="append", default=[],
                   help="extra folder of instrument definition files (repeatable)")
    p.set_defaults(func=run)


def read_csv_as_text(path: Path) -> pd.DataFrame:
    """Read a CSV keeping every cell as text, with a clear error when it cannot be read."""
    from evalkit.readers.limits import ReadLimits, check_file_size, check_shape

    if not path.is_file():
        raise InputFileError("file not found", file=str(path))
    limits = ReadLimits()  # EVALKIT_MAX_* limits, as for every upload
    check_file_size(path, limits)
    last: Exception | None = None
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding,
                                sep=None, engine="python")
            check_shape(len(frame), frame.shape[1], file_label=str(path), limits=limits)
            return frame
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError, csv.Error) as exc:
            raise InputFileError(f"cannot be read as CSV ({exc}). Expected a comma- or semicolon-separated text file "
                                 "with a header row.", file=str(path)) from exc
    raise InputFileError(f"is not text in UTF-8 or Windows-1252 ({last}).", file=str(path))


def run(args: argparse.Namespace) -> int:
    from evalkit.instruments import load_instruments
    from evalkit.safe_export import safe_frame
    from evalkit.scoring import score

    frame = read_csv_as_text(args.input)
    if "instrument" not in frame.columns:
        raise InputFileError("has no 'instrument' column; a measures file needs instrument, item_1 ... item_N "
                             f"(found: {', '.join(frame.columns[:12])})", file=str(args.input))
    registry = load_instruments(args.instruments_dir)
    scored = score(frame, instruments=registry, item_coding=args.item_coding)
    safe_frame(scored).to_csv(args.output, index=False)  # no cell a spreadsheet would run as a formula
    counts = scored["score_status"].value_counts().to_dict()
    summary = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"scored {len(scored)} questionnaires -> {args.output} ({summary})")
    return 0
