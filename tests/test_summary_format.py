"""The summary file format: schema, round trip, and clear errors for malformed or tampered files."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from evalkit.errors import InputFileError
from evalkit.rules import PairingRules
from evalkit.summary import (
    SCHEMA_VERSION,
    Summary,
    SummaryFormatError,
    data_hash,
    read_summary,
    summary_schema,
    validate_summary,
    write_summary,
)


def small_summary(**rules) -> Summary:
    prog = pd.DataFrame({"programme_id": ["A", "B"], "name": ["Group A", "Phone B"], "format": ["group", "one_to_one"],
                         "mode": ["in_person", "telephone"], "delivered_by": ["volunteer_peers", "paid_peers"],
                         "planned_sessions": [None, 8], "referred": [120, 80], "offered": [110, 78],
                         "took_up": [60, 50], "attended_1": [52, 45], "reached_min_dose": [40, 41],
                         "dose_median": [4.0, 6.0], "first_referral_month": ["2024-01", "2024-02"]})
    res = pd.DataFrame({"programme_id": ["A", "B"], "instrument": ["epds", "epds"], "higher_is_better": [False, False],
                        "n_baseline": [45, 40], "n_paired": [30, 3], "baseline_mean": [15.2, 14.0],
                        "baseline_sd": [4.4, 4.0], "endpoint_mean": [10.1, 9.0], "endpoint_sd": [5.0, 4.0],
                        "r_pre_post": [0.45, 0.5], "n_reliable_improvement": [17, 2], "n_reliable_deterioration": [2, 0],
                        "n_caseness_baseline": [22, 3], "n_recovered": [10, 1], "n_reliable_recovery": [9, 1]})
    return Summary.from_frames(prog, res, rules=PairingRules(**rules), created_at="2026-01-02T03:04:05Z")


def test_schema_is_draft_2020_12_and_itself_valid():
    schema = summary_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    Draft202012Validator.check_schema(schema)


def test_round_trip_through_a_file(tmp_path):
    s = small_summary()
    path = write_summary(s, tmp_path / "s.json")
    back = read_summary(path)
    assert back.to_dict() == s.to_dict()
    assert back.source == str(path)
    pd.testing.assert_frame_equal(back.results, s.results)
    pd.testing.assert_frame_equal(back.programmes, s.programmes)
    assert back.pairing_rules() == PairingRules()
    Draft202012Validator(summary_schema()).validate(json.loads(path.read_text()))


def test_small_counts_are_null_and_marked_suppressed():
    s = small_summary()
    b = s.results.set_index("programme_id").loc["B"]
    # n_paired 3 is below 5: hidden, with every figure computed from it
    assert pd.isna(b["n_paired"]) and pd.isna(b["baseline_mean"]) and pd.isna(b["r_pre_post"])
    hidden = b["suppressed"].split("; ")
    assert {"n_paired", "baseline_mean", "r_pre_post"} <= set(hidden)
    record = s.to_dict()["results"][1]
    assert record["n_paired"] is None and "n_paired" in record["suppressed"]
    # A's figures are published
    a = s.results.set_index("programme_id").loc["A"]
    assert a["n_paired"] == 30 and a["baseline_mean"] == 15.2


def _write(tmp_path, data, name="bad.json"):
    p = tmp_path / name
    p.write_text(json.dumps(data) if not isinstance(data, str) else data)
    return p


def _error(tmp_path, data) -> SummaryFormatError:
    with pytest.raises(SummaryFormatError) as info:
        read_summary(_write(tmp_path, data))
    return info.value


@pytest.mark.parametrize(
    "tamper, path, expected, found",
    [
        (lambda d: d["results"][0].__setitem__("n_paired", "30"), "$.results[0].n_paired", "a whole number or null",
         '"30" (text)'),
        (lambda d: d["results"][0].__setitem__("n_reliable_improvement", 3), "$.results[0].n_reliable_improvement",
         "at least 5", "3"),
        (lambda d: d["programmes"][1].pop("referred"), "$.programmes[1].referred", "required", "no such field"),
        (lambda d: d["programmes"][0].__setitem__("format", "webinar"), "$.programmes[0].format", "one of",
         '"webinar"'),
        (lambda d: d["results"][0].__setitem__("participant_id", "M0001"), "$.results[0]",
         "only the fields", "'participant_id'"),
        (lambda d: d["results"][1].__setitem__("baseline_mean", 14.0), "$.results[1].baseline_mean",
         "null (the field is listed as suppressed)", "14.0"),
        (lambda d: d["results"][0].__setitem__("n_paired", 50), "$.results[0].n_paired", "at most n_baseline", "50"),
        (lambda d: d["data_hash"].__setitem__("value", "abc"), "$.data_hash.value", "text matching", '"abc"'),
        (lambda d: d["programmes"][1].__setitem__("programme_id", "A"), "$.programmes[1].programme_id",
         "used once", "'A' again"),
        (lambda d: d["results"][0].__setitem__("programme_id", "Z"), "$.results[0].programme_id",
         "listed in $.programmes", '"Z"'),
        (lambda d: d["results"][0].__setitem__("r_pre_post", 1.5), "$.results[0].r_pre_post", "<= 1", "1.5"),
        (lambda d: d["programmes"][0].__setitem__("first_referral_month", "2024-01-15"),
         "$.programmes[0].first_referral_month", "text matching", '"2024-01-15"'),
        (lambda d: d["disclosure"].__setitem__("threshold", 3), "$.disclosure", "suppression settings", "threshold 3"),
        (lambda d: d["rules"]["settings"].__setitem__("min_dose", -1), "$.rules.settings", "PairingRules",
         "min_dose"),
        # funnel steps nest: more took up than were referred (offered, between them, hidden) is no summary
        (lambda d: (d["programmes"][0].__setitem__("offered", None), d["programmes"][0]["suppressed"].append(
            "offered"), d["programmes"][0].__setitem__("referred", 10)), "$.programmes[0].took_up",
         "at most referred (10)", "60"),
        # and a measure's paired mothers are among those paired in the funnel
        (lambda d: d["programmes"][0].__setitem__("paired", 20), "$.results[0].n_paired",
         "at most $.programmes[0].paired (20)", "30"),
    ],
)
def test_tampered_file_names_path_expected_and_found(tmp_path, tamper, path, expected, found):
    data = small_summary().to_dict()
    tamper(data)
    err = _error(tmp_path, data)
    rows = err.problems[err.problems["path"] == path]
    assert len(rows), f"no problem at {path}; got {err.problems.to_dict('records')}"
    assert expected in rows["expected"].iloc[0] and found in rows["found"].iloc[0]
    text = str(err)
    assert "bad.json" in text and path in text and "expected" in text and "found" in text


def test_every_problem_is_listed(tmp_path):
    data = small_summary().to_dict()
    data["results"][0]["n_paired"] = "x"
    data["programmes"][0]["took_up"] = -1
    err = _error(tmp_path, data)
    assert {"$.results[0].n_paired", "$.programmes[0].took_up"} <= set(err.problems["path"])


def test_newer_schema_version_is_refused_clearly(tmp_path):
    data = small_summary().to_dict()
    data["schema_version"] = "2.0"
    err = _error(tmp_path, data)
    assert "$.schema_version" in str(err) and "newer evalkit" in str(err)


@pytest.mark.parametrize("text, found", [
    ("{not json", "invalid JSON at line 1"),
    ("", "invalid JSON"),
    ("[1, 2]", "an array"),
    ('{"schema_version": "1.0", "x": NaN}', "NaN is not allowed"),
])
def test_not_a_summary(tmp_path, text, found):
    err = _error(tmp_path, text)
    assert found in str(err) and "bad.json" in str(err)


def test_deeply_nested_json_is_a_format_error(tmp_path):
    """JSON nested deeper than the parser's recursion limit: a clear message, not an internal error."""
    err = _error(tmp_path, '{"a": ' * 100_000 + "1" + "}" * 100_000)
    assert "bad.json" in str(err) and "nested too deeply" in str(err)


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(InputFileError, match="file not found"):
        read_summary(tmp_path / "nope.json")
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputFileError, match="not UTF-8"):
        read_summary(p)


