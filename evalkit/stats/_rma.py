"""Weighted least squares engine for fixed-, random- and mixed-effects models.

This is a re-implementation of the univariate model fitted by metafor's
``rma.uni()`` (Viechtbauer, 2010):

    y_i = x_i' beta + u_i + e_i,   u_i ~ N(0, tau^2),   e_i ~ N(0, v_i)

with ``v_i`` known.  It is shared by :func:`evalkit.stats.meta_analysis`
(intercept only) and :func:`evalkit.stats.meta_regression`.

All formulas follow Viechtbauer (2005, 2010) and the metafor source; the
matrix ``P = W - W X (X' W X)^{-1} X' W`` with ``W = diag(1 / (v_i + tau^2))``
appears throughout.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

METHODS: tuple[str, ...] = ("FE", "DL", "REML", "ML", "PM", "HE", "SJ")

#: Fisher scoring stops when tau^2 changes by less than this between steps.
#: 1e-5 and at most 100 steps are metafor's defaults (``control=list(threshold,
#: maxiter)``); using the same start (HE) and stopping rule makes the reported
#: tau^2 identical to metafor's.  In slowly converging fits the result can sit
#: ~1e-5 from the exact maximiser (BCG data with ``mods = ~ ablat``: 0.07636
#: reported by metafor and here, exact REML maximiser 0.07634).
_THRESHOLD = 1e-5
_MAXITER = 100


class ConvergenceError(RuntimeError):
    """Raised when an iterative tau^2 estimator does not converge."""


@dataclass(frozen=True)
class RmaFit:
    """Internal result of :func:`fit_rma` (all arrays indexed like ``X``)."""

    beta: np.ndarray
    vb: np.ndarray
    se: np.ndarray
    stat: np.ndarray
    pval: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    crit: float
    df: float  # inf for z tests
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    qe: float
    qe_df: int
    qe_pvalue: float
    qm: float
    qm_df: int
    qm_df2: float
    qm_pvalue: float
    k: int
    p: int
    method: str
    knha: bool
    level: float
    weights: np.ndarray  # percent
    loglik: float
    iterations: int
    s2_knha: float


@dataclass(frozen=True)
class _PStats:
    """Quantities of ``P = W - W X (X'WX)^{-1} X'W`` used by the estimators."""

    Py: np.ndarray
    yPy: float
    trP: float
    trPP: float


def _p_stats(X: np.ndarray, w: np.ndarray, y: np.ndarray) -> _PStats:
    """``Py``, ``y'Py``, ``tr(P)`` and ``tr(PP)`` for diagonal ``W = diag(w)``.

    Computed in O(k p^2) without forming the k x k matrix ``P``:
    ``Py = W (y - X b)``, ``tr(P) = sum(w) - tr(A B)`` and
    ``tr(PP) = sum(w^2) - 2 tr(A C) + tr(A B A B)`` with ``A = (X'WX)^{-1}``,
    ``B = X'W^2X``, ``C = X'W^3X``.
    """
    WX = X * w[:, None]
    A = np.linalg.inv(X.T @ WX)
    b = A @ (WX.T @ y)
    Py = w * (y - X @ b)
    B = WX.T @ WX
    C = WX.T @ (WX * w[:, None])
    AB = A @ B
    return _PStats(
        Py=Py,
        yPy=float(y @ Py),
        trP=float(np.sum(w) - np.trace(AB)),
        trPP=float(np.sum(w * w) - 2.0 * np.trace(A @ C) + np.trace(AB @ AB)),
    )


def _q_gen(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float) -> float:
    """Generalised Q statistic ``y' P(tau2) y``."""
    return _p_stats(X, 1.0 / (v + tau2), y).yPy


def _tau2_dl(y: np.ndarray, v: np.ndarray, X: np.ndarray, k: int, p: int) -> float:
    ps = _p_stats(X, 1.0 / v, y)
    return max(0.0, (ps.yPy - (k - p)) / ps.trP)


def _tau2_he(y: np.ndarray, v: np.ndarray, X: np.ndarray, k: int, p: int) -> float:
    # Hedges (1983) / metafor "HE": unweighted OLS residuals;
    # tr((I - H) V) = sum(v) - tr((X'X)^{-1} X'VX)
    xtx_inv = np.linalg.inv(X.T @ X)
    resid = y - X @ (xtx_inv @ (X.T @ y))
    rss = float(resid @ resid)
    tr_pv = float(np.sum(v) - np.trace(xtx_inv @ (X.T @ (X * v[:, None]))))
    return max(0.0, (rss - tr_pv) / (k - p))


def _tau2_sj(y: np.ndarray, v: np.ndarray, X: np.ndarray, k: int, p: int) -> float:
    # Sidik & Jonkman (2005): start from the OLS residual variance (divisor k)
    resid = y - X @ np.linalg.solve(X.T @ X, X.T @ y)
    tau2_0 = float(np.var(resid, ddof=1)) * (k - 1) / k
    if tau2_0 <= 0:
        return 0.0
    return tau2_0 * _p_stats(X, 1.0 / (v + tau2_0), y).yPy / (k - p)


def _tau2_pm(y: np.ndarray, v: np.ndarray, X: np.ndarray, k: int, p: int) -> float:
    # Paule & Mandel (1982): solve Q_gen(tau2) = k - p
    target = k - p
    if _q_gen(y, v, X, 0.0) <= target:
        return 0.0
    hi = max(1.0, float(np.var(y, ddof=1)))
    for _ in range(200):
        if _q_gen(y, v, X, hi) < target:
            break
        hi *= 2.0
    else:  # pragma: no cover - Q_gen -> 0 as tau2 -> inf
        raise ConvergenceError("Paule-Mandel estimator: could not bracket the root")
    return float(optimize.brentq(lambda t: _q_gen(y, v, X, t) - target, 0.0, hi, xtol=1e-12, maxiter=500))


def _loglik(y: np.ndarray, v: np.ndarray, X: np.ndarray, tau2: float, reml: bool) -> float:
    """Log-likelihood as metafor's ``logLik()`` (REML version includes ``log|X'X|``)."""
    k, p = X.shape
    w = 1.0 / (v + tau2)
    WX = X * w[:, None]
    xtwx = X.T @ WX
    b = np.linalg.solve(xtwx, WX.T @ y)
    rss = float(np.sum(w * (y - X @ b) ** 2))
    if not reml:
        return -0.5 * k * math.log(2 * math.pi) - 0.5 * float(np.sum(np.log(v + tau2))) - 0.5 * rss
    return (
        -0.5 * (k - p) * math.log(2 * math.pi)
        + 0.5 * float(np.linalg.slogdet(X.T @ X)[1])
        - 0.5 * float(np.sum(np.log(v + tau2)))
        - 0.5 * float(np.linalg.slogdet(xtwx)[1])
        - 0.5 * rss
    )


def _tau2_fisher(
    y: np.ndarray, v: np.ndarray, X: np.ndarray, k: int, p: int, reml: bool
) -> tuple[float, int]:
    """ML / REML estimate of tau^2 by Fisher scoring, as in metafor.

    Step: ``tau2 += (y'PPy - tr(P)) / tr(PP)`` (REML) or
    ``tau2 += (y'PPy - tr(W)) / tr(WW)`` (ML), with step halving whenever
    the step would make tau2 negative (Viechtbauer, 2005).  Started from the
    Hedges (HE) estimate and stopped when the change is below ``_THRESHOLD``
    -- metafor's algorithm and defaults.  If Fisher scoring does not converge, the
    log-likelihood is maximised directly over ``[0, upper]`` (bounded Brent);
    if that also fails a :class:`ConvergenceError` is raised.
    """
    tau2 = _tau2_he(y, v, X, k, p)
    for it in range(1, _MAXITER + 1):
        w = 1.0 / (v + tau2)
        ps = _p_stats(X, w, y)
        if reml:
            adj = (float(ps.Py @ ps.Py) - ps.trP) / ps.trPP
        else:
            adj = (float(ps.Py @ ps.Py) - float(np.sum(w))) / float(np.sum(w * w))
        while tau2 + adj < 0.0:
            adj /= 2.0
            if abs(adj) < 1e-300:  # pragma: no cover
                adj = -tau2
                break
        tau2 += adj
        if abs(adj) < _THRESHOLD:
            return max(0.0, tau2), it

    # fall back to direct maximisation of the (restricted) log-likelihood
    upper = max(10.0 * float(np.var(y, ddof=1)), 10.0 * float(np.max(v)), 1.0)
    res = optimize.minimize_scalar(
        lambda t: -_loglik(y, v, X, t, reml),
        bounds=(0.0, upper),
        method="bounded",
        options={"xatol": 1e-12, "maxiter": 2000},
    )
    if not res.success or res.x >= upper * (1 - 1e-9):
        raise ConvergenceError(
            f"{'REML' if reml else 'ML'} estimation of tau^2 did not converge (Fisher scoring for "
            f"{_MAXITER} iterations, then bounded optimisation); try method='DL' or 'PM'"
        )
    return float(res.x), _MAXITER + int(res.nfev)


def fit_rma(
    y: np.ndarray,
    v: np.ndarray,
    X: np.ndarray,
    *,
    method: str,
    knha: bool,
    level: float,
    has_intercept: bool = True,
) -> RmaFit:
    """Fit the model; ``y`` and ``v`` 1-D (no missing values), ``X`` k x p."""
    k, p = X.shape
    if method == "FE":
        tau2, iters = 0.0, 0
    elif k - p < 1:
        raise ValueError(
            f"method={method!r} needs more studies than coefficients (k={k}, p={p}); "
            "use method='FE' or add studies"
        )
    elif method == "DL":
        tau2, iters = _tau2_dl(y, v, X, k, p), 0
    elif method == "HE":
        tau2, iters = _tau2_he(y, v, X, k, p), 0
    elif method == "SJ":
        tau2, iters = _tau2_sj(y, v, X, k, p), 0
    elif method == "PM":
        tau2, iters = _tau2_pm(y, v, X, k, p), 0
    elif method in ("REML", "ML"):
        tau2, iters = _tau2_fisher(y, v, X, k, p, reml=method == "REML")
    else:  # pragma: no cover - checked by the callers
        raise ValueError(f"unknown method {method!r}")
    if knha and k - p < 1:
        raise ValueError(f"knha=True needs more studies than coefficients (k={k}, p={p})")

    # heterogeneity from the fixed-effect fit
    p0 = _p_stats(X, 1.0 / v, y)
    qe = p0.yPy
    qe_df = k - p
    qe_pvalue = float(stats.chi2.sf(qe, qe_df)) if qe_df > 0 else math.nan
    if method == "FE":
        i2 = max(0.0, 100.0 * (qe - qe_df) / qe) if qe_df > 0 and qe > 0 else math.nan
        h2 = qe / qe_df if qe_df > 0 else math.nan
    else:
        vt = qe_df / p0.trP  # "typical" within-study variance
        i2 = 100.0 * tau2 / (vt + tau2)
        h2 = (vt + tau2) / vt

    w = 1.0 / (v + tau2)
    WX = X * w[:, None]
    xtwx = X.T @ WX
    vb = np.linalg.inv(xtwx)
    vb = (vb + vb.T) / 2.0
    beta = vb @ (WX.T @ y)
    resid = y - X @ beta
    s2 = float(np.sum(w * resid**2)) / (k - p) if k > p else math.nan
    if knha:
        vb = s2 * vb
        df = float(k - p)
        crit = float(stats.t.ppf(1.0 - (1.0 - level) / 2.0, df))
    else:
        df = math.inf
        crit = float(stats.norm.ppf(1.0 - (1.0 - level) / 2.0))
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    pval = 2.0 * (stats.t.sf(np.abs(stat), df) if knha else stats.norm.sf(np.abs(stat)))

    # omnibus test of all coefficients except the intercept
    btt = (
        np.arange(1, p)
        if (has_intercept and p > 1)
        else (np.arange(p) if not has_intercept else np.array([], int))
    )
    if len(btt):
        bb = beta[btt]
        qm = float(bb @ np.linalg.solve(vb[np.ix_(btt, btt)], bb))
        qm_df = len(btt)
        if knha:
            qm = qm / qm_df
            qm_df2 = float(k - p)
            qm_pvalue = float(stats.f.sf(qm, qm_df, qm_df2))
        else:
            qm_df2 = math.nan
            qm_pvalue = float(stats.chi2.sf(qm, qm_df))
    else:
        qm, qm_df, qm_df2, qm_pvalue = math.nan, 0, math.nan, math.nan

    if method == "REML":
        tau2_se = math.sqrt(2.0 / _p_stats(X, w, y).trPP)
    elif method == "ML":
        tau2_se = math.sqrt(2.0 / float(np.sum(w * w)))
    else:
        tau2_se = math.nan

    return RmaFit(
        beta=beta,
        vb=vb,
        se=se,
        stat=stat,
        pval=pval,
        ci_low=beta - crit * se,
        ci_high=beta + crit * se,
        crit=crit,
        df=df,
        tau2=float(tau2),
        tau2_se=tau2_se,
        i2=float(i2),
        h2=float(h2),
        qe=qe,
        qe_df=qe_df,
        qe_pvalue=qe_pvalue,
        qm=qm,
        qm_df=qm_df,
        qm_df2=qm_df2,
        qm_pvalue=qm_pvalue,
        k=k,
        p=p,
        method=method,
        knha=knha,
        level=level,
        weights=100.0 * w / float(np.sum(w)),
        loglik=_loglik(y, v, X, tau2, reml=method == "REML"),
        iterations=iters,
        s2_knha=s2,
    )
