"""Known gap, not fixed: the joint PHQ-9 + GAD-7 'finished' count is pinned by the funnel and the summary.

The Talking Therapies table hides the joint row's n finished J (generator seed 12, 150 per programme,
P-PHONE: J = 7, hidden to protect the 2 mothers paired on PHQ-9 but not on GAD-7). Three cells other tables
publish bound it from both sides (Frechet bounds, from counts never being negative, not one equation):

* J <= GAD-7 n paired (outcome summary, 7): the joint row's people are paired on GAD-7;
* J >= PHQ-9 n paired + GAD-7 n paired - the funnel's 'paired' (9 + 7 - 9 = 7): the funnel counts the
  mothers paired on any change measure, at least those paired on PHQ-9 or GAD-7.

Hiding J cannot help: only the funnel's 'paired' or a summary n paired could, and those tables are
disclosed on their own (take_up_funnel does not see the outcomes). This test fails until they see each
other (it is marked to fail strictly, so that a fix shows up).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from evalkit.engagement import participant_path, take_up_funnel
from evalkit.errors import EvalkitWarning
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes


@pytest.mark.xfail(strict=True, reason="funnel 'paired' and the summary's n paired pin the hidden joint n finished")
def test_the_published_tables_do_not_pin_the_joint_finished_count() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(generate_programmes(150, seed=12).tables, models=False)
    tt = res.talking_therapies
    joint = tt[(tt["programme_id"] == "P-PHONE") & (tt["measure_set"] == "phq9+gad7")]
    assert len(joint) == 1 and pd.isna(joint["n_finished"].iloc[0])  # hidden
    paired = res.summary[res.summary["programme_id"] == "P-PHONE"].set_index("instrument")["n_paired"]
    funnel = take_up_funnel(participant_path(res.data, rules=res.rules))
    any_paired = funnel[(funnel["programme_id"] == "P-PHONE") & (funnel["step"] == "paired")]["n"].iloc[0]
    if pd.isna(any_paired) or pd.isna(paired["phq9"]) or pd.isna(paired["gad7"]):
        return  # a bound's cell is hidden: not pinned
    low = int(paired["phq9"]) + int(paired["gad7"]) - int(any_paired)
    high = min(int(paired["phq9"]), int(paired["gad7"]))
    assert low < high, f"the hidden joint n finished is {low} <= J <= {high}"
