"""The vectorised random-intercept REML fit (``evalkit.longitudinal._ri_reml``) against statsmodels ``MixedLM``.

``mixed_model_change`` used to fit every programme x instrument with
statsmodels ``MixedLM(y, X, groups=participant).fit(reml=True)``; it now uses
a profiled REML over the variance ratio. These tests show the two agree to
optimiser tolerance: on the designs the shipped example data and generated
data give (captured from ``mixed_model_change`` itself), on a boundary case
(random-intercept variance 0, groups of one or two scores) and on random
designs (hypothesis); that the REML criterion is statsmodels' own profile
log-likelihood at every variance ratio; and that ``mixed_model_change`` with
statsmodels as the fitter (the old implementation) gives the same table.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

import evalkit.longitudinal as lg
from evalkit.change import episode_change
from evalkit.data_source import example_tables
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules


def _statsmodels_fit(X: np.ndarray, y: np.ndarray, codes: np.ndarray, **kwargs: object):  # noqa: ANN202
    """statsmodels MixedLM REML with a tight gradient tolerance (its warnings are not our concern here)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = sm.MixedLM(y, X, groups=codes)
        return model, model.fit(reml=True, gtol=1e-10, **kwargs)


def _agree(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> tuple[lg._RIFit, object]:
    ours = lg._ri_reml(X, y, codes)
    model, ref = _statsmodels_fit(X, y, codes)
    ref_tau2 = float(np.asarray(ref.cov_re).ravel()[0])
    # our optimum is at least as high as statsmodels' (to rounding), and the criterion is statsmodels' own
    assert ours.llf >= ref.llf - 1e-7 * abs(ref.llf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam = max(ours.tau2 / ours.sigma2, 1e-10)  # statsmodels' criterion is -inf at 0, inaccurate below ~1e-12
        assert ours.llf == pytest.approx(model.loglike(np.array([math.sqrt(lam)])), rel=1e-9)
    scale = float(np.std(y))
    np.testing.assert_allclose(ours.beta, np.asarray(ref.fe_params), rtol=1e-5, atol=1e-5 * scale)
    assert ours.sigma2 == pytest.approx(float(ref.scale), rel=1e-5)
    assert ours.tau2 == pytest.approx(ref_tau2, rel=1e-4, abs=1e-5 * scale**2)
    return ours, ref


class _Spy:
    """Records every (X, y, codes) that ``mixed_model_change`` fits."""

    def __init__(self) -> None:
        self.designs: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.original = lg._ri_reml

    def __call__(self, X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> lg._RIFit:
        self.designs.append((X.copy(), y.copy(), codes.copy()))
        return self.original(X, y, codes)


def _prepared(tables: dict[str, pd.DataFrame], rules: PairingRules) -> tuple[pd.DataFrame, pd.DataFrame]:
    data = prepare_episodes(tables, rules=rules)
    return data.scores, episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures)


def _designs(tables: dict[str, pd.DataFrame], rules: PairingRules, monkeypatch: pytest.MonkeyPatch
             ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    spy = _Spy()
    monkeypatch.setattr(lg, "_ri_reml", spy)
    scores, changes = _prepared(tables, rules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lg.mixed_model_change(scores, changes, rules=rules)
    monkeypatch.setattr(lg, "_ri_reml", spy.original)
    return spy.designs


def test_example_data_designs_agree_with_statsmodels(monkeypatch: pytest.MonkeyPatch) -> None:
    designs = _designs(example_tables(), PairingRules(), monkeypatch)
    assert len(designs) >= 4
    for X, y, codes in designs:
        _agree(X, y, codes)


@pytest.mark.parametrize("seed", [3, 17])
def test_generated_data_designs_agree_with_statsmodels(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    designs = _designs(dict(generate_programmes(700, seed=seed).tables), PairingRules(min_dose=1), monkeypatch)
    assert designs
    for X, y, codes in designs:
        _agree(X, y, codes)


def test_boundary_zero_variance_with_tiny_groups() -> None:
    # scores of the same participant are *less* alike than anyone's: the REML estimate of tau2 is 0
    rng = np.random.default_rng(8)
    n_i = rng.integers(1, 3, 150)  # groups of one or two scores
    codes = np.repeat(np.arange(len(n_i)), n_i)
    X = np.column_stack([np.ones(len(codes)), rng.random(len(codes)) < 0.5, rng.normal(size=len(codes))])
    alt = np.where(np.arange(len(codes)) % 2 == 0, 1.0, -1.0)
    y = X @ np.array([12.0, -2.0, 0.7]) + 1.5 * alt + rng.normal(size=len(codes))
    ours = lg._ri_reml(X, y, codes)
    assert ours.boundary and ours.tau2 == 0.0 and ours.converged
    ols = np.linalg.lstsq(X, y, rcond=None)[0]
    np.testing.assert_allclose(ours.beta, ols, rtol=1e-10, atol=1e-10)
    resid = y - X @ ols
    assert ours.sigma2 == pytest.approx(resid @ resid / (len(y) - X.shape[1]), rel=1e-10)
    model, ref = _statsmodels_fit(X, y, codes)
    assert ours.llf >= ref.llf - 1e-9 * abs(ref.llf)
    # statsmodels stops near, not on, the boundary
    np.testing.assert_allclose(ours.beta, np.asarray(ref.fe_params), atol=1e-3)
    assert float(np.asarray(ref.cov_re).ravel()[0]) < 1e-3
    assert ours.sigma2 == pytest.approx(float(ref.scale), rel=1e-3)


def test_boundary_fit_is_reported_in_the_note() -> None:
    rng = np.random.default_rng(2)
    n = 120
    pid = np.repeat([f"p{i:03d}" for i in range(n)], 3)
    start = pd.Timestamp("2025-01-06")
    weeks = np.tile([0, 4, 12], n)
    # no participant effect, and each person's errors sum to zero (negatively correlated): tau2 = 0
    e = rng.normal(0, 2, (n, 3))
    score = 15 - 3 * (weeks > 0) + (e - e.mean(axis=1, keepdims=True)).ravel()
    scores = pd.DataFrame({"participant_id": pid, "date": start + pd.to_timedelta(7 * weeks, unit="D"),
                           "score": score, "instrument": "epds", "programme_id": "P"})
    episodes = pd.DataFrame({
        "participant_id": pid[::3], "instrument": "epds", "programme_id": "P", "baseline_date": start,
        "anchor_date": start, "attended_total": rng.integers(2, 10, n).astype(float), "ending": "planned_ending",
        "end_date": start + pd.Timedelta(days=100), "baseline_score": score[::3], "higher_is_better": False})
    mm = lg.mixed_model_change(scores, episodes, rules=PairingRules(min_dose=1)).iloc[0]
    assert mm["mm_converged"]
    assert "participant variance estimated at 0" in mm["mm_note"]


@settings(max_examples=20)
@given(
    n_groups=st.integers(12, 60),
    max_size=st.integers(1, 6),
    p=st.integers(1, 4),
    tau=st.sampled_from([0.0, 0.3, 1.0, 4.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_designs_agree_with_statsmodels(n_groups: int, max_size: int, p: int, tau: float,
                                               seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_i = rng.integers(1, max_size + 1, n_groups)
    codes = np.repeat(np.arange(n_groups), n_i)
    n = len(codes)
    if n < p + 3:
        return
    X = np.column_stack([np.ones(n), *(rng.normal(size=n) if k % 2 else (rng.random(n) < 0.4).astype(float)
                                       for k in range(1, p))])
    if np.linalg.matrix_rank(X) < p:
        return
    y = X @ rng.normal(0, 3, p) + tau * rng.normal(size=n_groups)[codes] + rng.normal(size=n)
    ours = lg._ri_reml(X, y, codes)
    assert ours.converged
    if max_size == 1:  # one score each: only sigma2 + tau2 is identified; tau2 is set to 0 (least squares)
        assert ours.boundary and ours.tau2 == 0.0
        np.testing.assert_allclose(ours.beta, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-9, atol=1e-9)
        return
    model, ref = _statsmodels_fit(X, y, codes, method="bfgs")  # no retries with other optimisers: time
    # whatever statsmodels' optimiser does, ours is at least as good, and the criterion is the same
    assert ours.llf >= ref.llf - 1e-7 * abs(ref.llf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lam = max(ours.tau2 / ours.sigma2, 1e-10)  # statsmodels' criterion is -inf at 0, inaccurate below ~1e-12
        assert ours.llf == pytest.approx(model.loglike(np.array([math.sqrt(lam)])), rel=1e-9)
        # and it is the maximum: no better value on a grid of variance ratios
        for other in np.exp(np.linspace(-8, 5, 14)):
            assert model.loglike(np.array([math.sqrt(other)])) <= ours.llf + 1e-9 * abs(ours.llf)
    if ref.converged and float(np.asarray(ref.cov_re).ravel()[0]) > 1e-2 and not ours.boundary:
        # an interior optimum both found: the same parameters
        np.testing.assert_allclose(ours.beta, np.asarray(ref.fe_params), rtol=1e-4, atol=1e-4)
        assert ours.sigma2 == pytest.approx(float(ref.scale), rel=1e-4)
        assert ours.tau2 == pytest.approx(float(np.asarray(ref.cov_re).ravel()[0]), rel=1e-3, abs=1e-4)


def _statsmodels_ri(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> lg._RIFit:
    """The old fitter: statsmodels MixedLM REML, as mixed_model_change called it (default tolerances)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = sm.MixedLM(y, X, groups=codes).fit(reml=True)
    return lg._RIFit(beta=np.asarray(res.fe_params, dtype=float), sigma2=float(res.scale),
                     tau2=float(np.asarray(res.cov_re).ravel()[0]), llf=float(res.llf),
                     converged=bool(res.converged), boundary=False, message="")


@pytest.mark.parametrize("source", ["example", "generated"])
def test_mixed_model_change_equals_the_statsmodels_implementation(source: str,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if source == "example":
        tables, rules = example_tables(), PairingRules()
    else:
        tables, rules = dict(generate_programmes(800, seed=21).tables), PairingRules(min_dose=1)
    scores, changes = _prepared(tables, rules)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new = lg.mixed_model_change(scores, changes, rules=rules)
        monkeypatch.setattr(lg, "_ri_reml", _statsmodels_ri)
        old = lg.mixed_model_change(scores, changes, rules=rules)
    fitted = new["mm_change"].notna()
    assert fitted.sum() >= 4
    pd.testing.assert_series_equal(new["mm_converged"], old["mm_converged"])
    for c in ("mm_n_participants", "mm_n_obs", "mm_mean_dose"):
        pd.testing.assert_series_equal(new[c], old[c])
    # statsmodels' default gradient tolerance (1e-5 on its scale) moves estimates by ~1e-5
    for c in ("mm_change", "mm_ci_low", "mm_ci_high"):
        np.testing.assert_allclose(new[c], old[c], atol=2e-4)
    np.testing.assert_allclose(new["mm_se"], old["mm_se"], rtol=1e-4)


def _drop_collinear_reference(X: np.ndarray, names: list[str], observed: np.ndarray
                              ) -> tuple[np.ndarray, list[str]]:
    """The former implementation: one numpy.linalg.matrix_rank (a tall SVD) per candidate column."""
    Xo = X[observed]
    keep = [0]
    for j in range(1, X.shape[1]):
        if np.nanstd(Xo[:, j]) == 0:
            continue
        if np.linalg.matrix_rank(Xo[:, keep + [j]]) == len(keep) + 1:
            keep.append(j)
    return X[:, keep], [names[j] for j in keep]


@settings(max_examples=40)
@given(n=st.integers(2, 300), k=st.integers(1, 9), seed=st.integers(0, 2**31 - 1),
       kinds=st.lists(st.sampled_from(["normal", "dummy", "copy", "sum", "const", "scaled", "rare"]),
                      min_size=8, max_size=8))
def test_drop_collinear_equals_the_matrix_rank_version(n: int, k: int, seed: int, kinds: list[str]) -> None:
    # designs with exact collinearity (copies, sums of earlier columns, constants) and near-constant dummies
    rng = np.random.default_rng(seed)
    cols = [np.ones(n)]
    for kind in kinds[: k - 1]:
        if kind == "normal":
            cols.append(rng.normal(size=n))
        elif kind == "dummy":
            cols.append((rng.random(n) < 0.3).astype(float))
        elif kind == "copy":
            cols.append(cols[int(rng.integers(len(cols)))].copy())
        elif kind == "sum":
            cols.append(cols[-1] + cols[0] if len(cols) > 1 else np.ones(n))
        elif kind == "const":
            cols.append(np.full(n, 0.1))
        elif kind == "scaled":
            cols.append(3.7 * cols[-1])
        else:
            cols.append((np.arange(n) == rng.integers(n)).astype(float))
    X = np.column_stack(cols)
    names = [f"c{j}" for j in range(X.shape[1])]
    observed = rng.random(n) < 0.8
    observed[0] = True
    got_X, got_names = lg._drop_collinear(X, names, observed)
    ref_X, ref_names = _drop_collinear_reference(X, names, observed)
    assert got_names == ref_names
    np.testing.assert_array_equal(got_X, ref_X)
