"""Reliable and clinically significant change (Jacobson & Truax, 1991).

Sign convention used throughout evalkit: ``change = post - pre``.  Whether a
negative change is an improvement depends on the measure; pass
``higher_is_better=True`` for measures such as wellbeing scales.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._validation import (
    ArrayLike,
    as_float_array,
    check_finite_number,
    check_positive_number,
    is_scalar_input,
    same_length,
)

__all__ = ["CATEGORIES", "jacobson_truax", "jt_cutoff", "reliable_change_threshold"]

#: Ordered category labels returned by :func:`jacobson_truax`.
CATEGORIES: tuple[str, ...] = ("recovered", "improved", "unchanged", "deteriorated", "harmed")


def _check_reliability(value: object) -> float:
    try:
        r = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        r = math.nan
    if not (0.0 <= r < 1.0):
        raise ValueError(f"reliability must be a number in [0, 1) (e.g. 0.85); got {value!r}")
    return r


def reliable_change_threshold(
    reliability: float | ArrayLike,
    sd: float | ArrayLike,
    z: float = 1.96,
) -> float | np.ndarray:
    """Smallest raw change that counts as reliable (Jacobson & Truax, 1991).

    Parameters
    ----------
    reliability : float or array-like
        Reliability of the measure (test-retest or internal consistency), in [0, 1).
    sd : float or array-like
        Standard deviation of the measure in the reference (usually baseline)
        sample; must be > 0.
    z : float, default 1.96
        Critical value; 1.96 gives the conventional two-sided 95% criterion.

    Returns
    -------
    float or numpy.ndarray
        The threshold in raw score points, ``z * sqrt(2) * sd * sqrt(1 - r)``.
        Scalars in give a float; any array-like in gives an array.

    Notes
    -----
    With the standard error of measurement ``SE = sd * sqrt(1 - r)`` and the
    standard error of a difference ``S_diff = sqrt(2) * SE`` (Jacobson & Truax,
    1991, p. 14), a change is reliable when ``|post - pre| / S_diff > z``, that
    is when ``|post - pre| > z * S_diff``.  Validated against the
    ``S_diff`` computation of the R package clinicalsignificance
    (``.calc_s_diff``; its ``test-calc_rci_jt.R`` example with sd = 5,
    r = 0.80) and by hand.

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical
    approach to defining meaningful change in psychotherapy research. *Journal
    of Consulting and Clinical Psychology*, 59(1), 12-19.

    Examples
    --------
    >>> round(reliable_change_threshold(0.80, 5.0), 3)
    6.198
    >>> reliable_change_threshold([0.8, 0.9], [5.0, 5.0]).round(3).tolist()
    [6.198, 4.383]
    """
    zz = check_positive_number("z", z)
    scalar = is_scalar_input(reliability, sd)
    r = as_float_array("reliability", reliability, allow_nan=False)
    s = as_float_array("sd", sd, allow_nan=False)
    same_length(reliability=r, sd=s)
    if ((r < 0) | (r >= 1)).any():
        raise ValueError(f"reliability must be in [0, 1); got {reliability!r}")
    if (s <= 0).any():
        raise ValueError(f"sd must be > 0; got {sd!r}")
    out = zz * math.sqrt(2.0) * s * np.sqrt(1.0 - r)
    return float(out[0]) if scalar else out


def jt_cutoff(
    clinical_mean: float,
    clinical_sd: float,
    functional_mean: float | None = None,
    functional_sd: float | None = None,
    *,
    kind: str = "c",
    higher_is_better: bool = False,
) -> float:
    """Jacobson-Truax cut-off between the dysfunctional and functional populations.

    Parameters
    ----------
    clinical_mean, clinical_sd : float
        Mean and SD of the clinical (dysfunctional) population, often the
        baseline sample itself.
    functional_mean, functional_sd : float, optional
        Mean and SD of a functional (normative) population; required for
        ``kind="b"`` and ``kind="c"``.
    kind : {"a", "b", "c"}, default "c"
        Which cut-off (see Notes).
    higher_is_better : bool, default False
        Direction of the measure.  ``False`` for symptom scales (lower scores
        are better).

    Returns
    -------
    float
        The cut-off on the raw score scale.

    Notes
    -----
    Jacobson & Truax (1991, p. 13), for a measure where lower is better:

    * ``a = M_c - 2 SD_c``: two SDs beyond the clinical mean, towards health;
    * ``b = M_f + 2 SD_f``: within two SDs of the functional mean;
    * ``c = (SD_c M_f + SD_f M_c) / (SD_c + SD_f)``: the point equally likely
      under both populations.

    With ``higher_is_better=True`` the sign of the ``2 SD`` term flips for
    ``a`` and ``b``; ``c`` is direction-free.  Validated against the R package
    clinicalsignificance (``test-calc_cutoff.R``, example of Jacobson et al.
    with M_c = 40, M_f = 60, SD = 7.5) and its published summary for
    Claus et al. (2020) BDI data (cut-off a = 19.16).

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical
    approach to defining meaningful change in psychotherapy research. *Journal
    of Consulting and Clinical Psychology*, 59(1), 12-19.

    Examples
    --------
    >>> jt_cutoff(40, 7.5, 60, 7.5, kind="c")
    50.0
    >>> jt_cutoff(40, 7.5, kind="a", higher_is_better=True)
    55.0
    >>> jt_cutoff(35.48, 8.16, kind="a")
    19.16
    """
    if kind not in ("a", "b", "c"):
        raise ValueError(f"kind must be one of 'a', 'b', 'c'; got {kind!r}")
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise ValueError(f"higher_is_better must be True or False; got {higher_is_better!r}")
    m_c = check_finite_number("clinical_mean", clinical_mean)
    sd_c = check_positive_number("clinical_sd", clinical_sd)
    sign = 1.0 if higher_is_better else -1.0
    if kind == "a":
        return float(round(m_c + sign * 2.0 * sd_c, 12))
    if functional_mean is None or functional_sd is None:
        raise ValueError(
            f"cut-off kind {kind!r} needs functional_mean and functional_sd (statistics of a functional "
            f"population); got functional_mean={functional_mean!r}, functional_sd={functional_sd!r}"
        )
    m_f = check_finite_number("functional_mean", functional_mean)
    sd_f = check_positive_number("functional_sd", functional_sd)
    if kind == "b":
        return float(round(m_f - sign * 2.0 * sd_f, 12))
    return float(round((sd_c * m_f + sd_f * m_c) / (sd_c + sd_f), 12))


def _index_of(pre: object, post: object, n: int) -> pd.Index:
    if isinstance(pre, pd.Series) and isinstance(post, pd.Series):
        if not pre.index.equals(post.index):
            raise ValueError(
                "pre and post are both Series but their indexes differ; align them first "
                "(e.g. post = post.reindex(pre.index))"
            )
        return pre.index
    if isinstance(pre, pd.Series):
        return pre.index
    if isinstance(post, pd.Series):
        return post.index
    return pd.RangeIndex(n)


def jacobson_truax(
    pre: ArrayLike,
    post: ArrayLike,
    *,
    reliability: float,
    sd: float | None = None,
    cutoff: float | None = None,
    higher_is_better: bool = False,
    z: float = 1.96,
) -> pd.DataFrame:
    """Reliable change index and Jacobson-Truax categories, one row per person.

    Parameters
    ----------
    pre, post : list, numpy array or pandas Series
        Scores before and after, paired by position.  Missing values (NaN,
        None) are allowed and give a row of missing results.  When either is a
        Series its index is kept (if both are, their indexes must match).
    reliability : float
        Reliability of the measure, in [0, 1).
    sd : float, optional
        SD used for the standard error of measurement.  Defaults to the
        sample SD (``ddof=1``) of ``pre`` over the people with both scores
        (the analysis sample), as in the R package clinicalsignificance.
    cutoff : float, optional
        Cut-off between dysfunctional and functional ranges, e.g. from
        :func:`jt_cutoff`.  Without it, nobody is ``recovered`` or ``harmed``.
    higher_is_better : bool, default False
        ``False`` for symptom scales (improvement means ``post < pre``).
    z : float, default 1.96
        Critical value for reliable change.

    Returns
    -------
    pandas.DataFrame
        One row per person, index as described above, with columns

        * ``pre``, ``post`` (float): the scores;
        * ``change`` (float): ``post - pre``;
        * ``rci`` (float): reliable change index ``(post - pre) / S_diff``;
        * ``reliable_improvement`` (boolean): ``|rci| > z`` in the better direction;
        * ``reliable_deterioration`` (boolean): ``|rci| > z`` in the worse direction;
        * ``crossed_cutoff`` (boolean): moved from the dysfunctional side of
          ``cutoff`` to the functional side; missing (``<NA>``) when no cut-off
          is given or a score is missing;
        * ``category`` (categorical): ``recovered``, ``improved``,
          ``unchanged``, ``deteriorated`` or ``harmed``; missing when a score
          is missing.

    Notes
    -----
    ``SE = sd * sqrt(1 - r)``, ``S_diff = sqrt(2) * SE`` and
    ``RCI = (post - pre) / S_diff`` (Jacobson & Truax, 1991, p. 14); change is
    reliable when ``|RCI| > z``.  Categories:

    * ``recovered``: reliable improvement and crossed from the dysfunctional
      to the functional side of the cut-off;
    * ``improved``: reliable improvement otherwise;
    * ``deteriorated``: reliable deterioration not meeting ``harmed``;
    * ``harmed``: reliable deterioration and moved from the functional to the
      dysfunctional side;
    * ``unchanged``: no reliable change.

    A score is on the *functional* side when it is strictly better than the
    cut-off (``score < cutoff`` when lower is better); a score equal to the
    cut-off counts as dysfunctional.  These are the rules of the R package
    clinicalsignificance (``.calc_recovered``: recovered = clinical pre and
    functional post and improved; harmed = functional pre and clinical post
    and deteriorated).  Validated against that package's published results for
    the Jacobson (1989) GDS data and the Claus et al. (2020) BDI data (see
    ``tests/stats/test_stats_reliable_change.py``).

    References
    ----------
    Jacobson, N. S., & Truax, P. (1991). Clinical significance: A statistical
    approach to defining meaningful change in psychotherapy research. *Journal
    of Consulting and Clinical Psychology*, 59(1), 12-19.

    Examples
    --------
    >>> out = jacobson_truax([30, 30, 30], [20, 27, 41], reliability=0.8, sd=5.0, cutoff=25)
    >>> out[["change", "category"]]
       change      category
    0   -10.0     recovered
    1    -3.0     unchanged
    2    11.0  deteriorated
    >>> out["rci"].round(3).tolist()
    [-3.162, -0.949, 3.479]
    """
    r = _check_reliability(reliability)
    zz = check_positive_number("z", z)
    if not isinstance(higher_is_better, (bool, np.bool_)):
        raise ValueError(f"higher_is_better must be True or False; got {higher_is_better!r}")
    pre_a = as_float_array("pre", pre)
    post_a = as_float_array("post", post)
    if len(pre_a) != len(post_a):
        raise ValueError(
            f"pre and post must have the same length; pre has {len(pre_a)}, post has {len(post_a)}"
        )
    index = _index_of(pre, post, len(pre_a))
    complete = ~(np.isnan(pre_a) | np.isnan(post_a))

    if sd is None:
        if complete.sum() < 2:
            raise ValueError(
                "sd was not given and cannot be estimated: need at least 2 people with both pre "
                f"and post scores; got {int(complete.sum())}"
            )
        sd_val = float(np.std(pre_a[complete], ddof=1))
        if not sd_val > 0:
            raise ValueError(
                "sd was not given and the SD of pre over complete pairs is 0; pass sd explicitly"
            )
    else:
        sd_val = check_positive_number("sd", sd)
    cut = None if cutoff is None else check_finite_number("cutoff", cutoff)

    s_diff = math.sqrt(2.0) * sd_val * math.sqrt(1.0 - r)
    change = post_a - pre_a
    rci = change / s_diff
    better = 1.0 if higher_is_better else -1.0
    directed = better * rci  # > 0 means change in the better direction
    improve = directed > zz
    deteriorate = directed < -zz

    if cut is None:
        crossed = pd.array([pd.NA] * len(pre_a), dtype="boolean")
        recovered = np.zeros(len(pre_a), dtype=bool)
        harmed = np.zeros(len(pre_a), dtype=bool)
    else:
        # functional side: strictly better than the cut-off
        pre_functional = better * (pre_a - cut) > 0
        post_functional = better * (post_a - cut) > 0
        crossed_np = ~pre_functional & post_functional
        worsened_np = pre_functional & ~post_functional
        crossed = pd.array(crossed_np, dtype="boolean")
        crossed[~complete] = pd.NA
        recovered = improve & crossed_np
        harmed = deteriorate & worsened_np

    # the categories' codes chosen directly (first that holds), -1 (missing) for an incomplete pair
    code = {c: i for i, c in enumerate(CATEGORIES)}
    codes = np.select(
        [recovered, improve, harmed, deteriorate],
        [code["recovered"], code["improved"], code["harmed"], code["deteriorated"]],
        default=code["unchanged"],
    ).astype(np.int8)
    codes[~complete] = -1
    category = pd.Categorical.from_codes(codes, categories=list(CATEGORIES))

    imp = pd.array(improve, dtype="boolean")
    det = pd.array(deteriorate, dtype="boolean")
    imp[~complete] = pd.NA
    det[~complete] = pd.NA
    return pd.DataFrame(
        {
            "pre": pre_a,
            "post": post_a,
            "change": change,
            "rci": rci,
            "reliable_improvement": imp,
            "reliable_deterioration": det,
            "crossed_cutoff": crossed,
            "category": category,
        },
        index=index,
    )
