"""Property tests: validation never raises, never loses a row, and does not depend on row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.canonical import REPORT_COLUMNS
from evalkit.schemas import table_schema
from evalkit.validation import validate

TODAY = "2026-01-01"
SETTINGS = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cell = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "NA", "n/a", "=1+1", "-3", "3", "2.5", "nan", "inf", "-inf", "1e400", "03/04/2025",
                     "13/04/2025", "2025-02-30", "2025-04-01", "yes", "No", "epds", "EPDS", "phq9", "attended",
                     "M1", "M2", "P1", "GS1", "Health visitor", "99999999999999999999"]),
)


def table_frames(table: str, columns: list[str]) -> st.SearchStrategy[pd.DataFrame]:
    return st.lists(st.fixed_dictionaries({c: cell for c in columns}), min_size=0, max_size=8).map(
        lambda rows: pd.DataFrame(rows, columns=columns, dtype=object))


def upload() -> st.SearchStrategy[dict[str, pd.DataFrame]]:
    strategies = {}
    for table in ("programmes", "participants", "group_sessions", "contacts", "measures"):
        names = table_schema(table).field_names
        if table == "measures":
            names = names[:8] + ["item_21"]
        strategies[table] = table_frames(table, names)
    return st.fixed_dictionaries(strategies)


class _Instrument:
    def __init__(self, code: str, n: int) -> None:
        self.code, self.n_items, self.item_min, self.item_max = code, n, (0,) * n, (3,) * n
        self.total_range = (0, 3 * n)


INSTRUMENTS = {"epds": _Instrument("epds", 10), "phq9": _Instrument("phq9", 9)}


def check_result(raw: dict[str, pd.DataFrame], result) -> None:
    report = result.report
    assert list(report.columns) == list(REPORT_COLUMNS)
    assert report.notna().all().all()
    assert set(report["severity"]) <= {"error", "warning"}
    assert (report["message"].str.len() > 0).all()
    for table, frame in raw.items():
        valid, aside = result.tables[table], result.quarantine[table]
        assert len(valid) + len(aside) == len(frame)
        assert set(valid.columns) >= set(table_schema(table).field_names)
        assert aside["reasons"].str.len().gt(0).all()
        errors = report[(report["table"] == table) & (report["severity"] == "error")]
        error_rows = set(errors["source_row"].astype(int))
        if 1 not in error_rows:  # an error at the header row (e.g. a required column blank throughout) covers
            assert set(aside["source_row"].astype(int)) <= error_rows  # every row of the file; else each row has its own


@SETTINGS
@given(upload())
def test_fuzz_never_raises_and_never_loses_a_row(raw):
    result = validate(raw, instruments=INSTRUMENTS, today=TODAY)
    check_result(raw, result)


@SETTINGS
@given(upload(), st.randoms(use_true_random=False))
def test_row_order_does_not_change_the_outcome(raw, rnd):
    numbered = {t: f.assign(source_file=f"{t}.csv", source_row=np.arange(2, len(f) + 2)) for t, f in raw.items()}
    shuffled = {t: f.sample(frac=1, random_state=rnd.randint(0, 10_000)) for t, f in numbered.items()}
    a = validate(numbered, instruments=INSTRUMENTS, today=TODAY)
    b = validate(shuffled, instruments=INSTRUMENTS, today=TODAY)
    pd.testing.assert_frame_equal(a.report, b.report)
    for t in raw:
        assert sorted(a.tables[t]["source_row"]) == sorted(b.tables[t]["source_row"])
        assert sorted(a.quarantine[t]["source_row"]) == sorted(b.quarantine[t]["source_row"])


@SETTINGS
@given(st.lists(st.tuples(st.integers(1, 28), st.integers(1, 12), st.integers(2000, 2025)), min_size=1, max_size=20))
def test_iso_dates_always_read_and_uk_dates_never_misread(dates):
    iso = [f"{y:04d}-{m:02d}-{d:02d}" for d, m, y in dates]
    uk = [f"{d:02d}/{m:02d}/{y:04d}" for d, m, y in dates]
    frame = pd.DataFrame({"participant_id": [f"M{i}" for i in range(len(dates))], "programme_id": "P1",
                          "referral_date": iso + uk[:0]})
    result = validate({"participants": frame}, today=TODAY)
    assert result.ok
    assert [d.strftime("%Y-%m-%d") for d in result.tables["participants"]["referral_date"]] == iso
    frame["referral_date"] = uk
    result = validate({"participants": frame}, today=TODAY)
    read = result.tables["participants"].set_index("participant_id")["referral_date"]
    for i, (d, m, y) in enumerate(dates):
        if f"M{i}" in read.index:  # read: it must be the day/month reading
            assert read[f"M{i}"] == pd.Timestamp(y, m, d)
        else:  # not read: it was ambiguous, and said so
            assert d <= 12 and d != m
    rules = set(result.report["rule"])
    assert rules <= {"ambiguous_date", "not_checked"}
