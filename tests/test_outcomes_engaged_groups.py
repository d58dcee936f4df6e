"""``_engaged_counts`` counts the engaged x instrument rows on integer groups and groups one row per group on the
keys (session 22, issue #8's memory): the frame is the one grouping every row on its keys gave (commit ec127bc),
values, order and dtypes, on many inputs (missing keys, booleans, numbers, no engaged mother, keys without
the instrument)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit import outcomes
from evalkit.categorical_text import categories_as_text
from evalkit.episodes import engaged_mask
from evalkit.rules import PairingRules


def _old_engaged_counts(participants: pd.DataFrame, changes: pd.DataFrame, by: Sequence[str],
                        rules: PairingRules) -> pd.DataFrame:
    """``_engaged_counts`` as it was at commit ec127bc."""
    by = list(by)
    part_keys = [k for k in by if k != "instrument"]
    eng = participants[list(dict.fromkeys(["programme_id", "participant_id", *part_keys]))][
        engaged_mask(participants, rules.min_dose)]
    eng = categories_as_text(eng, part_keys)
    n_eng = len(eng)
    prog = outcomes._codes(eng["programme_id"], changes["programme_id"])[0]
    part, part_values = outcomes._codes(eng["participant_id"], changes["participant_id"])
    inst, inst_values = outcomes._codes(changes["instrument"])
    used = np.zeros((int(prog.max(initial=-1)) + 1, len(inst_values)), dtype=bool)
    used[prog[n_eng:], inst] = True
    has = np.zeros((len(part_values), len(inst_values)), dtype=bool)
    has[part[n_eng:], inst] = True
    who, which = np.nonzero(used[prog[:n_eng]])
    first_row = np.unique(inst, return_index=True)[1]
    pe = eng[list(dict.fromkeys(part_keys))].iloc[who].reset_index(drop=True)
    pe["instrument"] = changes["instrument"].array.take(first_row[which])
    pe["_none"] = (~has[part[:n_eng][who], which]).astype(int)
    keys = [*part_keys, "instrument"] if "instrument" in by else part_keys
    g = pe.groupby(keys, sort=True, dropna=False)
    return pd.DataFrame({"n_engaged": g.size(), "n_engaged_no_score": g["_none"].sum()}).reset_index()


_PROGS = st.sampled_from(["P1", "P2", "P3", None])


@st.composite
def _case(draw: st.DrawFn) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    n = draw(st.integers(1, 30))
    col = lambda s, k=n: draw(st.lists(s, min_size=k, max_size=k))  # noqa: E731
    ids = [f"id{i}" for i in range(n)]
    participants = pd.DataFrame({
        "participant_id": pd.array(ids, dtype="string"),
        "programme_id": pd.array(col(_PROGS), dtype="string"),
        "attended_total": col(st.sampled_from([0.0, 1.0, 3.0, np.nan])),
        "anchor_date": pd.to_datetime(col(st.sampled_from(["2025-01-01", None]))),
        "ethnicity_group": pd.Categorical(col(st.sampled_from(["Asian", "Black", "White", None]))),
        "first_time_mother": pd.array(col(st.sampled_from([True, False, None])), dtype="boolean"),
        "deprivation_quintile": pd.array(col(st.sampled_from([1, 2, 5, None])), dtype="Int64"),
        "age_band": pd.array(col(st.sampled_from(["18-24", "25-34", None])), dtype="string"),
    })
    m = draw(st.integers(0, 40))
    changes = pd.DataFrame({
        "programme_id": pd.array(col(_PROGS, m), dtype="string"),
        "participant_id": pd.array(col(st.sampled_from([*ids, "other", None]), m), dtype="string"),
        "instrument": pd.array(col(st.sampled_from(["epds", "gad7", "phq9", "core10"]), m), dtype="string"),
    })
    keys = draw(st.lists(st.sampled_from(["programme_id", "ethnicity_group", "first_time_mother",
                                          "deprivation_quintile", "age_band"]), unique=True, max_size=3))
    by = draw(st.permutations([*keys, "instrument"])) if draw(st.booleans()) or not keys else keys
    return participants, changes, list(by)


@settings(max_examples=300, deadline=None)
@given(_case(), st.sampled_from([0, 1, 2]))
def test_engaged_counts_are_those_of_grouping_every_row(case, min_dose) -> None:
    participants, changes, by = case
    rules = PairingRules(min_dose=min_dose)
    got = outcomes._engaged_counts(participants, changes, by, rules)
    want = _old_engaged_counts(participants, changes, by, rules)
    pd.testing.assert_frame_equal(got, want, check_exact=True)


def test_row_groups_are_the_keys_and_codes() -> None:
    """Rows taken from equal keys (a missing key equal to a missing key) and equal codes share a group; the first
    row of each group is its first."""
    keys = pd.DataFrame({"a": pd.array(["x", None, "x", None], dtype="string"),
                         "b": pd.array([1, 2, 1, 2], dtype="Int64")})
    who = np.array([0, 1, 2, 3, 0, 2])
    which = np.array([0, 0, 0, 1, 1, 1])
    group, first = outcomes._row_groups(keys, who, which, 2)
    assert list(group[[0, 2]]) == [group[0]] * 2 and group[1] != group[3] and group[4] == group[5]
    assert len(set(group.tolist())) == 4 and sorted(first.tolist()) == [0, 1, 3, 4]
    group, first = outcomes._row_groups(keys, who, None, 2)
    assert len(set(group.tolist())) == 2 and sorted(first.tolist()) == [0, 1]
    group, first = outcomes._row_groups(keys[[]], who, None, 2)
    assert group.tolist() == [0] * 6 and first.tolist() == [0]
