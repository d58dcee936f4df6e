"""The joint PHQ-9 + GAD-7 Talking Therapies rows, published next to the outcome summary, give away no small count.

On the example data P-PHONE's joint row showed 28 finished next to the summary's PHQ-9 n paired 30 and
GAD-7 n paired 29 (every P-PHONE mother with a PHQ-9 has a GAD-7 too): 30 - 28 = 2 mothers paired on the
PHQ-9 but not on the GAD-7, 29 - 28 = 1 the other way round -- both below the threshold of 5.

A joint row's finished mothers are paired on both measures, so for each of the two instruments the
summary's n paired (and every published count containing it) = the joint row's n finished + the
single-measure row's n finished (mothers with only that measure) + the rest (paired on it but not on the
other); and each count of a single-measure row (finished, caseness, recovery, reliable change) lies inside
the summary's count of that instrument. The rest of each of these subtractions must not be a small count.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.data_source import example_tables
from evalkit.outcomes import evaluate_outcomes
from evalkit.rules import PairingRules
from evalkit.talking_therapies import talking_therapies_outcomes, talking_therapies_rates

#: single-measure Talking Therapies count -> the summary's count of the same definition
_INSIDE = {"n_finished": "n_paired", "n_caseness_start": "n_caseness_baseline", "n_recovery": "n_recovered",
           "n_reliable_recovery": "n_reliable_recovery", "n_reliable_improvement": "n_reliable_improvement",
           "n_reliable_deterioration": "n_reliable_deterioration", "n_no_reliable_change": "n_no_reliable_change"}


#: n finished and its partitions within a row
_FINISHED_PARTS = [("n_finished",), ("n_caseness_start", "n_not_caseness_start"),
                   ("n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change")]


def _hidden(row: pd.Series, col: str) -> bool:
    return col in str(row["suppressed"]).split("; ") or pd.isna(row[col])


def _small(x: float, t: int) -> bool:
    return 0 < x < t


def _differences(result, rules: PairingRules) -> list[tuple[str, str, str, float]]:  # noqa: ANN001
    """Every small count a reader gets by subtracting published Talking Therapies counts from summary counts."""
    t = rules.suppression_threshold
    raw_tt = talking_therapies_rates(talking_therapies_outcomes(result.changes, rules=rules), rules=rules,
                                     disclose=False).set_index(["programme_id", "measure_set"])
    tt = result.talking_therapies.set_index(["programme_id", "measure_set"])
    s = result.summary.set_index(["programme_id", "instrument"])
    raw_s = result.statistics.set_index(["programme_id", "instrument"])
    found = []
    for pid in tt.index.get_level_values(0)[tt.index.get_level_values(1) == "phq9+gad7"]:
        joint, raw_joint = tt.loc[(pid, "phq9+gad7")], raw_tt.loc[(pid, "phq9+gad7")]
        for inst in ("phq9", "gad7"):
            if (pid, inst) not in s.index:
                continue
            srow, raw_srow = s.loc[(pid, inst)], raw_s.loc[(pid, inst)]
            only = tt.loc[(pid, inst)] if (pid, inst) in tt.index else None
            raw_only = raw_tt.loc[(pid, inst)] if only is not None else None
            # containers of the paired mothers: n paired, and n with a baseline (= paired + unpaired with one)
            containers = []
            if not _hidden(srow, "n_paired"):
                containers.append(("n_paired", float(raw_srow["n_paired"])))
                if not _hidden(srow, "n_unpaired_with_baseline"):
                    containers.append(("n_baseline", float(raw_srow["n_paired"] + raw_srow["n_unpaired_with_baseline"])))
            for name, total in containers:
                # n finished, or its parts (caseness or not; improved, deteriorated or neither): what is published
                for j_parts in _FINISHED_PARTS:
                    for o_parts in _FINISHED_PARTS if only is not None else [()]:
                        rest = total
                        rest -= sum(float(raw_joint[c]) for c in j_parts if not _hidden(joint, c))
                        rest -= sum(float(raw_only[c]) for c in o_parts if not _hidden(only, c))
                        if _small(rest, t):
                            found.append((pid, inst, f"{name} - joint {j_parts} - only {o_parts}", rest))
            if only is None:
                continue
            for tcol, scol in _INSIDE.items():
                if _hidden(srow, scol) or _hidden(only, tcol):
                    continue
                rest = float(raw_srow[scol]) - float(raw_only[tcol])
                if _small(rest, t):
                    found.append((pid, inst, f"{scol} - {inst}-only {tcol}", rest))
    return found


def _partitions_hold(tt: pd.DataFrame) -> None:
    """Within each Talking Therapies row, no set adding up to n finished has exactly one hidden cell."""
    for _, row in tt.iterrows():
        for members in (("n_caseness_start", "n_not_caseness_start"),
                        ("n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change")):
            cells = (*members, "n_finished")
            assert sum(_hidden(row, c) for c in cells) != 1, (row["programme_id"], row["measure_set"], cells)


def test_p_phone_joint_row_does_not_give_away_the_paired_differences() -> None:
    rules = PairingRules()
    result = evaluate_outcomes(example_tables(), rules=rules, models=False)
    assert _differences(result, rules) == []
    tt = result.talking_therapies.set_index(["programme_id", "measure_set"])
    s = result.summary.set_index(["programme_id", "instrument"])
    # the summary keeps its n paired (it is what a comparison needs); the joint row gives way
    assert s.loc[("P-PHONE", "phq9"), "n_paired"] == 30 and s.loc[("P-PHONE", "gad7"), "n_paired"] == 29
    assert pd.isna(tt.loc[("P-PHONE", "phq9+gad7"), "n_finished"])
    assert "n_finished" in str(tt.loc[("P-PHONE", "phq9+gad7"), "suppressed"]).split("; ")
    _partitions_hold(result.talking_therapies)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("drop", ["gad7", "phq9"])
def test_single_measure_rows_next_to_a_joint_row(seed: int, drop: str) -> None:
    """Some P-PHONE mothers without one of the two measures: single-measure rows beside the joint row."""
    tables = example_tables()
    m = tables["measures"]
    phone = m.loc[m["programme_id"] == "P-PHONE", "participant_id"].drop_duplicates()
    rng = np.random.default_rng(seed)
    gone = set(rng.choice(phone.to_numpy(), size=int(rng.integers(6, 14)), replace=False))
    keep = ~((m["instrument"] == drop) & m["participant_id"].isin(gone))
    tables = {**tables, "measures": m[keep.to_numpy()].reset_index(drop=True)}
    rules = PairingRules()
    result = evaluate_outcomes(tables, rules=rules, models=False)
    other = "phq9" if drop == "gad7" else "gad7"
    assert (result.talking_therapies["measure_set"] == other).any()
    assert _differences(result, rules) == []
    _partitions_hold(result.talking_therapies)
