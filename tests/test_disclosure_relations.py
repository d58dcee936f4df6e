"""Relations between counts (a count and its disjoint parts) that disclosure control leaves unprotected are reported.

:func:`evalkit.summary.disclose` and the Talking Therapies rows beside the outcome summary
(:func:`evalkit.outcomes.evaluate_outcomes`) give :func:`~evalkit.disclosure.secondary_suppression` each relation
as one equation whose first member is the parent count (parent - parts - rest = 0, no total). Like
:func:`~evalkit.disclosure.apply_disclosure`, they warn (:class:`~evalkit.errors.DisclosureWarning`) when a
hidden count could still be worked out; an equation whose cells are all hidden tells nothing and is not reported.
Marking their rests ``unpublished`` changes nothing: that argument only bears on equations with a total cell.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.disclosure as disclosure
import evalkit.summary as summary
from evalkit.data_source import example_tables
from evalkit.disclosure import warn_unprotected_relations
from evalkit.errors import DisclosureWarning
from evalkit.outcomes import evaluate_outcomes
from evalkit.rules import PairingRules


def _one_relation(values: list[float], hidden: list[bool]) -> tuple[np.ndarray, ...]:
    n = len(values)
    return (np.array(values, dtype=float), np.array(hidden), np.zeros(n, dtype=np.int64), np.arange(n),
            np.array(["paired", *(f"part{i}" for i in range(1, n))], dtype=object))


@pytest.mark.parametrize("values, hidden, left", [
    ([20, 3, 17], [False, True, False], True),  # one hidden part: 20 - 17
    ([3, 3, 0], [True, False, False], True),  # the parent hidden alone: 3 + 0
    ([20, 3, 1, 16], [False, True, True, False], True),  # hidden parts add up to 4 = 20 - 16, a small count
    ([20, 3, 10, 7], [False, True, True, False], False),  # hidden parts add up to 13
    ([4, 3, 1], [True, True, True], False),  # all hidden: nothing can be worked out from this relation
    ([20, 3, np.nan], [False, True, False], False),  # a part not available: the relation tells nothing
    ([20, 0, 20], [False, False, False], False),
])
def test_relations_left_unprotected_known_answers(values, hidden, left) -> None:
    v, sup, g, c, names = _one_relation(values, hidden)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = warn_unprotected_relations(v, sup, g, c, threshold=5, names=names)
    assert got.tolist() == [left]
    found = [w for w in caught if issubclass(w.category, DisclosureWarning)]
    assert len(found) == int(left)
    if left:
        text = str(found[0].message)
        assert "1 relation" in text and "paired" in text and "worked out by subtraction" in text


def _frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    prog = pd.DataFrame({"programme_id": ["A"], "referred": [60], "took_up": [50], "attended_1": [45]})
    res = pd.DataFrame({"programme_id": ["A"], "instrument": ["epds"], "role": ["symptom"], "n_baseline": [40],
                        "n_paired": [30], "n_reliable_improvement": [3], "n_reliable_deterioration": [12]})
    return prog, res


def _identity(values, suppressed, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    return np.asarray(suppressed, dtype=bool).copy()


def test_summary_disclose_says_so_when_a_relation_is_left_unprotected(monkeypatch: pytest.MonkeyPatch) -> None:
    prog, res = _frames()
    with warnings.catch_warnings():
        warnings.simplefilter("error", DisclosureWarning)
        _, r = summary.disclose(prog, res)  # protected: no warning
    assert pd.isna(r.loc[0, "n_reliable_improvement"])  # with the rest of the paired (15) as its complement
    # were complementary suppression ever to leave the 3 improved alone hidden (30 - 12 - 15), disclose says so
    monkeypatch.setattr(summary, "secondary_suppression", _identity)
    with pytest.warns(DisclosureWarning, match=r"result\.n_reliable_improvement"):
        summary.disclose(prog, res)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_unpublished_changes_nothing_in_equations_without_a_total_cell(data: st.DataObject) -> None:
    """Why :func:`evalkit.summary.disclose` does not pass its rests as ``unpublished``: in equations whose total is
    -1 (every relation of the summary) the mask cannot change what secondary suppression hides."""
    n = data.draw(st.integers(2, 12))
    values = np.array(data.draw(st.lists(st.one_of(st.integers(0, 12), st.just(np.nan)), min_size=n, max_size=n)),
                      dtype=float)
    equations = data.draw(st.lists(st.lists(st.integers(0, n - 1), min_size=1, max_size=5, unique=True),
                                   min_size=1, max_size=5))
    g = np.concatenate([np.full(len(e), i) for i, e in enumerate(equations)])
    c = np.concatenate([np.array(e) for e in equations])
    hidden = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n))) & ~np.isnan(values)
    cost = np.array(data.draw(st.lists(st.sampled_from([-1.0, 0.0, 1.0, 5.0]), min_size=n, max_size=n)))
    unpublished = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    no_total = np.full(len(equations), -1)
    given_rests = disclosure.secondary_suppression(values, hidden, g, c, no_total, threshold=5, cost=cost,
                                                   unpublished=unpublished)
    assert given_rests.tolist() == disclosure.secondary_suppression(values, hidden, g, c, no_total, threshold=5,
                                                                    cost=cost).tolist()


def test_talking_therapies_beside_the_summary_say_so_when_left_unprotected(monkeypatch: pytest.MonkeyPatch) -> None:
    rules = PairingRules()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_outcomes(example_tables(), rules=rules, models=False)
    assert not [w for w in caught if "worked out by subtraction" in str(w.message)]
    monkeypatch.setattr(disclosure, "secondary_suppression", _identity)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        evaluate_outcomes(example_tables(), rules=rules, models=False)
    relation = [w for w in caught if issubclass(w.category, DisclosureWarning)
                and "worked out by subtraction" in str(w.message)]
    assert relation and "Talking Therapies" in str(relation[0].message)
