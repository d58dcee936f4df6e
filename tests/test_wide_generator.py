"""The example generator's provider-style workbook: messy as promised, totals true to the long data."""

from __future__ import annotations

import openpyxl
import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.generator import generate_programmes
from evalkit.generator._wide import recorded_totals, totals_only_measures, wide_frame, write_wide_workbook
from evalkit.pseudonymise import find_identifiers, is_valid_nhs_number
from evalkit.scoring import score


@pytest.fixture(scope="module")
def data():
    return generate_programmes(150, seed=21)


def test_start_and_end_totals_are_the_first_and_last_valid_scores(data):
    frame = wide_frame(data, messy=False, seed=1).set_index("Ref no")
    scored = score(data.measures)
    valid = scored[scored["score_status"].isin(["complete", "prorated"])].sort_values("completed_on")
    for code in ("epds", "phq9", "swemwbs"):
        v = valid[valid["instrument"] == code]
        first = v.groupby("participant_id").head(1).set_index("participant_id")
        last = v.groupby("participant_id").tail(1).set_index("participant_id")
        several = v.groupby("participant_id").size() > 1
        start = pd.to_numeric(frame.loc[first.index, f"{code} start"])
        expected = first["raw_score"].where(first["score_status"] == "complete", (first["score"] + 0.5) // 1)
        assert (start.to_numpy() == expected.to_numpy()).all()
        ends = last.index[several.reindex(last.index).to_numpy()]
        got = pd.to_numeric(frame.loc[ends, f"{code} end"])
        exp = last.loc[ends, "raw_score"].where(last.loc[ends, "score_status"] == "complete",
                                                (last.loc[ends, "score"] + 0.5) // 1)
        assert (got.to_numpy() == exp.to_numpy()).all()
        assert frame.loc[ends, f"{code} end date"].tolist() == [d.strftime("%Y-%m-%d") for d in last.loc[ends,
                                                                                                     "completed_on"]]


def test_totals_only_measures_keep_every_valid_questionnaire(data):
    t = totals_only_measures(data.measures)
    r = recorded_totals(data.measures)
    assert len(t) == len(r) and t["item_1"].isna().all() and (t["total"] == r["total"]).all()
    assert (t["total"] % 1 == 0).all()
    assert score(t)["score_status"].eq("total_only").all()


def test_messy_workbook_has_what_real_ones_have(data, tmp_path):
    path = write_wide_workbook(data, tmp_path / "w.xlsx", seed=3)
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == list(data.programmes["programme_id"])
    ws = wb["P-GROUP"]
    merged = {str(r) for r in ws.merged_cells.ranges}
    assert any(r.startswith("A1:") for r in merged)  # merged title
    assert any(r.endswith("3") and not r.startswith("A1") for r in merged)  # the QPR group cell
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[3])
    assert None in header  # a spacer column
    body = pd.DataFrame(rows[4:], columns=[h or f"_{i}" for i, h in enumerate(header)])
    assert body["Ref no"].isna().sum() >= 3  # blank row, notes and total rows, another table below the data
    people = body[body["Ref no"].astype(str).str.match(r"^M\d+$")]
    nhs = people["NHS no"].astype("string")
    assert is_valid_nhs_number(nhs).all() and nhs.str.startswith("999").all()
    assert people["Email"].str.endswith("@example.invalid").all()
    assert people["Postcode"].str.startswith("ZZ99").all() and people["Phone"].str.startswith("07700 900").all()
    found = set(find_identifiers(people[["NHS no", "Email", "Postcode", "Phone"]].astype("string"))["column"])
    assert found == {"NHS no", "Email", "Postcode", "Phone"}
    referred = set(people["Referred by"].dropna())
    assert {"HV", "health visitor"} & referred and referred - set(data.participants["referral_source"])
    assert people["Date referred"].astype(str).str.match(r"^\d{2}/\d{2}/\d{4}$").mean() > 0.5
    text = people.astype(str)
    assert text.isin(["n/a", "-", "not done", "N/K", "?"]).any().any()
    wb.close()


def test_one_sheet_layout_with_programme_column(data, tmp_path):
    path = write_wide_workbook(data, tmp_path / "one.xlsx", seed=3, layout="one_sheet", messy=False)
    wb = openpyxl.load_workbook(path, read_only=True)
    assert wb.sheetnames == ["Referrals"]
    first = next(wb["Referrals"].iter_rows(max_row=1, values_only=True))
    assert first[0] == "Programme"
    wb.close()
    with pytest.raises(ValueError, match="layout"):
        write_wide_workbook(data, tmp_path / "x.xlsx", layout="two_sheets")  # type: ignore[arg-type]


def test_examples_cli_writes_the_wide_layout(tmp_path, capsys):
    code = main(["examples", "--participants", "60", "--out", str(tmp_path / "ex"), "--layout", "wide",
                 "--seed", "4"])
    out = capsys.readouterr().out
    assert code == 0 and "wide.xlsx" in out and "evalkit map" in out
    assert (tmp_path / "ex" / "wide.xlsx").exists() and (tmp_path / "ex" / "programmes.csv").exists()
    assert main(["map", str(tmp_path / "ex" / "wide.xlsx")]) == 0
