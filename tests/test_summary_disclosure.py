"""Disclosure control of summaries: no published count below the threshold, no hidden count recoverable.

The property test simulates *people* (each a type: how far she got through the
take-up funnel and, per instrument, whether she had a baseline, was paired,
reliably improved or deteriorated, was at caseness before and after), derives
every count a summary publishes, runs :func:`evalkit.summary.disclose`, and
then asks as an attacker would: given the published counts, is any hidden
count determined? Each count is a sum over person types, so a hidden count is
determined exactly when its indicator vector lies in the span of the
published counts' vectors (plus the known total of everyone), which is a rank
test. This checks the relations the module declares against the truth rather
than against themselves.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from evalkit.rules import PairingRules
from evalkit.summary import disclose

# ---------------------------------------------------------------------------
# person types and the counts they make up

FUNNEL = ("not_offered", "declined", "not_attended", "below_min", "min_dose")
PAIRED = tuple(f"paired:{chg}:{pre}:{post}" for chg in ("imp", "det", "same")
               for pre in ("case", "nocase") for post in ("case", "nocase"))
PROGRAMME_COUNTS = ("referred", "offered", "took_up", "attended_1", "reached_min_dose", "baseline_measured", "paired",
                    "rfw_total", "rfw_both", "rfw_recovered_from", "rfw_recovery_within", "rfw_neither",
                    "rfw_reliably_worse")
RESULT_COUNTS = ("n_baseline", "n_paired", "n_reliable_improvement", "n_reliable_deterioration",
                 "n_caseness_baseline", "n_recovered", "n_reliable_recovery")


def _types(n_instruments: int) -> list[tuple]:
    """Every possible person: funnel level and, per instrument, no score / baseline only / a paired outcome."""
    out = []
    for f in FUNNEL:
        if f == "min_dose":  # pairing needs the minimum dose
            states = ("none", "baseline_only", *PAIRED)
        elif f == "below_min":
            states = ("none", "baseline_only")
        else:  # the baseline window is anchored on the first attended contact
            states = ("none",)
        out += [(f, combo) for combo in itertools.product(states, repeat=n_instruments)]
    return out


def _parse(state: str) -> tuple[bool, str, bool, bool]:
    if not state.startswith("paired"):
        return False, "", False, False
    _, chg, pre, post = state.split(":")
    return True, chg, pre == "case", post == "case"


def _person_counts(t: tuple, roles: list[str], recovery_from: str) -> tuple[dict[str, bool], list[dict[str, bool]]]:
    f = FUNNEL.index(t[0])
    prog = {"referred": True, "offered": f >= 1, "took_up": f >= 2, "attended_1": f >= 3, "reached_min_dose": f >= 4}
    # as evalkit.engagement.participant_path: cumulative steps over all change measures
    prog["baseline_measured"] = f >= 4 and any(x != "none" for x in t[1])
    prog["paired"] = prog["baseline_measured"] and any(x.startswith("paired") for x in t[1])
    res = []
    for state in t[1]:
        paired, chg, pre, post = _parse(state)
        res.append({"n_baseline": state != "none", "n_paired": paired, "n_reliable_improvement": chg == "imp",
                    "n_reliable_deterioration": chg == "det", "n_caseness_baseline": pre,
                    "n_recovered": pre and not post, "n_reliable_recovery": pre and not post and chg == "imp"})
    # recovery from / within, as evalkit.recovery.recovery_classification
    sym = [_parse(s) for s, r in zip(t[1], roles, strict=True) if r == "symptom" and s.startswith("paired")]
    wit = [_parse(s) for s, r in zip(t[1], roles, strict=True) if r == "wellbeing" and s.startswith("paired")]
    cat = None
    if sym and wit:
        cb, ce = any(x[2] for x in sym), any(x[3] for x in sym)
        ri, rd = any(x[1] == "imp" for x in sym), any(x[1] == "det" for x in sym)
        wb, wd = any(x[1] == "imp" for x in wit), any(x[1] == "det" for x in wit)
        rec_from = cb and not ce and (ri and not rd if recovery_from == "reliable" else True)
        if cb:
            cat = ("reliably_worse" if rd or wd else "both" if rec_from and wb else "recovered_from" if rec_from
                   else "recovery_within" if wb and ce else "neither")
    prog["rfw_total"] = cat is not None
    for c in ("both", "recovered_from", "recovery_within", "neither", "reliably_worse"):
        prog[f"rfw_{c}"] = cat == c
    return prog, res


@functools.cache
def _indicator_matrix(roles: tuple[str, ...], recovery_from: str) -> dict[tuple, np.ndarray]:
    """(frame, row, column) -> 0/1 vector over person types."""
    types = _UNIVERSE[roles]
    vec: dict[tuple, np.ndarray] = {}
    for j, t in enumerate(types):
        prog, res = _person_counts(t, list(roles), recovery_from)
        for c, on in prog.items():
            vec.setdefault(("programme", 0, c), np.zeros(len(types)))[j] = on
        for i, r in enumerate(res):
            for c, on in r.items():
                vec.setdefault(("result", i, c), np.zeros(len(types)))[j] = on
    if not ("symptom" in roles and "wellbeing" in roles):  # build_summary leaves these null (not applicable)
        vec = {k: v for k, v in vec.items() if not k[2].startswith("rfw_")}
    return vec


def _frames(counts: np.ndarray, vec: dict[tuple, np.ndarray], roles: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    prog = pd.DataFrame({"programme_id": ["P"], **{c: [int(vec[("programme", 0, c)] @ counts)
                                                       if ("programme", 0, c) in vec else None]
                                                   for c in PROGRAMME_COUNTS}, "dose_median": [3.0]})
    res = pd.DataFrame({"programme_id": "P", "instrument": [f"i{i}" for i in range(len(roles))], "role": roles,
                        **{c: [int(vec[("result", i, c)] @ counts) for i in range(len(roles))] for c in RESULT_COUNTS},
                        "baseline_mean": 10.0})
    return prog, res


def _row_space(known: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows) of the row space of ``known``."""
    if known.size == 0:
        return np.zeros((0, known.shape[1]))
    _, sv, vt = np.linalg.svd(known, full_matrices=False)
    return vt[sv > 1e-9 * max(1.0, sv[0])]


