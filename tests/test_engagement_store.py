"""Engagement on tables loaded from the store gives the same figures as on the same data read from CSV.

Regression: ``attendance_summary`` raised "setting an array element with a
sequence" on store-loaded tables. The store returns nullable, Arrow-backed
``string`` columns (``pd.NA`` for missing), the CSV reader pandas' default
``str``; mapping attended-contact counts onto an Arrow-backed id column gives
an Arrow ``double`` whose float64 view is read-only, and the in-place
``.loc`` write into it failed.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import pytest
from conftest import TEST_SECRET

from evalkit import engagement
from evalkit._resources import resource_dir
from evalkit.access import Scope
from evalkit.data_source import read_csv_folder

EXAMPLES = resource_dir("examples/data")

# (name, call): every engagement function that aggregates, called as the dashboard and the report call them
CALLS: list[tuple[str, Callable[[dict[str, pd.DataFrame]], pd.DataFrame]]] = [
    ("attendance_summary", lambda t: engagement.attendance_summary(t)),
    ("attendance_summary by stage",
     lambda t: engagement.attendance_summary(t, by=("programme_id", "perinatal_stage"))),
    ("take_up_funnel", lambda t: engagement.take_up_funnel(t)),
    ("endings_summary", lambda t: engagement.endings_summary(t)),
    ("head_counts", lambda t: engagement.head_counts(t)),
    ("head_counts per session", lambda t: engagement.head_counts(t, per_session=True)),
    ("funnel_exits", lambda t: engagement.funnel_exits(t)),
    ("take_up_rate", lambda t: engagement.take_up_rate(t)),
]


@pytest.fixture(scope="module")
def csv_tables() -> dict[str, pd.DataFrame]:
    return read_csv_folder(EXAMPLES)


@pytest.fixture(scope="module")
def store_tables(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The example data ingested into a fresh SQLite store (read, validate, ingest per provider), loaded back."""
    from evalkit.ingest import check_upload, ingest, split_raw_by_provider
    from evalkit.readers import read_files
    from evalkit.store import load_tables, open_store

    url = "sqlite:///" + str(tmp_path_factory.mktemp("engagement-store") / "store.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_SECRET", TEST_SECRET)
        store = open_store(url)
        try:
            raw = read_files([EXAMPLES / f"{t}.csv" for t in ("programmes", "participants", "group_sessions",
                                                              "contacts", "measures")])
            for provider, part in split_raw_by_provider(raw).items():
                result = check_upload(part, store, provider)
                ingest(result, store, provider=provider, file_name="example", sha256="0" * 64, user="test")
            return load_tables(store, Scope(role="admin"))
        finally:
            store.close()


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    # ids keep their text; only the string dtype differs ('str' from CSV, nullable 'string' from the store)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True), check_dtype=False)


def test_store_tables_have_the_dtypes_that_broke_attendance(store_tables) -> None:  # noqa: ANN001
    pid = store_tables["participants"]["participant_id"]
    assert isinstance(pid.dtype, pd.StringDtype) and pid.dtype.na_value is pd.NA
    assert str(store_tables["participants"]["sessions_attended"].dtype) == "Int64"


@pytest.mark.parametrize("name, call", CALLS, ids=[c[0] for c in CALLS])
def test_store_loaded_equals_csv_loaded(name, call, csv_tables, store_tables) -> None:  # noqa: ANN001
    from_csv = call(csv_tables)
    from_store = call(store_tables)
    assert len(from_store), name
    _same(from_csv, from_store)


def test_attendance_without_measures_and_contacts_of_one_programme(csv_tables, store_tables) -> None:  # noqa: ANN001
    """The dose falls back to sessions_attended for programmes without contact rows, from either source."""
    def drop(t: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
        out = {k: v for k, v in t.items() if k != "measures"}
        c = out["contacts"]
        out["contacts"] = c[c["programme_id"].astype(str) != "P-HOME"].reset_index(drop=True)
        p = out["participants"].copy()  # the example has no sessions_attended: derive one the same in both
        home = (p["programme_id"].astype(str) == "P-HOME").to_numpy()
        reported = (p["referral_date"].dt.day % 6).astype("Int64")
        p["sessions_attended"] = reported.where(home, pd.NA).astype(p["sessions_attended"].dtype)
        out["participants"] = p
        return out

    a, b = drop(csv_tables), drop(store_tables)
    att_a, att_b = engagement.attendance_summary(a), engagement.attendance_summary(b)
    _same(att_a, att_b)
    home = att_b[att_b["programme_id"] == "P-HOME"]
    assert list(home["dose_source"]) == ["sessions_attended"]
    assert int(home["n_attended"].iloc[0]) > 0 and pd.isna(home["gap_days_median"].iloc[0])
    # participant_path's branch without measures does the same fallback
    _same(engagement.take_up_funnel(a), engagement.take_up_funnel(b))


def test_arrow_backed_nullable_strings_alone_reproduce_it(csv_tables) -> None:  # noqa: ANN001
    """No database needed: the CSV tables with the store's string dtype give the same attendance."""
    arrow = pd.StringDtype("pyarrow", na_value=pd.NA)
    t = {k: v.astype({c: arrow for c in v.columns if isinstance(v[c].dtype, pd.StringDtype)})
         for k, v in csv_tables.items()}
    _same(engagement.attendance_summary(csv_tables), engagement.attendance_summary(t))
