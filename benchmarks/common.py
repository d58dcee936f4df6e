"""Shared pieces of the benchmark scripts: sizes, the data cache, timing and peak memory.

Every stage runs in its own subprocess (see :mod:`benchmarks.run`), so its peak
memory is its own. Inside a stage, :func:`measure` times one step and records
the process's peak resident memory *during that step*: the kernel's high-water
mark (``VmHWM``) is reset through ``/proc/self/clear_refs`` before the step and
read after it; a psutil thread sampling RSS every 20 ms backs it up where the
reset is not allowed.

A record is a dict with ``stage``, ``size`` (participants), ``step``,
``seconds`` (wall), ``cpu_s`` (CPU time of the process, all threads: less
sensitive to other processes on a loaded machine), ``peak_mb``, ``rows`` and
optional ``note``. Baselines are records
like any other, with ``baseline_of`` naming the step they are the baseline of;
ratios are computed by the driver from records of the same run.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

DEFAULT_DATA = Path(os.environ.get("EVALKIT_BENCH_DATA", "/tmp/evalkit-bench-data"))
PROVIDER = "Benchmark provider"
SECRET = b"benchmark-secret-0123456789abcdef"
TABLES = ("programmes", "participants", "group_sessions", "contacts", "measures")


def parse_size(text: str) -> int:
    """'1k' -> 1000, '1M' -> 1_000_000, '2500' -> 2500."""
    t = text.strip()
    mult = {"k": 1_000, "K": 1_000, "m": 1_000_000, "M": 1_000_000}.get(t[-1:], 1)
    return int(float(t[:-1] if mult > 1 else t) * mult)


def size_label(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


VOLUMES = ("generator", "issue")
"""How many contacts and questionnaires each participant has in the benchmark data: ``generator``, as the example
generator makes them (about 4.7 contacts and 3.3 questionnaires per participant), or ``issue``, the workload
issue #8 names (about 10 contacts and 4 questionnaires each; :func:`issue_volume`)."""
VOLUME = os.environ.get("EVALKIT_BENCH_VOLUME", "generator")
if VOLUME not in VOLUMES:
    raise SystemExit(f"EVALKIT_BENCH_VOLUME={VOLUME!r}: expected one of {', '.join(VOLUMES)}")


def data_dir(n: int, root: Path = DEFAULT_DATA) -> Path:
    """The folder of size ``n``'s data: ``n100k``, or ``n100k-issue`` at the issue's volume (:data:`VOLUME`)."""
    return root / (f"n{size_label(n)}" if VOLUME == "generator" else f"n{size_label(n)}-{VOLUME}")


def data_version() -> str:
    """A hash of the generator's code and the Table Schemas: cached data made by other versions are remade."""
    import hashlib

    h = hashlib.sha1()
    for path in sorted([*(ROOT / "evalkit" / "generator").glob("*.py"), *(ROOT / "schemas" / "tables").glob("*.json")]):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def ensure_data(n: int, root: Path = DEFAULT_DATA) -> Path:
    """Generate ``n`` participants once (seed 1): CSV files as providers send them, and typed parquet.

    ``csv/`` holds the five tables as :func:`evalkit.generator.write_examples`
    writes them (the programmes' provider set to one benchmark provider, so the
    whole set is one upload); ``parquet/`` holds the same canonical typed
    tables for the stages that start after validation.
    """
    out = data_dir(n, root)
    done = out / "done.json"
    version = data_version()
    if done.exists():
        if json.loads(done.read_text()).get("version") == version:
            return out
        import shutil

        shutil.rmtree(out)  # made by another generator or schema version
    from evalkit.generator import generate_programmes
    from evalkit.generator._output import write_csv

    t = time.perf_counter()
    data = generate_programmes(n, seed=1)
    tables = dict(data.tables)
    tables["programmes"] = tables["programmes"].assign(provider=PROVIDER)
    if VOLUME == "issue":
        tables = issue_volume(tables, seed=1)
    (out / "csv").mkdir(parents=True, exist_ok=True)
    (out / "parquet").mkdir(parents=True, exist_ok=True)
    rows = {}
    for name in TABLES:
        write_csv(tables[name], out / "csv" / f"{name}.csv")
        tables[name].to_parquet(out / "parquet" / f"{name}.parquet", index=False)
        rows[name] = len(tables[name])
    done.write_text(json.dumps({"participants": n, "rows": rows, "generate_s": round(time.perf_counter() - t, 2),
                                "version": version, "volume": VOLUME}))
    return out


