"""Shared test fixtures: databases (SQLite and a real PostgreSQL), a test secret, small canonical data."""

from __future__ import annotations

import os
import uuid
import weakref
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from evalkit.canonical import DTYPES, PROVENANCE_COLUMNS, ValidationResult

# Hypothesis profiles: "ci" (the default: bounded and derandomised, so CI is fast and reproducible)
# and "dev" (more examples). Choose with HYPOTHESIS_PROFILE=dev.
settings.register_profile(
    "ci", max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True,
    derandomize=True,
)
settings.register_profile("dev", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TEST_SECRET = "test-secret-8c1f0e6a4b2d4e0f9a7c"


@pytest.fixture(autouse=True)
def _test_secret(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tests never read or create the developer's real pseudonymisation key."""
    monkeypatch.setenv("EVALKIT_SECRET", TEST_SECRET)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))
    monkeypatch.delenv("EVALKIT_SECRET_FILE", raising=False)
    monkeypatch.delenv("EVALKIT_DB_URL", raising=False)


def _pg_url() -> str | None:
    url = os.environ.get("EVALKIT_TEST_PG_URL")
    if not url and os.environ.get("CI", "").lower() == "true":
        pytest.fail("EVALKIT_TEST_PG_URL is not set on CI: PostgreSQL tests must run there, not be skipped")
    return url or None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema (dropped afterwards); skips locally without a server."""
    base = _pg_url()
    if base is None:
        pytest.skip("EVALKIT_TEST_PG_URL not set (PostgreSQL tests run in CI)")
    import sqlalchemy as sa

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:  # noqa: ANN001
    """A fresh database URL, once for an SQLite file and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'evalkit.sqlite'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(db_url: str):  # noqa: ANN201
    """An open, empty store on both databases."""
    from evalkit.store import open_store

    s = open_store(db_url)
    yield s
    s.close()


