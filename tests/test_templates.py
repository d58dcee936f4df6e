"""Blank templates generated from the schemas."""

from __future__ import annotations

import csv
import zipfile

import pytest
from openpyxl import load_workbook

from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.templates import write_template


def test_xlsx_template_has_headers_dropdowns_and_instructions(tmp_path) -> None:  # noqa: ANN001
    path = write_template(tmp_path / "t.xlsx")
    wb = load_workbook(path)
    assert wb.sheetnames[0] == "instructions" and set(TABLE_NAMES) <= set(wb.sheetnames)
    assert wb["codes"].sheet_state == "hidden"
    for name in TABLE_NAMES:
        ws = wb[name]
        assert [c.value for c in ws[1]] == table_schema(name).field_names
        assert ws.max_row == 1  # blank
    # every coded column has a list validation pointing at its codes in the hidden sheet
    codes = wb["codes"]
    code_lists = {codes.cell(1, c).value: [codes.cell(r, c).value for r in range(2, codes.max_row + 1)
                                          if codes.cell(r, c).value is not None]
                  for c in range(1, codes.max_column + 1)}
    for name in TABLE_NAMES:
        ws = wb[name]
        validations = {str(dv.sqref).split(":")[0]: dv for dv in ws.data_validations.dataValidation}
        for idx, f in enumerate(table_schema(name).fields, start=1):
            letter = ws.cell(1, idx).column_letter
            if f.codes:
                dv = validations[f"{letter}2"]
                assert dv.type == "list" and dv.formula1.startswith("'codes'!$")
                assert code_lists[f"{name}.{f.name}"] == list(f.codes)
            if f.type == "boolean":
                assert code_lists[f"{name}.{f.name}"] == ["yes", "no"]
    kind = wb["contacts"].data_validations.dataValidation
    assert any(dv.type == "whole" for dv in wb["group_sessions"].data_validations.dataValidation)
    assert any(dv.type == "list" for dv in kind)
    info = wb["instructions"]
    header_row = [c.value for c in info[3]]
    assert header_row == ["table", "column", "description", "type", "required", "allowed values", "example"]
    rows = {(r[0], r[1]): r for r in info.iter_rows(min_row=4, values_only=True)}
    kind_row = rows[("contacts", "kind")]
    assert kind_row[3] == "string" and kind_row[4] == "yes" and "group_session = Group session" in kind_row[5]
    assert kind_row[6] == "group_session"
    assert len(rows) == sum(len(table_schema(t).fields) for t in TABLE_NAMES)


def test_csv_template_folder_and_zip(tmp_path) -> None:  # noqa: ANN001
    folder = write_template(tmp_path / "tpl", format="csv")
    for name in TABLE_NAMES:
        with open(folder / f"{name}.csv", newline="") as fh:
            rows = list(csv.reader(fh))
        assert rows == [table_schema(name).field_names]
    readme = (folder / "README.txt").read_text()
    assert "participants.csv" in readme and "perinatal_stage" in readme and "NHS numbers" in readme
    z = write_template(tmp_path / "tpl.zip", format="csv")
    with zipfile.ZipFile(z) as zf:
        assert sorted(zf.namelist()) == sorted([*(f"{t}.csv" for t in TABLE_NAMES), "README.txt"])
    with pytest.raises(ValueError, match="format must be one of"):
        write_template(tmp_path / "x.ods", format="ods")  # type: ignore[arg-type]
