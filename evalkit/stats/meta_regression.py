"""Mixed-effects meta-regression and subgroup analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ._rma import METHODS, RmaFit, fit_rma
from ._validation import ArrayLike, check_choice, check_level
from .meta_analysis import meta_analysis, prepare_yi_vi

__all__ = [
    "MetaRegressionResult",
    "SubgroupAnalysisResult",
    "design_matrix",
    "meta_regression",
    "subgroup_analysis",
]


def design_matrix(moderators: pd.DataFrame) -> pd.DataFrame:
    """Model matrix with an intercept and treatment (dummy) coding.

    Parameters
    ----------
    moderators : pandas.DataFrame
        One row per study.  Numeric columns enter as they are.  Columns of
        dtype object, string, category or bool are categorical: each level
        except the reference gets a 0/1 column named ``"{column}[{level}]"``.
        The reference level is the first category of a ``Categorical`` column
        (its declared order) and otherwise the first level in sorted order --
        the same as R's default ``contr.treatment`` used by metafor.

    Returns
    -------
    pandas.DataFrame
        Float columns ``"intercept"`` followed by the moderator terms, same
        index as ``moderators``.

    Examples
    --------
    >>> mods = pd.DataFrame({"dose": [1.0, 2.0, 3.0], "arm": ["b", "a", "b"]})
    >>> design_matrix(mods).columns.tolist()
    ['intercept', 'dose', 'arm[b]']
    """
    if not isinstance(moderators, pd.DataFrame):
        raise ValueError(f"moderators must be a pandas DataFrame; got {type(moderators).__name__}")
    if moderators.shape[1] == 0:
        raise ValueError("moderators must have at least one column; got none")
    if moderators.isna().any().any():
        bad = moderators.columns[moderators.isna().any()].tolist()
        raise ValueError(f"moderators must not contain missing values; missing in columns {bad}")
    parts: dict[str, np.ndarray] = {"intercept": np.ones(len(moderators))}
    for col in moderators.columns:
        s = moderators[col]
        name = str(col)
        if isinstance(s.dtype, pd.CategoricalDtype):
            levels = [lv for lv in s.cat.categories if (s == lv).any()]
        elif pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            levels = sorted(s.unique().tolist(), key=lambda x: (str(type(x)), x))
        else:
            parts[name] = s.to_numpy(dtype=float)
            continue
        if len(levels) < 2:
            raise ValueError(f"moderator {name!r} has a single level {levels!r}; it cannot be estimated")
        for lv in levels[1:]:
            parts[f"{name}[{lv}]"] = (s == lv).to_numpy(dtype=float)
    return pd.DataFrame(parts, index=moderators.index)


@dataclass(frozen=True, eq=False)
class MetaRegressionResult:
    """Result of :func:`meta_regression`.

    Attributes
    ----------
    coefficients : pandas.DataFrame
        One row per term with columns ``term``, ``estimate``, ``se``,
        ``zval`` (or ``tval`` under Knapp-Hartung), ``pval``, ``ci_low``,
        ``ci_high``.
    tau2 : float
        Residual between-study variance.
    tau2_se : float
        Its standard error (``"REML"``/``"ML"``; NaN otherwise).
    i2, h2 : float
        Residual I^2 (percent) and H^2.
    r2 : float
        Pseudo R^2 (percent): proportional reduction in tau^2 relative to the
        random-effects model without moderators, truncated at 0; NaN for
        ``"FE"`` or when that model's tau^2 is 0.
    qm, qm_df, qm_pvalue : float, int, float
        Omnibus test of all moderators (chi-square; F with
        ``(qm_df, qm_df2)`` df under Knapp-Hartung).
    qm_df2 : float
        Denominator df of the F test (NaN for the chi-square test).
    qe, qe_df, qe_pvalue : float, int, float
        Test for residual heterogeneity.
    k, p : int
        Number of studies and of coefficients.
    method : str
        tau^2 estimator.
    knha : bool
        Knapp-Hartung adjustment used.
    level : float
        Confidence level.
    loglik : float
        (Restricted) log-likelihood as metafor's ``logLik()``.
    vcov : pandas.DataFrame
        Variance-covariance matrix of the coefficients.
    """

    coefficients: pd.DataFrame
    tau2: float
    tau2_se: float
    i2: float
    h2: float
    r2: float
    qm: float
    qm_df: int
    qm_df2: float
    qm_pvalue: float
    qe: float
    qe_df: int
    qe_pvalue: float
    k: int
    p: int
    method: str
    knha: bool
    level: float
    loglik: float
    vcov: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """The coefficient table (same as ``coefficients``)."""
        return self.coefficients.copy()

    def wald_test(self, terms: list[str]) -> tuple[float, int, float, float]:
        """Wald test that the named coefficients are all zero.

        Parameters
        ----------
        terms : list of str
            Term names from ``coefficients["term"]``.

        Returns
        -------
        (statistic, df1, df2, pvalue)
            Chi-square statistic with ``df1`` df (``df2`` NaN), or under
            Knapp-Hartung the F statistic ``chi2 / df1`` on ``(df1, k - p)``
            df -- metafor's ``anova(res, btt=...)``.
        """
        names = self.coefficients["term"].tolist()
        missing = [t for t in terms if t not in names]
        if not terms or missing:
            raise ValueError(
                f"terms must be a non-empty list of terms from {names}; unknown: {missing or terms}"
            )
        b = self.coefficients.set_index("term").loc[terms, "estimate"].to_numpy()
        V = self.vcov.loc[terms, terms].to_numpy()
        chi2 = float(b @ np.linalg.solve(V, b))
        m = len(terms)
        if self.knha:
            f = chi2 / m
            df2 = float(self.k - self.p)
            return f, m, df2, float(stats.f.sf(f, m, df2))
        return chi2, m, math.nan, float(stats.chi2.sf(chi2, m))

    def linear_combination(self, weights: dict[str, float]) -> tuple[float, float, float, float]:
        """Estimate, SE, test statistic and p-value of ``sum(weights[t] * beta[t])``.

        Parameters
        ----------
        weights : dict
            Term name -> coefficient of the linear combination (missing terms 0).

        Returns
        -------
        (estimate, se, statistic, pvalue)
            z (or t with ``k - p`` df under Knapp-Hartung), as metafor's
            ``anova(res, X=...)``.
        """
        names = self.coefficients["term"].tolist()
        unknown = [t for t in weights if t not in names]
        if unknown:
            raise ValueError(f"weights must use terms from {names}; unknown: {unknown}")
        L = np.array([float(weights.get(t, 0.0)) for t in names])
        est = float(L @ self.coefficients["estimate"].to_numpy())
        se = float(math.sqrt(L @ self.vcov.to_numpy() @ L))
        stat = est / se
        if self.knha:
            pval = float(2 * stats.t.sf(abs(stat), self.k - self.p))
        else:
            pval = float(2 * stats.norm.sf(abs(stat)))
        return est, se, stat, pval

    def summary(self) -> str:
        """Readable report in the style of metafor's print method."""
        stat = "tval" if self.knha else "zval"
        head = "Mixed-Effects Model" if self.method != "FE" else "Fixed-Effects with Moderators Model"
        lines = [f"{head} (k = {self.k}; tau^2 estimator: {self.method})", ""]
        if self.method != "FE":
            lines += [
                f"tau^2 (estimated amount of residual heterogeneity): {self.tau2:.4f}",
                f"I^2 (residual heterogeneity / unaccounted variability): {self.i2:.2f}%",
                f"H^2 (unaccounted variability / sampling variability):   {self.h2:.2f}",
                "R^2 (amount of heterogeneity accounted for):            "
                + ("NA" if math.isnan(self.r2) else f"{self.r2:.2f}%"),
            ]
        lines += [
            "",
            f"Test for Residual Heterogeneity: QE(df = {self.qe_df}) = {self.qe:.4f}, "
            f"p-val = {self.qe_pvalue:.4g}",
        ]
        if self.knha:
            lines.append(
                f"Test of Moderators: F(df1 = {self.qm_df}, df2 = {self.qm_df2:g}) = {self.qm:.4f}, "
                f"p-val = {self.qm_pvalue:.4g}"
            )
        else:
            lines.append(
                f"Test of Moderators: QM(df = {self.qm_df}) = {self.qm:.4f}, p-val = {self.qm_pvalue:.4g}"
            )
        table = self.coefficients.set_index("term")[["estimate", "se", stat, "pval", "ci_low", "ci_high"]]
        lines += ["", table.to_string(float_format=lambda x: f"{x:.4f}")]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _result(fit: RmaFit, terms: list[str], r2: float) -> MetaRegressionResult:
    stat_name = "tval" if fit.knha else "zval"
    coef = pd.DataFrame(
        {
            "term": terms,
            "estimate": fit.beta,
            "se": fit.se,
            stat_name: fit.stat,
            "pval": fit.pval,
            "ci_low": fit.ci_low,
            "ci_high": fit.ci_high,
        }
    )
    return MetaRegressionResult(
        coefficients=coef,
        tau2=fit.tau2,
        tau2_se=fit.tau2_se,
        i2=fit.i2,
        h2=fit.h2,
        r2=r2,
        qm=fit.qm,
        qm_df=fit.qm_df,
        qm_df2=fit.qm_df2,
        qm_pvalue=fit.qm_pvalue,
        qe=fit.qe,
        qe_df=fit.qe_df,
        qe_pvalue=fit.qe_pvalue,
        k=fit.k,
        p=fit.p,
        method=fit.method,
        knha=fit.knha,
        level=fit.level,
        loglik=fit.loglik,
        vcov=pd.DataFrame(fit.vb, index=terms, columns=terms),
    )


