"""The take-up rate publishes two funnel counts (referred, took up): it hides what the funnel hides.

Before, take_up_rate was disclosed on its own: where the funnel hid 'took up' (to protect a small number
offered but declining), the take-up table published it, and the funnel's hidden cell and its small
complement could be worked out (offered - took up). Breakdowns (for_whom take_up) treated the programme's
count as published, so the levels could add up to a count the programme funnel hides, and they published
levels the funnel breakdown hides (generator seed 0, 150 per programme, P-GROUP by perinatal stage: took up
5 and 19, hidden in the funnel breakdown, published by take-up).
"""

from __future__ import annotations

import warnings

import pandas as pd
import pytest

from evalkit.engagement import FUNNEL_STEPS, participant_path, take_up_funnel, take_up_rate
from evalkit.errors import EvalkitWarning
from evalkit.for_whom import for_whom
from evalkit.generator import generate_programmes
from evalkit.outcomes import evaluate_outcomes

STEPS = list(FUNNEL_STEPS)


def _path(people: list[tuple[str, int, str, int]]) -> pd.DataFrame:
    """(programme, index of the last step reached, first-time mother 'yes'/'no', how many such mothers)."""
    rows = []
    for pid, last, first, k in people:
        for _ in range(k):
            row = {"programme_id": pid, "participant_id": f"{pid}-{len(rows)}", "first_time_mother": first}
            row.update({s: j <= last for j, s in enumerate(STEPS)})
            row["last_step"] = STEPS[last]
            row["exit_reason"] = None if last == len(STEPS) - 1 else "other"
            rows.append(row)
    out = pd.DataFrame(rows)
    for c in ("programme_id", "participant_id", "first_time_mother", "last_step", "exit_reason"):
        out[c] = out[c].astype("string")
    return out


# P: 30 never offered, 3 offered who declined (a small count: the funnel hides it, and 'took up' with it),
# 25 took up and were paired; by first-time mother the 25 are 15 + 10 and the declines 2 + 1
PATH = _path([("P", 0, "yes", 15), ("P", 0, "no", 15), ("P", 1, "yes", 2), ("P", 1, "no", 1),
              ("P", 6, "yes", 15), ("P", 6, "no", 10)])


def test_take_up_rate_hides_what_the_funnel_hides() -> None:
    funnel = take_up_funnel(PATH).set_index(["programme_id", "step"])["n"]
    assert pd.isna(funnel[("P", "took_up")])  # protects the 3 declining: 28 offered - 25 took up
    rate = take_up_rate(PATH).set_index("programme_id")
    assert pd.isna(rate.loc["P", "n_took_up"]) and pd.isna(rate.loc["P", "pct_took_up"])
    assert "n_took_up" in rate.loc["P", "suppressed"]


def test_take_up_levels_never_add_up_to_a_hidden_programme_count() -> None:
    by = ["programme_id", "first_time_mother"]
    levels = take_up_rate(PATH, by=by, across_keys=["programme_id"])
    assert levels["n_took_up"].isna().any(), levels  # 15 + 10 would give the hidden 25
    # the funnel breakdown is the same problem: the same cells hidden
    funnel = take_up_funnel(PATH, by=by, across_keys=["programme_id"])
    took = funnel[funnel["step"] == "took_up"].set_index(by)["n"]
    assert (took.isna() == levels.set_index(by)["n_took_up"].isna().reindex(took.index)).all()


@pytest.mark.parametrize(("seed", "field"), [(0, "perinatal_stage"), (2, "first_time_mother"),
                                             (3, "ethnicity_group")])
def test_take_up_breakdown_hides_what_the_funnel_breakdown_hides(seed: int, field: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        res = evaluate_outcomes(generate_programmes(150, seed=seed).tables, models=False)
    take_up = for_whom(res, field, what="take_up").set_index(["programme_id", field])
    funnel = for_whom(res, field, what="funnel")
    for col, step in (("n_referred", "referred"), ("n_took_up", "took_up")):
        f = funnel[funnel["step"] == step].set_index(["programme_id", field])["n"]
        mine = take_up[col].reindex(f.index)
        assert (f.isna() == mine.isna()).all(), pd.concat([f, mine], axis=1)[f.isna() != mine.isna()]
    # and the programme table
    path = participant_path(res.data, rules=res.rules)
    rate = take_up_rate(path, rules=res.rules).set_index("programme_id")
    top = take_up_funnel(path, rules=res.rules)
    for col, step in (("n_referred", "referred"), ("n_took_up", "took_up")):
        f = top[top["step"] == step].set_index("programme_id")["n"]
        assert (f.isna() == rate[col].reindex(f.index).isna()).all()


@pytest.mark.parametrize("seed", [0, 5])
def test_take_up_rate_names_each_hidden_cell_and_hides_the_rate_with_either_count(seed: int) -> None:
    # the rate and its interval are hidden exactly where either count is, and ``suppressed`` names the hidden
    # cells of the row in the columns' order, nothing else
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        path = participant_path(generate_programmes(120, seed=seed).tables)
    cols = ["n_referred", "n_took_up", "pct_took_up", "pct_took_up_ci_low", "pct_took_up_ci_high"]
    seen = set()
    for by, across in ((["programme_id"], None), (["programme_id", "ethnicity_group"], ["programme_id"]), ([], None)):
        rate = take_up_rate(path, by=by, across_keys=across)
        hidden = rate[cols].isna().to_numpy()
        either = hidden[:, 0] | hidden[:, 1]
        assert (hidden[:, 2:] == either[:, None]).all()
        want = ["; ".join(c for c, h in zip(cols, row, strict=True) if h) for row in hidden]
        assert rate["suppressed"].tolist() == want
        assert rate["suppressed"].dtype == "string"
        seen |= {(bool(row[0]), bool(row[1])) for row in hidden}
    assert seen == {(False, False), (True, False), (False, True), (True, True)}  # every case was met
