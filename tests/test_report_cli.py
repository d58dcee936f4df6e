"""``evalkit report``: writes the HTML (and the tables), exit 0; bad arguments exit 2 and write nothing."""

from __future__ import annotations

import pandas as pd
from test_report_support import check

from evalkit.cli import main


def test_report_cli_writes_html_xlsx_and_csv(tmp_path, capsys) -> None:  # noqa: ANN001
    from evalkit._resources import resource_dir

    out, xlsx, zipped = tmp_path / "r.html", tmp_path / "t.xlsx", tmp_path / "t.zip"
    code = main(["report", "--data", str(resource_dir("examples/data")), "--programme", "P-PAID", "--min-dose", "3",
                 "--no-models", "--no-figures", "--title", "Q3 report", "-o", str(out), "--xlsx", str(xlsx),
                 "--csv-zip", str(zipped)])
    assert code == 0
    said = capsys.readouterr().out
    assert f"wrote {out}" in said and "data sha256" in said
    page = out.read_text(encoding="utf-8")
    c = check(page)
    assert c.errors == [] and "<title>Q3 report</title>" in page
    assert "Paired only with at least 3 attended contacts" in page
    assert "Perinatal peer supporter service" in page and "Bumps and Babes" not in page
    sheets = pd.read_excel(xlsx, sheet_name=None)
    assert set(sheets["outcome_summary"]["programme_id"]) == {"P-PAID"}
    assert zipped.stat().st_size > 0


def test_cli_messages_are_whole_lines_off_a_terminal_and_wrapped_to_it_on_one(capsys, monkeypatch) -> None:  # noqa: ANN001
    import os
    import shutil
    import sys

    from evalkit.cli import _say

    path = "/tmp/" + "a-rather-long-folder-name/" * 5 + "r.html"
    message = f"evalkit report: {path}: cannot be written: the folder {path.rsplit('/', 1)[0]} does not exist"
    _say(message)  # to a file, a pipe or a log: one line, so no phrase is split and it can be searched for whole
    assert capsys.readouterr().err == message + "\n"
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    monkeypatch.setattr(shutil, "get_terminal_size", lambda *a, **k: os.terminal_size((60, 24)))
    _say(message)
    lines = capsys.readouterr().err.splitlines()
    assert " ".join(lines) == message and len(lines) > 1
    assert all(len(line) <= 60 or " " not in line for line in lines)  # wrapped at spaces; paths kept whole
    assert f"{path}:" in lines


def test_report_cli_refuses_unknown_programme_and_missing_folder(tmp_path, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "r.html"
    assert main(["report", "--example", "--programme", "NOPE", "--no-models", "-o", str(out)]) == 2
    assert "not in the data" in capsys.readouterr().err and not out.exists()
    assert main(["report", "--example", "-o", str(tmp_path / "missing" / "r.html")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["report", "--example", "-o", str(tmp_path)]) == 2
