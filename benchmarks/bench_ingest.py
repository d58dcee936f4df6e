"""Benchmark: validate + ingest of generated programmes into SQLite (and PostgreSQL), against pandas ``to_sql``.

Usage::

    python benchmarks/bench_ingest.py [--sizes 10000 100000] [--pg URL]

PostgreSQL runs when ``--pg`` or ``EVALKIT_TEST_PG_URL`` is given (each run in
a fresh schema, dropped afterwards). Prints one table; not a test.

Columns: ``rows`` (all tables), ``validate_s`` (:func:`evalkit.validation.validate`
of the raw string frames), ``ingest_s`` (first :func:`evalkit.ingest.ingest` into an
empty database: pseudonymise, identifier check, upsert, one transaction),
``reingest_s`` (the same upload again: every row compared, none written),
``to_sql_s`` (baseline: ``DataFrame.to_sql`` of the same canonical frames into an
empty database of the same kind, no keys compared, no transaction around all
tables), ``pseudonymise_1M_s`` (1,000,000 distinct ids).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from evalkit.canonical import PROVENANCE_COLUMNS, ValidationResult  # noqa: E402
from evalkit.ingest import ingest  # noqa: E402
from evalkit.pseudonymise import pseudonymise_ids  # noqa: E402
from evalkit.schemas import TABLE_NAMES  # noqa: E402
from evalkit.store import open_store  # noqa: E402
from evalkit.store._frames import raw_strings  # noqa: E402

PROVIDER = "Benchmark provider"
SECRET = b"benchmark-secret-0123456789abcdef"


def generated(n: int) -> dict[str, pd.DataFrame]:
    try:
        from evalkit.generator import generate_programmes
    except ImportError as exc:  # pragma: no cover - the generator lands separately
        raise SystemExit(f"evalkit.generator is not available yet ({exc}); nothing to benchmark") from exc
    tables = dict(generate_programmes(n, seed=1).tables)
    tables["programmes"] = tables["programmes"].assign(provider=PROVIDER)  # one upload, one provider
    return tables


def as_raw(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    out = {}
    for name, frame in tables.items():
        raw = raw_strings(frame, name)
        raw["source_file"] = f"{name}.csv"
        raw["source_sheet"] = pd.NA
        raw["source_row"] = pd.Series(range(2, len(raw) + 2), index=raw.index).astype("string")
        out[name] = raw.astype("string")
    return out


def pg_schema_url(base: str) -> tuple[str, callable]:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")

    def drop() -> None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()

    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}", drop


def fresh_url(kind: str, tmp: Path, pg: str | None) -> tuple[str, callable]:
    if kind == "sqlite":
        path = tmp / f"{uuid.uuid4().hex}.sqlite"
        return f"sqlite:///{path}", lambda: None
    return pg_schema_url(pg)


def run(n: int, kind: str, tmp: Path, pg: str | None, tables: dict, result: ValidationResult) -> dict:
    rows = sum(len(f) for f in tables.values())
    url, drop = fresh_url(kind, tmp, pg)
    try:
        store = open_store(url)
        t = time.perf_counter()
        first = ingest(result, store, provider=PROVIDER, file_name="bench", sha256="0" * 64, secret=SECRET)
        t_ingest = time.perf_counter() - t
        t = time.perf_counter()
        again = ingest(result, store, provider=PROVIDER, file_name="bench", sha256="0" * 64, secret=SECRET)
        t_again = time.perf_counter() - t
        assert again.total_unchanged == first.total_accepted, (again, first)
        store.close()
    finally:
        drop()
    url, drop = fresh_url(kind, tmp, pg)
    try:
        engine = sa.create_engine(url)
        t = time.perf_counter()
        for name in TABLE_NAMES:
            tables[name].to_sql(name, engine, index=False, if_exists="replace", chunksize=10_000)
        t_to_sql = time.perf_counter() - t
        engine.dispose()
    finally:
        drop()
    return {"participants": n, "db": kind, "rows": rows, "stored": first.total_accepted,
            "quarantined": first.total_quarantined, "ingest_s": round(t_ingest, 2),
            "reingest_s": round(t_again, 2), "to_sql_s": round(t_to_sql, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pg", default=os.environ.get("EVALKIT_TEST_PG_URL"))
    args = parser.parse_args()
    from evalkit.validation import validate

    ids = pd.Series([f"M{i:07d}" for i in range(1_000_000)], dtype="string")
    t = time.perf_counter()
    pseudonymise_ids(ids, secret=SECRET, namespace=PROVIDER)
    t_pseudo = time.perf_counter() - t
    kinds = ["sqlite"] + (["postgresql"] if args.pg else [])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            tables = generated(n)
            raw = as_raw(tables)
            t = time.perf_counter()
            result = validate(raw)
            t_validate = time.perf_counter() - t
            baseline = {k: v.drop(columns=list(PROVENANCE_COLUMNS), errors="ignore") for k, v in tables.items()}
            for kind in kinds:
                row = run(n, kind, Path(tmp), args.pg, baseline, result)
                row["validate_s"] = round(t_validate, 2)
                results.append(row)
                print(f"done: {n:,} participants, {kind}", file=sys.stderr)
    frame = pd.DataFrame(results)[["participants", "db", "rows", "stored", "quarantined", "validate_s", "ingest_s",
                                   "reingest_s", "to_sql_s"]]
    print(frame.to_string(index=False))
    print(f"\npseudonymise 1,000,000 distinct ids: {t_pseudo:.2f} s")


if __name__ == "__main__":
    main()
