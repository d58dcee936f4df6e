"""The summary's change of each programme, worked out in one pass with each programme's own parameters, equals
:func:`evalkit.change.episode_change` of each programme's episodes on its own, stacked with ``pandas.concat``.

The pass (``evalkit.summary._change_of_each_programme``) replaced one ``episode_change`` call per programme and
their concatenation; the stacked texts (categories where every programme has the same ones, plain text where
they differ) must come out as the concatenation made them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.change import episode_change
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules
from evalkit.summary import _changes_by_programme


def _one_call_per_programme(data, ids: list[str], rules: PairingRules) -> pd.DataFrame:  # noqa: ANN001
    ep, sm = data.episodes, data.scored_measures
    pieces = []
    for pid in ids:
        mine = (ep["programme_id"] == pid).fillna(False).to_numpy(dtype=bool)
        if mine.any():
            own = sm[(sm["programme_id"] == pid).fillna(False).to_numpy(dtype=bool)]
            pieces.append(episode_change(ep[mine], rules=rules, scored_measures=own))
    return pd.concat(pieces, ignore_index=True)


def _tables(case: str) -> dict[str, pd.DataFrame]:
    tables = dict(generate_programmes(1_200, seed=7).tables)
    m = tables["measures"]
    progs = sorted(m["programme_id"].dropna().unique())
    if case == "no_cutoff_in_one":  # one programme measured only on instruments without a cut-off
        keep = (m["programme_id"] != progs[0]) | m["instrument"].isin(["swemwbs", "qpr15"])
        tables["measures"] = m[keep.fillna(False).to_numpy(dtype=bool)]
    elif case == "same_texts":  # every programme on EPDS only: the same texts everywhere (with instrument SDs)
        tables["measures"] = m[(m["instrument"] == "epds").fillna(False).to_numpy(dtype=bool)]
    elif case == "one_programme_left":
        tables["measures"] = m[(m["programme_id"] == progs[1]).fillna(False).to_numpy(dtype=bool)]
    return tables


@pytest.mark.parametrize("case", ["generated", "no_cutoff_in_one", "same_texts", "one_programme_left"])
@pytest.mark.parametrize("source", ["instrument", "sample"])
@pytest.mark.parametrize("order", ["sorted", "reversed", "with_unknown"])
def test_one_pass_equals_one_episode_change_per_programme(case: str, source: str, order: str) -> None:
    rules = PairingRules(reliability_source=source)
    data = prepare_episodes(_tables(case), rules=rules)
    ids = sorted(data.participants["programme_id"].dropna().astype(str).unique())
    ids = ids[::-1] if order == "reversed" else (["NOT-THERE", *ids[1:]] if order == "with_unknown" else ids)
    expected = _one_call_per_programme(data, ids, rules)
    got = _changes_by_programme(data, ids, rules, None)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert got.attrs == expected.attrs
    for c in expected.columns:
        assert got[c].dtype == expected[c].dtype, c
        if isinstance(expected[c].dtype, pd.CategoricalDtype):
            assert list(got[c].cat.categories) == list(expected[c].cat.categories), c
            assert got[c].cat.categories.dtype == expected[c].cat.categories.dtype, c


def test_the_cases_hold_what_they_are_for() -> None:
    """The texts stacked differ (plain text) in one case, stay categories in another, and a programme has none."""
    rules = PairingRules()
    seen = {}
    for case in ("generated", "no_cutoff_in_one", "same_texts"):
        data = prepare_episodes(_tables(case), rules=rules)
        ids = sorted(data.participants["programme_id"].dropna().astype(str).unique())
        seen[case] = _one_call_per_programme(data, ids, rules)
    assert not isinstance(seen["generated"]["sd_source"].dtype, pd.CategoricalDtype)
    assert isinstance(seen["same_texts"]["cutoff"].dtype, pd.CategoricalDtype)
    first = seen["no_cutoff_in_one"]
    prog = first["programme_id"].astype(str).to_numpy()
    assert first.loc[prog == np.sort(np.unique(prog))[0], "cutoff"].isna().all()


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "object"])
def test_categories_as_text_equal_astype(dtype: str) -> None:
    """The stacked texts (``category_text_column``) equal ``astype`` of the categories' dtype: missing cells, unused and
    non-ASCII categories, every kind of text categories."""
    from evalkit.categorical_text import category_text_column

    rng = np.random.default_rng(3)
    cats = pd.Index(["b x", "a (é)", "c; d", ""], dtype=dtype)
    for n in (0, 1, 50):
        col = pd.Series(pd.Categorical.from_codes(rng.integers(-1, 3, n), categories=cats), name="x")  # "" unused
        pd.testing.assert_series_equal(category_text_column(col), col.astype(cats.dtype), check_exact=True)
