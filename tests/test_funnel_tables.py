"""funnel_tables: the funnel, its exits and the take-up rate from one disclosure problem, each table exactly the
one its own function returns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import funnel_path, funnel_people
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import evalkit
import evalkit.engagement as engagement
from evalkit.data_source import example_tables
from evalkit.engagement import (
    FUNNEL_STEPS,
    FunnelTables,
    funnel_exits,
    funnel_tables,
    participant_path,
    take_up_funnel,
    take_up_rate,
)
from evalkit.episodes import prepare_episodes
from evalkit.rules import PairingRules

STEPS = list(FUNNEL_STEPS)
RULES = [PairingRules(), PairingRules(suppression_threshold=1), PairingRules(suppression_threshold=5),
         PairingRules(rounding_base=5), PairingRules(min_dose=4, level=0.9)]


def _same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a.attrs == b.attrs


def _each_on_its_own(tables, by, rules) -> FunnelTables:  # noqa: ANN001
    return FunnelTables(funnel=take_up_funnel(tables, by=by, rules=rules),
                        exits=funnel_exits(tables, by=by, rules=rules),
                        take_up_rate=take_up_rate(tables, by=by, rules=rules))


def _check(tables, by, rules) -> None:  # noqa: ANN001
    together, alone = funnel_tables(tables, by=by, rules=rules), _each_on_its_own(tables, by, rules)
    for part in ("funnel", "exits", "take_up_rate"):
        _same(getattr(together, part), getattr(alone, part))


@pytest.fixture(scope="module")
def example() -> dict[str, pd.DataFrame]:
    return example_tables()


@pytest.mark.parametrize("rules", RULES)
@pytest.mark.parametrize("by", [("programme_id",), (), ("programme_id", "perinatal_stage")])
def test_each_table_is_its_own_functions_on_the_example_path(example, by, rules) -> None:  # noqa: ANN001
    _check(participant_path(example, rules=rules), by, rules)


@pytest.mark.parametrize("rules", RULES[:2])
def test_each_table_is_its_own_functions_from_tables_episodes_or_participants(example, rules) -> None:  # noqa: ANN001
    _check(example, ("programme_id",), rules)
    _check(prepare_episodes(example, rules=rules), ("programme_id",), rules)
    _check(example["participants"], ("programme_id",), rules)  # a participants table: no pairing per measure


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), funnel_people(40), min_size=1, max_size=3),
       st.sampled_from(RULES), st.sampled_from([("programme_id",), ()]))
def test_each_table_is_its_own_functions_on_any_path(groups: dict, rules: PairingRules, by: tuple) -> None:
    _check(funnel_path(groups), by, rules)


def test_the_path_is_made_once_and_the_disclosure_problem_solved_once(example, monkeypatch) -> None:  # noqa: ANN001
    paths, solves = [], []
    make_path, solve = engagement.participant_path, engagement._funnel_disclosure

    def counting_path(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        paths.append(1)
        return make_path(*args, **kwargs)

    def counting_solve(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        solves.append(1)
        return solve(*args, **kwargs)

    monkeypatch.setattr(engagement, "participant_path", counting_path)
    monkeypatch.setattr(engagement, "_funnel_disclosure", counting_solve)
    funnel_tables(prepare_episodes(example))
    assert (len(paths), len(solves)) == (1, 1)


def test_funnel_tables_is_public() -> None:
    assert "funnel_tables" in evalkit.__all__ and evalkit.funnel_tables is funnel_tables
    assert "funnel_tables" in engagement.__all__


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans(), st.booleans()), max_size=30))
def test_joined_flags_lists_each_rows_true_names_in_order(rows) -> None:  # noqa: ANN001
    """The funnel's ``suppressed`` text, made once per combination of hidden columns, is each row's own join."""
    names = ("n", "n_left", "pct_of_previous", "pct_of_referred")
    masks = [np.array([r[i] for r in rows], dtype=bool) for i in range(4)]
    got = engagement._joined_flags(names, masks)
    want = ["; ".join(nm for nm, on in zip(names, r, strict=True) if on) for r in rows]
    assert list(got) == want


def _exits_by_hand(path: pd.DataFrame, by: tuple) -> pd.DataFrame:
    """The exit reasons of ``path`` counted one group and one step at a time (nothing hidden): each step's reasons
    in their text order, then its total; pct of the step's total."""
    rows = []
    groups = path.groupby(list(by), sort=True) if by else [((), path)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        for prev, step in zip(STEPS[:-1], STEPS[1:], strict=True):
            left = g[g["last_step"] == prev]
            if not len(left):
                continue
            reasons = left["exit_reason"].fillna("not_recorded").value_counts().sort_index()
            for reason, n in reasons.items():
                rows.append((*key, step, reason, n, False, 100 * n / len(left)))
            rows.append((*key, step, "total", len(left), True, 100.0))
    return pd.DataFrame(rows, columns=[*by, "step", "reason", "n", "is_total", "pct"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["A", "B", "C"]), funnel_people(30), min_size=1, max_size=3),
       st.sampled_from([("programme_id",), ()]))
def test_exits_are_the_reasons_counted_by_hand(groups: dict, by: tuple) -> None:
    """With nothing hidden, funnel_exits lists each group's steps in the funnel's order, each step's reasons in
    their text order and then its total, with their counts and shares."""
    path = funnel_path(groups)
    got = funnel_tables(path, by=by, rules=PairingRules(suppression_threshold=1)).exits
    want = _exits_by_hand(path, by)
    assert (got["suppressed"] == "").all()
    pd.testing.assert_frame_equal(
        got[[*by, "step", "reason", "is_total"]].astype({k: object for k in [*by, "step", "reason"]}),
        want[[*by, "step", "reason", "is_total"]].astype({k: object for k in [*by, "step", "reason"]}))
    assert got["n"].astype(int).tolist() == want["n"].tolist()
    np.testing.assert_allclose(got["pct"].to_numpy(dtype=float), want["pct"].to_numpy(dtype=float))