def test_validate_summary_accepts_what_to_dict_writes_with_rounding():
    s = small_summary(rounding_base=5)
    validate_summary(s.to_dict())
    counts = s.results[["n_baseline", "n_paired"]].stack().dropna()
    assert all(int(v) % 5 == 0 for v in counts)
    data = s.to_dict()
    data["results"][0]["n_baseline"] = 46
    with pytest.raises(SummaryFormatError, match=re.escape("a multiple of 5")):
        validate_summary(data)


def test_data_hash_ignores_row_and_column_order_and_provenance():
    a = pd.DataFrame({"participant_id": ["M1", "M2"], "programme_id": ["P", "P"],
                      "referral_date": pd.to_datetime(["2024-01-02", "2024-02-03"]), "deprivation_decile": [3, None]})
    b = a.iloc[::-1, ::-1].copy()
    b["source_row"] = [9, 8]
    assert data_hash({"participants": a}) == data_hash({"participants": b})
    # text as read from CSV gives the same hash as typed frames
    text = a.astype("string").assign(referral_date=["2024-01-02", "2024-02-03"], deprivation_decile=["3", ""])
    assert data_hash({"participants": text}) == data_hash({"participants": a})
    c = a.copy()
    c.loc[0, "deprivation_decile"] = 4
    assert data_hash({"participants": c}) != data_hash({"participants": a})
    assert re.fullmatch("[0-9a-f]{64}", data_hash({"participants": a}))