def _determined(target: np.ndarray, basis: np.ndarray) -> bool:
    """Whether ``target`` lies in the space spanned by ``basis`` (a combination of published counts)."""
    residual = target - basis.T @ (basis @ target)
    return bool(np.abs(residual).max() < 1e-8)


ROLE_SETS = (["symptom"], ["symptom", "wellbeing"], ["symptom", "symptom"], ["symptom", "symptom", "wellbeing"],
             ["wellbeing"])
_UNIVERSE = {tuple(r): _types(len(r)) for r in ROLE_SETS}


@st.composite
def populations(draw: st.DrawFn) -> tuple[np.ndarray, list[str], str, int]:
    roles = list(draw(st.sampled_from(ROLE_SETS)))
    recovery_from = draw(st.sampled_from(["reliable", "any"]))
    types = _UNIVERSE[tuple(roles)]
    # a few kinds of people, each few or many: small counts are the interesting case
    groups = draw(st.lists(st.tuples(st.integers(0, len(types) - 1),
                                     st.one_of(st.integers(1, 4), st.integers(5, 40))), min_size=1, max_size=25))
    counts = np.zeros(len(types))
    for j, c in groups:
        counts[j] += c
    threshold = draw(st.sampled_from([3, 5, 10]))
    return counts, roles, recovery_from, threshold


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(populations())
# one change measure: 5 + 1 + 3 people with a baseline, the 1 below the minimum dose; n_baseline (9) and the
# funnel's baseline_measured (8) were both published, so their difference told of that one person
@example(pop=(np.array([0, 0, 0, 5, 1, 0, 3] + [0] * 12, dtype=float), ["symptom"], "reliable", 3))
def test_no_small_count_published_and_no_hidden_count_recoverable(pop):
    counts, roles, recovery_from, threshold = pop
    types = _UNIVERSE[tuple(roles)]
    vec = _indicator_matrix(tuple(roles), recovery_from)
    prog, res = _frames(counts, vec, roles)
    rules = PairingRules(suppression_threshold=threshold, recovery_from=recovery_from)
    p_out, r_out = disclose(prog, res, rules=rules)

    known_rows, hidden = [], []
    for key, v in vec.items():
        kind, i, c = key
        frame = p_out if kind == "programme" else r_out
        value = frame.loc[i, c]
        true = int(v @ counts)
        if pd.isna(value):
            hidden.append((key, v, true))
            assert c in frame.loc[i, "suppressed"].split("; ")
        else:
            assert int(value) == true  # no rounding here
            assert true == 0 or true >= threshold, f"{key} published {true} below threshold {threshold}"
            known_rows.append(v)
    basis = _row_space(np.array(known_rows) if known_rows else np.zeros((0, len(types))))
    for key, v, true in hidden:
        assert not _determined(v, basis), f"hidden {key} = {true} can be worked out from the published counts"
    # nor is a small number of people the difference of two published counts (one inside the other) or a
    # count minus two published parts of one breakdown inside it
    keys = [k for k in vec if not pd.isna((p_out if k[0] == "programme" else r_out).loc[k[1], k[2]])]
    V = np.array([vec[k] for k in keys], dtype=bool).reshape(len(keys), len(types))
    val = V.astype(float) @ counts
    inside = (V[None, :, :] <= V[:, None, :]).all(-1) & V.any(1)[None, :] & ~np.eye(len(keys), dtype=bool)
    ok = lambda d: (d == 0) | (d >= threshold)  # noqa: E731
    diff = val[:, None] - val[None, :]
    bad = inside & ~ok(diff)
    assert not bad.any(), [f"{keys[a]} - {keys[b]} = {diff[a, b]:g}" for a, b in zip(*np.nonzero(bad), strict=True)][:3]
    # parts of one breakdown: improved / deteriorated of one instrument; the recovery from / within categories
    family = np.array([f"{k[0]}{k[1]}:rc" if k[2] in ("n_reliable_improvement", "n_reliable_deterioration")
                       else "rfw" if k[2].startswith("rfw_") and k[2] != "rfw_total" else f"own:{i}"
                       for i, k in enumerate(keys)])
    siblings = (family[:, None] == family[None, :]) & ~np.eye(len(keys), dtype=bool)
    for a in range(len(keys)):
        both = inside[a][:, None] & inside[a][None, :] & siblings
        d3 = val[a] - val[:, None] - val[None, :]
        bad = both & ~ok(d3)
        assert not bad.any(), [f"{keys[a]} - {keys[b]} - {keys[c]} = {d3[b, c]:g}" for b, c in zip(*np.nonzero(bad), strict=True)]
    # figures derived from hidden counts are withheld
    for i in range(len(roles)):
        if pd.isna(r_out.loc[i, "n_paired"]):
            assert pd.isna(r_out.loc[i, "baseline_mean"])
    if pd.isna(p_out.loc[0, "attended_1"]):
        assert pd.isna(p_out.loc[0, "dose_median"])


