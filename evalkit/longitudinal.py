"""Estimates that use everyone's observations: a linear mixed model and multiple imputation.

Completers' pre-post change uses only people with a baseline *and* an endpoint.
In open-ended peer support many people have no endpoint, and those who stop
early may differ. Two estimates use more of the data and are reported beside
the completers' one; they rest on the *missing at random* assumption (whether
a later score is missing may depend on what was observed -- baseline, earlier
scores, dose, how support ended -- but not on the unobserved score itself).

* :func:`mixed_model_change` -- every valid score from the baseline on, in a
  random-intercept linear mixed model (REML, profiled over the variance
  ratio and vectorised over participants; statsmodels ``MixedLM`` only for
  the optional group-session variance component).
* :func:`multiple_imputation_change` -- the missing endpoints of engaged
  participants with a baseline, imputed ``m`` times by Bayesian linear
  regression with proper posterior draws, combined by Rubin's rules.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from evalkit.blas_threads import on_one_blas_thread
from evalkit.episodes import engaged_mask
from evalkit.errors import ApproximationWarning, SmallSampleWarning
from evalkit.memory import release_freed_memory
from evalkit.rules import PairingRules

__all__ = [
    "MIXED_MODEL_COLUMNS",
    "MI_COLUMNS",
    "RubinResult",
    "group_generator",
    "mixed_model_change",
    "multiple_imputation_change",
    "rubin_combine",
]

MIXED_MODEL_COLUMNS: tuple[str, ...] = (
    "mm_change", "mm_se", "mm_ci_low", "mm_ci_high", "mm_n_participants", "mm_n_obs", "mm_converged",
    "mm_session_effects", "mm_mean_dose", "mm_note",
)
"""Columns of :func:`mixed_model_change` (besides the grouping columns)."""

MI_COLUMNS: tuple[str, ...] = (
    "mi_mean_change", "mi_se", "mi_ci_low", "mi_ci_high", "mi_df", "mi_n", "mi_n_imputed", "mi_m", "mi_fmi",
    "mi_note",
)
"""Columns of :func:`multiple_imputation_change` (besides the grouping columns)."""

_MIN_PARTICIPANTS = 10
_MIN_WINDOW = 20
"""Fewest participants with a score in the follow-up window for the mixed model to be fitted."""


# ---------------------------------------------------------------------------
# mixed model
# ---------------------------------------------------------------------------
_ENDING_GROUPS = {"planned_ending": "planned", "moved_on_coping": "coping", "stopped_attending": "stopped"}
_PERIODS = ("early", "window", "late")


def _ending_group(ending: pd.Series) -> np.ndarray:
    """planned / coping / stopped / other / ongoing (no ending recorded)."""
    e = ending.astype("string")
    # a number per row picks one of the few group names (no Python string made per row): at a million
    # participants an object array of the endings' own text was about 0.2 GB
    names = np.array(["ongoing", "other", *_ENDING_GROUPS.values()], dtype=object)
    pick = np.where(e.isna().to_numpy(dtype=bool), 0, 1)
    for i, code in enumerate(_ENDING_GROUPS, start=2):
        pick[(e == code).fillna(False).to_numpy(dtype=bool)] = i
    return names[pick]


def _centred_covariates(dose: np.ndarray, ending_group: np.ndarray, person_first: np.ndarray
                        ) -> tuple[np.ndarray, list[str]]:
    """Dose and ending-group indicators, centred at their means over participants (one row each)."""
    cols, names = [], []
    d = np.nan_to_num(dose.astype(float))
    if np.std(d[person_first]) > 0:
        cols.append(d - d[person_first].mean())
        names.append("dose")
    levels = sorted(set(ending_group[person_first]))
    for lev in levels[1:]:
        ind = (ending_group == lev).astype(float)
        cols.append(ind - ind[person_first].mean())
        names.append(f"ending_{lev}")
    return (np.column_stack(cols) if cols else np.zeros((len(d), 0))), names


def _inner_merge_rows(left: pd.DataFrame, right: pd.DataFrame, on: Sequence[str]
                      ) -> tuple[np.ndarray, np.ndarray] | None:
    """Positions of the rows of ``left`` and ``right`` that ``left.merge(right, on=on, how="inner")`` pairs, in its
    order (``left``'s), when no two rows of ``right`` share their keys; ``None`` when some do.

    The keys are compared as text in Arrow (missing matches missing, as in the merge), each key column coded by
    its place among ``right``'s distinct values: integers per row, no Python object per row and no merged frame.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    l_key = np.zeros(len(left), dtype=np.int64)
    r_key = np.zeros(len(right), dtype=np.int64)
    found = np.ones(len(left), dtype=bool)
    for c in on:
        r_text = pa.array(right[c].astype("string").array, type=pa.large_string())
        levels = pc.unique(r_text)
        r_code = pc.index_in(r_text, value_set=levels).to_numpy(zero_copy_only=False)
        l_code = pc.index_in(pa.array(left[c].astype("string").array, type=pa.large_string()), value_set=levels)
        found &= l_code.is_valid().to_numpy(zero_copy_only=False)
        l_key = l_key * len(levels) + pc.fill_null(l_code, 0).to_numpy(zero_copy_only=False)
        r_key = r_key * len(levels) + r_code
    order = np.argsort(r_key, kind="stable")
    r_sorted = r_key[order]
    if len(r_sorted) > 1 and bool((r_sorted[1:] == r_sorted[:-1]).any()):
        return None
    l_rows = np.flatnonzero(found)
    if not len(r_sorted):
        return l_rows[:0], order[:0]
    at = np.minimum(np.searchsorted(r_sorted, l_key[l_rows]), len(r_sorted) - 1)
    hit = r_sorted[at] == l_key[l_rows]
    return l_rows[hit], order[at[hit]]


def _paired_frame(left: pd.DataFrame, l_rows: np.ndarray, right: pd.DataFrame, r_rows: np.ndarray,
                  left_columns: Sequence[str], columns: Sequence[str], index: np.ndarray | None = None) -> pd.DataFrame:
    """``columns`` of paired rows: those in ``left_columns`` from ``left`` at ``l_rows``, the others from ``right``
    at ``r_rows``, each with its dtype."""
    return pd.DataFrame({c: (left[c].take(l_rows) if c in left_columns else right[c].take(r_rows)).array
                         for c in columns}, index=index)


def _sort_order(columns: Iterable[pd.Series]) -> np.ndarray:
    """Positions that put rows in the order of these columns in turn, ascending, missing values last and ties in
    their order: the order of ``DataFrame.sort_values`` on several columns, found one column at a time.

    Each column is coded by its place among its sorted distinct values (``pandas.factorize(sort=True)``, missing
    after them), and the codes are sorted together by ``numpy.lexsort`` (stable), as pandas sorts several columns;
    no column is copied in that order.
    """
    codes = []
    for values in columns:
        code, distinct = pd.factorize(values, sort=True)
        codes.append(np.where(code < 0, len(distinct), code))
    return np.lexsort(codes[::-1]) if codes else np.zeros(0, dtype=np.intp)


def _fit_one(g: pd.DataFrame, rules: PairingRules, use_sessions_vc: bool) -> dict[str, object]:
    lo = rules.followup_weeks - rules.followup_tolerance_weeks
    hi = rules.followup_weeks + rules.followup_tolerance_weeks
    w = g["weeks_since_anchor"].to_numpy(dtype=float)
    is_base = g["is_baseline"].to_numpy(dtype=bool)
    periods = np.column_stack([~is_base & (w < lo), ~is_base & (w >= lo) & (w <= hi), ~is_base & (w > hi)])
    # participants as codes in order of first appearance (her first row: where her code first turns up), read from
    # the Arrow text without a Python string per score
    codes = pd.factorize(g["participant_id"])[0]
    n_window = int(np.unique(codes[periods[:, 1]]).size)
    if n_window < _MIN_WINDOW:
        return {"mm_converged": False, "mm_small": True,
                "mm_note": f"not fitted: {n_window} participants with a score {lo:g}-{hi:g} weeks after the first "
                           f"contact (at least {_MIN_WINDOW} needed)"}
    first = np.zeros(len(g), dtype=bool)
    first[np.unique(codes, return_index=True)[1]] = True
    Z, znames = _centred_covariates(g["dose"].to_numpy(dtype=float), np.full(len(g), "all", dtype=object), first)
    P = periods.astype(float)
    blocks = [np.ones((len(g), 1)), P, Z, Z * P[:, [1]]]
    names = ["intercept", *[f"period_{p}" for p in _PERIODS], *znames, *[f"{z}:period_window" for z in znames]]
    X = np.column_stack(blocks)
    X, names = _drop_collinear(X, names, np.ones(len(X), dtype=bool))
    if "period_window" not in names:
        return {"mm_converged": False, "mm_note": "not fitted: the follow-up period is not estimable"}
    j = names.index("period_window")
    y = g["score"].to_numpy(dtype=float)
    if use_sessions_vc:
        fitted = _fit_sessions_vc(g, X, y, codes)
        if isinstance(fitted, str):
            return {"mm_converged": False, "mm_note": fitted}
        beta, sigma2, cov, converged, notes = fitted
    else:
        ri = _ri_reml(X, y, codes)
        beta, sigma2, tau2, converged = ri.beta, ri.sigma2, ri.tau2, ri.converged
        notes = [ri.message] if ri.message else []
        if ri.boundary:
            notes.append("participant variance estimated at 0 (REML boundary): the fit is least squares")
        bread = _ri_weighted(X, y - X @ beta, codes, sigma2, tau2)[1]
        cov = _jackknife_ri(X, y - X @ beta, codes, sigma2, tau2, bread)
    se = float(math.sqrt(cov[j, j])) if cov[j, j] >= 0 else float("nan")
    if "dose" not in names:
        notes.append("no dose term")
    return {
        "mm_change": float(beta[j]), "mm_se": se, "mm_converged": converged and np.isfinite(se),
        "mm_mean_dose": float(np.nanmean(np.nan_to_num(g["dose"].to_numpy(dtype=float))[first])),
        "mm_note": "; ".join(notes),
    }


def _fit_sessions_vc(g: pd.DataFrame, X: np.ndarray, y: np.ndarray, codes: np.ndarray
                     ) -> tuple[np.ndarray, float, np.ndarray, bool, list[str]] | str:
    """Participant and group-session variance components by statsmodels ``MixedLM`` (REML), CR1 sandwich.

    ``codes``: participant codes ``0 .. G-1``. Returns ``(beta, sigma2, covariance of beta, converged, notes)``,
    or a note saying why the model could not be fitted.
    """
    # not statsmodels.api (every model and dataset): see evalkit.mechanisms._cmo._fit
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    sess = g["group_session_id"].astype("string").fillna("").to_numpy(dtype=object)
    own = np.char.add("obs:", np.arange(len(g)).astype(str)).astype(object)
    sess = np.where(sess == "", own, sess)
    s_codes, s_levels = pd.factorize(sess)
    n_participants = int(codes.max()) + 1
    mats = [_dummies(codes, n_participants), _dummies(s_codes, len(s_levels))]
    exog_vc = VCSpec(["participant", "session"],
                     [[[f"p{i}" for i in range(n_participants)]], [[f"s{i}" for i in range(len(s_levels))]]],
                     [[mats[0]], [mats[1]]])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = MixedLM(y, X, groups=np.zeros(len(g)), exog_re=np.zeros((len(g), 0)), exog_vc=exog_vc)
        try:
            res = model.fit(reml=True)
        except (np.linalg.LinAlgError, ValueError) as exc:
            return f"mixed model could not be fitted ({exc})"
    converged = bool(getattr(res, "converged", False))
    notes: list[str] = []
    problems = sorted({str(m.message).split(".")[0][:120] for m in caught})
    if problems:
        notes.append("statsmodels: " + "; ".join(problems))
        converged = False
    beta = np.asarray(res.fe_params, dtype=float)
    sigma2 = float(res.scale)
    vcomp = np.asarray(res.vcomp, dtype=float)  # statsmodels reports variance components on the data scale
    V = sigma2 * np.eye(len(y))
    for k, Zk in enumerate(mats):
        V += vcomp[k] * (Zk @ Zk.T)
    w_r = np.linalg.solve(V, y - X @ beta)
    bread = X.T @ np.linalg.solve(V, X)
    return beta, sigma2, _sandwich(X, w_r, bread, codes), converged, notes


@dataclass(frozen=True)
class _RIFit:
    """A random-intercept REML fit (see :func:`_ri_reml`)."""

    beta: np.ndarray
    sigma2: float
    tau2: float
    llf: float
    converged: bool
    boundary: bool
    message: str


_LOG_LAMBDA_GRID = np.arange(-20.0, 25.0001, 0.5)
"""Grid of ``log(lambda)``, ``lambda = tau2 / sigma2``, searched before the bounded refinement."""


def _group_sums(codes: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-group column sums of a 2-d array (one ``np.bincount`` per column)."""
    return np.column_stack([np.bincount(codes, weights=values[:, j], minlength=n_groups)
                            for j in range(values.shape[1])]) if values.shape[1] else np.zeros((n_groups, 0))


def _ri_reml(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> _RIFit:
    """REML fit of the random-intercept model ``y = X b + u_i + e``, vectorised over participants.

    Parameters
    ----------
    X
        Fixed-effects design (``N x p``, full column rank, first column the intercept).
    y
        Responses (``N``).
    codes
        Participant codes ``0 .. G-1`` (``pandas.factorize``).

    Returns
    -------
    _RIFit
        ``beta`` (GLS estimate), ``sigma2`` (residual variance), ``tau2``
        (random-intercept variance), ``llf`` (the REML log-likelihood, on
        the same scale as statsmodels ``MixedLM.loglike``), whether the
        optimiser converged, whether ``tau2`` is on the boundary ``0``, and
        a message.

    Notes
    -----
    With ``V_i = sigma2 (I + lambda J)`` for the ``n_i`` scores of participant
    ``i`` (``lambda = tau2 / sigma2``, ``J`` the matrix of ones), the
    Sherman-Morrison formula gives ``(I + lambda J)^-1 = I - c_i J`` with
    ``c_i = lambda / (1 + n_i lambda)`` and ``|I + lambda J| = 1 + n_i lambda``.
    So, with ``s_i = sum_j x_ij`` and ``t_i = sum_j y_ij``,

    * ``A(lambda) = X'(I + lambda J)^-1 X = X'X - sum_i c_i s_i s_i'``,
    * ``b(lambda) = X'y - sum_i c_i s_i t_i``, ``q(lambda) = y'y - sum_i c_i t_i^2``,
    * ``beta(lambda) = A^-1 b`` and ``RSS(lambda) = q - b' A^-1 b``;

    and since ``c_i`` depends on ``i`` only through ``n_i``, the sums are
    accumulated once per distinct group size. Profiling ``sigma2`` out of
    the REML log-likelihood (Harville 1977; Searle, Casella & McCulloch
    1992, ch. 6; Pinheiro & Bates 2000, sec. 2.2) gives
    ``sigma2(lambda) = RSS / (N - p)`` and

        ``-2 l_R(lambda) = (N - p) log RSS + sum_i log(1 + n_i lambda) + log|A|``
        ``+ (N - p) (1 + log(2 pi) - log(N - p))``,

    a function of ``lambda`` alone. It is minimised over ``log lambda``:
    a grid from ``e^-20`` to ``e^25`` in steps of 0.5, then a bounded Brent
    search (``scipy.optimize.minimize_scalar``, ``xatol = 1e-10``) between
    the grid points either side of the best. When the best grid point is
    the smallest, the estimate is the boundary ``lambda = 0`` (``tau2 = 0``:
    ordinary least squares); when it is the largest, the residual variance
    is estimated at about zero and the fit is reported as not converged.
    With one score per participant the criterion does not depend on
    ``lambda`` (only ``sigma2 + tau2`` is identified) and ``lambda = 0``.
    ``X`` (bar the intercept) and ``y`` are centred first for numerical
    accuracy; that leaves the likelihood unchanged (same column space, unit
    triangular change of basis) and ``beta`` is mapped back.

    References
    ----------
    Harville, D. A. (1977). Maximum likelihood approaches to variance
    component estimation and to related problems. *JASA*, 72, 320-338.
    Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and
    S-PLUS*, ch. 2. Springer.
    Searle, S. R., Casella, G., & McCulloch, C. E. (1992). *Variance
    Components*. Wiley.
    """
    n_obs, p = X.shape
    df = n_obs - p
    x_mean = X.mean(axis=0)
    x_mean[0] = 0.0
    y_mean = float(y.mean())
    D = np.column_stack([X - x_mean, y - y_mean])
    n_groups = int(codes.max()) + 1
    n_i = np.bincount(codes, minlength=n_groups)
    S = _group_sums(codes, D, n_groups)
    sizes, size_code = np.unique(n_i, return_inverse=True)
    counts = np.bincount(size_code).astype(float)
    order = np.argsort(size_code, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts[:-1]).astype(np.intp)])
    M = np.add.reduceat((S[:, :, None] * S[:, None, :])[order], starts, axis=0)  # sizes x (p+1) x (p+1)
    C0 = D.T @ D
    sizes_f = sizes.astype(float)

    def solve(lam: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        c = lam[:, None] / (1.0 + lam[:, None] * sizes_f[None, :])
        Q = C0[None] - np.einsum("lk,kij->lij", c, M)
        A, b, q = Q[:, :p, :p], Q[:, :p, p], Q[:, p, p]
        sign, logdet_a = np.linalg.slogdet(A)
        beta = np.linalg.solve(A, b[:, :, None])[:, :, 0]
        rss = q - np.einsum("li,li->l", b, beta)
        logdet_h = np.log1p(lam[:, None] * sizes_f[None, :]) @ counts
        with np.errstate(divide="ignore", invalid="ignore"):
            f = df * np.log(rss) + logdet_h + logdet_a
        f = np.where((sign > 0) & (rss > 0) & np.isfinite(f), f, np.inf)
        return f, beta, rss

    grid = np.exp(_LOG_LAMBDA_GRID)
    f_grid = solve(grid)[0]
    # the smallest ratio among (numerical) ties: a flat criterion means lambda is not identified
    f_min = float(np.min(f_grid))
    k = int(np.argmax(f_grid <= f_min + 1e-12 * max(1.0, abs(f_min)))) if np.isfinite(f_min) else 0
    converged, boundary, message = True, False, ""
    if n_i.max() == 1:
        lam, boundary = 0.0, True
        message = "one score per participant: the participant variance is not identified (set to 0)"
    elif not np.isfinite(f_grid[k]):
        converged, message = False, "REML criterion not finite (residual sum of squares 0?)"
        lam = 0.0
    elif k == 0:
        lam, boundary = 0.0, True
    elif k == len(grid) - 1:
        lam, converged = float(grid[k]), False
        message = "residual variance estimated at about 0 (variance ratio at the upper search bound)"
    else:
        res = optimize.minimize_scalar(lambda t: float(solve(np.array([math.exp(t)]))[0][0]),
                                       bounds=(float(_LOG_LAMBDA_GRID[k - 1]), float(_LOG_LAMBDA_GRID[k + 1])),
                                       method="bounded", options={"xatol": 1e-10, "maxiter": 500})
        lam = math.exp(float(res.x)) if res.fun <= f_grid[k] else float(grid[k])
        if not res.success:
            converged, message = False, f"REML optimiser: {res.message}"
    f, beta_c, rss = (a[0] for a in solve(np.array([lam])))
    sigma2 = float(rss) / df
    beta = beta_c.copy()
    beta[0] += y_mean - float(x_mean @ beta_c)
    llf = -0.5 * (float(f) + df * (1.0 + math.log(2 * math.pi) - math.log(df)))
    return _RIFit(beta=beta, sigma2=sigma2, tau2=lam * sigma2, llf=llf, converged=converged,
                  boundary=boundary, message=message)


def _ri_weighted(X: np.ndarray, r: np.ndarray, codes: np.ndarray, sigma2: float, tau2: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """``V^-1 r`` and ``X' V^-1 X`` for a random-intercept covariance, vectorised over participants.

    ``V_i = sigma2 I + tau2 11'`` so ``V_i^-1 = (I - c_i 11') / sigma2`` with
    ``c_i = tau2 / (sigma2 + n_i tau2)``; ``codes`` are participant codes ``0 .. G-1``.
    """
    n_i = np.bincount(codes).astype(float)
    c = (tau2 / (sigma2 + n_i * tau2))[codes]
    r_sum = np.bincount(codes, weights=r)[codes]
    w_r = (r - c * r_sum) / sigma2
    x_sum = _group_sums(codes, X, len(n_i))
    ci = tau2 / (sigma2 + n_i * tau2)
    bread = (X.T @ X - (x_sum * ci[:, None]).T @ x_sum) / sigma2
    return w_r, bread


def _sandwich(X: np.ndarray, w_r: np.ndarray, bread: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Cluster-robust covariance ``A^-1 (sum_g u_g u_g') A^-1 * G/(G-1)`` with ``u_g = sum_(j in g) x_j (V^-1 r)_j``.

    Liang & Zeger (1986); with the small-sample factor ``G / (G - 1)`` (CR1). ``codes``: clusters ``0 .. G-1``.
    """
    g = int(codes.max()) + 1
    u = _group_sums(codes, X * w_r[:, None], g)
    a_inv = np.linalg.pinv(bread)
    meat = u.T @ u
    return a_inv @ meat @ a_inv * (g / (g - 1) if g > 1 else 1.0)


_JACKKNIFE_BLOCK_CELLS = 1 << 21
"""Largest number of cells (participants x n x n) of the stacked ``n x n`` matrices :func:`_jackknife_ri` holds at
once: 16 MiB per such array in float64, whatever the number of participants."""


def _jackknife_ri(X: np.ndarray, r: np.ndarray, codes: np.ndarray, sigma2: float, tau2: float,
                  bread: np.ndarray) -> np.ndarray:
    """Cluster jackknife (CR3) covariance of the GLS estimate with the variance components held fixed.

    Leaving participant ``g`` out moves the estimate by
    ``d_g = A^-1 X_g' W_g (I - H_gg)^-1 r_g`` with ``H_gg = X_g A^-1 X_g' W_g``
    and ``A = X' W X`` (Bell & McCaffrey 2002; Pustejovsky & Tipton 2018);
    the covariance is ``(G - 1) / G * sum_g d_g d_g'``. ``codes``: participant
    codes ``0 .. G-1``.

    Participants with the same number of scores ``n`` share
    ``W_g = (I - c_n 1 1') / sigma2``, ``c_n = tau2 / (sigma2 + n tau2)``; their
    ``n x n`` systems are solved together, stacked, a block of at most
    :data:`_JACKKNIFE_BLOCK_CELLS` cells at a time (no per-participant loop, no
    padding to the largest participant, and memory that does not grow with the
    number of participants).
    """
    G, k = int(codes.max()) + 1, X.shape[1]
    a_inv = np.linalg.pinv(bread)
    n_g = np.bincount(codes, minlength=G)
    # rows grouped by their participant's number of scores, then by participant, in their order (a stable sort)
    order = np.lexsort((codes, n_g[codes]))
    sizes, first_row = np.unique(n_g[codes][order], return_index=True)
    d = np.zeros((G, k))
    for n, row in zip(sizes.tolist(), first_row.tolist(), strict=True):
        many = int(np.count_nonzero(n_g == n))
        W = (np.eye(n) - tau2 / (sigma2 + n * tau2)) / sigma2
        per_block = max(1, _JACKKNIFE_BLOCK_CELLS // (n * n))
        for lo in range(0, many, per_block):
            rows = order[row + lo * n:row + min(many, lo + per_block) * n]
            Xg = X[rows].reshape(-1, n, k)
            H = (Xg @ a_inv) @ np.transpose(Xg, (0, 2, 1)) @ W  # block x n x n
            adj = np.linalg.solve(np.eye(n)[None] - H, r[rows].reshape(-1, n, 1))
            d[codes[rows[::n]]] = np.einsum("gnk,gn->gk", Xg, (W @ adj)[:, :, 0]) @ a_inv
    return (G - 1) / G * (d.T @ d)


def _dummies(codes: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((len(codes), k))
    out[np.arange(len(codes)), codes] = 1.0
    return out


@on_one_blas_thread
def mixed_model_change(
    scores: pd.DataFrame,
    episodes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "instrument"),
    rules: PairingRules | None = None,
) -> pd.DataFrame:
    """Change by the follow-up window (default 12 +/- 4 weeks) from a mixed model of every score.

    Parameters
    ----------
    scores
        Valid score series (``EpisodeData.scores``): ``participant_id``,
        ``instrument``, ``date``, ``score`` and ``group_session_id``.
    episodes
        Episodes (:func:`evalkit.episodes.build_episodes`): the population,
        baseline dates, anchors, dose and endings.
    by
        Grouping columns (one model per group); must include ``instrument``.
    rules
        ``min_dose`` (population), ``followup_weeks`` and
        ``followup_tolerance_weeks`` (the follow-up period), ``mm_max_weeks``,
        ``mm_session_effects``, ``mm_session_max_obs`` and ``level`` are used.

    Returns
    -------
    pandas.DataFrame
        One row per group with :data:`MIXED_MODEL_COLUMNS`: ``mm_change`` (the
        estimated mean change from baseline to the follow-up period),
        ``mm_se``, ``mm_ci_low``/``mm_ci_high`` (Wald, normal),
        ``mm_n_participants``, ``mm_n_obs``, ``mm_converged``,
        ``mm_session_effects`` (whether a group-session variance component
        was included), ``mm_mean_dose`` and ``mm_note``.

    Notes
    -----
    Population: participants with a baseline score who reached the minimum
    dose over the referral (:func:`evalkit.episodes.engaged_mask`, as for data
    completeness and :func:`multiple_imputation_change`) and whose support
    has ended (``end_date`` recorded): the dose of an episode still running
    is not yet known, and which episodes are still running depends only on
    when they started. Every valid score from the baseline to
    ``mm_max_weeks`` after the first attended contact is used, however many
    each person has.

    Model for score ``y_ij`` of participant ``i`` (REML; Laird & Ware 1982)::

        y_ij = b0 + b_early E_ij + b_window F_ij + b_late L_ij + g0 x_i + g1 x_i F_ij + u_i (+ v_s) + e_ij

    where ``E``, ``F``, ``L`` mark the *period* of the score by weeks since
    the first attended contact (support starts there; scores before it count
    as week 0): before the follow-up window, in it (``followup_weeks +/-
    followup_tolerance_weeks``, default 8-16 weeks), after it; the baseline
    score itself is the reference. ``x_i`` is the participant's total
    attended contacts (the dose, or ``sessions_attended``) **centred at the
    mean over the participants**, so ``b_window`` is the mean change from
    baseline to the follow-up window at the programme's mean dose -- the
    change of the average engaged participant. ``u_i ~ N(0, s2_u)`` is a
    random intercept per participant. On request (``mm_session_effects``
    ``"auto"`` or ``"always"``; off by default) a crossed variance component
    ``v_s`` is added for the group session at which a score was recorded
    (other scores get a level of their own); statsmodels fits crossed effects
    as one dense group, which took minutes for a few hundred scores, so
    ``"auto"`` uses it only for small models and drops it again (with a note)
    when it does not converge or is estimated at zero -- as it is when
    sessions add nothing. No random slope: it rarely converges quickly on
    data this sparse.

    Fitting: without the session component, the REML log-likelihood of the
    random-intercept model is profiled over ``sigma2`` and maximised over
    the variance ratio ``lambda = s2_u / sigma2`` alone, every term coming
    from per-participant sums (Sherman-Morrison inverse of ``V_i = sigma2 (I
    + lambda J)``; Harville 1977; Pinheiro & Bates 2000, ch. 2): see
    ``_ri_reml``. It gives statsmodels ``MixedLM(..., groups=participant)
    .fit(reml=True)``'s estimates to optimiser tolerance (tested in
    ``tests/test_longitudinal_reml.py``) in milliseconds instead of
    seconds. ``s2_u`` estimated at 0 (the REML boundary; the fit is then
    least squares) is said in ``mm_note`` and is not a convergence failure.
    The session component is fitted by statsmodels ``MixedLM``.

    Why periods and not a slope: with weekly support ending around week 8-10,
    a linear segment fitted to weeks 6-10 and carried to week 12 overshot a
    change that levels off by about a quarter of the effect in simulation; a
    period mean uses only scores actually observed in the window. Why the
    dose: mothers still attending (and so still giving questionnaires) at 12
    weeks have had more sessions, and change grows with the dose; the dose
    is observed for everyone, so adjusting for it makes the missing-at-random
    assumption plausible, and centring returns the average. A time-varying
    'cumulative sessions' term (as first planned) is collinear with time and
    did not remove this bias; adjusting for how support ended as well made
    the intervals too narrow (few later scores in some endings) for little
    gain.

    Standard errors: cluster jackknife by participant (CR3; Bell & McCaffrey
    2002) around the REML fit with its variance components held fixed
    (CR1 sandwich when the session component is included). The working
    model has a random intercept only, and people also differ in how much
    they change; model-based and CR1 SEs were too small in simulation (95%
    intervals covered the truth 81-87% of the time), CR3 about 92%.

    A fit that does not converge (or, with the session component, where statsmodels warns) is reported
    with ``mm_converged = False`` and an :class:`~evalkit.errors.ApproximationWarning`.
    Groups with fewer than 10 participants, or fewer than 20 with a score in
    the follow-up window, are not fitted (:class:`~evalkit.errors.SmallSampleWarning`):
    the window mean and its dose adjustment rest on those people, and with
    about ten of them the estimate was wildly unstable on the example data.

    Validated in ``tests/test_simulation_outcomes.py`` against the example
    generator's true 12-week change (coverage of the 95% interval over
    seeded replications).

    References
    ----------
    Laird, N. M., & Ware, J. H. (1982). Random-effects models for longitudinal
    data. *Biometrics*, 38, 963-974.
    Harville, D. A. (1977). Maximum likelihood approaches to variance
    component estimation and to related problems. *JASA*, 72, 320-338.
    Pinheiro, J. C., & Bates, D. M. (2000). *Mixed-Effects Models in S and
    S-PLUS*, ch. 2. Springer.
    Bell, R. M., & McCaffrey, D. F. (2002). Bias reduction in standard errors
    for linear regression with multi-stage samples. *Survey Methodology*, 28, 169-181.
    Liang, K.-Y., & Zeger, S. L. (1986). Longitudinal data analysis using
    generalized linear models. *Biometrika*, 73, 13-22.
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    if "instrument" not in by:
        raise ValueError(f"by must include 'instrument'; got {by}")
    ep_cols = list(dict.fromkeys(["participant_id", "instrument", *by, "baseline_date", "anchor_date",
                                  "attended_total"]))
    pop = episodes.loc[episodes["baseline_score"].notna() & episodes["anchor_date"].notna()
                       & engaged_mask(episodes, rules.min_dose) & episodes["end_date"].notna(), ep_cols]
    s_cols = ["participant_id", "instrument", "date", "score"] + (
        ["group_session_id"] if "group_session_id" in scores.columns else [])
    on = ["participant_id", "instrument"]
    pairs = _inner_merge_rows(scores, pop, on)
    if pairs is None:  # an episode given twice: the merge's own rows (each of her scores once per such episode)
        left = right = scores[s_cols].merge(pop, on=on, how="inner")
        l_rows = r_rows = np.arange(len(left))
    else:  # the scores and episodes the merge would pair, read from them by position: no merged copy of both
        (left, l_rows), (right, r_rows) = (scores, pairs[0]), (pop, pairs[1])
    date = pd.Series(left["date"].to_numpy()[l_rows])
    baseline = pd.Series(right["baseline_date"].to_numpy()[r_rows])
    weeks = ((date - pd.Series(right["anchor_date"].to_numpy()[r_rows])).dt.days / 7.0).clip(lower=0).to_numpy()
    with np.errstate(invalid="ignore"):
        kept = np.flatnonzero((date >= baseline).to_numpy(dtype=bool) & (weeks <= rules.mm_max_weeks))
    # each group's scores by participant and date (a sort on several columns is stable, so ties keep their order):
    # sorted once for all groups, as each group sorted on its own gave them; the order is found on the key columns
    l_kept, r_kept = l_rows[kept], r_rows[kept]
    keys = [*by, "participant_id", "date"]
    order = _sort_order(_paired_frame(left, l_kept, right, r_kept, s_cols, [c])[c] for c in keys)
    kept, l_kept, r_kept = kept[order], l_kept[order], r_kept[order]
    release_freed_memory()  # the key columns, before the rows are copied
    # only the columns the fits read, of the kept rows in that order (labelled by their place among the paired
    # rows, as the merge labelled them): copied once
    s = _paired_frame(left, l_kept, right, r_kept, s_cols, list(dict.fromkeys([*by, *s_cols])), index=kept)
    s["weeks_since_anchor"] = weeks[kept]
    s["is_baseline"] = (date == baseline).to_numpy()[kept]
    s["dose"] = right["attended_total"].to_numpy(dtype=float)[r_kept]
    del pop, left, right, pairs, l_rows, r_rows, l_kept, r_kept, date, baseline, weeks, kept, order
    if "group_session_id" not in s.columns:
        s["group_session_id"] = pd.array([pd.NA] * len(s), dtype="string")
    z = float(stats.norm.ppf(0.5 + rules.level / 2))
    rows = []
    approx: list[str] = []
    small: list[str] = []
    release_freed_memory()  # what finding the rows freed, before the fits
    for key, g in s.groupby(by, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(str(k) for k in key)
        n_p = int(g["participant_id"].nunique())
        row: dict[str, object] = dict(zip(by, key, strict=True))
        row.update(mm_n_participants=n_p, mm_n_obs=len(g))
        if n_p < _MIN_PARTICIPANTS or len(g) <= n_p:
            small.append(label)
            row.update(mm_converged=False, mm_note=f"not fitted: {n_p} participants, {len(g)} scores")
            rows.append(row)
            continue
        share_sess = float(g["group_session_id"].notna().mean())
        use_vc = (rules.mm_session_effects == "always" and share_sess > 0) or (
            rules.mm_session_effects == "auto" and share_sess >= 0.2 and len(g) <= rules.mm_session_max_obs)
        fit = _fit_one(g, rules, bool(use_vc))
        if use_vc and rules.mm_session_effects == "auto" and not fit.get("mm_converged", False):
            # no session-level variance to speak of (estimate on the boundary) or no convergence:
            # fall back to the random-intercept model and say so
            fit = _fit_one(g, rules, False)
            fit["mm_note"] = "; ".join(x for x in ("group-session variance component dropped (did not converge "
                                                   "or estimated at zero)", fit.get("mm_note", "")) if x)
            use_vc = False
        row.update(fit)
        release_freed_memory()  # the fit's design and work arrays (at a million participants they piled up)
        row["mm_session_effects"] = bool(use_vc) and "mm_change" in fit
        if "mm_change" in fit:
            row["mm_ci_low"] = fit["mm_change"] - z * fit["mm_se"]
            row["mm_ci_high"] = fit["mm_change"] + z * fit["mm_se"]
        if fit.pop("mm_small", False):
            small.append(label)
            row.pop("mm_small", None)
        elif not row.get("mm_converged", False):
            approx.append(label)
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in MIXED_MODEL_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[[*by, *MIXED_MODEL_COLUMNS]] if len(out) else pd.DataFrame(columns=[*by, *MIXED_MODEL_COLUMNS])
    if len(out):
        out["mm_converged"] = out["mm_converged"].astype("boolean").fillna(False).astype(bool)
        out["mm_session_effects"] = out["mm_session_effects"].astype("boolean").fillna(False).astype(bool)
        out["mm_note"] = out["mm_note"].astype("string").fillna("")
        for c in ("mm_n_participants", "mm_n_obs"):
            out[c] = out[c].astype("Int64")
    if small:
        warnings.warn(f"mixed model not fitted for {len(small)} group(s) with too few participants (fewer than "
                      f"{_MIN_PARTICIPANTS}, or fewer than {_MIN_WINDOW} with a score in the follow-up window): "
                      f"{'; '.join(small[:5])}{' ...' if len(small) > 5 else ''}",
                      SmallSampleWarning, stacklevel=2)
    if approx:
        warnings.warn(f"mixed model did not converge cleanly for {len(approx)} group(s): "
                      f"{'; '.join(approx[:5])}{' ...' if len(approx) > 5 else ''} (see mm_note); "
                      "treat those estimates as approximate", ApproximationWarning, stacklevel=2)
    out.attrs["rules"] = rules.describe()
    return out


# ---------------------------------------------------------------------------
# multiple imputation
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class RubinResult:
    """Estimates combined over imputations by Rubin's rules.

    Attributes
    ----------
    estimate, se, ci_low, ci_high, df
        Combined estimate ``Q-bar``, ``sqrt(T)``, the t interval and the
        Barnard-Rubin degrees of freedom.
    within, between
        ``U-bar`` and ``B``.
    fmi
        Fraction of missing information ``(1 + 1/m) B / T``.
    m
        Number of imputations.
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    df: float
    within: float
    between: float
    fmi: float
    m: int


def rubin_combine(estimates: np.ndarray, variances: np.ndarray, *, n_complete_df: float | None = None,
                  level: float = 0.95) -> RubinResult:
    """Combine ``m`` estimates and their variances by Rubin's rules.

    ``Q-bar = mean(Q_m)``, ``U-bar = mean(U_m)``, ``B = var(Q_m, ddof=1)``,
    ``T = U-bar + (1 + 1/m) B`` (Rubin 1987, ch. 3). Degrees of freedom:
    Barnard & Rubin (1999): ``nu_old = (m - 1) / lambda^2`` with ``lambda =
    (1 + 1/m) B / T``, ``nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 -
    lambda)`` and ``nu = 1 / (1/nu_old + 1/nu_obs)`` (``nu_com`` =
    ``n_complete_df``; without it, ``nu_old``).

    Examples
    --------
    B = 0.04, U-bar = 0.04, T = 0.04 + (4/3) 0.04 = 0.0933, SE = 0.3055:

    >>> r = rubin_combine(np.array([1.0, 1.2, 0.8]), np.array([0.04, 0.04, 0.04]))
    >>> round(r.estimate, 3), round(r.se, 4), r.m
    (1.0, 0.3055, 3)
    """
    q = np.asarray(estimates, dtype=float)
    u = np.asarray(variances, dtype=float)
    m = len(q)
    if m < 2:
        raise ValueError(f"need at least 2 imputations; got {m}")
    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    nu_old = (m - 1) / lam**2 if lam > 0 else np.inf
    if n_complete_df is not None and np.isfinite(n_complete_df):
        nu_com = float(n_complete_df)
        nu_obs = (nu_com + 1) / (nu_com + 3) * nu_com * (1 - lam)
        nu = 1 / (1 / nu_old + 1 / nu_obs) if nu_obs > 0 else nu_old
    else:
        nu = nu_old
    se = math.sqrt(t)
    crit = float(stats.t.ppf(0.5 + level / 2, nu)) if np.isfinite(nu) else float(stats.norm.ppf(0.5 + level / 2))
    return RubinResult(qbar, se, qbar - crit * se, qbar + crit * se, float(nu), ubar, b, float(lam), m)


def _design(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Imputation predictors: baseline, attended contacts, ending group, context (with indicators)."""
    cols: dict[str, np.ndarray] = {
        "baseline": frame["baseline_score"].to_numpy(dtype=float),
        "dose": np.nan_to_num(frame["attended_total"].to_numpy(dtype=float)),
    }
    ending = _ending_group(frame["ending"])
    for level in ("planned", "coping", "stopped", "ongoing"):
        cols[f"ending_{level}"] = (ending == level).astype(float)
    for name in ("prior_mh_support", "first_time_mother"):
        if name in frame.columns:
            v = frame[name].astype("boolean")
            cols[name] = v.fillna(False).to_numpy(dtype=float)
            cols[name + "_missing"] = v.isna().to_numpy(dtype=float)
    if "perinatal_stage" in frame.columns:
        cols["antenatal"] = (frame["perinatal_stage"].astype("string") == "antenatal").fillna(False).to_numpy(float)
    X = np.column_stack([np.ones(len(frame)), *cols.values()])
    names = ["intercept", *cols]
    return X, names


def _drop_collinear(X: np.ndarray, names: list[str], observed: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Keep columns that vary among the observed rows and are not linearly dependent on earlier ones.

    Columns are taken greedily: column ``j`` is kept when ``X_o[:, keep + [j]]``
    has full column rank, by ``numpy.linalg.matrix_rank``'s rule (singular
    values above ``s_max * max(n, k) * eps``). With one Householder QR
    ``X_o = Q R`` (Golub & Van Loan 2013, sec. 5.2), ``X_o[:, S] = Q R[:, S]``
    has the singular values of the small ``R[:, S]``, so each test is an SVD
    of at most ``k x k`` instead of one of ``n x k`` -- at 100k participants
    the tall SVDs, one per column, were most of the imputation's time.

    References
    ----------
    Golub, G. H., & Van Loan, C. F. (2013). *Matrix Computations* (4th ed.). Johns Hopkins.
    """
    Xo = X[observed]
    n = Xo.shape[0]
    R = np.linalg.qr(Xo, mode="r") if n else np.zeros((0, X.shape[1]))
    eps = np.finfo(float).eps
    keep = [0]
    for j in range(1, X.shape[1]):
        if np.nanstd(Xo[:, j]) == 0:
            continue
        cols = keep + [j]
        sv = np.linalg.svd(R[:, cols], compute_uv=False)
        if len(sv) == len(cols) and int((sv > sv.max() * max(n, len(cols)) * eps).sum()) == len(cols):
            keep.append(j)
    return X[:, keep], [names[j] for j in keep]


def _impute_group(X: np.ndarray, names: list[str], y: np.ndarray, base: np.ndarray, rules: PairingRules,
                  rng: np.random.Generator) -> dict[str, object]:
    """One group's imputations: ``X`` the full design (:func:`_design`), ``y`` endpoints (NaN = missing)."""
    obs = np.isfinite(y)
    n, n_obs = len(y), int(obs.sum())
    X, names = _drop_collinear(X, names, obs)
    p = X.shape[1]
    if n_obs < max(p + 3, _MIN_PARTICIPANTS):
        return {"mi_n": n, "mi_n_imputed": n - n_obs, "mi_note": f"not imputed: {n_obs} observed endpoints"}
    Xo, yo = X[obs], y[obs]
    xtx_inv = np.linalg.pinv(Xo.T @ Xo)
    beta_hat = xtx_inv @ Xo.T @ yo
    resid = yo - Xo @ beta_hat
    df_res = n_obs - p
    ssr = float(resid @ resid)
    chol = np.linalg.cholesky(xtx_inv + 1e-12 * np.eye(p))
    m = rules.mi_imputations
    est = np.empty(m)
    var = np.empty(m)
    mis = ~obs
    X_mis, n_mis = X[mis], int(mis.sum())
    for k in range(m):  # m is small (20); each draw is vectorised over participants
        sigma2 = ssr / rng.chisquare(df_res)
        beta = beta_hat + math.sqrt(sigma2) * (chol @ rng.standard_normal(p))
        yk = y.copy()
        yk[mis] = X_mis @ beta + math.sqrt(sigma2) * rng.standard_normal(n_mis)
        ch = yk - base
        est[k] = ch.mean()
        var[k] = ch.var(ddof=1) / n
    r = rubin_combine(est, var, n_complete_df=n - 1, level=rules.level)
    return {"mi_mean_change": r.estimate, "mi_se": r.se, "mi_ci_low": r.ci_low, "mi_ci_high": r.ci_high,
            "mi_df": r.df, "mi_n": n, "mi_n_imputed": n_mis, "mi_m": m, "mi_fmi": r.fmi,
            "mi_note": "predictors: " + ", ".join(names[1:])}


def group_generator(seed: int, key: Sequence[object]) -> np.random.Generator:
    """The random generator of one group's draws: from the rules' seed and the group's own key.

    ``numpy.random.default_rng([seed, h])`` with ``h`` the first 8 bytes of the
    BLAKE2b digest of the key's values as text (missing values as ``<NA>``),
    joined by the unit separator. A group's draws therefore depend on its key,
    not on its position among the groups analysed together.

    Parameters
    ----------
    seed
        ``PairingRules.seed``.
    key
        The group's values of the ``by`` columns, e.g. ``("P1", "epds")``.

    Returns
    -------
    numpy.random.Generator
    """
    text = "\x1f".join("<NA>" if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) else str(v)
                        for v in key)
    h = int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")
    return np.random.default_rng([int(seed), h])


@on_one_blas_thread
def multiple_imputation_change(
    episodes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "instrument"),
    rules: PairingRules | None = None,
) -> pd.DataFrame:
    """Mean change among engaged participants with a baseline, missing endpoints multiply imputed.

    Parameters
    ----------
    episodes
        Episodes (:func:`evalkit.episodes.build_episodes`), all of them.
    by
        Grouping columns (one imputation model per group).
    rules
        ``min_dose`` defines 'engaged' (:func:`evalkit.episodes.engaged_mask`);
        ``mi_imputations``, ``seed`` and ``level`` are used.

    Returns
    -------
    pandas.DataFrame
        One row per group with :data:`MI_COLUMNS`: ``mi_mean_change`` (Rubin's
        ``Q-bar``), ``mi_se``, ``mi_ci_low``, ``mi_ci_high``, ``mi_df``,
        ``mi_n`` (participants in the population), ``mi_n_imputed``,
        ``mi_m``, ``mi_fmi`` (fraction of missing information) and
        ``mi_note`` (the predictors used, or why nothing was imputed).

    Notes
    -----
    Population: episodes with a baseline score of participants who reached
    the minimum dose over the referral (:func:`evalkit.episodes.engaged_mask`) --
    the same 'engaged' denominator as data completeness. Observed outcome: the
    endpoint of paired episodes; the others are imputed.

    Imputation model (Bayesian linear regression, 'norm' in mice; Rubin 1987,
    pp. 166-167; van Buuren 2018, Algorithm 3.1), fitted to the observed
    endpoints: ``endpoint ~ baseline + attended contacts + ending
    (planned / moved on coping / stopped attending / other / ongoing) +
    prior mental health support + first-time mother + antenatal`` (missing
    context coded with indicators; constant or collinear predictors dropped).
    For each of ``m`` imputations: ``sigma*^2 = SSR / chi2(n_obs - p)``,
    ``beta* ~ N(beta_hat, sigma*^2 (X'X)^-1)`` and each missing endpoint is
    ``x' beta* + N(0, sigma*^2)`` -- proper draws, so the between-imputation
    variance reflects the uncertainty of the imputation model. The mean
    change and its variance ``s^2 / n`` in each completed data set are
    combined by :func:`rubin_combine`. Each group draws from its own generator,
    seeded by ``rules.seed`` and the group's key (:func:`group_generator`), so
    results are reproducible and a group's estimate does not depend on which
    other groups are in the analysis (a provider's view of one programme, or
    one questionnaire, gives the same figures as the whole network's).

    References
    ----------
    Rubin, D. B. (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
    Barnard, J., & Rubin, D. B. (1999). Small-sample degrees of freedom with
    multiple imputation. *Biometrika*, 86, 948-955.
    van Buuren, S. (2018). *Flexible Imputation of Missing Data* (2nd ed.),
    section 3.2. CRC Press.
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    # the columns the design, the endpoints and the groups need (not every episode column copied)
    optional = [c for c in ("prior_mh_support", "first_time_mother", "perinatal_stage") if c in episodes.columns]
    used = list(dict.fromkeys([*by, "baseline_score", "attended_total", "ending", "paired", "endpoint_score",
                               *optional]))
    pop = episodes.loc[episodes["baseline_score"].notna() & episodes["anchor_date"].notna()
                       & engaged_mask(episodes, rules.min_dose), used]
    # the design, endpoints and baselines once for everyone; groups are row ranges of one stable sort
    X_all, names = _design(pop)
    y_all = np.where(pop["paired"].to_numpy(dtype=bool), pop["endpoint_score"].to_numpy(dtype=float), np.nan)
    base_all = pop["baseline_score"].to_numpy(dtype=float)
    group = pop.groupby(by, sort=True, dropna=False).ngroup().to_numpy() if len(pop) else np.zeros(0, int)
    order = np.argsort(group, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(np.bincount(group))])
    key_frame = pop[by]
    rows = []
    for gi in range(len(bounds) - 1):
        idx = order[bounds[gi]:bounds[gi + 1]]
        key = key_frame.iloc[idx[0]].tolist()
        row: dict[str, object] = dict(zip(by, key, strict=True))
        row.update(_impute_group(X_all[idx], names, y_all[idx], base_all[idx], rules,
                                 group_generator(rules.seed, key)))
        rows.append(row)
    out = pd.DataFrame(rows)
    for c in MI_COLUMNS:
        if c not in out.columns:
            out[c] = np.nan
    out = out[[*by, *MI_COLUMNS]] if len(out) else pd.DataFrame(columns=[*by, *MI_COLUMNS])
    if len(out):
        out["mi_note"] = out["mi_note"].fillna("").astype("string")
    out.attrs["rules"] = rules.describe()
    return out
