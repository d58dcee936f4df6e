"""Read + validate + score the five CSV files of one size, against pyarrow's bare CSV read (the floor).

Steps (one subprocess, imports done before timing):

* ``pyarrow csv read (floor)`` - :func:`pyarrow.csv.read_csv` of the five files
  (types inferred, nothing checked): the least any reader can do; measured as the second read of the
  same files in the process, as the steps after it are (the first read, recorded as ``pyarrow csv read,
  first in the process``, is slower: it starts Arrow's threads and faults in their memory);
* ``read`` - :func:`evalkit.readers.read_file` of each file (the table named);
* ``validate`` - :func:`evalkit.validation.validate` of the five raw frames
  together (foreign keys, dates against referrals, instruments);
* ``score`` - :func:`evalkit.scoring.score` of the valid measures;
* ``read+validate+score`` - the sum, compared with the floor (target: at most 3x).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import TABLES, csv_paths, data_info, ensure_data, measure, stage_main

STAGE = "read_validate"


def run(size: int, *, root: Path, pg: str | None = None, **_: str) -> None:
    import pyarrow.csv as pacsv

    from evalkit.readers import read_file
    from evalkit.scoring import score
    from evalkit.validation import validate
    from evalkit.validation.core import default_instruments

    ensure_data(size, root)
    default_instruments()
    paths = csv_paths(size, root)
    rows = sum(data_info(size, root)["rows"].values())
    # the first read in a process also starts Arrow's threads and faults in its memory: recorded, but the floor
    # is the second read, so that neither the floor nor evalkit's read (after it) is measured cold
    with measure(STAGE, size, "pyarrow csv read, first in the process (baseline)", rows=rows):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    with measure(STAGE, size, "pyarrow csv read (floor)", rows=rows, baseline_of="read+validate+score"):
        for name in TABLES:
            pacsv.read_csv(paths[name])
    with measure(STAGE, size, "read", rows=rows) as r_read:
        raw = {}
        for name in TABLES:
            raw.update(read_file(paths[name], table=name))
    with measure(STAGE, size, "validate", rows=rows) as r_val:
        result = validate(raw)
        r_val["errors"] = result.n_errors
    del raw
    measures = result.tables["measures"]
    with measure(STAGE, size, "score", rows=len(measures)) as r_score:
        score(measures)
    total = r_read["seconds"] + r_val["seconds"] + r_score["seconds"]
    peak = max(r_read["peak_mb"], r_val["peak_mb"], r_score["peak_mb"])
    from benchmarks.common import RECORDS

    RECORDS.append({"stage": STAGE, "size": size, "step": "read+validate+score", "rows": rows, "seconds": total,
                    "cpu_s": round(r_read["cpu_s"] + r_val["cpu_s"] + r_score["cpu_s"], 3), "peak_mb": peak, "load1": r_score["load1"], "note": "sum of the three steps above"})


if __name__ == "__main__":
    stage_main(run)
