"""Read + validate + score the five CSV files of one size, against pyarrow's bare CSV read (the floor).

Steps (one subprocess, every import done before timing, including the modules ``read_file`` imports on its first
call):

* ``pyarrow csv read, first in the process (baseline)`` - :func:`pyarrow.csv.read_csv` of the five files
  (types inferred, nothing checked), the first read in the process: it also starts Arrow's threads and faults in
  their memory. Baseline of evalkit's first pass (cold against cold);
* ``pyarrow csv read (floor)`` - the same read again: the least any reader can do. Baseline of evalkit's second
  pass (warm against warm);
* ``read`` - :func:`evalkit.readers.read_file` of each file (the table named);
* ``validate`` - :func:`evalkit.validation.validate` of the five raw frames
  together (foreign keys, dates against referrals, instruments);
* ``score`` - :func:`evalkit.scoring.score` of the valid measures;
* ``read+validate+score`` - the sum (target: at most 3x the floor);
* the same three steps and their sum again (``..., again in the process``): evalkit's first pass pays its own
  first-call costs (caches filled, heap pages faulted in) as pyarrow's first read does; the second pass is
  measured as the floor is;
* ``pyarrow csv read (floor, before the read-ahead pass)``, then ``read ahead + validate`` - the files (their
  tables not named: planned from the file names, the header check behind that warmed before timing) read by
  :func:`evalkit.readers.ahead.read_files_ahead` while :func:`~evalkit.validation.validate` checks the tables
  already read, as ``evalkit validate`` does - then ``score`` and the sum ``read ahead+validate+score`` (a third,
  warm pass, against the floor read just before it).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import (
    RECORDS,
    TABLES,
    csv_paths,
    data_info,
    ensure_data,
    import_reading_modules,
    measure,
    stage_main,
)

STAGE = "read_validate"
AGAIN = ", again in the process"
AHEAD_SUM = "read ahead+validate+score"


def run(size: int, *, root: Path, pg: str | None = None, **_: str) -> None:
    import pyarrow.csv as pacsv

    from evalkit.validation.core import default_instruments

    ensure_data(size, root)
    import_reading_modules()
    default_instruments()
    paths = csv_paths(size, root)
    rows = sum(data_info(size, root)["rows"].values())
    # the read-ahead pass plans each file's table by its name, which asks whether the file is one row per mother
    # (looks_wide); its header classification fills caches on its first call in a process (0.9-2 s for these five
    # files, then about 0.01 s). The passes that name each file's table never ask; fill them untimed, as the
    # imports above, so that the read-ahead pass is timed warm like the others
    from evalkit.readers.ahead import planned_tables

    planned_tables([paths[name] for name in TABLES])
    with measure(STAGE, size, "pyarrow csv read, first in the process (baseline)", rows=rows,
                 baseline_of="read+validate+score"):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    with measure(STAGE, size, "pyarrow csv read (floor)", rows=rows, baseline_of="read+validate+score" + AGAIN):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    _evalkit_pass(size, paths, rows, "")
    _evalkit_pass(size, paths, rows, AGAIN)
    with measure(STAGE, size, "pyarrow csv read (floor, before the read-ahead pass)", rows=rows,
                 baseline_of=AHEAD_SUM):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    _read_ahead_pass(size, paths, rows)


def _evalkit_pass(size: int, paths: dict[str, Path], rows: int, suffix: str) -> None:
    """Time read, validate and score once, and record their sum (steps named with ``suffix``)."""
    from evalkit.readers import read_file
    from evalkit.scoring import score
    from evalkit.validation import validate

    with measure(STAGE, size, "read" + suffix, rows=rows) as r_read:
        raw = {}
        for name in TABLES:
            raw.update(read_file(paths[name], table=name))
    with measure(STAGE, size, "validate" + suffix, rows=rows) as r_val:
        result = validate(raw)
        r_val["errors"] = result.n_errors
    del raw
    measures = result.tables["measures"]
    with measure(STAGE, size, "score" + suffix, rows=len(measures)) as r_score:
        score(measures)
    del result, measures
    _record_sum("read+validate+score" + suffix, size, rows, (r_read, r_val, r_score), "sum of the three steps above")


def _read_ahead_pass(size: int, paths: dict[str, Path], rows: int) -> None:
    """Time the read-ahead read + validate (as ``evalkit validate`` runs them) and score, and record the sum."""
    from evalkit.readers.ahead import read_files_ahead
    from evalkit.scoring import score
    from evalkit.validation import validate

    with measure(STAGE, size, "read ahead + validate", rows=rows) as r_val:
        with read_files_ahead([paths[name] for name in TABLES]) as raw:
            r_val["read_ahead"] = type(raw).__name__ == "TablesReadAhead"
            result = validate(raw)
        r_val["errors"] = result.n_errors
    del raw
    measures = result.tables["measures"]
    with measure(STAGE, size, "score, after the read-ahead pass", rows=len(measures)) as r_score:
        score(measures)
    del result, measures
    _record_sum(AHEAD_SUM, size, rows, (r_val, r_score), "sum of the two steps above")


def _record_sum(step: str, size: int, rows: int, parts: tuple[dict, ...], note: str) -> None:
    """Record a step whose seconds and CPU seconds are the sums of ``parts``' and whose peak is their largest."""
    RECORDS.append({"stage": STAGE, "size": size, "step": step, "rows": rows,
                    "seconds": sum(r["seconds"] for r in parts), "cpu_s": round(sum(r["cpu_s"] for r in parts), 3),
                    "peak_mb": max(r["peak_mb"] for r in parts), "load1": parts[-1]["load1"], "note": note})


if __name__ == "__main__":
    stage_main(run)
