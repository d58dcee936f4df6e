"""Funnel plots for comparing units (peer-support groups, sites, areas).

Control limits around a target for proportions (Spiegelhalter, 2005) and for a
continuous indicator with a known SD, flags for units outside the limits, and
the estimation of over-dispersion.  Column names are built from the levels as
``f"lower_{level:g}"`` / ``f"upper_{level:g}"`` (e.g. ``lower_0.95``,
``upper_0.998``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ._validation import (
    ArrayLike,
    as_float_array,
    check_choice,
    check_levels,
    check_positive_number,
    same_length,
)

__all__ = [
    "Overdispersion",
    "estimate_overdispersion",
    "funnel_flags",
    "funnel_limits",
    "funnel_limits_continuous",
]


@dataclass(frozen=True)
class Overdispersion:
    """Over-dispersion estimated from unit z-scores (Spiegelhalter, 2005).

    Attributes
    ----------
    phi : float
        Multiplicative over-dispersion factor, mean of the squared
        (winsorised) z-scores.
    tau2 : float
        Additive between-unit variance (random-effects), truncated at 0.
    model : str
        ``"multiplicative"`` (use ``phi``) or ``"additive"`` (use ``tau2``)
        when this object is passed as ``overdispersion=`` to the funnel
        functions.
    k : int
        Number of units.
    statistic : float
        ``k * phi``, approximately chi-square on ``k - 1`` df without
        over-dispersion.
    p_value : float
        Upper-tail chi-square p-value of ``statistic``.
    winsorize : float
        Fraction winsorised at each end of the z-scores.
    """

    phi: float
    tau2: float
    model: str
    k: int
    statistic: float
    p_value: float
    winsorize: float

    def to_frame(self) -> pd.DataFrame:
        """One-row DataFrame with one column per attribute."""
        return pd.DataFrame([asdict(self)])


def _level_names(levels: tuple[float, ...]) -> list[tuple[float, str, str]]:
    return [(lv, f"lower_{lv:g}", f"upper_{lv:g}") for lv in levels]


def _z(level: float) -> float:
    return float(stats.norm.ppf(1.0 - (1.0 - level) / 2.0))


def _check_target_proportion(target: object) -> float:
    try:
        t = float(target)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        t = math.nan
    if not 0.0 < t < 1.0:
        raise ValueError(f"target must be a proportion strictly between 0 and 1; got {target!r}")
    return t


def _od_parts(overdispersion: object) -> tuple[float, float]:
    """(phi, tau2) to apply; (1, 0) when there is no over-dispersion."""
    if overdispersion is None:
        return 1.0, 0.0
    if isinstance(overdispersion, Overdispersion):
        if overdispersion.model == "additive":
            return 1.0, overdispersion.tau2
        return overdispersion.phi, 0.0
    if isinstance(overdispersion, (bool, np.bool_)):
        raise ValueError(
            f"overdispersion must be None, a number phi > 0 or an Overdispersion; got {overdispersion!r}"
        )
    try:
        phi = float(overdispersion)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        phi = math.nan
    if not (math.isfinite(phi) and phi > 0):
        raise ValueError(
            f"overdispersion must be None, a number phi > 0 (multiplicative) or an Overdispersion from "
            f"estimate_overdispersion(); got {overdispersion!r}"
        )
    return phi, 0.0


def _exact_binomial_limit(target: float, n: np.ndarray, p: float) -> np.ndarray:
    """Spiegelhalter (2005, Appendix A.1.1) interpolated binomial quantile / n."""
    r = stats.binom.ppf(p, n, target)
    f_r = stats.binom.cdf(r, n, target)
    f_rm1 = stats.binom.cdf(r - 1, n, target)
    alpha = (f_r - p) / (f_r - f_rm1)
    return (r - alpha) / n


def funnel_limits(
    target: float,
    n: float | ArrayLike,
    levels: tuple[float, ...] = (0.95, 0.998),
    method: str = "exact",
    overdispersion: float | Overdispersion | None = None,
) -> pd.DataFrame:
    """Funnel-plot control limits for a proportion, one row per sample size.

    Parameters
    ----------
    target : float
        Target proportion, strictly between 0 and 1 (e.g. the pooled rate
        ``sum(x) / sum(n)`` or a standard).
    n : int or array-like
        Sample sizes (denominators) at which to compute the limits (> 0;
        whole numbers for ``method="exact"``).
    levels : tuple of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits (0.998 is Spiegelhalter's
        "3 sigma").
    method : {"exact", "normal"}, default "exact"
        ``"exact"``: interpolated binomial limits (Spiegelhalter, 2005,
        Appendix A.1.1).  ``"normal"``: ``target +/- z sqrt(target (1 -
        target) / n)``, clipped to [0, 1] (this is also the method of the
        UKHSA/PHE PHEindicatormethods package).
    overdispersion : None, float or Overdispersion, optional
        Over-dispersion to allow for (requires ``method="normal"``): a number
        is a multiplicative factor ``phi`` (limits
        ``target +/- z sqrt(phi target (1 - target) / n)``); an
        :class:`Overdispersion` from :func:`estimate_overdispersion` applies
        its ``phi`` or, if ``model="additive"``, its ``tau2`` (limits
        ``target +/- z sqrt(target (1 - target) / n + tau2)``).

    Returns
    -------
    pandas.DataFrame
        Columns ``n`` then ``lower_{level:g}``, ``upper_{level:g}`` for each
        level, in the order given; proportions in [0, 1].

    Notes
    -----
    Exact method (Spiegelhalter, 2005, Appendix A.1.1): for ``p`` = (1 -
    level)/2 or (1 + level)/2, let ``r_p`` be the ``p`` quantile of
    Binomial(n, target), the smallest ``r`` with ``F(r) >= p``, and
    ``alpha = (F(r_p) - p) / (F(r_p) - F(r_p - 1))``; the limit is
    ``(r_p - alpha) / n``.  This interpolates between the discrete
    quantiles so the limits are smooth in ``n``; it lies between
    ``(r_p - 1) / n`` and ``r_p / n``.  Checked against the uninterpolated
    quantile limits of the R package funnelR (``qbinom(p, n, target) / n``),
    a hand-worked Binomial(10, 0.5) example and the normal approximation for
    large ``n``.  Being built on a discrete distribution, these limits are
    not strictly monotone in ``n`` (they wiggle by less than ``1/n``), and
    for tiny expected counts (``n * min(target, 1 - target)`` below about
    0.05) the interpolated upper limit can fall below the target.  Their
    exceedance probabilities for an in-control unit can be above or below
    the nominal ``(1 - level) / 2`` (Seaton & Manktelow, 2012).

    Normal method: validated to 1e-6 (the precision of the file) against
    the expected control limits in the test data of PHEindicatormethods
    (``calculate_funnel_limits``/``phe_funnels``, statistic "proportion").
    That package writes its limit as the root of a quadratic
    (``sigma_adjustment``), which simplifies algebraically to
    ``target +/- z sqrt(target (1 - target) / n)`` with ``z = qnorm(0.975)``
    and ``qnorm(0.999)``; it multiplies by 100 and clips to [0, 100].

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. *Statistics in Medicine*, 24, 1185-1202.
    Seaton, S. E., & Manktelow, B. N. (2012). The probability of being
    identified as an outlier with commonly used funnel plot control limits
    for the standardised mortality ratio. *BMC Medical Research
    Methodology*, 12, 98.

    Examples
    --------
    >>> funnel_limits(0.3, [20, 100, 1000], method="normal").round(4)
          n  lower_0.95  upper_0.95  lower_0.998  upper_0.998
    0    20      0.0992      0.5008       0.0000       0.6167
    1   100      0.2102      0.3898       0.1584       0.4416
    2  1000      0.2716      0.3284       0.2552       0.3448
    >>> funnel_limits(0.3, [20, 100], levels=(0.95,)).round(4)
         n  lower_0.95  upper_0.95
    0   20      0.0812      0.4873
    1  100      0.2069      0.3869
    """
    t = _check_target_proportion(target)
    lvls = check_levels("levels", levels)
    method = check_choice("method", method, ("exact", "normal"))
    nn = as_float_array("n", n, allow_nan=False)
    if (nn <= 0).any():
        raise ValueError(f"n must contain sample sizes > 0; got {n!r}")
    phi, tau2 = _od_parts(overdispersion)
    if overdispersion is not None and method != "normal":
        raise ValueError(
            "overdispersion requires method='normal' (over-dispersed limits are normal-based, "
            f"Spiegelhalter 2005 section 6); got method={method!r}"
        )
    out: dict[str, np.ndarray] = {"n": nn}
    if method == "exact":
        if (nn != np.round(nn)).any():
            raise ValueError(f"n must contain whole numbers for method='exact'; got {n!r}")
        for lv, lo_name, hi_name in _level_names(lvls):
            a = (1.0 - lv) / 2.0
            out[lo_name] = np.clip(_exact_binomial_limit(t, nn, a), 0.0, 1.0)
            out[hi_name] = np.clip(_exact_binomial_limit(t, nn, 1.0 - a), 0.0, 1.0)
    else:
        s = np.sqrt(phi * t * (1.0 - t) / nn + tau2)
        for lv, lo_name, hi_name in _level_names(lvls):
            z = _z(lv)
            out[lo_name] = np.clip(t - z * s, 0.0, 1.0)
            out[hi_name] = np.clip(t + z * s, 0.0, 1.0)
    frame = pd.DataFrame(out)
    if np.all(nn == np.round(nn)):
        frame["n"] = frame["n"].astype("int64")
    return frame


def funnel_limits_continuous(
    target: float,
    sd: float,
    n: float | ArrayLike,
    levels: tuple[float, ...] = (0.95, 0.998),
    overdispersion: float | Overdispersion | None = None,
) -> pd.DataFrame:
    """Funnel-plot control limits for a continuous indicator (e.g. a mean change).

    Parameters
    ----------
    target : float
        Target value of the indicator (e.g. the overall mean change).
    sd : float
        SD of individual values, so that a unit of size ``n`` has standard
        error ``sd / sqrt(n)`` (> 0).  For a standardised change use ``sd=1``
        (approximately).
    n : int or array-like
        Unit sizes (> 0).
    levels : tuple of float, default (0.95, 0.998)
        Two-sided coverage of each pair of limits.
    overdispersion : None, float or Overdispersion, optional
        As in :func:`funnel_limits`: multiplicative ``phi`` or additive
        ``tau2``.

    Returns
    -------
    pandas.DataFrame
        Columns ``n``, ``lower_{level:g}``, ``upper_{level:g}`` per level.

    Notes
    -----
    ``target +/- z sqrt(phi sd^2 / n)`` or ``target +/- z sqrt(sd^2 / n +
    tau2)`` (Spiegelhalter, 2005, sections 3 and 6); no clipping.

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. *Statistics in Medicine*, 24, 1185-1202.

    Examples
    --------
    >>> funnel_limits_continuous(-4.0, 6.0, [10, 40], levels=(0.95,)).round(3)
        n  lower_0.95  upper_0.95
    0  10      -7.719      -0.281
    1  40      -5.859      -2.141
    """
    try:
        t = float(target)
    except (TypeError, ValueError):
        t = math.nan
    if not math.isfinite(t):
        raise ValueError(f"target must be a finite number; got {target!r}")
    s0 = check_positive_number("sd", sd)
    lvls = check_levels("levels", levels)
    nn = as_float_array("n", n, allow_nan=False)
    if (nn <= 0).any():
        raise ValueError(f"n must contain sizes > 0; got {n!r}")
    phi, tau2 = _od_parts(overdispersion)
    se = np.sqrt(phi * s0**2 / nn + tau2)
    out: dict[str, np.ndarray] = {"n": nn}
    for lv, lo_name, hi_name in _level_names(lvls):
        z = _z(lv)
        out[lo_name] = t - z * se
        out[hi_name] = t + z * se
    frame = pd.DataFrame(out)
    if np.all(nn == np.round(nn)):
        frame["n"] = frame["n"].astype("int64")
    return frame


def _proportions(x: ArrayLike, n: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    xx = as_float_array("x", x, allow_nan=False)
    nn = as_float_array("n", n, allow_nan=False)
    same_length(x=xx, n=nn)
    xx, nn = np.broadcast_arrays(xx, nn)
    if (nn <= 0).any():
        raise ValueError(f"n must contain denominators > 0; got {n!r}")
    if ((xx < 0) | (xx > nn)).any():
        raise ValueError(f"x must be between 0 and n for every unit; got x={x!r}, n={n!r}")
    return xx.astype(float), nn.astype(float)


def estimate_overdispersion(
    x: ArrayLike,
    n: ArrayLike,
    target: float | None = None,
    *,
    winsorize: float = 0.1,
    model: str = "multiplicative",
) -> Overdispersion:
    """Estimate over-dispersion of unit proportions around a target.

    Parameters
    ----------
    x, n : array-like
        Numerators and denominators of each unit.
    target : float, optional
        Target proportion; defaults to the pooled ``sum(x) / sum(n)``.
    winsorize : float, default 0.1
        Fraction of z-scores winsorised at each end before estimating
        (Spiegelhalter, 2005, recommends 10%); 0 disables it.
    model : {"multiplicative", "additive"}, default "multiplicative"
        Which adjustment the returned object applies when passed to
        :func:`funnel_limits` / :func:`funnel_flags`.

    Returns
    -------
    Overdispersion
        ``phi``, ``tau2``, ``model``, ``k``, ``statistic``, ``p_value``,
        ``winsorize``.

    Notes
    -----
    Spiegelhalter (2005, section 6): z-scores
    ``z_i = (y_i - target) / s_i`` with ``s_i = sqrt(target (1 - target) /
    n_i)``; values beyond the ``winsorize`` and ``1 - winsorize`` quantiles
    (linear interpolation, R type 7) are set to those quantiles;
    ``phi = mean(z_w^2)``; ``k phi`` is compared with chi-square on
    ``k - 1`` df.  The additive version is
    ``tau2 = max(0, (k phi - (k - 1)) / (sum(w) - sum(w^2) / sum(w)))`` with
    ``w_i = 1 / s_i^2`` (a DerSimonian-Laird-type moment estimator).

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. *Statistics in Medicine*, 24, 1185-1202.
    Spiegelhalter, D. J. (2005). Handling over-dispersion of performance
    indicators. *Quality and Safety in Health Care*, 14, 347-351.

    Examples
    --------
    >>> od = estimate_overdispersion([10, 30, 12, 50, 21], [100, 120, 90, 150, 100], winsorize=0)
    >>> round(od.phi, 3), round(od.tau2, 4), round(od.p_value, 4)
    (4.855, 0.0078, 0.0001)
    """
    xx, nn = _proportions(x, n)
    t = float(xx.sum() / nn.sum()) if target is None else _check_target_proportion(target)
    if not 0.0 < t < 1.0:
        raise ValueError(f"the pooled proportion sum(x)/sum(n) must be strictly between 0 and 1; got {t}")
    try:
        wz = float(winsorize)
    except (TypeError, ValueError):
        wz = math.nan
    if not 0.0 <= wz < 0.5:
        raise ValueError(f"winsorize must be a fraction in [0, 0.5); got {winsorize!r}")
    model = check_choice("model", model, ("multiplicative", "additive"))
    k = len(xx)
    if k < 2:
        raise ValueError(f"x and n must describe at least 2 units; got {k}")
    s2 = t * (1.0 - t) / nn
    z = (xx / nn - t) / np.sqrt(s2)
    if wz > 0:
        lo, hi = np.quantile(z, [wz, 1.0 - wz])
        z = np.clip(z, lo, hi)
    phi = float(np.mean(z**2))
    w = 1.0 / s2
    tau2 = max(0.0, (k * phi - (k - 1)) / (float(w.sum()) - float((w**2).sum()) / float(w.sum())))
    statistic = k * phi
    return Overdispersion(
        phi=phi,
        tau2=tau2,
        model=model,
        k=k,
        statistic=statistic,
        p_value=float(stats.chi2.sf(statistic, k - 1)),
        winsorize=wz,
    )


def funnel_flags(
    x: ArrayLike,
    n: ArrayLike,
    target: float | None = None,
    levels: tuple[float, ...] = (0.95, 0.998),
    method: str = "normal",
    overdispersion: float | Overdispersion | None = None,
) -> pd.DataFrame:
    """Position of each unit relative to the funnel-plot limits.

    Parameters
    ----------
    x, n : array-like
        Numerators and denominators of each unit (non-integer numerators are
        accepted with ``method="normal"``).  A Series index is kept.
    target : float, optional
        Target proportion; defaults to the pooled ``sum(x) / sum(n)``.
    levels : tuple of float, default (0.95, 0.998)
        Control-limit levels.
    method : {"normal", "exact"}, default "normal"
        Limits used for the flags, as in :func:`funnel_limits`.
    overdispersion : None, float or Overdispersion, optional
        As in :func:`funnel_limits` (requires ``method="normal"``).

    Returns
    -------
    pandas.DataFrame
        One row per unit with columns ``x``, ``n``, ``proportion``, ``z``
        (``(proportion - target) / s``, ``s = sqrt(target (1 - target) / n)``,
        inflated by ``phi`` or ``tau2`` when over-dispersion is given) and
        ``flag``: ``"within"`` when inside every pair of limits, otherwise
        ``"above_{level:g}"`` or ``"below_{level:g}"`` for the widest level
        whose limit is crossed (e.g. ``"above_0.998"``).  A unit exactly on a
        limit is within it.

    Notes
    -----
    A unit is above (below) a level when its proportion is strictly greater
    (less) than the upper (lower) limit from :func:`funnel_limits` at its own
    ``n``.  With ``method="normal"`` and no over-dispersion this is
    ``|z| > z_level``.  Validated against the significance labels of the
    PHEindicatormethods test data (``phe_funnel_significance``: "Low (0.001)"
    = below_0.998, "High (0.025)" = above_0.95, ...) and the z-scores and
    classifications of the funnelR vignette (benchmark 0.5, levels 0.8 and
    0.95).

    References
    ----------
    Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
    performance. *Statistics in Medicine*, 24, 1185-1202.

    Examples
    --------
    >>> out = funnel_flags([130, 65, 155, 19], [150, 200, 300, 50], target=0.5)
    >>> out[["proportion", "z", "flag"]].round(3)
       proportion      z         flag
    0       0.867  8.981  above_0.998
    1       0.325 -4.950  below_0.998
    2       0.517  0.577       within
    3       0.380 -1.697       within
    """
    lvls = check_levels("levels", levels)
    method = check_choice("method", method, ("normal", "exact"))
    index = x.index if isinstance(x, pd.Series) else (n.index if isinstance(n, pd.Series) else None)
    xx, nn = _proportions(x, n)
    t = float(xx.sum() / nn.sum()) if target is None else _check_target_proportion(target)
    if not 0.0 < t < 1.0:
        raise ValueError(f"the pooled proportion sum(x)/sum(n) must be strictly between 0 and 1; got {t}")
    phi, tau2 = _od_parts(overdispersion)
    if method == "exact" and (xx != np.round(xx)).any():
        raise ValueError("x must contain whole numbers for method='exact'")
    prop = xx / nn
    z = (prop - t) / np.sqrt(phi * t * (1.0 - t) / nn + tau2)
    limits = funnel_limits(t, nn, levels=lvls, method=method, overdispersion=overdispersion)
    flag = np.full(len(xx), "within", dtype=object)
    # widest level last so that it wins
    for lv, lo_name, hi_name in sorted(_level_names(lvls)):
        flag = np.where(prop > limits[hi_name].to_numpy(), f"above_{lv:g}", flag)
        flag = np.where(prop < limits[lo_name].to_numpy(), f"below_{lv:g}", flag)
    frame = pd.DataFrame({"x": xx, "n": nn, "proportion": prop, "z": z, "flag": flag})
    if index is not None and len(index) == len(frame):
        frame.index = index
    return frame
