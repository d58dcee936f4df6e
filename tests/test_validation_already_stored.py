"""Keys already stored: listed row by row up to a limit per file, then counted on one line per file."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.validation import validate
from evalkit.validation.keys import ALREADY_STORED_LISTED


def _participants(ids: list[str], file: str) -> pd.DataFrame:
    n = len(ids)
    return pd.DataFrame({"participant_id": ids, "programme_id": ["P1"] * n, "referral_date": ["2025-01-02"] * n,
                         "source_file": [file] * n, "source_row": list(range(2, n + 2))})


def _stored(ids: list[str]) -> dict[str, pd.DataFrame]:
    return {"programmes": pd.DataFrame({"programme_id": pd.array(["P1"], dtype="string")}),
            "participants": pd.DataFrame({
        "participant_id": pd.array(ids, dtype="string"), "programme_id": pd.array(["P1"] * len(ids), dtype="string"),
        "referral_date": pd.to_datetime(["2025-01-02"] * len(ids)), "end_date": pd.NaT})}


@pytest.mark.parametrize("n_stored", [0, 3, ALREADY_STORED_LISTED, ALREADY_STORED_LISTED + 1, 250])
def test_already_stored_rows_are_listed_then_counted(n_stored: int) -> None:
    ids = [f"A{i:04d}" for i in range(300)]
    stored = ids[50:50 + n_stored]
    frame = pd.concat([_participants(ids[:150], "one.csv"), _participants(ids[150:], "two.csv")],
                      ignore_index=True)
    report = validate({"participants": frame}, existing=_stored(stored)).report
    hits = report[report["rule"] == "already_stored"]
    per_row = hits[hits["value"].astype(str) != ""]
    summary = hits[hits["value"].astype(str) == ""]
    for file, in_file in (("one.csv", [i for i in stored if i < "A0150"]), ("two.csv", [i for i in stored if i >= "A0150"])):
        rows = per_row[per_row["file"] == file]
        lines = summary[summary["file"] == file]
        assert rows["value"].tolist() == in_file[:ALREADY_STORED_LISTED]  # the first ones, in file order
        assert (rows["severity"] == "warning").all()
        more = len(in_file) - ALREADY_STORED_LISTED
        if more > 0:
            assert len(lines) == 1 and f"{more:,} more rows" in lines["message"].iloc[0]
        else:
            assert lines.empty
    # warnings only: every row is accepted
    result = validate({"participants": frame}, existing=_stored(stored))
    assert len(result.tables["participants"]) == len(frame)
