"""The canonical dtypes (:data:`evalkit.canonical.DTYPES`) are the same whichever door a table comes through.

A researcher's code that works on the tables :func:`evalkit.validate` returns must work unchanged on the tables
:func:`evalkit.load_tables` reads back from the store or from a folder of canonical CSV files: the same dtype for
every column, and text columns the canonical ``"string"`` (missing = ``pd.NA``), not pandas' default ``"str"``
(missing = NaN), whose comparisons and missing values behave differently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit import load_tables, read_files, validate
from evalkit._resources import resource_dir
from evalkit.canonical import DTYPES, PROVENANCE_COLUMNS
from evalkit.cli.cmd_dashboard import load_example
from evalkit.data_source import coerce_table
from evalkit.schemas import TABLE_NAMES, table_schema

EXAMPLE = resource_dir("examples/data")


def _dtypes(frame: pd.DataFrame, table: str) -> dict[str, object]:
    schema = table_schema(table)
    return {c: frame[c].dtype for c in frame.columns if c in schema.field_names}


@pytest.fixture(scope="module")
def validated() -> dict[str, pd.DataFrame]:
    raw = read_files([Path(EXAMPLE) / f"{t}.csv" for t in TABLE_NAMES])
    result = validate(raw)
    assert result.n_errors == 0
    return result.tables


def test_validated_tables_have_the_schema_dtypes(validated: dict[str, pd.DataFrame]) -> None:
    for table, frame in validated.items():
        schema = table_schema(table)
        for column, dtype in _dtypes(frame, table).items():
            spec_type = schema.field(column).type
            assert dtype == DTYPES[spec_type], (table, column, dtype)
            if spec_type == "string":
                # "str" (NaN) == "string" is True in pandas, so the missing-value marker is checked itself
                assert isinstance(dtype, pd.StringDtype) and dtype.na_value is pd.NA, (table, column, repr(dtype))
        for column in PROVENANCE_COLUMNS[:2]:
            # categoricals of canonical text (one category per file / sheet): as text, missing is pd.NA
            assert isinstance(frame[column].dtype, pd.CategoricalDtype), (table, column)
            assert frame[column].cat.categories.dtype.na_value is pd.NA, (table, column)
            assert frame[column].astype("string").dtype.na_value is pd.NA, (table, column)


def test_store_and_csv_folder_give_the_validated_dtypes(validated: dict[str, pd.DataFrame], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'example.sqlite'}"
    load_example(db)
    doors = {"store": load_tables(db=db), "csv folder": load_tables(data=EXAMPLE)}
    for door, tables in doors.items():
        for table, frame in validated.items():
            want = {c: repr(d) for c, d in _dtypes(frame, table).items()}
            got = {c: repr(d) for c, d in _dtypes(tables[table], table).items() if c in want}
            assert got == {c: want[c] for c in got}, (door, table)
            assert len(got) >= len(table_schema(table).field_names) // 2, (door, table)  # most columns compared


def test_a_missing_text_cell_is_pd_na_and_comparisons_give_booleans_with_na(
        validated: dict[str, pd.DataFrame]) -> None:
    contacts = validated["contacts"]
    ids = contacts["group_session_id"]  # free text: missing on one-to-one contacts
    assert ids.isna().any() and ids.notna().any()
    assert ids[ids.isna()].iloc[0] is pd.NA
    same = ids == ids.dropna().iloc[0]
    assert same[ids.isna()].isna().all()
    # a mask with missing values selects as False, as with the store's tables
    assert len(contacts[same]) == int(same.fillna(False).sum())


def test_csv_folder_text_is_trimmed_and_blank_is_missing() -> None:
    raw = pd.DataFrame({"programme_id": pd.array([" P-1 ", "", None], dtype="str"),
                        "name": pd.array(["a", "b", "c"], dtype=object)})
    out = coerce_table(raw, "programmes")
    assert out["programme_id"].dtype.na_value is pd.NA
    assert out["programme_id"].tolist()[0] == "P-1"
    assert out["programme_id"].isna().tolist() == [False, True, True]
    assert out["name"].dtype == DTYPES["string"] and out["name"].dtype.na_value is pd.NA
    # canonical already: returned as it is
    again = coerce_table(out, "programmes")
    assert again["programme_id"].array is out["programme_id"].array or again["programme_id"].equals(
        out["programme_id"])
    assert np.array_equal(again["programme_id"].isna(), out["programme_id"].isna())
