"""``evalkit summary`` and ``evalkit compare``: outputs, exit codes, and clear messages instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evalkit._resources import resource_dir
from evalkit.cli import main

EXAMPLE_DIR = resource_dir("examples/data")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Two programmes exported with the CLI, one file each."""
    folder = tmp_path_factory.mktemp("cli")
    out = {}
    for pid in ("P-GROUP", "P-PHONE", "P-PAID"):
        path = folder / f"{pid}.json"
        assert main(["summary", "--data", str(EXAMPLE_DIR), "--programme", pid, "-o", str(path)]) == 0
        out[pid] = path
    return out


def test_summary_writes_a_valid_file(files, capsys):
    from evalkit.summary import read_summary

    s = read_summary(files["P-GROUP"])
    assert s.programmes["programme_id"].tolist() == ["P-GROUP"]
    assert set(s.results["instrument"]) == {"epds", "wemwbs", "qpr15"}


def test_compare_table_and_json(files, capsys):
    paths = [str(p) for p in files.values()]
    assert main(["compare", *paths, "--by", "format", "--measure", "smcr", "--method", "DL"]) == 0
    out = capsys.readouterr().out
    for needle in ("P-GROUP", "pooled", "prediction interval", "tau^2", "I^2", "Test of moderators", "Rules:"):
        assert needle in out
    assert main(["compare", *paths, "--format", "json", "--measure", "reliable_improvement", "--knha"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["pooled"][0]["k"] == 3 and data["knha"] is True and data["measure"] == "reliable_improvement"


def test_compare_writes_output_file(files, tmp_path, capsys):
    out = tmp_path / "cmp.json"
    assert main(["compare", str(files["P-GROUP"]), str(files["P-PAID"]), "--format", "json", "-o", str(out)]) == 0
    assert json.loads(out.read_text())["pooled"][0]["k"] == 2


def _fails(argv, capsys, code=2) -> str:
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse usage errors
        rc = exc.code
    assert rc == code
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out
    return " ".join(captured.err.split())  # the CLI wraps messages at 100 characters


def test_tampered_summary_is_refused_with_the_json_path(files, tmp_path, capsys):
    data = json.loads(files["P-GROUP"].read_text())
    data["results"][0]["n_paired"] = 2
    bad = tmp_path / "tampered.json"
    bad.write_text(json.dumps(data))
    err = _fails(["compare", str(bad), str(files["P-PHONE"])], capsys)
    assert "tampered.json" in err and "$.results[0].n_paired" in err and "expected" in err and "found 2" in err


@pytest.mark.parametrize("argv_tail, message", [
    (["compare", "missing.json"], "file not found"),
    (["compare", "{P-GROUP}", "{P-GROUP}"], "appears in more than one summary"),
    (["compare", "{P-GROUP}", "--instrument", "gad7"], "no programme has the figures"),
    (["summary", "--data", "{EXAMPLE}", "--programme", "P-NOPE", "-o", "{TMP}/x.json"], "P-NOPE"),
    (["summary", "--data", "{TMP}/nofolder", "-o", "{TMP}/x.json"], "folder not found"),
    (["summary", "--example", "--rules", "{TMP}/nope.json", "-o", "{TMP}/x.json"], "file not found"),
])
def test_errors_are_messages_with_exit_code_2(files, tmp_path, capsys, argv_tail, message):
    subst = {"{P-GROUP}": str(files["P-GROUP"]), "{EXAMPLE}": str(EXAMPLE_DIR), "{TMP}": str(tmp_path)}
    argv = []
    for a in argv_tail:
        for k, v in subst.items():
            a = a.replace(k, v)
        argv.append(a)
    err = _fails(argv, capsys)
    assert message in err


def test_usage_errors(capsys):
    _fails(["compare"], capsys)  # no summary file
    _fails(["compare", "x.json", "--measure", "odds"], capsys)
    _fails(["summary", "-o", "x.json"], capsys)  # no data source
    _fails(["summary", "--example", "--data", "x", "-o", "x.json"], capsys)  # two sources


def test_bad_rules_file(tmp_path, capsys):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_dose": -3}))
    err = _fails(["summary", "--data", str(EXAMPLE_DIR), "--rules", str(rules), "-o", str(tmp_path / "x.json")],
                 capsys)
    assert "invalid pairing rules" in err and "min_dose" in err


def test_mixed_rules_message_names_the_cli_option(files, tmp_path, capsys):
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_dose": 3}))
    other = tmp_path / "P-HOME-min3.json"
    assert main(["summary", "--data", str(EXAMPLE_DIR), "--programme", "P-HOME", "--rules", str(rules),
                 "-o", str(other)]) == 0
    capsys.readouterr()
    err = _fails(["compare", str(files["P-GROUP"]), str(other)], capsys)
    assert "different pairing rules" in err and "min_dose" in err
    assert "--allow-mixed-rules" in err and "allow_mixed_rules=True" not in err
    assert main(["compare", str(files["P-GROUP"]), str(other), "--allow-mixed-rules"]) == 0


def test_library_mixed_rules_error_still_names_its_argument(files, tmp_path):
    from evalkit.compare import MixedRulesError, compare_summaries
    from evalkit.summary import read_summary

    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_dose": 3}))
    other = tmp_path / "P-HOME-min3.json"
    assert main(["summary", "--data", str(EXAMPLE_DIR), "--programme", "P-HOME", "--rules", str(rules),
                 "-o", str(other)]) == 0
    with pytest.raises(ValueError, match="allow_mixed_rules=True") as info:
        compare_summaries([read_summary(files["P-GROUP"]), read_summary(other)])
    assert isinstance(info.value, MixedRulesError)
