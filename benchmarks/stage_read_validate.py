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
  warm pass, against the floor read just before it);
* ``pyarrow csv read, a process of its own (baseline)``, then ``evalkit validate, a process of its own`` - what a
  provider waits for at the command line: a fresh Python process that reads the five files with pyarrow (its
  import included), against ``python -m evalkit validate FILES`` (imports, files read ahead of validation, the
  identifier check that ingest would refuse on, the printed report; no scoring). Time, CPU (the child's user +
  system) and peak memory are the child process's own (``os.wait4``, ``VmHWM``); each command runs once untimed
  first (compiled modules written, files in the page cache).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import (
    RECORDS,
    ROOT,
    TABLES,
    csv_paths,
    data_info,
    ensure_data,
    import_reading_modules,
    measure,
    size_label,
    stage_main,
)

STAGE = "read_validate"
AGAIN = ", again in the process"
AHEAD_SUM = "read ahead+validate+score"
CLI_STEP = "evalkit validate, a process of its own"


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
    files = [str(paths[name]) for name in TABLES]
    _process_step("pyarrow csv read, a process of its own (baseline)", size, rows, ["pyarrow", *files],
                  baseline_of=CLI_STEP)
    _process_step(CLI_STEP, size, rows, ["evalkit", *files])


#: the child process: reads the files with pyarrow, or runs ``evalkit validate`` on them; then writes its peak
#: resident memory (``VmHWM``, which starts afresh at exec, unlike ``ru_maxrss``) as the last line of stderr
_CHILD = """
import sys
if sys.argv[1] == "pyarrow":
    import pyarrow.csv as c
    for p in sys.argv[2:]:
        c.read_csv(p)
    code = 0
else:
    from evalkit.cli import main
    code = main(["validate", *sys.argv[2:]])
with open("/proc/self/status") as status:
    sys.stderr.write("\\n" + next(line for line in status if line.startswith("VmHWM")))
sys.exit(code)
"""


def _process_step(step: str, size: int, rows: int, args: list[str], *, baseline_of: str | None = None) -> None:
    """Run :data:`_CHILD` with ``args`` (from the repository root) and record its wall, CPU and peak memory.

    It runs once untimed first, with Python writing its compiled modules (``__pycache__``) as it does for a
    user even where ``PYTHONDONTWRITEBYTECODE`` is set here, so that the timed run loads them as a user's does.
    """
    argv = [sys.executable, "-c", _CHILD, *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    # the child's messages go to a file, not a pipe: waiting for it while a full pipe blocks it would hang both
    with tempfile.TemporaryFile() as messages:
        started = time.perf_counter()
        child = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=messages)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        messages.seek(0)
        errors = messages.read().decode(errors="replace")
    if child.returncode != 0:
        raise RuntimeError(f"{step}: exit code {child.returncode}: {errors[-2000:]}")
    peak_kb = int(errors.strip().splitlines()[-1].split()[1])
    rec = {"stage": STAGE, "size": size, "step": step, "rows": rows, "seconds": seconds,
           "cpu_s": round(usage.ru_utime + usage.ru_stime, 3), "peak_mb": round(peak_kb / 1024, 1),
           "load1": round(os.getloadavg()[0], 2), "note": "a child process: its own time, CPU and peak memory"}
    if baseline_of:
        rec["baseline_of"] = baseline_of
    RECORDS.append(rec)
    print(f"  {STAGE:<14} {size_label(size):>5} {step:<34} {seconds:9.3f} s  cpu {rec['cpu_s']:8.3f} s  "
          f"{rec['peak_mb']:8.1f} MB", file=sys.stderr, flush=True)


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