def test_small_rest_hides_a_neighbour_not_the_paired_n():
    # 40 with a baseline, 38 paired: the 2 unpaired are a small count anyone could work out by subtraction
    prog = pd.DataFrame({"programme_id": ["P"], "referred": [100], "offered": [90], "took_up": [60],
                         "attended_1": [50], "reached_min_dose": [45]})
    res = pd.DataFrame({"programme_id": ["P"], "instrument": ["epds"], "n_baseline": [40], "n_paired": [38],
                        "baseline_mean": [15.0]})
    p, r = disclose(prog, res, rules=PairingRules())
    assert int(r.loc[0, "n_paired"]) == 38 and r.loc[0, "baseline_mean"] == 15.0
    assert pd.isna(r.loc[0, "n_baseline"])
    assert "n_baseline" in r.loc[0, "suppressed"]


@pytest.mark.parametrize("n_measures", [1, 2])
def test_single_measure_baseline_n_and_the_funnels_baseline_step_are_nested(n_measures):
    # with one change measure, the funnel's 'baseline measured' (a baseline and the minimum dose) lies inside
    # that measure's n_baseline: 42 - 40 = 2 people with a baseline below the minimum dose
    prog = pd.DataFrame({"programme_id": ["P"], "referred": [100], "offered": [90], "took_up": [70],
                         "attended_1": [60], "reached_min_dose": [50], "baseline_measured": [40], "paired": [30]})
    res = pd.DataFrame({"programme_id": "P", "instrument": ["epds", "gad7"][:n_measures], "role": "symptom",
                        "n_baseline": [42, 41][:n_measures], "n_paired": [30, 25][:n_measures]})
    p, r = disclose(prog, res, rules=PairingRules())
    both = pd.notna(p.loc[0, "baseline_measured"]) and pd.notna(r.loc[0, "n_baseline"])
    # several measures: baseline_measured counts a baseline on any of them, so it is not inside one measure's n
    assert both == (n_measures == 2)
    assert pd.notna(r.loc[0, "n_paired"])


def _hidden(frame: pd.DataFrame, col: str) -> np.ndarray:
    return ("; " + frame["suppressed"].astype(str) + "; ").str.contains(f"; {col}; ", regex=False).to_numpy(bool)


_SAMPLE_RULES = {"reliability_source": "sample", "endpoint_rule": "window", "min_dose": 3}
_COMPUTED_RCI = {"use_published_threshold": False}
_POOLED = pytest.mark.xfail(strict=True, reason=(
    "known gap: a reliable-change threshold from the sample (QPR-15's from the baseline SD; any instrument's with "
    "a sample alpha or without published thresholds) is one over all programmes in the outcome summary and each "
    "programme's own in a summary file, so the two count different mothers and hide different cells"))


