"""Talking Therapies rates of a single measure count the summary's people: disclosed the same way (finding 1).

On the example data the EPDS outcome table hid P-PAID's reliable recovery ('[c] of 21') next to
'Recovered 14 of 21', while the Talking Therapies table of the same report showed 'Reliable recovery 12 of
21': 14 - 12 = 2 recovered without reliable improvement.
"""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.data_source import example_tables
from evalkit.outcomes import evaluate_outcomes

#: Talking Therapies count -> the summary's count of the same people (single-measure sets)
SAME = {"n_finished": "n_paired", "n_caseness_start": "n_caseness_baseline", "n_recovery": "n_recovered",
        "n_reliable_recovery": "n_reliable_recovery", "n_reliable_improvement": "n_reliable_improvement",
        "n_reliable_deterioration": "n_reliable_deterioration", "n_no_reliable_change": "n_no_reliable_change"}


@pytest.fixture(scope="module")
def result():  # noqa: ANN201
    return evaluate_outcomes(example_tables(), models=False)


def _single_rows(result) -> pd.DataFrame:  # noqa: ANN001
    tt = result.talking_therapies
    joint = set(tt.loc[tt["measure_set"] == "phq9+gad7", "programme_id"].astype(str))
    ms = tt["measure_set"].astype(str)
    keep = (ms == "epds") | (ms.isin(["phq9", "gad7"]) & ~tt["programme_id"].astype(str).isin(joint))
    return tt[keep.to_numpy()].merge(result.summary.rename(columns={"instrument": "measure_set"}),
                                     on=["programme_id", "measure_set"], suffixes=("", "_s"))


def test_the_same_figures_are_hidden_and_shown_alike(result) -> None:  # noqa: ANN001
    m = _single_rows(result)
    assert len(m) >= 4  # the EPDS of every programme
    for tcol, scol in SAME.items():
        a = m[tcol]
        b = m[scol + "_s"] if scol + "_s" in m.columns else m[scol]
        assert a.isna().tolist() == b.isna().tolist(), (tcol, m[["programme_id", tcol]], b)
        assert a.dropna().tolist() == b.dropna().tolist(), tcol
    # the not-at-caseness count is shown only where n paired and caseness both are (it is their difference)
    both = m["n_finished"].notna() & m["n_caseness_start"].notna()
    assert m["n_not_caseness_start"].notna().tolist() == both.tolist()


def test_p_paid_reliable_recovery_is_not_given_away(result) -> None:  # noqa: ANN001
    tt = result.talking_therapies.set_index(["programme_id", "measure_set"])
    s = result.summary.set_index(["programme_id", "instrument"])
    assert pd.isna(s.loc[("P-PAID", "epds"), "n_reliable_recovery"])
    assert pd.isna(tt.loc[("P-PAID", "epds"), "n_reliable_recovery"])
    assert pd.isna(tt.loc[("P-PAID", "epds"), "pct_reliable_recovery"])
    assert "n_reliable_recovery" in tt.loc[("P-PAID", "epds"), "suppressed"].split("; ")


def test_report_tables_agree(tmp_path) -> None:  # noqa: ANN001
    from evalkit.report import build_report
    from evalkit.rules import PairingRules

    rep = build_report(example_tables(), rules=PairingRules(), models=False, figures=False)
    tt, s = rep.tables["talking_therapies"], rep.tables["outcome_summary"]
    row = tt[(tt["programme_id"] == "P-PAID") & (tt["measure_set"] == "epds")].iloc[0]
    srow = s[(s["programme_id"] == "P-PAID") & (s["instrument"] == "epds")].iloc[0]
    assert pd.isna(row["n_reliable_recovery"]) and pd.isna(srow["n_reliable_recovery"])
    assert row["n_recovery"] == srow["n_recovered"] == 14
