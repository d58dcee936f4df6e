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
  measured as the floor is.
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


def run(size: int, *, root: Path, pg: str | None = None, **_: str) -> None:
    import pyarrow.csv as pacsv

    from evalkit.validation.core import default_instruments

    ensure_data(size, root)
    import_reading_modules()
    default_instruments()
    paths = csv_paths(size, root)
    rows = sum(data_info(size, root)["rows"].values())
    with measure(STAGE, size, "pyarrow csv read, first in the process (baseline)", rows=rows,
                 baseline_of="read+validate+score"):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    with measure(STAGE, size, "pyarrow csv read (floor)", rows=rows, baseline_of="read+validate+score" + AGAIN):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    _evalkit_pass(size, paths, rows, "")
    _evalkit_pass(size, paths, rows, AGAIN)


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
    parts = (r_read, r_val, r_score)
    RECORDS.append({"stage": STAGE, "size": size, "step": "read+validate+score" + suffix, "rows": rows,
                    "seconds": sum(r["seconds"] for r in parts), "cpu_s": round(sum(r["cpu_s"] for r in parts), 3),
                    "peak_mb": max(r["peak_mb"] for r in parts), "load1": r_score["load1"],
                    "note": "sum of the three steps above"})


if __name__ == "__main__":
    stage_main(run)