@pytest.mark.parametrize("source, threshold, options", [
    ("example", 5, {}), ("example", 10, {}), ("generated", 5, {}), ("generated", 10, {}),
    # the funnel hides a step beside the summary's n paired of a measure
    ("generated-150-9", 5, {}), ("generated-150-13", 5, {}),
    *[pytest.param(s, 5, o, marks=_POOLED) for s, o in (
        ("generated-150-4", {}), ("generated-150-6", {}), ("generated-160-8", {}), ("generated-150-11", {}),
        ("generated-150-14", {}), ("generated-150-6", _SAMPLE_RULES), ("generated-150-4", _COMPUTED_RCI))]])
def test_summary_hides_what_the_funnel_and_the_outcome_summary_hide(source, threshold, options):
    """Whatever take_up_funnel or outcome_summary hides for the same figures, the summary hides too.

    So everything the summary publishes is also published by those outputs, and holding the summary as well
    tells nothing they do not (a summary that published a complement they hid let a reader holding both
    work out a small count, e.g. reliable deterioration = n_paired - improved - no change).
    """
    import warnings

    from evalkit.data_source import example_tables
    from evalkit.engagement import take_up_funnel
    from evalkit.generator import generate_programmes
    from evalkit.outcomes import outcome_summary
    from evalkit.summary import build_summary

    n, seed = (160, 3) if source == "generated" else (0, 0) if source == "example" else map(int, source.split("-")[1:])
    tables = example_tables() if source == "example" else generate_programmes(n, seed=seed).tables
    rules = PairingRules(suppression_threshold=threshold, **options)
    s = build_summary(tables, rules=rules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        o = outcome_summary(tables, rules=rules, models=False)
    f = take_up_funnel(tables, rules=rules)
    steps = {"referred": "referred", "offered": "offered", "took_up": "took_up", "attended": "attended_1",
             "reached_min_dose": "reached_min_dose", "baseline_measured": "baseline_measured", "paired": "paired"}
    prog = s.programmes.set_index("programme_id")
    for row in f.itertuples():
        if _hidden(f.loc[[row.Index]], "n")[0]:
            assert pd.isna(prog.at[row.programme_id, steps[row.step]]), (row.programme_id, row.step)
    key = ["programme_id", "instrument"]
    m = s.results.merge(o[[*key, "suppressed"]].rename(columns={"suppressed": "o_suppressed"}), on=key,
                        validate="one_to_one")
    o_hidden = lambda c: _hidden(m.assign(suppressed=m["o_suppressed"]), c)  # noqa: E731
    for c in ("n_paired", "n_reliable_improvement", "n_reliable_deterioration", "n_caseness_baseline", "n_recovered",
              "n_reliable_recovery"):
        assert m.loc[o_hidden(c), c].isna().all(), c
    assert m.loc[o_hidden("n_paired") | o_hidden("n_unpaired_with_baseline"), "n_baseline"].isna().all()


def test_rounding_after_suppression():
    prog = pd.DataFrame({"programme_id": ["P"], "referred": [103], "took_up": [47]})
    res = pd.DataFrame({"programme_id": ["P"], "instrument": ["epds"], "n_baseline": [40], "n_paired": [22]})
    p, r = disclose(prog, res, rules=PairingRules(rounding_base=5))
    assert p.loc[0, "referred"] == 105 and p.loc[0, "took_up"] == 45
    assert r.loc[0, "n_paired"] == 20


def test_threshold_one_turns_suppression_off():
    prog = pd.DataFrame({"programme_id": ["P"], "referred": [3], "took_up": [1]})
    res = pd.DataFrame({"programme_id": ["P"], "instrument": ["epds"], "n_baseline": [2], "n_paired": [1]})
    p, r = disclose(prog, res, rules=PairingRules(suppression_threshold=1))
    assert p.loc[0, "took_up"] == 1 and r.loc[0, "n_paired"] == 1
    assert (p["suppressed"] == "").all()


@pytest.mark.parametrize("show_zero", [True, False])
def test_zero_counts_follow_show_zero(show_zero):
    prog = pd.DataFrame({"programme_id": ["P"], "referred": [50], "took_up": [0]})
    res = pd.DataFrame({"programme_id": ["P"], "instrument": ["epds"], "n_baseline": [0], "n_paired": [0]})
    p, _ = disclose(prog, res, rules=PairingRules(show_zero=show_zero))
    assert pd.isna(p.loc[0, "took_up"]) != show_zero
