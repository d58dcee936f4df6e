"""Who sees what: suppression in profiles and signals (properties), the provider-only conversation list, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.access import Scope
from evalkit.cli import main as cli_main
from evalkit.errors import AccessDenied
from evalkit.generator import generate_programmes, write_examples
from evalkit.mechanisms import (
    ending_distress,
    mechanism_profile,
    quality_signals,
    responses_needing_conversation,
)

THRESHOLD = 5


def _tables(answers: list[list[int | None]], programmes: list[str], instrument: str = "pex_one_to_one") -> dict:
    """Minimal canonical tables: one mother per answer set, each in the given programme."""
    n = len(answers)
    ids = [f"M{i:03d}" for i in range(n)]
    parts = pd.DataFrame({"participant_id": ids, "programme_id": programmes,
                          "referral_date": pd.Timestamp("2025-01-06"), "took_up": pd.array([True] * n, "boolean"),
                          "format_offered": "telephone", "ending": "planned_ending",
                          "end_date": pd.Timestamp("2025-05-01")})
    progs = pd.DataFrame({"programme_id": sorted(set(programmes)), "provider": [f"Org {p}" for p in
                                                                                sorted(set(programmes))],
                          "format": "one_to_one"})
    items = np.array([[np.nan if a is None else a for a in row] for row in answers], dtype=float)
    meas = pd.DataFrame({"programme_id": programmes, "participant_id": ids, "instrument": instrument,
                         "completed_on": pd.Timestamp("2025-04-28"), "timepoint": "end",
                         **{f"item_{k + 1}": items[:, k] for k in range(items.shape[1])}})
    return {"programmes": progs, "participants": parts, "measures": meas}


answer = st.one_of(st.none(), st.integers(0, 4))
answer_sets = st.lists(st.lists(answer, min_size=14, max_size=14), min_size=1, max_size=40)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets, st.lists(st.sampled_from(["P1", "P2"]), min_size=40, max_size=40))
def test_profile_never_publishes_a_small_or_recoverable_count(answers: list, progs: list) -> None:
    tables = _tables(answers, progs[: len(answers)])
    prof = mechanism_profile(tables, by="programme_id", suppression_threshold=THRESHOLD)
    for c in ("n_endorsed", "n_not_endorsed", "n_answered"):
        shown = prof[c].dropna().astype(int)
        assert ((shown == 0) | (shown >= THRESHOLD)).all(), c
    one_hidden = prof["n_endorsed"].isna() ^ prof["n_not_endorsed"].isna()
    assert not (one_hidden & prof["n_answered"].notna()).any()  # never recoverable by subtraction
    hidden = prof["n_endorsed"].isna() | prof["n_not_endorsed"].isna()
    assert prof.loc[hidden, ["share", "ci_low", "ci_high"]].isna().all().all()
    assert (prof.loc[~hidden, "share"] == prof.loc[~hidden, "n_endorsed"] / prof.loc[~hidden, "n_answered"]).all()
    # the published counts are the true ones
    full = mechanism_profile(tables, by="programme_id", suppression_threshold=1)
    pub = prof["n_endorsed"].notna()
    assert (prof.loc[pub, "n_endorsed"].to_numpy() == full.loc[pub, "n_endorsed"].to_numpy()).all()


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(answer_sets)
def test_signals_hide_small_counts_and_their_signal(answers: list) -> None:
    tables = _tables(answers, ["P1"] * len(answers))
    sig = quality_signals(tables, by="programme_id", level=0.2, suppression_threshold=THRESHOLD)
    for c in ("n_endorsed", "n_not_endorsed", "n_responses"):
        shown = sig[c].dropna().astype(int)
        assert ((shown == 0) | (shown >= THRESHOLD)).all()
    hidden = sig["n_endorsed"].isna() | sig["n_not_endorsed"].isna()
    assert sig.loc[hidden, "signal"].isna().all() and sig.loc[hidden, "share"].isna().all()


def test_profile_counts_by_hand() -> None:
    answers = [[4] * 8 + [0, 0, 0, 0, 0, 1]] * 6 + [[3] * 8 + [4, 0, 0, 0, 0, 3]] * 2 + [[1] * 14] * 5
    prof = mechanism_profile(_tables(answers, ["P1"] * 13), by="programme_id")
    listened = prof[prof["mechanism"] == "listened"].iloc[0]
    assert (listened["n_answered"], listened["n_endorsed"], listened["n_not_endorsed"]) == (13, 8, 5)
    assert listened["share"] == pytest.approx(8 / 13)
    worse = prof[prof["mechanism"] == "not_taken_seriously"].iloc[0]
    assert pd.isna(worse["n_endorsed"]) and pd.isna(worse["n_not_endorsed"]) and worse["n_answered"] == 13
    assert prof["mechanism"].iloc[0] == "not_taken_seriously" and prof["valence"].iloc[5] == "ending"


# --------------------------------------------------------------------------- conversations
@pytest.fixture(scope="module")
def data():  # noqa: ANN201
    return generate_programmes(1500, seed=8, experience=True)


@pytest.mark.parametrize("scope", [Scope("researcher"), Scope.for_evaluator(["P-GROUP"])])
def test_conversation_list_is_denied_to_aggregate_roles(data, scope: Scope) -> None:  # noqa: ANN001
    with pytest.raises(AccessDenied):
        responses_needing_conversation(data.tables, scope)


def test_provider_sees_only_its_own_programmes_and_the_reasons(data) -> None:  # noqa: ANN001
    out = responses_needing_conversation(data.tables, Scope.for_provider("Northside Mums Charity"))
    assert len(out) > 0 and set(out["programme_id"]) == {"P-GROUP"}
    assert out["completed_on"].is_monotonic_decreasing
    pattern = r"^[a-z_]+ \([34]\)(; [a-z_]+ \([34]\))*$"
    assert out["reasons"].str.fullmatch(pattern).all()
    everyone = responses_needing_conversation(data.tables, Scope.admin())
    assert set(everyone["programme_id"]) == {"P-GROUP", "P-PHONE", "P-HOME", "P-PAID"}


def test_conversation_rule_by_hand() -> None:
    answers = [[4] * 13 + [1], [4] * 9 + [3] + [0] * 4, [4] * 13 + [3], [2] * 14]
    answers[0][8:13] = [0, 0, 0, 0, 0]  # all negative items disagreed, ending item 1: nothing to follow up
    tables = _tables(answers, ["P1"] * 4)
    out = responses_needing_conversation(tables, Scope.for_provider("Org P1"))
    assert sorted(out["participant_id"]) == ["M001", "M002"]
    reasons = out.set_index("participant_id")["reasons"]
    assert reasons["M001"] == "not_taken_seriously (4); compared_worse (3)"
    assert reasons["M002"].endswith("ending_worry (3)")
    assert responses_needing_conversation(tables, Scope.for_provider("Someone else")).empty


def test_ending_distress_uses_only_questionnaires_at_ending() -> None:
    answers = [[4] * 13 + [4]] * 6 + [[4] * 13 + [0]] * 6
    tables = _tables(answers, ["P1"] * 12)
    tables["participants"].loc[6:, "ending"] = "stopped_attending"
    tables["measures"].loc[:2, "completed_on"] = pd.Timestamp("2025-02-01")  # a review, months before ending
    tables["measures"].loc[:2, "timepoint"] = "T1"
    out = ending_distress(tables, by=(), suppression_threshold=1).set_index("ending_class")
    assert out.loc["planned", "n_responses"] == 3 and out.loc["planned", "n_distressed"] == 3
    assert out.loc["unplanned", "n_responses"] == 6 and out.loc["unplanned", "n_distressed"] == 0


# --------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def folder(data, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: ANN001
    out = tmp_path_factory.mktemp("mech")
    write_examples(data, out)
    return out


def test_cli_profile_table(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["mechanisms", "--data", str(folder), "--by", "format"]) == 0
    text = capsys.readouterr().out
    assert "Mechanism profile by format" in text and "unvalidated" in text
    assert text.index("compared_worse") < text.index("listened")


def test_cli_cmo_says_exploratory_first(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["mechanisms", "--data", str(folder), "--what", "cmo"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("EXPLORATORY") and "== take up ==" in text and "== outcomes ==" in text


def test_cli_signals_json(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["mechanisms", "--data", str(folder), "--what", "signals", "--level", "0.3",
                     "--format", "json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert set(payload["tables"]) == {"signals", "ending"}
    rows = payload["tables"]["signals"]["rows"]
    assert rows and {"measure", "share", "signal", "suppressed"} <= set(rows[0])
    assert payload["tables"]["signals"]["attrs"]["level"] == 0.3


def test_cli_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["mechanisms", "--what", "profile"])
    assert exc.value.code == 2
    assert cli_main(["mechanisms", "--data", str(tmp_path)]) == 2
    assert "holds none of" in capsys.readouterr().err
