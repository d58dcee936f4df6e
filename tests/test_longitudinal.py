"""Mixed model and multiple imputation: hand-worked Rubin's rules, known-effect data, warnings."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import ApproximationWarning, SmallSampleWarning
from evalkit.longitudinal import mixed_model_change, multiple_imputation_change, rubin_combine
from evalkit.rules import PairingRules


def test_rubin_by_hand() -> None:
    # Q = 10, 12, 14: Q-bar 12, B = 4; U = 1, 1, 1: U-bar 1; T = 1 + (4/3) 4 = 6.333
    r = rubin_combine(np.array([10.0, 12.0, 14.0]), np.array([1.0, 1.0, 1.0]))
    assert r.estimate == 12 and r.between == 4 and r.within == 1
    assert r.se == pytest.approx(math.sqrt(1 + 4 / 3 * 4))
    lam = (4 / 3 * 4) / (1 + 4 / 3 * 4)
    assert r.fmi == pytest.approx(lam)
    assert r.df == pytest.approx(2 / lam**2)  # nu_old = (m - 1) / lambda^2
    # Barnard-Rubin with a complete-data df of 50
    r2 = rubin_combine(np.array([10.0, 12.0, 14.0]), np.array([1.0, 1.0, 1.0]), n_complete_df=50)
    nu_obs = 51 / 53 * 50 * (1 - lam)
    assert r2.df == pytest.approx(1 / (1 / (2 / lam**2) + 1 / nu_obs))
    with pytest.raises(ValueError):
        rubin_combine(np.array([1.0]), np.array([1.0]))


def _synthetic(n: int, change: float, seed: int, *, dose_effect: float = 0.0, ongoing: int = 0
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants scored at baseline (day 0), week 4 and week 12 (some missing); true mean change `change`."""
    rng = np.random.default_rng(seed)
    pid = np.array([f"p{i:04d}" for i in range(n)])
    start = pd.Timestamp("2025-01-06")
    dose = rng.integers(2, 12, n).astype(float)
    person = rng.normal(0, 3, n)
    slope = change + dose_effect * (dose - dose.mean()) + rng.normal(0, 1.5, n)
    rows = []
    for w, keep in ((0, np.ones(n, bool)), (4, rng.random(n) < 0.7), (12, rng.random(n) < 0.6)):
        y = 15 + person + slope * min(w / 8, 1) + rng.normal(0, 1.5, n)
        for i in np.flatnonzero(keep):
            rows.append((pid[i], start + pd.Timedelta(days=7 * w), y[i]))
    scores = pd.DataFrame(rows, columns=["participant_id", "date", "score"])
    scores["instrument"] = "epds"
    scores["programme_id"] = "P"
    episodes = pd.DataFrame({
        "participant_id": pid, "instrument": "epds", "programme_id": "P", "baseline_date": start,
        "anchor_date": start, "attended_total": dose, "ending": "planned_ending",
        "end_date": start + pd.Timedelta(days=100), "baseline_score": scores.groupby("participant_id")["score"]
        .first().reindex(pid).to_numpy(), "higher_is_better": False,
    })
    if ongoing:
        episodes.loc[: ongoing - 1, ["ending", "end_date"]] = [None, pd.NaT]
    last = scores[scores["date"] == start + pd.Timedelta(days=84)].set_index("participant_id")["score"]
    episodes["endpoint_score"] = episodes["participant_id"].map(last)
    episodes["paired"] = episodes["endpoint_score"].notna()
    return scores, episodes


def test_mixed_model_recovers_a_known_change() -> None:
    scores, episodes = _synthetic(300, -4.0, seed=1, dose_effect=-0.3)
    mm = mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1))
    row = mm.iloc[0]
    assert row["mm_converged"] and not row["mm_session_effects"]
    assert row["mm_n_participants"] == 300
    assert row["mm_ci_low"] < -4.0 < row["mm_ci_high"]
    assert abs(row["mm_change"] + 4.0) < 3 * row["mm_se"]
    assert row["mm_mean_dose"] == pytest.approx(episodes["attended_total"].mean())
    assert mm.attrs["rules"]


def test_mixed_model_leaves_out_ongoing_and_small_groups() -> None:
    scores, episodes = _synthetic(300, -4.0, seed=2, ongoing=50)
    mm = mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1))
    assert mm["mm_n_participants"].iloc[0] == 250
    small_s, small_e = _synthetic(8, -4.0, seed=3)
    with pytest.warns(SmallSampleWarning, match="not fitted"):
        out = mixed_model_change(small_s, small_e, rules=PairingRules(min_dose=1))
    assert np.isnan(out["mm_change"].iloc[0]) and not out["mm_converged"].iloc[0]


