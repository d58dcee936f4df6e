"""Read + validate + score of one size's five CSV files, repeated in one process: fastest and median.

The stage :mod:`benchmarks.stage_read_validate` times two passes, each once, next to pyarrow's read. A single
pass on a shared machine moves by a fifth or more from one run to the next, so to compare two versions of the
code this script repeats the pass and prints, for each step, the fastest and the median CPU seconds (all
threads) and the wall seconds of the three together. Run the old and the new code in turn, each from its own
checkout, and compare within the same minutes::

    cd <checkout> && PYTHONPATH=<checkout> python -m benchmarks.repeat_read_validate 100k --passes 7

Run it from the checkout's own directory: ``python -m`` puts the working directory first on the import path,
so from another checkout that one's ``evalkit`` is imported whatever ``PYTHONPATH`` says (the first line printed
names the ``evalkit`` that was imported).

``--read-ahead`` times the files read as ``evalkit validate`` reads them (the stage's read-ahead pass), repeated.

The first pass is not counted (it fills caches and faults in memory). The data are made by
:func:`benchmarks.common.ensure_data` as for the stages.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.common import DEFAULT_DATA, TABLES, csv_paths, ensure_data, import_reading_modules, parse_size

STEPS = ("read", "validate", "score", "all three")


def repeat(size: int, passes: int, *, read_ahead: bool = False) -> dict[str, dict[str, list[float]]]:
    """CPU and wall seconds of each step for ``passes`` passes after a first, uncounted one.

    With ``read_ahead`` the files are read as ``evalkit validate`` reads them
    (:func:`evalkit.readers.ahead.read_files_ahead`: each file parsed in the background while the tables before it
    are checked), so "read" is only the start (planning the tables) and "validate" holds the rest of the reading.
    """
    from evalkit.readers import read_file
    from evalkit.readers.ahead import planned_tables, read_files_ahead
    from evalkit.scoring import score
    from evalkit.validation import validate
    from evalkit.validation.core import default_instruments

    ensure_data(size, DEFAULT_DATA)
    import_reading_modules()
    default_instruments()
    paths = csv_paths(size, DEFAULT_DATA)
    planned_tables([paths[name] for name in TABLES])  # its first call in a process fills caches (the stage's note)
    times: dict[str, dict[str, list[float]]] = {step: {"cpu": [], "wall": []} for step in STEPS}
    for counted in [False] + [True] * passes:
        marks = [(time.process_time(), time.perf_counter())]
        if read_ahead:
            with read_files_ahead([paths[name] for name in TABLES]) as ahead:
                marks.append((time.process_time(), time.perf_counter()))
                result = validate(ahead)
        else:
            raw: dict = {}
            for name in TABLES:
                raw.update(read_file(paths[name], table=name))
            marks.append((time.process_time(), time.perf_counter()))
            result = validate(raw)
            del raw
        marks.append((time.process_time(), time.perf_counter()))
        score(result.tables["measures"])
        marks.append((time.process_time(), time.perf_counter()))
        del result
        if not counted:
            continue
        for step, (start, end) in zip(STEPS, [(0, 1), (1, 2), (2, 3), (0, 3)], strict=True):
            times[step]["cpu"].append(marks[end][0] - marks[start][0])
            times[step]["wall"].append(marks[end][1] - marks[start][1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("size", help="participants: 1k, 10k, 100k or 1M")
    parser.add_argument("--passes", type=int, default=7, help="passes counted (after one uncounted)")
    parser.add_argument("--read-ahead", action="store_true",
                        help="read the files as evalkit validate does, each parsed while the tables before it are "
                             "checked (the 'read' step is then only the planning)")
    args = parser.parse_args()
    import evalkit

    times = repeat(parse_size(args.size), args.passes, read_ahead=args.read_ahead)
    print(f"evalkit from {evalkit.__file__}; {args.passes} passes at {args.size}"
          + (", files read ahead" if args.read_ahead else ""))
    print(f"{'step':10s} {'CPU fastest':>12s} {'CPU median':>11s} {'wall fastest':>13s} {'wall median':>12s}")
    for step, t in times.items():
        print(f"{step:10s} {min(t['cpu']):12.3f} {statistics.median(t['cpu']):11.3f} "
              f"{min(t['wall']):13.3f} {statistics.median(t['wall']):12.3f}")


if __name__ == "__main__":
    main()
