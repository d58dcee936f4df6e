"""Counts written as whole-number floats (``3.0``, as spreadsheets export them) are the counts they name.

A summary's counts are whole numbers of people. JSON Schema (draft 2020-12) already lets ``3.0`` through as
an integer, so the summary rules that follow it (the suppression threshold, the rounding base, counts that
must nest, the largest SD for the paired n) must read ``3.0`` as the count 3, not skip it as "not a whole
number"; and ``3.5`` is refused, naming the file, the row, the column and what was expected.
"""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.rules import PairingRules
from evalkit.summary import Summary, SummaryFormatError, read_summary, validate_summary

_COUNT_FIELDS = {
    "programmes": ("referred", "offered", "took_up", "attended_1", "reached_min_dose", "baseline_measured", "paired",
                   "planned_sessions"),
    "results": ("n_baseline", "n_paired", "n_reliable_improvement", "n_reliable_deterioration",
                "n_caseness_baseline", "n_recovered", "n_reliable_recovery"),
}


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    prog = pd.DataFrame({"programme_id": ["A", "B"], "format": ["group", "one_to_one"], "planned_sessions": [None, 8],
                         "referred": [120, 80], "offered": [110, 78], "took_up": [60, 50], "attended_1": [52, 45],
                         "reached_min_dose": [40, 41]})
    res = pd.DataFrame({"programme_id": ["A", "B"], "instrument": ["epds", "epds"], "higher_is_better": [False, False],
                        "n_baseline": [45, 40], "n_paired": [30, 20], "baseline_mean": [15.2, 14.0],
                        "baseline_sd": [4.4, 4.0], "endpoint_mean": [10.1, 9.0], "endpoint_sd": [5.0, 4.0],
                        "n_reliable_improvement": [17, 12], "n_reliable_deterioration": [0, 5],
                        "n_caseness_baseline": [22, 13], "n_recovered": [10, 6], "n_reliable_recovery": [9, 5]})
    return prog, res


def _summary(**rules) -> dict:
    prog, res = _frames()
    return Summary.from_frames(prog, res, rules=PairingRules(**rules), created_at="2026-01-02T03:04:05Z").to_dict()


def _as_floats(data: dict) -> dict:
    """The summary with every count (and the disclosure settings' numbers) written as a float."""
    out = copy.deepcopy(data)
    for part, names in _COUNT_FIELDS.items():
        for row in out[part]:
            for name in names:
                if isinstance(row.get(name), int):
                    row[name] = float(row[name])
    out["disclosure"]["threshold"] = float(out["disclosure"]["threshold"])
    if out["disclosure"]["rounding_base"] is not None:
        out["disclosure"]["rounding_base"] = float(out["disclosure"]["rounding_base"])
    return out


def _problems(data: dict) -> list[dict] | None:
    try:
        validate_summary(data, source="s.json")
    except SummaryFormatError as err:
        return err.problems.to_dict("records")
    return None


def test_whole_number_floats_read_as_the_same_summary(tmp_path):
    data = _summary(rounding_base=5)
    floats = _as_floats(data)
    assert json.dumps(floats) != json.dumps(data)  # the file really says 45.0, not 45
    (tmp_path / "int.json").write_text(json.dumps(data))
    (tmp_path / "float.json").write_text(json.dumps(floats))
    a, b = read_summary(tmp_path / "int.json"), read_summary(tmp_path / "float.json")
    assert b.to_dict() == a.to_dict()
    assert b.to_json() == a.to_json()  # written back as 45, not 45.0
    pd.testing.assert_frame_equal(b.results, a.results)
    pd.testing.assert_frame_equal(b.programmes, a.programmes)