def test_mixed_model_non_convergence_warns(monkeypatch) -> None:
    from scipy import optimize

    import evalkit.longitudinal as lg

    original = optimize.minimize_scalar

    def failing(*args, **kwargs):
        res = original(*args, **kwargs)
        res.success, res.message = False, "Maximum number of function calls reached"
        return res

    monkeypatch.setattr(lg.optimize, "minimize_scalar", failing)
    scores, episodes = _synthetic(200, -4.0, seed=4)
    with pytest.warns(ApproximationWarning, match="did not converge"):
        mm = mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1))
    assert not mm["mm_converged"].iloc[0]
    assert "REML optimiser: Maximum number of function calls" in mm["mm_note"].iloc[0]
    assert np.isfinite(mm["mm_change"].iloc[0])


def _with_sessions(scores: pd.DataFrame, n_sessions: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return scores.assign(group_session_id=pd.array(
        np.where(rng.random(len(scores)) < 0.6, [f"s{k}" for k in rng.integers(0, n_sessions, len(scores))], None),
        dtype="string"))


def test_mixed_model_session_component_uses_statsmodels_and_warns(monkeypatch) -> None:
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    original = sm.MixedLM.fit
    calls = []

    def noisy_fit(self, *args, **kwargs):
        calls.append(1)
        warnings.warn("Maximum Likelihood optimization failed to converge. Check mle_retvals", ConvergenceWarning,
                      stacklevel=2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(sm.MixedLM, "fit", noisy_fit)
    scores, episodes = _synthetic(45, -4.0, seed=4)
    scores = _with_sessions(scores, 8, seed=4)
    with pytest.warns(ApproximationWarning, match="did not converge"):
        mm = mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1, mm_session_effects="always"))
    assert calls and mm["mm_session_effects"].iloc[0]
    assert not mm["mm_converged"].iloc[0]
    assert "Maximum Likelihood optimization failed" in mm["mm_note"].iloc[0]
    # the default (no session component) never calls statsmodels
    calls.clear()
    mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1))
    assert not calls


def test_multiple_imputation_reproducible_and_sensible() -> None:
    _, episodes = _synthetic(400, -4.0, seed=5)
    rules = PairingRules(min_dose=1, mi_imputations=20, seed=11)
    a = multiple_imputation_change(episodes, rules=rules)
    b = multiple_imputation_change(episodes, rules=rules)
    pd.testing.assert_frame_equal(a, b)
    row = a.iloc[0]
    assert row["mi_n"] == 400 and row["mi_n_imputed"] == int((~episodes["paired"]).sum())
    assert row["mi_ci_low"] < -4.0 < row["mi_ci_high"]
    assert 0 < row["mi_fmi"] < 1 and row["mi_m"] == 20
    assert "baseline" in row["mi_note"] and "dose" in row["mi_note"]
    # with nothing missing, MI equals the completers' mean change and has no between-imputation variance
    full = episodes.copy()
    full["paired"] = True
    full["endpoint_score"] = full["endpoint_score"].fillna(full["baseline_score"] - 4)
    c = multiple_imputation_change(full, rules=rules).iloc[0]
    ch = full["endpoint_score"] - full["baseline_score"]
    assert c["mi_mean_change"] == pytest.approx(ch.mean())
    assert c["mi_se"] == pytest.approx(ch.std(ddof=1) / math.sqrt(len(ch)))
    assert c["mi_n_imputed"] == 0


def test_multiple_imputation_draws_fixed_per_group() -> None:
    # regression values of the per-group generators (group_generator): seed 11 and the keys "P" and "Q"
    _, episodes = _synthetic(400, -4.0, seed=5)
    episodes["programme_id"] = ["P", "Q"] * 200
    out = multiple_imputation_change(episodes, rules=PairingRules(min_dose=1, mi_imputations=20, seed=11))
    assert out["programme_id"].tolist() == ["P", "Q"]
    assert out["mi_mean_change"].tolist() == pytest.approx([-3.6432622540741626, -3.9812782569560334], rel=1e-12)
    assert out["mi_se"].tolist() == pytest.approx([0.22034609662691662, 0.2425649182484199], rel=1e-12)
    assert out["mi_df"].tolist() == pytest.approx([109.73189663028313, 39.42915884121264], rel=1e-12)
    assert out["mi_fmi"].tolist() == pytest.approx([0.22186155570840804, 0.5271847269347099], rel=1e-12)


