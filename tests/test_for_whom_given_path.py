"""for_whom reuses a participant path it is given (the report's) instead of computing it again."""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

import evalkit.engagement as engagement
from evalkit.engagement import participant_path
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes
from evalkit.rules import PairingRules


@pytest.fixture(scope="module")
def result():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return evaluate_outcomes(generate_programmes(1200, seed=5).tables, models=False)


@pytest.mark.parametrize("what", ["take_up", "funnel", "endings"])
@pytest.mark.parametrize("within", [("programme_id",), ()])
def test_a_given_path_gives_the_same_table_without_computing_it_again(result, monkeypatch, what, within) -> None:
    rules = PairingRules()
    path = participant_path(result.data, rules=rules)
    expected = for_whom(result, "perinatal_stage", what=what, within=within, rules=rules)

    def refuse(*args, **kwargs):
        raise AssertionError("participant_path computed again")

    monkeypatch.setattr(engagement, "participant_path", refuse)
    got = for_whom(result, "perinatal_stage", what=what, within=within, rules=rules, path=path)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs


@pytest.mark.parametrize("what", ["outcomes", "recovery", "talking_therapies"])
def test_metrics_not_read_from_the_path_ignore_it(result, what) -> None:
    rules = PairingRules()
    path = participant_path(result.data, rules=rules)
    expected = for_whom(result, "perinatal_stage", what=what, rules=rules)
    pd.testing.assert_frame_equal(for_whom(result, "perinatal_stage", what=what, rules=rules, path=path), expected)