def issue_volume(tables: dict[str, Any], *, seed: int) -> dict[str, Any]:
    """The generator's tables with about 10 contacts and 4 questionnaires per participant, as issue #8 sizes its
    workload, instead of the generator's 4.7 and 3.3.

    Every contact that is not a text gets a text contact on the same day (a peer supporter's message after a
    session or call), and every attended group session also a telephone call; every EPDS questionnaire gets a
    GAD-7 on the same day with probability 0.6, its seven items drawn uniformly from 0-3. A new row whose key
    (contacts: participant, date and kind; measures: participant, instrument and date) is taken already is
    left out, so the data stay free of errors. Other tables are unchanged.

    Parameters
    ----------
    tables
        The generator's canonical tables by name.
    seed
        Seed of the GAD-7 draws.

    Returns
    -------
    dict
        The tables, ``contacts`` and ``measures`` with the new rows after the generator's, in canonical dtypes.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    contacts = tables["contacts"]
    texts = contacts[contacts["kind"] != "text"].assign(kind="text", status="attended", duration_minutes=10)
    calls = contacts[(contacts["kind"] == "group_session") & (contacts["status"] == "attended")].assign(
        kind="telephone", duration_minutes=20)
    added = pd.concat([texts, calls], ignore_index=True).assign(group_session_id=pd.NA)
    dense_contacts = _new_keys_only(contacts, added, ["participant_id", "contact_date", "kind"])
    measures = tables["measures"]
    epds = measures[measures["instrument"] == "epds"]
    gad7 = epds[rng.random(len(epds)) < 0.6].assign(instrument="gad7")
    for column in [c for c in measures.columns if c.startswith("item_")]:
        answered = int(column.removeprefix("item_")) <= 7  # GAD-7's seven items; the rest blank
        values = rng.integers(0, 4, len(gad7)).astype("float64") if answered else np.full(len(gad7), np.nan)
        gad7[column] = pd.array(values, dtype=measures[column].dtype)
    if "total" in gad7.columns:
        gad7["total"] = pd.array(np.full(len(gad7), np.nan), dtype=measures["total"].dtype)
    dense_measures = _new_keys_only(measures, gad7, ["participant_id", "instrument", "completed_on"])
    return {**tables, "contacts": dense_contacts, "measures": dense_measures}


def _new_keys_only(frame: Any, added: Any, key: list[str]) -> Any:
    """``frame`` followed by the rows of ``added`` whose key is in neither (the first of repeated new keys),
    in ``frame``'s dtypes."""
    import pandas as pd

    added = added.astype(frame.dtypes.to_dict())
    both = pd.concat([frame, added], ignore_index=True)
    return both[~both.duplicated(key, keep="first")].reset_index(drop=True)


def data_info(n: int, root: Path = DEFAULT_DATA) -> dict[str, Any]:
    return json.loads((data_dir(n, root) / "done.json").read_text())


def load_tables(n: int, names: tuple[str, ...] = TABLES, root: Path = DEFAULT_DATA) -> dict[str, Any]:
    """The canonical typed tables of size ``n`` (from the parquet cache)."""
    import pandas as pd

    d = data_dir(n, root) / "parquet"
    return {name: pd.read_parquet(d / f"{name}.parquet") for name in names}


def csv_paths(n: int, root: Path = DEFAULT_DATA) -> dict[str, Path]:
    d = data_dir(n, root) / "csv"
    return {name: d / f"{name}.csv" for name in TABLES}


def import_reading_modules() -> None:
    """Import, before any timing, the modules :func:`evalkit.readers.read_file` imports on its first call.

    Steps are timed with every import done (as pyarrow's baseline read is); the readers' wide-file modules
    were imported inside the first timed read, 0.02-0.03 s of compiling where Python writes no bytecode
    (``PYTHONDONTWRITEBYTECODE``, set on this machine).
    """
    import pyarrow.csv  # noqa: F401

    import evalkit.limits  # noqa: F401
    import evalkit.readers  # noqa: F401
    import evalkit.readers.messy  # noqa: F401
    import evalkit.readers.wide  # noqa: F401


