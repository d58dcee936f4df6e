"""Provenance ``source_file`` / ``source_sheet`` as categoricals of text, from the readers to the database.

Readers give both columns as categoricals whose categories are text (one per file / sheet; a CSV file's sheet a
categorical without categories); validation's valid tables keep them so; storing writes the same values as text.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_ingest_cli import write_csvs
from test_readers import _workbook as write_workbook

from evalkit.access import Scope
from evalkit.ingest import ingest
from evalkit.readers import merged_frames, read_file, read_files
from evalkit.readers.raw_frame import build_raw_frame
from evalkit.readers.wide import read_wide
from evalkit.store import _tables as T
from evalkit.store import load_tables, open_store, quarantine_rows
from evalkit.validation import validate

TODAY = "2026-01-01"
PROVENANCE_TEXT = ("source_file", "source_sheet")


def is_text_categorical(column: pd.Series) -> bool:
    """A categorical whose categories are pandas text (``"str"`` or ``"string"``)."""
    return isinstance(column.dtype, pd.CategoricalDtype) and isinstance(column.cat.categories.dtype, pd.StringDtype)


def test_csv_raw_frame_has_categorical_provenance(tmp_path: Path) -> None:
    path = tmp_path / "Participants é 2025.csv"
    path.write_text("participant_id,programme_id,referral_date\nM1,P1,2025-03-04\nM2,P1,2025-03-05\n")
    frame = read_file(path)["participants"]
    for column in PROVENANCE_TEXT:
        assert is_text_categorical(frame[column]), (column, frame[column].dtype)
    assert frame["source_file"].cat.categories.tolist() == ["Participants é 2025.csv"]
    assert frame["source_file"].tolist() == ["Participants é 2025.csv"] * 2
    assert frame["source_file"].cat.codes.dtype == np.int8
    assert len(frame["source_sheet"].cat.categories) == 0 and frame["source_sheet"].isna().all()
    assert frame["source_file"].astype("string").tolist() == ["Participants é 2025.csv"] * 2
    assert str(frame["source_row"].dtype) == "Int64"


def test_excel_sheets_of_one_table_keep_every_sheet(tmp_path: Path) -> None:
    header = ["participant_id", "programme_id", "referral_date"]
    path = write_workbook(tmp_path / "book.xlsx", {
        "participants": [header, ["M1", "P1", "2025-03-04"], ["M2", "P1", "2025-03-05"]],
        "participants 2": [header, ["M3", "P1", "2025-03-06"]],
    })
    raw = read_file(path, mapping=None)
    frame = raw["participants"]
    for column in PROVENANCE_TEXT:
        assert is_text_categorical(frame[column]), (column, frame[column].dtype)
    assert frame["source_file"].tolist() == ["book.xlsx"] * len(frame)
    assert frame["source_sheet"].cat.categories.tolist() == sorted(set(frame["source_sheet"]),
                                                                   key=frame["source_sheet"].tolist().index)
    assert set(frame["source_sheet"]) <= {"participants", "participants 2"}


def test_wide_file_has_categorical_provenance(tmp_path: Path) -> None:
    path = write_workbook(tmp_path / "mums.xlsx", {"Mums": [
        ["Ref no", "Date referred", "EPDS at start", "EPDS at end"],
        ["A1", "2025-03-13", 12, 8], ["A2", "2025-03-14", 15, 9]]})
    raw = read_wide(path, programme_id="P-A").raw
    for table in ("participants", "measures"):
        for column in PROVENANCE_TEXT:
            assert is_text_categorical(raw[table][column]), (table, column, raw[table][column].dtype)
        assert raw[table]["source_file"].tolist() == ["mums.xlsx"] * len(raw[table])
        assert raw[table]["source_sheet"].tolist() == ["Mums"] * len(raw[table])
    csv = tmp_path / "mums.csv"
    csv.write_text("Ref no,Date referred,EPDS at start\nA1,2025-03-13,12\n")
    participants = read_wide(csv, programme_id="P-A").raw["participants"]
    assert is_text_categorical(participants["source_sheet"]) and participants["source_sheet"].isna().all()
    assert participants["source_file"].tolist() == ["mums.csv"]


def test_several_files_of_one_table_keep_every_name(tmp_path: Path) -> None:
    names = ["contacts_a.csv", "contacts_ü.csv", "contacts_c.csv"]
    paths = []
    for i, name in enumerate(names):
        path = tmp_path / name
        path.write_text(f"participant_id,contact_date,kind,status\nM{i},2025-01-0{i + 1},text,attended\n"
                        f"N{i},2025-01-0{i + 1},text,attended\n")
        paths.append(path)
    merged = read_files(paths)["contacts"]
    assert is_text_categorical(merged["source_file"]) and is_text_categorical(merged["source_sheet"])
    assert merged["source_file"].cat.categories.tolist() == names
    assert merged["source_file"].tolist() == [n for n in names for _ in range(2)]
    assert merged["source_sheet"].isna().all()


def test_validated_tables_keep_categorical_provenance(tmp_path: Path) -> None:
    raw = read_files(write_csvs(tmp_path / "north"))
    result = validate(raw, today=TODAY)
    for table, frame in result.tables.items():
        for column in PROVENANCE_TEXT:
            assert is_text_categorical(frame[column]), (table, column, frame[column].dtype)
            assert frame[column].cat.categories.dtype == pd.StringDtype("pyarrow")
        expected = pd.Series([f"{table}.csv"] * len(frame), dtype="string", name="source_file")
        pd.testing.assert_series_equal(frame["source_file"].astype("string"), expected)
        pd.testing.assert_series_equal(frame["source_sheet"].astype("string"),
                                       pd.Series(pd.NA, index=frame.index, dtype="string", name="source_sheet"))
        assert str(frame["source_row"].dtype) == "Int64"
    # the quarantine's provenance stays text, as before
    bad = result.quarantine["participants"]
    assert len(bad) == 1 and str(bad["source_file"].dtype) == "string"
    assert bad["source_file"].tolist() == ["participants.csv"] and bad["source_sheet"].isna().all()


def _stored_provenance(store) -> dict[str, pd.DataFrame]:  # noqa: ANN001
    out = {}
    with store.engine.connect() as conn:
        for name in ("participants", "contacts", "quarantine"):
            t = T.metadata.tables[name]
            query = sa.select(t.c.source_file, t.c.source_sheet, t.c.source_row)
            if name == "quarantine":
                query = query.where(t.c.table_name == "participants")
            res = conn.execute(query.order_by(t.c.source_file, t.c.source_sheet, t.c.source_row))
            out[name] = pd.DataFrame(res.fetchall(), columns=list(res.keys()))
    return out


def test_ingest_stores_the_same_provenance(tmp_path: Path, db_url: str) -> None:
    from evalkit.ingest import check_upload

    raw = read_files(write_csvs(tmp_path / "north"))
    header = ["participant_id", "programme_id", "referral_date"]
    book = write_workbook(tmp_path / "more ñ.xlsx", {"Mums": [header, ["X1", "P-N1", "2025-03-04"],
                                                             ["X2", "P-N1", "2025-02-30"]]})
    raw["participants"] = merged_frames([raw["participants"], read_file(book)["participants"]])
    assert is_text_categorical(raw["participants"]["source_file"])
    store = open_store(db_url)
    try:
        result = check_upload(raw, store, "North")
        assert is_text_categorical(result.tables["participants"]["source_file"])
        ingest(result, store, provider="North", file_name="x", sha256="ab" * 32, user="amy")
        stored = _stored_provenance(store)
        participants = stored["participants"]
        assert participants["source_file"].tolist().count("more ñ.xlsx") == 1
        assert participants.loc[participants["source_file"] == "more ñ.xlsx", "source_sheet"].tolist() == ["Mums"]
        assert participants.loc[participants["source_file"] == "participants.csv", "source_sheet"].isna().all()
        assert set(stored["contacts"]["source_file"]) == {"contacts.csv"}
        assert stored["contacts"]["source_sheet"].isna().all()
        quarantine = stored["quarantine"]
        assert sorted(quarantine["source_file"].tolist()) == ["more ñ.xlsx", "participants.csv"]
        sheets = quarantine.set_index("source_file")["source_sheet"]
        assert sheets["more ñ.xlsx"] == "Mums" and pd.isna(sheets["participants.csv"])
        loaded = load_tables(store, Scope.admin(), tables=["participants"], provenance=True)["participants"]
        assert sorted(loaded["source_file"].unique().tolist()) == ["more ñ.xlsx", "participants.csv"]
        q = quarantine_rows(store, Scope.admin())["participants"]
        assert sorted(q["source_file"].tolist()) == ["more ñ.xlsx", "participants.csv"]
        # a row changed in a second file: the update writes that file's name and sheet
        again = write_workbook(tmp_path / "again.xlsx", {"Mums ✓": [header, ["X1", "P-N1", "2025-03-05"]]})
        second = check_upload(read_file(again), store, "North")
        assert is_text_categorical(second.tables["participants"]["source_sheet"])
        summary = ingest(second, store, provider="North", file_name="y", sha256="cd" * 32, user="amy")
        assert summary.updated["participants"] == 1
        after = _stored_provenance(store)["participants"]
        assert after.loc[after["source_file"] == "again.xlsx", "source_sheet"].tolist() == ["Mums ✓"]
        assert "more ñ.xlsx" not in set(after["source_file"])
    finally:
        store.close()


names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.tuples(names, st.one_of(st.none(), st.just(""), names), st.integers(1, 6)),
                      min_size=1, max_size=4),
       bad=st.lists(st.booleans(), min_size=24, max_size=24))
def test_provenance_after_validation_equals_the_input_per_row(parts: list[tuple[str, str | None, int]],
                                                              bad: list[bool]) -> None:
    frames = []
    row = 0
    for file, sheet, n in parts:
        cells = pd.DataFrame({0: [f"M{row + i}" for i in range(n)], 1: ["P1"] * n,
                              2: ["2025-02-30" if bad[(row + i) % len(bad)] else "2025-03-04" for i in range(n)]},
                             dtype="str")
        frames.append(build_raw_frame(cells, ["participant_id", "programme_id", "referral_date"],
                                      np.arange(2, n + 2), table="participants", file=file, sheet=sheet,
                                      header_row=1))
        row += n
    raw = merged_frames(frames)
    for column in PROVENANCE_TEXT:
        assert is_text_categorical(raw[column])
    expected_file = pd.Series([f for f, _, n in parts for _ in range(n)], dtype="string")
    expected_sheet = pd.Series([s if s else None for _, s, n in parts for _ in range(n)], dtype="string")
    assert raw["source_file"].astype("string").tolist() == expected_file.tolist()
    assert raw["source_sheet"].astype("string").fillna("").tolist() == [s or "" for _, s, n in parts
                                                                         for _ in range(n)]
    result = validate({"participants": raw}, today=TODAY)
    valid, aside = result.tables["participants"], result.quarantine["participants"]
    is_bad = np.array([bad[i % len(bad)] for i in range(row)])
    assert len(valid) == int((~is_bad).sum()) and len(aside) == int(is_bad.sum())
    for column, expected in (("source_file", expected_file), ("source_sheet", expected_sheet)):
        assert is_text_categorical(valid[column])
        got = valid[column].astype("string").reset_index(drop=True)
        pd.testing.assert_series_equal(got, expected[~is_bad].reset_index(drop=True), check_names=False)
        pd.testing.assert_series_equal(aside[column].astype("string").reset_index(drop=True),
                                       expected[is_bad].reset_index(drop=True), check_names=False)
        assert set(valid[column].cat.categories) == set(expected[~is_bad].dropna())  # no unused category
    positions = np.flatnonzero(~is_bad)
    rows = np.concatenate([np.arange(2, n + 2) for _, _, n in parts])
    assert valid["source_row"].tolist() == rows[positions].tolist()


@pytest.mark.parametrize("n_files", [1, 3])
def test_store_frames_keep_provenance_categoricals(n_files: int) -> None:
    from evalkit.store._frames import driver_rows, to_canonical

    files = [f"f{i}.csv" for i in range(n_files)]
    codes = np.arange(6) % n_files
    frame = pd.DataFrame({
        "participant_id": pd.array([f"M{i}" for i in range(6)], dtype="string"),
        "source_file": pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(
            pd.Index(pd.array(files, dtype=pd.StringDtype("pyarrow"))))),
        "source_sheet": pd.Categorical.from_codes(np.full(6, -1), dtype=pd.CategoricalDtype(
            pd.Index(pd.array([], dtype=pd.StringDtype("pyarrow"))))),
        "source_row": pd.array(np.arange(2, 8), dtype="Int64"),
    })
    canonical = to_canonical(frame, "participants")
    assert is_text_categorical(canonical["source_file"]) and is_text_categorical(canonical["source_sheet"])
    text = frame.astype({"source_file": "string", "source_sheet": "string"})
    assert driver_rows(canonical, "participants", "sqlite") == driver_rows(text, "participants", "sqlite")
    assert driver_rows(canonical, "participants", "postgresql") == driver_rows(text, "participants", "postgresql")
