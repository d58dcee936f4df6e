"""recovery_classification works on the mothers as integers; the table is the one the grouped and joined frames
of the two sets of measures give (the general path, written here as it was)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.recovery import RECOVERY_CATEGORIES, _any_and_codes, recovery_classification
from evalkit.rules import PairingRules


def _grouped_and_joined(ch: pd.DataFrame, rules: PairingRules) -> pd.DataFrame:
    """The classification with a groupby per set of measures and a join of the two."""
    p = ch[ch["paired"].astype(bool)]
    role = p["role"].astype("string")
    sym = p[role.isin(("symptom",)).fillna(False).to_numpy() & p["cutoff"].notna().to_numpy()]
    wit = p[role.isin(("wellbeing", "recovery")).fillna(False).to_numpy()]
    keys = ["programme_id", "participant_id"]

    def b(s: pd.Series) -> pd.Series:
        return s.astype("boolean").fillna(False).astype(bool)

    sf = pd.DataFrame({**{k: sym[k] for k in keys}, "cb": b(sym["caseness_baseline"]),
                       "ce": b(sym["caseness_endpoint"]), "ri": b(sym["reliable_improvement"]),
                       "rd": b(sym["reliable_deterioration"]), "code": sym["instrument"].astype("string")})
    wf = pd.DataFrame({**{k: wit[k] for k in keys}, "wb": b(wit["reliable_improvement"]),
                       "wd": b(wit["reliable_deterioration"]), "code": wit["instrument"].astype("string")})
    j = _any_and_codes(sf, keys, ["cb", "ce", "ri", "rd"], "symptom_measures").join(
        _any_and_codes(wf, keys, ["wb", "wd"], "within_measures"), how="inner")
    rec_from = (j["cb"] & ~j["ce"]) & ((j["ri"] & ~j["rd"]) if rules.recovery_from == "reliable" else True)
    worse = j["rd"] | j["wd"]
    cat = np.select([worse, rec_from & j["wb"], rec_from, j["wb"] & j["ce"]],
                    ["reliably_worse", "both", "recovered_from", "recovery_within"], default="neither").astype(object)
    in_pop = j["cb"].to_numpy(dtype=bool)
    cat[~in_pop] = None
    out = pd.DataFrame({
        "programme_id": j.index.get_level_values(0).astype("string"),
        "participant_id": j.index.get_level_values(1).astype("string"),
        "symptom_measures": j["symptom_measures"].astype("string").to_numpy(),
        "within_measures": j["within_measures"].astype("string").to_numpy(),
        "caseness_baseline": j["cb"].to_numpy(), "caseness_endpoint": j["ce"].to_numpy(),
        "recovered_from_symptoms": rec_from.to_numpy(dtype=bool), "within_better": j["wb"].to_numpy(),
        "any_reliable_deterioration": worse.to_numpy(), "in_population": in_pop,
        "category": pd.Categorical(cat, categories=list(RECOVERY_CATEGORIES)),
    })
    rules.stamp(out)
    return out


@st.composite
def _changes(draw) -> pd.DataFrame:
    """Episodes of a few mothers (some ids missing), mostly paired, of symptom and within measures."""
    n = draw(st.integers(0, 40))

    def col(values: list, weights: list | None = None) -> list:
        pool = [v for v, w in zip(values, weights or [1] * len(values), strict=True) for _ in range(w)]
        return draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))

    programmes = col(["P-B", "P-A", "é", None], [4, 4, 1, 1])
    people = col(["m2", "m10", "m1", "ß", None], [3, 3, 3, 1, 1])
    frame = pd.DataFrame({
        "programme_id": pd.array(programmes, dtype="string"),
        "participant_id": pd.array(people, dtype="string"),
        "instrument": pd.array(col(["epds", "phq9", "gad7", "wemwbs", "Épds", "a+b"]), dtype="string"),
        "role": pd.Categorical(col(["symptom", "wellbeing", "recovery", "other", None], [4, 3, 1, 1, 1]),
                               categories=["symptom", "wellbeing", "recovery", "other"]),
        "cutoff": col([np.nan, 10.0], [1, 4]),
        "paired": col([True, False], [4, 1]),
        **{c: pd.array(col([True, False, None], [3, 3, 1]), dtype="boolean")
           for c in ("caseness_baseline", "caseness_endpoint", "reliable_improvement", "reliable_deterioration")},
    })
    kind = draw(st.sampled_from(["string", "categorical", "object", "integer"]))
    if kind == "categorical":  # keys as categoricals, categories not in text order
        frame["programme_id"] = pd.Categorical(programmes, categories=["Q", "P-B", "é", "P-A"])
        frame["participant_id"] = pd.Categorical(people, categories=["m2", "ß", "m10", "m1"])
    elif kind == "object":  # keys as plain Python objects (a frame built by hand)
        frame["programme_id"] = pd.Series(programmes, dtype=object)
        frame["participant_id"] = pd.Series(people, dtype=object)
    elif kind == "integer":  # numbered mothers, every one with a number (numpy int64)
        frame["participant_id"] = np.array([{"m2": 2, "m10": 10, "m1": 1, "ß": 7}.get(x, 0) for x in people],
                                           dtype=np.int64)
    return frame


@settings(max_examples=300, deadline=None)
@given(ch=_changes(), recovery_from=st.sampled_from(["reliable", "any"]))
def test_classification_is_the_grouped_and_joined_one(ch, recovery_from) -> None:
    rules = PairingRules(recovery_from=recovery_from)
    got = recovery_classification(ch, rules=rules)
    want = _grouped_and_joined(ch, rules)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
