"""Welch's unequal-variance t-test for many pairs of samples at once, from each sample's summary."""

from __future__ import annotations

import numpy as np
from scipy import special

from ._validation import ArrayLike

__all__ = ["sample_mean_variance", "welch_t_test"]


def sample_mean_variance(x: ArrayLike) -> tuple[float, float]:
    """The mean and the sample variance (``ddof=1``) of one sample, as :func:`scipy.stats.ttest_ind` takes them.

    Parameters
    ----------
    x
        The sample's values (at least two for a finite variance).

    Returns
    -------
    (mean, variance)
        The mean, and the mean squared deviation from it times ``n / (n - 1)``: the same floating-point
        steps as SciPy's t-tests, so that :func:`welch_t_test` gives their very digits.

    Examples
    --------
    >>> sample_mean_variance([1.0, 2.0, 4.0])
    (2.3333333333333335, 2.333333333333333)
    """
    a = np.asarray(x, dtype=float)
    n = float(len(a))
    mean = a.mean()
    return float(mean), float(((a - mean) ** 2).mean() * (n / (n - 1)))


def welch_t_test(mean1: ArrayLike, var1: ArrayLike, n1: ArrayLike, mean2: ArrayLike, var2: ArrayLike,
                 n2: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Welch's t statistic and two-sided p-value of sample 1 against sample 2, for many pairs at once.

    Parameters
    ----------
    mean1, var1, n1
        Per pair, the first sample's mean, sample variance (:func:`sample_mean_variance`) and size (at least 2).
    mean2, var2, n2
        The same of the second sample.

    Returns
    -------
    (t, p)
        Arrays, one value per pair: ``t = (mean1 - mean2) / sqrt(var1/n1 + var2/n2)`` and the two-sided
        p-value from the t distribution on the Welch-Satterthwaite degrees of freedom.

    Notes
    -----
    Welch (1947). The same statistic, degrees of freedom and p-value, in the same floating-point steps, as
    ``scipy.stats.ttest_ind(x1, x2, equal_var=False)`` on each pair (where both variances are zero the
    degrees of freedom are taken as 1, as SciPy does); one call in place of one SciPy call per pair. The degrees of
    freedom are worked out pair by pair (a few arithmetic steps per group), as SciPy's scalar steps.

    References
    ----------
    Welch, B. L. (1947). The generalization of "Student's" problem when several different population
    variances are involved. *Biometrika*, 34, 28-35.

    Examples
    --------
    >>> m1, v1 = sample_mean_variance([1.0, 2.0, 4.0])
    >>> m2, v2 = sample_mean_variance([5.0, 6.0, 9.0, 8.0])
    >>> t, p = welch_t_test([m1], [v1], [3], [m2], [v2], [4])
    >>> round(float(t[0]), 4), round(float(p[0]), 4)
    (-3.6766, 0.0151)
    """
    m1, v1, m2, v2 = (np.asarray(a, dtype=float) for a in (mean1, var1, mean2, var2))
    k1, k2 = np.asarray(n1, dtype=np.int64), np.asarray(n2, dtype=np.int64)
    vn1 = v1 / k1
    vn2 = v2 / k2
    vn1, vn2, k1, k2 = np.broadcast_arrays(vn1, vn2, k1, k2)
    with np.errstate(divide="ignore", invalid="ignore"):
        # pair by pair on numpy scalars, as SciPy works it out: a scalar's ``** 2`` is the C library's pow, which
        # may round differently from an array's ``** 2`` (a multiplication), and so change the p-value's last digit
        df = np.array([(a + b) ** 2 / (a ** 2 / (i - 1) + b ** 2 / (j - 1))
                       for a, b, i, j in zip(vn1.ravel(), vn2.ravel(), k1.ravel(), k2.ravel(), strict=True)],
                      dtype=float).reshape(vn1.shape)
        df = np.where(np.isnan(df), 1.0, df)
        t = np.divide(m1 - m2, np.sqrt(vn1 + vn2))
    return t, 2 * special.stdtr(df, -np.abs(t))
