"""Confidence intervals for proportions."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._validation import ArrayLike, as_float_array, check_level, is_scalar_input, same_length

__all__ = ["wilson_ci"]


def wilson_ci(
    successes: float | ArrayLike,
    n: float | ArrayLike,
    level: float = 0.95,
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Wilson (1927) score interval for a binomial proportion.

    Parameters
    ----------
    successes : int or array-like
        Number of successes, ``0 <= successes <= n``.  Non-integer counts
        (e.g. weighted counts) are accepted.
    n : int or array-like
        Number of trials, ``n >= 0``.  Arrays of length 1 broadcast.
    level : float, default 0.95
        Confidence level.

    Returns
    -------
    (lower, upper)
        Floats when both inputs are scalars, otherwise numpy arrays.  Where
        ``n == 0`` both bounds are NaN.  Missing inputs give NaN.

    Notes
    -----
    With ``p = x / n`` and ``z`` the ``1 - (1 - level) / 2`` normal quantile::

        centre = (p + z^2 / (2n)) / (1 + z^2 / n)
        half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))

    (Wilson, 1927; Newcombe, 1998, method 3).  The interval is the set of
    proportions not rejected by the score test, so it always lies in [0, 1];
    the bounds are exactly 0 when ``x = 0`` and exactly 1 when ``x = n``.
    Validated against ``statsmodels.stats.proportion.proportion_confint``
    (``method="wilson"``) in the tests.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. *JASA*, 22(158), 209-212.
    Newcombe, R. G. (1998). Two-sided confidence intervals for the single
    proportion: comparison of seven methods. *Statistics in Medicine*, 17,
    857-872.

    Examples
    --------
    >>> lo, hi = wilson_ci(8, 20)
    >>> round(lo, 4), round(hi, 4)
    (0.2188, 0.6134)
    >>> lo, hi = wilson_ci([0, 0], [10, 0])
    >>> lo.round(4).tolist(), hi.round(4).tolist()
    ([0.0, nan], [0.2775, nan])
    """
    lvl = check_level("level", level)
    scalar = is_scalar_input(successes, n)
    x = as_float_array("successes", successes)
    nn = as_float_array("n", n)
    same_length(successes=x, n=nn)
    x, nn = np.broadcast_arrays(x, nn)
    with np.errstate(invalid="ignore"):
        if (nn < 0).any():
            raise ValueError(f"n must be >= 0; got {n!r}")
        if ((x < 0) | (x > nn)).any():
            raise ValueError(f"successes must be between 0 and n; got successes={successes!r}, n={n!r}")
    z = float(stats.norm.ppf(1.0 - (1.0 - lvl) / 2.0))
    z2 = z * z
    ok = nn > 0
    safe_n = np.where(ok, nn, 1.0)
    p = np.where(ok, x / safe_n, np.nan)
    denom = 1.0 + z2 / safe_n
    centre = (p + z2 / (2.0 * safe_n)) / denom
    half = z / denom * np.sqrt(p * (1.0 - p) / safe_n + z2 / (4.0 * safe_n**2))
    lower = np.clip(centre - half, 0.0, 1.0)
    upper = np.clip(centre + half, 0.0, 1.0)
    lower = np.where(x == 0, 0.0, lower)
    upper = np.where(x == nn, 1.0, upper)
    lower = np.where(ok, lower, np.nan)
    upper = np.where(ok, upper, np.nan)
    if scalar:
        return float(lower[0]), float(upper[0])
    return lower, upper
