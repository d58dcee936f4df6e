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


def test_rules_file_with_whole_numbers_written_as_floats(tmp_path, capsys):
    """A rules file a spreadsheet or JSON library wrote (``"min_dose": 3.0``) makes the summary the one with 3 makes;
    ``3.5`` is still refused with the rules' message."""
    from evalkit.summary import read_summary

    settings = {"min_dose": 3, "suppression_threshold": 6, "baseline_days_before": 21, "min_days_between": 10,
                "dose_thresholds": [1, 3], "seed": 11}
    made = {}
    for kind, given in (("int", settings), ("float", {k: [float(x) for x in v] if isinstance(v, list) else float(v)
                                                      for k, v in settings.items()})):
        rules = tmp_path / f"rules-{kind}.json"
        rules.write_text(json.dumps(given))
        assert main(["summary", "--data", str(EXAMPLE_DIR), "--programme", "P-HOME", "--rules", str(rules),
                     "-o", str(tmp_path / f"{kind}.json")]) == 0
        made[kind] = read_summary(tmp_path / f"{kind}.json").to_dict()
        made[kind].pop("created_at")
    assert '"min_dose": 3,' in (tmp_path / "float.json").read_text()
    assert made["float"] == made["int"]
    assert made["int"]["rules"]["settings"]["min_dose"] == 3 and "at least 3 attended" in made["int"]["rules"]["text"]
    bad = tmp_path / "rules-fraction.json"
    bad.write_text(json.dumps({"min_dose": 3.5}))
    err = _fails(["summary", "--data", str(EXAMPLE_DIR), "--rules", str(bad), "-o", str(tmp_path / "x.json")], capsys)
    assert "invalid pairing rules: PairingRules.min_dose must be a whole number >= 0; got 3.5" in err


def _summary_with_min_dose_3(tmp_path: Path) -> Path:
    """P-HOME's summary file made under other pairing rules (minimum dose 3)."""
    rules = tmp_path / "rules.json"
    rules.write_text(json.dumps({"min_dose": 3}))
    other = tmp_path / "P-HOME-min3.json"
    assert main(["summary", "--data", str(EXAMPLE_DIR), "--programme", "P-HOME", "--rules", str(rules),
                 "-o", str(other)]) == 0
    return other


def test_mixed_rules_message_names_the_cli_option(files, tmp_path, capsys):
    other = _summary_with_min_dose_3(tmp_path)
    capsys.readouterr()
    err = _fails(["compare", str(files["P-GROUP"]), str(other)], capsys)
    assert "different pairing rules" in err and "min_dose" in err
    assert "--allow-mixed-rules" in err and "allow_mixed_rules=True" not in err
    assert main(["compare", str(files["P-GROUP"]), str(other), "--allow-mixed-rules"]) == 0


def test_library_mixed_rules_error_still_names_its_argument(files, tmp_path):
    from evalkit.compare import MixedRulesError, compare_summaries
    from evalkit.summary import read_summary

    other = _summary_with_min_dose_3(tmp_path)
    with pytest.raises(ValueError, match="allow_mixed_rules=True") as info:
        compare_summaries([read_summary(files["P-GROUP"]), read_summary(other)])
    assert isinstance(info.value, MixedRulesError)


# ---------------------------------------------------------------------------
# options that pass evalkit.compare's settings through