@pytest.mark.parametrize("edit, path, expected, found", [
    # 3.0 is the count 3: below the suppression threshold of 5, so it may not be published
    (lambda d: d["results"][0].__setitem__("n_reliable_improvement", 3.0), "$.results[0].n_reliable_improvement",
     "at least 5", "3 (a whole number)"),
    # 50.0 paired out of 45 with a baseline
    (lambda d: d["results"][0].__setitem__("n_paired", 50.0), "$.results[0].n_paired", "at most n_baseline (45)",
     "50"),
    # a funnel step larger than the one before it
    (lambda d: d["programmes"][0].__setitem__("took_up", 115.0), "$.programmes[0].took_up", "at most offered (110)",
     "115"),
    # 46.0 is off the rounding base of 5
    (lambda d: (d["disclosure"].__setitem__("rounding_base", 5.0),
                d["rules"]["settings"].__setitem__("rounding_base", 5),
                d["results"][0].__setitem__("n_baseline", 46.0)), "$.results[0].n_baseline", "a multiple of 5", "46"),
    # an SD of 30.0 paired EPDS scores can be at most 15.26 (2 scores could reach 21.2)
    (lambda d: d["results"][0].update(n_paired=30.0, baseline_sd=16.0), "$.results[0].baseline_sd",
     "the largest possible for 30 scores", "16.0"),
])
def test_whole_number_floats_are_checked_as_counts(edit, path, expected, found):
    data = _summary()
    edit(data)
    problems = _problems(data)
    assert problems is not None, f"accepted {path}"
    rows = [p for p in problems if p["path"] == path]
    assert rows, problems
    assert expected in rows[0]["expected"] and found in rows[0]["found"]


def test_a_count_with_a_fraction_is_refused_naming_file_row_column_and_expected(tmp_path):
    data = _summary()
    data["results"][1]["n_paired"] = 3.5
    p = tmp_path / "programme_b.json"
    p.write_text(json.dumps(data))
    with pytest.raises(SummaryFormatError) as info:
        read_summary(p)
    rows = info.value.problems[info.value.problems["path"] == "$.results[1].n_paired"]
    assert len(rows) == 1
    assert rows["expected"].iloc[0] == "a whole number or null"
    assert rows["found"].iloc[0] == "3.5 (a number with a fraction: counts are whole numbers)"
    text = str(info.value)
    assert text.startswith(str(p) + ": ") and "$.results[1].n_paired" in text


def test_from_frames_refuses_a_count_with_a_fraction_clearly():
    prog, res = _frames()
    res["n_paired"] = res["n_paired"].astype(float)
    same = Summary.from_frames(prog, res, created_at="2026-01-02T03:04:05Z")  # 30.0 is 30
    assert same.results["n_paired"].tolist() == [30, 20]
    res.loc[1, "n_paired"] = 20.5
    with pytest.raises(SummaryFormatError) as info:
        Summary.from_frames(prog, res, created_at="2026-01-02T03:04:05Z")
    rows = info.value.problems[info.value.problems["path"] == "$.results[1].n_paired"]
    assert len(rows) == 1 and rows["expected"].iloc[0] == "a whole number or null"
    assert rows["found"].iloc[0].startswith("20.5 (a number with a fraction")


@settings(max_examples=80, deadline=None)
@given(st.data(), st.sampled_from([None, 5]))
def test_a_count_written_as_a_float_gets_the_same_verdict(data, base):
    """Whatever counts a summary holds, writing them as floats changes neither acceptance nor any message."""
    summary = _summary(rounding_base=base)
    for _ in range(data.draw(st.integers(0, 6))):
        part = data.draw(st.sampled_from(sorted(_COUNT_FIELDS)))
        row = summary[part][data.draw(st.integers(0, 1))]
        name = data.draw(st.sampled_from(_COUNT_FIELDS[part]))
        row[name] = data.draw(st.one_of(st.none(), st.integers(0, 130)))
        if row[name] is not None and name in row["suppressed"]:
            row["suppressed"].remove(name)
    assert _problems(_as_floats(summary)) == _problems(summary)


def test_from_frames_reads_counts_given_as_text_and_refuses_text_that_is_no_count() -> None:
    """Frames read from a CSV as text: "30" is the count 30, as before; "30.5" or "thirty" is refused by row and
    column rather than failing to convert."""
    prog, res = _frames()
    res["n_paired"] = ["30", "20"]
    assert Summary.from_frames(prog, res, created_at="2026-01-02T03:04:05Z").results["n_paired"].tolist() == [30, 20]
    res["n_paired"] = ["30", "thirty"]
    prog["referred"] = ["120", "80.5"]
    with pytest.raises(SummaryFormatError) as info:
        Summary.from_frames(prog, res, created_at="2026-01-02T03:04:05Z")
    found = dict(zip(info.value.problems["path"], info.value.problems["found"], strict=True))
    assert found == {"$.programmes[1].referred": '"80.5" (text)', "$.results[1].n_paired": '"thirty" (text)'}
    assert set(info.value.problems["expected"]) == {"a whole number or null"}