def test_a_groups_estimates_do_not_depend_on_the_other_groups() -> None:
    # a provider who sees one programme, or a page that shows one questionnaire, gets the figures of the whole
    # analysis: each group's imputation draws come from its own key, and the mixed model is fitted per group
    scores, episodes = _synthetic(300, -4.0, seed=8)
    progs = np.array(["P", "Q", "R"])[np.arange(len(episodes)) % 3]
    episodes["programme_id"] = progs
    scores["programme_id"] = scores["participant_id"].map(dict(zip(episodes["participant_id"], progs, strict=True)))
    rules = PairingRules(min_dose=1, mi_imputations=10, seed=3)
    mi_all = multiple_imputation_change(episodes, rules=rules)
    mm_all = mixed_model_change(scores, episodes, rules=rules)
    for p in ("Q", "R"):
        one = episodes[episodes["programme_id"] == p]
        mi_one = multiple_imputation_change(one, rules=rules)
        pd.testing.assert_frame_equal(mi_all[mi_all["programme_id"] == p].reset_index(drop=True), mi_one)
        mm_one = mixed_model_change(scores[scores["programme_id"] == p], one, rules=rules)
        pd.testing.assert_frame_equal(mm_all[mm_all["programme_id"] == p].reset_index(drop=True), mm_one)
    # and the draws differ between groups: the same data under another key is imputed differently
    renamed = episodes.assign(programme_id=np.where(progs == "P", "P2", progs))
    again = multiple_imputation_change(renamed, rules=rules)
    assert again.loc[again["programme_id"] == "P2", "mi_mean_change"].item() != \
        mi_all.loc[mi_all["programme_id"] == "P", "mi_mean_change"].item()


def test_mixed_model_fits_each_group_in_the_order_its_own_sort_gave(monkeypatch: pytest.MonkeyPatch) -> None:
    # two programmes x two questionnaires, rows shuffled, and repeated scores on one date (ties): each group is
    # fitted on its rows in the order a stable sort of that group alone by participant and date gives (as each
    # group was sorted before all groups were sorted at once), so the estimates are those of that order
    import evalkit.longitudinal as longitudinal

    parts_s, parts_e = [], []
    for k, (prog, inst) in enumerate([("P", "epds"), ("Q", "epds"), ("P", "phq9"), ("Q", "phq9")]):
        s, e = _synthetic(60, -3.0, seed=10 + k)
        parts_s.append(s.assign(programme_id=prog, instrument=inst))
        parts_e.append(e.assign(programme_id=prog, instrument=inst))
    scores = pd.concat(parts_s, ignore_index=True)
    scores = pd.concat([scores, scores.iloc[::7].assign(score=lambda f: f["score"] + 0.5)], ignore_index=True)
    scores = scores.sample(frac=1.0, random_state=3).reset_index(drop=True)
    episodes = pd.concat(parts_e, ignore_index=True)
    fitted = []
    fit_one = longitudinal._fit_one

    def recorded(g: pd.DataFrame, *args: object) -> dict[str, object]:
        fitted.append(g)
        return fit_one(g, *args)

    monkeypatch.setattr(longitudinal, "_fit_one", recorded)
    mm = mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1))
    assert len(fitted) == 4 and mm["mm_converged"].all()
    for g in fitted:  # the merged scores' index runs in their order: a group's own sort of them, stable
        assert g.index.tolist() == g.sort_index().sort_values(["participant_id", "date"]).index.tolist()
        assert g.duplicated(["participant_id", "date"]).any()


def _ending_group_by_map(ending: pd.Series) -> np.ndarray:
    """The ending groups as ``_ending_group`` worked them out before (pandas map and where)."""
    from evalkit.longitudinal import _ENDING_GROUPS

    e = ending.astype("string")
    grp = e.map(_ENDING_GROUPS).astype("string")
    grp = grp.where(grp.notna(), pd.Series(np.where(e.isna(), "ongoing", "other"), index=e.index, dtype="string"))
    return grp.to_numpy(dtype=object)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["planned_ending", "moved_on_coping", "stopped_attending", "moved_away", "other",
                                 "unknown", "", None]), max_size=30),
       st.sampled_from(["category", "string", "object", "str"]), st.booleans())
def test_ending_groups_are_those_the_map_gave(endings: list, dtype: str, repeated_index: bool) -> None:
    from evalkit.longitudinal import _ending_group

    ending = pd.Series(endings, dtype=dtype, index=[5] * len(endings) if repeated_index else None)
    got, expected = _ending_group(ending), _ending_group_by_map(ending)
    assert got.dtype == expected.dtype == object
    assert got.tolist() == expected.tolist()
    assert all(type(v) is str for v in got)
