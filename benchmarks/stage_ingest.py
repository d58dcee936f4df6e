"""Validate + ingest one size into SQLite or PostgreSQL, as ``evalkit ingest`` does, against ``DataFrame.to_sql``.

Steps, the calls ``evalkit ingest`` makes (:func:`evalkit.ingest.check_upload`
then :func:`evalkit.ingest.ingest`), made one by one here so each is timed; one
upload holds the five CSV files of one provider:

* ``read`` - :func:`evalkit.readers.read_file` per file (not part of the target);
* ``pseudonymise`` - :func:`evalkit.pseudonymise.refuse_identifiers` and
  :func:`~evalkit.pseudonymise.pseudonymise_frame` of every table;
* ``load stored rows`` - :func:`evalkit.ingest.stored_rows_for_upload`: the
  provider's stored rows the upload touches, in the columns validation reads
  (empty on the first upload), passed to validation, as ``evalkit ingest`` does;
* ``validate`` - :func:`evalkit.validation.validate` with those rows;
* ``ingest`` - :func:`evalkit.ingest.ingest` (one transaction);
* ``validate+ingest`` - the four steps after reading (target: 100k into SQLite < 30 s);
* ``load tables`` - :func:`evalkit.store.load_tables` of every table without the
  provenance columns, as the dashboard, ``evalkit outcomes`` and ``evalkit report``
  read the database before any analysis (after the first upload);
* ``command: evalkit outcomes`` / ``report`` / ``summary`` - the analysis commands on the database after
  the first upload (``outcomes --db URL --no-models``, ``report --db URL --no-models --no-figures``,
  ``summary --db URL``), each as a process of its own: its wall time, CPU time (``os.wait4``) and peak resident
  memory (its own ``VmHWM``), as a user meets them;
* ``re-upload: ...`` - the same upload again into the now full database
  (every row compared, none written): shows the cost of the stored rows;
* ``changed re-upload: ...`` - ``contacts.csv`` sent again with every recorded duration one minute longer
  (:func:`changed_contacts`), as a provider re-sends her spreadsheet after correcting one column: every such row
  is compared, its stored values written to the audit history and the row updated;
* ``to_sql (baseline)`` - ``DataFrame.to_sql`` of the same canonical tables
  into an empty database of the same kind (no checks, no keys compared).

Option ``db=sqlite`` (default) or ``db=postgresql`` (needs ``--pg`` or
``EVALKIT_TEST_PG_URL``; each run uses a fresh schema, dropped afterwards).
Option ``reupload=0`` skips the second upload; ``baseline=0`` skips the ``to_sql`` baseline; ``commands=0`` skips
the analysis commands; ``changed=1`` / ``changed=0`` runs or skips the changed re-upload (by default it runs up to
100k participants: at 1M it changes 9.4M rows and takes minutes).
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from benchmarks.common import (
    PROVIDER,
    SECRET,
    TABLES,
    csv_paths,
    data_info,
    ensure_data,
    import_reading_modules,
    load_tables,
    measure,
    stage_main,
)


def _fresh(kind: str, tmp: Path, pg: str | None):  # noqa: ANN202
    if kind == "sqlite":
        return f"sqlite:///{tmp / (uuid.uuid4().hex + '.sqlite')}", (lambda: None)
    if not pg:
        raise SystemExit("PostgreSQL: pass --pg URL or set EVALKIT_TEST_PG_URL")
    from benchmarks.bench_ingest import pg_schema_url

    return pg_schema_url(pg)


def upload(stage: str, size: int, url: str, prefix: str, rows: int, *, paths: dict[str, Path]) -> float:
    """Upload the files ``paths`` (table -> CSV) as one upload, each call ``evalkit ingest`` makes timed as a step."""
    from evalkit.ingest import ingest, stored_rows_for_upload
    from evalkit.pseudonymise import pseudonymise_frame, refuse_identifiers
    from evalkit.readers import read_file
    from evalkit.store import open_store
    from evalkit.validation import validate

    with measure(stage, size, prefix + "read", rows=rows):
        raw = {}
        for name, path in paths.items():
            raw.update(read_file(path, table=name))
    secs = {}
    with measure(stage, size, prefix + "pseudonymise", rows=rows) as r:
        refuse_identifiers(raw)
        raw = {t: pseudonymise_frame(f, secret=SECRET, namespace=PROVIDER) for t, f in raw.items()}
    secs["p"] = r
    store = open_store(url)
    try:
        with measure(stage, size, prefix + "load stored rows", rows=rows) as r:
            loaded = {"existing": stored_rows_for_upload(store, raw, PROVIDER)}
            r["stored_rows"] = sum(len(f) for f in loaded["existing"].values())
        secs["l"] = r
        with measure(stage, size, prefix + "validate", rows=rows) as r:
            # handed over as check_upload hands them: validation holds the only reference, and lets the stored
            # rows go once it has compared them
            result = validate(raw, existing=loaded.pop("existing"))
        secs["v"] = r
        del raw
        with measure(stage, size, prefix + "ingest", rows=rows) as r:
            summary = ingest(result, store, provider=PROVIDER, file_name="bench", sha256="0" * 64, secret=SECRET)
            r["accepted"], r["quarantined"] = summary.total_accepted, summary.total_quarantined
            r["unchanged"] = summary.total_unchanged
            r["updated"] = summary.total_updated
        secs["i"] = r
    finally:
        store.close()
    from benchmarks.common import RECORDS

    total = sum(x["seconds"] for x in secs.values())
    RECORDS.append({"stage": stage, "size": size, "step": prefix + "validate+ingest", "rows": rows, "seconds": total,
                    "cpu_s": round(sum(x["cpu_s"] for x in secs.values()), 3), "peak_mb": max(x["peak_mb"] for x in secs.values()), "load1": secs["i"]["load1"],
                    "note": "pseudonymise + load stored rows + validate + ingest"})
    return total


def changed_contacts(source: Path, out: Path) -> int:
    """Write ``source`` (a ``contacts.csv`` of plain cells, as the generator writes it) to ``out`` with every recorded
    ``duration_minutes`` one more; return how many rows changed. The header line is copied as it is and every cell is
    read and written as text without quotes, so nothing else in the file changes."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    with open(source, newline="") as handle:
        first = handle.readline()
    header = first.rstrip("\r\n").split(",")
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=False))
    text = table["duration_minutes"]
    recorded = pc.not_equal(text, "")
    longer = pc.cast(pc.add(pc.cast(pc.if_else(recorded, text, "0"), pa.int64()), 1), pa.string())
    table = table.set_column(header.index("duration_minutes"), "duration_minutes", pc.if_else(recorded, longer, text))
    with open(out, "w", newline="") as handle:
        handle.write(first)
    with open(out, "ab") as handle:
        pacsv.write_csv(table, handle, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return int(pc.sum(recorded).as_py() or 0)


def load_stored_tables(stage: str, size: int, url: str, rows: int) -> None:
    """Measure :func:`evalkit.store.load_tables` of the whole database, as the analyses load it."""
    from evalkit.access import Scope
    from evalkit.store import load_tables as load_stored
    from evalkit.store import open_store

    store = open_store(url)
    try:
        with measure(stage, size, "load tables", rows=rows) as r:
            tables = load_stored(store, Scope.admin(), provenance=False)
            r["loaded_rows"] = sum(len(f) for f in tables.values())
            del tables
    finally:
        store.close()


_CHILD = """
import atexit, sys
def _peak(path=sys.argv[1]):
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM"))
    with open(path, "w") as out:
        out.write(kb)
atexit.register(_peak)
from evalkit.cli import main
sys.exit(main(sys.argv[2:]))
"""
"""A command run in a child that writes its own peak resident memory (``VmHWM``, kB) to a file as it exits: the
child's ``ru_maxrss`` would count the benchmark process's memory at the fork."""

COMMANDS = (
    ("outcomes", ["outcomes", "--no-models"]),
    ("report", ["report", "--no-models", "--no-figures", "-o", "{tmp}/report.html"]),
    ("summary", ["summary", "-o", "{tmp}/summary.json"]),
)
"""The analysis commands measured on the database: name, then the arguments after ``evalkit`` (``--db`` added)."""


def analysis_commands(stage: str, size: int, url: str, rows: int, tmp: Path) -> None:
    """Run each of :data:`COMMANDS` on the database as a process of its own; record its time and peak memory."""
    import os
    import subprocess
    import sys
    import time

    from benchmarks.common import RECORDS, size_label

    for name, args in COMMANDS:
        peak_file = tmp / f"{name}.peak"
        argv = [sys.executable, "-c", _CHILD, str(peak_file), *(a.format(tmp=tmp) for a in args), "--db", url]
        log = tmp / f"{name}.stderr"
        with open(log, "wb") as err_file:  # a file, not a pipe: a full pipe would stop the child
            t = time.perf_counter()
            child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err_file)
            _, status, usage = os.wait4(child.pid, 0)
            seconds = time.perf_counter() - t
        child.returncode = os.waitstatus_to_exitcode(status)
        err = log.read_text(errors="replace")
        rec = {"stage": stage, "size": size, "step": f"command: evalkit {name}", "rows": rows, "seconds": seconds,
               "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
               "peak_mb": round(int(peak_file.read_text()) / 1024, 1) if peak_file.exists() else None,
               "load1": round(os.getloadavg()[0], 2), "note": " ".join(["evalkit", *args, "--db", "URL"])}
        if child.returncode != 0:
            rec["error"] = f"exit {child.returncode}: {err.strip()[-500:]}"
        RECORDS.append(rec)
        print(f"  {stage:<14} {size_label(size):>5} {rec['step']:<34} {seconds:9.3f} s  cpu {rec['cpu_s']:8.3f} s  "
              f"{rec['peak_mb'] or 0:8.1f} MB" + (f"  FAILED {rec['error']}" if "error" in rec else ""),
              file=sys.stderr, flush=True)


