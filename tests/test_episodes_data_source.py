"""Loading canonical tables from a CSV folder (typed by the table schemas) or the database."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.data_source import coerce_table, example_tables, load_tables, read_csv_folder
from evalkit.errors import InputFileError
from evalkit.generator import generate_programmes


def test_csv_folder_round_trip(tmp_path) -> None:
    d = generate_programmes(120, seed=2)
    d.write(tmp_path)
    t = read_csv_folder(tmp_path)
    assert set(t) == {"programmes", "participants", "group_sessions", "contacts", "measures"}
    p = t["participants"]
    assert str(p["referral_date"].dtype) == "datetime64[ns]"
    assert str(p["took_up"].dtype) == "boolean"
    assert str(p["sessions_attended"].dtype) == "Int64"
    assert isinstance(p["participant_id"].dtype, pd.StringDtype)
    assert str(t["measures"]["item_1"].dtype) == "float64"
    assert len(p) == 120
    only = load_tables(data=tmp_path, programmes=["P-HOME"])
    assert set(only["participants"]["programme_id"]) == {"P-HOME"}


def test_coerce_parses_uk_dates_and_booleans() -> None:
    raw = pd.DataFrame({"participant_id": ["A", "B", "C"], "programme_id": "P",
                        "referral_date": ["2025-03-04", "04/03/2025", "not a date"],
                        "took_up": ["yes", "N", ""], "deprivation_decile": ["3", "3.5", ""]})
    t = coerce_table(raw, "participants")
    assert t["referral_date"].tolist()[:2] == [pd.Timestamp("2025-03-04")] * 2
    assert pd.isna(t["referral_date"].iloc[2])
    assert t["took_up"].tolist() == [True, False, pd.NA]
    assert t["deprivation_decile"].tolist() == [3, pd.NA, pd.NA]
    pd.testing.assert_frame_equal(coerce_table(t, "participants"), t)  # idempotent


def test_errors(tmp_path) -> None:
    with pytest.raises(InputFileError, match="folder not found"):
        read_csv_folder(tmp_path / "nope")
    with pytest.raises(InputFileError, match="holds none of"):
        read_csv_folder(tmp_path)
    with pytest.raises(ValueError, match="exactly one"):
        load_tables()


def test_example_tables() -> None:
    t = example_tables()
    assert len(t["participants"]) > 0 and "measures" in t