_WHOLE_SETTINGS = {"baseline_days_before": 28.0, "baseline_days_after": 14.0, "min_days_between": 14.0,
                   "min_dose": 2.0, "min_alpha_n": 30.0, "mm_session_max_obs": 300.0, "mi_imputations": 20.0,
                   "seed": 20250101.0, "dose_thresholds": [1.0, 2.0, 3.0, 4.0, 6.0, 8.0],
                   "suppression_threshold": 5.0, "rounding_base": 5.0}


def test_whole_number_floats_in_the_rules_settings_are_the_settings_they_name(tmp_path):
    """A summary whose rules settings a spreadsheet or JSON writer wrote as 5.0 is read as the one written with 5:
    not refused, a disclosure threshold of 5 (counts 1 to 4 hidden), written back as 5."""
    data = _summary(rounding_base=5)
    floats = _as_floats(data)
    floats["rules"]["settings"].update(_WHOLE_SETTINGS)
    assert json.dumps(floats["rules"]["settings"]) != json.dumps(data["rules"]["settings"])
    (tmp_path / "int.json").write_text(json.dumps(data))
    (tmp_path / "float.json").write_text(json.dumps(floats))
    a, b = read_summary(tmp_path / "int.json"), read_summary(tmp_path / "float.json")
    assert b.to_json() == a.to_json()  # settings written back as 5, not 5.0
    rules = b.pairing_rules()
    assert rules == a.pairing_rules()
    assert type(rules.suppression_threshold) is int and type(rules.min_dose) is int
    assert all(type(d) is int for d in rules.dose_thresholds)
    assert "Counts from 1 to 4 are hidden" in rules.describe()
    # and the threshold is applied as 5: a published 3 is refused as it is under the integer settings
    for d in (data, floats):
        d["results"][0]["n_reliable_improvement"] = 3
    problems = _problems(floats)
    assert problems is not None and problems == _problems(data)


@pytest.mark.parametrize("name, value, path", [
    ("suppression_threshold", 5.5, "$.rules.settings.suppression_threshold"),
    ("min_dose", 2.5, "$.rules.settings.min_dose"),
    ("rounding_base", 2.5, "$.rules.settings.rounding_base"),
    ("dose_thresholds", [1, 2.5, 3], "$.rules.settings.dose_thresholds[1]"),
])
def test_a_setting_with_a_fraction_is_refused_naming_file_and_field(tmp_path, name, value, path):
    """5.5 where a whole number belongs is refused by file and field, never cut to 5 (``dose_thresholds`` 2.5 was
    read as 2) nor refused only as a whole block of settings."""
    data = _summary()
    data["rules"]["settings"][name] = value
    p = tmp_path / "programme_b.json"
    p.write_text(json.dumps(data))
    with pytest.raises(SummaryFormatError) as info:
        read_summary(p)
    problems = info.value.problems
    rows = problems[problems["path"] == path]
    assert len(rows) == 1, problems.to_dict("records")
    assert rows["expected"].iloc[0].startswith("a whole number")
    assert rows["found"].iloc[0].startswith("2.5 (a number with a fraction" if value != 5.5
                                            else "5.5 (a number with a fraction")
    text = str(info.value)
    assert text.startswith(str(p) + ": ") and path in text


def test_rules_settings_are_kept_as_pairing_rules_reads_them():
    """A summary keeps the settings it was given (no others are added), each as PairingRules reads it: ``2.0`` as 2
    and a single valid status written as text as the list PairingRules.to_dict writes."""
    data = _summary()
    data["rules"]["settings"] = {"min_dose": 2.0, "valid_statuses": "complete", "suppression_threshold": 5}
    s = Summary.from_dict(data)
    assert s.to_dict()["rules"]["settings"] == {"min_dose": 2, "valid_statuses": ["complete"],
                                                "suppression_threshold": 5}
    assert s.pairing_rules() == PairingRules(valid_statuses=("complete",))