def run(size: int, *, root: Path, pg: str | None = None, db: str = "sqlite", reupload: str = "1", baseline: str = "1",
        commands: str = "1", changed: str = "auto", **_: str) -> None:
    import sqlalchemy as sa

    import evalkit.ingest  # noqa: F401
    import evalkit.store  # noqa: F401
    import evalkit.validation  # noqa: F401
    from evalkit.validation.core import default_instruments

    import_reading_modules()
    default_instruments()
    ensure_data(size, root)
    stage = "ingest_" + ("pg" if db.startswith("postgres") else "sqlite")
    kind = "postgresql" if db.startswith("postgres") else "sqlite"
    rows = sum(data_info(size, root)["rows"].values())
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        url, drop = _fresh(kind, Path(tmp), pg)
        try:
            files = csv_paths(size, root)  # the data folder given (``--data``), not the default one
            upload(stage, size, url, "", rows, paths=files)
            load_stored_tables(stage, size, url, rows)
            if commands != "0":
                analysis_commands(stage, size, url, rows, Path(tmp))
            if reupload != "0":
                upload(stage, size, url, "re-upload: ", rows, paths=files)
            if changed == "1" or (changed == "auto" and size <= 100_000):
                contacts = Path(tmp) / "contacts.csv"
                changed_contacts(files["contacts"], contacts)
                upload(stage, size, url, "changed re-upload: ", data_info(size, root)["rows"]["contacts"],
                       paths={"contacts": contacts})
        finally:
            drop()
        if baseline == "0":
            return
        tables = load_tables(size, TABLES, root)
        url, drop = _fresh(kind, Path(tmp), pg)
        try:
            engine = sa.create_engine(url)
            with measure(stage, size, "to_sql (baseline)", rows=rows, baseline_of="validate+ingest"):
                for name in TABLES:
                    tables[name].to_sql(name, engine, index=False, if_exists="replace", chunksize=10_000)
            engine.dispose()
        finally:
            drop()


if __name__ == "__main__":
    stage_main(run)