def meta_regression(
    yi: ArrayLike,
    vi: ArrayLike,
    moderators: pd.DataFrame,
    method: str = "REML",
    knha: bool = False,
) -> MetaRegressionResult:
    """Mixed-effects meta-regression (metafor ``rma(yi, vi, mods = ...)``).

    Parameters
    ----------
    yi : array-like
        Effect sizes (no missing values).
    vi : array-like
        Sampling variances (> 0).
    moderators : pandas.DataFrame
        One row per study, in the order of ``yi``; coded by
        :func:`design_matrix` (intercept added; categorical columns
        dummy-coded against their first level).
    method : {"REML", "DL", "FE", "ML", "PM", "HE", "SJ"}, default "REML"
        Estimator of the residual tau^2 (``"FE"``: fixed-effects with
        moderators).
    knha : bool, default False
        Knapp-Hartung adjustment: t tests on ``k - p`` df and an F omnibus test.

    Returns
    -------
    MetaRegressionResult
        Coefficient table plus heterogeneity statistics; ``.to_frame()``
        returns the coefficient table, ``.summary()`` a readable report,
        ``.wald_test(terms)`` and ``.linear_combination(weights)`` further
        tests.  Confidence level is 0.95.

    Notes
    -----
    Weighted least squares with ``W = diag(1 / (v_i + tau^2))``:
    ``b = (X'WX)^{-1} X'Wy``, ``Var(b) = (X'WX)^{-1}`` (times
    ``s2 = sum(w e^2) / (k - p)`` under Knapp-Hartung).  Residual tau^2 by the
    chosen estimator with ``P = W - WX(X'WX)^{-1}X'W`` (Viechtbauer, 2005;
    DL generalised as ``(QE - (k - p)) / tr(P0)``).  ``QE = y'P0 y``,
    ``P0`` with ``W0 = diag(1 / v_i)``, on ``k - p`` df.
    ``QM = b_m' Var(b_m)^{-1} b_m`` over the non-intercept terms (chi-square on
    ``p - 1`` df; under knha ``F = QM / (p - 1)`` on ``(p - 1, k - p)`` df).
    Residual I^2 uses the typical variance ``(k - p) / tr(P0)`` (metafor).
    Pseudo R^2 ``= max(0, 100 (tau2_RE - tau2_ME) / tau2_RE)`` with
    ``tau2_RE`` from the model without moderators, same estimator
    (Raudenbush, 2009; López-López et al., 2014).

    Validated against metafor on the BCG data: ``mods = ~ ablat`` (REML; the
    likelihood-ratio statistic 8.2301 of metafor's ``test_misc_anova.r`` and
    ML log-likelihood -7.6857 of ``test_misc_fitstats.r``), and
    ``mods = ~ ablat + alloc`` (QM for ``alloc`` 1.2850, knha F 0.6007, and
    linear-combination z values, ``test_misc_anova.r``).

    References
    ----------
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor
    package. *Journal of Statistical Software*, 36(3), 1-48.
    Raudenbush, S. W. (2009). Analyzing effect sizes: Random-effects models.
    In H. Cooper et al. (Eds.), *The handbook of research synthesis and
    meta-analysis* (2nd ed., pp. 295-315).
    Knapp, G., & Hartung, J. (2003). Improved tests for a random effects
    meta-regression with a single covariate. *Statistics in Medicine*, 22,
    2693-2710.

    Examples
    --------
    >>> mods = pd.DataFrame({"dose": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]})
    >>> res = meta_regression([0.1, 0.3, 0.2, 0.5, 0.6, 0.55], [0.02] * 6, mods)
    >>> res.coefficients[["term", "estimate"]].round(4)
            term  estimate
    0  intercept    0.0300
    1       dose    0.0986
    >>> round(res.tau2, 4), res.qm_df
    (0.0, 1)
    """
    method = check_choice("method", method, METHODS)
    if not isinstance(knha, (bool, np.bool_)):
        raise ValueError(f"knha must be True or False; got {knha!r}")
    y, v = prepare_yi_vi(yi, vi)
    Xdf = design_matrix(moderators)
    if len(Xdf) != len(y):
        raise ValueError(f"moderators must have one row per study; got {len(Xdf)} rows for {len(y)} studies")
    X = Xdf.to_numpy(dtype=float)
    k, p = X.shape
    if np.linalg.matrix_rank(X) < p:
        raise ValueError(
            "moderators are collinear (the design matrix is rank deficient); drop redundant columns"
        )
    if k <= p and (method != "FE" or knha):
        raise ValueError(f"need more studies than coefficients for method={method!r}; got k={k}, p={p}")
    fit = fit_rma(y, v, X, method=method, knha=bool(knha), level=0.95)
    r2 = math.nan
    if method != "FE":
        tau2_re = fit_rma(y, v, np.ones((k, 1)), method=method, knha=False, level=0.95).tau2
        if tau2_re > 0:
            r2 = max(0.0, 100.0 * (tau2_re - fit.tau2) / tau2_re)
    return _result(fit, list(Xdf.columns), r2)