@pytest.fixture(scope="module")
def all_programmes(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli_all") / "all.json"
    assert main(["summary", "--data", str(EXAMPLE_DIR), "-o", str(path)]) == 0
    return path


def _json(argv, capsys) -> dict:
    capsys.readouterr()
    assert main([*argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_level_option_sets_the_confidence_level(files, capsys):
    from evalkit.compare import compare_summaries

    paths = [str(p) for p in files.values()]
    wide = _json(["compare", *paths], capsys)["pooled"][0]
    narrow = _json(["compare", *paths, "--level", "0.8"], capsys)["pooled"][0]
    lib = compare_summaries(list(files.values()), level=0.8).pooled.iloc[0]
    assert narrow["ci_high"] - narrow["ci_low"] < wide["ci_high"] - wide["ci_low"]
    assert narrow["ci_low"] == pytest.approx(lib["ci_low"]) and narrow["ci_high"] == pytest.approx(lib["ci_high"])
    err = _fails(["compare", *paths, "--level", "95"], capsys)
    assert "--level" in err and "between 0 and 1" in err


def test_min_per_level_option_reaches_the_moderator_test(all_programmes, capsys):
    argv = ["compare", str(all_programmes), "--by", "facilitation"]
    default = _json(argv, capsys)["moderator_test"][0]
    assert default["tested"] is False and "at least 3 per level" in default["message"]
    two = _json([*argv, "--min-per-level", "2"], capsys)["moderator_test"][0]
    assert two["tested"] is True and two["test"] == "QM" and two["pvalue"] is not None
    assert "--min-per-level" in _fails([*argv, "--min-per-level", "0"], capsys)


def test_funnel_method_option_gives_exact_limits(files, capsys):
    from evalkit.compare import compare_summaries

    argv = ["compare", *(str(p) for p in files.values()), "--measure", "take_up"]
    normal = _json(argv, capsys)["funnel"]
    exact = _json([*argv, "--funnel-method", "exact"], capsys)["funnel"]
    lib = compare_summaries(list(files.values()), measure="take_up", funnel_method="exact").funnel
    assert [r["lower_0.95"] for r in exact] == pytest.approx(lib["lower_0.95"].tolist())
    assert [r["lower_0.95"] for r in exact] != pytest.approx([r["lower_0.95"] for r in normal])


def test_funnel_table_option(files, capsys):
    from evalkit.compare import funnel_table

    paths = [str(p) for p in files.values()]
    rows = _json(["compare", *paths, "--funnel-table", "--funnel-method", "exact"], capsys)["funnel"]
    lib = funnel_table(list(files.values()), funnel_method="exact")
    assert [(r["indicator"], r["programme_id"], r["flag"]) for r in rows] == list(
        lib[["indicator", "programme_id", "flag"]].itertuples(index=False, name=None))
    assert {r["indicator"] for r in rows} >= {"take_up", "smcr", "reliable_improvement"}
    assert [r["upper_0.998"] for r in rows] == pytest.approx(lib["upper_0.998"].tolist())
    capsys.readouterr()
    assert main(["compare", *paths, "--funnel-table"]) == 0
    out = capsys.readouterr().out
    assert "indicator" in out and "take_up" in out and "P-PAID" in out
    err = _fails(["compare", *paths, "--funnel-table", "--by", "format", "--measure", "recovery"], capsys)
    assert "--funnel-table does not use --by, --measure" in err


def test_funnel_table_allows_mixed_rules_when_asked(files, tmp_path, capsys):
    other = _summary_with_min_dose_3(tmp_path)
    argv = ["compare", str(files["P-GROUP"]), str(other), "--funnel-table"]
    assert "--allow-mixed-rules" in _fails(argv, capsys)
    assert _json([*argv, "--allow-mixed-rules"], capsys)["funnel"]


def test_help_documents_the_pass_through_options(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for option in ("--level", "--min-per-level", "--funnel-method", "--funnel-table"):
        assert option in out
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for option in ("--level", "--min-per-level", "--funnel-method", "--funnel-table"):
        assert option in readme


def test_mean_change_on_mixed_instruments_names_the_cli_options(files, capsys):
    argv = ["compare", str(files["P-GROUP"]), str(files["P-PHONE"]), "--measure", "mean_change",
            "--instrument", "wemwbs", "--instrument", "epds"]
    err = _fails(argv, capsys)
    assert "--measure mean_change needs a single instrument" in err and "epds, wemwbs" in err
    assert "Use --measure smcr or a single --instrument" in err and "measure='smcr'" not in err


def test_library_mean_change_error_still_names_its_arguments(files):
    from evalkit.compare import MixedInstrumentsError, compare_summaries

    with pytest.raises(ValueError, match=r"measure='mean_change' needs .* Use measure='smcr' or one instrument") as info:
        compare_summaries(list(files.values()), measure="mean_change", instrument=["wemwbs", "epds"])
    assert isinstance(info.value, MixedInstrumentsError)


def test_extreme_means_are_refused_naming_file_block_and_field_without_a_warning(files, tmp_path, capsys):
    import warnings

    data = json.loads(files["P-GROUP"].read_text())
    for r in data["results"]:
        r["baseline_mean"], r["endpoint_mean"] = 1e308, -1e308
    bad = tmp_path / "extreme.json"
    bad.write_text(json.dumps(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        err = _fails(["compare", str(bad), str(files["P-PHONE"])], capsys)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert "RuntimeWarning" not in err and "infinite values" not in err
    assert "extreme.json" in err and "$.results[0].baseline_mean" in err and "overflow" in err


def test_unknown_instrument_in_a_summary_is_refused(files, tmp_path, capsys):
    data = json.loads(files["P-GROUP"].read_text())
    data["results"][0]["instrument"] = "nonsense"
    bad = tmp_path / "nonsense.json"
    bad.write_text(json.dumps(data))
    err = _fails(["compare", str(bad), str(files["P-PHONE"]), "--instrument", "nonsense", "--instrument", "epds"],
                 capsys)
    assert "nonsense.json" in err and "$.results[0].instrument" in err and '"nonsense"' in err
    assert "known instrument code" in err and "epds" in err and "wemwbs" in err


def test_tiny_baseline_sd_leaves_the_programme_out_without_a_warning(files, tmp_path, capsys):
    import warnings

    data = json.loads(files["P-GROUP"].read_text())
    data["results"][0]["baseline_sd"] = 1e-300  # finite and valid, but the SMCR's square overflows
    bad = tmp_path / "tiny-sd.json"
    bad.write_text(json.dumps(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = _json(["compare", str(bad), str(files["P-PHONE"]), str(files["P-PAID"])], capsys)
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    row = next(r for r in out["per_programme"] if r["programme_id"] == "P-GROUP")
    assert row["included"] is False and "overflows" in row["reason"] and out["pooled"][0]["k"] == 2
