"""The breakdowns use the library's public names, each piece of logic in one home, and compute each table once.

for_whom took two private names from evalkit.outcomes (the Talking Therapies rates as evaluate_outcomes
publishes them, and the outcome summary's disclosure problem); they are public now:
published_talking_therapies_rates and summary_disclosure_spec. talking_therapies_by computed the per-person
outcomes twice, and the rates by programme and measure set twice (once before disclosure control, once
again inside the published table or with it): each is computed once now, the output the same.
"""

from __future__ import annotations

import ast
import inspect
import warnings

import pandas as pd
import pytest

import evalkit.for_whom
import evalkit.talking_therapies as tt_module
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import (
    disclose_statistics,
    evaluate_outcomes,
    published_talking_therapies_rates,
    summary_disclosure_spec,
)
from evalkit.rules import PairingRules


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return generate_programmes(300, seed=2).tables


@pytest.fixture(scope="module")
def result(tables):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        return evaluate_outcomes(tables, models=False)


def test_for_whom_imports_no_private_name_of_another_module() -> None:
    tree = ast.parse(inspect.getsource(evalkit.for_whom))
    private = [(node.module, a.name) for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
               and (node.module or "").startswith("evalkit") for a in node.names if a.name.startswith("_")]
    assert private == []


def test_summary_disclosure_spec_is_what_disclose_statistics_protects() -> None:
    spec = summary_disclosure_spec()
    assert spec["counts"][:3] == ["n_episodes", "n_engaged", "n_paired"]
    assert {"n_reliable_improvement", "n_recovered", "mi_n_imputed"} <= set(spec["counts"])
    assert spec["derived"]["pct_recovered"] == ["n_recovered", "n_caseness_baseline"]
    assert spec["across"] == []
    across = summary_disclosure_spec(("programme_id", "instrument"))["across"]
    assert [a.column for a in across] == spec["counts"]
    assert {a.keys for a in across} == {("programme_id", "instrument")}
    # a small paired count is hidden, and everything derived from it
    st = pd.DataFrame({"programme_id": ["P"], "instrument": ["phq9"], **{c: [20] for c in spec["counts"]}})
    st = st.assign(n_paired=3, completeness=15.0, mean_change=-4.0)
    out = disclose_statistics(st, rules=PairingRules())
    assert out[["n_paired", "completeness", "mean_change"]].isna().all(axis=None)


def test_published_talking_therapies_rates_is_the_table_evaluate_outcomes_publishes(result) -> None:
    people = tt_module.talking_therapies_outcomes(result.changes, rules=result.rules)
    rates = tt_module.talking_therapies_rates(people, rules=result.rules, disclose=False)
    out = published_talking_therapies_rates(people, rates, result.statistics, result.summary, rules=result.rules)
    pd.testing.assert_frame_equal(out, result.talking_therapies)
    # it is the summary's protection, not the rates' own: some cell hidden here shows in the rates alone
    own = tt_module.disclose_rates(rates, rules=result.rules)
    assert (out[list(tt_module.RATE_COUNTS)].isna() & own[list(tt_module.RATE_COUNTS)].notna()).any(axis=None)


@pytest.mark.parametrize("within", [("programme_id",), ()])
def test_talking_therapies_by_computes_the_people_and_the_rates_once(tables, within, monkeypatch) -> None:
    calls = {"talking_therapies_outcomes": [], "talking_therapies_rates": []}
    for name in calls:
        real = getattr(tt_module, name)

        def counted(*args, _real=real, _name=name, **kwargs):
            calls[_name].append(tuple(kwargs.get("by", ("programme_id", "measure_set"))))
            return _real(*args, **kwargs)

        monkeypatch.setattr(tt_module, name, counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        for_whom(tables, "perinatal_stage", what="talking_therapies", within=within)
    assert len(calls["talking_therapies_outcomes"]) == 1
    # the levels' rates, and the totals' (disclosed from the same computation)
    assert sorted(calls["talking_therapies_rates"]) == sorted([(*within, "measure_set", "perinatal_stage"),
                                                                (*within, "measure_set")])


@pytest.mark.parametrize("field", ["perinatal_stage", "ethnicity_group"])
def test_talking_therapies_by_from_tables_is_as_from_the_outcome_result(tables, result, field) -> None:
    # from the tables, the published totals are made again from the people and rates computed once; from an
    # OutcomeResult they are its table: the same
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        a = for_whom(tables, field, what="talking_therapies")
    pd.testing.assert_frame_equal(a, for_whom(result, field, what="talking_therapies"))