# --- memory -----------------------------------------------------------------------------------------------

def _status_kb(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


class _Sampler(threading.Thread):
    def __init__(self, interval: float = 0.02) -> None:
        super().__init__(daemon=True)
        import psutil

        self.proc = psutil.Process()
        self.interval = interval
        self.peak = self.proc.memory_info().rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            self.stop.wait(self.interval)


RECORDS: list[dict[str, Any]] = []


def release_before_step() -> None:
    """Hand back the memory earlier steps of this process freed, as evalkit does between its own large steps.

    Freed arrays stay resident in Arrow's pools and glibc's heaps (:mod:`evalkit.memory`). A stage runs
    several steps in one process (three read + validate passes, or parquet loading before the analyses), and
    without this a step's peak counted, on top of its own, the pages that earlier steps had freed: at 1M
    participants of the issue's volume, about 740 MB after loading the parquet tables. A user's process
    running the step alone starts without them (``evalkit validate`` as a process of its own is measured too).
    :func:`evalkit.memory.release_freed_memory` acts only above 1 GiB resident, so small sizes are untouched.
    """
    from evalkit.memory import release_freed_memory

    release_freed_memory()


@contextlib.contextmanager
def measure(stage: str, size: int, step: str, *, rows: int | None = None, baseline_of: str | None = None,
            note: str | None = None) -> Iterator[dict[str, Any]]:
    """Time a step and record its peak RSS; the record (yielded, mutable) is appended to :data:`RECORDS`.

    Before the step, what earlier steps of the process freed is handed back (:func:`release_before_step`),
    so that the peak is the step's own and not the heap that earlier steps left behind.
    """
    gc.collect()
    release_before_step()
    rec: dict[str, Any] = {"stage": stage, "size": size, "step": step, "rows": rows}
    if baseline_of:
        rec["baseline_of"] = baseline_of
    if note:
        rec["note"] = note
    reset = _reset_hwm()
    sampler = _Sampler()
    sampler.start()
    t = time.perf_counter()
    c = time.process_time()
    try:
        yield rec
    finally:
        rec["seconds"] = time.perf_counter() - t
        rec["cpu_s"] = round(time.process_time() - c, 3)
        sampler.stop.set()
        sampler.join()
        hwm = _status_kb("VmHWM") if reset else None
        peak = max(sampler.peak, (hwm or 0) * 1024)
        rec["peak_mb"] = round(peak / 2**20, 1)
        rec["load1"] = round(os.getloadavg()[0], 2)
        RECORDS.append(rec)
        print(f"  {stage:<14} {size_label(size):>5} {step:<34} {rec['seconds']:9.3f} s  cpu {rec['cpu_s']:8.3f} s  {rec['peak_mb']:8.1f} MB",
              file=sys.stderr, flush=True)


def emit() -> None:
    """Print the records as the last line of stdout (the driver reads it)."""
    sys.stdout.write("RECORDS " + json.dumps(RECORDS, default=str) + "\n")
    sys.stdout.flush()


def stage_main(run) -> None:  # noqa: ANN001
    """Entry point of a stage module: ``python -m benchmarks.stage_x SIZE [--option value ...]``."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("size", type=parse_size)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--pg", default=os.environ.get("EVALKIT_TEST_PG_URL"))
    parser.add_argument("--opt", action="append", default=[], help="stage option key=value")
    args = parser.parse_args()
    opts = dict(o.split("=", 1) for o in args.opt)
    # The 1M-participant contacts.csv is 317 MB, over the default 200 MB upload limit (evalkit/limits.py), and at
    # the issue's volume (VOLUME) 616 MiB of 10.6M rows, over the default 5M rows a file; the benchmark raises the
    # limits through their documented settings rather than splitting the file.
    os.environ.setdefault("EVALKIT_MAX_UPLOAD_MB", "1024")
    os.environ.setdefault("EVALKIT_MAX_ROWS", "20000000")
    try:
        run(args.size, root=args.data, pg=args.pg, **opts)
    finally:
        emit()