@pytest.mark.parametrize("text_edit, path, expected", [
    # a mean of 1e308 is a float, but the change from -1e308 to it overflows
    (lambda t: t.replace('"baseline_mean": 15.2', '"baseline_mean": 1e308').replace(
        '"endpoint_mean": 10.1', '"endpoint_mean": -1e308'), "$.results[0].baseline_mean", "at most 6.7e+153"),
    (lambda t: t.replace('"endpoint_mean": 10.1', '"endpoint_mean": -1e308'), "$.results[0].endpoint_mean",
     "overflow when squared or added"),
    (lambda t: t.replace('"baseline_sd": 4.4', '"baseline_sd": 1e200'), "$.results[0].baseline_sd",
     "at most 6.7e+153"),
    # 1e400 is read as infinity
    (lambda t: t.replace('"baseline_sd": 4.4', '"baseline_sd": 1e400'), "$.results[0].baseline_sd",
     "a finite number"),
    (lambda t: t.replace('"dose_median": 4.0', '"dose_median": -1e999'), "$.programmes[0].dose_median",
     "a finite number"),
    (lambda t: t.replace('"referred": 120', '"referred": 1' + "0" * 400), "$.programmes[0].referred",
     "a whole number of at most"),
])
def test_non_finite_and_overflowing_values_are_refused(tmp_path, text_edit, path, expected):
    text = small_summary().to_json(indent=None)
    edited = text_edit(text)
    assert edited != text
    bad = tmp_path / "bad.json"
    bad.write_text(edited, encoding="utf-8")
    with pytest.raises(SummaryFormatError) as info:
        read_summary(bad)
    rows = info.value.problems[info.value.problems["path"] == path]
    assert len(rows), f"no problem at {path}; got {info.value.problems.to_dict('records')}"
    assert expected in rows["expected"].iloc[0]
    assert "bad.json" in str(info.value) and path in str(info.value)


def test_plausible_means_and_in_memory_non_finite_values():
    data = small_summary().to_dict()
    # large, but its square plus another's is finite (on an instrument with no score range, so that the range
    # check does not refuse it either)
    data["results"][0].update(instrument="ons4", baseline_mean=6.0e153)
    validate_summary(data)
    data["results"][0]["endpoint_sd"] = float("nan")
    with pytest.raises(SummaryFormatError, match=r"\$\.results\[0\]\.endpoint_sd: expected a finite number"):
        validate_summary(data, source="mine.json")