def typed(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Give a frame of Python values the canonical dtypes of ``table`` (schema order, provenance last)."""
    from evalkit.schemas import table_schema

    schema = table_schema(table)
    out = pd.DataFrame(index=frame.index)
    for f in schema.fields:
        col = frame[f.name] if f.name in frame.columns else pd.Series(pd.NA, index=frame.index, dtype=object)
        if f.type == "date":
            out[f.name] = pd.to_datetime(col.astype(object)).astype(DTYPES["date"])
        elif f.type in ("integer", "number"):
            out[f.name] = pd.to_numeric(col.astype(object).where(col.notna(), np.nan)).astype(DTYPES[f.type])
        else:
            out[f.name] = col.astype(object).where(col.notna(), None).astype(DTYPES[f.type])
    out["source_file"] = pd.Series(frame.get("source_file", f"{table}.csv"), index=frame.index).astype("string")
    out["source_sheet"] = pd.Series(pd.NA, index=frame.index, dtype="string")
    out["source_row"] = pd.Series(np.arange(2, len(frame) + 2), index=frame.index).astype("Int64")
    return out


def example_frames(provider: str = "North", *, n: int = 20, seed: int = 0, prefix: str | None = None
                   ) -> dict[str, pd.DataFrame]:
    """Small, plausible canonical frames for one provider (two programmes, n participants each)."""
    rng = np.random.default_rng(seed)
    prefix = prefix or provider[:1].upper()
    progs = [f"P-{prefix}{i}" for i in (1, 2)]
    programmes = pd.DataFrame({
        "programme_id": progs, "name": [f"{provider} group", f"{provider} one-to-one"],
        "provider": provider, "format": ["group", "one_to_one"], "mode": ["in_person", "telephone"],
        "delivered_by": "volunteer_peers", "facilitation": ["co_facilitated", None], "planned_sessions": [None, 8],
        "region": "North West",
    })
    pid = [f"{prefix}{i:04d}" for i in range(2 * n)]
    prog_of = np.repeat(progs, n)
    ref = pd.Timestamp("2025-01-06") + pd.to_timedelta(rng.integers(0, 200, 2 * n), unit="D")
    participants = pd.DataFrame({
        "participant_id": pid, "programme_id": prog_of, "referral_date": ref,
        "referral_source": rng.choice(["midwife", "self", "health_visitor"], 2 * n),
        "took_up": rng.random(2 * n) < 0.8, "baby_age_weeks": rng.integers(0, 52, 2 * n) + 0.5,
        "deprivation_decile": rng.integers(1, 11, 2 * n), "main_language": "en",
    })
    sessions = pd.DataFrame({
        "group_session_id": [f"GS-{prefix}{i:03d}" for i in range(5)], "programme_id": progs[0],
        "session_date": pd.Timestamp("2025-03-03") + pd.to_timedelta(np.arange(5) * 7, unit="D"),
        "facilitators": 2, "head_count": rng.integers(3, 12, 5),
    })
    contacts = pd.DataFrame({
        "programme_id": prog_of[:n], "participant_id": pid[:n],
        "contact_date": sessions["session_date"].iloc[rng.integers(0, 5, n)].to_numpy(),
        "kind": "group_session", "status": rng.choice(["attended", "did_not_attend"], n),
        "duration_minutes": 120.0, "peer_supporter_id": rng.choice(["V01", "V02"], n),
    })
    contacts["group_session_id"] = sessions.set_index("session_date").loc[contacts["contact_date"],
                                                                           "group_session_id"].to_numpy()
    measures = pd.DataFrame({
        "programme_id": prog_of, "participant_id": pid, "instrument": "epds",
        "completed_on": ref + pd.Timedelta(days=7), "timepoint": "start",
        **{f"item_{i}": rng.integers(0, 4, 2 * n).astype(float) for i in range(1, 11)},
    })
    raw = {"programmes": programmes, "participants": participants, "group_sessions": sessions,
           "contacts": contacts, "measures": measures}
    return {t: typed(f, t) for t, f in raw.items()}


def result_of(frames: dict[str, pd.DataFrame], quarantine: dict[str, pd.DataFrame] | None = None
              ) -> ValidationResult:
    """A ValidationResult holding ``frames`` as valid rows (and optional quarantined raw rows)."""
    return ValidationResult(tables={k: v.copy() for k, v in frames.items()}, quarantine=dict(quarantine or {}))


@pytest.fixture
def example() -> Callable[..., dict[str, pd.DataFrame]]:
    """Factory of small canonical frames: ``example(provider="North", n=20, seed=0)``."""
    return example_frames


__all__ = ["PROVENANCE_COLUMNS", "TEST_SECRET", "example_frames", "result_of", "typed"]


def funnel_path(groups: dict[str, list[tuple[int, str | None, bool, bool]]]) -> pd.DataFrame:
    """A participant path (as :func:`evalkit.engagement.participant_path` gives) for funnel tests.

    ``groups``: per programme, one ``(last step index, exit reason, paired on A, paired on B)`` per mother
    (the strategy :data:`FUNNEL_PEOPLE` draws them). She reached every step up to the last; she is paired
    on a measure only when she reached 'paired', except now and then on A (a mother paired without a
    recorded take-up, as imported data can have it).
    """
    from evalkit.engagement import FUNNEL_STEPS, PAIRED_ON

    steps = list(FUNNEL_STEPS)
    rows = []
    for pid, people in groups.items():
        for i, (last, reason, on_a, on_b) in enumerate(people):
            row = {"programme_id": pid, "participant_id": f"{pid}-{i}"}
            row.update({s: k <= last for k, s in enumerate(steps)})
            row["last_step"] = steps[last]
            row["exit_reason"] = None if last == len(steps) - 1 else reason
            row[f"{PAIRED_ON}a"] = on_a and (last == len(steps) - 1 or i % 7 == 3)
            row[f"{PAIRED_ON}b"] = on_b and last == len(steps) - 1
            rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("programme_id", "participant_id", "last_step", "exit_reason"):
        out[c] = out[c].astype("string")
    return out


def funnel_people(max_size: int):  # noqa: ANN201 - a hypothesis strategy
    """Hypothesis strategy: the mothers of one programme for :func:`funnel_path` (at least one)."""
    from hypothesis import strategies as st

    from evalkit.engagement import FUNNEL_STEPS

    return st.lists(st.tuples(st.integers(0, len(FUNNEL_STEPS) - 1), st.sampled_from(["not_ready", "other", None]),
                              st.booleans(), st.booleans()), min_size=1, max_size=max_size)


def sorted_csv_rows(frame: pd.DataFrame, cols: list[str]) -> bytes:
    """The rows of ``frame[cols]`` as data_hash's docstring defines them (``to_csv``), sorted and joined by RS."""
    text = frame[cols].to_csv(index=False, header=False, sep="\x1f", lineterminator="\x1e", na_rep="\x00",
                              float_format="%.17g", date_format="%Y-%m-%d")
    return "\x1e".join(sorted(text.split("\x1e")[:-1])).encode("utf-8")


def reference_data_hash(tables: dict[str, pd.DataFrame], table_rows: Callable[[pd.DataFrame, list[str]], bytes]
                        ) -> str:
    """data_hash written out plainly, for tests: typed tables in name order, each one's header line (name, rows,
    used columns in name order), then ``table_rows(frame, cols)`` of a table with rows and used columns."""
    import hashlib

    from evalkit.data_source import coerce_tables
    from evalkit.schemas import table_schema

    typed_tables = coerce_tables(dict(tables))
    h = hashlib.sha256(b"evalkit-data-v1\n")
    for name in sorted(typed_tables):
        frame, schema = typed_tables[name], table_schema(name)
        cols = sorted(c for c in frame.columns if (c in schema.field_names or schema.is_item_column(c))
                      and frame[c].notna().any())
        h.update(f"\x1etable {name}\x1f{len(frame)}\x1f{chr(31).join(cols)}\n".encode())
        if cols and not frame.empty:
            h.update(table_rows(frame, cols))
    return h.hexdigest()


def buffer_ref(column: pd.Series) -> weakref.ref:
    """A weak reference to the numpy buffer under a numeric column (dead once no frame uses it): for tests that a
    function lets go of a table's columns."""
    values = column.to_numpy()
    while isinstance(values.base, np.ndarray):
        values = values.base
    return weakref.ref(values)
