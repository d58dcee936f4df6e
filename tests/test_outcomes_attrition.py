"""attrition_check: every group's Welch test (one vectorised call) as SciPy gives it group by group."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evalkit.change import episode_change
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.outcomes import attrition_check
from evalkit.rules import PairingRules


@pytest.fixture(scope="module")
def changes() -> pd.DataFrame:
    rules = PairingRules()
    ed = prepare_episodes(generate_programmes(900, seed=11).tables, rules=rules)
    return episode_change(ed.episodes, rules=rules)


def _group_by_group(changes: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The general path: one SciPy call per group."""
    rows = []
    base = changes[changes["baseline_score"].notna()]
    for key, g in base.groupby(by, sort=True, dropna=False, observed=True):
        pm = g["paired"].astype("boolean").fillna(False).to_numpy(dtype=bool)
        score = g["baseline_score"].to_numpy(dtype=float)
        a, u = score[pm], score[~pm]
        t = p = np.nan
        if len(a) >= 2 and len(u) >= 2 and (a.std() > 0 or u.std() > 0):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                r = stats.ttest_ind(u, a, equal_var=False)
            t, p = float(r.statistic), float(r.pvalue)
        rows.append({"key": key, "n_paired": len(a), "n_unpaired_with_baseline": len(u), "attrition_t": t,
                     "attrition_p": p})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("by", [["programme_id", "instrument"], ["instrument"],
                                ["programme_id", "instrument", "perinatal_stage"]])
def test_attrition_tests_are_scipys_group_by_group(changes, by) -> None:
    got = attrition_check(changes, by=by)
    want = _group_by_group(changes, by)
    assert len(got) == len(want) and got["attrition_t"].notna().sum() > 3
    for c in ("n_paired", "n_unpaired_with_baseline"):
        assert got[c].tolist() == want[c].tolist()
    for c in ("attrition_t", "attrition_p"):
        g, w = got[c].to_numpy(dtype=float), want[c].to_numpy(dtype=float)
        assert ((g == w) | (np.isnan(g) & np.isnan(w))).all(), c
