"""The Talking Therapies rates computed later from an outcome result are the table evaluate_outcomes fills.

The dashboard evaluates the outcomes without them (``talking_therapies=False``: no page's first view shows
them) and makes them with :func:`evalkit.outcomes.outcome_talking_therapies` when the report tables ask. That
table must be the one ``evaluate_outcomes`` publishes by default, frame and attrs, including where cells are
hidden; and leaving them out must change nothing else in the result.
"""

from __future__ import annotations

import dataclasses
import warnings

import pandas as pd
import pytest

from evalkit.data_source import example_tables
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes, outcome_talking_therapies
from evalkit.rules import PairingRules

CASES = {
    "example": (example_tables, PairingRules()),
    "small programmes, threshold 10, rounded": (lambda: generate_programmes(300, seed=2).tables,
                                                PairingRules(suppression_threshold=10, rounding_base=5)),
}


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


@pytest.fixture(scope="module", params=list(CASES))
def results(request: pytest.FixtureRequest):  # noqa: ANN201 - (with, without) OutcomeResults
    make, rules = CASES[request.param]
    tables = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return (evaluate_outcomes(tables, rules=rules, models=False),
                evaluate_outcomes(tables, rules=rules, models=False, talking_therapies=False))


def test_the_rates_made_later_are_the_ones_evaluate_outcomes_fills(results) -> None:  # noqa: ANN001
    full, without = results
    assert without.talking_therapies is None
    expected = full.talking_therapies
    assert len(expected) and expected["suppressed"].fillna("").ne("").any()  # some cells are hidden
    _same(outcome_talking_therapies(without), expected)
    _same(outcome_talking_therapies(full), expected)
    # a result without its statistics (made by hand): they are computed again, the table the same
    _same(outcome_talking_therapies(dataclasses.replace(without, statistics=None)), expected)


def test_leaving_the_rates_out_changes_nothing_else(results) -> None:  # noqa: ANN001
    full, without = results
    for part in ("changes", "summary", "dose_sensitivity", "recovery", "parameters", "statistics"):
        _same(getattr(without, part), getattr(full, part))


def test_the_breakdown_of_a_result_without_the_rates_is_the_same(results) -> None:  # noqa: ANN001
    full, without = results
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        _same(for_whom(without, by="perinatal_stage", what="talking_therapies", rules=without.rules),
              for_whom(full, by="perinatal_stage", what="talking_therapies", rules=full.rules))
