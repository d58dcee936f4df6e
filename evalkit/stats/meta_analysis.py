"""Fixed- and random-effects meta-analysis of study effect sizes."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ._rma import METHODS, ConvergenceError, fit_rma
from ._validation import ArrayLike, as_float_array, check_choice, check_level

__all__ = ["ConvergenceError", "METHODS", "MetaAnalysisResult", "meta_analysis", "prepare_yi_vi"]


def prepare_yi_vi(yi: ArrayLike, vi: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validate effect sizes and sampling variances (no missing values, vi > 0)."""
    y = as_float_array("yi", yi, allow_nan=False)
    v = as_float_array("vi", vi, allow_nan=False)
    if len(y) != len(v):
        raise ValueError(f"yi and vi must have the same length; yi has {len(y)}, vi has {len(v)}")
    if len(y) == 0:
        raise ValueError("yi and vi must contain at least one study; got none")
    if (v <= 0).any():
        where = np.flatnonzero(v <= 0)[:5].tolist()
        raise ValueError(f"vi must be > 0 (sampling variances); got non-positive values at positions {where}")
    return y, v


def _fmt(x: float, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "NA"
    return f"{x:.{digits}f}"


def _fmt_p(p: float) -> str:
    if math.isnan(p):
        return "NA"
    return "<.0001" if p < 1e-4 else f"{p:.4f}"


@dataclass(frozen=True)
class MetaAnalysisResult:
    """Result of :func:`meta_analysis`.

    Attributes
    ----------
    estimate : float
        Pooled effect (inverse-variance weighted mean).
    se : float
        Its standard error (Knapp-Hartung adjusted when ``knha``).
    ci_low, ci_high : float
        Confidence interval for the pooled effect.
    pi_low, pi_high : float
        Prediction interval for the true effect in a new study
        (equals the CI for ``method="FE"``).
    tau2 : float
        Between-study variance (0 for ``"FE"``; never negative).
    tau2_se : float
        Standard error of ``tau2`` from the Fisher information (``"REML"`` and
        ``"ML"`` only; NaN otherwise).
    i2 : float
        I^2 in percent.
    h2 : float
        H^2.
    q, q_df, q_pvalue : float, int, float
        Cochran's Q test of heterogeneity.
    k : int
        Number of studies.
    method : str
        tau^2 estimator.
    knha : bool
        Whether the Knapp-Hartung adjustment was used.
    weights : numpy.ndarray
        Study weights in percent (sum to 100), in input order.
    level : float
        Confidence level of the intervals.
    zval : float
        Test statistic (z, or t with ``k - 1`` df under ``knha``).
    pval : float
        Two-sided p-value for ``estimate = 0``.
    df : float
        Degrees of freedom of the test (``inf`` for z).
    loglik : float
        Log-likelihood (restricted for ``"REML"``), as metafor's ``logLik()``.
    iterations : int
        Fisher-scoring iterations (``"REML"``/``"ML"``; 0 otherwise).
    """

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    pi_low: float
    pi_high: float
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    q: float
    q_df: int
    q_pvalue: float
    k: int
    method: str
    knha: bool
    weights: np.ndarray = field(repr=False, compare=False)
    level: float = 0.95
    zval: float = math.nan
    pval: float = math.nan
    df: float = math.inf
    loglik: float = math.nan
    iterations: int = 0

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame of all scalar attributes (weights excluded)."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "weights"}
        return pd.DataFrame([row])

    def summary(self) -> str:
        """Readable multi-line summary in the style of metafor's print method."""
        model = "Fixed-Effect Model" if self.method == "FE" else "Random-Effects Model"
        est = "" if self.method == "FE" else f"; tau^2 estimator: {self.method}"
        test = f"t(df = {int(self.df)})" if self.knha else "z"
        pct = f"{100 * self.level:g}%"
        lines = [f"{model} (k = {self.k}{est})", ""]
        if self.method != "FE":
            tau2 = _fmt(self.tau2)
            if not math.isnan(self.tau2_se):
                tau2 += f" (SE = {_fmt(self.tau2_se)})"
            lines += [
                f"tau^2 (estimated amount of total heterogeneity): {tau2}",
                f"tau (square root of estimated tau^2 value):      {_fmt(math.sqrt(self.tau2))}",
            ]
        lines += [
            f"I^2 (total heterogeneity / total variability):   {_fmt(self.i2, 2)}%",
            f"H^2 (total variability / sampling variability):  {_fmt(self.h2, 2)}",
            "",
            f"Test for Heterogeneity: Q(df = {self.q_df}) = {_fmt(self.q)}, p-val {_fmt_p(self.q_pvalue)}",
            "",
            f"estimate = {_fmt(self.estimate)}, se = {_fmt(self.se)}, {test} = {_fmt(self.zval)}, "
            f"p-val {_fmt_p(self.pval)}",
            f"{pct} CI: {_fmt(self.ci_low)} to {_fmt(self.ci_high)}",
            f"{pct} prediction interval: {_fmt(self.pi_low)} to {_fmt(self.pi_high)}",
        ]
        if self.knha:
            lines.append("(Knapp-Hartung adjustment: t-distribution with k - 1 df)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def meta_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    method: str = "REML",
    knha: bool = False,
    level: float = 0.95,
) -> MetaAnalysisResult:
    """Inverse-variance fixed- or random-effects meta-analysis.

    Parameters
    ----------
    yi : array-like
        Effect sizes, one per study (no missing values).
    vi : array-like
        Their sampling variances (> 0).
    method : {"REML", "DL", "FE", "ML", "PM", "HE", "SJ"}, default "REML"
        ``"FE"`` fixed (common) effect; otherwise the tau^2 estimator:
        restricted maximum likelihood, DerSimonian-Laird, maximum likelihood,
        Paule-Mandel, Hedges, or Sidik-Jonkman.
    knha : bool, default False
        Knapp-Hartung adjustment of the standard error with a t distribution
        on ``k - 1`` df.
    level : float, default 0.95
        Confidence level for the CI and the prediction interval.

    Returns
    -------
    MetaAnalysisResult
        Frozen dataclass; see its attributes.  ``.to_frame()`` gives one row,
        ``.summary()`` / ``str()`` a readable report.

    Raises
    ------
    ValueError
        For invalid arguments, or ``k < 2`` with a random-effects method or
        ``knha``.
    ConvergenceError
        If the REML/ML iterations fail (practically never: Fisher scoring is
        followed by a bounded one-dimensional optimiser before giving up).

    Notes
    -----
    Weights ``w_i = 1 / (v_i + tau^2)``; ``estimate = sum(w y) / sum(w)``,
    ``se = 1 / sqrt(sum(w))`` (Hedges & Vevea, 1998).  tau^2 estimators as in
    metafor's ``rma.uni()`` (Viechtbauer, 2005, 2010), all truncated at 0:

    * DL: ``(Q - (k - 1)) / (sum(w0) - sum(w0^2) / sum(w0))``, ``w0 = 1 / v``
      (DerSimonian & Laird, 1986);
    * REML / ML: Fisher scoring, ``tau2 += (y'PPy - tr(P)) / tr(PP)`` (REML)
      with step halving to stay >= 0, started from the HE estimate, iterated
      until tau^2 changes by < 1e-5 (at most 100 steps) -- metafor's start and
      stopping rule, so the estimate equals metafor's to the printed digits
      (it may differ from the exact maximiser by ~1e-5); ``tau2_se`` is
      ``sqrt(2 / tr(PP))`` (REML) or ``sqrt(2 / sum(w^2))`` (ML);
    * PM: root of the generalised Q, ``Q(tau2) = k - 1`` (Paule & Mandel, 1982);
    * HE, SJ: Hedges (1983), Sidik & Jonkman (2005).

    ``Q = sum(w0 (y - y_FE)^2)`` on ``k - 1`` df.  I^2 and H^2 are metafor's:
    with the "typical" within-study variance
    ``s^2 = (k - 1) sum(w0) / ((sum w0)^2 - sum(w0^2))``,
    ``I^2 = 100 tau^2 / (tau^2 + s^2)`` and ``H^2 = (tau^2 + s^2) / s^2``
    (Higgins & Thompson, 2002); for ``"FE"`` they are the Q-based
    ``100 (Q - df) / Q`` (truncated at 0) and ``Q / df``.

    Knapp-Hartung (Knapp & Hartung, 2003; metafor ``test="knha"``): the
    variance is multiplied by ``s2 = sum(w (y - estimate)^2) / (k - 1)`` --
    *not* truncated at 1 -- and t(k - 1) quantiles are used.  The prediction
    interval is ``estimate +/- crit * sqrt(se^2 + tau^2)``, crit from z or,
    under knha, t(k - 1), as metafor's ``predict()``.

    Validated against metafor on the BCG vaccine data (Colditz et al., 1994):
    FE, DL (metafor ``test_misc_metan_vs_rma.uni_with_dat.bcg.r``,
    ``test_misc_confint.r``), REML (metafor's printed output), ML
    log-likelihood (``test_misc_fitstats.r``), and REML on the Morris (2008)
    data (``test_misc_rma_uni.r``); Knapp-Hartung against
    ``statsmodels.stats.meta_analysis.combine_effects``.  See
    ``tests/stats/test_stats_meta_analysis.py``.

    References
    ----------
    DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials.
    *Controlled Clinical Trials*, 7, 177-188.
    Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in
    a meta-analysis. *Statistics in Medicine*, 21, 1539-1558.
    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
    meta-regression with a single covariate. *Statistics in Medicine*, 22,
    2693-2710.
    Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance
    estimators in the random-effects model. *Journal of Educational and
    Behavioral Statistics*, 30, 261-293.
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor
    package. *Journal of Statistical Software*, 36(3), 1-48.

    Examples
    --------
    >>> res = meta_analysis([-0.9, -1.6, -1.4, -0.2, -0.5], [0.36, 0.21, 0.43, 0.05, 0.02])
    >>> round(res.estimate, 4), round(res.tau2, 4), round(res.i2, 2)
    (-0.7614, 0.2195, 70.29)
    >>> res.weights.round(1).tolist()
    [12.8, 17.3, 11.4, 27.5, 31.0]
    >>> round(meta_analysis([0.1, 0.2, 0.15], [0.04, 0.05, 0.03], method="DL").tau2, 4)
    0.0
    """
    method = check_choice("method", method, METHODS)
    if not isinstance(knha, (bool, np.bool_)):
        raise ValueError(f"knha must be True or False; got {knha!r}")
    lvl = check_level("level", level)
    y, v = prepare_yi_vi(yi, vi)
    k = len(y)
    if k < 2 and (method != "FE" or knha):
        raise ValueError(
            f"yi must contain at least 2 studies for method={method!r}"
            f"{' with knha=True' if knha else ''}; got {k}"
        )
    fit = fit_rma(y, v, np.ones((k, 1)), method=method, knha=bool(knha), level=lvl)
    est = float(fit.beta[0])
    se = float(fit.se[0])
    half_pi = fit.crit * math.sqrt(se**2 + fit.tau2)
    return MetaAnalysisResult(
        estimate=est,
        se=se,
        ci_low=float(fit.ci_low[0]),
        ci_high=float(fit.ci_high[0]),
        pi_low=est - half_pi,
        pi_high=est + half_pi,
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        q=fit.qe,
        q_df=fit.qe_df,
        q_pvalue=fit.qe_pvalue,
        k=k,
        method=method,
        knha=bool(knha),
        weights=fit.weights,
        level=lvl,
        zval=float(fit.stat[0]),
        pval=float(fit.pval[0]),
        df=fit.df,
        loglik=fit.loglik,
        iterations=fit.iterations,
    )