def test_unknown_instrument_code_is_refused_with_the_known_codes(tmp_path):
    data = small_summary().to_dict()
    data["results"][1]["instrument"] = "nonsense"
    err = _error(tmp_path, data)
    rows = err.problems[err.problems["path"] == "$.results[1].instrument"]
    assert len(rows) == 1 and '"nonsense"' in rows["found"].iloc[0]
    text = " ".join(str(err).split())
    assert "bad.json" in text and "a known instrument code" in text
    for code in ("epds", "phq9", "gad7", "wemwbs", "swemwbs", "qpr15"):
        assert code in rows["expected"].iloc[0]


@pytest.mark.parametrize("field, value, expected", [
    ("baseline_mean", 30.5, "a mean within the instrument's range"),
    ("endpoint_mean", -0.1, "a mean within the instrument's range"),
    # the largest sample SD of 30 scores in 0..30 is 30 * sqrt(15 * 15 / (30 * 29)) = 15.26
    ("baseline_sd", 15.3, "an SD of at most 15.26, the largest possible for 30 scores"),
    ("endpoint_sd", 40.0, "an SD of at most 15.26"),
    ("mean_change", -30.5, "a mean change of at most 30 in size"),
])
def test_figures_outside_the_instrument_range_are_refused(tmp_path, field, value, expected):
    data = small_summary().to_dict()  # programme A, EPDS (totals 0 to 30), 30 paired
    data["results"][0][field] = value
    err = _error(tmp_path, data)
    path = f"$.results[0].{field}"
    rows = err.problems[err.problems["path"] == path]
    assert len(rows) == 1, err.problems.to_dict("records")
    assert expected in rows["expected"].iloc[0] and rows["rule"].iloc[0] == "score_range"
    text = " ".join(str(err).split())
    assert "bad.json" in text and path in text and "programme A" in text and "instrument epds" in text
    assert "totals 0 to 30" in text


def test_largest_possible_sd_is_accepted_and_rounding_loosens_it():
    # 30 scores, 15 at 0 and 15 at 30: sample SD 15.26, larger than (30 - 0) / 2 but a real set of scores
    scores = np.array([0.0] * 15 + [30.0] * 15)
    data = small_summary().to_dict()
    data["results"][0].update(baseline_mean=float(scores.mean()), baseline_sd=float(scores.std(ddof=1)))
    validate_summary(data)
    data["results"][0]["baseline_sd"] = float(scores.std(ddof=1)) * 1.001
    with pytest.raises(SummaryFormatError, match="baseline_sd"):
        validate_summary(data)
    # counts rounded to 10: a published 30 may be 21 scores, whose SD can reach 30 * sqrt(10 * 11 / (21 * 20))
    rounded = small_summary(rounding_base=10).to_dict()
    assert rounded["results"][0]["n_paired"] == 30
    rounded["results"][0]["baseline_sd"] = 30 * math.sqrt(10 * 11 / (21 * 20))
    validate_summary(rounded)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(*[st.one_of(st.sampled_from([0, 30]), st.integers(0, 30))] * 2), min_size=5, max_size=40))
def test_figures_of_any_real_epds_scores_are_accepted(pairs):
    pre = np.array([a for a, _ in pairs], dtype=float)
    post = np.array([b for _, b in pairs], dtype=float)
    n = len(pairs)
    prog = pd.DataFrame({"programme_id": ["A"], "referred": [n], "paired": [n]})
    res = pd.DataFrame({"programme_id": ["A"], "instrument": ["epds"], "higher_is_better": [False],
                        "n_baseline": [n], "n_paired": [n], "baseline_mean": [pre.mean()],
                        "baseline_sd": [pre.std(ddof=1)], "endpoint_mean": [post.mean()],
                        "endpoint_sd": [post.std(ddof=1)], "mean_change": [(post - pre).mean()]})
    summary = Summary.from_frames(prog, res)  # validates: must not refuse figures real scores give
    assert summary.results.loc[0, "baseline_sd"] == pytest.approx(pre.std(ddof=1))