@dataclass(frozen=True, eq=False)
class SubgroupAnalysisResult:
    """Result of :func:`subgroup_analysis`.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per group: ``group``, ``k``, ``estimate``, ``se``,
        ``ci_low``, ``ci_high``, ``tau2``, ``i2`` (separate random-effects
        model within each group).
    q_between : float
        Test of subgroup differences: QM of the mixed-effects model with the
        group as moderator.
    q_between_df : int
        Its degrees of freedom (number of groups - 1).
    q_between_pvalue : float
        Chi-square p-value.
    tau2_residual : float
        The common residual tau^2 of that mixed-effects model.
    method : str
        tau^2 estimator.
    """

    table: pd.DataFrame
    q_between: float
    q_between_df: int
    q_between_pvalue: float
    tau2_residual: float
    method: str

    def to_frame(self) -> pd.DataFrame:
        """The per-group table."""
        return self.table.copy()


def subgroup_analysis(
    yi: ArrayLike,
    vi: ArrayLike,
    groups: ArrayLike,
    method: str = "REML",
    level: float = 0.95,
) -> SubgroupAnalysisResult:
    """Per-group meta-analyses and a test of subgroup differences.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes and sampling variances.
    groups : array-like
        Group label of each study (no missing values; at least 2 groups).
    method : str, default "REML"
        tau^2 estimator, as in :func:`meta_analysis`.
    level : float, default 0.95
        Confidence level of the per-group intervals.

    Returns
    -------
    SubgroupAnalysisResult
        ``table`` with one row per group (in sorted order of the labels, or
        category order for a Categorical) and the between-group test.

    Notes
    -----
    Within each group a separate model is fitted with the chosen estimator
    (groups with a single study get its own estimate and standard error,
    ``tau2`` and ``i2`` NaN).  The test of subgroup differences is the
    omnibus QM of the mixed-effects meta-regression with the group as a
    categorical moderator and one common residual tau^2 estimated by the
    same method -- metafor's ``rma(yi, vi, mods = ~ group)`` (Viechtbauer,
    2010; Borenstein et al., 2009, ch. 19, "pooled tau^2" option).  With
    ``method="FE"`` it is the classical ``Q_between = Q_total - sum(Q_within)``.

    References
    ----------
    Borenstein, M., Hedges, L. V., Higgins, J. P. T., & Rothstein, H. R.
    (2009). *Introduction to meta-analysis*. Wiley. Chapter 19.
    Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor
    package. *Journal of Statistical Software*, 36(3), 1-48.

    Examples
    --------
    >>> res = subgroup_analysis([0.1, 0.2, 0.15, 0.6, 0.7, 0.65], [0.01] * 6, list("aaabbb"), method="FE")
    >>> res.table[["group", "k", "estimate"]].round(3)
      group  k  estimate
    0     a  3      0.15
    1     b  3      0.65
    >>> round(res.q_between, 2), res.q_between_df
    (37.5, 1)
    """
    method = check_choice("method", method, METHODS)
    lvl = check_level("level", level)
    y, v = prepare_yi_vi(yi, vi)
    g = pd.Series(groups) if not isinstance(groups, pd.Series) else groups.reset_index(drop=True)
    if len(g) != len(y):
        raise ValueError(f"groups must have one label per study; got {len(g)} labels for {len(y)} studies")
    if g.isna().any():
        raise ValueError("groups must not contain missing labels")
    if isinstance(g.dtype, pd.CategoricalDtype):
        levels = [lv for lv in g.cat.categories if (g == lv).any()]
        g_mod = g.cat.set_categories(levels)
    else:
        g = g.astype(object)
        levels = sorted(g.unique().tolist(), key=lambda x: (str(type(x)), x))
        g_mod = pd.Categorical(g, categories=levels)
    if len(levels) < 2:
        raise ValueError(f"groups must contain at least 2 distinct labels; got {levels}")

    rows = []
    for lv in levels:
        mask = (g == lv).to_numpy()
        kg = int(mask.sum())
        if kg == 1:
            se1 = math.sqrt(float(v[mask][0]))
            z = float(stats.norm.ppf(1 - (1 - lvl) / 2))
            est = float(y[mask][0])
            rows.append(
                {
                    "group": lv,
                    "k": 1,
                    "estimate": est,
                    "se": se1,
                    "ci_low": est - z * se1,
                    "ci_high": est + z * se1,
                    "tau2": math.nan,
                    "i2": math.nan,
                }
            )
            continue
        res = meta_analysis(y[mask], v[mask], method=method, level=lvl)
        rows.append(
            {
                "group": lv,
                "k": kg,
                "estimate": res.estimate,
                "se": res.se,
                "ci_low": res.ci_low,
                "ci_high": res.ci_high,
                "tau2": res.tau2,
                "i2": res.i2,
            }
        )
    table = pd.DataFrame(rows)

    mods = pd.DataFrame({"group": pd.Categorical(g_mod, categories=levels)})
    reg = meta_regression(y, v, mods, method=method)
    return SubgroupAnalysisResult(
        table=table,
        q_between=reg.qm,
        q_between_df=reg.qm_df,
        q_between_pvalue=reg.qm_pvalue,
        tau2_residual=reg.tau2,
        method=method,
    )
